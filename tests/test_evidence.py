"""[evidence]: PSIS conditioning of the prior draws and the NUTS fallback, against closed-form posteriors
and each other; choice odds; bad evidence."""

from __future__ import annotations

import math

import numpy as np
import pytest

from uncertainty.brain.engine import sample_brain
from uncertainty.brain.evidence import condition, evidence_log_likelihood, reliable
from uncertainty.brain.priors import parse_priors
from uncertainty.cli import main
from uncertainty.errors import PriorError

from conftest import readings_text

Z90 = 1.6448536269514722
PRODUCT = """\
[classes.syn]
method = "expression"
flops_per_second = "a * b"
a = { lognormal = [1e14, 1e15] }
b = { lognormal = [1, 100] }
"""


def _evidence(quantity: str, observed: str, name: str = "product") -> str:
    return f'[evidence.{name}]\nquantity = "{quantity}"\nobserved = {observed}\nsource = "test"\n'


def test_conjugate_lognormal_evidence_on_a_product():
    """log10(a b) ~ Normal(15.5, v0) a priori; a lognormal measurement of a b with 90% interval
    [1e15, 1e16] is a Gaussian likelihood of log10(a b) with mean 15.5 and sd 0.5 / 1.645: the posterior
    is normal with precision 1/v0 + 1/s2 (closed form), matched within Monte Carlo error."""
    spec = parse_priors(PRODUCT + _evidence("sum(a * b)", "{ lognormal = [1e15, 1e16] }"))
    n = 200_000
    c = condition(spec, sample_brain(spec, n, seed=0), seed=1)
    assert reliable(c) and c.k_hat < 0.5
    v0, s2 = (0.5 / Z90) ** 2 + (1.0 / Z90) ** 2, (0.5 / Z90) ** 2
    vp = 1 / (1 / v0 + 1 / s2)
    mp = vp * (15.5 / v0 + 15.5 / s2)
    x = c.draws["log10_brain_flops"]
    se = math.sqrt(vp / c.ess)
    assert abs(x.mean() - mp) < 5 * se
    assert abs(x.std() / math.sqrt(vp) - 1) < 0.02
    # an off-centre measurement moves the posterior mean to the precision-weighted average
    spec = parse_priors(PRODUCT + _evidence("sum(a * b)", "{ lognormal = [1e16, 1e17] }"))
    c = condition(spec, sample_brain(spec, n, seed=0), seed=1)
    mp = vp * (15.5 / v0 + 16.5 / s2)
    assert abs(c.draws["log10_brain_flops"].mean() - mp) < 5 * math.sqrt(vp / c.ess)


def test_hard_bounds_cut_the_prior():
    spec = parse_priors(PRODUCT + _evidence("sum(b)", "{ upper = 10 }", "b"))
    c = condition(spec, sample_brain(spec, 50_000, seed=2), seed=3)
    assert c.draws["syn_b"].max() <= 10.0
    assert abs(c.ess / 50_000 - 0.5) < 0.02  # the bound is the prior median of b: half the draws survive


def test_a_file_without_evidence_is_unchanged():
    spec = parse_priors(PRODUCT)
    a, b = sample_brain(spec, 1000, seed=4), sample_brain(parse_priors(PRODUCT), 1000, seed=4)
    np.testing.assert_array_equal(a["log10_brain_flops"], b["log10_brain_flops"])
    assert not spec.evidence


def test_evidence_that_every_draw_contradicts_is_an_error():
    spec = parse_priors(PRODUCT + _evidence("sum(a * b)", "{ lower = 1e30 }"))
    with pytest.raises(PriorError, match="every prior draw contradicts it"):
        condition(spec, sample_brain(spec, 1000, seed=0))


def _conjugate(prior_mean: float, v0: float, obs_mean: float, s2: float) -> tuple[float, float]:
    vp = 1 / (1 / v0 + 1 / s2)
    return vp * (prior_mean / v0 + obs_mean / s2), vp


