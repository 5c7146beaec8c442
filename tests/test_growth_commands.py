"""`crossover` and `backtest` as a user meets them: status lines of the long steps (and `-q`), what the
hindcast's choice means, its warnings (too few origins, `--quick`), the limit of `--horizon`."""

import json
import re

import numpy as np
import pytest
import xarray as xr

from uncertainty.cli import main

from conftest import PRIORS, readings_text

STATUS = re.compile(r"\.\.\.$|: done in \d+\.\d s$")  # the two forms of a status line


def _series_csv(tmp_path, first=2000, last=2020):
    """A short yearly series (doubling every 2 years, with some scatter): 4 origins in a quick hindcast."""
    years = range(first, last + 1)
    rows = [f"{y},{2.0 ** (40 + 0.5 * (y - first)) * (1.1 if y % 3 else 0.9):.6g}" for y in years]
    path = tmp_path / "series.csv"
    path.write_text("year,flops\n" + "\n".join(rows) + "\n")
    return path


def _status_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if STATUS.search(line)]


@pytest.mark.slow
def test_crossover_status_lines_for_every_long_step_and_quiet_silences_them(tmp_path, monkeypatch, capsys):
    from uncertainty.inference import fitcache

    real, first = fitcache.compile_nuts, []

    def compile_once(*args, **kwargs):  # the comparison fits replay the first one: the lines are tested, not LOO
        if not first:
            first.append(real(*args, **kwargs))
        return first[0]

    monkeypatch.setattr(fitcache, "compile_nuts", compile_once)
    csv = _series_csv(tmp_path)
    argv = ["crossover", str(PRIORS / "dettmers2015.toml"), "--series", str(csv), "--model", "linear"]
    argv += ["-n", "200", "--warmup", "100", "--chains", "2"]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert "crossover year" in out
    lines = _status_lines(err)
    fits = [
        f"fitting linear to {csv} (2 chains x 200 steps)",
        "comparing models by LOO: fitting changepoint (2 chains x 200 steps)",
        "comparing models by LOO: fitting regimes (2 chains x 200 steps)",
    ]
    after = ["drawing 200 brain FLOP/s draws", "pairing 200 draws with brain FLOP/s (paths to 2300)"]
    after.append("comparing 3 models by LOO")
    compiling = [f"compiling the {name} fit" for name in ("linear", "changepoint", "regimes")]
    started = [line for line in lines if line.endswith("...")]
    progress = [f"{fit}: {p}% ({n} of 200 steps) ..." for fit in fits for p, n in ((25, 50), (50, 100), (75, 150))]
    # the fits are compiled one after the other, then run side by side: their lines interleave; the later steps follow
    assert started[0] == f"{compiling[0]} ..." and started[-3:] == [f"{text} ..." for text in after], err
    assert sorted(started[:-3]) == sorted([f"{t} ..." for t in [*compiling, *fits]] + progress), err
    for text in [*compiling, *fits, *after]:  # each step says when it ends, with its time
        assert re.search(rf"^{re.escape(text)}: done in \d+\.\d s$", err, re.MULTILINE), err
    assert not [line for line in err.splitlines() if line not in lines and not line.startswith("warning:")], err

    assert main([*argv, "-q"]) == 0
    out, err = capsys.readouterr()
    assert "crossover year" in out
    assert _status_lines(err) == [] and all(line.startswith("warning:") for line in err.splitlines()), err


@pytest.mark.slow
def test_backtest_status_lines_choice_and_warnings_of_a_small_quick_hindcast(tmp_path, capsys):
    csv = _series_csv(tmp_path)
    argv = ["backtest", "--series", str(csv), "--model", "linear", "--quick"]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    text = "fitting linear at 4 origins (4 chains x 300 steps each) and scoring it"
    assert f"{text} ..." in err.splitlines(), err
    assert "fitting linear at 4 origins: 50% (152 of 300 steps) ..." in err.splitlines(), err
    assert re.search(rf"^{re.escape(text)}: done in \d+\.\d s$", err, re.MULTILINE), err
    # too few origins to choose a model: none is chosen, and crossover's default (walkcycle) is named
    assert "default: linear" not in out and "\nchosen by this hindcast:" not in out
    assert "no model chosen by this hindcast: 4 origins and " in out and "'crossover' uses walkcycle" in out
    # too few origins, and a smoke test: in the output and as warning lines on stderr
    assert "warning: only 4 distinct origins and " in out and "too few to choose a model from" in out
    assert "warning: --quick is a smoke test" in out
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 2 and "only 4 distinct origins" in warnings[0] and "smoke test" in warnings[1], err

    assert main([*argv, "-q", "--format", "json"]) == 0
    out, err = capsys.readouterr()
    summary = json.loads(out)
    assert summary["origins"] == 4 and summary["quick"] is True and summary["crossover_default"] == "walkcycle"
    assert len(summary["warnings"]) == 2
    assert _status_lines(err) == [] and err.count("\n") == 2 and err.startswith("warning:"), err


