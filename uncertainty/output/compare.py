"""Several prior files side by side: one table of brain FLOP/s per file, and their weighted pool.

Every file is sampled with the same seed and number of draws (:func:`~uncertainty.brain.engine.sample_brain`).
A pool (``--pool W1,W2,...``) is the mixture of the files' distributions with those weights
(Carlsmith's "all methods" view): each pooled draw comes from file ``i`` with probability
``w_i / sum(w)``, taking that file's draw of the same index.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from ..brain.engine import sample_brain
from ..brain.evidence import Conditioned, condition, posterior_sample
from ..brain.priors import PriorSpec
from ..errors import InputError
from .report import flops_interval

__all__ = [
    "THRESHOLDS",
    "BY_YEAR",
    "FileRun",
    "compare_table",
    "crossover_columns",
    "pool_draws",
    "row_labels",
    "run_names",
    "sample_files",
]

THRESHOLDS = (15, 18, 21)  # log10 FLOP/s: P(brain FLOP/s > 1e15, 1e18, 1e21)
BY_YEAR = 2050


class FileRun(NamedTuple):
    """One prior file's draws in a comparison: ``draws``, what the table compares (the prior's, or for a file
    with ``[evidence]`` the posterior's, as many); ``prior`` and ``conditioned``, what a saved run holds."""

    draws: dict[str, np.ndarray]
    prior: dict[str, np.ndarray]
    conditioned: Conditioned | None


def run_names(specs: Sequence[PriorSpec]) -> list[str]:
    """Each file's name in the table and as ``--save DIR/NAME.nc``: its stem, with ``-2``, ``-3``, ... for a
    stem met before."""
    names: list[str] = []
    for spec in specs:
        stem = Path(spec.path).stem
        name, k = stem, 2
        while name in names:
            name, k = f"{stem}-{k}", k + 1
        names.append(name)
    return names


def sample_files(
    specs: Sequence[PriorSpec], num_samples: int, seed: int = 0, progress: bool = False
) -> dict[str, FileRun]:
    """The draws of each prior file by :func:`run_names`; for a file with ``[evidence]`` the table's draws are
    the posterior's."""
    out: dict[str, FileRun] = {}
    for name, spec in zip(run_names(specs), specs, strict=True):
        prior = sample_brain(spec, num_samples, seed, progress=progress)
        if not spec.evidence:
            out[name] = FileRun(prior, prior, None)
            continue
        conditioned = condition(spec, prior, seed)
        out[name] = FileRun(posterior_sample(conditioned, num_samples, seed), prior, conditioned)
    return out


def row_labels(names: Sequence[str], specs: Sequence[PriorSpec]) -> dict[str, str]:
    """The compare table's label of each run of :func:`sample_files` (``names``, in the order of ``specs``): its
    name, followed by " (posterior)" for a file with ``[evidence]``, whose draws are conditioned on it."""
    return {name: f"{name} (posterior)" if spec.evidence else name for name, spec in zip(names, specs, strict=True)}


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
    years: dict[str, np.ndarray],
    pooled: np.ndarray | None = None,
    pool_label: str = "pool",
    last_observation: float = -np.inf,
    target: str | None = None,
) -> pd.DataFrame:
    """P(crossed by the target's last observation), the median crossover year (``inf``: among draws that
    never cross by the horizon, ``-inf``: among those already crossed) and P(crossed by 2050); the columns
    end in `` [target]`` when ``target`` is given (several targets side by side)."""
    rows = dict(years) if pooled is None else {**years, pool_label: pooled}

    def median(y):
        m = float(np.quantile(y, 0.5, method="inverted_cdf"))
        return -np.inf if m <= last_observation else m

    table = pd.DataFrame.from_dict(
        {
            name: {
                "p_already": float(np.mean(y <= last_observation)),
                "median_year": median(y),
                f"p_by_{BY_YEAR}": float(np.mean(y <= BY_YEAR)),
            }
            for name, y in rows.items()
        },
        orient="index",
    )
    return table if target is None else table.rename(columns=lambda c: f"{c} [{target}]")
