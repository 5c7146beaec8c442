"""The crossover at Monte Carlo scale: brain draws streamed in chunks, paired with growth paths, reduced to
counts of the crossover year.

The growth model is fitted once (or taken from the fit cache) with the settings of a kept run of
``FIT_DRAWS`` draws, so a streamed run and the default kept run share one fit. The brain draws are exactly
those of ``uncertainty sample`` with the seed (:func:`uncertainty.runs.streaming.summarize_brain`, whose
streamed statistics give the brain table). Each batch of :data:`BATCH` brain draws is paired with growth
posterior draws resampled with the seeded key, one simulated path per :data:`DRAWS_PER_PATH` brain draws.
A stochastic model's paths are stepped from its filtered states on a yearly grid with Brownian bridges
between points, a block of years at a time, until every draw of the batch is crossed
(:func:`uncertainty.growth.simulate.levels_first_passage`); a random walk with drift on a target it fits
alone has its exact first passage instead (inverse Gaussian, no path); a deterministic or piecewise-linear
model is searched on the quarter-year grid of a kept run. Each batch is reduced on the device to counts:
crossings per 0.01-year bin, draws already crossed, draws not
crossed by the horizon. Memory is independent of the number of draws.

Monte Carlo errors are batch means over blocks: the growth posterior draws are cut into
:data:`GROWTH_BLOCKS` contiguous blocks (of the chains' draws), batch ``b`` draws its growth draws from block
``b % GROWTH_BLOCKS``, and the spread of the blocks' estimates gives the standard error of every probability
and of the median: the brain draws', the paths' (whatever their sharing) and the fit's own Monte Carlo error
(a finite, autocorrelated set of posterior draws), which more brain draws do not reduce.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .._arviz import az
from ..brain.priors import PriorSpec
from ..errors import DataError
from ..growth.crossover import crossings_of_levels
from ..growth.models import GROWTH_MODELS, MODELS_BY_NAME, POOLED_SITES, STATE_SPACES
from ..growth.passage import randomwalk_first_passage
from ..growth.simulate import levels_first_passage, path_start
from ..inference.nuts import NutsSettings, step
from ..quantities import BY_YEARS
from .forecast import (
    LOG2_10,
    PATH_STEP,
    ForecastOptions,
    compare_models,
    fit_growth,
    future_paths,
    growth_key,
    growth_posterior,
    nuts_statistics,
    practical_draws,
    prepare,
    target_attrs,
)
from .io import run_attrs
from .streaming import Layout, StreamStats, from_dataset, summaries_dataset, summarize_brain

__all__ = [
    "BATCH",
    "BIN",
    "DRAWS_PER_PATH",
    "FIT_DRAWS",
    "YEAR_COUNTS",
    "StreamedCrossover",
    "YearCounts",
    "crossover_dataset",
    "from_crossover_dataset",
    "stream_crossover",
]

FIT_DRAWS = 10_000  # growth posterior draws of the fit (the default kept run's: one cached fit serves both)
BATCH = 8192  # brain draws per batch: one set of paths, one row of batch means
DRAWS_PER_PATH = 8  # brain draws that share one simulated path in a batch
BIN = 0.01  # years per histogram bin
GROWTH_BLOCKS = 16  # contiguous blocks of the growth posterior draws; batch b draws from block b % 16
STREAM_STEP = 1.0  # years between the points of a streamed path of a stochastic model (Brownian bridges between)


class YearCounts(NamedTuple):
    """The crossover year of ``n`` joint draws, reduced to counts."""

    t0: float  # the target's last observation (decimal year): draws at or below it crossed "already"
    horizon: float  # the last year searched
    base: int  # bin 0 starts at ``base * BIN`` years
    hist: np.ndarray  # draws crossing after ``t0`` per bin, int64
    batch_counts: np.ndarray  # (batches, 3 + len(BY_YEARS)): n, already, never, then by each of BY_YEARS
    batch_medians: np.ndarray  # each batch's median year (inverted CDF; inf: among the never-crossing draws)
    blocks: int = 1  # batch b drew its growth draws from block ``b % blocks`` of the growth posterior draws

    # the counts are whole numbers; in a weighted mixture of runs (compare's pool) they are weights

    @property
    def n(self) -> int | float:
        return self.batch_counts[:, 0].sum().item()

    @property
    def already(self) -> int | float:
        """Draws at or below the last observation: crossed at ``t0``."""
        return self.batch_counts[:, 1].sum().item()

    @property
    def never(self) -> int | float:
        """Draws not crossed by the horizon."""
        return self.batch_counts[:, 2].sum().item()


class StreamedCrossover(NamedTuple):
    """A streamed crossover: brain statistics, crossover-year counts, and the growth fit (an InferenceData
    of the fit's draws, with the run's attributes, for the growth and LOO tables)."""

    stats: StreamStats
    layout: Layout
    years: YearCounts
    fit: az.InferenceData
    attrs: dict


def _fit_options(o: ForecastOptions) -> tuple[NutsSettings, int]:
    per_chain = -(-FIT_DRAWS // o.num_chains)
    return NutsSettings(o.num_warmup, per_chain, o.num_chains), per_chain * o.num_chains


def _exact_passage(model: str, d, data) -> bool:
    """A random walk with drift that is the whole target (no HPCG ratio) and starts at the last observation:
    its first passage is inverse Gaussian, no path needed."""
    target = data.target_series
    return (
        model == "randomwalk"
        and d.rt is None
        and float(d.t_last) == float(target.year[-1])
        and float(d.y_last) == float(target.log2_flops[-1])
    )


def _reduce(years, valid, t0: float, base: int, bins: int):
    """Device counts of one batch: the histogram, then n, already, never and by each of BY_YEARS, and the
    batch's median (inverted CDF)."""
    already = valid & (years <= t0)
    never = valid & jnp.isinf(years)
    crossing = valid & ~already & ~never
    index = jnp.clip(jnp.floor(years * (1 / BIN)).astype(jnp.int64) - base, 0, bins - 1)
    hist = jnp.zeros(bins, jnp.int32).at[jnp.where(crossing, index, 0)].add(crossing.astype(jnp.int32))
    counts = [valid.sum(), already.sum(), never.sum()] + [(valid & (years <= y)).sum() for y in BY_YEARS]
    ordered = jnp.sort(jnp.where(valid, years, jnp.inf))
    k = jnp.maximum(jnp.ceil(valid.sum() * 0.5).astype(jnp.int32) - 1, 0)
    return hist, jnp.stack(counts), ordered[k]


