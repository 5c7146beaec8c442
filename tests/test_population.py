"""Pooled (hierarchical) growth priors (issue 21): the two-stage population fit, leave one technology out,
and the calibration of forecasts made with a pooled prior."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpyro import handlers
from scipy import stats

from uncertainty.growth.models import MODELS_BY_NAME, POOLED_SITES, base_prior, pad_fit_data, site_prior
from uncertainty.growth.pool import Technology
from uncertainty.growth.pooled_hindcast import PoolOptions, learn_priors
from uncertainty.growth.population import UNINFORMED, base_moments, fit_population, population_data
from uncertainty.inference.nuts import NutsSettings, run_nuts

J, S = 24, 60  # technologies and stage-1 draws of the synthetic population tests (one compiled program)
TRUE = {"drift": (0.3, 0.2), "vol": (math.log(0.3), 0.5)}  # population: drift Normal, log vol Normal


def _tight_draws(seed: int, pools: int = 1) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Stage-1 draws of ``pools`` x J technologies whose parameters come from :data:`TRUE`, each known to about
    1% (as a long series pins them); with the fold masks that select each pool."""
    rng = np.random.default_rng(seed)
    n = pools * J
    drift = rng.normal(*TRUE["drift"], n)
    vol = np.exp(rng.normal(*TRUE["vol"], n))
    samples = {
        "drift": (drift[:, None] + 0.01 * rng.normal(size=(n, S)))[:, None, :],
        "vol": (vol[:, None] * np.exp(0.01 * rng.normal(size=(n, S))))[:, None, :],
    }
    folds = np.repeat(np.eye(pools, dtype=bool), J, axis=1)  # fold p learns from pool p only
    return samples, folds


def test_population_data_divides_the_base_prior_out_by_hand():
    """Stage-1 draws summarised on the population's scale (log for a positive site): posterior mean m and
    variance v, the base prior's (m0, v0) divided out: precision 1/v - 1/v0, mean (m/v - m0/v0) / precision."""
    rng = np.random.default_rng(0)
    drift = 0.7 + 0.1 * rng.standard_normal((1, 2, 500))
    vol = np.exp(-1.0 + 0.2 * rng.standard_normal((1, 2, 500)))
    d = population_data("randomwalk", {"drift": drift, "vol": vol}, np.array([True]))
    m, v = drift.mean(), drift.var()
    m0, v0 = base_moments("randomwalk", "drift")
    assert m0 == pytest.approx(0.5, abs=0.005) and v0 == pytest.approx(0.25, rel=0.01)  # Normal(0.5, 0.5)
    precision = 1 / v - 1 / v0
    assert d.var[0, 0] == pytest.approx(1 / precision, rel=1e-9)
    assert d.mean[0, 0] == pytest.approx((m / v - m0 / v0) / precision, rel=1e-9)
    lm, lv = np.log(vol).mean(), np.log(vol).var()
    # log of a HalfNormal(2) = log 2 + log|Z|, mean log 2 - (gamma + log 2) / 2 (Monte Carlo: within 0.01)
    l0, lv0 = base_moments("randomwalk", "vol")
    assert l0 == pytest.approx(math.log(2.0) - (np.euler_gamma + math.log(2.0)) / 2, abs=0.01)
    assert d.mean[0, 1] == pytest.approx((lm / lv - l0 / lv0) / (1 / lv - 1 / lv0), rel=1e-9)
    # hyperprior centres: the base prior's mean (drift), the log of it (vol: HalfNormal(2) mean 2 sqrt(2/pi))
    np.testing.assert_allclose(d.center, [0.5, math.log(2.0 * math.sqrt(2.0 / math.pi))], rtol=1e-12)
    # a site the data do not inform (posterior as wide as the prior) is left out for that technology
    wide = population_data(
        "randomwalk", {"drift": 0.5 + 0.6 * rng.standard_normal((1, 1, 4000)), "vol": vol}, np.array([True])
    )
    assert wide.var[0, 0] == UNINFORMED