def _hindcast(origins: int, quick: bool, pit: float = 0.5, per_origin: int = 8) -> xr.Dataset:
    """A hand-made hindcast of walkcycle: ``origins`` origins with ``per_origin`` scored pairs each."""
    labels = [f"{2000 + i}-06" for i in range(origins)]
    n = per_origin * origins
    return xr.Dataset(
        {
            "model": ("pair", np.array(["walkcycle"] * n)),
            "origin": ("pair", np.repeat(labels, per_origin)),
            "target": ("pair", np.array(["2030-06"] * n)),
            "horizon": ("pair", np.tile(np.linspace(1.0, 5.0, per_origin), origins)),
            "pit": ("pair", np.full(n, pit)),
            "crps": ("pair", np.full(n, 0.1)),
            "log_score": ("pair", np.full(n, 0.2)),
            "max_rhat": (("fitted_model", "origin_list"), np.ones((1, origins))),
            "divergences": (("fitted_model", "origin_list"), np.zeros((1, origins), dtype=int)),
        },
        coords={"fitted_model": ["walkcycle"], "origin_list": labels},
        attrs={"kind": "backtest", "quick": int(quick)},
    )


@pytest.mark.parametrize(
    "origins, quick, per_origin, warned",
    [(5, False, 8, []), (4, False, 8, ["only 4 distinct origins and 32 pairs"])]
    + [(1, False, 8, ["only 1 distinct origin and 8 pairs"]), (5, False, 2, ["only 5 distinct origins and 10 pairs"])]
    + [(6, True, 8, ["smoke test"]), (2, True, 8, ["only 2 distinct origins", "smoke test"])],
)
def test_hindcast_warns_below_five_origins_or_thirty_pairs_and_for_a_quick_run(origins, quick, per_origin, warned):
    from uncertainty.growth.hindcast import MIN_ORIGINS, MIN_PAIRS, summarize_backtest
    from uncertainty.output.backtest import render_backtest

    assert (MIN_ORIGINS, MIN_PAIRS) == (5, 30)
    summary = summarize_backtest(_hindcast(origins, quick, per_origin=per_origin))
    assert summary["origins"] == origins and summary["quick"] is quick
    assert len(summary["warnings"]) == len(warned)
    for warning, text in zip(summary["warnings"], warned, strict=True):
        assert text in warning
    table = render_backtest(summary)
    assert table.count("\nwarning: ") == len(warned) and "nan" not in table
    too_few = origins < 5 or origins * per_origin < 30
    # too few to choose: none chosen (never a model from a handful of pairs); else the model crossover uses
    # by default is named as such
    assert (summary["default"] is None) == too_few
    if too_few:
        assert "no model chosen by this hindcast" in table and "'crossover' uses walkcycle" in table
    else:
        assert "chosen by this hindcast: walkcycle" in table and "'crossover' uses it by default" in table


@pytest.mark.parametrize("horizon", ["1e300", "10001", "1e5"])
def test_horizon_has_an_upper_limit(horizon, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["crossover", str(PRIORS / "default.toml"), "--horizon", horizon])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--horizon" in err and "from 2100 to 10000" in err, err


def test_horizon_limit_in_help_and_in_the_forecast(capsys):
    from uncertainty.choices import MAX_HORIZON
    from uncertainty.runs.forecast import ForecastOptions, forecast

    with pytest.raises(SystemExit):
        main(["crossover", "--help"])
    assert "2100-10000" in " ".join(capsys.readouterr().out.split())
    assert MAX_HORIZON == 10_000
    with pytest.raises(ValueError, match="from 2100 to 10000"):
        forecast(None, 0, ForecastOptions(horizon=1e300))


def test_path_points_are_formatted_with_thousands_separators(monkeypatch):
    from uncertainty.brain import engine
    from uncertainty.errors import InputError
    from uncertainty.runs.forecast import check_path_memory

    monkeypatch.setattr(engine, "physical_memory", lambda: 2**30)
    with pytest.raises(InputError, match=r"paths with 1,234,567 points to the horizon"):
        check_path_memory(10_000, 1_234_567)


READINGS = readings_text(count="1e12") + '[evidence.f]\nquantity = "mean(firing_rate)"\nobserved = { upper = 1e9 }\n'


@pytest.mark.slow
def test_crossover_reports_each_brain_scenarios_years(tmp_path, capsys):
    """A prior with [scenarios] (two readings of the update rate): the crossover run keeps each draw's
    scenario, and the report's "crossover year by scenario" is each reading's share, quantiles and P(by
    year) of those draws' years; the slower updates (per spike, 0.1-10 Hz) cross earlier."""
    from uncertainty.quantities import central
    from uncertainty.runs.io import load_run

    priors = tmp_path / "readings.toml"
    priors.write_text(READINGS)
    out = tmp_path / "run.nc"
    argv = ["crossover", str(priors), "--series", str(_series_csv(tmp_path)), "--model", "linear"]
    argv += ["-n", "400", "--warmup", "100", "--chains", "2", "--no-compare", "-q", "--out", str(out)]
    assert main([*argv, "--format", "json"]) == 0
    rows = {
        r["scenario"]: r for r in json.loads(capsys.readouterr().out)["tables"]["crossover year by scenario"]["rows"]
    }
    run = load_run(out)
    index = run.posterior["scenario"].values.ravel()
    years = run.posterior["crossover_year"].values.ravel()
    assert run.posterior.attrs["scenario_names"] == "per_spike,per_step"
    for k, name in enumerate(("per_spike", "per_step")):
        sel = years[index == k]
        q5, median, q95 = central(sel, method="inverted_cdf")
        assert rows[name]["share"] == pytest.approx(sel.size / years.size)
        assert (rows[name]["q5"], rows[name]["median"], rows[name]["q95"]) == pytest.approx((q5, median, q95))
        assert rows[name]["p_by_2030"] == pytest.approx(np.mean(sel <= 2030))
    assert abs(rows["per_spike"]["share"] - 0.5) < 4 * np.sqrt(0.25 / 400)
    assert rows["per_spike"]["median"] < rows["per_step"]["median"]
