"""Pooled hindcasts across technologies (issue 21, the anchor): Farmer & Lafond's protocol."""

import json
import math

import numpy as np
import pytest
from scipy import integrate, stats

from uncertainty.cli import main
from uncertainty.growth.pool import Technology, computing_pool, improving, load_pool, pcdb_pool
from uncertainty.growth.pooled_hindcast import (
    PoolOptions,
    crps_student_t,
    pair_errors,
    pooled_hindcast,
)
from uncertainty.output.backtest import render_pooled

from conftest import PRIORS


def test_pair_errors_by_hand():
    """y = 0, 1, 3, 4, 6, 7, 10 (annual), m = 5: at the origin 7 the window's changes 1, 2, 1, 2, 1 give
    mu = 7/5 = 1.4 and K^2 = (0.16 + 0.36 + 0.16 + 0.36 + 0.16) / 4 = 0.3; the forecast of 10 is 8.4."""
    tech = Technology("t", "", np.arange(2000.0, 2007.0), np.array([0, 1, 3, 4, 6, 7, 10.0]))
    p = pair_errors(tech, 5, 20.0)
    assert list(p["origin"]) == [5] and list(p["tau"]) == [1.0] and list(p["span"]) == [5.0]
    assert p["z"][0] == pytest.approx(1.6 / math.sqrt(0.3), rel=1e-12)


def test_pair_errors_skip_flat_windows_and_stop_at_the_horizon():
    tech = Technology("t", "", np.arange(2000.0, 2030.0), np.arange(30.0))  # a straight line: K = 0
    assert len(pair_errors(tech, 5, 20.0)["z"]) == 0
    rng = np.random.default_rng(0)
    walk = Technology("w", "", np.arange(2000.0, 2040.0), np.cumsum(rng.normal(0.1, 0.2, 40)))
    p = pair_errors(walk, 5, 3.0)
    assert p["tau"].max() == 3.0 and len(p["z"]) == 3 * (40 - 5 - 1) - 3  # 3 horizons per origin, fewer at the end


def test_crps_of_student_t_matches_numerical_integration():
    for df in (3.0, 4.0, 10.0):
        for z in (-2.5, 0.0, 0.7, 4.0):
            below, _ = integrate.quad(lambda x, df=df: stats.t.cdf(x, df) ** 2, -np.inf, z)
            above, _ = integrate.quad(lambda x, df=df: stats.t.sf(x, df) ** 2, z, np.inf)
            assert crps_student_t(np.array([z]), df)[0] == pytest.approx(below + above, rel=1e-6)


def test_improving_is_a_one_sided_t_test_of_the_yearly_change():
    rng = np.random.default_rng(1)
    rising = Technology("r", "", np.arange(1960.0, 1990.0), np.cumsum(rng.normal(0.3, 0.1, 30)))
    flat = Technology("f", "", np.arange(1960.0, 1990.0), np.cumsum(rng.normal(0.0, 0.1, 30)))
    assert improving(rising)[0] and improving(rising)[1] < 1e-6
    ok, p = improving(flat)
    assert 0.0 < p < 1.0
    # annual changes: the p-value is scipy's one-sample t-test of the changes (one-sided, "greater")
    expected = stats.ttest_1samp(np.diff(flat.y), 0.0, alternative="greater").pvalue
    assert p == pytest.approx(expected, rel=1e-9) and ok == (expected < 0.10)


