"""Compute targets of the crossover (issue 20): record series of AI hardware, the practical fraction and the
budget, "already crossed", one table across targets, irregular dates."""

import math
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from uncertainty.brain.priors import LogNormal, load_priors, parse_priors
from uncertainty.cli import main
from uncertainty.errors import PriorError
from uncertainty.growth.crossover import first_crossing_on_grid
from uncertainty.growth.hindcast import fit_data_at
from uncertainty.growth.history import GrowthData, Series, load_growth_data
from uncertainty.growth.models import MODELS_BY_NAME
from uncertainty.growth.records import decimal_year, record_rows
from uncertainty.inference.nuts import NutsSettings, run_nuts
from uncertainty.output.report import crossover_summary
from uncertainty.runs.forecast import ForecastOptions, forecast, future_paths, practical_draws

from conftest import PRIORS

TINY = ["--samples", "200", "--warmup", "150", "--chains", "2", "-q"]


def test_decimal_year_is_the_middle_of_the_day():
    # 2025-07-22 is day 203 of 365 (31+28+31+30+31+30 = 181 days before July): (202 + 0.5) / 365
    assert decimal_year("2025-07-22") == pytest.approx(2025 + 202.5 / 365, abs=1e-12)
    assert decimal_year("2024-12-31") == pytest.approx(2024 + 365.5 / 366, abs=1e-12)  # a leap year
    assert decimal_year("2016-01-01") == pytest.approx(2016 + 0.5 / 366, abs=1e-12)


def test_record_rows_keep_each_row_that_beats_every_earlier_one():
    rows = [
        {"d": "2020-01-01", "v": "5"},
        {"d": "2019-01-01", "v": "3"},
        {"d": "2019-01-01", "v": "4"},  # the same date: the larger is the record, the other is not
        {"d": "", "v": "100"},  # no date: left out
        {"d": "2021-01-01", "v": ""},  # no value: left out
        {"d": "2021-06-01", "v": "5"},  # equal to the record: not a new one
        {"d": "2022-01-01", "v": "7"},
    ]
    got = record_rows(rows, "d", lambda r: float(r["v"]) if r["v"] else None)
    assert [(r["d"], v) for r, v in got] == [("2019-01-01", 4.0), ("2020-01-01", 5.0), ("2022-01-01", 7.0)]


def test_ai_cluster_records_against_the_shared_csv():
    s = load_growth_data("ai-cluster").target_series
    assert len(s) == 12 and np.all(np.diff(s.flops) > 0) and np.all(np.diff(s.year) > 0)
    assert (s.labels[0], s.flops[0], s.systems[0]) == ("2016-11-01", 5.79e16, "CSCS Piz Daint Phase 1")
    assert (s.labels[-1], s.flops[-1], s.systems[-1]) == ("2025-07-22", 2.73e20, "xAI Colossus Memphis Phase 3")
    # "Likely" rows count (Epoch's judgement that the system exists): the 2017-05 TensorFlow Research Cloud
    assert ("2017-05-17", 1.84e17) in zip(s.labels, s.flops, strict=True)
    # a row of several sites (single_cluster = No) or an "Unlikely" one never sets a record: none is listed
    assert "Meta 2017 V100 Cluster" in s.systems and s.flops[s.systems.index("Meta 2017 V100 Cluster")] == 2.75e18


def test_accelerator_and_budget_records_against_the_shared_csvs():
    a = load_growth_data("accelerator").target_series
    assert len(a) == 14 and np.all(np.diff(a.flops) > 0)
    assert (a.labels[0], a.flops[0], a.systems[0]) == ("2017-05-01", 4.5e13, "Google TPU v2")
    assert (a.labels[-1], a.flops[-1]) == ("2025-06-12", 2.5166e15)  # AMD Instinct MI355X
    assert "NVIDIA H100 SXM5 80GB" not in a.systems  # 989 TFLOP/s: below the Biren BR100's 1,024 of 2022-08
    b = load_growth_data("budget").target_series
    assert len(b) == 20 and np.all(np.diff(b.flops) > 0)
    # the Xbox 360 GPU: 240 GFLOP/s (fp32) for 528.75 US dollars of 2020
    assert b.labels[0] == "2005-11-22" and b.flops[0] == pytest.approx(2.4e11 / 528.7536559139784, rel=1e-6)
    # after the last priced GPU of 2021, the priced chips of ml_hardware.csv (dollars of the day)
    assert (b.labels[-1], b.systems[-1]) == ("2022-11-03", "AMD Radeon RX 7900 XTX")
    assert b.flops[-1] == pytest.approx(61.42e12 / 999.0, rel=1e-9)


