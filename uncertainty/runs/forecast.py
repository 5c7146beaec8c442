"""Crossover forecasts: brain FLOP/s draws joined with compute-growth draws.

Data models (:mod:`uncertainty.growth.models`; default ``walkcycle``, the best CRPS
among the models calibrated across technologies, :mod:`uncertainty.growth.selection`):
the growth model is fitted to the benchmark history with NUTS; each posterior draw
(chain c, draw i) is paired with one independent brain-FLOP/s draw and one simulated future path of the target (for
``hpcg``: the HPL path plus the efficiency ratio's random walk, capped at 100%),
and the path's first crossing of the brain is the crossover year. Between grid points the path is a
Brownian bridge with the model's variance rate (:func:`~uncertainty.growth.models.path_variance_rate`), so
crossings between points are not missed: a state-space model walks a yearly grid until its draws are
crossed (:func:`~uncertainty.growth.simulate.model_first_passage`), the other models are searched on a
quarter-year grid (:func:`~uncertainty.growth.passage.first_passage_on_grid`); deterministic trends give
straight paths, so their crossing is exact. Above 10^5 draws the crossover streams
(:mod:`uncertainty.runs.streamed_crossover`).
Scenario model: the ``[growth]`` priors of the prior file (the article's form)
are drawn instead. Either way the result is one ``InferenceData``.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from .._arviz import az
from ..brain.distributions import to_distribution
from ..brain.evidence import brain_draws
from ..brain.priors import GROWTH_FIELDS, LogNormal, LogUniform, Normal, Point, PriorSpec, Uniform
from ..brain.sites import has_stages
from ..choices import DEFAULT_HORIZON, DEFAULT_MODEL, DEFAULT_PRIORS, FORECAST_MODELS, MAX_HORIZON
from ..errors import DataError, PriorError, one_line
from ..growth.crossover import scenario_crossover_year
from ..growth.hindcast import fit_data_at
from ..growth.history import GrowthData, Series, load_growth_data
from ..growth.models import (
    GROWTH_MODELS,
    MODELS_BY_NAME,
    POOLED_SITES,
    STATE_SPACES,
    path_variance_rate,
    predict_after,
    ratio_paths,
    ratio_predictive_draw,
)
from ..growth.passage import first_passage_on_grid
from ..growth.scores import predictive_samples
from ..growth.simulate import model_first_passage
from ..growth.targets import DEFAULT_BUDGET_USD, DEFAULT_FRACTION, TARGETS
from ..inference.fitcache import FitJob, cached_fits
from ..inference.nuts import NutsSettings, Status, step
from ..quantities import BY_YEARS
from .io import conditioning_attrs, run_attrs

__all__ = [
    "DEFAULT_MODEL",
    "ForecastOptions",
    "check_data",
    "compare_models",
    "fit_growth",
    "future_paths",
    "growth_key",
    "growth_posterior",
    "nuts_statistics",
    "prepare",
    "crossover_years",
    "forecast",
    "last_observation",
    "practical_draws",
    "LOG2_10",
]

LOG2_10 = math.log2(10.0)
_BRAIN_DIMS = {"log10_class_flops": "neuron_class", "log10_stage_flops": "stage"}


@dataclass(frozen=True)
class ForecastOptions:
    """Settings of a crossover run (see ``uncertainty crossover --help``)."""

    series: str = "hpcg"
    unit: str | None = None  # of a CSV series without a unit column (default FLOP/s)
    model: str = DEFAULT_MODEL
    priors: str = DEFAULT_PRIORS  # "base" or "pooled": the shipped pooled priors (see hindcast.fit_data_at)
    data_until: int | None = None
    num_samples: int = 10_000
    num_warmup: int = 1000
    num_chains: int = 4
    horizon: float = DEFAULT_HORIZON
    compare: bool = True
    budget_usd: float | None = None  # the budget target's budget (US dollars), instead of the prior file's
    refit: bool = False  # fit the growth models again, not taking them from the fit cache
    progress: bool = False  # a progress bar of the brain draws (on a terminal)
    status: Status | None = None  # takes a line before and after each long step (fits, draws, paths)


def forecast(spec: PriorSpec, seed: int, options: ForecastOptions = ForecastOptions()) -> az.InferenceData:
    """Draw the joint distribution of brain FLOP/s, compute growth and the crossover year."""
    if options.model not in FORECAST_MODELS:
        raise ValueError(f"model must be one of {FORECAST_MODELS}, got {options.model!r}")
    if not (math.isfinite(options.horizon) and BY_YEARS[-1] <= options.horizon <= MAX_HORIZON):
        raise ValueError(f"horizon must be a year from {BY_YEARS[-1]} to {MAX_HORIZON:g}, got {options.horizon:g}")
    if options.model == "scenario":
        return _scenario(spec, seed, options)
    return _fitted(spec, seed, options)


# -- data models --------------------------------------------------------------


def check_data(options: ForecastOptions, kept: bool = True) -> GrowthData:
    """The data a crossover of ``options`` fits, after every check the fit makes of them (a bad CSV, too few
    measurements, a horizon after the data: :class:`DataError`; paths that would not fit in memory:
    :class:`InputError`), before any work."""
    return prepare(options, kept)[0]


def prepare(options: ForecastOptions, kept: bool = True) -> tuple[GrowthData, Series | None]:
    """The growth data (and held-out lists) of ``options`` after every check; ``kept``: the run keeps every
    draw's path, which must fit in memory (a streamed run's memory does not grow with the draws)."""
    if options.num_chains < 2:
        raise DataError("--chains", None, "need at least 2 chains to check convergence (R-hat)")
    if options.num_samples < 4 * options.num_chains:
        raise DataError(
            "--samples",
            None,
            f"need at least 4 draws per chain ({4 * options.num_chains} for {options.num_chains} chains)",
        )
    full = load_growth_data(options.series, options.unit)
    data = full
    heldout = None
    if options.data_until is not None:
        first, last = math.floor(data.first_year), math.floor(data.last_year)
        if options.data_until < first:
            raise DataError(options.series, "--data-until", f"{options.data_until} is before the first list ({first})")
        heldout = full.measurements().target_series.after(options.data_until)
        if not len(heldout):
            raise DataError(
                options.series, "--data-until", f"no lists after {options.data_until} to backtest (last: {last})"
            )
        data = data.until(options.data_until)
    if len(data.trend.measurements()) < 3:
        raise DataError(
            options.series, None, f"{len(data.trend.measurements())} measurements to fit; the growth models need 3"
        )
    if data.practical is not None and len(data.practical) < 1:
        raise DataError(options.series, "--data-until", "leaves no HPCG measurement to fit")
    span = data.last_year - data.first_year
    if options.model in ("changepoint", "regimes") and span <= 4.0:
        raise DataError(options.series, None, f"data span {span:.1f} years; the change-point model needs more than 4")
    if len(np.unique(data.trend.year)) < 2:
        raise DataError(options.series, None, "all measurements are in the same year; no trend to fit")
    if options.horizon <= data.last_year:
        raise DataError("--horizon", None, f"{options.horizon:g} is not after the data ({data.last_year:.1f})")
    if kept:
        points = len(data.target_series) + math.ceil((options.horizon - data.last_year) / PATH_STEP) + 1
        check_path_memory(options.num_samples, points)
    return data, heldout


LOO_DRAWS_PER_CHAIN = 1000  # draws per chain of a model fitted only for the LOO comparison

PATH_BYTES = 64  # peak bytes per draw and path point: the paths, their gap to the brain and the scan's
# temporaries (measured: 67 KB per draw for 1,163 points, walkcycle on hpcg to 2300, with the LOO fits)


def check_path_memory(num_samples: int, points: int) -> None:
    """Refuse, before any fit, a crossover whose simulated paths (``num_samples`` draws of ``points`` years
    each) would not fit in this machine's memory; the message gives the largest draw count that fits."""
    from ..brain.engine import check_fits

    what = f"paths with {points:,} points to the horizon"
    check_fits(num_samples, points * PATH_BYTES, what, ", or an earlier --horizon")


