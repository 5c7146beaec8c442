"""The tables of a streamed run, from its merged statistics (:mod:`uncertainty.runs.streaming`): quantiles
and the 90% HDI from the histograms, exact tail probabilities at whole decades, the sensitivity table."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..quantities import CENTRAL, TAIL_THRESHOLDS
from ..runs.streaming import BIN_WIDTH, COMPLEMENT, LOOK, Layout, StreamStats
from .tables import BRAIN_COLUMNS, INTERVALS_NOTE, Section, sensitivity_section, tail_section

__all__ = [
    "decade_exceedance",
    "exceedance",
    "histogram_quantiles",
    "sensitivity_table",
    "summary_sections",
    "summary_table",
]


def histogram_quantiles(counts: np.ndarray, under: float, lo: float, n: float, probs) -> np.ndarray:
    """Quantiles (log10) of one histogram, interpolated inside the bin (NaN outside the range)."""
    cum = under + np.concatenate([[0], np.cumsum(counts)])  # draws below each bin edge
    edges = lo + BIN_WIDTH * np.arange(len(counts) + 1)
    out = []
    for p in np.atleast_1d(probs):
        target = p * n
        if target < cum[0] or target > cum[-1] or not len(counts):
            out.append(np.nan)
            continue
        out.append(float(np.interp(target, cum, edges)))
    return np.asarray(out)


def _hdi(counts: np.ndarray, lo: float, n: int, prob: float, linear: bool) -> tuple[float, float]:
    """Shortest interval (in log10 or linear units) of whole bins holding at least ``prob`` of the draws."""
    filled = np.flatnonzero(counts)
    counts = counts[: filled[-1] + 1] if filled.size else counts[:0]  # the bins all runs share end past its data
    edges = lo + BIN_WIDTH * np.arange(len(counts) + 1)
    coord = 10.0**edges if linear else edges
    cum = np.concatenate([[0], np.cumsum(counts)])
    need = prob * n
    j = np.searchsorted(cum, cum[:-1] + need, side="left")  # for each left edge i, the first right edge j
    ok = j < len(cum)
    if not ok.any():
        return np.nan, np.nan
    i = np.flatnonzero(ok)
    width = coord[j[ok]] - coord[i]
    best = int(np.argmin(width))
    left, right = edges[i[best]], edges[j[ok][best]]
    return (10.0**left, 10.0**right) if linear else (left, right)


def summary_table(stats: StreamStats, layout: Layout, hdi_prob: float = 0.9) -> pd.DataFrame:
    """The ``sample`` table (same rows and columns as :func:`uncertainty.output.report.summary`) from merged
    statistics. Every quantile is within one bin width of the exact sample quantile (see the module). As
    there, the HDI of brain FLOP/s is 10^(the HDI of log10 brain FLOP/s) and a share's is in its own units."""
    n = stats.n
    rows = {}
    p_lo, p_hi = 0.5 - math.sqrt(0.25 / n), 0.5 + math.sqrt(0.25 / n)
    index = {label: i for i, label in enumerate(layout.labels)}
    q5, q50, q95 = CENTRAL
    probs = [q50, q5, q95, p_lo, p_hi]
    for i, label in enumerate(layout.labels):
        if label.startswith(COMPLEMENT):
            continue
        q = histogram_quantiles(stats.counts[i], int(stats.under[i]), float(layout.lo[i]), n, probs)
        sd_log = math.sqrt(stats.m2_log[i] / (n - 1)) if n > 1 else np.nan
        scale = 10.0 ** float(layout.offset[i])
        mean_lin, sd_lin = stats.mean_lin[i] * scale, math.sqrt(stats.m2_lin[i] / max(n - 1, 1)) * scale
        hdi_log = _hdi(stats.counts[i], float(layout.lo[i]), n, hdi_prob, False)
        lin_q = 10.0**q
        c = index.get(COMPLEMENT + label)
        if c is not None and lin_q[0] > 0.5:  # a share near 1: its complement's histogram is the finer one
            complement = [1.0 - p for p in probs]
            cq = histogram_quantiles(stats.counts[c], int(stats.under[c]), float(layout.lo[c]), n, complement)
            lin_q = 1.0 - 10.0**cq
            a, b = _hdi(stats.counts[c], float(layout.lo[c]), n, hdi_prob, True)
            hdi_lin = (1.0 - b, 1.0 - a)
        elif label.startswith("share"):  # in [0, 1]: its shortest interval in its own units
            hdi_lin = _hdi(stats.counts[i], float(layout.lo[i]), n, hdi_prob, True)
        else:  # brain FLOP/s: the shortest interval in decades (in FLOP/s it would hug the draws' lower end)
            hdi_lin = (10.0 ** hdi_log[0], 10.0 ** hdi_log[1])
        mcse_q = (q[4] - q[3]) / 2.0
        linear = [
            mean_lin,
            sd_lin,
            *lin_q[:3],
            *hdi_lin,
            sd_lin / math.sqrt(n),
            abs(lin_q[4] - lin_q[3]) / 2.0,
            float(n),
        ]
        if label.startswith("share"):
            rows[label] = linear
        else:
            rows[label] = [stats.mean_log[i], sd_log, *q[:3], *hdi_log, sd_log / math.sqrt(n), mcse_q, float(n)]
            rows["brain FLOP/s"] = linear
    return pd.DataFrame.from_dict(rows, orient="index", columns=BRAIN_COLUMNS)


