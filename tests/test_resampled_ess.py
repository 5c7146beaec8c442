"""The ESS and MCSE of brain draws that resample a smaller posterior (a PSIS posterior, a crossover's posterior
brain draws): counted at that posterior's ESS, not at the number of draws ArviZ sees."""

from __future__ import annotations

import math

import numpy as np

from uncertainty._arviz import az
from uncertainty.brain.engine import sample_brain
from uncertainty.brain.evidence import condition
from uncertainty.brain.priors import parse_priors
from uncertainty.output.report import crossover_summary, resampled_ess, summary, tail_probabilities
from uncertainty.runs.io import brain_inference_data


def _idata(group: str, attrs: dict, n: int = 40_000, seed: int = 0, **extra):
    rng = np.random.default_rng(seed)
    draws = {"log10_brain_flops": rng.normal(20.0, 1.0, size=(1, n)), **extra}
    idata = az.from_dict(**{group: draws})
    idata[group].attrs.update(attrs)
    return idata


def test_a_psis_posterior_counts_its_importance_ess():
    """40,000 independent draws said to resample a PSIS posterior of importance ESS 400: ESS 400, the mean's
    MCSE sd / sqrt(400) = 0.05, P(> 1e20)'s sqrt(0.25 / 400) = 0.025."""
    idata = _idata("posterior", {"inference": "PSIS", "ess_importance": 400.0})
    row = summary(idata).loc["log10 brain FLOP/s"]
    assert row["ess_bulk"] == 400.0
    assert abs(row["mcse_mean"] / (row["sd"] / 20.0) - 1.0) < 0.05
    p, mcse = tail_probabilities(idata, thresholds=(20,))[20]
    assert abs(mcse / math.sqrt(p * (1 - p) / 400.0) - 1.0) < 0.05


def test_draws_that_are_not_a_resample_keep_arviz_s_ess():
    plain = summary(_idata("prior", {})).loc["log10 brain FLOP/s"]
    nuts = summary(_idata("posterior", {"inference": "NUTS", "ess_bulk": 400.0})).loc["log10 brain FLOP/s"]
    for row in (plain, nuts):  # a sample run's NUTS chains are kept: ArviZ's ESS is already right
        assert row["ess_bulk"] > 30_000
        assert abs(row["mcse_mean"] / (row["sd"] / math.sqrt(40_000)) - 1.0) < 0.05
    assert resampled_ess({"inference": "NUTS", "ess_bulk": 400.0}) is None


def test_a_crossover_of_a_nuts_posterior_counts_the_nuts_ess():
    """A crossover pairs NUTS brain draws resampled to its count with growth draws: its brain ESS and the
    year's are at most the NUTS bulk ESS (300), P(by 2050)'s MCSE sqrt(p (1 - p) / 300)."""
    rng = np.random.default_rng(1)
    years = rng.normal(2045.0, 10.0, size=(1, 40_000))
    idata = _idata("posterior", {"brain_inference": "NUTS", "brain_ess_bulk": 300.0}, crossover_year=years)
    assert summary(idata).loc["log10 brain FLOP/s", "ess_bulk"] == 300.0
    row = crossover_summary(idata).iloc[0]
    assert row["ess_bulk"] == 300.0
    p = row["p_by_2050"]
    assert abs(row["mcse_p_by_2050"] / math.sqrt(p * (1 - p) / 300.0) - 1.0) < 0.05


def test_the_capped_mcse_is_the_spread_of_psis_estimates_over_seeds():
    """log10(a b) ~ Normal(15.5, v0) a priori and a tight lognormal measurement of a b (Gaussian in log10, mean
    m, variance s2): the posterior is known in closed form. Over 60 seeds of 4,000 prior draws each (importance
    ESS about 170), the PSIS posterior mean's error divided by the reported MCSE has a standard deviation that
    is also known: the self-normalised estimate's variance is E[w^2 (f - mu)^2] / (n E[w]^2), the reported one
    vp E[w^2] / (n E[w]^2) (Kish's ESS), so their ratio is the second moment about mu of the prior tilted by
    w^2 (precision 1/v0 + 2/s2) over vp, plus ESS / n for the resampling; about 0.75, since Kish's ESS is
    conservative for a mean under a narrow likelihood. ArviZ's MCSE of the resampled draws alone would make
    it about sqrt(4000 / ESS) times larger."""
    z90 = 1.6448536269514722
    spec = parse_priors(
        '[classes.syn]\nmethod = "expression"\nflops_per_second = "a * b"\n'
        "a = { lognormal = [1e14, 1e15] }\nb = { lognormal = [1, 100] }\n"
        '[evidence.product]\nquantity = "sum(a * b)"\nobserved = { lognormal = [3e16, 5e16] }\nsource = "test"\n'
    )
    m0, v0 = 15.5, (0.5 / z90) ** 2 + (1.0 / z90) ** 2
    m, s2 = math.log10(math.sqrt(15e32)), (math.log10(5 / 3) / 2 / z90) ** 2
    vp = 1 / (1 / v0 + 1 / s2)
    mp = vp * (m0 / v0 + m / s2)
    v2 = 1 / (1 / v0 + 2 / s2)
    m2 = v2 * (m0 / v0 + 2 * m / s2)
    z, z_arviz, ess = [], [], []
    for seed in range(60):
        draws = sample_brain(spec, 4000, seed=seed)
        c = condition(spec, draws, seed=seed + 1000)
        idata = brain_inference_data(draws, spec, {}, conditioned=c)
        assert idata.posterior.attrs["inference"] == "PSIS"
        row = summary(idata).loc["log10 brain FLOP/s"]
        z.append((row["mean"] - mp) / row["mcse_mean"])
        z_arviz.append((row["mean"] - mp) / (row["sd"] / math.sqrt(4000)))
        ess.append(row["ess_bulk"])
    assert 100 < np.median(ess) < 250
    expected = math.sqrt((v2 + (m2 - mp) ** 2) / vp + np.median(ess) / 4000)
    assert 0.65 < expected < 0.85
    assert abs(np.std(z) / expected - 1.0) < 0.2  # 60 seeds: the SD is known to about 9%
    assert np.std(z_arviz) > 3.0 * expected
