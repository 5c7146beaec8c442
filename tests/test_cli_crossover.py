"""CLI smoke tests of `uncertainty crossover` with tiny sample and warm-up counts; its bad inputs."""

import io
import json
import warnings

import numpy as np
import pandas as pd
import pytest

from uncertainty.choices import DEFAULT_MODEL, DEFAULT_PRIORS
from uncertainty.cli import main

from conftest import PRIORS

TINY = ["--samples", "200", "--warmup", "150", "-q"]  # and 2 chains, unless a test sets them


def test_crossover_scenario_reproduces_the_article(capsys):
    assert main(["crossover", str(PRIORS / "dettmers2015.toml"), "--model", "scenario", "-q"]) == 0
    out = capsys.readouterr().out
    for text in ("crossover year by scenario", "doubling every 1 y", "2036.0", "2052.8", "2078.0"):
        assert text in out


def test_crossover_tables_keep_their_columns_and_rows():
    """What a paper pastes or a script reads by position: the crossover year's columns and the growth rows."""
    from uncertainty import ForecastOptions, crossover_summary, forecast, growth_summary, load_priors

    run = forecast(load_priors(PRIORS / "default.toml"), 0, ForecastOptions(model="scenario", num_samples=400))
    by_year = [c for y in (2030, 2050, 2100) for c in (f"p_by_{y}", f"mcse_p_by_{y}")]
    assert list(crossover_summary(run).columns) == [
        *("p_already", "mcse_p_already", "median", "q5", "q95", "hdi_lo", "hdi_hi"),
        *by_year,
        *("p_never", "mcse_median", "ess_bulk"),
    ]
    with warnings.catch_warnings():  # ArviZ's R-hat of the scenario's fixed start values divides by zero
        warnings.simplefilter("ignore", RuntimeWarning)
        rows = list(growth_summary(run).index)
    assert rows == ["doubling_years", "start_flops", "start_year"]


