"""Summaries that stream: the ``sample`` table from per-chunk statistics, in O(chunk) memory.

Every chunk of draws is reduced on the device to a few fixed-size arrays, which the host merges:

- moments of each reported quantity, in log10 and in linear units (count, mean, M2; Chan et al.'s
  pairwise merge), and its exact minimum and maximum;
- a histogram of its log10 values, bin width :data:`BIN_WIDTH` (0.001 decade) over a range found
  from the first chunk, widened by :data:`MARGIN` decades each side, with exact counts below and
  above the range;
- for the sensitivity table, per stochastic parameter, the sum and count of log10 brain FLOP/s
  over the draws where the parameter lies in its lowest or highest 10%. The cut points are the
  first chunk's 10% and 90% quantiles of the parameter (the tails hold 10% of the draws up to the
  first chunk's sampling error, about 0.001 for 131,072 draws).

Quantiles and the 90% HDI come from the histogram: a quantile is interpolated linearly inside its
bin, so it lies within one bin width (0.001 decade: 0.23% in linear units) of the exact sample
quantile, unless it falls outside the range (it is then NaN, and the under/overflow counts say
so). For independent draws the ESS is the draw count, the MCSE of the mean is sd/sqrt(n), and the
MCSE of a quantile comes from the binomial order-statistic interval: half the distance between
the quantiles at ``p -+ sqrt(p (1 - p) / n)``.
"""

from __future__ import annotations

import math
import warnings
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

__all__ = [
    "BIN_WIDTH",
    "MARGIN",
    "Layout",
    "StreamStats",
    "chunk_stats",
    "layout_of",
    "merge",
    "sensitivity_table",
    "summarize_brain",
    "summary_table",
]

BIN_WIDTH = 0.001  # decades per histogram bin
MARGIN = 2.0  # decades added below and above the first chunk's range
TAIL = 0.1  # the sensitivity table's tails
COMPLEMENT = "1 - "  # label prefix of the log10(1 - share) histograms


class Layout(NamedTuple):
    """What a run's summaries hold: the quantities' labels (log10 values, column order of the arrays),
    the histogram range, the linear scale offsets, the sensitivity parameters and their cut points."""

    labels: tuple[str, ...]  # "log10 brain FLOP/s", "share of class X", "share of stage Y"
    lo: np.ndarray  # (k,) log10 lower edge of each histogram
    bins: int
    offset: np.ndarray  # (k,) log10 units subtracted before 10**x (keeps linear moments in range)
    parameters: tuple[str, ...]
    cut_lo: np.ndarray  # (p,)
    cut_hi: np.ndarray  # (p,)


class StreamStats(NamedTuple):
    """Merged statistics of ``n`` draws (host arrays; one row per quantity of the layout)."""

    n: int
    mean_log: np.ndarray
    m2_log: np.ndarray
    mean_lin: np.ndarray  # of 10**(x - offset)
    m2_lin: np.ndarray
    minimum: np.ndarray
    maximum: np.ndarray
    counts: np.ndarray  # (k, bins) int64
    under: np.ndarray  # (k,) int64
    over: np.ndarray
    low_sum: np.ndarray  # (p,) sums of log10 brain FLOP/s over each parameter's lowest 10%
    low_n: np.ndarray
    high_sum: np.ndarray
    high_n: np.ndarray


def _log10_quantities(draws: dict, class_names, stage_names) -> tuple[tuple[str, ...], jnp.ndarray]:
    """The reported quantities of a chunk as log10 values, shape (n, k), and their labels."""
    total = jnp.asarray(draws["log10_brain_flops"])
    columns, labels = [total], ["log10 brain FLOP/s"]
    for site, word, names in (("log10_class_flops", "class", class_names), ("log10_stage_flops", "stage", stage_names)):
        if site in draws:
            share = jnp.asarray(draws[site]) - total[:, None]
            columns += [share[:, i] for i in range(share.shape[1])]
            labels += [f"share of {word} {name}" for name in names]
            # log10(1 - share): resolves a share near 1 as finely as the log10 share resolves one near 0
            # (floored at 1e-20, below float64's resolution of a share: a share of exactly 1 stays finite)
            rest = jnp.log10(jnp.maximum(-jnp.expm1(jnp.minimum(share, 0.0) * math.log(10.0)), 1e-20))
            columns += [rest[:, i] for i in range(share.shape[1])]
            labels += [f"{COMPLEMENT}share of {word} {name}" for name in names]
    return tuple(labels), jnp.stack(columns, axis=-1)


