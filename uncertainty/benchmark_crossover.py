"""Benchmark: the crossover command at Monte Carlo scale, against the NumPy reference's bare draw time.

    python -m uncertainty.benchmark_crossover [--priors priors/default.toml] [--large 1e8] [--repeats 3]

Every run is the whole command as a user runs it (``uncertainty crossover PRIORS ... -q``: imports,
compilation, fits, draws, the table printed), in a fresh process, with its wall time and peak RSS, on one
cache folder that starts empty:

- ``cold``: the default crossover (10^4 kept draws, the LOO comparison included) with nothing cached: it
  compiles and fits the three models;
- ``refit``: the same with ``--refit`` (compiled programs cached, the fits made again);
- ``warm``: the same with its fits cached;
- ``warm 10^6``: ``--samples 1000000`` (streamed), the median of ``--repeats`` runs;
- ``warm --large``: ``--samples`` of ``--large`` (default 10^8), once.

The last column divides by the NumPy reference's bare draw time for the same number of brain draws
(:func:`uncertainty.brain.numpy_reference.numpy_sample_brain`, its median rate over 3 runs of 10^6 in
this same run). The targets: warm 10^6 at most 5x with peak RSS under 2 GiB; the large run under 2 GiB;
the cold run at most 60 s on a quiet 2-core machine. Shared machines are noisy: read medians and ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

__all__ = ["main"]

GIB = 1024.0  # MB


def _run(args: list[str], cache: str) -> tuple[float, float]:
    """Wall time (s) and peak RSS (MB) of one ``uncertainty`` process; exits on failure."""
    env = {**os.environ, "UNCERTAINTY_CACHE_DIR": cache, "UNCERTAINTY_NO_CACHE": ""}
    cmd = [sys.executable, "-m", "uncertainty", *args, "-q"]
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage: its peak RSS
        wall = time.perf_counter() - t0
        if os.waitstatus_to_exitcode(status) != 0:
            err.seek(0)
            sys.exit(f"{' '.join(cmd)} failed:\n{err.read().decode()}")
    return wall, usage.ru_maxrss / 1024


def _numpy_rate(priors: str) -> float:
    """Draws per second of the NumPy reference (the median of 3 runs of 10^6 after a warm-up)."""
    cmd = [sys.executable, "-m", "uncertainty.benchmark", "--worker", "numpy", "--priors", priors]
    cmd += ["--samples", "1000000", "--repeats", "3"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return 1_000_000 / statistics.median(result["times_s"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m uncertainty.benchmark_crossover", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--priors", default="priors/default.toml", help="prior file (default priors/default.toml)")
    parser.add_argument(
        "--large",
        type=lambda s: int(float(s)),
        default=100_000_000,
        help="the large run's draws (default 1e8; 0: none)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="warm 10^6 runs (default 3; the median is shown)")
    args = parser.parse_args(argv)
    rate = _numpy_rate(args.priors)
    base = ["crossover", args.priors]
    rows = []
    print(f"`uncertainty crossover {args.priors}`, whole process; NumPy reference draws {rate:,.0f} brain draws/s")
    print(f"{'run':<28}{'draws':>14}{'wall s':>10}{'peak MB':>10}{'x numpy draws':>15}", flush=True)

    def row(label: str, n: int, wall: float, mb: float) -> None:
        rows.append((label, n, wall, mb))
        print(f"{label:<28}{n:>14,}{wall:>10.1f}{mb:>10.0f}{wall / (n / rate):>14.2f}x", flush=True)

    with tempfile.TemporaryDirectory() as cache:
        row("cold (nothing cached)", 10_000, *_run(base, cache))
        row("refit (programs cached)", 10_000, *_run([*base, "--refit"], cache))
        row("warm (fits cached)", 10_000, *_run(base, cache))
        runs = [_run([*base, "--samples", "1000000"], cache) for _ in range(args.repeats)]
        row("warm 10^6 (streamed)", 1_000_000, statistics.median(w for w, _ in runs), max(m for _, m in runs))
        if args.large:
            row(f"warm {args.large:.0e} (streamed)", args.large, *_run([*base, "--samples", str(args.large)], cache))
    cold, warm6 = rows[0], rows[3]
    checks = [
        (f"warm 10^6 at most 5x the NumPy draw time ({warm6[2] / (1e6 / rate):.2f}x)", warm6[2] / (1e6 / rate) <= 5),
        (f"warm 10^6 peak RSS under 2 GiB ({warm6[3] / GIB:.2f} GiB)", warm6[3] < 2 * GIB),
        (f"cold default crossover at most 60 s ({cold[2]:.1f} s)", cold[2] <= 60),
    ]
    if args.large:
        checks.insert(2, (f"{args.large:.0e} draws under 2 GiB ({rows[4][3] / GIB:.2f} GiB)", rows[4][3] < 2 * GIB))
    for text, ok in checks:
        print(f"{'meets' if ok else 'misses'}: {text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