def sensitivity_table(stats: StreamStats, layout: Layout) -> pd.DataFrame | None:
    """Mean log10 brain FLOP/s over each parameter's lowest and highest 10%, largest swing first."""
    if not layout.parameters:
        return None
    low = stats.low_sum / np.maximum(stats.low_n, 1)
    high = stats.high_sum / np.maximum(stats.high_n, 1)
    table = pd.DataFrame({"low": low, "high": high, "swing": high - low}, index=list(layout.parameters))
    return table.reindex(table["swing"].abs().sort_values(ascending=False).index)


def exceedance(stats: StreamStats, layout: Layout, thresholds=None) -> dict[int, tuple[float, float]]:
    """P(brain FLOP/s >= 10^k) and its binomial MCSE for each whole decade ``k`` of ``thresholds`` (default
    :data:`~uncertainty.quantities.TAIL_THRESHOLDS`) that the counts tell (:func:`decade_exceedance`)."""
    n = stats.n
    p_above = decade_exceedance(
        stats.counts[0],
        float(stats.over[0]),
        float(layout.lo[0]),
        n,
        float(stats.minimum[0]),
        float(stats.maximum[0]),
        thresholds,
    )
    return {k: (p, math.sqrt(p * (1.0 - p) / n)) for k, p in p_above.items()}


def decade_exceedance(
    counts: np.ndarray, over: float, lo: float, n: float, bottom: float, top: float, thresholds=None
) -> dict[int, float]:
    """P(log10 value >= k) for each whole decade ``k`` of ``thresholds`` (default
    :data:`~uncertainty.quantities.TAIL_THRESHOLDS`), counted exactly from a histogram (counts, or weights
    summing to ``n``) that starts at the whole decade ``lo``, with ``over`` draws above it and the draws
    between ``bottom`` and ``top``: whole decades are bin edges. A threshold among draws outside the
    histogram, with draws on both sides of it (where the counts cannot tell), is left out."""
    out = {}
    for k in TAIL_THRESHOLDS if thresholds is None else thresholds:
        edge = round((k - lo) / BIN_WIDTH)
        if k > top:
            above = 0.0
        elif k <= bottom:
            above = n
        elif 0 <= edge <= len(counts) and abs(lo + edge * BIN_WIDTH - k) < 1e-9:
            above = float(counts[edge:].sum()) + over
        else:  # outside the histogram, with draws beyond it on both sides of the threshold: unknown
            continue
        out[k] = above / n
    return out


def summary_sections(stats: StreamStats, layout: Layout) -> list:
    """The report of a streamed run: the brain FLOP/s table and the sensitivity table, with their bounds."""
    note = (
        f"streamed: {stats.n:,} independent draws summarised chunk by chunk; quantiles and HDI from "
        f"{BIN_WIDTH:g}-decade histograms (each quantile within one bin of the exact one); ESS = draws"
    )
    sections = [Section("brain FLOP/s", summary_table(stats, layout), note=f"{note}\n{INTERVALS_NOTE}")]
    tails = exceedance(stats, layout)
    if tails:
        how = "counted in the histograms (each threshold is a bin edge); mcse = sqrt(p (1 - p) / n)"
        sections.append(tail_section(tails, how))
    table = sensitivity_table(stats, layout)
    if table is not None:
        sections.append(sensitivity_section(table, f" (cut points from the first {min(stats.n, LOOK):,} draws)"))
    return sections
