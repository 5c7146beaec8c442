"""The rule that chooses the default growth model (and its priors) on a pool of technologies (issue 21).

A candidate is a growth model with its base or pooled priors (``walkcycle``, ``walkcycle+pooled``). It is

- *calibrated on the pool* when its pooled coverage (technologies weighted equally) of the central 90%
  intervals lies in [0.85, 0.95] and of the 50% intervals in [0.40, 0.60];
- *holding on HPL now* when, on the TOP500 leader's hindcast from origins since 2013 (the current,
  slower regime), at least 80% of later values fall inside its 90% intervals and between 25% and 75% of
  them below its predictive median.

The default is the best pooled CRPS among candidates that pass both; if none does, the best CRPS among
those calibrated on the pool; if none is, the candidate closest to nominal on the pool (the smallest
``|cov90 - 0.9| + |cov50 - 0.5|``). The reason says which rule chose it.

Run the rule on saved JSON outputs::

    uncertainty backtest --pool pcdb --model M ... --priors base pooled --format json > pool.json
    uncertainty backtest --series hpl --from 2013 --model M ... --format json > hpl.json
    uncertainty backtest --series hpl --from 2013 --model M ... --priors pooled --format json > hpl-pooled.json
    python -m uncertainty.growth.selection pool.json hpl.json hpl-pooled.json
"""

from __future__ import annotations

import argparse
import json
import sys

__all__ = ["POOL_BAND", "HPL_NOW", "candidate_checks", "choose_on_pool", "main"]

POOL_BAND = {"cov_90": (0.85, 0.95), "cov_50": (0.40, 0.60)}
HPL_NOW = {"cov_90_at_least": 0.80, "below_median": (0.25, 0.75), "since": 2013}


def candidate_checks(pool_models: dict, hpl_models: dict) -> dict:
    """Each candidate's numbers and checks: ``pool_models`` the ``models`` of a pooled hindcast (rows of the
    closed forms are no candidates), ``hpl_models`` HPL hindcast scores by the same names (base rows by model
    name, pooled rows as ``MODEL+pooled``); a candidate without HPL scores does not hold on HPL."""
    out = {}
    for name, m in pool_models.items():
        if "fitted" not in m:  # Farmer & Lafond's closed forms: anchors, not candidates
            continue
        p = m["pooled"]
        calibrated = all(lo <= p[k] <= hi for k, (lo, hi) in POOL_BAND.items())
        h = hpl_models.get(name)
        hpl_cov90 = None if h is None else h["coverage"]["90"]
        below = None if h is None else h.get("below_median")
        lo, hi = HPL_NOW["below_median"]
        holds = (
            h is not None
            and hpl_cov90 is not None
            and below is not None
            and hpl_cov90 >= HPL_NOW["cov_90_at_least"]
            and lo <= below <= hi
        )
        out[name] = {
            "pool_cov_50": p["cov_50"],
            "pool_cov_90": p["cov_90"],
            "pool_crps": p["crps"],
            "calibrated_on_pool": calibrated,
            "hpl_cov_90": hpl_cov90,
            "hpl_below_median": below,
            "holds_on_hpl": holds,
        }
    return out


def choose_on_pool(pool_models: dict, hpl_models: dict) -> tuple[str, str, dict]:
    """``(candidate, reason, checks)`` by the rule of the module docstring."""
    checks = candidate_checks(pool_models, hpl_models)
    if not checks:
        raise ValueError("no growth model was fitted on the pool (--model)")
    both = [n for n, c in checks.items() if c["calibrated_on_pool"] and c["holds_on_hpl"]]
    if both:
        best = min(both, key=lambda n: checks[n]["pool_crps"])
        return best, "best pooled CRPS among the models calibrated on the pool that hold on HPL since 2013", checks
    calibrated = [n for n, c in checks.items() if c["calibrated_on_pool"]]
    if calibrated:
        best = min(calibrated, key=lambda n: checks[n]["pool_crps"])
        return best, "no calibrated model holds on HPL since 2013; the best pooled CRPS among the calibrated", checks
    best = min(checks, key=lambda n: abs(checks[n]["pool_cov_90"] - 0.9) + abs(checks[n]["pool_cov_50"] - 0.5))
    return best, "no model is calibrated on the pool; the one closest to nominal coverage", checks


def _hpl_rows(summary: dict) -> dict:
    from .pooled_hindcast import pooled_name

    pooled = summary.get("priors") == "pooled"
    return {(pooled_name(n) if pooled else n): m for n, m in summary["models"].items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m uncertainty.growth.selection", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("pool", help="JSON of `uncertainty backtest --pool ... --model ... --format json`")
    parser.add_argument(
        "hpl", nargs="+", help="JSON of `uncertainty backtest --series hpl --from 2013 ...` (base/pooled)"
    )
    args = parser.parse_args(argv)
    with open(args.pool, encoding="utf-8") as f:
        pool = json.load(f)
    hpl = {}
    for path in args.hpl:
        with open(path, encoding="utf-8") as f:
            hpl.update(_hpl_rows(json.load(f)))
    best, reason, checks = choose_on_pool(pool["models"], hpl)
    header = f"{'candidate':20s} {'pool cov50':>10s} {'pool cov90':>10s} {'pool crps':>9s} {'calibr.':>7s}"
    print(header + f" {'hpl cov90':>9s} {'hpl <med':>8s} {'holds':>5s}")
    for name, c in checks.items():
        hpl_cov = "-" if c["hpl_cov_90"] is None else f"{c['hpl_cov_90']:.3f}"
        below = "-" if c["hpl_below_median"] is None else f"{c['hpl_below_median']:.3f}"
        print(
            f"{name:20s} {c['pool_cov_50']:10.3f} {c['pool_cov_90']:10.3f} {c['pool_crps']:9.3f} "
            f"{'yes' if c['calibrated_on_pool'] else 'no':>7s} {hpl_cov:>9s} {below:>8s} "
            f"{'yes' if c['holds_on_hpl'] else 'no':>5s}"
        )
    print(f"chosen: {best} ({reason})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