@pytest.mark.slow
def test_crossover_fit_save_and_report(tmp_path, capsys):
    run = tmp_path / "cross.nc"
    assert main(["crossover", str(PRIORS / "default.toml"), *TINY, "--chains", "2", "--out", str(run)]) == 0
    out, err = capsys.readouterr()
    assert "growth fit: max R-hat" in out
    assert ("NOT CONVERGED" in out) == ("warning: growth fit" in err)  # the verdict on stderr too, when it fails
    for text in (
        "crossover year:",
        "p none by 2300",
        "growth model:",
        f"{DEFAULT_MODEL} with {'pooled priors' if DEFAULT_PRIORS == 'pooled' else 'its own (base) priors'}",
        "r_hat",
        "ess tail",
        "NUTS divergences",
        "model comparison (LOO):",
        "preferred by LOO",
    ):
        assert text in out, text
    assert main(["report", str(run)]) == 0
    assert capsys.readouterr().out == out  # the saved run reports what the command printed
    assert main(["report", str(run), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"brain FLOP/s", "crossover year", "growth model", "model comparison (LOO)"} <= data["tables"].keys()
    assert main(["report", str(run), "--format", "csv"]) == 0
    tidy = pd.read_csv(io.StringIO(capsys.readouterr().out))  # one table that pandas reads
    assert list(tidy.columns[:2]) == ["table", "row"]
    assert {"brain FLOP/s", "crossover year", "growth model"} <= set(tidy["table"])


@pytest.mark.slow
def test_crossover_backtest_and_hpl(capsys):
    args = ["crossover", str(PRIORS / "default.toml"), *TINY, "--chains", "2", "--no-compare"]
    assert main([*args, "--data-until", "2015"]) == 0
    out = capsys.readouterr().out
    assert "backtest:" in out and "fitted on lists up to 2015" in out and "inside the 90% interval" in out
    assert main([*args, "--series", "hpl", "--model", "linear", "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert "## crossover year" in out and "doubling_years" in out
    assert main([*args, "--series", "hpl", "--model", "randomwalk", "--priors", "pooled"]) == 0
    out = capsys.readouterr().out
    assert "randomwalk with pooled priors: learned from the computing series (for a compute target" in out
    assert main([*args, "--series", "hpl", "--model", "linear", "--priors", "pooled"]) == 0
    assert "linear with its own (base) priors" in capsys.readouterr().out  # nothing to pool: not labelled pooled
    assert main(["crossover", str(PRIORS / "dettmers2015.toml"), "--model", "scenario", "--priors", "pooled"]) == 2
    assert "--priors apply to the data models" in capsys.readouterr().err


@pytest.mark.slow
def test_crossover_user_csv(tmp_path, capsys):
    csv = tmp_path / "mine.csv"
    csv.write_text("year,flops\n" + "\n".join(f"{y},{2.0 ** (40 + 0.5 * (y - 2000)):.6g}" for y in range(2000, 2021)))
    args = [
        "crossover",
        str(PRIORS / "dettmers2015.toml"),
        *TINY,
        "--chains",
        "2",
        "--series",
        str(csv),
        "--no-compare",
    ]
    assert main([*args, "--model", "linear"]) == 0
    assert "crossover year:" in capsys.readouterr().out


@pytest.mark.slow
def test_data_already_past_a_brain_draw_crossed_it_already(tmp_path, capsys):
    """A leader that already exceeds a brain draw has crossed it: that draw counts as crossed by the last
    observation (its year is the last observation's, printed 'already'), never a year inside the history;
    the table's P(crossed by the last observation) is their share."""
    from uncertainty.runs.io import load_run

    years = np.arange(2000, 2021)
    log2 = 50 + 1.0 * (years - 2000)  # 2^50 (1.1e15) in 2000 to 2^70 (1.2e21) in 2020: past most brain draws
    csv = tmp_path / "fast.csv"
    csv.write_text("year,flops\n" + "\n".join(f"{y},{2.0**v:.17g}" for y, v in zip(years, log2, strict=True)))
    run = tmp_path / "fast.nc"
    argv = ["crossover", str(PRIORS / "default.toml"), *TINY, "--chains", "2", "--series", str(csv), "--no-compare"]
    assert main([*argv, "--model", "linear", "--out", str(run), "--format", "json"]) == 0
    table = json.loads(capsys.readouterr().out)["tables"]["crossover year"]["rows"][0]
    post = load_run(run).posterior
    brain = post["log10_brain_flops"].values.ravel() * np.log2(10.0)
    crossed = post["crossover_year"].values.ravel()
    past = brain <= log2[-1]
    assert 0.5 < past.mean() < 1.0  # both kinds of draw are there
    assert np.all(crossed[past] == years[-1]) and np.all(crossed[~past] > years[-1])
    assert table["p_crossed_by_2020.0"] == past.mean()


def test_paths_that_would_not_fit_in_memory_are_refused_before_the_fit(monkeypatch, capsys):
    from uncertainty.brain import engine

    monkeypatch.setattr(engine, "physical_memory", lambda: 2**30)
    assert main(["crossover", str(PRIORS / "default.toml"), "--samples", "20000", "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --samples: 20000 draws of paths") and "at most about" in err
    assert len(err.splitlines()) == 1


@pytest.mark.parametrize(
    "extra, csv_text, problem",
    [
        (["--series", "linpack"], None, "unknown series"),
        (["--series", "{csv}"], "", "is empty"),
        (["--series", "{csv}"], "year,flops\n2000,1e12\n2001,many\n2002,3e12\n", "not a number"),
        (["--series", "{csv}"], "year;flops\n2000;1e12\n", "expected columns"),
        (["--series", "{csv}"], "year,flops\n-20000,1e12\n2001,2e12\n2002,3e12\n", "year -20000 is outside"),
        (["--series", "{csv}"], "year,flops\n2000,1e12\n4e134,2e12\n2002,3e12\n", "year 4e+134 is outside"),
        (["--data-until", "1990"], None, "before the first list (1993)"),
        (["--series", "hpcg", "--data-until", "2013"], None, "no HPCG measurement"),
        (["--data-until", "2025"], None, "no lists after 2025 to backtest"),
        (
            ["--series", "{csv}", "--model", "changepoint"],
            "year,flops\n2000,1e12\n2001,2e12\n2002,4e12\n2003,8e12\n",
            "needs more than 4",
        ),
        (["--series", "{csv}", "--model", "linear"], "year,flops\n2000,1e12\n2000,2e12\n2000,4e12\n", "same year"),
        (["--chains", "1"], None, "at least 2 chains"),
        (["--samples", "10", "--chains", "4"], None, "at least 4 draws per chain"),
        (["--model", "scenario", "--series", "hpl"], None, "apply to the data models"),
    ],
)
def test_crossover_bad_input_one_line_exit_2(extra, csv_text, problem, tmp_path, capsys):
    csv = tmp_path / "bad.csv"
    if csv_text is not None:
        csv.write_text(csv_text)
    extra = [str(csv) if x == "{csv}" else x for x in extra]
    tiny = [] if "scenario" in extra else [*TINY, *([] if "--chains" in extra else ["--chains", "2"])]
    code = main(["crossover", str(PRIORS / "default.toml"), *tiny, *extra])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and problem in lines[0], captured.err


def test_crossover_scenario_without_growth_table(tmp_path, capsys):
    path = tmp_path / "nogrowth.toml"
    path.write_text((PRIORS / "default.toml").read_text().split("[growth]")[0])
    assert main(["crossover", str(path), "--model", "scenario", "-q"]) == 2
    assert "growth: missing" in capsys.readouterr().err


@pytest.mark.parametrize("horizon", ["2050", "nan", "inf", "soon"])
def test_horizon_must_be_a_year_from_2100(horizon, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["crossover", str(PRIORS / "default.toml"), "--horizon", horizon])
    assert exc.value.code == 2
    assert "--horizon" in capsys.readouterr().err


def test_growth_convergence_verdict():
    """R-hat <= 1.01 and bulk ESS >= 400 (the evidence's NUTS rule), else NOT CONVERGED."""
    from uncertainty.output.report import growth_convergence

    good = pd.DataFrame({"r_hat": [1.0, 1.004], "ess_bulk": [900.0, 1200.0]}, index=["slope", "level"])
    ok, line = growth_convergence(good)
    assert ok and line == "growth fit: max R-hat 1.004, smallest bulk ESS 900: converged"
    for r_hat, ess in ((1.02, 900.0), (1.0, 399.0)):
        bad = pd.DataFrame({"r_hat": [1.0, r_hat], "ess_bulk": [900.0, ess]}, index=["slope", "level"])
        ok, line = growth_convergence(bad)
        assert not ok and "NOT CONVERGED" in line