def test_synthetic_random_walks_have_the_predicted_normalised_errors():
    """A pool of annual random walks with drift (drift and volatility differ by technology): the normalised
    errors of the random walk follow Student's t with m - 1 degrees of freedom, and the mean squared error
    grows as (m - 1)/(m - 3) (tau + tau^2/m), Farmer & Lafond's eq. 8."""
    rng = np.random.default_rng(5)
    pool = []
    for i in range(300):
        mu, k = rng.uniform(0.05, 0.5), rng.uniform(0.05, 0.5)
        pool.append(Technology(f"t{i}", "", np.arange(1950.0, 1975.0), np.cumsum(rng.normal(mu, k, 25))))
    # no progress filter (level 1): selecting walks that rose would select their errors too
    s = pooled_hindcast(pool, PoolOptions(pool=("synthetic",), max_horizon=5.0, level=1.0))
    rw = s["models"]["fl-randomwalk"]
    assert rw["technologies"] == 300
    # technologies share nothing: the pooled coverage is a mean of 300 independent per-technology shares, each
    # less variable than one Bernoulli draw, so the binomial error of 300 draws (0.017 at 90%) bounds it
    for level in (50, 80, 90):
        p = level / 100
        assert rw["pooled"][f"cov_{level}"] == pytest.approx(p, abs=3 * math.sqrt(p * (1 - p) / 300))
    for h, band in rw["xi_by_horizon"].items():
        tau = float(h)
        assert band["xi_predicted"] == pytest.approx(4 / 2 * (tau + tau**2 / 5), rel=1e-12)
        assert band["xi"] == pytest.approx(band["xi_predicted"], rel=0.2)


def test_the_pcdb_pool_and_the_filter():
    pool = pcdb_pool()
    assert len(pool) == 87
    dram = next(t for t in pool if t.name == "DRAM")
    assert dram.year[0] == 1971 and dram.y[0] == pytest.approx(-math.log(49.617952))
    s = pooled_hindcast(pool, PoolOptions(pool=("pcdb",)))
    dropped = {d["name"] for d in s["dropped"]}
    # Farmer & Lafond drop these for no significant progress (their Table 1: p = 0.66, 0.99, 0.47)
    assert {"Crude_Oil", "Nuclear_Electricity", "Motor_Gasoline"} <= dropped
    assert s["technologies_kept"] == 87 - len(dropped)
    rw, ima = s["models"]["fl-randomwalk"], s["models"]["fl-ima"]
    # the numbers docs/pooled-hindcast.md quotes (a closed form: no Monte Carlo error)
    assert (s["technologies_kept"], rw["pairs"]) == (67, 8580)
    assert (round(rw["pooled"]["cov_90"], 3), round(ima["pooled"]["cov_90"], 3)) == (0.811, 0.862)
    # their qualitative result: with theta = 0 the errors are wider than predicted; theta = 0.63 is closer
    assert rw["pooled"]["cov_90"] < ima["pooled"]["cov_90"] < 0.95
    assert abs(ima["pooled"]["cov_90"] - 0.9) < abs(rw["pooled"]["cov_90"] - 0.9)


def test_the_computing_pool_counts_each_technology_once():
    names = [t.name for t in computing_pool()]
    assert "TOP500 #1 (HPL)" in names and "Transistors per chip" in names and "DRAM price" in names
    both = load_pool(["pcdb", "computing"])
    assert len(both) == 87 + len(names) - 3  # DRAM, hard disk and transistor prices are pcdb's too


def test_cli_pooled_backtest_json(capsys):
    assert main(["backtest", "--pool", "computing", "--format", "json", "-q"]) == 0
    out = json.loads(capsys.readouterr().out)
    for model in ("fl-randomwalk", "fl-ima"):
        m = out["models"][model]
        assert set(m["pooled"]) == {"cov_50", "cov_80", "cov_90", "crps", "log_score"}
        assert m["technologies"] == out["technologies_kept"] and m["pairs"] > 1000
        lo, hi = m["spread"]["cov_90"]
        assert 0 <= lo <= m["pooled"]["cov_90"] <= hi <= 1
    assert main(["backtest", "--pool", "computing", "--series", "hpl"]) == 2
    assert "--series: applies to a single series, not to --pool" in capsys.readouterr().err
    assert main(["backtest", "--pool", "computing", "--model", "nonesuch"]) == 2
    assert "--model: unknown model 'nonesuch'" in capsys.readouterr().err
    assert main(["backtest", "--pool", "computing", "--priors", "pooled"]) == 2
    assert "--priors: applies to the growth models: name them with --model" in capsys.readouterr().err
    assert main(["backtest", "--pool", "computing", "--model", "linear", "--priors", "pooled"]) == 2
    assert "--priors: pooled priors exist for randomwalk, walkcycle" in capsys.readouterr().err
    assert main(["compare", str(PRIORS / "default.toml"), "--priors", "pooled", "-q"]) == 2
    assert "--priors: applies with --crossover" in capsys.readouterr().err
    assert main(["backtest", "--series", "hpl", "--priors", "base", "pooled"]) == 2
    assert "--priors: one value on a single series" in capsys.readouterr().err