def compare_models(fits: dict, status: Status | None = None) -> str:
    """The LOO comparison of the fits of :func:`fit_growth` (JSON: the preferred model, a row per model, the
    Pareto notes). The random walk scores increments (each point given the one before), the Kalman models
    every point: the points every model predicts from the ones before (the last ``m``) are compared."""
    m = min(s_["log_lik"].shape[-1] for _, s_, _ in fits.values())
    with step(status, f"comparing {len(fits)} models by LOO"):
        return json.dumps(_compare({k: _loo_view(s_, m) for k, (_, s_, _) in fits.items()}))


def _compare(fits: dict[str, az.InferenceData]) -> dict:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = az.compare(fits, ic="loo", var_name="joint")
    rows = {
        name: {k: (bool(v) if isinstance(v, (bool, np.bool_)) else float(v)) for k, v in row.items() if k != "scale"}
        for name, row in table.iterrows()
    }
    notes = sorted({str(w.message).splitlines()[0] for w in caught if "Pareto" in str(w.message)})
    return {"preferred": str(table.index[0]), "rows": rows, "notes": notes}


def growth_key(seed: int) -> jax.Array:
    """Root key of the growth side of a run, on its own branch: brain chunk i uses
    ``fold_in(key(seed), i)`` for small i, this is ``fold_in(key(seed), 2**32 - 1)``."""
    return jax.random.fold_in(jax.random.key(seed), 2**32 - 1)


