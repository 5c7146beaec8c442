"""Dependence between parameters: [correlations] through a Gaussian copula."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from uncertainty.brain.distributions import quantile
from uncertainty.brain.engine import sample_brain
from uncertainty.brain.priors import LogNormal, LogUniform, Normal, Uniform, parse_priors
from uncertainty.errors import PriorError

from conftest import one_class_text

SD = 1.0 / 1.6448536269514722  # sd of the normal whose 90% interval is [0, 2]
EXPRESSION = """\
[classes.syn]
method = "expression"
flops_per_second = "synapses * rate * flop"
synapses = { lognormal = [1e14, 1e15] }
rate = { normal = [0.1, 2], min = 0.05 }
flop = { loguniform = [1, 100] }
"""


@pytest.mark.parametrize(
    ("prior", "reference"),
    [
        (LogNormal(1.0, 100.0), stats.lognorm(s=math.log(100) / (2 * 1.6448536269514722), scale=10.0)),
        (Normal(0.0, 2.0), stats.norm(1.0, 1.0 / 1.6448536269514722)),
        (
            Normal(0.0, 2.0, min=0.5, max=3.0),
            stats.truncnorm(-0.8224268134757361, 3.289707253902945, 1.0, 0.6079568319117692),
        ),
        (Uniform(2.0, 5.0), stats.uniform(2.0, 3.0)),
        (LogUniform(1.0, 100.0), stats.loguniform(1.0, 100.0)),
    ],
)
def test_quantile_functions_match_scipy(prior, reference):
    u = np.array([0.01, 0.1, 0.5, 0.9, 0.99])
    np.testing.assert_allclose(np.asarray(quantile(prior, u)), reference.ppf(u), rtol=2e-5)


def test_requested_rank_correlations_are_realised_and_marginals_kept():
    text = '[correlations]\n"syn.synapses ~ syn.rate" = 0.6\n"syn.rate ~ syn.flop" = -0.4\n' + EXPRESSION
    spec = parse_priors(text)
    n = 100_000
    d = sample_brain(spec, n, seed=2)
    se = 1.0 / math.sqrt(n)  # Spearman's rho: sd <= 1/sqrt(n)
    assert abs(stats.spearmanr(d["syn_synapses"], d["syn_rate"])[0] - 0.6) < 4 * se
    assert abs(stats.spearmanr(d["syn_rate"], d["syn_flop"])[0] + 0.4) < 4 * se
    # a pair not named is independent in the copula (its matrix entry is 0)
    assert abs(stats.spearmanr(d["syn_synapses"], d["syn_flop"])[0]) < 4 * se
    # marginals are the priors (KS against the exact distributions)
    mu, sigma = math.log(math.sqrt(1e14 * 1e15)), math.log(10) / (2 * 1.6448536269514722)
    assert stats.kstest(d["syn_synapses"], stats.lognorm(s=sigma, scale=math.exp(mu)).cdf).pvalue > 1e-3
    assert stats.kstest(d["syn_flop"], stats.loguniform(1, 100).cdf).pvalue > 1e-3
    sd = 1.9 / (2 * 1.6448536269514722)
    rate = stats.truncnorm((0.05 - 1.05) / sd, np.inf, 1.05, sd)
    assert stats.kstest(d["syn_rate"], rate.cdf).pvalue > 1e-3
    assert "_copula_z" not in d


def test_correlating_brain_fields_moves_the_spread_as_the_algebra_says():
    """log10 FLOP/s = log10 S + log10 r + log10 f: with S and r lognormal and Gaussian-copula
    correlated (Pearson r of the logs = 2 sin(pi rho / 6)), the variance gains 2 r sd_S sd_r."""
    base = EXPRESSION.replace("{ normal = [0.1, 2], min = 0.05 }", "{ lognormal = [0.1, 2] }")
    text = '[correlations]\n"syn.synapses ~ syn.rate" = 0.8\n' + base
    sd_s, sd_r = 0.5 / 1.6448536269514722, 0.5 * math.log10(20) / 1.6448536269514722
    sd_f = 2 / math.sqrt(12)
    r = 2 * math.sin(math.pi * 0.8 / 6)
    expected = math.sqrt(sd_s**2 + sd_r**2 + sd_f**2 + 2 * r * sd_s * sd_r)
    x = sample_brain(parse_priors(text), 100_000, seed=5)["log10_brain_flops"]
    assert abs(x.std() / expected - 1) < 0.01


def test_correlations_of_lnp_shared_and_convention_fields():
    cell = one_class_text(synapses="{ lognormal = [100, 1000] }").replace("rate = 10\n", "")
    pairs = '"defaults.rate ~ cell.synapses" = -0.5\n"convention.flops_per_mac ~ defaults.rate" = 0.3'
    head = "[convention]\nflops_per_mac = { uniform = [1, 2] }\n"
    head += '[defaults]\nshared = ["rate"]\nrate = { lognormal = [1, 100] }\n'
    d = sample_brain(parse_priors(head + f"[correlations]\n{pairs}\n" + cell), 50_000, seed=1)
    se = 1 / math.sqrt(50_000)
    assert abs(stats.spearmanr(d["shared_rate"], d["cell_synapses"])[0] + 0.5) < 4 * se
    assert abs(stats.spearmanr(d["convention_flops_per_mac"], d["shared_rate"])[0] - 0.3) < 4 * se


def test_a_shared_field_is_named_by_its_default():
    cell = one_class_text(synapses="{ lognormal = [100, 1000] }").replace("rate = 10\n", "")
    head = '[defaults]\nshared = ["rate"]\nrate = { lognormal = [1, 100] }\n'
    with pytest.raises(PriorError, match="name it defaults.rate"):
        parse_priors(head + '[correlations]\n"cell.rate ~ cell.synapses" = 0.5\n' + cell)


FLOP, FLOP_PAIR = "{ loguniform = [1, 100] }", '"syn.rate ~ syn.flop" = 0.5'


def _with(correlations: str, body: str = EXPRESSION) -> str:
    return "[correlations]\n" + correlations + "\n" + body


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        (_with('"syn.synapses ~ syn.nope" = 0.5'), "syn.synapses ~ syn.nope", "has no field 'nope'"),
        (_with('"other.rate ~ syn.rate" = 0.5'), "other.rate ~ syn.rate", "unknown class 'other'"),
        (_with('"syn.synapses - syn.rate" = 0.5'), "correlations", "class.field ~ class.field"),
        (_with('"syn.synapses ~ synrate" = 0.5'), "correlations", "is not class.field"),
        (_with('"syn.rate ~ syn.rate" = 0.5'), "correlations", "with itself"),
        (_with('"syn.rate ~ syn.flop" = 1.5'), "correlations", "in [-1, 1]"),
        (_with('"syn.rate ~ syn.flop" = "high"'), "correlations", "expected a number"),
        (_with('"syn.rate ~ syn.flop" = 0.5\n"syn.flop ~ syn.rate" = 0.2'), "correlations", "given twice"),
        (
            _with('"syn.synapses ~ syn.rate" = 0.9\n"syn.rate ~ syn.flop" = 0.9\n"syn.synapses ~ syn.flop" = -0.9'),
            "correlations",
            "not positive definite",
        ),
        (_with('"syn.rate ~ syn.flop" = 1'), "correlations", "not positive definite"),
        (
            _with('"syn.rate ~ syn.flop" = 0.5', EXPRESSION.replace("{ loguniform = [1, 100] }", "10")),
            "correlations",
            "is a fixed value",
        ),
        (
            _with(
                '"syn.rate ~ syn.flop" = 0.5', EXPRESSION.replace("{ loguniform = [1, 100] }", "{ choice = [1, 10] }")
            ),
            "correlations",
            "a choice cannot be correlated",
        ),
        (_with('"convention.flops_per_mac ~ syn.flop" = 0.5'), "correlations", "not an uncertain convention"),
        ("[correlations]\n" + EXPRESSION, "correlations", "must be a table"),
    ],
)
def test_bad_correlations(text, key, problem):
    with pytest.raises(PriorError) as exc:
        parse_priors(text, "dep.toml")
    message = str(exc.value)
    assert "dep.toml" in message and key in message and problem in message and "\n" not in message


# -- [scenarios] -----------------------------------------------------------------------------------

TIED = """\
[defaults]
shared = ["rate"]
rate = { lognormal = [1, 100] }