@pytest.mark.slow
def test_growth_models_on_a_small_pool_in_one_program():
    """A growth model fitted by NUTS at two origins of each of six random walks (one batch): every fit is
    scored at its later points, per technology and pooled; the random walk's 90% intervals hold most of
    the later values of random walks."""
    rng = np.random.default_rng(2)
    pool = [Technology(f"t{i}", "", np.arange(1970.0, 1996.0), np.cumsum(rng.normal(0.3, 0.2, 26))) for i in range(6)]
    options = PoolOptions(
        pool=("synthetic",),
        models=("randomwalk",),
        priors=("base", "pooled"),
        quick=True,
        max_origins=2,
        max_horizon=10.0,
    )
    s = pooled_hindcast(pool, options)
    rw = s["models"]["randomwalk"]
    assert rw["fitted"] == 12 and rw["technologies"] == 6
    assert all(t["origins"] == 2 for t in rw["per_technology"].values())
    # two origins each, 10 annual points ahead of each (the origins are spread: the last has fewer)
    assert 6 * 10 < rw["pairs"] <= 6 * 2 * 10
    assert rw["pooled"]["cov_50"] <= rw["pooled"]["cov_80"] <= rw["pooled"]["cov_90"] and rw["pooled"]["cov_90"] > 0.6
    assert math.isfinite(rw["pooled"]["crps"]) and rw["max_rhat"] < 1.2
    # pooled priors (leave one technology out): the same fits and pairs, every technology's prior stated
    pooled = s["models"]["randomwalk+pooled"]
    assert pooled["fitted"] == 12 and pooled["pairs"] == rw["pairs"] and set(pooled["priors"]) == {p.name for p in pool}
    drift = pooled["population"]["sites"]["drift"]
    # every technology drifts 0.3 a year in natural logs: 0.3 / ln 2 doublings, inside the population's interval
    assert drift["family"] == "normal" and drift["loc"][0] < 0.3 / math.log(2.0) < drift["loc"][2]
    assert pooled["population"]["max_rhat"] < 1.2
    assert pooled["pooled"]["cov_90"] > 0.6
    text = render_pooled(s)
    assert "randomwalk" in text and "12 fits" in text and "nan" not in text and "randomwalk+pooled" in text


def test_rhat_of_chains_that_never_moved_is_quiet():
    """A fit whose chains never moved (a batch of many short fits has some): no warning, R-hat 1 when every
    draw is equal, inf (not converged) when the chains sit at different values."""
    from uncertainty.inference.nuts import rhat

    x = np.zeros((3, 2, 50))
    x[1, 1] = 1.0
    x[2] = np.random.default_rng(0).normal(size=(2, 50))
    r = rhat(x)
    assert r[0] == 1.0 and r[1] == math.inf and r[2] < 1.1


