"""CLI: a smoke test of every command with tiny sample counts; bad input -> one line, exit 2."""

import argparse
import json
import os
import re
import subprocess
import sys

import pytest

from uncertainty.cli import main

from conftest import PRIORS, ROOT, one_class_text


def run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    return subprocess.run(
        [sys.executable, "-m", "uncertainty", *args], capture_output=True, text=True, cwd=ROOT, env=env
    )


def _subcommands() -> dict:
    from uncertainty.cli import build_parser

    action = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices


@pytest.mark.parametrize("command", [None, *_subcommands()])
def test_help_everywhere(command, capsys):
    """Every command's --help exits 0 and lists every option the command takes, each with its help text."""
    with pytest.raises(SystemExit) as exc:
        main([*([command] if command else []), "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: uncertainty{' ' + command if command else ''}")
    if command is None:
        assert all(name in out for name in _subcommands())
        return
    for action in _subcommands()[command]._actions:
        for flag in action.option_strings:
            assert re.search(rf"(^|[\s,\[]){re.escape(flag)}\b", out, re.M), flag
        assert action.help, f"{command} {action.option_strings or action.dest}: no help text"


@pytest.mark.slow
def test_sample_then_report_every_format(tmp_path, capsys):
    out = tmp_path / "run.nc"
    assert (
        main(["sample", str(PRIORS / "default.toml"), "--samples", "300", "--seed", "1", "--out", str(out), "-q"]) == 0
    )
    printed = capsys.readouterr().out
    assert "log10 brain FLOP/s" in printed and "share of class purkinje" in printed and "num_samples: 300" in printed
    assert "tail probabilities" in printed and "P(> 1e21)" in printed
    assert out.exists()
    for fmt in ("table", "markdown", "json", "csv"):
        assert main(["report", str(out), "--format", fmt]) == 0
        text = capsys.readouterr().out
        assert "log10 brain FLOP/s" in text
        if fmt == "json":
            assert json.loads(text)["num_samples"] == 300
    # the report of the saved run is the table that sample printed
    assert main(["report", str(out)]) == 0
    assert capsys.readouterr().out == printed


@pytest.mark.slow
def test_same_seed_same_table(capsys):
    args = ["sample", str(PRIORS / "default.toml"), "--samples", "500", "--seed", "3", "-q"]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert "log10 brain FLOP/s" in first
    assert main(args) == 0
    assert capsys.readouterr().out == first
    assert main(args[:-2] + ["4", "-q"]) == 0
    assert capsys.readouterr().out != first


@pytest.mark.parametrize(
    "preset, expected",
    [
        ("dettmers2015", ["1.075e+21", "20.82 -> 21", "2036", "2052.8", "2078", "1.07556e+21"]),
        ("dettmers2015-text", ["1.00009e+21", "2036", "2052.8", "2078"]),
    ],
)
def test_reproduce(preset, expected, capsys):
    assert main(["reproduce", preset]) == 0
    out = capsys.readouterr().out
    for text in expected:
        assert text in out
    # the footnote quotes the doublings of the table above it
    table = out.split("doublings needed, log2(brain / practical)")[1].split()[1]
    assert f"The article rounds {table} up to 21" in out


@pytest.mark.slow
def test_module_entry_point_and_console_script():
    done = run("reproduce", "dettmers2015")
    assert done.returncode == 0, done.stderr
    assert "1.075e+21" in done.stdout


BAD_PRIORS = {
    "malformed TOML": "[classes.cell\ncount = 1",
    "unknown distribution": one_class_text(rate="{ gamma = [1, 2] }"),
    "lo > hi": one_class_text(rate="{ lognormal = [200, 0.1] }"),
    "negative count": one_class_text(count="-5e9"),
    "NaN": one_class_text(synapses="nan"),
    "zero-width interval": one_class_text(rate="{ uniform = [5, 5] }"),
    "unknown key": one_class_text(synapse="1000"),
    "missing class field": one_class_text().replace("outputs = 100\n", ""),
    "ci out of range": one_class_text(rate="{ lognormal = [1, 2], ci = 1.5 }"),
    "unit mismatch": one_class_text(rate='{ lognormal = [1, 2], unit = "kHz" }'),
}


@pytest.mark.parametrize("case", sorted(BAD_PRIORS))
def test_bad_prior_file_one_line_exit_2(case, tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text(BAD_PRIORS[case])
    out = tmp_path / "run.nc"
    out.write_bytes(b"precious")
    code = main(["sample", str(path), "--samples", "10", "--out", str(out), "--force", "-q"])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}"), captured.err
    assert out.read_bytes() == b"precious"


def test_bad_prior_in_a_subprocess_has_no_traceback(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(BAD_PRIORS["lo > hi"])
    done = run("sample", str(path), "--samples", "10")
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: {path}: classes.cell.rate.lognormal: lo > hi (200 > 0.1)"
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "out, problem",
    [("missing-dir/run.nc", "does not exist"), ("/proc/run.nc", "not writable"), ("exists.nc", "exists; pass --force")],
)
def test_bad_output_path_fails_before_sampling(out, problem, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "exists.nc").write_bytes(b"precious")
    code = main(["sample", str(PRIORS / "default.toml"), "--samples", "10", "--out", out, "-q"])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""  # nothing sampled or printed
    assert len(captured.err.splitlines()) == 1 and problem in captured.err
    assert (tmp_path / "exists.nc").read_bytes() == b"precious"


@pytest.mark.parametrize("args", [["sample", "no-such.toml"], ["report", "no-such.nc"]])
def test_missing_input_files(args, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such file" in err


def test_usage_errors_exit_2(capsys):
    for argv in (
        ["sample", "x.toml", "--samples", "0"],
        ["reproduce", "nobody2020"],
        ["report", "x", "--format", "xml"],
    ):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
    capsys.readouterr()


def test_abbreviated_options_are_errors_not_guesses(capsys):
    """`--sample 20` is not taken as `--samples 20` (argparse's prefix matching is off)."""
    with pytest.raises(SystemExit) as exc:
        main(["sample", "x.toml", "--sample", "20"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unrecognized arguments: --sample 20" in err


def test_usage_errors_are_one_line(capsys):
    for argv in (
        ["sample", "x.toml", "--seed", "-1"],
        ["sample", "x.toml", "-n", "1e400"],
        ["sample", "x.toml", "-n", "1.5"],
    ):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("error: uncertainty sample: argument"), err


@pytest.mark.slow
def test_console_script_and_broken_pipe():
    from pathlib import Path

    exe = Path(sys.executable).parent / "uncertainty"  # beside the interpreter: no activated PATH needed
    assert exe.exists(), "the console script is installed with the package"
    done = subprocess.run(f"'{exe}' reproduce dettmers2015 | head -1", shell=True, capture_output=True, text=True)
    assert done.stdout.startswith("Dettmers (2015) reproduced") and done.stderr == ""


def test_too_many_samples_for_memory(capsys):
    assert main(["sample", str(PRIORS / "default.toml"), "-n", "1e12", "-q", "--keep-draws"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "GiB" in err and "--samples" in err


@pytest.mark.slow
def test_float32_report_is_finite(capsys):
    assert (
        main(
            ["sample", str(PRIORS / "default.toml"), "-n", "20000", "--precision", "float32", "--format", "json", "-q"]
        )
        == 0
    )
    rows = json.loads(capsys.readouterr().out)["tables"]["brain FLOP/s"]["rows"]
    flops = next(r for r in rows if r["quantity"] == "brain FLOP/s")
    assert all(v is not None for v in flops.values())  # no inf from 10**x in float32


@pytest.mark.parametrize("kind", ["fifo", "parent-is-file"])
def test_special_output_paths(kind, tmp_path, capsys):
    if kind == "fifo":
        out = tmp_path / "pipe.nc"
        os.mkfifo(out)
        problem = "not a regular file"
    else:
        (tmp_path / "afile").write_text("x")
        out = tmp_path / "afile" / "run.nc"
        problem = "is not a folder"
    assert main(["sample", str(PRIORS / "default.toml"), "-n", "10", "--out", str(out), "--force", "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and problem in err


@pytest.mark.slow
def test_derived_only_runs_are_smaller_and_still_report(tmp_path, capsys):
    full, small = tmp_path / "full.nc", tmp_path / "small.nc"
    args = ["sample", str(PRIORS / "default.toml"), "-n", "20000", "-q"]
    assert main([*args, "--out", str(full)]) == 0
    printed_full = capsys.readouterr().out
    assert main([*args, "--out", str(small), "--derived-only"]) == 0
    printed_small = capsys.readouterr().out
    assert "sensitivity" in printed_full and "sensitivity" not in printed_small
    rows_small = [line for line in printed_small.splitlines() if line.startswith(("log10 brain", "share of"))]
    rows_full = [line for line in printed_full.splitlines() if line.startswith(("log10 brain", "share of"))]
    assert rows_small and rows_small == rows_full  # the same brain table
    assert small.stat().st_size < 0.5 * full.stat().st_size
    assert main(["report", str(small)]) == 0
    assert capsys.readouterr().out == printed_small