@pytest.mark.slow
def test_pooled_prior_replaces_the_base_prior_in_its_family():
    d = pad_fit_data(np.arange(5.0), np.arange(5.0), 5, np.array([0.0]), prior={"vol": (-1.0, 0.5)})
    vol = site_prior(d, "randomwalk", "vol")
    assert type(vol).__name__ == "LogNormal" and float(vol.loc) == -1.0 and float(vol.scale) == 0.5
    drift = site_prior(d, "randomwalk", "drift")  # not pooled here: the base prior
    assert type(drift) is type(base_prior("randomwalk", "drift")) and float(drift.loc) == 0.5
    knots = np.arange(0.0, 5.0)
    for model, sites in POOLED_SITES.items():  # every pooled site is a latent site of its model
        data = pad_fit_data(np.arange(8.0), np.arange(8.0) * 0.5, 8, knots)
        with jax.enable_x64(True):
            trace = handlers.trace(handlers.seed(MODELS_BY_NAME[model].model, 0)).get_trace(data)
        latent = {k for k, v in trace.items() if v["type"] == "sample" and not v["is_observed"]}
        assert set(sites) <= latent, (model, set(sites) - latent)


@pytest.mark.slow
def test_population_recovers_known_hyperparameters_and_leaves_one_out():
    """20 synthetic pools of J technologies from a known population, fitted in one program: each true
    hyperparameter (loc and scale of the drift and of the log volatility) lies inside the 90% interval in at
    least 14 of the 20 pools (binomial(20, 0.9): P(fewer) = 0.2%), and in at least 64 of all 80 checks. A
    fold's prior does not change when a technology it leaves out changes (and does when one it learns from
    changes)."""
    pools = 20
    samples, folds = _tight_draws(0, pools)
    fit = fit_population(jax.random.key(0), "randomwalk", samples, folds, NutsSettings(300, 300, 2))
    assert fit.rhat.max() < 1.05 and fit.divergences.sum() == 0
    inside = {}
    for i, site in enumerate(fit.sites):
        for name, draws, truth in (("loc", fit.loc, TRUE[site][0]), ("scale", fit.scale, TRUE[site][1])):
            lo, hi = np.quantile(draws[..., i].reshape(pools, -1), [0.05, 0.95], axis=1)
            inside[(site, name)] = int(np.sum((lo < truth) & (truth < hi)))
    assert all(v >= 14 for v in inside.values()) and sum(inside.values()) >= 64, inside
    # leave one out: technology 0 (pool 0) changed; folds 1.. (other pools) are bit-identical, fold 0 moves
    changed = {k: v.copy() for k, v in samples.items()}
    changed["drift"][0] += 5.0
    changed["vol"][0] *= 10.0
    refit = fit_population(jax.random.key(0), "randomwalk", changed, folds, NutsSettings(300, 300, 2))
    np.testing.assert_array_equal(refit.prior[1:], fit.prior[1:])
    assert not np.array_equal(refit.prior[0], fit.prior[0])


def _walks(seed: int, n_tech: int, n_points: int) -> list[Technology]:
    rng = np.random.default_rng(seed)
    out = []
    for j in range(n_tech):
        drift, vol = rng.normal(*TRUE["drift"]), np.exp(rng.normal(*TRUE["vol"]))
        y2 = np.concatenate([[0.0], np.cumsum(drift + vol * rng.normal(size=n_points - 1))])
        out.append(Technology(f"tech{j}", "", np.arange(n_points) + 1990.0, y2 * math.log(2.0)))
    return out


@pytest.mark.slow
def test_learn_priors_never_uses_a_technologys_own_data():
    """End to end (stage 1 by NUTS, then stage 2): changing one technology's series leaves its own pooled
    prior exactly as it was, and moves the others'."""
    pool = _walks(1, 5, 14)
    options = PoolOptions(quick=True, max_points=14)
    priors, population = learn_priors(pool, "randomwalk", options, jax.random.key(3))
    assert population["technologies"] == [t.name for t in pool]
    bent = list(pool)
    bent[2] = Technology("tech2", "", pool[2].year, pool[2].y * 4.0 + 3.0)
    again, _ = learn_priors(bent, "randomwalk", options, jax.random.key(3))
    for site in ("drift", "vol"):
        np.testing.assert_array_equal(again["tech2"][site], priors["tech2"][site])
        assert not np.array_equal(again["tech0"][site], priors["tech0"][site])


