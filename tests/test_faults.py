"""Saves that survive faults: a full disk or a signal while a run is written leaves the old run (or the
new one) complete, no temporary file, one line on stderr and a non-zero exit; never a traceback."""

import errno
import os
import signal
import subprocess
import sys
import time

import pytest

from uncertainty.cli import main

from conftest import PRIORS, ROOT

SAMPLE = ["sample", str(PRIORS / "default.toml"), "-n", "2000", "-q", "--force"]


def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_a_full_disk_while_saving_is_one_line_and_keeps_the_old_run(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run.nc"
    out.write_bytes(b"precious")
    monkeypatch.setattr("uncertainty.runs.io.os.fsync", _no_space)
    assert main([*SAMPLE, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error:") and "No space left on device" in err
    assert out.read_bytes() == b"precious" and _leftovers(tmp_path) == []


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_while_saving_keeps_the_old_run_and_leaves_no_temporary_file(
    signum, status, tmp_path, capsys, monkeypatch
):
    """The signal arrives in the middle of the write (h5py used to swallow Ctrl-C there and finish the
    save): the write is abandoned, the old run stays, the temporary file goes, the exit says why."""
    out = tmp_path / "run.nc"
    out.write_bytes(b"precious")
    fsync = os.fsync

    def interrupted(fd):
        os.kill(os.getpid(), signum)
        fsync(fd)

    monkeypatch.setattr("uncertainty.runs.io.os.fsync", interrupted)
    try:
        code = main([*SAMPLE, "--out", str(out)])
    except SystemExit as exc:  # SIGTERM ends the command as SystemExit(143)
        code = exc.code
    assert code == status
    assert out.read_bytes() == b"precious" and _leftovers(tmp_path) == []
    if signum == signal.SIGINT:
        assert capsys.readouterr().err.strip() == "interrupted"


@pytest.mark.slow
def test_sigterm_while_drawing_removes_the_partial_run(tmp_path):
    """A real SIGTERM to a process writing a kept run chunk by chunk: exit 143, no file and no temporary
    file left (Python's default SIGTERM would have killed it where it stood)."""
    out = tmp_path / "big.nc"
    code = (
        "import sys, uncertainty.cli as cli\n"
        "cli.KEEP_DRAWS_LIMIT = 1000\n"
        f"sys.exit(cli.main({[*SAMPLE[:2], '-n', '3000000', '--chunk-size', '4096', '-q', '--keep-draws']!r}"
        f" + ['--out', {str(out)!r}]))\n"
    )
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "UNCERTAINTY_NO_CACHE": "1"}
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(600):  # wait until the temporary run file exists and has grown past its first chunk
            temps = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
            if temps and temps[0].stat().st_size > 2_000_000:
                break
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        assert proc.poll() is None, proc.stderr.read()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, err
    assert list(tmp_path.iterdir()) == [] and "Traceback" not in err


@pytest.mark.slow
def test_stdout_on_a_full_disk_is_one_line(tmp_path):
    with open(os.devnull if not os.path.exists("/dev/full") else "/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "uncertainty", "reproduce", "dettmers2015"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env={**os.environ, "JAX_PLATFORMS": "cpu"},
        )
    if os.path.exists("/dev/full"):
        assert done.returncode == 2 and done.stderr.count("\n") == 1 and "No space left" in done.stderr
    else:  # no /dev/full on this platform: the command simply succeeds
        assert done.returncode == 0


def test_figures_on_a_full_disk_leave_no_empty_folder(tmp_path, capsys, monkeypatch):
    run = tmp_path / "run.nc"
    assert main([*SAMPLE, "--out", str(run)]) == 0
    capsys.readouterr()
    monkeypatch.setattr("matplotlib.figure.Figure.savefig", _no_space)
    assert main(["plot", str(run), "--out", str(tmp_path / "figures")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No space left on device" in err
    assert not (tmp_path / "figures").exists()
