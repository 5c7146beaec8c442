"""Several prior files side by side: one table of brain FLOP/s per file and their weighted pool
(:mod:`uncertainty.runs.compare` draws them), and the crossover columns of several runs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..brain.priors import PriorSpec
from ..quantities import BY_YEARS, CENTRAL, HEADLINE_YEAR, TAIL_THRESHOLDS, central, flops_interval, p_above, p_by
from ..runs.streamed_crossover import YearCounts
from ..runs.streaming import BIN_WIDTH, Layout, StreamStats
from .streamed_crossover import year_quantile
from .summaries import decade_exceedance, histogram_quantiles

__all__ = [
    "compare_table",
    "crossover_columns",
    "row_labels",
    "streamed_compare_table",
    "streamed_crossover_columns",
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


# -- streamed runs: the same columns from counts ------------------------------------------------------


def _shares(weights: Sequence[float] | None, sizes: Sequence[int]) -> np.ndarray:
    """Each file's weight per draw in the pool: ``w_i / (sum(w) n_i)`` (the pool's draws sum to 1)."""
    w = np.asarray(weights, dtype=np.float64)
    return w / w.sum() / np.asarray(sizes, dtype=np.float64)


def _brain_row(
    counts: np.ndarray, under: float, over: float, lo: float, n: float, bottom: float, top: float
) -> dict[str, float]:
    """The columns of :func:`compare_table` from a histogram of log10 brain FLOP/s (counts may be weights):
    quantiles interpolated in the 0.001-decade bins, P(> 10^k) exact at the whole-decade bin edges
    (:func:`~uncertainty.output.summaries.decade_exceedance`; NaN where the counts cannot tell)."""
    q5, q50, q95 = histogram_quantiles(counts, under, lo, n, CENTRAL)
    row = {"median": 10.0**q50, "q5": 10.0**q5, "q95": 10.0**q95, "log10_median": float(q50)}
    above = decade_exceedance(counts, over, lo, n, bottom, top)
    for t in TAIL_THRESHOLDS:
        row[f"p_gt_1e{t}"] = above.get(t, np.nan)
    return row


def streamed_compare_table(
    runs: dict[str, tuple[StreamStats, Layout]], weights: Sequence[float] | None = None, pool_label: str = "pool"
) -> pd.DataFrame:
    """:func:`compare_table` of streamed runs (``{name: (stats, layout)}``, their brain FLOP/s in histograms);
    the pool is the weighted mixture of the histograms, put on one grid (every histogram starts at a whole
    decade; the few draws below or above a file's histogram sit just outside it in the pool)."""
    rows = {}
    for name, (stats, layout) in runs.items():
        bounds = float(stats.minimum[0]), float(stats.maximum[0])
        rows[name] = _brain_row(
            stats.counts[0], int(stats.under[0]), int(stats.over[0]), float(layout.lo[0]), stats.n, *bounds
        )
    if weights is not None:
        share = _shares(weights, [stats.n for stats, _ in runs.values()])
        lo = min(float(layout.lo[0]) for _, layout in runs.values())
        starts = [round((float(layout.lo[0]) - lo) / BIN_WIDTH) for _, layout in runs.values()]
        width = max(start + stats.counts.shape[1] for start, (stats, _) in zip(starts, runs.values(), strict=True))
        counts, under, over = np.zeros(width), 0.0, 0.0
        for c, start, (stats, _) in zip(share, starts, runs.values(), strict=True):
            end = start + stats.counts.shape[1]
            counts[start:end] += c * stats.counts[0]
            # a file's draws below (above) its histogram: in the pool's bin just below (above) it, on the
            # right side of a threshold at its edge; beyond the pool's range, the pool's own under (over)
            if start == 0:
                under += c * stats.under[0]
            else:
                counts[start - 1] += c * stats.under[0]
            if end == width:
                over += c * stats.over[0]
            else:
                counts[end] += c * stats.over[0]
        weighted = [stats for c, (stats, _) in zip(share, runs.values(), strict=True) if c > 0]
        bottom = min(float(stats.minimum[0]) for stats in weighted)
        top = max(float(stats.maximum[0]) for stats in weighted)
        rows[pool_label] = _brain_row(counts, under, over, lo, 1.0, bottom, top)
    return pd.DataFrame.from_dict(rows, orient="index")


def _pooled_years(years: Sequence[YearCounts], weights: Sequence[float]) -> YearCounts:
    """The weighted mixture of several files' crossover-year counts (one target: the same bins), as counts of
    one draw in all."""
    share = _shares(weights, [y.n for y in years])
    hist = sum(c * y.hist for c, y in zip(share, years, strict=True))
    totals = sum(c * y.batch_counts.sum(axis=0) for c, y in zip(share, years, strict=True))
    first = years[0]
    return first._replace(hist=hist, batch_counts=totals[None, :], batch_medians=np.array([np.nan]), blocks=1)


def streamed_crossover_columns(
    years: dict[str, YearCounts],
    weights: Sequence[float] | None = None,
    pool_label: str = "pool",
    target: str | None = None,
) -> pd.DataFrame:
    """:func:`crossover_columns` from streamed crossover-year counts (the median to its 0.01-year bin)."""
    rows = dict(years) if weights is None else {**years, pool_label: _pooled_years(list(years.values()), weights)}
    by = 3 + BY_YEARS.index(HEADLINE_YEAR)
    table = pd.DataFrame.from_dict(
        {
            name: {
                "p_already": y.already / y.n,
                "median_year": year_quantile(y, 0.5),
                f"p_by_{HEADLINE_YEAR}": float(y.batch_counts[:, by].sum() / y.n),
            }
            for name, y in rows.items()
        },
        orient="index",
    )
    return table if target is None else table.rename(columns=lambda c: f"{c} [{target}]")
