"""Benchmark of the pooled hindcast: each model on a pool, side by side, with wall time and peak memory.

    python -m uncertainty.benchmark_pool [--pool pcdb] [--model randomwalk walkcycle ...] [--pooled] [--quick]

Each model runs as the user runs it, ``uncertainty backtest --pool POOL --model M -q --format json``, in a
fresh process (so its peak resident memory is its own), after the closed forms alone (``--model`` not
given: Farmer & Lafond's random walks, no fit); ``--pooled`` runs each model with pooled priors
(``--priors pooled``: stage 1, stage 2 and the leave-one-out fits in its time), in a row ``M+pooled``.
For each it prints the wall time, the NUTS fits and pairs scored, fits per second, peak RSS and the
pooled 90% coverage and CRPS. The full pcdb pool takes minutes per model on a CPU (the suite runs a small
pool; this is where the whole one is timed). Shared machines are noisy: read it as an order of magnitude.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

__all__ = ["main"]


def _run(
    pool: list[str], model: str | None, quick: bool, pooled: bool = False
) -> tuple[float, float, dict | None, str]:
    """Wall seconds, peak RSS (MB) of the child, its JSON summary (None if it failed) and its stderr."""
    cmd = [sys.executable, "-m", "uncertainty", "backtest", "--pool", *pool, "-q", "--format", "json"]
    if model is not None:
        cmd += ["--model", model]
        if pooled:
            cmd += ["--priors", "pooled"]
    if quick:
        cmd.append("--quick")
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own usage (RUSAGE_CHILDREN keeps the largest)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    peak = usage.ru_maxrss / 1024  # Linux: KiB
    summary = json.loads(stdout) if proc.returncode == 0 else None
    return wall, peak, summary, stderr.strip()


def main(argv: list[str] | None = None) -> int:
    from .choices import GROWTH_MODELS

    parser = argparse.ArgumentParser(prog="python -m uncertainty.benchmark_pool", description=__doc__.splitlines()[0])
    parser.add_argument("--pool", nargs="+", default=["pcdb"], help="pools or CSV files (default pcdb)")
    parser.add_argument(
        "--model", nargs="+", default=["all"], choices=(*GROWTH_MODELS, "all"), help="growth models (default all)"
    )
    parser.add_argument("--pooled", action="store_true", help="the models with pooled priors (rows M+pooled)")
    parser.add_argument("--quick", action="store_true", help="short chains (a smoke test of the benchmark)")
    args = parser.parse_args(argv)
    args.model = list(GROWTH_MODELS) if "all" in args.model else list(dict.fromkeys(args.model))
    print(f"pooled hindcast of {' + '.join(args.pool)}{' (--quick)' if args.quick else ''}, one process per row")
    if args.pooled:
        from .growth.models import POOLED_SITES

        args.model = [m for m in args.model if m in POOLED_SITES]
    head = f"{'model':<20}{'wall s':>9}{'fits':>7}{'pairs':>8}{'fits/s':>9}{'peak MB':>9}{'cov 90':>8}{'crps':>8}"
    print(head)
    failed = 0
    for model in [None, *args.model]:
        wall, peak, summary, err = _run(args.pool, model, args.quick, args.pooled)
        if summary is None:
            failed += 1
            print(f"{model or 'closed forms':<20}{wall:>9.1f}  failed: {err.splitlines()[-1] if err else '?'}")
            continue
        names = ["fl-randomwalk", "fl-ima"] if model is None else [f"{model}+pooled" if args.pooled else model]
        for name in names:
            m = summary["models"][name]
            fits = m.get("fitted", 0)
            rate = f"{fits / wall:>9.2f}" if fits else f"{'-':>9}"
            print(
                f"{name:<20}{wall:>9.1f}{fits:>7}{m['pairs']:>8}{rate}{peak:>9.0f}"
                f"{m['pooled']['cov_90']:>8.3f}{m['pooled']['crps']:>8.3f}"
            )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
