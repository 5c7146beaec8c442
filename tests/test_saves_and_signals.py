"""No run lost, replaced or widened: atomic no-replace saves, file modes kept, a save that never depends on
stdout, and Ctrl-C/SIGTERM acted on at any moment of a real process (compiling, drawing, writing) with
the old run intact, no temporary file and never a crash."""

import os
import random
import signal
import stat
import subprocess
import sys
import time

import pytest

from uncertainty import interrupts
from uncertainty.cli import main
from uncertainty.errors import OutputError
from uncertainty.runs import io as run_io

from conftest import PRIORS, ROOT

SAMPLE = ["sample", str(PRIORS / "default.toml"), "-n", "2000", "-q"]
ENV = {**os.environ, "JAX_PLATFORMS": "cpu", "UNCERTAINTY_NO_CACHE": "1"}


@pytest.fixture(scope="module")
def warm(tmp_path_factory):
    """The environment of a warm command: a compilation cache of this module's own, filled by one run (the
    subprocess tests then start in about 2 s, not 5)."""
    env = {**ENV, "UNCERTAINTY_NO_CACHE": "", "UNCERTAINTY_CACHE_DIR": str(tmp_path_factory.mktemp("cache"))}
    done = subprocess.run(command(*SAMPLE), cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return env


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "uncertainty", *args]


