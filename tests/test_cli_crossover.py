"""CLI smoke tests of `uncertainty crossover` with tiny sample and warm-up counts; its bad inputs."""

import io
import json

import pandas as pd
import pytest

from uncertainty.cli import main

from conftest import PRIORS

TINY = ["--samples", "200", "--warmup", "150", "-q"]  # and 2 chains, unless a test sets them


def test_crossover_scenario_reproduces_the_article(capsys):
    assert main(["crossover", str(PRIORS / "dettmers2015.toml"), "--model", "scenario", "-q"]) == 0
    out = capsys.readouterr().out
    for text in ("crossover year by scenario", "doubling every 1 y", "2036.0", "2052.8", "2078.0"):
        assert text in out


def test_crossover_fit_save_and_report(tmp_path, capsys):
    run = tmp_path / "cross.nc"
    assert main(["crossover", str(PRIORS / "default.toml"), *TINY, "--chains", "2", "--out", str(run)]) == 0
    out = capsys.readouterr().out
    for text in (
        "crossover year:",
        "p none by 2300",
        "growth model:",
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


def test_crossover_backtest_and_hpl(capsys):
    args = ["crossover", str(PRIORS / "default.toml"), *TINY, "--chains", "2", "--no-compare"]
    assert main([*args, "--data-until", "2015"]) == 0
    out = capsys.readouterr().out
    assert "backtest:" in out and "fitted on lists up to 2015" in out and "inside the 90% interval" in out
    assert main([*args, "--series", "hpl", "--model", "linear", "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert "## crossover year" in out and "doubling_years" in out


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