def test_budget_and_fraction_arithmetic():
    """log2 of the practical value = log2 peak + log2 fraction + log2 budget, per draw."""
    text = (PRIORS / "dettmers2015.toml").read_text() + "\n[target]\nfraction = 0.5\nbudget_usd = 2e6\n"
    spec = parse_priors(text, "t.toml")
    p = practical_draws(jax.random.key(0), spec, "budget", 5)
    np.testing.assert_allclose(np.asarray(p.log2_scale), math.log2(0.5 * 2e6), rtol=1e-12)
    assert p.text == {"fraction": "0.5", "budget": "2e+06 USD"}
    over = practical_draws(jax.random.key(0), spec, "budget", 5, budget_usd=1e9)  # --budget wins
    np.testing.assert_allclose(np.asarray(over.log2_scale), math.log2(0.5e9), rtol=1e-12)
    assert over.text["budget"] == "1e+09 USD (--budget)"
    ai = practical_draws(jax.random.key(0), spec, "ai-cluster", 5)  # no budget for a cluster
    assert set(ai.draws) == {"practical_fraction"}
    assert not practical_draws(jax.random.key(0), spec, "hpl", 5).draws  # a measured target: neither


def test_default_fraction_is_capped_at_one_and_has_its_stated_interval():
    spec = load_priors(PRIORS / "dettmers2015.toml")  # no [target]: the default lognormal [0.2, 0.5]
    f = practical_draws(jax.random.key(3), spec, "accelerator", 200_000).draws["practical_fraction"]
    assert f.max() <= 1.0 and f.min() > 0
    q5, q95 = np.quantile(f, [0.05, 0.95])
    # quantiles of 200,000 draws: within a few standard errors (about 0.001 here) of the stated interval
    assert q5 == pytest.approx(0.2, abs=0.004) and q95 == pytest.approx(0.5, abs=0.008)


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ("fraction = 1.5", "a practical fraction lies in (0, 1]; 1.5 is above 1"),
        ("fraction = { uniform = [0.5, 2] }", "2 is above 1"),
        ("fraction = { choice = [0.3, 1.2] }", "1.2 is above 1"),
        ("fraction = 0", "must be > 0"),
        ("budget_usd = -3", "must be > 0"),
        ("budget = 1e6", "unknown key 'budget'"),
    ],
)
def test_bad_target_tables_are_one_line(table, problem):
    text = (PRIORS / "dettmers2015.toml").read_text() + f"\n[target]\n{table}\n"
    with pytest.raises(PriorError, match=None) as caught:
        parse_priors(text, "t.toml")
    assert problem in str(caught.value) and "target." in str(caught.value) and "\n" not in str(caught.value)


def test_a_fraction_truncated_at_one_is_accepted():
    text = (PRIORS / "dettmers2015.toml").read_text() + "\n[target]\nfraction = { lognormal = [0.5, 1.2], max = 1 }\n"
    assert parse_priors(text, "t.toml").target.fraction == LogNormal(0.5, 1.2, max=1.0)


def test_zero_noise_paths_give_the_closed_form():
    """A random walk with drift and no noise is a straight line from the last observation: the first
    crossing is ``t_last + (log2 brain - y_last) / drift``, exactly (the paths are linear in between)."""
    data = load_growth_data("ai-cluster")
    model = MODELS_BY_NAME["randomwalk"]
    with jax.enable_x64(True):
        d = jax.tree_util.tree_map(jnp.asarray, fit_data_at(data, "randomwalk", data.last_year))
        drift = jnp.array([0.5, 1.0, 2.0, 1.3])
        params = {"drift": drift, "vol": jnp.zeros(4)}
        times, path = future_paths(jax.random.key(0), model, params, d, data, 2300.0)
        log2_brain = jnp.array([70.0, 75.0, 80.0, 60.0])  # the last record is 2^67.9: the last one already reached
        years = np.asarray(first_crossing_on_grid(times, path - log2_brain[:, None]))
    t_last, y_last = float(d.t_last), float(d.y_last)
    expected = t_last + (np.asarray(log2_brain[:3]) - y_last) / np.asarray(drift[:3])
    np.testing.assert_allclose(years[:3], expected, rtol=0, atol=1e-9)
    assert years[3] == t_last  # already crossed: the last observation, never a year inside the history


