"""compare --crossover: several prior files against one growth fit, the same years as `crossover` gives."""

import math

import numpy as np
import pytest

from uncertainty.brain.priors import load_priors
from uncertainty.cli import main
from uncertainty.runs.forecast import ForecastOptions, crossover_years, forecast

from conftest import PRIORS


@pytest.mark.slow
def test_crossover_years_equal_the_crossover_run_of_each_file():
    # 4 chains x 100 draws after 200 warm-up steps: the settings `compare --crossover -n 400 --warmup 200` uses
    # (below), so both tests run one compiled NUTS program (compiling it costs far more than sampling)
    options = ForecastOptions(num_samples=400, num_warmup=200, num_chains=4, compare=False)
    specs = {name: load_priors(PRIORS / f"{name}.toml") for name in ("carlsmith2020-mechanistic", "dettmers2015")}
    years = crossover_years(specs, 3, options)
    one = forecast(specs["dettmers2015"], 3, options)
    np.testing.assert_array_equal(years["dettmers2015"], one.posterior["crossover_year"].values.ravel())
    # the synapse count is 6 decades below the LNP preset: it crosses earlier in every draw
    assert np.all(years["carlsmith2020-mechanistic"] <= years["dettmers2015"])


@pytest.mark.slow
def test_cli_compare_crossover_columns(capsys):
    files = [str(PRIORS / "carlsmith2020-mechanistic.toml"), str(PRIORS / "dettmers2015.toml")]
    args = ["compare", *files, "--crossover", "-n", "400", "--warmup", "200", "--pool", "1,1", "--format", "csv"]
    assert main(args) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[0]
    assert "median_year" in header and "p_by_2050" in header
    with pytest.raises(SystemExit) as exc:  # argparse: one line, exit 2
        main(["compare", *files, "--crossover", "--model", "scenario"])
    assert exc.value.code == 2 and "invalid choice" in capsys.readouterr().err


def _series_csv(tmp_path):
    """A short yearly series (doubling every 2 years, with some scatter)."""
    rows = [f"{y},{2.0 ** (40 + 0.5 * (y - 2000)) * (1.1 if y % 3 else 0.9):.6g}" for y in range(2000, 2021)]
    path = tmp_path / "series.csv"
    path.write_text("year,flops\n" + "\n".join(rows) + "\n")
    return path


@pytest.mark.slow
def test_streamed_compare_crossover_matches_the_kept_one(tmp_path, capsys):
    """--no-keep-draws counts what --keep-draws keeps: the same brain draws (those of `sample`), so P(> 1eN)
    is equal (whole decades are bin edges) and the medians agree to the 0.001-decade bin; the crossover
    columns (the growth draws resampled, not paired one to one) and the pooled row within Monte Carlo error."""
    import json
    import math

    files = [str(PRIORS / "carlsmith2020-mechanistic.toml"), str(PRIORS / "default.toml")]
    argv = ["compare", *files, "--crossover", "--series", str(_series_csv(tmp_path)), "--model", "linear"]
    argv += ["-n", "20000", "--warmup", "200", "--pool", "1,3", "--format", "json", "-q"]
    tables = {}
    for flag in ("--keep-draws", "--no-keep-draws"):
        assert main([*argv, flag]) == 0
        data = json.loads(capsys.readouterr().out)["tables"]["compare"]
        tables[flag] = {r["prior file"]: r for r in data["rows"]}
    assert "streamed: counted in bins" in data["note"]
    kept, streamed = tables["--keep-draws"], tables["--no-keep-draws"]
    assert list(kept) == list(streamed) == ["carlsmith2020-mechanistic", "default", "pool (weights 1,3)"]
    n = 20000
    for name in ("carlsmith2020-mechanistic", "default"):
        k, s = kept[name], streamed[name]
        for t in (15, 18, 21, 24):
            assert s[f"p_gt_1e{t}"] == k[f"p_gt_1e{t}"], (name, t)
        assert abs(s["log10_median"] - k["log10_median"]) < 0.002
        for column in ("p_already", "p_by_2050"):
            p = k[column]
            assert abs(s[column] - p) < 5 * math.sqrt(max(p * (1 - p), 1e-4) / n) + 0.01, (name, column)
    pool_k, pool_s = kept["pool (weights 1,3)"], streamed["pool (weights 1,3)"]
    for column in ("p_gt_1e15", "p_gt_1e18", "p_gt_1e21", "p_already", "p_by_2050"):
        p = pool_k[column]
        assert abs(pool_s[column] - p) < 5 * math.sqrt(max(p * (1 - p), 1e-4) / n) + 0.01, column
    # the pool is the weighted mixture: P(already) is 1/4 of the synapse count's and 3/4 of the default's
    want = 0.25 * streamed["carlsmith2020-mechanistic"]["p_already"] + 0.75 * streamed["default"]["p_already"]
    assert pool_s["p_already"] == pytest.approx(want, rel=1e-12)