def _fitted(spec: PriorSpec, seed: int, o: ForecastOptions) -> az.InferenceData:
    data, heldout = prepare(o)
    root = growth_key(seed)
    per_chain = -(-o.num_samples // o.num_chains)
    n = per_chain * o.num_chains
    chosen = MODELS_BY_NAME[o.model]
    names = [o.model]
    if o.compare:  # LOO needs the same observations: models that fit the same data
        names += [m for m in GROWTH_MODELS if m != o.model and MODELS_BY_NAME[m].fits == chosen.fits]
    settings = NutsSettings(o.num_warmup, per_chain, o.num_chains)

    with jax.enable_x64(True):
        fits = fit_growth(data, names, root, settings, o)
        d, samples, result = fits[o.model]
        d = jax.tree_util.tree_map(jnp.asarray, d)
        flat = {k: jnp.asarray(v.reshape(n, *v.shape[2:])) for k, v in samples.items()}

        with step(o.status, _brain_text(spec, n)):
            brain, conditioned = brain_draws(spec, n, seed, progress=o.progress)
        practical = practical_draws(jax.random.fold_in(root, 30), spec, data.target, n, o.budget_usd)
        with step(o.status, f"pairing {n:,} draws with brain FLOP/s (paths to {o.horizon:g})"):
            log2_brain = jnp.asarray(brain["log10_brain_flops"]) * LOG2_10 - practical.log2_scale
            crossing, t_start = _crossing_years(jax.random.fold_in(root, 20), o, chosen, flat, d, data, log2_brain)
            year = np.asarray(crossing).reshape(o.num_chains, per_chain)
        grid = np.arange(math.floor(data.last_year) + 1, 2101, dtype=np.float64)
        predictive = {
            "log2_flops_forecast": (
                ("chain", "draw", "forecast_year"),
                _predictive_log2(jax.random.fold_in(root, 10), chosen, flat, d, grid).reshape(
                    o.num_chains, per_chain, -1
                ),
            )
        }
        if heldout is not None:
            predictive["log2_flops_heldout"] = (
                ("chain", "draw", "heldout_list"),
                _predictive_log2(jax.random.fold_in(root, 11), chosen, flat, d, heldout.year).reshape(
                    o.num_chains, per_chain, -1
                ),
            )

    idata = _inference_data(spec, samples, result, brain, year, predictive, data, heldout, grid, o, n)
    for name, values in practical.draws.items():
        idata.posterior[name] = (("chain", "draw"), values.reshape(o.num_chains, per_chain))
    attrs = run_attrs(
        spec,
        seed=seed,
        num_samples=n,
        kind="crossover",
        series=o.series,
        target=data.target,
        model=o.model,
        growth_priors=o.priors if o.model in POOLED_SITES else "base",  # a model with nothing to pool keeps its own
        data_until=o.data_until,
        horizon=o.horizon,
        t_start=t_start,
        **target_attrs(data, practical),
        num_warmup=o.num_warmup,
        num_chains=o.num_chains,
        precision="float64",
        **_conditioning_attrs(conditioned),
    )
    if spec.scenarios:  # the brain draws' ``scenario`` indexes them
        attrs["scenario_names"] = ",".join(sc.name for sc in spec.scenarios)
    if len(fits) > 1:
        attrs["model_comparison"] = compare_models(fits, o.status)
    for group in idata.groups():
        idata[group].attrs.update(attrs)
    return idata


def fit_growth(data: GrowthData, names: list[str], root: jax.Array, settings: NutsSettings, o: ForecastOptions) -> dict:
    """``{name: (fit data, draws by site (chain, draw, ...), NutsResult)}`` of each growth model in ``names``
    (the first the chosen one, the rest the LOO comparison, at most :data:`LOO_DRAWS_PER_CHAIN` draws a chain),
    fitted to ``data`` or taken from the fit cache
    (:mod:`uncertainty.inference.fitcache`; ``o.refit`` fits again). Model ``i`` uses ``fold_in(root, 1 + i)``."""
    jobs, fit_data = [], {}
    for i, name in enumerate(names):
        fit_data[name] = fit_data_at(data, name, data.last_year, o.priors)
        batch = jax.tree_util.tree_map(lambda x: jnp.asarray(x)[None], fit_data[name])
        text = f"fitting {name} to {o.series}" if i == 0 else f"comparing models by LOO: fitting {name}"
        # the comparison needs the pointwise log-likelihood's draws, not the joint draws: fewer of them
        s = settings if i == 0 else settings._replace(num_samples=min(settings.num_samples, LOO_DRAWS_PER_CHAIN))
        jobs.append(FitJob(name, jax.random.fold_in(root, 1 + i), MODELS_BY_NAME[name].model, batch, s, text))
    results = cached_fits(jobs, refit=o.refit, status=o.status)
    return {k: (fit_data[k], {s: v[0] for s, v in r.samples.items()}, r) for k, r in results.items()}


def crossover_years(specs: dict[str, PriorSpec], seed: int, o: ForecastOptions = ForecastOptions()) -> dict:
    """Crossover-year draws of several prior files against one growth fit (``o.model``, fitted once).

    The growth fit, its paths and each file's brain draws use the keys :func:`forecast` uses, so each
    file's years are exactly those of ``uncertainty crossover FILE`` with the same seed and settings.
    Returns ``{name: years}`` (flat, ``inf`` where a draw does not cross by the horizon).
    """
    if o.model not in GROWTH_MODELS:
        raise DataError("--model", None, f"compare --crossover needs a fitted growth model, not {o.model!r}")
    data, _ = prepare(o)
    root = growth_key(seed)
    per_chain = -(-o.num_samples // o.num_chains)
    n = per_chain * o.num_chains
    chosen = MODELS_BY_NAME[o.model]
    settings = NutsSettings(o.num_warmup, per_chain, o.num_chains)
    out = {}
    with jax.enable_x64(True):
        d, samples, _ = fit_growth(data, [o.model], root, settings, o)[o.model]
        d = jax.tree_util.tree_map(jnp.asarray, d)
        flat = {k: jnp.asarray(v.reshape(n, *v.shape[2:])) for k, v in samples.items()}
        for name, spec in specs.items():
            with step(o.status, f"{name}: {_brain_text(spec, n)}, paired with the growth paths"):
                practical = practical_draws(jax.random.fold_in(root, 30), spec, data.target, n, o.budget_usd)
                log2_brain = jnp.asarray(brain_draws(spec, n, seed)[0]["log10_brain_flops"]) * LOG2_10
                levels = log2_brain - practical.log2_scale
                years, _ = _crossing_years(jax.random.fold_in(root, 20), o, chosen, flat, d, data, levels)
                out[name] = np.asarray(years)
    return out


def _crossing_years(key, o: ForecastOptions, model, params, d, data: GrowthData, log2_brain) -> tuple[Array, float]:
    """Each joint draw's crossover year, and the last observation (the year of a draw already crossed).

    A state-space model's path walks a yearly grid with Brownian bridges between points, stopping when
    every draw is crossed (:func:`~uncertainty.growth.simulate.model_first_passage`, the streamed run's
    method, one path per draw); the other models' paths are searched on a quarter-year grid, bridged with
    their variance rate (0 for the deterministic ones: straight lines, exact)."""
    target = data.target_series
    t0, y0 = float(target.year[-1]), float(target.log2_flops[-1])
    if o.model in STATE_SPACES:
        years = model_first_passage(
            key, o.model, params, d, log2_brain[:, None], t0=t0, y0=y0, horizon=float(o.horizon)
        )
        return years[:, 0], t0
    k_path, k_cross = jax.random.split(key)
    times, path = future_paths(k_path, model, params, d, data, o.horizon)
    rate = path_variance_rate(o.model, params, d)
    return first_passage_on_grid(k_cross, times, path - log2_brain[:, None], rate), float(times[0])


def last_observation(o: ForecastOptions) -> float:
    """The decimal year of the target's last observation in the data a crossover of ``o`` fits: a draw whose
    brain lies at or below the target's practical value there is "already crossed", with this year."""
    return float(prepare(o)[0].target_series.year[-1])


class Practical(NamedTuple):
    """What turns a target's history into practical FLOP/s, per joint draw."""

    log2_scale: np.ndarray  # log2 of fraction x budget per draw, float64 (0 for a measured target)
    draws: dict[str, np.ndarray]  # the drawn ``practical_fraction`` and ``budget_usd`` (none for a measured one)
    text: dict[str, str]  # the priors used, in words, for the report


def _draw_prior(key: Array, prior, n: int, positive: bool = True) -> np.ndarray:
    """``n`` float64 draws of one prior spec (a fixed value repeated; no key used for it)."""
    if isinstance(prior, Point):
        return np.full(n, float(prior.value))
    return np.asarray(to_distribution(prior, positive).sample(key, (n,)), dtype=np.float64)


def _describe(prior) -> str:
    if isinstance(prior, Point):
        return f"{prior.value:g}"
    if isinstance(prior, (LogNormal, Normal)):
        kind = "lognormal" if isinstance(prior, LogNormal) else "normal"
        cut = "".join(f", {k} {v:g}" for k, v in (("min", prior.min), ("max", prior.max)) if v is not None)
        return f"{kind} {prior.ci:.0%} interval [{prior.lo:g}, {prior.hi:g}]{cut}"
    if isinstance(prior, (Uniform, LogUniform)):
        return f"{type(prior).__name__.lower()} [{prior.lo:g}, {prior.hi:g}]"
    return "a choice of " + ", ".join(_describe(c) for c in prior.components)


def practical_draws(key: Array, spec: PriorSpec, target: str, n: int, budget_usd: float | None = None) -> Practical:
    """The practical fraction (capped at 1) and the budget of ``target`` for ``n`` joint draws, from the
    prior file's ``[target]`` table or the defaults of :mod:`uncertainty.growth.targets`; ``budget_usd``
    (``--budget``) fixes the budget. A measured target (``hpcg``, ``hpl``, a CSV) has neither."""
    info = TARGETS.get(target)
    if info is None or not info.peak:
        return Practical(log2_scale=np.zeros(n), draws={}, text={})
    if budget_usd is not None and not (math.isfinite(budget_usd) and budget_usd > 0):
        raise DataError("--budget", None, f"a budget is a positive number of US dollars, got {budget_usd:g}")
    fraction = spec.target.fraction or LogNormal(*DEFAULT_FRACTION)
    draws = {"practical_fraction": np.minimum(_draw_prior(jax.random.fold_in(key, 0), fraction, n), 1.0)}
    text = {"fraction": _describe(fraction) + ("" if spec.target.fraction else " (default)")}
    if info.per_dollar:
        if budget_usd is not None:
            budget, said = Point(budget_usd), f"{budget_usd:g} USD (--budget)"
        elif spec.target.budget_usd is not None:
            budget, said = spec.target.budget_usd, _describe(spec.target.budget_usd) + " USD"
        else:
            budget = LogNormal(*DEFAULT_BUDGET_USD)
            said = _describe(budget) + " USD (default)"
        draws["budget_usd"] = _draw_prior(jax.random.fold_in(key, 1), budget, n)
        text["budget"] = said
    scale = sum(np.log2(v) for v in draws.values())
    return Practical(log2_scale=np.asarray(scale, dtype=np.float64), draws=draws, text=text)


def target_attrs(data: GrowthData, practical: Practical) -> dict:
    """Attributes naming the target, its source, what it counts and its last observation."""
    series = data.target_series
    info = TARGETS.get(data.target)
    attrs = {
        "last_observation": float(series.year[-1]),
        "last_value": float(series.flops[-1]),
        "last_label": one_line(str(series.labels[-1])),  # shown in the header: one printable line
        "last_system": one_line(str(series.systems[-1])),
    }
    if info is not None:
        attrs.update(
            target_counts=info.counts, target_quantity=info.quantity, target_what=info.what, data_source=info.source
        )
    if "fraction" in practical.text:
        attrs["fraction_prior"] = practical.text["fraction"]
    if "budget" in practical.text:
        attrs["budget_prior"] = practical.text["budget"]
    return attrs


def _brain_text(spec: PriorSpec, n: int) -> str:
    """The status line of the brain draws of a crossover."""
    return f"drawing {n:,} brain FLOP/s draws" + (" and conditioning them on [evidence]" if spec.evidence else "")


def _conditioning_attrs(conditioned) -> dict:
    """How the brain draws were conditioned on the file's [evidence] (nothing when it has none)."""
    return {} if conditioned is None else conditioning_attrs(conditioned, "brain_")


PATH_STEP = 0.25  # years between the points of a simulated future path


def future_paths(key, model, params, d, data: GrowthData, horizon: float) -> tuple[np.ndarray, Array]:
    """Times and log2 FLOP/s of the target: its last observation, then each draw's simulated future after it.

    The future is simulated from the model's last point (``d.t_last``: for a model that fits distinct
    measurements, the first list of the last one) on a grid of :data:`PATH_STEP` to ``horizon``, the model's
    path plus the HPCG efficiency ratio's random walk (capped at 100%) for the ``hpcg`` target; the points
    after the last observation are kept. A brain at or below the last observed value is crossed at the first
    point, the last observation ("already crossed"); no crossing is ever put inside or before the data.
    """
    target = data.target_series
    t_obs = float(target.year[-1])
    grid = np.arange(float(d.t_last) + PATH_STEP, horizon + PATH_STEP / 2, PATH_STEP)
    grid = np.append(grid[grid < horizon], horizon)
    k0, k1 = jax.random.split(key)
    future = model.paths(k0, params, d, jnp.asarray(grid))
    if d.rt is not None:
        future = future + ratio_paths(k1, params, d, jnp.asarray(grid))
    after = grid > t_obs + 1e-9
    last = jnp.full((future.shape[0], 1), float(target.log2_flops[-1]))
    return np.concatenate([[t_obs], grid[after]]), jnp.concatenate([last, future[:, after]], axis=1)


def _predictive_log2(key, model, params, d, t: np.ndarray) -> np.ndarray:
    """One posterior-predictive draw of the target's log2 FLOP/s at years ``t`` per posterior draw."""
    k0, k1, k2 = jax.random.split(key, 3)
    p = predict_after(model, k0, params, d, t)
    draws = predictive_samples(k1, p)
    if d.rt is not None:
        draws = draws + ratio_predictive_draw(k2, params, d, jnp.asarray(t))
    return np.asarray(draws)


def _loo_view(samples: dict[str, np.ndarray], last: int) -> az.InferenceData:
    """Posterior and pointwise log-likelihood (the ``last`` trend points and the ratio points) for LOO."""
    parts = [samples["log_lik"][..., -last:]] + ([samples["ratio_log_lik"]] if "ratio_log_lik" in samples else [])
    joint = np.concatenate(parts, axis=-1)
    return az.from_dict(posterior={"zero": np.zeros(joint.shape[:2])}, log_likelihood={"joint": joint})


def _stage_coords(spec) -> dict[str, list[str]]:
    return {"stage": list(spec.convention.stages)} if has_stages(spec) else {}


def growth_posterior(samples: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A growth fit's posterior by site, ``(chain, draw)``: its parameters, without the pointwise
    log-likelihoods and the per-knot shifts."""
    skip = {"log_lik", "ratio_log_lik", "shift"}
    return {k: v for k, v in samples.items() if k not in skip and v.ndim == 2}


def nuts_statistics(result) -> dict[str, np.ndarray]:
    """The ``sample_stats`` of a fit (a batch of one): divergences, acceptance rates, leapfrog steps."""
    return {"diverging": result.diverging[0], "acceptance_rate": result.accept_prob[0], "n_steps": result.num_steps[0]}


def _inference_data(spec, samples, result, brain, year, predictive, data, heldout, grid, o, n) -> az.InferenceData:
    chains, draws = year.shape
    post = growth_posterior(samples)
    post["crossover_year"] = year
    for name in (n for n in ("log10_brain_flops", "log10_class_flops", "log10_stage_flops", "scenario") if n in brain):
        post[name] = brain[name].reshape(chains, draws, *brain[name].shape[1:])
    log_lik = {k: samples[k] for k in ("log_lik", "ratio_log_lik") if k in samples}
    coords = {
        "neuron_class": list(spec.class_names),
        **_stage_coords(spec),
        "forecast_year": grid,
        "trend_list": list(data.trend.labels),
    }
    observed = {"trend_obs": data.trend.log2_flops, "trend_year": data.trend.year}
    obs_dims = {"trend_obs": ["trend_list"], "trend_year": ["trend_list"]}
    if data.practical is not None:
        coords["practical_list"] = list(data.practical.labels)
        observed.update(practical_obs=data.practical.log2_flops, practical_year=data.practical.year)
        obs_dims.update(practical_obs=["practical_list"], practical_year=["practical_list"])
    pp_dims = {"log2_flops_forecast": ["forecast_year"]}
    if heldout is not None:
        coords["heldout_list"] = list(heldout.labels)
        observed["heldout_log2_flops"] = heldout.log2_flops
        obs_dims["heldout_log2_flops"] = ["heldout_list"]
        pp_dims["log2_flops_heldout"] = ["heldout_list"]
    idata = az.from_dict(
        posterior=post,
        posterior_predictive={k: v for k, (_, v) in predictive.items()},
        log_likelihood=log_lik,
        observed_data=observed,
        sample_stats=nuts_statistics(result),
        coords=coords,
        dims={**{k: [d] for k, d in _BRAIN_DIMS.items() if k in post}, **obs_dims, **pp_dims},
    )
    if heldout is not None:
        idata.posterior_predictive = idata.posterior_predictive.assign_coords(
            heldout_year=("heldout_list", heldout.year)
        )
    return idata


# -- scenario model -----------------------------------------------------------


def _scenario(spec: PriorSpec, seed: int, o: ForecastOptions) -> az.InferenceData:
    if spec.growth is None:
        raise PriorError(spec.path, "growth", "missing: --model scenario needs a [growth] table")
    n = o.num_samples
    root = growth_key(seed)
    with step(o.status, _brain_text(spec, n)):
        brain, conditioned = brain_draws(spec, n, seed, progress=o.progress)
    growth = {}
    with jax.enable_x64(True):
        for i, name in enumerate(GROWTH_FIELDS):
            key = jax.random.fold_in(root, 100 + i)
            growth[name] = _draw_prior(key, getattr(spec.growth, name), n, GROWTH_FIELDS[name].positive)
        year = scenario_crossover_year(
            10.0 ** jnp.asarray(brain["log10_brain_flops"]),
            growth["start_flops"],
            growth["start_year"],
            growth["doubling_years"],
            whole_periods=spec.growth.whole_periods,
            horizon=o.horizon,
        )
    draws = {**{k: v for k, v in brain.items() if k.startswith("log10_")}, **growth, "crossover_year": np.asarray(year)}
    idata = az.from_dict(
        prior={k: v[None, ...] for k, v in draws.items()},
        coords={"neuron_class": list(spec.class_names), **_stage_coords(spec)},
        dims={k: [d] for k, d in _BRAIN_DIMS.items() if k in draws},
    )
    attrs = run_attrs(
        spec,
        seed=seed,
        num_samples=n,
        kind="crossover",
        series="scenario",
        model="scenario",
        horizon=o.horizon,
        whole_periods=int(spec.growth.whole_periods),
        precision="float64",
        **_conditioning_attrs(conditioned),
    )
    idata.prior.attrs.update(attrs)
    return idata
