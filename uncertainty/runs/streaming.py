"""Summaries that stream: per-chunk statistics of a run's draws, merged in O(chunk) memory (the tables
made from them are :mod:`uncertainty.output.summaries`).

Every chunk of draws is reduced on the device to a few fixed-size arrays, which the host merges:

- moments of each reported quantity, in log10 and in linear units (count, mean, M2; Chan et al.'s
  pairwise merge), and its exact minimum and maximum;
- a histogram of its log10 values, bin width :data:`BIN_WIDTH` (0.001 decade) over a range found
  from the run's first :data:`LOOK` draws (131,072, whatever the chunk size), widened by
  :data:`MARGIN` decades each side, with exact counts below and above the range;
- for the sensitivity table, per stochastic parameter, the sum and count of log10 brain FLOP/s
  over the draws where the parameter lies in its lowest or highest 10%. The cut points are the
  10% and 90% quantiles of the parameter in the first :data:`LOOK` draws (the tails hold 10% of
  the draws up to their sampling error, about 0.001).

The tables' quantiles and 90% HDI come from the histogram: a quantile is interpolated linearly inside its
bin, so it lies within one bin width (0.001 decade: 0.23% in linear units) of the exact sample
quantile, unless it falls outside the range (it is then NaN, and the under/overflow counts say
so). For independent draws the ESS is the draw count, the MCSE of the mean is sd/sqrt(n), and the
MCSE of a quantile comes from the binomial order-statistic interval: half the distance between
the quantiles at ``p -+ sqrt(p (1 - p) / n)``.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import sys
from collections.abc import Callable, Iterator
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "BIN_WIDTH",
    "MARGIN",
    "LOOK",
    "Layout",
    "StreamStats",
    "fetch_stats",
    "reduce_chunk",
    "layout_of",
    "merge",
    "summarize_brain",
    "summarize_run",
]

BIN_WIDTH = 0.001  # decades per histogram bin
MARGIN = 2.0  # decades added below and above the range of the first draws
LOOK = 1 << 17  # the first draws of a run that set its layout (histogram ranges, sensitivity cut points)
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


def _log10_columns(draws: dict) -> jnp.ndarray:
    """The reported quantities of a chunk as log10 values, shape (n, k), in the order of :func:`quantity_labels`."""
    total = jnp.asarray(draws["log10_brain_flops"])
    columns = [total[:, None]]
    for site in ("log10_class_flops", "log10_stage_flops"):
        if site in draws:
            share = jnp.asarray(draws[site]) - total[:, None]
            # log10(1 - share): resolves a share near 1 as finely as the log10 share resolves one near 0
            # (floored at 1e-20, below float64's resolution of a share: a share of exactly 1 stays finite)
            rest = jnp.log10(jnp.maximum(-jnp.expm1(jnp.minimum(share, 0.0) * math.log(10.0)), 1e-20))
            columns += [share, rest]
    return jnp.concatenate(columns, axis=-1)


def quantity_labels(sites, class_names, stage_names) -> tuple[str, ...]:
    """The labels of the columns of :func:`_log10_columns` for a run that stores ``sites``."""
    labels = ["log10 brain FLOP/s"]
    for site, word, names in (("log10_class_flops", "class", class_names), ("log10_stage_flops", "stage", stage_names)):
        if site in sites:
            labels += [f"share of {word} {name}" for name in names]
            labels += [f"{COMPLEMENT}share of {word} {name}" for name in names]
    return tuple(labels)


def _stack(draws: dict, names: tuple[str, ...], like: jnp.ndarray) -> jnp.ndarray:
    if not names:
        return jnp.zeros((like.shape[0], 0), dtype=like.dtype)
    return jnp.stack([jnp.asarray(draws[p], dtype=like.dtype) for p in names], axis=-1)


@partial(jax.jit, static_argnames="rows")
def _first_look(draws: dict, rows: int):
    """What the layout needs from a chunk's first ``rows`` draws: each quantity's finite min and max (inf
    where none)."""
    x = _log10_columns({name: v[:rows] for name, v in draws.items()})
    finite = jnp.isfinite(x)
    return jnp.min(jnp.where(finite, x, jnp.inf), axis=0), jnp.max(jnp.where(finite, x, -jnp.inf), axis=0)


def layout_of(first: list[tuple[int, dict]], class_names, stage_names) -> Layout:
    """The layout of a run, from its first :data:`LOOK` draws (whatever the chunk size): ``first`` is a
    list of ``(rows, draws)``, the first ``rows`` of each chunk's draws (a dict of device arrays), as
    :func:`_look` takes them. It gives the histogram ranges and, of the parameter sites
    (:func:`_candidates`), those that vary, with their tails' cut points (those draws' 10% and 90%
    quantiles)."""
    labels = quantity_labels(first[0][1], class_names, stage_names)
    looks = [[np.asarray(a, dtype=np.float64) for a in _first_look(draws, rows)] for rows, draws in first]
    lo, hi = np.min([a for a, _ in looks], axis=0), np.max([b for _, b in looks], axis=0)
    hi_data = np.where(np.isfinite(hi), hi, np.nan)
    none = ~np.isfinite(lo)  # a column with no finite value (a share of exactly 0 or 1)
    lo = np.where(none, -1.0, np.floor(np.where(none, 0.0, lo))) - MARGIN
    hi = np.where(none, 0.0, np.ceil(np.where(none, 0.0, hi))) + MARGIN
    offset = np.nan_to_num(np.ceil(hi_data))  # log10 units that keep the linear moments in range: each
    # 10**(x - offset) is at most 1 in the first draws, so a spread of hundreds of decades cannot overflow
    bins = int(np.ceil(np.max(hi - lo) / BIN_WIDTH))
    parameters, cuts = [], []
    for name in _candidates(class_names, first[0][1]):
        values = np.concatenate([np.asarray(draws[name], dtype=np.float64)[:rows] for rows, draws in first])
        if np.ptp(values) > 0:
            parameters.append(name)
            cuts.append(np.quantile(values, [TAIL, 1 - TAIL]))
    cuts = np.asarray(cuts, dtype=np.float64).reshape(len(parameters), 2)
    return Layout(
        labels=labels,
        lo=lo,
        bins=bins,
        offset=offset,
        parameters=tuple(parameters),
        cut_lo=cuts[:, 0],
        cut_hi=cuts[:, 1],
    )


def _moments(x: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
    mean = jnp.mean(x, axis=0)
    return mean, jnp.sum((x - mean) ** 2, axis=0)


@partial(jax.jit, static_argnames=("take", "bins", "parameters", "checked"))
def _reduce(draws: dict, lo, offset, cut_lo, cut_hi, *, take: int, bins: int, parameters: tuple, checked: tuple):
    """One chunk's statistics, on the device, over its first ``take`` rows (a static size: the full chunks
    share one compiled program, a cut last chunk gets its own; masking rows instead costs more than that)."""
    draws = {name: v[:take] for name, v in draws.items()}
    x = _log10_columns(draws)
    k = x.shape[1]
    # one scatter-add for the histogram and the tails: slot 0 below the range, 1..bins the bins,
    # bins + 1 above the range (+-inf included), bins + 2 NaN (in no bin and no tail)
    pos = jnp.clip(jnp.floor((x - lo) / BIN_WIDTH), -1, bins) + 1
    slot = jnp.where(jnp.isnan(pos), bins + 2, pos).astype(jnp.int32) + (bins + 3) * jnp.arange(k)[None, :]
    slots = jnp.zeros(k * (bins + 3), dtype=jnp.int32).at[slot.ravel()].add(1).reshape(k, bins + 3)
    mean_log, m2_log = _moments(x)
    mean_lin, m2_lin = _moments(jnp.exp((x - offset) * math.log(10.0)))
    # the tails' sums of log10 brain FLOP/s as products with 0/1 masks (a column-wise masked sum is
    # several times slower on a CPU), in float32 (twice as fast again): exact counts below 2**24 draws
    # per chunk, sums of terms offset by the first draws' maximum within about 1e-6 decade; a draw within
    # float32's rounding (1e-7 relative) of a cut point may fall on either side of it
    y = (x[:, 0] - offset[0]).astype(jnp.float32)
    params = _stack(draws, parameters, y)
    low = (params <= cut_lo.astype(jnp.float32)).astype(jnp.float32)
    high = (params >= cut_hi.astype(jnp.float32)).astype(jnp.float32)
    per_class = jnp.asarray(draws["log10_class_flops"])[:, list(checked)] if checked else x[:, :0]
    return (
        (mean_log, m2_log, mean_lin, m2_lin),
        (jnp.min(x, axis=0), jnp.max(x, axis=0)),
        (slots[:, 1 : bins + 1], slots[:, 0], slots[:, bins + 1]),
        (y @ low, jnp.sum(low, axis=0)),
        (y @ high, jnp.sum(high, axis=0)),
        jnp.sum(~jnp.isfinite(per_class), axis=0),
    )


def _device_layout(layout: Layout, draws: dict) -> list[jnp.ndarray]:
    """The layout's arrays that the reduction reads, on the device, in the draws' float type."""
    dtype = jnp.asarray(draws["log10_brain_flops"]).dtype
    return [jnp.asarray(a, dtype=dtype) for a in (layout.lo, layout.offset, layout.cut_lo, layout.cut_hi)]


def reduce_chunk(draws: dict, take: int, layout: Layout, checked: tuple[int, ...] = (), arrays=None):
    """Dispatch the reduction of one chunk (device arrays; the first ``take`` rows count) and return its
    device outputs without waiting (:func:`fetch_stats` waits). ``arrays``: the layout's arrays already
    on the device (``None``: sent now)."""
    if arrays is None:
        arrays = _device_layout(layout, draws)
    return _reduce(
        draws,
        *arrays,
        take=int(take),
        bins=layout.bins,
        parameters=layout.parameters,
        checked=checked,
    )


def fetch_stats(reduced, take: int, layout: Layout) -> tuple[StreamStats, np.ndarray]:
    """The statistics of a reduced chunk on the host, and the number of non-finite log10 FLOP/s of each
    checked class."""
    moments, extremes, hist, low, high, bad = jax.device_get(reduced)

    def f64(a):
        return np.asarray(a, dtype=np.float64)

    def i64(a):
        return np.asarray(a, dtype=np.int64)

    low_n, high_n = np.rint(f64(low[1])).astype(np.int64), np.rint(f64(high[1])).astype(np.int64)
    centre = float(layout.offset[0])  # the tails' sums were centred on it
    mean_log, m2_log, mean_lin, m2_lin = (f64(a) for a in moments)
    minimum, maximum = (f64(a) for a in extremes)
    counts, under, over = (i64(a) for a in hist)
    stats = StreamStats(
        n=int(take),
        mean_log=mean_log,
        m2_log=m2_log,
        mean_lin=mean_lin,
        m2_lin=m2_lin,
        minimum=minimum,
        maximum=maximum,
        counts=counts,
        under=under,
        over=over,
        low_sum=f64(low[0]) + centre * low_n,
        low_n=low_n,
        high_sum=f64(high[0]) + centre * high_n,
        high_n=high_n,
    )
    return stats, i64(bad)


def empty_stats(layout: Layout) -> StreamStats:
    """The statistics of no draws (the identity of :func:`merge`)."""
    k, p = len(layout.labels), len(layout.parameters)
    zeros = np.zeros(k)
    return StreamStats(
        n=0,
        mean_log=zeros,
        m2_log=zeros,
        mean_lin=zeros,
        m2_lin=zeros,
        minimum=np.full(k, np.inf),
        maximum=np.full(k, -np.inf),
        counts=np.zeros((k, layout.bins), dtype=np.int64),
        under=np.zeros(k, dtype=np.int64),
        over=np.zeros(k, dtype=np.int64),
        low_sum=np.zeros(p),
        low_n=np.zeros(p, dtype=np.int64),
        high_sum=np.zeros(p),
        high_n=np.zeros(p, dtype=np.int64),
    )


def merge(a: StreamStats | None, b: StreamStats) -> StreamStats:
    """The statistics of two disjoint sets of draws together (Chan et al. 1979 for the moments)."""
    if a is None or a.n == 0:
        return b
    if b.n == 0:
        return a
    n = a.n + b.n
    wb = b.n / n

    def pair(mean_a, m2_a, mean_b, m2_b):
        delta = mean_b - mean_a
        return mean_a + delta * wb, m2_a + m2_b + delta**2 * a.n * wb

    mean_log, m2_log = pair(a.mean_log, a.m2_log, b.mean_log, b.m2_log)
    mean_lin, m2_lin = pair(a.mean_lin, a.m2_lin, b.mean_lin, b.m2_lin)
    return StreamStats(
        n=n,
        mean_log=mean_log,
        m2_log=m2_log,
        mean_lin=mean_lin,
        m2_lin=m2_lin,
        minimum=np.minimum(a.minimum, b.minimum),
        maximum=np.maximum(a.maximum, b.maximum),
        counts=a.counts + b.counts,
        under=a.under + b.under,
        over=a.over + b.over,
        low_sum=a.low_sum + b.low_sum,
        low_n=a.low_n + b.low_n,
        high_sum=a.high_sum + b.high_sum,
        high_n=a.high_n + b.high_n,
    )


# -- a whole run ---------------------------------------------------------------------------------


def _candidates(class_names, first: dict) -> tuple[str, ...]:
    """The parameter sites the sensitivity table may rank (as :func:`report.sensitivity`): stochastic
    parameters with one value per draw (those that do not vary are dropped by :func:`layout_of`)."""
    from ..brain.sites import is_parameter_site

    return tuple(name for name, v in first.items() if is_parameter_site(name, class_names) and v.ndim == 1)


def summarize_brain(
    spec,
    num_samples: int,
    seed: int = 0,
    *,
    chunk_size: int | None = None,
    precision: str = "float64",
    progress: bool = False,
    on_chunk: Callable[[int, dict[str, np.ndarray]], None] | None = None,
    on_device_chunk: Callable[[int, int, dict], None] | None = None,
) -> tuple[StreamStats, Layout]:
    """Draw ``num_samples`` draws of ``spec`` chunk by chunk (the same draws as
    :func:`uncertainty.brain.engine.sample_brain` with the same seed) and keep only
    their merged statistics: memory O(chunk), whatever ``num_samples``. ``on_chunk(start, draws)``
    receives each chunk's draws on the host (cut to the run), e.g. to write them to disk;
    ``on_device_chunk(start, take, draws)`` each chunk's draws on the device (the full chunk, of which the first
    ``take`` belong to the run), e.g. to pair them with growth paths.

    Under ``jax.distributed`` (several processes), process ``p`` of ``P`` draws chunks ``p, p + P, ...``
    and the processes' statistics are gathered and merged, so every process returns the statistics of
    all the draws: the same histograms (hence quantiles and HDI) as one process, and the same moments up
    to the order of floating-point sums."""
    from ..brain.engine import check_magnitude, chunk_of, draw_chunk, draw_chunks, nonfinite_error
    from ..brain.sites import has_stages

    stages = spec.convention.stages if has_stages(spec) else ()
    checked = tuple(range(len(spec.classes)))  # every class's FLOP/s must be finite in every draw
    index, count = jax.process_index(), jax.process_count()
    options = {"chunk_size": chunk_size, "precision": precision}
    layout = None
    with jax.enable_x64(precision == "float64"):
        if count > 1:  # every process takes its layout from the run's first draws, drawn alone
            chunk = chunk_of(spec, num_samples, chunk_size)
            firsts = (
                (i * chunk, min(chunk, num_samples - i * chunk), draw_chunk(spec, num_samples, seed, i, **options))
                for i in range(-(-min(num_samples, LOOK) // chunk))
            )
            looked, _ = _look(firsts)
            layout = layout_of(looked, spec.class_names, stages)
        chunks = draw_chunks(spec, num_samples, seed, progress=progress, processes=(index, count), **options)
        stats, layout = _merged(
            chunks,
            spec.class_names,
            stages,
            layout,
            checked=checked,
            nonfinite=lambda i, bad, take: nonfinite_error(spec, i, bad, take),
            on_chunk=on_chunk,
            on_device_chunk=on_device_chunk,
        )
    if stats is None:
        stats = empty_stats(layout)
    if count > 1:
        stats = _gather(stats)
    check_magnitude(spec, float(stats.maximum[0]), float(stats.minimum[0]), stats.n)
    return stats, layout


@contextlib.contextmanager
def _stdout_to_stderr():
    """Send what native code writes to file descriptor 1 to stderr, so stdout holds only the tables."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def summarize_run(ds, chunk_size: int | None = None) -> tuple[StreamStats, Layout]:
    """The streamed statistics of a saved run's kept draws (``ds``: its one-chain group, opened lazily),
    read from the file chunk by chunk: how ``report`` summarises a run too large to load."""
    from ..brain.engine import DEFAULT_CHUNK_SIZE

    n = int(ds.sizes["draw"])
    chunk = min(chunk_size or DEFAULT_CHUNK_SIZE, n)
    names = [str(v) for v in ds.data_vars if ds[v].dims[:2] == ("chain", "draw")]
    class_names = [str(c) for c in ds["neuron_class"].values] if "neuron_class" in ds.coords else []
    stage_names = [str(c) for c in ds["stage"].values] if "stage" in ds.coords else []
    blocks = ((start, *_block(ds, names, start, min(start + chunk, n))) for start in range(0, n, chunk))
    with jax.enable_x64(True):
        return _merged(blocks, class_names, stage_names)