def test_streamed_compare_refusals(tmp_path, capsys):
    files = [str(PRIORS / "default.toml"), str(PRIORS / "dettmers2015.toml")]
    cases = [
        (["--no-keep-draws"], "--no-keep-draws: applies with --crossover"),
        (["--crossover", "--no-keep-draws", "--save", str(tmp_path / "runs")], "--save: needs the kept draws"),
        (["--crossover", "-n", "200000", "--save", str(tmp_path / "runs")], "above 100,000 draws compare --crossover"),
    ]
    for extra, problem in cases:
        assert main(["compare", *files, *extra]) == 2
        err = capsys.readouterr().err
        assert problem in err and len(err.strip().splitlines()) == 1, err
    evidence = [str(PRIORS / "default-evidence.toml"), files[0]]
    assert main(["compare", *evidence, "--crossover", "--no-keep-draws"]) == 2
    assert "has [evidence] and keeps its draws" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_pooled_crossover_columns_are_the_weighted_mixture():
    """Counts of two runs' crossover years, pooled with weights 1 and 3, against the exact weighted mixture
    of their draws: P(already), P(by 2050) and the median (to its 0.01-year bin)."""
    from uncertainty.output.compare import streamed_crossover_columns
    from uncertainty.runs.streamed_crossover import BIN, YearCounts

    rng = np.random.default_rng(4)
    t0, horizon = 2025.9, 2300.0
    base = math.floor(t0 / BIN)
    bins = math.ceil(horizon / BIN) - base + 1

    def counts(years):
        already, never = years <= t0, np.isinf(years)
        crossing = ~already & ~never
        hist = np.bincount(np.floor(years[crossing] / BIN).astype(int) - base, minlength=bins)
        row = [years.size, already.sum(), never.sum()] + [(years <= y).sum() for y in (2030, 2050, 2100)]
        return YearCounts(t0, horizon, base, hist, np.array([row]), np.array([np.median(years)]))

    a = np.where(rng.random(3000) < 0.4, t0, 2026 + rng.exponential(5, 3000))
    b = np.where(rng.random(5000) < 0.05, np.inf, 2030 + rng.exponential(20, 5000))
    table = streamed_crossover_columns({"a": counts(a), "b": counts(b)}, [1, 3], "pool")
    w = np.concatenate([np.full(a.size, 0.25 / a.size), np.full(b.size, 0.75 / b.size)])
    y = np.concatenate([a, b])
    assert table.loc["pool", "p_already"] == pytest.approx(np.sum(w[y <= t0]), rel=1e-12)
    assert table.loc["pool", "p_by_2050"] == pytest.approx(np.sum(w[y <= 2050]), rel=1e-12)
    order = np.argsort(y)
    median = y[order][np.searchsorted(np.cumsum(w[order]), 0.5)]
    assert abs(table.loc["pool", "median_year"] - median) <= BIN


def test_streamed_pool_keeps_draws_outside_a_files_histogram_on_their_side():
    """File b's histogram starts at 1e15 with 10% of its draws below it: in a pool of b alone (weights 0, 1)
    P(> 1e15) is b's own 0.9, and b's draws above its histogram stay above its top edge."""
    from uncertainty.output.compare import streamed_compare_table
    from uncertainty.runs.streaming import Layout, StreamStats

    def run(lo: float, counts: np.ndarray, under: int, over: int, bottom: float, top: float):
        k = len(counts)
        zeros, empty = np.zeros(1), np.zeros(0)
        n = int(counts.sum()) + under + over
        stats = StreamStats(
            n,
            zeros,
            zeros,
            zeros,
            zeros,
            np.array([bottom]),  # the smallest and largest draws (log10)
            np.array([top]),
            counts[None, :],
            np.array([under]),
            np.array([over]),
            empty,
            empty,
            empty,
            empty,
        )
        return stats, Layout(("log10 brain FLOP/s",), np.array([lo]), k, zeros, (), empty, empty)

    a = run(14.0, np.full(3000, 1), 0, 0, 14.0005, 16.9995)  # 1e14 to 1e17
    counts = np.zeros(2000, dtype=np.int64)
    counts[500] = 800  # 1e15.5
    b = run(15.0, counts, under=100, over=100, bottom=14.5, top=18.5)  # 1e15 to 1e17: 100 below, 100 above 1e17
    table = streamed_compare_table({"a": a, "b": b}, [0, 1], "pool")
    assert table.loc["b", "p_gt_1e15"] == pytest.approx(0.9)
    assert table.loc["pool", "p_gt_1e15"] == pytest.approx(0.9)
    # 1e18 lies above both histograms, with draws beyond them: unknown for b, and for the pool of b alone
    assert np.isnan(table.loc["b", "p_gt_1e18"]) and np.isnan(table.loc["pool", "p_gt_1e18"])


def test_compare_pool_weights_are_checked_before_any_work(capsys):
    files = [str(PRIORS / "default.toml"), str(PRIORS / "dettmers2015.toml")]
    for weights in ("0,0", "2,-1", "nan,1"):
        assert main(["compare", *files, "--crossover", "--no-keep-draws", "--pool", weights]) == 2
        err = capsys.readouterr().err
        assert "--pool: weights must be >= 0, finite and not all zero" in err and len(err.strip().splitlines()) == 1