def _irregular_walk(rng, drift, vol, n):
    gaps = rng.exponential(0.6, n - 1) + 0.02  # several points some years, none for two years in others
    t = 2000.0 + np.concatenate([[0.0], np.cumsum(gaps)])
    steps = drift * gaps + vol * np.sqrt(gaps) * rng.standard_normal(n - 1)
    return t, 40.0 + np.concatenate([[0.0], np.cumsum(steps)])


@pytest.mark.slow
@pytest.mark.parametrize("model", ["randomwalk", "walkcycle"])
def test_irregular_dates_recover_known_parameters(model):
    """A walk observed at irregular dates (exponential gaps, 0.02 to 3.3 years): the variance of a step grows
    with the time it spans, so the drift and the volatility per year come back inside their 98% intervals,
    and the random walk's posterior medians sit on the maximum-likelihood estimates of such steps."""
    rng = np.random.default_rng(7)
    t, y = _irregular_walk(rng, 0.8, 0.4, 120)
    assert np.ptp(np.diff(t)) > 1.5  # the gaps really differ
    labels = tuple(f"{x:.3f}" for x in t)
    data = GrowthData("synthetic", Series("synthetic", labels, t, 2.0**y, labels))
    with jax.enable_x64(True):
        d = fit_data_at(data, model, data.last_year)
        batch = jax.tree_util.tree_map(lambda x: jnp.asarray(x)[None], d)
        r = run_nuts(jax.random.key(1), MODELS_BY_NAME[model].model, batch, NutsSettings(400, 400, 2))
    slope = r.samples["drift" if model == "randomwalk" else "slope_last"][0].ravel()
    vol = r.samples["vol"][0].ravel()
    for draws, truth in ((slope, 0.8), (vol, 0.4)):
        lo, hi = np.quantile(draws, [0.01, 0.99])
        assert lo < truth < hi, (model, lo, hi, truth)
    if model == "randomwalk":  # the known answer: the maximum-likelihood estimates with steps of their own length
        gaps, steps = np.diff(t), np.diff(y)
        drift_hat = steps.sum() / gaps.sum()
        vol_hat = np.sqrt(np.mean((steps - drift_hat * gaps) ** 2 / gaps))
        assert np.median(slope) == pytest.approx(drift_hat, abs=0.01)  # its standard error: 0.05
        assert np.median(vol) == pytest.approx(vol_hat, rel=0.03)  # equal steps would give 0.4 / sqrt(0.62)


@pytest.fixture(scope="module")
def carlsmith_on_ai_clusters():
    spec = load_priors(PRIORS / "carlsmith2020-mechanistic.toml")
    o = ForecastOptions(series="ai-cluster", num_samples=400, num_warmup=150, num_chains=2, compare=False)
    return forecast(spec, 0, o)


@pytest.mark.slow
def test_already_crossed_share_is_the_share_of_brains_below_the_last_practical_value(carlsmith_on_ai_clusters):
    """P(crossed by the last observation) is exactly the share of joint draws whose brain FLOP/s is at or
    below the last record times the draw's fraction; their quantiles print as 'already'."""
    idata = carlsmith_on_ai_clusters
    post = idata.posterior
    last = post.attrs["last_value"]
    assert last == 2.73e20 and post.attrs["last_label"] == "2025-07-22"
    below = 10.0 ** post["log10_brain_flops"].values <= last * post["practical_fraction"].values
    row = crossover_summary(idata).iloc[0]
    assert row["p_already"] == below.mean() and row["p_already"] > 0.95  # Carlsmith's median is 1e15
    year = post["crossover_year"].values
    assert np.all(year[below] == post.attrs["last_observation"])  # never a year inside or before the data
    assert np.all(year[~below] > post.attrs["last_observation"])
    assert row["median"] == -np.inf and row["q5"] == -np.inf  # printed "already"