def _block(ds, names: list[str], start: int, stop: int) -> tuple[int, dict]:
    """Draws ``start`` to ``stop`` of a saved run's group, on the device, with their count."""
    block = ds[names].isel(chain=0, draw=slice(start, stop))
    return stop - start, {name: jnp.asarray(block[name].values) for name in names}


def _merged(
    chunks,
    class_names,
    stage_names,
    layout: Layout | None = None,
    *,
    checked: tuple[int, ...] = (),
    nonfinite: Callable[[int, int, int], Exception] | None = None,
    on_chunk: Callable[[int, dict[str, np.ndarray]], None] | None = None,
    on_device_chunk: Callable[[int, int, dict], None] | None = None,
) -> tuple[StreamStats | None, Layout | None]:
    """Reduce ``(start, take, draws)`` chunks and merge their statistics; the layout comes from the run's
    first :data:`LOOK` draws unless given (chunks are held until they are in). A chunk's statistics are
    fetched while the device reduces the next one. A class in ``checked`` that is not finite in some draw
    raises ``nonfinite(class, bad, take)``."""
    stats, arrays, pending = None, None, None

    def fetch(take, reduced):
        part, bad = fetch_stats(reduced, take, layout)
        for i, b in zip(checked, bad, strict=True):
            if b:
                raise nonfinite(i, int(b), take)
        return part

    if layout is None:
        looked, chunks = _look(chunks)
        if looked:
            layout = layout_of(looked, class_names, stage_names)
    for start, take, draws in chunks:
        if arrays is None:
            arrays = _device_layout(layout, draws)
        reduced = reduce_chunk(draws, take, layout, checked, arrays)
        if on_chunk is not None:
            on_chunk(start, {name: np.asarray(v)[:take] for name, v in draws.items()})
        if on_device_chunk is not None:
            on_device_chunk(start, take, draws)
        if pending is not None:  # the previous chunk's statistics, while the device works on this one
            stats = merge(stats, fetch(*pending))
        pending = (take, reduced)
    if pending is not None:
        stats = merge(stats, fetch(*pending))
    return stats, layout


