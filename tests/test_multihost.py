"""Several processes (jax.distributed on a local coordinator): each draws its own chunks, and the merged
summary that process 0 prints is the one a single process prints."""

import json
import math
import os
import socket
import subprocess
import sys

import pytest

from conftest import PRIORS, ROOT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env() -> dict:
    return {**os.environ, "JAX_PLATFORMS": "cpu", "UNCERTAINTY_NO_CACHE": "1"}


# 11 chunks of 4096 (the last one cut): process 0 draws 6 of them, process 1 draws 5
ARGV = ["sample", str(PRIORS / "default.toml"), "-n", "43000", "--chunk-size", "4096", "--seed", "5", "-q"]


EXACT = ("median", "q5", "q95", "hdi_lo", "hdi_hi", "mcse_median", "ess_bulk")  # histogram statistics


def _tables(stdout: str) -> dict:
    return json.loads(stdout)["tables"]


@pytest.mark.slow
def test_two_processes_print_the_summary_of_one(tmp_path):
    port = _free_port()
    command = [sys.executable, "-m", "uncertainty", *ARGV, "--format", "json"]
    procs = [
        subprocess.Popen(
            [*command, "--coordinator", f"127.0.0.1:{port}", "--num-processes", "2", "--process-id", str(i)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=_env(),
        )
        for i in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs[0][1][-2000:] + outs[1][1][-2000:]
    assert outs[1][0] == ""  # only process 0 prints
    header = json.loads(outs[0][0])
    assert header["processes"] == 2
    one = subprocess.run([*command, "--no-keep-draws"], capture_output=True, text=True, cwd=ROOT, env=_env())
    assert one.returncode == 0, one.stderr
    two, single = _tables(outs[0][0]), _tables(one.stdout)
    assert two.keys() == single.keys()
    for name in two:
        assert two[name].get("note") == single[name].get("note")
        for row_two, row_one in zip(two[name]["rows"], single[name]["rows"], strict=True):
            assert row_two.keys() == row_one.keys()
            for column, value in row_two.items():
                if column in EXACT or isinstance(value, str) or value is None:
                    assert value == row_one[column], (name, column)  # from the same histograms: identical
                else:  # moments merged in another order: the same up to rounding
                    assert math.isclose(value, row_one[column], rel_tol=1e-12, abs_tol=1e-300), (name, column)


@pytest.mark.parametrize(
    ("extra", "word"),
    [
        (["--num-processes", "2"], "--num-processes"),
        (["--coordinator", "127.0.0.1:1", "--num-processes", "2"], "--process-id"),
        (["--coordinator", "nowhere", "--num-processes", "2", "--process-id", "0"], "HOST:PORT"),
        (["--coordinator", "127.0.0.1:1", "--num-processes", "2", "--process-id", "2"], "--process-id"),
    ],
)
def test_bad_process_flags_are_one_line(extra, word, capsys):
    from uncertainty.cli import main

    assert main([*ARGV, *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error:") and word in err


def test_a_multi_process_run_streams(tmp_path, capsys, monkeypatch):
    """Kept draws live in one process: asking for them with several processes is refused in one line."""
    import uncertainty.multihost as multihost

    monkeypatch.setattr(multihost, "start_processes", lambda *a: True)
    from uncertainty.cli import main

    assert main([*ARGV, "--keep-draws"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "one process" in err