@pytest.mark.slow
def test_crossover_cdf_starts_at_the_share_already_crossed(carlsmith_on_ai_clusters):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from uncertainty.output.plots import crossover_cdf_figure

    idata = carlsmith_on_ai_clusters
    t_last = idata.posterior.attrs["last_observation"]
    already = crossover_summary(idata).iloc[0]["p_already"]
    fig = crossover_cdf_figure(idata)
    ax = fig.axes[0]
    curve = next(line for line in ax.lines if line.get_label() == "P(crossed by year)")
    x, y = np.asarray(curve.get_xdata()), np.asarray(curve.get_ydata())
    assert x[0] == t_last and y[x == t_last].max() == pytest.approx(already)  # a step up to P(already) at t_last
    assert any(line.get_label().startswith(f"last observation ({t_last:.1f})") for line in ax.lines)
    assert f"P(crossed by the last observation, {t_last:.1f}) = {already:.3f}" in ax.texts[0].get_text()
    plt.close(fig)


@pytest.mark.slow
def test_cli_ai_cluster_data_line_and_already(capsys):
    assert main(["crossover", str(PRIORS / "carlsmith2020-mechanistic.toml"), "--series", "ai-cluster", *TINY]) == 0
    out = capsys.readouterr().out
    data = next(line for line in out.splitlines() if line.startswith("data: "))
    assert "Epoch AI" in data and "Data on AI Supercomputers" in data
    assert "last observation 2.73e+20 OP/s (16-bit peak), 2025-07-22" in data
    assert "practical fraction lognormal 90% interval [0.2, 0.5] (default)" in data
    assert "counts: OP/s (16-bit peak) x practical fraction" in out
    row = next(line for line in out.splitlines() if line.startswith("crossover year "))
    assert "already" in row and "p crossed by 2025.6" in out


@pytest.mark.slow
def test_cli_one_table_across_targets(capsys):
    """Four targets, one growth fit each, the same brain draws: a row per target; the budget from the prior
    file, or --budget."""
    args = ["crossover", str(PRIORS / "default.toml"), "--series", "hpcg", "ai-cluster", "accelerator", "budget"]
    assert main([*args, *TINY, "--budget", "1e7", "--format", "json"]) == 0
    import json

    out = json.loads(capsys.readouterr().out)
    rows = {r["target"]: r for r in out["tables"]["crossover year by target"]["rows"]}
    assert list(rows) == ["hpcg", "ai-cluster", "accelerator", "budget"]
    for r in rows.values():
        assert {"p_already", "median", "q5", "q95", "p_by_2030", "p_by_2050", "p_none_by_2300", "model"} <= set(r)
        assert r["model"] == "walkcycle" and r["converged"] in ("yes", "NO")
    note = out["tables"]["crossover year by target"]["note"]
    assert "budget 1e+07 USD (--budget)" in note and "Data on AI Supercomputers" in note


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--series", "nonesuch"], "error: nonesuch: unknown series"),
        (["--series", "budget", "--budget", "0"], "--budget: must be a positive number"),
        (["--series", "ai-cluster", "--data-until", "2016"], "measurements to fit; the growth models need 3"),
        (["--series", "hpl", "ai-cluster", "--out", "x.nc"], "error: --out: applies to one target"),
        (["--series", "ai-cluster", "--budget", "1e9"], "error: --budget: applies to the budget target"),
    ],
)
@pytest.mark.slow
def test_bad_targets_are_one_line_exit_2(args, problem, tmp_path):
    cmd = [sys.executable, "-m", "uncertainty", "crossover", str(PRIORS / "default.toml"), *args, "-q"]
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, env=_env())
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and problem in done.stderr, done.stderr
    assert not (tmp_path / "x.nc").exists()


def _env():
    import os

    return {**os.environ, "JAX_PLATFORMS": "cpu", "UNCERTAINTY_NO_CACHE": "1"}


