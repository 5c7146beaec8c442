"""Crossover forecasts: brain FLOP/s draws joined with compute-growth draws.

Data models (``linear``, ``changepoint``): the growth model is fitted to the
benchmark history with NUTS; each posterior draw (chain c, draw i) is paired with
one independent brain-FLOP/s draw, and its trend gives the crossover year.
Scenario model: the ``[growth]`` priors of the prior file (the article's form)
are drawn instead. Either way the result is one ``InferenceData``.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from ._arviz import az
from .crossover import DEFAULT_HORIZON, first_crossing_at_kinks, scenario_crossover_year
from .distributions import to_distribution
from .engine import sample_brain
from .errors import DataError, PriorError
from .growth import GROWTH_MODELS, fit_growth, log2_target, predictive_log2, trend_params
from .history import GrowthData, Series, load_growth_data
from .io import run_attrs
from .priors import GROWTH_FIELDS, Point, PriorSpec

__all__ = ["MODELS", "ForecastOptions", "forecast", "LOG2_10"]

MODELS = (*GROWTH_MODELS, "scenario")
LOG2_10 = math.log2(10.0)
_BRAIN_DIMS = {"log10_class_flops": "neuron_class", "log10_stage_flops": "stage"}


@dataclass(frozen=True)
class ForecastOptions:
    """Settings of a crossover run (see ``uncertainty crossover --help``)."""

    series: str = "hpcg"
    model: str = "changepoint"
    data_until: int | None = None
    num_samples: int = 10_000
    num_warmup: int = 1000
    num_chains: int = 4
    horizon: float = DEFAULT_HORIZON
    compare: bool = True
    progress: bool = False


def forecast(spec: PriorSpec, seed: int, options: ForecastOptions = ForecastOptions()) -> az.InferenceData:
    """Draw the joint distribution of brain FLOP/s, compute growth and the crossover year."""
    if options.model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {options.model!r}")
    if not (math.isfinite(options.horizon) and options.horizon >= 2100):
        raise ValueError(f"horizon must be a year from 2100 on, got {options.horizon}")
    if options.model == "scenario":
        return _scenario(spec, seed, options)
    return _fitted(spec, seed, options)


# -- data models --------------------------------------------------------------


def _prepare(options: ForecastOptions) -> tuple[GrowthData, Series | None]:
    if options.num_chains < 2:
        raise DataError("--chains", None, "need at least 2 chains to check convergence (R-hat)")
    if options.num_samples < 4 * options.num_chains:
        raise DataError(
            "--samples",
            None,
            f"need at least 4 draws per chain ({4 * options.num_chains} for {options.num_chains} chains)",
        )
    data = load_growth_data(options.series).measurements()
    heldout = None
    if options.data_until is not None:
        first, last = math.floor(data.first_year), math.floor(data.last_year)
        if options.data_until < first:
            raise DataError(options.series, "--data-until", f"{options.data_until} is before the first list ({first})")
        heldout = data.target_series.after(options.data_until)
        if not len(heldout):
            raise DataError(
                options.series, "--data-until", f"no lists after {options.data_until} to backtest (last: {last})"
            )
        data = data.until(options.data_until)
    if len(data.trend) < 3:
        raise DataError(options.series, None, f"{len(data.trend)} measurements to fit; the growth models need 3")
    if data.practical is not None and len(data.practical) < 1:
        raise DataError(options.series, "--data-until", "leaves no HPCG measurement to fit")
    span = data.last_year - data.first_year
    if options.model == "changepoint" and span <= 4.0:
        raise DataError(options.series, None, f"data span {span:.1f} years; the change-point model needs more than 4")
    if len(np.unique(data.trend.year)) < 2:
        raise DataError(options.series, None, "all measurements are in the same year; no trend to fit")
    if options.horizon <= data.last_year:
        raise DataError("--horizon", None, f"{options.horizon:g} is not after the data ({data.last_year:.1f})")
    return data, heldout


def _joint_loglik(idata: az.InferenceData) -> az.InferenceData:
    """A view of ``idata`` whose log-likelihood holds all observations in one variable, for LOO."""
    ll = idata.log_likelihood
    parts = [ll[v].rename({ll[v].dims[-1]: "observation"}) for v in ll.data_vars]
    return az.InferenceData(
        posterior=idata.posterior, log_likelihood=xr.Dataset({"joint": xr.concat(parts, "observation")})
    )


def _compare(fits: dict[str, az.InferenceData]) -> dict:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = az.compare({k: _joint_loglik(v) for k, v in fits.items()}, ic="loo", var_name="joint")
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
    data, heldout = _prepare(o)
    root = growth_key(seed)
    per_chain = -(-o.num_samples // o.num_chains)
    n = per_chain * o.num_chains
    coords = {
        "trend_list": list(data.trend.labels),
        "neuron_class": list(spec.class_names),
        "stage": list(spec.convention.stages),
    }
    dims = {"trend_obs": ["trend_list"]}
    if data.practical is not None:
        coords["practical_list"] = list(data.practical.labels)
        dims["practical_obs"] = ["practical_list"]

    fits = {}
    with jax.enable_x64(True):
        for i, model in enumerate([o.model] + [m for m in GROWTH_MODELS if m != o.model and o.compare]):
            mcmc = fit_growth(
                jax.random.fold_in(root, 1 + i),
                data,
                model,
                num_warmup=o.num_warmup,
                num_samples=per_chain,
                num_chains=o.num_chains,
                progress=o.progress and i == 0,
            )
            fits[model] = (mcmc, az.from_numpyro(mcmc, coords=coords, dims=dims))
        mcmc, idata = fits[o.model]
        samples = {k: np.asarray(v) for k, v in mcmc.get_samples(group_by_chain=True).items()}

        brain = sample_brain(spec, n, seed)
        log10_brain = brain["log10_brain_flops"].reshape(o.num_chains, per_chain)
        p = trend_params(samples, data)
        t_start = data.first_year
        log2_brain = log10_brain * LOG2_10
        year = first_crossing_at_kinks(lambda t: log2_target(p, t) - log2_brain, t_start, p.kinks(), o.horizon)
        grid = np.arange(math.ceil(data.first_year), 2101, dtype=np.float64)
        predictive = {
            "log2_flops_forecast": (
                ("chain", "draw", "forecast_year"),
                predictive_log2(jax.random.fold_in(root, 10), samples, data, grid),
            )
        }
        if heldout is not None and len(heldout):
            predictive["log2_flops_heldout"] = (
                ("chain", "draw", "heldout_list"),
                predictive_log2(jax.random.fold_in(root, 11), samples, data, heldout.year),
            )

    post = {"crossover_year": (("chain", "draw"), np.asarray(year))}
    for name in ("log10_brain_flops", "log10_class_flops", "log10_stage_flops"):
        value = brain[name].reshape(o.num_chains, per_chain, *brain[name].shape[1:])
        post[name] = (("chain", "draw") + ((_BRAIN_DIMS[name],) if name in _BRAIN_DIMS else ()), value)
    idata.posterior = idata.posterior.assign({k: xr.DataArray(v, dims=d) for k, (d, v) in post.items()}).assign_coords(
        neuron_class=coords["neuron_class"], stage=coords["stage"]
    )

    pp = xr.Dataset(
        {k: xr.DataArray(v, dims=d) for k, (d, v) in predictive.items()},
        coords={"chain": idata.posterior.chain, "draw": idata.posterior.draw, "forecast_year": grid},
    )
    observed = {}
    if heldout is not None and len(heldout):
        pp = pp.assign_coords(heldout_list=list(heldout.labels), heldout_year=("heldout_list", heldout.year))
        observed["heldout_log2_flops"] = xr.DataArray(
            heldout.log2_flops, dims=["heldout_list"], coords={"heldout_list": list(heldout.labels)}
        )
    idata.add_groups(posterior_predictive=pp)
    idata.observed_data = idata.observed_data.assign(trend_year=("trend_list", data.trend.year), **observed)
    if data.practical is not None:
        idata.observed_data = idata.observed_data.assign(practical_year=("practical_list", data.practical.year))

    attrs = run_attrs(
        spec,
        seed=seed,
        num_samples=n,
        kind="crossover",
        series=o.series,
        target=data.target,
        model=o.model,
        data_until=o.data_until,
        horizon=o.horizon,
        t_start=t_start,
        num_warmup=o.num_warmup,
        num_chains=o.num_chains,
        precision="float64",
    )
    if len(fits) > 1:
        attrs["model_comparison"] = json.dumps(_compare({k: v[1] for k, v in fits.items()}))
    for group in idata.groups():
        idata[group].attrs.update(attrs)
    return idata


# -- scenario model -----------------------------------------------------------


def _scenario(spec: PriorSpec, seed: int, o: ForecastOptions) -> az.InferenceData:
    if spec.growth is None:
        raise PriorError(spec.path, "growth", "missing: --model scenario needs a [growth] table")
    n = o.num_samples
    root = growth_key(seed)
    brain = sample_brain(spec, n, seed)
    growth = {}
    with jax.enable_x64(True):
        for i, name in enumerate(GROWTH_FIELDS):
            prior = getattr(spec.growth, name)
            if isinstance(prior, Point):
                growth[name] = np.full(n, prior.value)
            else:
                d = to_distribution(prior, GROWTH_FIELDS[name].positive)
                growth[name] = np.asarray(d.sample(jax.random.fold_in(root, 100 + i), (n,)))
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
        coords={"neuron_class": list(spec.class_names), "stage": list(spec.convention.stages)},
        dims={k: [d] for k, d in _BRAIN_DIMS.items()},
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
    )
    idata.prior.attrs.update(attrs)
    return idata