[scenarios]
classic = { weight = 1, "*.rate" = 200, "convention.flops_per_mac" = 2 }
energy = { weight = 3, "defaults.rate" = { lognormal = [0.1, 2] }, "convention.flops_per_mac" = 1 }
"""


def test_scenarios_tie_fields_and_realise_their_weights():
    cell = one_class_text(synapses="{ lognormal = [100, 1000] }").replace("rate = 10\n", "")
    spec = parse_priors(TIED + cell)
    n = 40_000
    d = sample_brain(spec, n, seed=3)
    s = d["scenario"]
    classic, energy = s == 0, s == 1
    assert classic.sum() + energy.sum() == n
    assert abs(classic.mean() - 0.25) < 4 * math.sqrt(0.25 * 0.75 / n)  # weights 1 : 3
    # every field a scenario names moves with it, in every draw
    assert np.all(d["shared_rate"][classic] == 200.0) and np.all(d["convention_flops_per_mac"][classic] == 2.0)
    assert np.all(d["convention_flops_per_mac"][energy] == 1.0)
    mu, sigma = 0.5 * math.log(0.2), math.log(20) / (2 * 1.6448536269514722)
    assert stats.kstest(d["shared_rate"][energy], stats.lognorm(s=sigma, scale=math.exp(mu)).cdf).pvalue > 1e-3
    # fields no scenario names keep the file's prior in both
    assert stats.ks_2samp(d["cell_synapses"][classic], d["cell_synapses"][energy]).pvalue > 1e-3
    # FLOP/s by hand in the classic scenario: count * 200 Hz * (2 * S*T*B*D*K + D*T + 2*D*T*K_s + 2*T + 2*O*T)
    syn = d["cell_synapses"][classic][:5]
    per_update = 2 * syn * 5 * 3 * 4 * 5 + 4 * 5 + 2 * 4 * 5 * 5 + 2 * 5 + 2 * 100 * 5
    np.testing.assert_allclose(10.0 ** d["log10_brain_flops"][classic][:5], 1e9 * 200 * per_update, rtol=1e-5)


SAME = """\
[defaults]
shared = ["rate", "firing_rate"]
rate = { lognormal = [100, 1000] }
firing_rate = { lognormal = [0.1, 2] }