def _look(chunks) -> tuple[list[tuple[int, dict]], Iterator]:
    """Take ``(start, take, draws)`` chunks until the run's first :data:`LOOK` draws are in: those draws, as
    ``(rows, draws)`` for :func:`layout_of`, and all the chunks again (the ones taken first)."""
    chunks, held, looked, seen = iter(chunks), [], [], 0
    while seen < LOOK:
        chunk = next(chunks, None)
        if chunk is None:
            break
        held.append(chunk)
        rows = min(chunk[1], LOOK - seen)
        looked.append((rows, chunk[2]))
        seen += rows
    return looked, itertools.chain(held, chunks)


def _gather(stats: StreamStats) -> StreamStats:
    """Every process's statistics, merged in process order (a collective: every process calls it)."""
    from jax.experimental import multihost_utils

    with jax.enable_x64(True), _stdout_to_stderr():  # Gloo logs its connections on stdout
        gathered = {
            name: np.asarray(
                multihost_utils.process_allgather(np.asarray(value, dtype=np.int64 if name == "n" else None))
            )
            for name, value in stats._asdict().items()
        }
    merged = None
    for p in range(gathered["n"].shape[0]):
        part = {name: g[p] for name, g in gathered.items()}
        merged = merge(merged, StreamStats(**{**part, "n": int(part["n"])}))
    return merged


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

    stats = StreamStats(n=int(ds.attrs["num_draws"]), **{name: col(name) for name in StreamStats._fields[1:]})
    layout = Layout(
        labels=tuple(str(q) for q in ds["quantity"].values),
        lo=col("lo"),
        bins=int(ds.attrs["bins"]),
        offset=col("offset"),
        parameters=tuple(str(p) for p in ds["parameter"].values),
        cut_lo=col("cut_lo"),
        cut_hi=col("cut_hi"),
    )
    return stats, layout