@pytest.mark.slow
def test_far_off_evidence_falls_back_to_nuts_and_matches_the_closed_form(tmp_path, capsys):
    """A measurement far in the prior's tail: PSIS weights collapse (k-hat > 0.7), NUTS takes over and
    recovers the conjugate posterior of log10(a b)."""
    path = tmp_path / "far.toml"
    path.write_text(PRODUCT + _evidence("sum(a * b)", "{ lognormal = [1e19, 1.1e19] }"))
    out = tmp_path / "far.nc"
    assert main(["sample", str(path), "-n", "20000", "-q", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "NUTS (PSIS k-hat" in captured.out and "(reliable)" in captured.out and "warning" not in captured.err
    from uncertainty.runs.io import load_run

    idata = load_run(out)
    assert {"prior", "posterior", "sample_stats", "observed_data"} <= set(idata.groups())
    post = idata.posterior
    assert post.sizes["chain"] == 4 and post.attrs["inference"] == "NUTS" and post.attrs["pareto_k"] > 0.7
    assert post.attrs["max_rhat"] <= 1.01 and post.attrs["divergences"] == 0
    np.testing.assert_allclose(idata.observed_data["evidence_product"].values, [1e19, 1.1e19])
    lo, hi = 19.0, math.log10(1.1e19)
    mp, vp = _conjugate(15.5, (0.5 / Z90) ** 2 + (1.0 / Z90) ** 2, (lo + hi) / 2, ((hi - lo) / 2 / Z90) ** 2)
    x = post["log10_brain_flops"].values.ravel()
    assert abs(x.mean() - mp) < 5 * math.sqrt(vp / post.attrs["ess_bulk"])
    assert abs(x.std() / math.sqrt(vp) - 1) < 0.1


def test_psis_only_reports_far_off_evidence_unreliable(tmp_path, capsys):
    path = tmp_path / "far.toml"
    path.write_text(PRODUCT + _evidence("sum(a * b)", "{ lognormal = [1e19, 1.1e19] }"))
    assert main(["sample", str(path), "-n", "20000", "-q", "--inference", "psis"]) == 0
    captured = capsys.readouterr()
    assert "UNRELIABLE" in captured.err and "k-hat" in captured.err
    assert "UNRELIABLE" in captured.out
    assert "sources: product: test" in captured.out  # each item's source, under the evidence table


@pytest.mark.slow
def test_psis_and_nuts_agree_on_a_moderate_case():
    """Evidence two prior sds away from the prior median: both paths give the same quantiles of brain
    FLOP/s and of each parameter (within Monte Carlo error), and the closed-form posterior."""
    spec = parse_priors(PRODUCT + _evidence("sum(a * b)", "{ lognormal = [1e16, 1e17] }"))
    draws = sample_brain(spec, 100_000, seed=5)
    psis = condition(spec, draws, seed=6, inference="psis")
    nuts = condition(spec, draws, seed=6, inference="nuts")
    assert psis.method == "PSIS" and reliable(psis)
    assert nuts.method == "NUTS" and reliable(nuts) and nuts.divergences() == 0
    v0 = (0.5 / Z90) ** 2 + (1.0 / Z90) ** 2
    mp, vp = _conjugate(15.5, v0, 16.5, (0.5 / Z90) ** 2)
    for site, scale in [("log10_brain_flops", 1.0), ("syn_a", None), ("syn_b", None)]:
        a = psis.draws[site] if scale else np.log10(psis.draws[site])
        b = nuts.draws[site] if scale else np.log10(nuts.draws[site])
        sd = b.std()
        for q, z in ((0.05, -Z90), (0.5, 0.0), (0.95, Z90)):
            # MCSE of a normal quantile: sd sqrt(q (1 - q) / ESS) / phi(z_q); 5 of them, the NUTS ESS dominating
            phi = math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
            tol = 5 * sd * math.sqrt(q * (1 - q) / min(nuts.ess, psis.ess)) / phi
            assert abs(np.quantile(a, q) - np.quantile(b, q)) < tol, (site, q)
    assert abs(nuts.draws["log10_brain_flops"].mean() - mp) < 5 * math.sqrt(vp / nuts.ess)


CHOICE = """\
[classes.syn]
method = "expression"
flops_per_second = "a * b"
a = { point = 1e14 }
b = { choice = [{ lognormal = [1, 10] }, { lognormal = [100, 1000] }], weights = [0.7, 0.3] }
"""


@pytest.mark.parametrize("inference", ["psis", "nuts"])
@pytest.mark.slow
def test_choice_odds_match_the_marginal_likelihoods(inference):
    """A choice between two lognormal views of b and a lognormal measurement of b: the posterior odds of
    each view are its prior weight times the Normal density of the measurement's log-mean under the
    view's log-prior widened by the measurement's variance (closed form)."""
    spec = parse_priors(CHOICE + _evidence("sum(b)", "{ lognormal = [10, 100] }", "b"))
    c = condition(spec, sample_brain(spec, 200_000, seed=7), seed=8, inference=inference)
    s = 0.5 / Z90  # sd of log10 b in each view, and of the measurement
    dens = [w * math.exp(-0.5 * (1.5 - m) ** 2 / (2 * s * s)) for w, m in ((0.7, 0.5), (0.3, 2.5))]
    expected = dens[0] / sum(dens)
    odds = c.choice_odds["syn_b"]
    assert odds["prior"] == pytest.approx([0.7, 0.3])
    assert odds["components"] == ["lognormal [1, 10]", "lognormal [100, 1000]"]
    se = math.sqrt(expected * (1 - expected) / c.ess)
    assert abs(odds["posterior"][0] - expected) < 5 * se + 0.01
    assert sum(odds["posterior"]) == pytest.approx(1.0)


def test_student_t_likelihood_at_the_interval_end():
    """df = 4: at the interval's end z = t_0.95(4) = 2.1318, and log-lik = -(5/2) log(1 + z^2 / 4) = -1.8977
    below the centre (hand-computed)."""
    spec = parse_priors(PRODUCT + _evidence("sum(a)", "{ student_t = [1e14, 3e14], df = 4 }", "a"))
    ll = evidence_log_likelihood(spec, {"a": np.array([2e14, 3e14, 1e14, 2e16])})["a"]
    np.testing.assert_allclose(ll[:3], [0.0, -1.8977, -1.8977], atol=2e-4)
    z = 1.98e16 / (1e14 / 2.131847)  # 99 interval half-widths out: a Gaussian would give -0.5 z^2 ~ -1e5
    assert ll[3] == pytest.approx(-2.5 * math.log1p(z**2 / 4), rel=1e-6) and ll[3] > -30
    default = parse_priors(PRODUCT + _evidence("sum(a)", "{ student_t = [1e14, 3e14] }", "a"))
    assert default.evidence[0].df == 4.0


def test_nuts_cannot_sample_scenarios(tmp_path, capsys):
    text = (
        PRODUCT
        + '[scenarios]\nlow = { weight = 1, "syn.b" = 1 }\nhigh = { weight = 1, "syn.b" = 100 }\n'
        + _evidence("sum(a * b)", "{ lognormal = [1e19, 1.1e19] }")
    )
    path = tmp_path / "sc.toml"
    path.write_text(text)
    assert main(["sample", str(path), "-n", "5000", "-q"]) == 0
    err = capsys.readouterr().err
    assert "UNRELIABLE" in err and "NUTS could not run: [scenarios]" in err
    assert main(["sample", str(path), "-n", "5000", "-q", "--inference", "nuts"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "evidence" in err and "[scenarios]" in err


def test_cli_sample_report_shows_prior_posterior_and_checks(tmp_path, capsys):
    path = tmp_path / "ev.toml"
    path.write_text(PRODUCT + _evidence("sum(a * b)", "{ lognormal = [1e15, 1e16] }"))
    out = tmp_path / "run.nc"
    assert main(["sample", str(path), "-n", "20000", "-q", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["report", str(out)]) == 0
    text = capsys.readouterr().out
    assert "prior vs posterior" in text and "evidence:" in text and "Pareto k-hat" in text
    from uncertainty.runs.io import load_run

    idata = load_run(out)
    assert {"prior", "posterior", "observed_data"} <= set(idata.groups())
    assert main(["plot", str(out), "--out", str(tmp_path / "figs")]) == 0
    assert (tmp_path / "figs" / "prior_posterior.png").stat().st_size > 0


def test_report_shows_choice_odds(tmp_path, capsys):
    path = tmp_path / "choice.toml"
    path.write_text(CHOICE + _evidence("sum(b)", "{ lognormal = [10, 100] }", "b"))
    assert main(["sample", str(path), "-n", "20000", "-q"]) == 0
    text = capsys.readouterr().out
    assert "choice odds" in text and "syn_b: lognormal [100, 1000]" in text and "bayes factor" in text


@pytest.mark.parametrize(
    ("evidence", "key", "problem"),
    [
        (_evidence("sum(c)", "{ normal = [1, 2] }"), "evidence.product.quantity", "unknown name 'c'"),
        (_evidence("a * b", "{ normal = [1, 2] }"), "evidence.product.quantity", "reduce the fields"),
        (_evidence("", "{ normal = [1, 2] }"), "evidence.product.quantity", "is empty"),
        (_evidence("sum(a.real)", "{ normal = [1, 2] }"), "evidence.product.quantity", "unknown class 'a' in 'a.real'"),
        (_evidence("sum(syn.a.real)", "{ normal = [1, 2] }"), "evidence.product.quantity", "is not allowed"),
        (_evidence("sum(a)", "{ normal = [2, 1] }"), "evidence.product.observed.normal", "lo > hi"),
        (_evidence("sum(a)", "{ lognormal = [-1, 2] }"), "evidence.product.observed.lognormal", "must be > 0"),
        (_evidence("sum(a)", "{ upper = -3 }"), "evidence.product.observed.upper", "must be > 0"),
        (_evidence("sum(a)", "{ cauchy = [1, 2] }"), "evidence.product.observed", "unknown key 'cauchy'"),
        (_evidence("sum(a)", "{ normal = [1, 2], upper = 3 }"), "evidence.product.observed", "exactly one"),
        (_evidence("sum(a)", "3"), "evidence.product.observed", "must be a table"),
        (_evidence("sum(a)", "{ normal = [1, 2], df = 3 }"), "evidence.product.observed.df", "student_t only"),
        (_evidence("sum(a)", "{ student_t = [1, 2], df = 0 }"), "evidence.product.observed.df", "must be > 0"),
        ("[evidence.product]\nobserved = { normal = [1, 2] }\n", "evidence.product", "missing 'quantity'"),
        ('[evidence.product]\nquantity = "sum(a)"\n', "evidence.product", "missing 'observed'"),
        (_evidence("sum(a)", "{ normal = [1, 2] }") + 'unit = "W"\n', "evidence.product", "unknown key 'unit'"),
    ],
)
def test_bad_evidence(evidence, key, problem):
    with pytest.raises(PriorError) as exc:
        parse_priors(PRODUCT + evidence, "ev.toml")
    message = str(exc.value)
    assert "ev.toml" in message and key in message and problem in message and "\n" not in message


def test_duplicate_evidence_name_is_malformed_toml():
    text = PRODUCT + _evidence("sum(a)", "{ normal = [1, 2] }") + _evidence("sum(b)", "{ normal = [1, 2] }")
    with pytest.raises(PriorError, match="malformed TOML"):
        parse_priors(text, "ev.toml")


LNP_TWO = """\
[defaults]
rate = { lognormal = [0.1, 10] }
time_steps = 3
filter_steps = 3
soma_steps = 3
synapses = 1000
outputs = 100
branches = 3
dendrites = 4
atp_per_spike = { lognormal = [1e8, 1e9] }

[classes.big]
count = 6e10

[classes.small]
count = 2e10
atp_per_spike = { lognormal = [1e7, 1e8] }
"""


def test_fields_only_evidence_uses_are_priors_of_lnp_classes_and_defaults():
    """atp_per_spike is no LNP field: it is drawn (from [defaults] or the class's own prior) for the
    evidence only and leaves the cost alone; a hard bound on the ATP spent on spikes holds in the posterior."""
    spec = parse_priors(LNP_TWO + _evidence("sum(count * rate * atp_per_spike)", "{ upper = 1e19 }", "atp"))
    assert {c.name: "atp_per_spike" in c.inherited for c in spec.classes} == {"big": True, "small": False}
    draws = sample_brain(spec, 20_000, seed=9)
    assert {"big_atp_per_spike", "small_atp_per_spike"} <= set(draws)
    np.testing.assert_allclose(np.median(draws["small_atp_per_spike"]), math.sqrt(1e7 * 1e8), rtol=0.05)
    # the cost does not see it: the class FLOP/s depend on count and rate only (all else fixed)
    per_class = 10 ** draws["log10_class_flops"][:, 0] / draws["big_rate"]
    np.testing.assert_allclose(per_class, per_class[0], rtol=1e-9)
    c = condition(spec, draws, seed=10)
    spent = 6e10 * c.draws["big_rate"] * c.draws["big_atp_per_spike"]
    spent += 2e10 * c.draws["small_rate"] * c.draws["small_atp_per_spike"]
    assert spent.max() <= 1e19 * (1 + 1e-12) and reliable(c)


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        # a typo in an LNP class is still unknown: no evidence names it
        (LNP_TWO.replace("count = 2e10", "count = 2e10\nsynapse = 5"), "classes.small", "unknown key 'synapse'"),
        # an evidence field no class has (not in [defaults] either)
        (
            LNP_TWO.replace("atp_per_spike = { lognormal = [1e8, 1e9] }\n", ""),
            "evidence.atp.quantity",
            "unknown name 'atp_per_spike': not a field of class 'big'",
        ),
    ],
)
def test_bad_evidence_fields(text, key, problem):
    with pytest.raises(PriorError) as exc:
        parse_priors(text + _evidence("sum(count * rate * atp_per_spike)", "{ upper = 1e19 }", "atp"), "ev.toml")
    assert key in str(exc.value) and problem in str(exc.value)


def test_one_class_field_evidence_moves_only_that_field_and_its_correlates():
    """``small.atp_per_spike`` (a field the cost does not use) measured: its posterior is the conjugate
    lognormal (closed form); every other site keeps its prior, brain FLOP/s included. Correlated with the
    small class's rate, the rate moves too (the same sign), the big class does not."""
    from scipy import stats

    text = LNP_TWO + _evidence("small.atp_per_spike", "{ lognormal = [1e7, 2e7] }", "atp")
    spec = parse_priors(text)
    n = 100_000
    prior = sample_brain(spec, n, seed=11)
    c = condition(spec, prior, seed=12)
    assert reliable(c) and c.method == "PSIS"
    # log x ~ N(m0, s0^2) a priori, measured as N(m1, s1^2): posterior N(m, v) with precisions added
    m0, s0 = 0.5 * math.log(1e15), math.log(10) / (2 * Z90)
    m1, s1 = 0.5 * math.log(2e14), math.log(2) / (2 * Z90)
    v = 1 / (1 / s0**2 + 1 / s1**2)
    m = v * (m0 / s0**2 + m1 / s1**2)
    x = np.log(c.draws["small_atp_per_spike"])
    assert abs(x.mean() - m) < 5 * math.sqrt(v / c.ess)
    assert abs(x.std() / math.sqrt(v) - 1) < 0.05
    for site in ("big_atp_per_spike", "big_rate", "small_rate", "log10_brain_flops"):
        assert stats.ks_2samp(prior[site][: int(c.ess)], c.draws[site][: int(c.ess)]).pvalue > 1e-3, site

    correlated = '[correlations]\n"small.atp_per_spike ~ small.rate" = 0.8\n' + text
    spec = parse_priors(correlated)
    prior = sample_brain(spec, n, seed=13)
    c = condition(spec, prior, seed=14)
    shift = np.median(np.log(c.draws["small_rate"])) - np.median(np.log(prior["small_rate"]))
    assert shift < -0.3  # the measurement is below the prior median of atp_per_spike: the rate follows it down
    for site in ("big_atp_per_spike", "big_rate"):
        assert stats.ks_2samp(prior[site][: int(c.ess)], c.draws[site][: int(c.ess)]).pvalue > 1e-3, site


@pytest.mark.parametrize(
    ("quantity", "problem"),
    [
        ("nope.count", "unknown class 'nope' in 'nope.count'"),
        ("big.nope", "class 'big' has no field 'nope'"),
        ("big.count.x", "is not allowed"),
    ],
)
def test_bad_one_class_evidence_names(quantity, problem):
    with pytest.raises(PriorError) as exc:
        text = LNP_TWO + _evidence("sum(atp_per_spike)", "{ upper = 1e30 }", "atp")
        parse_priors(text + _evidence(quantity, "{ upper = 1e19 }", "one"), "ev.toml")
    message = str(exc.value)
    assert "ev.toml" in message and "evidence.one.quantity" in message and problem in message


READINGS = readings_text(count="1e10", step_weight=3)


def test_update_reading_odds_match_the_closed_form_marginal_likelihoods():
    """Evidence on the update rate: each reading's marginal likelihood is a lognormal prior against a
    lognormal measurement, N(m_obs; m_k, s_k^2 + s_obs^2) in log space; the posterior odds are the prior
    weights times these (PSIS, within Monte Carlo error). Evidence on the firing rate alone leaves the odds
    at the prior's: both readings have the firing rate with the same prior."""
    from scipy import stats

    def odds(observed: str, quantity: str = "mean(rate)") -> tuple[np.ndarray, float]:
        spec = parse_priors(
            READINGS + _evidence(quantity, observed, "r") + _evidence("mean(firing_rate)", "{ upper = 1e9 }", "f")
        )
        c = condition(spec, sample_brain(spec, 200_000, seed=21), seed=22)
        assert reliable(c)
        return np.bincount(c.draws["scenario"], minlength=2) / len(c.draws["scenario"]), c.ess

    m_obs, s_obs = 0.5 * math.log(2 * 20), math.log(10) / (2 * Z90)  # measured 2-20 Hz
    logs = [
        (0.5 * math.log(0.1 * 10), math.log(100) / (2 * Z90)),
        (0.5 * math.log(50 * 1000), math.log(20) / (2 * Z90)),
    ]
    z = np.array([w * stats.norm.pdf(m_obs, m, math.hypot(s, s_obs)) for w, (m, s) in zip((1, 3), logs, strict=True)])
    want = z / z.sum()
    got, ess = odds("{ lognormal = [2, 20] }")
    assert abs(got[0] - want[0]) < 5 * math.sqrt(want[0] * want[1] / ess), (got, want)
    assert want[0] > 0.5  # the measurement favours the per-spike reading, against its prior weight 1/4
    got, ess = odds("{ lognormal = [2, 20] }", "mean(firing_rate)")
    assert abs(got[0] - 0.25) < 5 * math.sqrt(0.25 * 0.75 / ess), got


def test_shipped_power_item_is_the_energy_budget_by_hand():
    """priors/default-evidence.toml's power (W) at chosen values, against the sum by hand:
    per neuron firing_rate x (ATP/spike + outputs x release_prob x ATP/release) + resting ATP/s, x J/ATP.

    cortex 1.6e10 x (1 x (4e8 + 1000 x 0.25 x 1.6e5) + 3e8) = 1.6e10 x 7.4e8 = 1.184e19 ATP/s
    granule  6e10 x (1 x (5e7 +  100 x 0.25 x 1.6e5) + 3e8) =  6e10 x 3.54e8 = 2.124e19
    purkinje  2e7 x 7.4e8 = 1.48e16; other 1e9 x 7.4e8 = 7.4e17
    sum 3.38348e19 ATP/s x 8.3e-20 J = 2.8082884 W"""
    from uncertainty.brain.evidence import evidence_quantities
    from uncertainty.brain.priors import load_priors
    from uncertainty.brain.sites import field_site

    from conftest import PRIORS

    spec = load_priors(PRIORS / "default-evidence.toml")
    assert [e.name for e in spec.evidence] == [
        "neurons",
        "power",
        "neocortex_synapses",
        "purkinje_inputs",
        "granule_inputs",
    ]  # the mean-rate item is gone: the budget is counted once, in watts
    values = {
        "count": {"granule": 6e10, "purkinje": 2e7, "cortex": 1.6e10, "other": 1e9},
        "outputs": {"granule": 100.0, "purkinje": 1000.0, "cortex": 1000.0, "other": 1000.0},
        "atp_per_spike": {"granule": 5e7, "purkinje": 4e8, "cortex": 4e8, "other": 4e8},
        "firing_rate": 1.0,
        "release_prob": 0.25,
        "atp_per_release": 1.6e5,
        "atp_rest": 3e8,
        "joule_per_atp": 8.3e-20,
        "synapses": {"granule": 15.0, "purkinje": 1.75e5, "cortex": 1e4, "other": 1e4},
        "dendrites": {"granule": 4.0, "purkinje": 1000.0, "cortex": 20.0, "other": 20.0},
    }
    draws = {"log10_brain_flops": np.zeros(1)}
    for c in spec.classes:
        for field, v in values.items():
            draws[field_site(spec, c, field)] = np.array([v[c.name] if isinstance(v, dict) else v])
    q = evidence_quantities(spec, draws)
    np.testing.assert_allclose(q["power"], 2.8082884, rtol=1e-9)
    np.testing.assert_allclose(q["neocortex_synapses"], 1.6e14, rtol=1e-12)
    np.testing.assert_allclose(q["purkinje_inputs"], 1.75e5, rtol=1e-12)
    np.testing.assert_allclose(q["granule_inputs"], 4.0, rtol=1e-12)


@pytest.mark.slow
def test_nuts_samples_a_file_whose_scenarios_the_evidence_does_not_read():
    """The readings set the update rate; the evidence reads the firing rate only. NUTS samples the file
    without its scenarios, then each draw takes a reading by its prior weight and what it sets: the
    per_spike draws' rate is their firing rate, the per_step draws' rate its prior. The firing rate's
    posterior is PSIS's (many prior draws) within Monte Carlo error. Evidence on the rate itself
    keeps NUTS out (a discrete index it cannot sample)."""
    from scipy import stats

    text = READINGS + _evidence("mean(firing_rate)", "{ lognormal = [2, 20] }", "f")
    spec = parse_priors(text)
    nuts = condition(spec, sample_brain(spec, 2000, seed=31), seed=32, inference="nuts")
    assert nuts.method == "NUTS" and reliable(nuts) and nuts.divergences() == 0
    s = nuts.draws["scenario"]
    n = len(s)
    assert abs((s == 0).mean() - 0.25) < 4 * math.sqrt(0.25 * 0.75 / n)
    spike, step = s == 0, s == 1
    np.testing.assert_array_equal(nuts.draws["shared_rate"][spike], nuts.draws["shared_firing_rate"][spike])
    mu, sigma = 0.5 * math.log(5e4), math.log(20) / (2 * Z90)
    assert stats.kstest(nuts.draws["shared_rate"][step], stats.lognorm(s=sigma, scale=math.exp(mu)).cdf).pvalue > 1e-3
    # FLOP/s recomputed for the reading: count x rate x per-update FLOPs (3x4x3 filters, 1000 synapses...)
    per_update = 2 * 1000 * 3 * 3 * 4 * 3 + 4 * 3 + 2 * 4 * 3 * 3 + 2 * 3 + 2 * 100 * 3
    rate = nuts.draws["shared_rate"][:5]
    np.testing.assert_allclose(10.0 ** nuts.draws["log10_brain_flops"][:5], 1e10 * rate * per_update, rtol=1e-6)
    psis = condition(spec, sample_brain(spec, 200_000, seed=33), seed=34, inference="psis")
    for q in (0.05, 0.5, 0.95):
        a, b = (np.quantile(np.log(c.draws["shared_firing_rate"]), q) for c in (nuts, psis))
        assert abs(a - b) < 5 * np.std(np.log(psis.draws["shared_firing_rate"])) * math.sqrt(
            1 / psis.ess + 1 / nuts.ess
        )

    both = _evidence("mean(rate)", "{ lognormal = [2, 20] }", "r") + _evidence(
        "mean(firing_rate)", "{ upper = 1e9 }", "f"
    )
    reads_rate = parse_priors(READINGS + both)
    with pytest.raises(PriorError, match="the evidence reads a field a scenario sets"):
        condition(reads_rate, sample_brain(reads_rate, 2000, seed=35), seed=36, inference="nuts")


def test_one_class_field_is_a_column_of_one_class():
    """``a.count`` is the class's column (draws, 1): ``sum``/``mean`` reduce over that one class, not over
    the draws, and it broadcasts against a field of every class."""
    from uncertainty.brain.evidence import evidence_quantities

    three = LNP_TWO + "\n[classes.third]\ncount = { lognormal = [1e9, 1e10] }\n"
    items = (
        _evidence("sum(big.count)", "{ upper = 1e30 }", "one")
        + _evidence("sum(count * third.count)", "{ upper = 1e40 }", "mixed")
        + _evidence("mean(atp_per_spike)", "{ upper = 1e30 }", "atp")
        + _evidence("sum(count) * big.count", "{ upper = 1e40 }", "scaled")
    )
    spec = parse_priors(three.replace("count = 6e10", "count = { lognormal = [5e10, 7e10] }") + items)
    draws = sample_brain(spec, 50, seed=41)
    q = evidence_quantities(spec, draws)
    np.testing.assert_allclose(q["one"], draws["big_count"], rtol=1e-12)
    total = draws["big_count"] + 2e10 + draws["third_count"]
    np.testing.assert_allclose(q["mixed"], total * draws["third_count"], rtol=1e-12)
    np.testing.assert_allclose(q["scaled"], total * draws["big_count"], rtol=1e-12)  # reduced x one class
    assert np.ptp(q["one"]) > 0  # one value per draw, not one for the run


def test_an_evidence_quantity_that_does_not_compute_is_one_line():
    text = LNP_TWO + _evidence("sum(atp_per_spike)", "{ upper = 1e30 }", "atp")
    with pytest.raises(PriorError) as exc:  # a number has no classes to sum over
        parse_priors(text + _evidence("sum(2)", "{ upper = 1e9 }", "x"), "ev.toml")
    message = str(exc.value)
    assert "ev.toml" in message and "evidence.x.quantity" in message and "does not compute" in message
    assert "\n" not in message


def test_choice_odds_of_a_truncated_component_do_not_warn():
    """A component truncated below another's draws: its density there is 0 (-inf log), with no warning
    (the suite turns warnings into errors)."""
    from uncertainty.brain.evidence import choice_odds

    text = LNP_TWO.replace(
        "rate = { lognormal = [0.1, 10] }",
        "rate = { choice = [{ lognormal = [0.1, 1], max = 2 }, { lognormal = [50, 500] }] }",
    )
    spec = parse_priors(text + _evidence("sum(atp_per_spike)", "{ upper = 1e30 }", "atp"))
    draws = sample_brain(spec, 2000, seed=42)
    odds = choice_odds(spec, draws)
    for site in ("big_rate", "small_rate"):
        low = np.mean(draws[site] <= 2)
        assert odds[site]["posterior"][0] == pytest.approx(low, abs=0.02)  # the components hardly overlap


@pytest.mark.slow
def test_nuts_with_scenarios_keeps_the_correlated_sites_posterior():
    """A correlated site is a function of the copula's normals: the scenario draw after NUTS must keep the
    normals NUTS sampled, so the firing rate (measured) and the synapses (correlated with it) keep their
    posterior, as PSIS on many prior draws gives it."""
    text = READINGS.replace("synapses = 1000", "synapses = { lognormal = [500, 2000] }")
    text = '[correlations]\n"defaults.firing_rate ~ cell.synapses" = 0.8\n' + text
    spec = parse_priors(text + _evidence("mean(firing_rate)", "{ lognormal = [2, 20] }", "f"))
    nuts = condition(spec, sample_brain(spec, 2000, seed=51), seed=52, inference="nuts")
    assert nuts.method == "NUTS" and reliable(nuts)
    psis = condition(spec, sample_brain(spec, 200_000, seed=53), seed=54, inference="psis")
    for site in ("shared_firing_rate", "cell_synapses"):
        a, b = (np.median(np.log(c.draws[site])) for c in (nuts, psis))
        sd = np.std(np.log(psis.draws[site]))
        assert abs(a - b) < 5 * sd * math.sqrt(1 / psis.ess + 1 / nuts.ess), site
    spike = nuts.draws["scenario"] == 0
    np.testing.assert_array_equal(nuts.draws["shared_rate"][spike], nuts.draws["shared_firing_rate"][spike])