[scenarios]
per_spike = { weight = 1, "defaults.rate" = { same_as = "firing_rate" } }
per_step = { weight = 1 }

[evidence.spikes]
quantity = "sum(count * firing_rate)"
observed = { upper = 1e30 }
"""


def test_same_as_gives_a_field_another_fields_draw_in_its_scenario():
    cell = one_class_text().replace("rate = 10\n", "")
    spec = parse_priors(SAME + cell)
    n = 40_000
    d = sample_brain(spec, n, seed=5)
    spike, step = d["scenario"] == 0, d["scenario"] == 1
    assert abs(spike.mean() - 0.5) < 4 * math.sqrt(0.25 / n)
    # per_spike: the update rate is the firing rate, draw for draw; per_step: its own prior, independent of it
    np.testing.assert_array_equal(d["shared_rate"][spike], d["shared_firing_rate"][spike])
    mu, sigma = 0.5 * math.log(1e5), math.log(10) / (2 * 1.6448536269514722)
    assert stats.kstest(d["shared_rate"][step], stats.lognorm(s=sigma, scale=math.exp(mu)).cdf).pvalue > 1e-3
    assert abs(stats.spearmanr(d["shared_rate"][step], d["shared_firing_rate"][step])[0]) < 4 / math.sqrt(step.sum())
    # the firing rate keeps its prior in both scenarios
    assert stats.ks_2samp(d["shared_firing_rate"][spike], d["shared_firing_rate"][step]).pvalue > 1e-3
    # FLOP/s by hand: count * firing rate * per-update FLOPs in per_spike draws
    per_update = 2 * 1000 * 5 * 3 * 4 * 5 + 4 * 5 + 2 * 4 * 5 * 5 + 2 * 5 + 2 * 100 * 5
    rate = d["shared_firing_rate"][spike][:5]
    np.testing.assert_allclose(10.0 ** d["log10_brain_flops"][spike][:5], 1e9 * rate * per_update, rtol=1e-5)


@pytest.mark.parametrize(
    ("setting", "key", "problem"),
    [
        ('"defaults.rate" = { same_as = "nope" }', "scenarios.a.defaults.rate.same_as", "has no field 'nope'"),
        ('"defaults.rate" = { same_as = 3 }', "scenarios.a.defaults.rate.same_as", "expected a field name"),
        ('"defaults.rate" = { same_as = "rate" }', "scenarios.a.defaults.rate.same_as", "as itself"),
        ('"defaults.rate" = { same_as = "firing_rate", x = 1 }', "scenarios.a.defaults.rate", "unknown key 'x'"),
        ('"convention.flops_per_mac" = { same_as = "rate" }', "convention.flops_per_mac.same_as", "a convention"),
        (
            '"cell.synapses" = { same_as = "time_steps" }',
            "same_as",
            "'synapses' is in synapses, but 'time_steps' is in steps",
        ),
        (
            '"cell.count" = { same_as = "synapses" }',
            "cell.count.same_as",
            "is in neurons, but 'synapses' is in synapses",
        ),
        (
            '"defaults.rate" = { same_as = "firing_rate" }, "defaults.firing_rate" = 1',
            "scenarios.a",
            "which a scenario sets itself",
        ),
    ],
)
def test_bad_same_as(setting, key, problem):
    text = SAME.replace(
        'per_spike = { weight = 1, "defaults.rate" = { same_as = "firing_rate" } }', f"a = {{ weight = 1, {setting} }}"
    )
    with pytest.raises(PriorError) as exc:
        parse_priors(text + one_class_text().replace("rate = 10\n", ""), "sc.toml")
    message = str(exc.value)
    assert "sc.toml" in message and key in message and problem in message and "\n" not in message


def test_same_as_a_per_class_field_from_a_shared_one_is_refused():
    text = SAME.replace('shared = ["rate", "firing_rate"]', 'shared = ["rate"]')
    cell = one_class_text().replace("rate = 10\n", "")
    two = cell + cell.replace("[classes.cell]", "[classes.other]")
    with pytest.raises(PriorError, match="drawn per class"):
        parse_priors(text + two, "sc.toml")


def test_scenario_names_travel_with_the_run(tmp_path):
    from uncertainty.runs.io import brain_inference_data

    cell = one_class_text().replace("rate = 10\n", "")
    spec = parse_priors(TIED + cell)
    idata = brain_inference_data(sample_brain(spec, 100, seed=0), spec, {})
    assert idata.prior.attrs["scenario_names"] == "classic,energy"
    assert np.issubdtype(idata.prior["scenario"].dtype, np.integer)


@pytest.mark.parametrize(
    ("scenarios", "key", "problem"),
    [
        ('a = { weight = 0, "*.rate" = 1 }', "scenarios.a.weight", "must be > 0"),
        ("a = { weight = -1 }", "scenarios.a.weight", "must be > 0"),
        ('a = { "*.rate" = 1 }', "scenarios.a", "missing 'weight'"),
        ('a = { weight = 1, "cell.nope" = 1 }', "scenarios.a.cell.nope", "has no field 'nope'"),
        ('a = { weight = 1, "brain.rate" = 1 }', "scenarios.a.brain.rate", "unknown class 'brain'"),
        ('a = { weight = 1, "*.nope" = 1 }', "scenarios.a.*.nope", "no class has a field 'nope'"),
        ('a = { weight = 1, "rate" = 1 }', "scenarios.a.rate", "is not class.field"),
        ('a = { weight = 1, "convention.fpm" = 1 }', "scenarios.a.convention.fpm", "unknown convention"),
        ('a = { weight = 1, "*.rate" = -5 }', "scenarios.a.*.rate", "must be > 0"),
        ('a = { weight = 1, "*.rate" = 1, "cell.rate" = 2 }', "scenarios.a.cell.rate", "second time"),
        ("a = 3", "scenarios.a", "must be a table"),
    ],
)
def test_bad_scenarios(scenarios, key, problem):
    with pytest.raises(PriorError) as exc:
        parse_priors(f"[scenarios]\n{scenarios}\n" + one_class_text(), "sc.toml")
    message = str(exc.value)
    assert "sc.toml" in message and key in message and problem in message and "\n" not in message


def test_shipped_carlsmith_file_realises_its_correlation():
    from uncertainty.brain.priors import load_priors

    from conftest import PRIORS

    d = sample_brain(load_priors(PRIORS / "carlsmith2020-mechanistic.toml"), 50_000, seed=0)
    rho = stats.spearmanr(d["synaptic_synapses"], d["firing_neurons"])[0]
    assert abs(rho - 0.5) < 4 / math.sqrt(50_000)


def test_report_shows_each_scenario(tmp_path, capsys):
    from uncertainty.cli import main

    from conftest import PRIORS

    out = tmp_path / "sb.nc"
    args = ["sample", str(PRIORS / "sandberg-bostrom2008.toml"), "-n", "30000", "--out", str(out), "-q"]
    assert main([*args, "--format", "json"]) == 0
    import json

    rows = {r["scenario"]: r for r in json.loads(capsys.readouterr().out)["tables"]["brain FLOP/s by scenario"]["rows"]}
    assert list(rows) == ["spiking", "electrophysiology", "metabolome"]
    for row, level in zip(rows.values(), (1e18, 1e22, 1e25), strict=True):
        assert abs(row["share"] - 1 / 3) < 4 * math.sqrt(2 / 9 / 30000)
        assert abs(math.log10(row["median"] / level)) < 0.05
    # the median lies inside electrophysiology's draws: above it, half of those and all of metabolome's
    assert rows["spiking"]["above_median"] == 0
    assert abs(rows["metabolome"]["above_median"] - 2 / 3) < 4 * math.sqrt(2 / 9 / 15000)
    assert main(["report", str(out)]) == 0
    text = capsys.readouterr().out
    assert "brain FLOP/s by scenario" in text and "metabolome carries the result: it holds 6" in text