@pytest.mark.slow
def test_compare_crossover_files_by_targets(capsys):
    """compare --crossover takes the same list of targets: for each target, P(already), the median year and
    P(by 2050) of every file, against one growth fit per target."""
    import io

    import pandas as pd

    files = [str(PRIORS / "carlsmith2020-mechanistic.toml"), str(PRIORS / "dettmers2015.toml")]
    args = ["compare", *files, "--crossover", "--series", "hpcg", "ai-cluster", "-n", "200", "--warmup", "150"]
    assert main([*args, "-q", "--format", "csv"]) == 0
    table = pd.read_csv(io.StringIO(capsys.readouterr().out)).set_index("row")
    for target in ("hpcg", "ai-cluster"):
        assert {f"p_already [{target}]", f"median_year [{target}]", f"p_by_2050 [{target}]"} <= set(table.columns)
    # Carlsmith's brain (median 1e15 FLOP/s) lies below the largest AI cluster's practical value in most draws;
    # Dettmers' (1.075e21) above it in every draw (2.73e20 x a fraction of at most 1)
    assert table.loc["carlsmith2020-mechanistic", "p_already [ai-cluster]"] > 0.95
    assert table.loc["dettmers2015", "p_already [ai-cluster]"] == 0.0
    assert table.loc["dettmers2015", "median_year [ai-cluster]"] > 2025.6


def test_the_docs_list_every_record_row():
    """docs/targets.md lists the rows that set records, as the code builds them."""
    from conftest import ROOT

    text = (ROOT / "docs" / "targets.md").read_text()
    for target in ("ai-cluster", "accelerator", "budget"):
        s = load_growth_data(target).target_series
        for label, value, system in zip(s.labels, s.flops, s.systems, strict=True):
            assert f"| {label} | {value:.3g} | {system} |" in text, (target, label)


def test_already_is_decided_by_the_last_observed_value_never_a_year_inside_the_data(tmp_path):
    """A series that dips at its end: a brain below an earlier value but above the last one is not
    'already crossed'; and a model that fits distinct measurements (whose last one is older than the last
    list) never puts a crossing between them."""
    from uncertainty.runs.forecast import check_data

    csv = tmp_path / "dip.csv"
    rows = [(2000 + i, 2.0 ** (50 + i), f"s{i}") for i in range(21)] + [
        (y, 2.0**66.5, "last") for y in (2021, 2022, 2023)
    ]
    csv.write_text("year,flops,system\n" + "\n".join(f"{y},{v:.17g},{n}" for y, v, n in rows))
    o = ForecastOptions(series=str(csv), model="linear", num_samples=8, num_chains=2)
    data = check_data(o)
    model = MODELS_BY_NAME["linear"]
    with jax.enable_x64(True):
        d = jax.tree_util.tree_map(jnp.asarray, fit_data_at(data, "linear", data.last_year))
        assert float(d.t_last) == 2021  # the last distinct measurement is older than the last list
        # a straight trend through the last measurement (2^66.5 in 2021), one doubling a year
        params = {"level": jnp.full(3, 66.5), "slope": jnp.full(3, 1.0)}
        times, path = future_paths(jax.random.key(0), model, params, d, data, 2300.0)
        # 2^68 was passed in 2018 but the last value is 2^66.5: not already (the trend passes it before the last
        # list, so the first point after it); 2^65: already; 2^80: later
        years = np.asarray(first_crossing_on_grid(times, path - jnp.array([68.0, 65.0, 80.0])[:, None]))
    assert times[0] == 2023.0 and np.all(np.diff(times) > 0)
    assert years[1] == 2023.0 and years[0] > 2023.0 and years[2] > years[0]


@pytest.mark.parametrize(
    "flag",
    [["--series", "ai-cluster"], ["--budget", "1e9"], ["--model", "randomwalk"], ["--warmup", "200"], ["--refit"]],
)
def test_compare_crossover_flags_without_crossover_are_one_line(flag, capsys):
    assert main(["compare", str(PRIORS / "default.toml"), *flag, "-n", "1000", "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{flag[0]}: applies with --crossover" in err


def test_a_crossover_of_a_file_with_evidence_calls_its_brain_the_posterior():
    """A crossover run keeps its brain draws' conditioning as ``brain_*`` attributes: its brain table and
    figures say "posterior", as a ``sample`` run's do."""
    from uncertainty._arviz import az
    from uncertainty.output.report import brain_title

    run = az.from_dict(posterior={"log10_brain_flops": np.full((2, 5), 18.0)})
    assert brain_title(run) == "brain FLOP/s"
    run.posterior.attrs["brain_pareto_k"] = 0.1
    assert brain_title(run) == "brain FLOP/s (posterior)"