def test_a_pool_where_nothing_passes_and_repeated_years_are_one_line_or_handled(tmp_path, capsys):
    short = tmp_path / "short.csv"
    short.write_text("year,flops\n2000,1e10\n2001,2e10\n2002,4e10\n")  # 3 points: fewer than m + 2 = 7
    assert main(["backtest", "--pool", str(short), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--pool: no technology of 1 passes the rules" in err
    twice = tmp_path / "twice.csv"  # a year given twice: its first row, never a horizon of 0 (a NaN)
    rows = [(2000 + i, 2.0 ** (40 + 0.7 * i + 0.3 * np.sin(i))) for i in range(20)] + [(2010, 1e13)]
    twice.write_text("year,flops\n" + "\n".join(f"{y},{v:.17g}" for y, v in rows))
    assert main(["backtest", "--pool", str(twice), "-q", "--format", "json"]) == 0
    out = capsys.readouterr().out
    assert "NaN" not in out and json.loads(out)["models"]["fl-randomwalk"]["pairs"] > 0
    same_name = tmp_path / "DRAM.csv"
    same_name.write_text(twice.read_text())
    names = [t.name for t in load_pool(["pcdb", str(same_name)])]
    assert "DRAM" in names and "DRAM (2)" in names


@pytest.mark.slow
def test_benchmark_of_the_pooled_hindcast_smoke(tmp_path, capsys):
    """The pooled benchmark on three small CSV technologies: a row per model with its time, fits, peak memory
    and scores, each model in its own process."""
    from uncertainty.benchmark_pool import main as bench_main

    rng = np.random.default_rng(3)
    files = []
    for i in range(3):
        path = tmp_path / f"tech{i}.csv"
        y = 30 + np.cumsum(rng.normal(0.5, 0.3, 14))
        path.write_text("year,flops\n" + "\n".join(f"{2000 + k},{2.0**v:.17g}" for k, v in enumerate(y)))
        files.append(str(path))
    assert bench_main(["--pool", *files, "--model", "randomwalk", "--quick"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in out.splitlines()[2:]}
    assert set(rows) == {"fl-randomwalk", "fl-ima", "randomwalk"}
    wall, fits, pairs, rate, peak, cov90, crps = rows["randomwalk"][1:]
    assert float(wall) > 0 and int(fits) > 0 and int(pairs) > 0 and float(peak) > 50 and 0 <= float(cov90) <= 1
    assert bench_main(["--pool", *files, "--model", "randomwalk", "--pooled", "--quick"]) == 0
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[2:]}
    assert set(rows) == {"fl-randomwalk", "fl-ima", "randomwalk+pooled"} and int(rows["randomwalk+pooled"][2]) > 0


def test_change_models_skip_fit_windows_of_four_years_or_less():
    """changepoint and regimes need more than 4 years before a change (as crossover requires): a pool whose
    windows are all shorter is one line, never a fit whose prior is empty (every step divergent)."""
    from uncertainty.errors import DataError
    from uncertainty.growth.pooled_hindcast import model_hindcast

    rng = np.random.default_rng(4)
    fast = [
        Technology(f"q{i}", "", 2000 + 0.25 * np.arange(14.0), np.cumsum(rng.normal(0.3, 0.2, 14))) for i in range(3)
    ]
    options = PoolOptions(pool=("synthetic",), models=("changepoint",), quick=True, max_points=12)
    with pytest.raises(DataError, match="changepoint: no origin of the pool has a fit window over 4 years"):
        model_hindcast(fast, "changepoint", options, None)


def test_pooled_errors_figure_and_its_file(tmp_path, capsys):
    """--figure: Farmer & Lafond's CDF of normalised errors against the Student t, and the coverage curves; the
    lines carry the summary's numbers; an existing file needs --force; a single series has no such figure."""
    from uncertainty.growth.pool import load_pool
    from uncertainty.output.plots import pooled_errors_figure

    summary = pooled_hindcast(load_pool(["computing"]), PoolOptions(pool=("computing",)))
    fl = summary["models"]["fl-randomwalk"]
    assert fl["coverage_curve"]["observed"][fl["coverage_curve"]["nominal"].index(0.9)] == pytest.approx(
        fl["per_pair"]["cov_90"]
    )
    fig = pooled_errors_figure(summary)
    lines = {line.get_gid(): line for ax in fig.axes for line in ax.get_lines() if line.get_gid()}
    assert {"eps:fl-randomwalk", "eps:fl-ima", "cov:fl-randomwalk", "cov:fl-ima"} <= set(lines)
    np.testing.assert_allclose(lines["eps:fl-ima"].get_ydata(), summary["models"]["fl-ima"]["eps_cdf"]["observed"])
    target = tmp_path / "errors.png"
    assert main(["backtest", "--pool", "computing", "-q", "--figure", str(target)]) == 0
    assert target.stat().st_size > 10_000
    capsys.readouterr()
    assert main(["backtest", "--pool", "computing", "-q", "--figure", str(target)]) == 2
    assert "errors.png: exists; pass --force to overwrite it" in capsys.readouterr().err
    assert main(["backtest", "--pool", "computing", "-q", "--figure", str(target), "--force"]) == 0
    assert main(["backtest", "--series", "hpl", "--figure", str(tmp_path / "x.png")]) == 2
    assert "--figure: applies to --pool" in capsys.readouterr().err