def layout_of(first: dict, class_names, stage_names, parameters: tuple[str, ...]) -> Layout:
    """The layout of a run, from its first chunk of draws (a dict of host or device arrays)."""
    labels, x = _log10_quantities(first, class_names, stage_names)
    x = np.asarray(x, dtype=np.float64)
    finite = np.where(np.isfinite(x), x, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a column with no finite value (a share of exactly 1)
        lo = np.nan_to_num(np.floor(np.nanmin(finite, axis=0)), nan=-1.0) - MARGIN
        hi = np.nan_to_num(np.ceil(np.nanmax(finite, axis=0)), nan=0.0) + MARGIN
        offset = np.nan_to_num(np.round(np.nanmedian(finite, axis=0)))
    bins = int(np.ceil(np.max(hi - lo) / BIN_WIDTH))
    cuts = np.array([np.quantile(np.asarray(first[p], dtype=np.float64), [TAIL, 1 - TAIL]) for p in parameters])
    cuts = cuts.reshape(len(parameters), 2)
    return Layout(labels, lo, bins, offset, tuple(parameters), cuts[:, 0], cuts[:, 1])


def _moments(x: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
    mean = jnp.mean(x, axis=0)
    return mean, jnp.sum((x - mean) ** 2, axis=0)


@partial(jax.jit, static_argnames=("bins",))
def _reduce(x, lo, offset, params, y, cut_lo, cut_hi, *, bins: int):
    idx = jnp.floor((x - lo) / BIN_WIDTH).astype(jnp.int32)  # (n, k)
    k = x.shape[1]
    under = jnp.sum(idx < 0, axis=0)
    over = jnp.sum(idx >= bins, axis=0)
    inside = (idx >= 0) & (idx < bins)
    flat = jnp.where(inside, idx + bins * jnp.arange(k)[None, :], k * bins)  # outside -> a dropped slot
    counts = jnp.bincount(flat.ravel(), length=k * bins + 1)[:-1].reshape(k, bins)
    mean_log, m2_log = _moments(x)
    mean_lin, m2_lin = _moments(10.0 ** (x - offset))
    low = params <= cut_lo  # (n, p)
    high = params >= cut_hi
    return (
        mean_log,
        m2_log,
        mean_lin,
        m2_lin,
        jnp.min(x, axis=0),
        jnp.max(x, axis=0),
        counts,
        under,
        over,
        jnp.sum(jnp.where(low, y[:, None], 0.0), axis=0),
        jnp.sum(low, axis=0),
        jnp.sum(jnp.where(high, y[:, None], 0.0), axis=0),
        jnp.sum(high, axis=0),
    )


def chunk_stats(draws: dict, layout: Layout, class_names, stage_names) -> StreamStats:
    """Reduce one chunk of draws (device arrays) to its statistics (fetched to the host)."""
    _, x = _log10_quantities(draws, class_names, stage_names)
    dtype = x.dtype
    n = x.shape[0]
    if layout.parameters:
        params = jnp.stack([jnp.asarray(draws[p], dtype=dtype) for p in layout.parameters], axis=-1)
    else:
        params = jnp.zeros((n, 0), dtype=dtype)
    out = _reduce(
        x,
        jnp.asarray(layout.lo, dtype=dtype),
        jnp.asarray(layout.offset, dtype=dtype),
        params,
        x[:, 0],
        jnp.asarray(layout.cut_lo, dtype=dtype),
        jnp.asarray(layout.cut_hi, dtype=dtype),
        bins=layout.bins,
    )
    host = [np.asarray(a) for a in out]
    f64 = [a.astype(np.float64) for a in host[:6]]
    ints = [a.astype(np.int64) for a in host[6:9]]
    sens = [
        host[9].astype(np.float64),
        host[10].astype(np.int64),
        host[11].astype(np.float64),
        host[12].astype(np.int64),
    ]
    return StreamStats(n, *f64, *ints, *sens)


def merge(a: StreamStats | None, b: StreamStats) -> StreamStats:
    """The statistics of two disjoint sets of draws together (Chan et al. 1979 for the moments)."""
    if a is None:
        return b
    n = a.n + b.n
    wb = b.n / n

    def pair(mean_a, m2_a, mean_b, m2_b):
        delta = mean_b - mean_a
        return mean_a + delta * wb, m2_a + m2_b + delta**2 * a.n * wb

    mean_log, m2_log = pair(a.mean_log, a.m2_log, b.mean_log, b.m2_log)
    mean_lin, m2_lin = pair(a.mean_lin, a.m2_lin, b.mean_lin, b.m2_lin)
    return StreamStats(
        n,
        mean_log,
        m2_log,
        mean_lin,
        m2_lin,
        np.minimum(a.minimum, b.minimum),
        np.maximum(a.maximum, b.maximum),
        a.counts + b.counts,
        a.under + b.under,
        a.over + b.over,
        a.low_sum + b.low_sum,
        a.low_n + b.low_n,
        a.high_sum + b.high_sum,
        a.high_n + b.high_n,
    )


# -- statistics from the merged arrays ------------------------------------------------------


def _quantile(counts: np.ndarray, under: int, lo: float, n: int, probs) -> np.ndarray:
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
    statistics. Every quantile is within one bin width of the exact sample quantile (see the module)."""
    n = stats.n
    rows = {}
    p_lo, p_hi = 0.5 - math.sqrt(0.25 / n), 0.5 + math.sqrt(0.25 / n)
    index = {label: i for i, label in enumerate(layout.labels)}
    probs = [0.5, 0.05, 0.95, p_lo, p_hi]
    for i, label in enumerate(layout.labels):
        if label.startswith(COMPLEMENT):
            continue
        q = _quantile(stats.counts[i], int(stats.under[i]), float(layout.lo[i]), n, probs)
        sd_log = math.sqrt(stats.m2_log[i] / (n - 1)) if n > 1 else np.nan
        scale = 10.0 ** float(layout.offset[i])
        mean_lin, sd_lin = stats.mean_lin[i] * scale, math.sqrt(stats.m2_lin[i] / max(n - 1, 1)) * scale
        hdi_log = _hdi(stats.counts[i], float(layout.lo[i]), n, hdi_prob, False)
        lin_q = 10.0**q
        c = index.get(COMPLEMENT + label)
        if c is not None and lin_q[0] > 0.5:  # a share near 1: its complement's histogram is the finer one
            cq = _quantile(stats.counts[c], int(stats.under[c]), float(layout.lo[c]), n, [1.0 - p for p in probs])
            lin_q = 1.0 - 10.0**cq
            a, b = _hdi(stats.counts[c], float(layout.lo[c]), n, hdi_prob, True)
            hdi_lin = (1.0 - b, 1.0 - a)
        else:
            hdi_lin = _hdi(stats.counts[i], float(layout.lo[i]), n, hdi_prob, True)
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
    from .report import _BRAIN_COLUMNS

    return pd.DataFrame.from_dict(rows, orient="index", columns=_BRAIN_COLUMNS)


def sensitivity_table(stats: StreamStats, layout: Layout) -> pd.DataFrame | None:
    """Mean log10 brain FLOP/s over each parameter's lowest and highest 10%, largest swing first."""
    if not layout.parameters:
        return None
    low = stats.low_sum / np.maximum(stats.low_n, 1)
    high = stats.high_sum / np.maximum(stats.high_n, 1)
    table = pd.DataFrame({"low": low, "high": high, "swing": high - low}, index=list(layout.parameters))
    return table.reindex(table["swing"].abs().sort_values(ascending=False).index)


# -- a whole run ---------------------------------------------------------------------------------


def _parameters(spec, first: dict) -> tuple[str, ...]:
    """The stochastic parameter sites the sensitivity table ranks (as :func:`report.sensitivity`)."""
    from ..brain.model import is_parameter_site

    return tuple(
        name
        for name, value in first.items()
        if is_parameter_site(name, spec.class_names) and np.ndim(value) == 1 and np.ptp(np.asarray(value)) > 0
    )


def summarize_brain(
    spec,
    num_samples: int,
    seed: int = 0,
    *,
    chunk_size: int | None = None,
    precision: str = "float64",
    progress: bool = False,
) -> tuple[StreamStats, Layout]:
    """Draw ``num_samples`` draws of ``spec`` chunk by chunk (the same draws as
    :func:`uncertainty.brain.engine.sample_brain` with the same seed and chunk size) and keep only
    their merged statistics: memory O(chunk), whatever ``num_samples``."""
    from ..brain.engine import DEFAULT_CHUNK_SIZE, _check_expressions, draw_chunks
    from ..brain.model import has_stages

    stages = spec.convention.stages if has_stages(spec) else ()
    stats, layout = None, None
    for _, take, chunk in draw_chunks(
        spec, num_samples, seed, chunk_size=chunk_size or DEFAULT_CHUNK_SIZE, precision=precision, progress=progress
    ):
        if take < len(chunk["log10_brain_flops"]):
            chunk = {k: v[:take] for k, v in chunk.items()}
        _check_expressions(spec, {"log10_class_flops": np.asarray(chunk["log10_class_flops"])})
        if layout is None:
            first = {k: np.asarray(v) for k, v in chunk.items()}
            layout = layout_of(first, spec.class_names, stages, _parameters(spec, first))
        stats = merge(stats, chunk_stats(chunk, layout, spec.class_names, stages))
    return stats, layout


# -- saved summaries --------------------------------------------------------------------------------

KIND = "summaries"
_STATS_1D = ("mean_log", "m2_log", "mean_lin", "m2_lin", "minimum", "maximum", "under", "over")
_SENS = ("low_sum", "low_n", "high_sum", "high_n")


def summaries_dataset(stats: StreamStats, layout: Layout, attrs: dict):
    """The merged statistics as a small ``xarray.Dataset`` (attribute ``kind = "summaries"``): what
    ``uncertainty report`` and ``plot`` read in place of a run's draws."""
    import xarray as xr

    data = {name: ("quantity", np.asarray(getattr(stats, name))) for name in _STATS_1D}
    data["counts"] = (("quantity", "bin"), stats.counts)
    data["lo"] = ("quantity", layout.lo)
    data["offset"] = ("quantity", layout.offset)
    for name in _SENS:
        data[name] = ("parameter", np.asarray(getattr(stats, name)))
    data["cut_lo"] = ("parameter", layout.cut_lo)
    data["cut_hi"] = ("parameter", layout.cut_hi)
    coords = {"quantity": list(layout.labels), "parameter": list(layout.parameters)}
    meta = {**attrs, "kind": KIND, "num_draws": int(stats.n), "bin_width": BIN_WIDTH, "bins": int(layout.bins)}
    return xr.Dataset(data, coords=coords, attrs=meta)


def from_dataset(ds) -> tuple[StreamStats, Layout]:
    """The statistics and layout of a saved summaries dataset."""

    def col(name):
        return np.asarray(ds[name].values)

    stats = StreamStats(
        int(ds.attrs["num_draws"]),
        *(col(n) for n in _STATS_1D[:6]),
        col("counts"),
        col("under"),
        col("over"),
        *(col(n) for n in _SENS),
    )
    layout = Layout(
        tuple(str(q) for q in ds["quantity"].values),
        col("lo"),
        int(ds.attrs["bins"]),
        col("offset"),
        tuple(str(p) for p in ds["parameter"].values),
        col("cut_lo"),
        col("cut_hi"),
    )
    return stats, layout


def summary_sections(stats: StreamStats, layout: Layout) -> list:
    """The report of a streamed run: the brain FLOP/s table and the sensitivity table, with their bounds."""
    from .report import Section, sensitivity_section

    note = (
        f"streamed: {stats.n:,} independent draws summarised chunk by chunk; quantiles and HDI from "
        f"{BIN_WIDTH:g}-decade histograms (each quantile within one bin of the exact one); ESS = draws"
    )
    sections = [Section("brain FLOP/s", summary_table(stats, layout), note=note)]
    table = sensitivity_table(stats, layout)
    if table is not None:
        sections.append(sensitivity_section(table, " (cut points from the first chunk)"))
    return sections
