"""The crossover at Monte Carlo scale: batched state paths against the models' own paths, the streamed
crossover against the kept one (the same fit; within Monte Carlo error), its counts by hand, its command."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from uncertainty.brain.priors import load_priors
from uncertainty.cli import main
from uncertainty.growth.hindcast import fit_data_at
from uncertainty.growth.history import load_growth_data
from uncertainty.growth.models import MODELS_BY_NAME
from uncertainty.growth.simulate import filtered_states, state_paths
from uncertainty.output.report import crossover_summary
from uncertainty.output.streamed_crossover import year_table
from uncertainty.quantities import BY_YEARS
from uncertainty.runs.forecast import ForecastOptions, forecast
from uncertainty.runs.streamed_crossover import BIN, YearCounts, stream_crossover

from conftest import PRIORS

PARAMS = {
    "walkcycle": {"vol": 0.55, "cycle_sd": 0.5, "reversion": 0.4, "obs_noise": 0.06, "slope_last": 0.75},
    "locallinear": {"obs_noise": 0.1, "level_vol": 0.3, "slope_vol": 0.05},
    "randomwalk": {"drift": 0.7, "vol": 0.6},
}


@pytest.mark.parametrize("model", sorted(PARAMS))
def test_state_paths_have_the_distribution_of_the_models_paths(model):
    """Mean and sd at three horizons within Monte Carlo error of ``model.paths`` (another random stream)."""
    data = load_growth_data("hpl")
    n = 20_000
    with jax.enable_x64(True):
        d = jax.tree_util.tree_map(jnp.asarray, fit_data_at(data, model, data.last_year))
        params = {k: jnp.full(n, v) for k, v in PARAMS[model].items()}
        grid = jnp.arange(float(d.t_last) + 0.25, 2080.0, 0.25)
        ref = np.asarray(jax.jit(lambda k: MODELS_BY_NAME[model].paths(k, params, d, grid))(jax.random.key(1)))
        states = filtered_states(model, params, d)
        new = jax.jit(lambda k: state_paths(k, model, params, states, float(d.t_last), grid))(jax.random.key(2))
        new = np.asarray(new)
    for j in (0, 40, len(grid) - 1):
        a, b = ref[:, j], new[:, j]
        se = math.sqrt((a.var() + b.var()) / n)
        assert abs(a.mean() - b.mean()) < 4 * se
        assert abs(a.std() - b.std()) < 4 * math.sqrt((a.var() + b.var()) / (2 * n))


def _counts(years: np.ndarray, t0: float, horizon: float, batches: int) -> YearCounts:
    """YearCounts of known years, reduced here by hand (the reduction's own test)."""
    base = math.floor(t0 / BIN)
    bins = math.ceil(horizon / BIN) - base + 1
    crossing = np.isfinite(years) & (years > t0)
    hist = np.bincount(np.floor(years[crossing] / BIN).astype(int) - base, minlength=bins)
    rows, medians = [], []
    for part in np.array_split(years, batches):
        rows.append([len(part), (part <= t0).sum(), np.isinf(part).sum(), *[(part <= y).sum() for y in BY_YEARS]])
        medians.append(np.sort(part)[math.ceil(len(part) / 2) - 1])
    return YearCounts(
        t0=t0,
        horizon=horizon,
        base=base,
        hist=hist,
        batch_counts=np.asarray(rows),
        batch_medians=np.asarray(medians),
        blocks=batches,
    )


def test_the_year_table_of_counts_by_hand():
    """Ten draws: 2 already crossed, 1 never, the rest at known years: quantiles to the bin, P(by year)."""
    years = np.array([2025.0, 2025.0, 2026.004, 2029.5, 2031.0, 2040.2, 2049.99, 2060.0, 2101.0, np.inf])
    row = year_table(_counts(years, 2025.0, 2300.0, 2)).iloc[0]
    assert row["p_already"] == 0.2 and row["p_never"] == 0.1
    assert row["p_by_2030"] == 0.4 and row["p_by_2050"] == 0.7 and row["p_by_2100"] == 0.8
    assert row["median"] == pytest.approx(2031.005)  # the 5th of 10 draws (inverted CDF), its bin's middle
    assert row["q5"] == -math.inf and row["q95"] == math.inf  # among the already crossed / the never crossed
    assert row["hdi_lo"] >= 2026.0 and row["hdi_hi"] <= 2101.01


def test_the_year_table_matches_the_kept_summary_of_the_same_years():
    """Counts of 40,000 years against crossover_summary of the same years as kept draws: every probability
    equal, quantiles within one bin."""
    import arviz as az

    rng = np.random.default_rng(5)
    years = 2025.0 + rng.gamma(4.0, 4.0, 40_000)
    years[:500] = 2025.0
    years[-300:] = np.inf
    rng.shuffle(years)
    kept = az.from_dict(posterior={"crossover_year": years.reshape(4, -1), "log10_brain_flops": np.zeros((4, 10_000))})
    kept.posterior.attrs.update(horizon=2300.0, last_observation=2025.0)
    want = crossover_summary(kept).iloc[0]
    got = year_table(_counts(years, 2025.0, 2300.0, 5)).iloc[0]
    for name in ("p_already", "p_never", *[f"p_by_{y}" for y in BY_YEARS]):
        assert got[name] == pytest.approx(want[name], abs=1e-12)
    for name in ("median", "q5", "q95", "hdi_lo", "hdi_hi"):
        assert abs(got[name] - want[name]) <= BIN
    assert 0 < got["mcse_p_by_2050"] < 0.01


def _options(**kw) -> ForecastOptions:
    return ForecastOptions(series="hpl", model="randomwalk", num_warmup=200, num_chains=2, compare=False, **kw)


def test_streamed_matches_kept_within_monte_carlo_error():
    """The random walk on the TOP500 leader: 10^4 kept draws (the quarter-year grid with bridges) against
    2 x 10^5 streamed draws (the exact inverse-Gaussian passage), on one fit (the same settings and key)."""
    spec = load_priors(PRIORS / "default.toml")
    kept = crossover_summary(forecast(spec, 0, _options(num_samples=10_000))).iloc[0]
    run = stream_crossover(spec, 0, _options(num_samples=200_000))
    assert run.attrs["first_passage"] == "exact (inverse Gaussian)"
    got = year_table(run.years).iloc[0]
    assert run.years.n == 200_000 and run.stats.n == 200_000
    for year in BY_YEARS:
        name = f"p_by_{year}"
        se = math.hypot(kept[f"mcse_{name}"], got[f"mcse_{name}"])
        assert abs(got[name] - kept[name]) <= 4 * se + 1e-9
    assert abs(got["median"] - kept["median"]) <= 4 * math.hypot(kept["mcse_median"], got["mcse_median"]) + BIN


@pytest.mark.slow
def test_streamed_walkcycle_on_hpcg_matches_kept(fit_cache):
    """The default model and target (paths on a yearly grid with bridges, shared by 16 draws each) against
    the kept run's quarter-year grid, on one fit (fitted once: the streamed run takes it from the cache)."""
    spec = load_priors(PRIORS / "default.toml")
    o = ForecastOptions(num_warmup=300, num_chains=2, compare=False)
    kept = crossover_summary(forecast(spec, 0, o)).iloc[0]
    assert len(list(fit_cache.glob("fit-*.npz"))) == 1
    got = year_table(stream_crossover(spec, 0, ForecastOptions(**{**o.__dict__, "num_samples": 300_000})).years)
    assert len(list(fit_cache.glob("fit-*.npz"))) == 1  # the same fit
    got = got.iloc[0]
    for year in BY_YEARS[:2]:
        name = f"p_by_{year}"
        assert abs(got[name] - kept[name]) <= 4 * math.hypot(kept[f"mcse_{name}"], got[f"mcse_{name}"])
    assert abs(got["median"] - kept["median"]) <= 4 * math.hypot(kept["mcse_median"], got["mcse_median"]) + BIN


def test_crossover_streams_above_the_kept_limit(capsys):
    argv = ["crossover", str(PRIORS / "default.toml"), "--samples", "100001", "--series", "hpl"]
    argv += ["--model", "randomwalk", "--warmup", "150", "--chains", "2", "--no-compare", "-q"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "streamed: 100,001 joint draws counted in 0.01-year bins" in out
    assert "num_samples: 100001" in out and "growth model:" in out


@pytest.mark.slow
def test_several_targets_stream_as_they_keep(fit_cache, capsys):
    """``crossover --series A B`` streamed: one row per target, within Monte Carlo error of the kept run's (the
    same fits, taken from the cache: 10,000 growth draws either way), the brain the same draws for both."""
    import json

    argv = ["crossover", str(PRIORS / "default.toml"), "--series", "hpl", "ai-cluster", "--model", "randomwalk"]
    argv += ["-n", "10000", "--warmup", "150", "--chains", "2", "--format", "json", "-q"]
    tables = {}
    for flag in ("--keep-draws", "--no-keep-draws"):
        assert main([*argv, flag]) == 0
        out = json.loads(capsys.readouterr().out)
        table = out["tables"]["crossover year by target"]
        tables[flag] = {r["target"]: r for r in table["rows"]}
    assert "streamed: 10,000 joint draws a target, counted in 0.01-year bins" in table["note"]
    assert len(list(fit_cache.glob("fit-*.npz"))) == 2  # one fit per target, each made once
    kept, streamed = tables["--keep-draws"], tables["--no-keep-draws"]
    assert list(kept) == list(streamed) == ["hpl", "ai-cluster"]
    for target in kept:
        k, s = kept[target], streamed[target]
        assert k["last_obs"] == s["last_obs"] and k["model"] == s["model"] == "randomwalk"
        for column in ("p_already", "p_by_2030", "p_by_2050"):
            p = k[column]
            # the kept run pairs each growth draw once, the streamed one resamples them: two estimates
            assert abs(s[column] - p) < 5 * math.sqrt(2 * max(p * (1 - p), 1e-4) / 10_000), (target, column)
    brain = out["brain FLOP/s"]
    assert brain.startswith("median ") and brain.endswith("the same draws for every target")


@pytest.mark.parametrize(
    "extra, flag, problem",
    [
        (["--data-until", "2015"], "--data-until", "needs the kept draws"),
        (["--model", "scenario"], "--samples", "the scenario model keeps its draws"),
    ],
)
def test_what_a_streamed_crossover_refuses(extra, flag, problem, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = ["crossover", str(PRIORS / "default.toml"), "--samples", "200000", "--no-keep-draws", *extra]
    if "scenario" in extra:
        argv = ["crossover", str(PRIORS / "dettmers2015.toml"), "--no-keep-draws", *extra]
        flag = "--no-keep-draws"
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {flag}") and problem in err and len(err.splitlines()) == 1
    assert not (tmp_path / "x.nc").exists()


def test_evidence_keeps_its_draws(capsys):
    argv = ["crossover", str(PRIORS / "default-evidence.toml"), "--samples", "200000", "--no-keep-draws"]
    assert main(argv) == 2
    assert "a file with [evidence] keeps its draws" in capsys.readouterr().err


def test_the_block_walk_has_the_law_of_the_whole_path_search():
    """levels_first_passage (the grid walked in blocks, stopping when every level is reached; the efficiency
    walk stepped with the state) against state_paths + ratio_paths + first_passage_of_levels on the whole grid,
    for walkcycle on the HPCG target: the years of three levels agree within Monte Carlo error."""
    from uncertainty.growth.models import ratio_paths
    from uncertainty.growth.passage import first_passage_of_levels
    from uncertainty.growth.simulate import levels_first_passage, path_start

    data = load_growth_data("hpcg")
    n = 20_000
    with jax.enable_x64(True):
        d = jax.tree_util.tree_map(jnp.asarray, fit_data_at(data, "walkcycle", data.last_year))
        params = {k: jnp.full(n, v) for k, v in {**PARAMS["walkcycle"], "ratio_vol": 0.7, "ratio_noise": 0.15}.items()}
        start = path_start("walkcycle", params, d)
        states, rate = start.states, start.rate
        t0, y0, t_last = float(data.target_series.year[-1]), float(data.target_series.log2_flops[-1]), float(d.t_last)
        levels = y0 + jnp.tile(jnp.array([1.0, 6.0, 20.0]), (n, 1))
        walked = levels_first_passage(
            jax.random.key(7),
            "walkcycle",
            start,
            levels,
            t_last=t_last,
            step=1.0,
            t0=t0,
            y0=y0,
            horizon=2300.0,
        )
        grid = t_last + jnp.arange(1.0, 276.0)
        path = state_paths(jax.random.key(8), "walkcycle", params, states, t_last, grid)
        path = path + ratio_paths(jax.random.key(9), params, d, grid)
        after = np.asarray(grid) > t0
        times = np.concatenate([[t0], np.asarray(grid)[after]])
        path = jnp.concatenate([jnp.full((n, 1), y0), path[:, after]], axis=1)
        whole = first_passage_of_levels(jax.random.key(10), times, path, levels, rate)
    a, b = np.asarray(walked), np.asarray(whole)
    assert np.isfinite(a).all() and np.isfinite(b).all()
    for j in range(3):
        se = math.sqrt((a[:, j].var() + b[:, j].var()) / n)
        assert abs(a[:, j].mean() - b[:, j].mean()) < 4 * se
        for q in (0.1, 0.5, 0.9):  # quantiles within 4 binomial standard errors of the other's
            assert abs((b[:, j] <= np.quantile(a[:, j], q)).mean() - q) < 4 * math.sqrt(q * (1 - q) / n) * math.sqrt(2)


@pytest.fixture(scope="module")
def saved_streamed(tmp_path_factory):
    """A streamed crossover saved with --out, and what the run printed."""
    import contextlib
    import io

    path = tmp_path_factory.mktemp("streamed") / "run.nc"
    argv = ["crossover", str(PRIORS / "default.toml"), "--samples", "100001", "--series", "hpl"]
    argv += ["--model", "randomwalk", "--warmup", "150", "--chains", "2", "--no-compare", "-q", "--out", str(path)]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(argv) == 0
    return path, out.getvalue()


def test_a_saved_streamed_crossover_reports_as_the_run_printed(saved_streamed, capsys):
    """--out keeps the counts and the growth fit's draws (kilobytes, not draws): `report` reprints every table
    exactly as the run printed it."""
    path, printed = saved_streamed
    assert path.stat().st_size < 5_000_000
    assert main(["report", str(path)]) == 0
    assert capsys.readouterr().out == printed
    assert "streamed: 100,001 joint draws counted in 0.01-year bins" in printed


@pytest.mark.parametrize(
    "change, problem",
    [
        (lambda ds: ds["year_hist"].values.__setitem__(5, ds["year_hist"].values[5] + 1), "year_hist: the crossings"),
        (lambda ds: ds["year_batch_counts"].values.__setitem__((0, 0), 7), "year_batch_counts: counts"),
        (lambda ds: ds.attrs.__setitem__("year_bin", 0.5), "attrs.year_bin: expected 0.01"),
        (lambda ds: ds.attrs.__delitem__("year_t0"), "attrs.year_t0: missing"),
        (lambda ds: ds["year_batch_medians"].values.__setitem__(0, np.nan), "year_batch_medians: holds NaN"),
        (lambda ds: ds["fit_drift"].values.__setitem__((0, 0), np.inf), "fit_drift"),
    ],
)
def test_a_damaged_saved_streamed_crossover_is_one_line(saved_streamed, tmp_path, capsys, change, problem):
    import xarray as xr

    path, _ = saved_streamed
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        ds = ds.load()
    change(ds)
    bad = tmp_path / "bad.nc"
    ds.to_netcdf(bad, engine="h5netcdf")
    assert main(["report", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert problem in err and len(err.splitlines()) == 1, err


def test_a_saved_streamed_crossover_plots_its_counts(saved_streamed):
    """`plot` of the file draws brain FLOP/s from its histogram and the crossover-year CDF from its counts;
    the figure's probabilities are the table's."""
    import matplotlib.pyplot as plt

    from uncertainty.output.plots import figures_for
    from uncertainty.runs.io import load_saved
    from uncertainty.runs.streamed_crossover import from_crossover_dataset

    path, _ = saved_streamed
    ds = load_saved(path)
    figs = figures_for(ds)
    assert set(figs) == {"brain_flops", "crossover_cdf"}
    row = year_table(from_crossover_dataset(ds).years).iloc[0]
    text = figs["crossover_cdf"].axes[0].texts[0].get_text()
    for year in BY_YEARS:
        assert f"P(by {year}) = {row[f'p_by_{year}']:.3f}" in text
    curve = figs["crossover_cdf"].axes[0].lines[0].get_ydata()
    assert np.all(np.diff(curve) >= 0) and curve[-1] == pytest.approx(1 - row["p_never"])
    for fig in figs.values():
        plt.close(fig)