@pytest.mark.slow
def test_forecasts_with_the_population_prior_are_calibrated():
    """Series simulated from the population (random walk with drift, drift and log volatility drawn from
    :data:`TRUE`), each fitted with that population as its prior: one forecast per series, 5 years after its
    8 points, so the draws are independent. The share inside the central 50% and 90% intervals is within
    3.5 binomial standard deviations of nominal (Bayesian forecasts under the true prior are calibrated)."""
    n, n_points, horizon = 160, 8, 5
    rng = np.random.default_rng(11)
    drift = rng.normal(*TRUE["drift"], n)
    vol = np.exp(rng.normal(*TRUE["vol"], n))
    steps = drift[:, None] + vol[:, None] * rng.normal(size=(n, n_points - 1 + horizon))
    y = np.concatenate([np.zeros((n, 1)), np.cumsum(steps, axis=1)], axis=1)
    t = np.arange(n_points, dtype=float)
    prior = {s: np.array(v) for s, v in TRUE.items()}
    fits = [pad_fit_data(t, y[i, :n_points], n_points, np.array([0.0]), prior=prior) for i in range(n)]
    gm = MODELS_BY_NAME["randomwalk"]
    with jax.enable_x64(True):
        batch = jax.tree_util.tree_map(lambda *xs: jnp.asarray(np.stack([np.asarray(x) for x in xs])), *fits)
        result = run_nuts(jax.random.key(5), gm.model, batch, NutsSettings(300, 250, 2))
        pit = np.empty(n)
        for b in range(n):
            params = {k: jnp.asarray(v[b].reshape(-1)) for k, v in result.samples.items() if v.ndim == 3}
            d = jax.tree_util.tree_map(lambda x, b=b: x[b], batch)
            p = gm.predict(jax.random.key(b), params, d, jnp.array([t[-1] + horizon]))
            pit[b] = float(jnp.mean(stats.norm.cdf((y[b, -1] - p.loc[:, 0]) / p.scale[:, 0])))
    assert result.divergences().sum() <= 2
    for level in (0.5, 0.9):
        covered = np.mean(np.abs(pit - 0.5) <= level / 2)
        assert abs(covered - level) <= 3.5 * math.sqrt(level * (1 - level) / n), (level, covered)


def test_shipped_pooled_priors_cover_every_model_and_target_and_leave_the_target_out():
    """The shipped file (python -m uncertainty.growth.pooled_priors): a prior for every pooled model, target and
    the whole pool; each target's fold leaves out its own series; crossover and backtest fits receive it."""
    from uncertainty.choices import TARGET_NAMES
    from uncertainty.growth.hindcast import fit_data_at
    from uncertainty.growth.history import load_growth_data
    from uncertainty.growth.pool import computing_pool
    from uncertainty.growth.pooled_priors import LEAVE_OUT, WHOLE_POOL, _shipped, pooled_prior

    shipped = _shipped()
    names = {t.name for t in computing_pool()}
    assert set(shipped["technologies"]) == names and set(LEAVE_OUT) == set(TARGET_NAMES)
    assert {k: set(v) for k, v in shipped["leave_out"].items()} == LEAVE_OUT
    assert all(set(out) <= names for out in LEAVE_OUT.values())
    assert set(shipped["models"]) == set(POOLED_SITES)
    for model, entry in shipped["models"].items():
        assert set(entry["priors"]) == {*TARGET_NAMES, WHOLE_POOL}
        assert entry["population"]["max_rhat"] < 1.05, model
        for fold, prior in entry["priors"].items():
            assert set(prior) == set(POOLED_SITES[model]), (model, fold)
            assert all(np.isfinite(v[0]) and v[1] > 0 for v in prior.values())
    data = load_growth_data("hpl")
    d = fit_data_at(data, "walkcycle", data.last_year, "pooled")
    expected = pooled_prior("walkcycle", "hpl")
    assert set(d.prior) == set(expected) and all(np.array_equal(d.prior[s], expected[s]) for s in expected)
    assert fit_data_at(data, "walkcycle", data.last_year).prior is None  # base priors by default
    assert fit_data_at(data, "linear", data.last_year, "pooled").prior is None  # nothing to pool
    mine, whole = pooled_prior("randomwalk", "mine.csv"), pooled_prior("randomwalk", WHOLE_POOL)
    assert all(np.array_equal(mine[s], whole[s]) for s in whole)
