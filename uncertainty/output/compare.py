"""Several prior files side by side: one table of brain FLOP/s per file and their weighted pool
(:mod:`uncertainty.runs.compare` draws them), and the crossover columns of several runs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..brain.priors import PriorSpec
from ..quantities import HEADLINE_YEAR, TAIL_THRESHOLDS, central, flops_interval, p_above, p_by

__all__ = [
    "compare_table",
    "crossover_columns",
    "row_labels",
]


def row_labels(names: Sequence[str], specs: Sequence[PriorSpec]) -> dict[str, str]:
    """The compare table's label of each run of :func:`sample_files` (``names``, in the order of ``specs``): its
    name, followed by " (posterior)" for a file with ``[evidence]``, whose draws are conditioned on it."""
    return {name: f"{name} (posterior)" if spec.evidence else name for name, spec in zip(names, specs, strict=True)}


def _row(x: np.ndarray) -> dict[str, float]:
    row = {**flops_interval(x), "log10_median": float(np.median(x))}
    for t in TAIL_THRESHOLDS:
        row[f"p_gt_1e{t}"] = p_above(x, t)
    return row


def compare_table(
    runs: dict[str, np.ndarray], pooled: np.ndarray | None = None, pool_label: str = "pool"
) -> pd.DataFrame:
    """One row per run (and the pool): median, 5% and 95% quantiles of brain FLOP/s, log10 median,
    and P(brain FLOP/s > 10^k) for k in :data:`~uncertainty.quantities.TAIL_THRESHOLDS`."""
    rows = {name: _row(np.asarray(x, dtype=np.float64)) for name, x in runs.items()}
    if pooled is not None:
        rows[pool_label] = _row(np.asarray(pooled, dtype=np.float64))
    return pd.DataFrame.from_dict(rows, orient="index")


def crossover_columns(
    years: dict[str, np.ndarray],
    pooled: np.ndarray | None = None,
    pool_label: str = "pool",
    last_observation: float = -np.inf,
    target: str | None = None,
) -> pd.DataFrame:
    """P(crossed by the target's last observation), the median crossover year (``inf``: among draws that
    never cross by the horizon, ``-inf``: among those already crossed) and P(crossed by the headline year,
    :data:`~uncertainty.quantities.HEADLINE_YEAR`); the columns
    end in `` [target]`` when ``target`` is given (several targets side by side)."""
    rows = dict(years) if pooled is None else {**years, pool_label: pooled}

    def median(y):
        _, m, _ = central(y, method="inverted_cdf")
        return -np.inf if m <= last_observation else m

    table = pd.DataFrame.from_dict(
        {
            name: {
                "p_already": p_by(y, last_observation),
                "median_year": median(y),
                f"p_by_{HEADLINE_YEAR}": p_by(y, HEADLINE_YEAR),
            }
            for name, y in rows.items()
        },
        orient="index",
    )
    return table if target is None else table.rename(columns=lambda c: f"{c} [{target}]")