def _temporaries(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.mark.slow
def test_a_file_created_meanwhile_is_not_replaced_without_force(tmp_path, capsys, monkeypatch):
    """The name is checked before the work and claimed atomically after it: a file that appeared in between
    (another process's run) stays, and this save is one line and exit 2."""
    out = tmp_path / "run.nc"
    build = run_io._netcdf_bytes

    def meanwhile(idata):
        out.write_bytes(b"the other process's run")
        return build(idata)

    monkeypatch.setattr(run_io, "_netcdf_bytes", meanwhile)
    assert main([*SAMPLE, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "another process" in err and "--force" in err
    assert out.read_bytes() == b"the other process's run" and _temporaries(tmp_path) == []


@pytest.mark.slow
def test_two_concurrent_saves_without_force_one_wins(tmp_path, warm):
    out = tmp_path / "new.nc"
    procs = [
        subprocess.Popen(command(*SAMPLE, "--out", str(out)), cwd=ROOT, env=warm, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = [(p.communicate(timeout=300)[1], p.returncode)[::-1] for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    loser = next(err for code, err in results if code == 2)
    assert loser.count("\n") == 1 and loser.startswith("error:") and "Traceback" not in loser
    assert run_io.load_run(out) is not None and _temporaries(tmp_path) == []


@pytest.mark.slow
def test_force_keeps_the_replaced_files_permissions(tmp_path, capsys):
    out = tmp_path / "run.nc"
    assert main([*SAMPLE, "--out", str(out)]) == 0
    os.chmod(out, 0o600)
    assert main([*SAMPLE, "--seed", "1", "--out", str(out), "--force"]) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    fresh = tmp_path / "fresh.nc"
    assert main([*SAMPLE, "--out", str(fresh)]) == 0
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.mark.parametrize("kind", ["full disk", "closed pipe"])
@pytest.mark.slow
def test_a_failing_stdout_never_costs_the_saved_run(tmp_path, kind, warm):
    out = tmp_path / "run.nc"
    argv = command(*SAMPLE, "--out", str(out))
    if kind == "full disk":
        if not os.path.exists("/dev/full"):
            pytest.skip("no /dev/full here")
        with open("/dev/full", "w") as full:
            done = subprocess.run(argv, cwd=ROOT, env=warm, stdout=full, stderr=subprocess.PIPE, text=True)
        code, err = done.returncode, done.stderr
        assert code == 2 and "No space left" in err
    else:
        read, write = os.pipe()
        os.close(read)  # the reader is gone before the table comes (`| true`)
        proc = subprocess.Popen(argv, cwd=ROOT, env=warm, stdout=write, stderr=subprocess.PIPE, text=True)
        os.close(write)
        err = proc.communicate(timeout=300)[1]
        code = proc.returncode
        assert code == 1
    assert f"saved {out}" in err and "Traceback" not in err
    assert run_io.load_run(out).prior.sizes["draw"] == 2000


def test_a_closed_stdout_is_one_line(tmp_path):
    shell = " ".join(f"'{a}'" for a in command(*SAMPLE)) + " >&-"
    done = subprocess.run(["bash", "-c", shell], cwd=ROOT, env=ENV, stderr=subprocess.PIPE, text=True)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "standard output is closed" in done.stderr


@pytest.mark.parametrize(
    ("name", "locale"), [(b"ok\xffname", {}), ("caf\u00e9".encode(), {"LC_ALL": "C", "PYTHONCOERCECLOCALE": "0"})]
)
@pytest.mark.slow
def test_file_names_the_terminal_cannot_show_are_escaped_not_fatal(tmp_path, name, locale, warm):
    """A file name that is not UTF-8, or not ASCII under an ASCII locale: the run is saved and its lines
    are escaped, not a UnicodeEncodeError after all the work."""
    prior = os.fsencode(tmp_path) + b"/" + name + b".toml"
    with open(prior, "wb") as f:
        f.write((PRIORS / "default.toml").read_bytes())
    out = os.fsencode(tmp_path) + b"/" + name + b".nc"
    env = {**warm, **locale}
    env.pop("PYTHONUTF8", None)
    if locale:
        env.pop("LANG", None)
    argv = [os.fsencode(sys.executable), b"-m", b"uncertainty", b"sample", prior, b"-n", b"2000", b"-q", b"--out", out]
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True)
    assert done.returncode == 0, done.stderr
    assert b"Traceback" not in done.stderr and b"saved " in done.stderr
    assert os.path.exists(out)


# -- signals -------------------------------------------------------------------------------------


def _signalled_run(tmp_path, delay: float, signum: int, env: dict) -> tuple[int, str]:
    out = tmp_path / "run.nc"
    proc = subprocess.Popen(
        command(*SAMPLE, "--out", str(out), "--force", "--seed", "7"),
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(delay)
    proc.send_signal(signum)
    try:
        err = proc.communicate(timeout=60)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, err


EARLIEST = 0.3  # s: before this the interpreter may still be starting, before any line of the tool has run


@pytest.mark.slow
def test_random_signals_leave_the_old_run_or_the_new_one_never_a_crash(tmp_path, warm):
    """20 SIGINTs or SIGTERMs, each at a random moment of `sample --out --force` (interpreter start, JAX
    loading or compiling, drawing, writing, exiting; every fourth run cold, compiling): 130 or 143 with the
    old run intact, or 0 with the new run in place; no temporary file; never a segfault, a traceback or a
    signal swallowed."""
    start = time.monotonic()
    done = subprocess.run(command(*SAMPLE, "--out", str(tmp_path / "timed.nc")), cwd=ROOT, env=warm)
    assert done.returncode == 0
    span = 1.2 * (time.monotonic() - start)  # delays cover the whole of a warm run, and a little after
    (tmp_path / "timed.nc").unlink()
    rng = random.Random(19)
    old = b"the old run"
    seen = set()
    for trial in range(20):
        (tmp_path / "run.nc").write_bytes(old)
        signum = rng.choice([signal.SIGINT, signal.SIGTERM])
        delay = rng.uniform(EARLIEST, span)
        code, err = _signalled_run(tmp_path, delay, signum, ENV if trial % 4 == 3 else warm)
        assert code in (0, interrupts.exit_status(signum)), (code, err)
        assert "Traceback" not in err and "Exception ignored" not in err, err
        assert _temporaries(tmp_path) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["run.nc"]
        if code == 0:
            assert run_io.load_run(tmp_path / "run.nc").prior.sizes["draw"] == 2000
        else:
            assert (tmp_path / "run.nc").read_bytes() == old
        seen.add(code)
    assert seen - {0}, "no signal landed before the save: the delays are too long for this machine"


def test_sigterm_while_compiling_is_acted_on_at_once(tmp_path):
    """One second in, a cold run is importing JAX or compiling (seconds of C++ in which Python runs no
    handler): it ends within a few seconds, 143, the old run intact."""
    (tmp_path / "run.nc").write_bytes(b"old")
    start = time.monotonic()
    code, err = _signalled_run(tmp_path, 1.0, signal.SIGTERM, ENV)
    assert code == 143 and time.monotonic() - start < 10, err
    assert (tmp_path / "run.nc").read_bytes() == b"old" and _temporaries(tmp_path) == []


def test_deferred_without_install_raises_at_the_end_of_the_block():
    """In-process (no watcher thread), a signal inside the block is held and raised when it ends."""
    with pytest.raises(KeyboardInterrupt), interrupts.deferred() as received:
        os.kill(os.getpid(), signal.SIGINT)
        assert received == [signal.SIGINT]


def test_publish_refuses_an_existing_name(tmp_path):
    tmp = tmp_path / "t"
    tmp.write_bytes(b"new")
    (tmp_path / "x.nc").write_bytes(b"old")
    with pytest.raises(OutputError, match="another process"):
        run_io.publish(tmp, tmp_path / "x.nc", force=False)
    assert (tmp_path / "x.nc").read_bytes() == b"old"


# -- compare --save ------------------------------------------------------------------------------


@pytest.mark.slow
def test_compare_save_keeps_an_evidence_files_posterior_as_a_posterior(tmp_path, capsys):
    """The saved run of a file with [evidence] is what `sample` would save: prior draws in `prior`, the
    posterior in `posterior`, the evidence tables in its report (not the posterior filed as the prior)."""
    folder = tmp_path / "cmp"
    files = [str(PRIORS / "default-evidence.toml"), str(PRIORS / "default.toml")]
    assert main(["compare", *files, "-n", "2000", "-q", "--save", str(folder)]) == 0
    capsys.readouterr()
    run = run_io.load_run(folder / "default-evidence.nc")
    assert {"prior", "posterior", "observed_data"} <= set(run.groups())
    assert main(["report", str(folder / "default-evidence.nc")]) == 0
    out = capsys.readouterr().out
    assert "posterior" in out.split("\n\n")[1] and "evidence:" in out


def test_compare_save_names_files_that_share_a_stem_apart_and_checks_them_first(tmp_path, capsys):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "default.toml").write_bytes((PRIORS / "default.toml").read_bytes())
    folder = tmp_path / "cmp"
    folder.mkdir()
    (folder / "default-2.nc").write_bytes(b"precious")
    files = [str(PRIORS / "default.toml"), str(tmp_path / "a" / "default.toml")]
    assert main(["compare", *files, "-n", "2000", "-q", "--save", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "default-2.nc: exists" in err
    assert sorted(p.name for p in folder.iterdir()) == ["default-2.nc"]  # nothing written before the refusal
    assert main(["compare", *files, "-n", "2000", "-q", "--save", str(folder), "--force"]) == 0
    assert sorted(p.name for p in folder.iterdir()) == ["default-2.nc", "default.nc"]
    assert run_io.load_run(folder / "default-2.nc").prior.sizes["draw"] == 2000


def test_compare_save_makes_no_folder_before_the_work_and_names_a_file_in_the_way(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("year,flops\n2000,not a number\n")
    folder = tmp_path / "new" / "cmp"
    argv = ["compare", str(PRIORS / "default.toml"), "-n", "2000", "-q", "--crossover", "--series", str(bad)]
    assert main([*argv, "--save", str(folder)]) == 2
    assert capsys.readouterr().err.count("\n") == 1 and not (tmp_path / "new").exists()
    in_the_way = tmp_path / "file"
    in_the_way.write_text("x")
    assert main(["compare", str(PRIORS / "default.toml"), "-n", "2000", "-q", "--save", str(in_the_way)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a folder" in err and "File exists" not in err


@pytest.mark.parametrize("platforms", ["cuda", "nonesuch"])
def test_a_backend_this_machine_lacks_is_one_line(platforms):
    """`JAX_PLATFORMS=cuda` without a GPU (a bare AssertionError inside JAX) or a misspelt backend: one line
    naming the variable, exit 2, before any work."""
    env = {**ENV, "JAX_PLATFORMS": platforms}
    done = subprocess.run(command(*SAMPLE), cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"error: JAX_PLATFORMS={platforms}: JAX cannot start")


@pytest.mark.parametrize(
    ("flags", "reason"),
    [
        ("--bogus_flag", "Unknown flag in XLA_FLAGS: --bogus_flag"),
        ("--xla_force_host_platform_device_count=abc", "Couldn't interpret value abc"),
        ("  ", 'Could not open file "  "'),
    ],
)
def test_xla_flags_that_xla_refuses_are_one_line(flags, reason):
    """XLA ends the process itself on a flag it does not know (its own fatal log line and a usage dump):
    checked in a child first, so the user sees one line naming the variable and XLA's reason, exit 2."""
    env = {**ENV, "XLA_FLAGS": flags}
    done = subprocess.run(command(*SAMPLE), cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"error: XLA_FLAGS={flags}: XLA refuses it (") and reason in done.stderr


def test_xla_flags_that_pass_are_checked_once(tmp_path, monkeypatch):
    """A value XLA accepts is remembered in the cache folder (one marker per value): the second check of the
    same value starts no probe; a new value is probed again."""
    import argparse
    import subprocess as sp

    from uncertainty import cli

    probes = []
    real_run = sp.run
    monkeypatch.setattr(sp, "run", lambda *a, **k: probes.append(a) or real_run(*a, **k))
    monkeypatch.delenv("UNCERTAINTY_NO_CACHE")
    monkeypatch.setenv("UNCERTAINTY_CACHE_DIR", str(tmp_path))
    args = argparse.Namespace()
    for flags, expected in [
        ("--xla_force_host_platform_device_count=2", 1),
        ("--xla_force_host_platform_device_count=2", 1),
        ("--xla_force_host_platform_device_count=3", 2),
    ]:
        monkeypatch.setenv("XLA_FLAGS", flags)
        cli._check_xla_flags(args)
        assert len(probes) == expected
    assert len(list(tmp_path.glob("xla-flags-*.ok"))) == 2