def stream_crossover(spec: PriorSpec, seed: int, o: ForecastOptions) -> StreamedCrossover:
    """The crossover of ``o.num_samples`` joint draws of ``spec`` against ``o.model`` fitted to ``o.series``,
    streamed: memory independent of the number of draws (see the module's text)."""
    if o.model not in GROWTH_MODELS:
        raise DataError("--model", None, f"a streamed crossover needs a fitted growth model, not {o.model!r}")
    if spec.evidence:
        problem = "a file with [evidence] keeps its draws (the posterior reweights them): at most 10^5 draws"
        raise DataError("--samples", None, problem)
    data, _ = prepare(o, kept=False)
    root = growth_key(seed)
    settings, m = _fit_options(o)
    chosen = MODELS_BY_NAME[o.model]
    names = [o.model]
    if o.compare:
        names += [k for k in GROWTH_MODELS if k != o.model and MODELS_BY_NAME[k].fits == chosen.fits]
    with jax.enable_x64(True):
        fits = fit_growth(data, names, root, settings, o)
        d, samples, result = fits[o.model]
        d = jax.tree_util.tree_map(jnp.asarray, d)
        flat = {k: jnp.asarray(v.reshape(m)) for k, v in samples.items() if v.ndim == 2}  # one value per draw
        target = data.target_series
        t0, y0 = float(target.year[-1]), float(target.log2_flops[-1])
        base = math.floor(t0 / BIN)
        bins = math.ceil(o.horizon / BIN) - base + 1
        exact = _exact_passage(o.model, d, data)
        paths_per_batch = BATCH // DRAWS_PER_PATH
        # batch means over blocks of the growth draws: an MCSE that holds the fit's Monte Carlo error too
        blocks = min(GROWTH_BLOCKS, -(-o.num_samples // BATCH))
        block_size = m // blocks
        reduce = jax.jit(lambda y, v: _reduce(y, v, t0, base, bins))

        if o.model in STATE_SPACES:  # the filtered states (and efficiency walks) of every posterior draw, once
            start = path_start(o.model, flat, d)

        def state_years(key, pick, levels):
            """First passages of the drawn growth draws' paths (one per row of ``levels``)."""
            return levels_first_passage(
                key,
                o.model,
                start.take(pick),
                levels,
                t_last=float(d.t_last),
                step=STREAM_STEP,
                t0=t0,
                y0=y0,
                horizon=float(o.horizon),
            )

        @jax.jit
        def batch_years(key, levels, block):
            k_index, k_path = jax.random.split(key)
            first = block * block_size  # this batch's growth draws: one block of the chains'

            if exact:
                pick = first + jax.random.randint(k_index, levels.shape, 0, block_size)
                drift, vol = flat["drift"][pick], flat["vol"][pick]
                wait = randomwalk_first_passage(k_path, levels - y0, drift, vol)
                years = jnp.where(levels <= y0, t0, t0 + wait)
                return jnp.where(years > o.horizon, jnp.inf, years)
            pick = first + jax.random.randint(k_index, (paths_per_batch,), 0, block_size)
            shaped = levels.reshape(paths_per_batch, DRAWS_PER_PATH)
            if o.model in STATE_SPACES:
                return state_years(k_path, pick, shaped).ravel()
            params = {k: v[pick] for k, v in flat.items()}  # deterministic between grid points: no bridge
            fine_times, path = future_paths(k_path, chosen, params, d, data, o.horizon)
            return crossings_of_levels(fine_times, path, shaped).ravel()

        hist = jnp.zeros(bins, jnp.int64)
        rows, medians = [], []
        practical_key = jax.random.fold_in(root, 30)
        path_key = jax.random.fold_in(root, 40)

        def pair(start: int, take: int, draws: dict) -> None:
            nonlocal hist
            brain = draws["log10_brain_flops"][:take].astype(jnp.float64) * LOG2_10
            chunk_rows, chunk_medians = [], []
            for offset in range(0, take, BATCH):
                index = (start + offset) // BATCH
                part = brain[offset : offset + BATCH]
                size = part.shape[0]
                scale = practical_draws(jax.random.fold_in(practical_key, index), spec, data.target, size, o.budget_usd)
                levels = jnp.pad(part - jnp.asarray(scale.log2_scale), (0, BATCH - size), constant_values=jnp.inf)
                valid = jnp.arange(BATCH) < size
                years = batch_years(jax.random.fold_in(path_key, index), levels, index % blocks)
                h, counts, median = reduce(years, valid)
                hist = hist + h
                chunk_rows.append(counts)
                chunk_medians.append(median)
            # fetched: the chunk's work is done before the next is queued (dispatch would run ahead of the
            # device, holding every queued batch's buffers)
            rows.append(np.asarray(jnp.stack(chunk_rows), dtype=np.int64))
            medians.append(np.asarray(jnp.stack(chunk_medians), dtype=np.float64))

        what = f"pairing {o.num_samples:,} brain draws with {o.model} paths to {o.horizon:g} (streamed)"
        with step(o.status, what):
            stats, layout = summarize_brain(spec, o.num_samples, seed, progress=o.progress, on_device_chunk=pair)
            years = YearCounts(
                t0=t0,
                horizon=float(o.horizon),
                base=base,
                hist=np.asarray(hist, dtype=np.int64),
                batch_counts=np.concatenate(rows),
                batch_medians=np.concatenate(medians),
                blocks=blocks,
            )
    attrs = run_attrs(
        spec,
        seed=seed,
        num_samples=o.num_samples,
        kind="crossover",
        series=o.series,
        target=data.target,
        model=o.model,
        growth_priors=o.priors if o.model in POOLED_SITES else "base",
        horizon=o.horizon,
        t_start=t0,
        **target_attrs(data, practical_draws(practical_key, spec, data.target, 1, o.budget_usd)),
        num_warmup=o.num_warmup,
        num_chains=o.num_chains,
        growth_draws=m,
        draws_per_path=1 if exact else DRAWS_PER_PATH,
        first_passage=_passage_text(o.model, exact),
        precision="float64",
    )
    if len(fits) > 1:
        attrs["model_comparison"] = compare_models(fits, o.status)
    return StreamedCrossover(
        stats=stats, layout=layout, years=years, fit=_fit_data(samples, result, attrs), attrs=attrs
    )


def _passage_text(model: str, exact: bool) -> str:
    if exact:
        return "exact (inverse Gaussian)"
    if model in STATE_SPACES:
        return f"on a {STREAM_STEP:g}-year grid with Brownian bridges between its points"
    return f"on a {PATH_STEP:g}-year grid (straight between its points)"


def _fit_data(samples: dict, result, attrs: dict) -> az.InferenceData:
    """The growth fit's draws as an InferenceData (posterior and NUTS statistics), with the run's attributes."""
    idata = az.from_dict(posterior=growth_posterior(samples), sample_stats=nuts_statistics(result))
    for group in idata.groups():
        idata[group].attrs.update(attrs)
    return idata


# -- saved: the streamed summaries plus the year counts and the growth fit's draws --------------------------

YEAR_COUNTS = ("n", "already", "never", *(f"by_{y}" for y in BY_YEARS))  # the columns of a batch's counts
_FIT, _FIT_STATS = "fit_", "fit_stats_"  # prefixes of the growth fit's posterior and NUTS statistics


def crossover_dataset(run: StreamedCrossover):
    """A streamed crossover as a small ``xarray.Dataset``: the brain's streamed summaries
    (:func:`~uncertainty.runs.streaming.summaries_dataset`, ``kind = "summaries"``), the crossover year's
    counts (``year_*``) and the growth fit's draws (``fit_*``, ``fit_stats_*`` by ``fit_chain``, ``fit_draw``):
    what ``report`` reads back (:func:`from_crossover_dataset`)."""
    y = run.years
    ds = summaries_dataset(run.stats, run.layout, run.attrs)
    ds["year_hist"] = ("year_bin", np.asarray(y.hist, dtype=np.int64))
    ds["year_batch_counts"] = (("batch", "year_count"), np.asarray(y.batch_counts, dtype=np.int64))
    ds["year_batch_medians"] = ("batch", np.asarray(y.batch_medians, dtype=np.float64))
    ds = ds.assign_coords(year_count=list(YEAR_COUNTS))
    dims = ("fit_chain", "fit_draw")
    for name, da in run.fit.posterior.data_vars.items():
        ds[_FIT + name] = (dims, np.asarray(da.values, dtype=np.float64))
    for name, da in run.fit.sample_stats.data_vars.items():  # divergences as 0/1: netCDF has no booleans
        ds[_FIT_STATS + name] = (dims, np.asarray(da.values, dtype=np.int8 if da.dtype == bool else da.dtype))
    ds.attrs.update(year_t0=y.t0, year_horizon=y.horizon, year_base=int(y.base), year_blocks=int(y.blocks))
    ds.attrs["year_bin"] = BIN
    return ds


def from_crossover_dataset(ds) -> StreamedCrossover:
    """The streamed crossover saved by :func:`crossover_dataset` (a checked dataset)."""
    stats, layout = from_dataset(ds)
    a = ds.attrs
    years = YearCounts(
        t0=float(a["year_t0"]),
        horizon=float(a["year_horizon"]),
        base=int(a["year_base"]),
        hist=np.asarray(ds["year_hist"].values, dtype=np.int64),
        batch_counts=np.asarray(ds["year_batch_counts"].values, dtype=np.int64),
        batch_medians=np.asarray(ds["year_batch_medians"].values, dtype=np.float64),
        blocks=int(a["year_blocks"]),
    )
    names = [str(k) for k in ds.data_vars]
    posterior = {k[len(_FIT) :]: ds[k].values for k in names if k.startswith(_FIT) and not k.startswith(_FIT_STATS)}
    sample_stats = {k[len(_FIT_STATS) :]: ds[k].values for k in names if k.startswith(_FIT_STATS)}
    if "diverging" in sample_stats:
        sample_stats["diverging"] = sample_stats["diverging"].astype(bool)
    attrs = {**{k: v for k, v in a.items() if not k.startswith("year_")}, "kind": "crossover"}  # the file: summaries
    fit = az.from_dict(posterior=posterior, sample_stats=sample_stats)
    for group in fit.groups():
        fit[group].attrs.update(attrs)
    return StreamedCrossover(stats=stats, layout=layout, years=years, fit=fit, attrs=attrs)
