"""Several prior files side by side: one table of brain FLOP/s per file, and their weighted pool.

Every file is sampled with the same seed and number of draws (:func:`~uncertainty.brain.engine.sample_brain`).
A pool (``--pool W1,W2,...``) is the mixture of the files' distributions with those weights
(Carlsmith's "all methods" view): each pooled draw comes from file ``i`` with probability
``w_i / sum(w)``, taking that file's draw of the same index.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..brain.evidence import brain_draws
from ..brain.priors import PriorSpec
from ..errors import InputError
from .report import flops_interval

__all__ = ["THRESHOLDS", "BY_YEAR", "compare_table", "crossover_columns", "pool_draws", "sample_files"]

THRESHOLDS = (15, 18, 21)  # log10 FLOP/s: P(brain FLOP/s > 1e15, 1e18, 1e21)
BY_YEAR = 2050


def sample_files(
    specs: Sequence[PriorSpec], num_samples: int, seed: int = 0, progress: bool = False
) -> dict[str, dict[str, np.ndarray]]:
    """Draws of each prior file, by file name (the stem; a number is appended to repeated stems); the
    posterior draws for a file with ``[evidence]``."""
    out: dict[str, dict[str, np.ndarray]] = {}
    for spec in specs:
        name = Path(spec.path).stem
        k = 2
        while name in out:
            name, k = f"{Path(spec.path).stem}-{k}", k + 1
        out[name] = brain_draws(spec, num_samples, seed, progress=progress)[0]  # [evidence]: the posterior
    return out


def pool_draws(key_seed: int, log10_flops: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    """The weighted mixture of several runs' log10 brain FLOP/s (all of one length)."""
    if len(weights) != len(log10_flops):
        raise InputError("--pool", None, f"expected {len(log10_flops)} weights (one per file), got {len(weights)}")
    w = np.asarray(weights, dtype=float)
    if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise InputError("--pool", None, "weights must be >= 0, finite and not all zero")
    x = np.stack(log10_flops)
    which = np.random.default_rng(key_seed).choice(len(w), size=x.shape[1], p=w / w.sum())
    return x[which, np.arange(x.shape[1])]


def _row(x: np.ndarray) -> dict[str, float]:
    row = {**flops_interval(x), "log10_median": float(np.median(x))}
    for t in THRESHOLDS:
        row[f"p_gt_1e{t}"] = float(np.mean(x > t))
    return row


def compare_table(
    runs: dict[str, np.ndarray], pooled: np.ndarray | None = None, pool_label: str = "pool"
) -> pd.DataFrame:
    """One row per run (and the pool): median, 5% and 95% quantiles of brain FLOP/s, log10 median,
    and P(brain FLOP/s > 1e15, 1e18, 1e21)."""
    rows = {name: _row(np.asarray(x, dtype=np.float64)) for name, x in runs.items()}
    if pooled is not None:
        rows[pool_label] = _row(np.asarray(pooled, dtype=np.float64))
    return pd.DataFrame.from_dict(rows, orient="index")


def crossover_columns(
    years: dict[str, np.ndarray], pooled: np.ndarray | None = None, pool_label: str = "pool"
) -> pd.DataFrame:
    """Median crossover year (``inf``: most draws never cross by the horizon) and P(crossed by 2050)."""
    rows = dict(years) if pooled is None else {**years, pool_label: pooled}
    return pd.DataFrame.from_dict(
        {
            name: {"median_year": float(np.median(y)), f"p_by_{BY_YEAR}": float(np.mean(y <= BY_YEAR))}
            for name, y in rows.items()
        },
        orient="index",
    )
