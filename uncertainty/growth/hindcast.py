"""Rolling-origin hindcasts of the growth models: are their forecast intervals calibrated out of sample?

For every origin list from ``start`` to the last list minus one year, each model
is fitted on the data up to and including the origin, and its predictive
distribution is scored against the leader's value at every later list (the
leader at that date, repeated values included: "the fastest computer reaches X
at date t"). All origins of a model are fitted in one compiled NUTS program
(:mod:`uncertainty.inference.nuts`: the data padded to one shape, the kernel vmapped).

Scores (see :mod:`uncertainty.growth.scores`): coverage of the central 50/80/90%
intervals, the PIT histogram, CRPS (log2 units; lower is better) and the log
predictive density (higher is better), overall and by horizon (<= 3 y, 3-6 y,
> 6 y). Pairs from one origin share its fit and pairs of neighbouring origins
share most of their data, so the scores are dependent: the pair count overstates
the information, and the number of distinct origins is reported beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from ..choices import DEFAULT_MODEL
from ..errors import DataError
from ..inference.nuts import NutsSettings, Status, progress_lines, rhat, run_nuts, step, steps_text
from .history import GrowthData, Series, load_growth_data
from .models import (
    GROWTH_MODELS,
    MODELS_BY_NAME,
    POOLED_SITES,
    FitData,
    Predictive,
    pad_fit_data,
    ratio_predictive_draw,
)
from .scores import LEVELS, score

__all__ = [
    "HORIZONS",
    "BacktestOptions",
    "backtest",
    "summarize_backtest",
    "choose_default",
    "fit_data_at",
    "DEFAULT_START",
    "MIN_ORIGINS",
    "check_models",
    "MIN_PAIRS",
]

HORIZONS = (("<=3y", 0.0, 3.0), ("3-6y", 3.0, 6.0), (">6y", 6.0, math.inf))
DEFAULT_START = {"hpl": 2000, "hpcg": 2016}
PIT_BINS = 10
CALIBRATED = {"90": (0.85, 0.95), "50": (0.40, 0.60)}
MIN_ORIGINS = 5  # fewer distinct origins are too few to choose a model from (they share their data)
MIN_PAIRS = 30  # fewer scored pairs (per model) are too few as well


@dataclass(frozen=True)
class BacktestOptions:
    """Settings of a hindcast (see ``uncertainty backtest --help``)."""

    series: str = "hpl"
    unit: str | None = None  # of a CSV series without a unit column (default FLOP/s)
    models: tuple[str, ...] = GROWTH_MODELS
    start: int | None = None
    quick: bool = False
    num_warmup: int = 500
    num_samples: int = 250
    num_chains: int = 4
    seed: int = 0
    origin_step: int = 1
    priors: str = "base"  # or "pooled" (see fit_data_at)
    status: Status | None = None  # takes a line before and after each model's fit

    def settings(self) -> NutsSettings:
        if self.quick:
            return NutsSettings(num_warmup=200, num_samples=100, num_chains=4)
        return NutsSettings(self.num_warmup, self.num_samples, self.num_chains)

    def step(self) -> int:
        return 4 if self.quick else self.origin_step


def _knots(data: GrowthData) -> np.ndarray:
    return np.arange(math.ceil(data.first_year), math.floor(data.last_year) + 1, dtype=np.float64)


def _ratio(data: GrowthData, until: float) -> tuple[np.ndarray, np.ndarray]:
    """log2 HPCG / HPL of the leaders at each HPCG list up to ``until`` (same list labels)."""
    hpl = dict(zip(data.trend.labels, data.trend.log2_flops, strict=True))
    prac = data.practical
    keep = [i for i, t in enumerate(prac.year) if t <= until and prac.labels[i] in hpl]
    return prac.year[keep], np.array([prac.log2_flops[i] - hpl[prac.labels[i]] for i in keep])


def fit_data_at(data: GrowthData, model: str, until: float, priors: str = "base") -> FitData:
    """The data a model fits when it knows the lists up to decimal year ``until`` (padded to the full length).
    ``priors``: ``base`` (the model's own) or ``pooled`` (the shipped pooled priors for the target,
    :mod:`uncertainty.growth.pooled_priors`; a model without pooled sites keeps its own)."""
    trend = data.trend
    upto = trend._take(trend.year <= until + 1e-9)
    series = upto if MODELS_BY_NAME[model].fits == "lists" else upto.measurements()
    ratio = None
    if data.practical is not None:
        rt, ry = _ratio(data, until)
        ratio = (rt, ry, len(data.practical))
    lists = (float(upto.year[-1]), len(upto), len(upto.measurements()) - 1)
    prior = None
    if priors == "pooled" and model in POOLED_SITES:
        from .pooled_priors import pooled_prior

        prior = pooled_prior(model, data.target)
    return pad_fit_data(series.year, series.log2_flops, len(trend), _knots(data), ratio, lists, prior)


def _stack(items: list[FitData]) -> FitData:
    return jax.tree_util.tree_map(lambda *xs: jnp.asarray(np.stack([np.asarray(x) for x in xs])), *items)


def _check(data: GrowthData, target: Series, origins: np.ndarray, start: int, series: str) -> None:
    if not len(origins):
        last = math.floor(target.year.max())
        raise DataError(series, "--from", f"{start} leaves no origin a year before the last list ({last})")
    first_t = float(target.year[origins[0]])
    n_fit = int((data.trend.year <= first_t).sum())
    if n_fit < 5:
        raise DataError(series, "--from", f"{start} leaves {n_fit} points to fit at the first origin; need at least 5")
    n_distinct = len(data.trend.measurements().until(math.floor(first_t)))
    if n_distinct < 3:
        raise DataError(series, "--from", f"{start} leaves {n_distinct} distinct measurements to fit; need at least 3")
    if first_t - data.first_year <= 4.0:
        raise DataError(series, "--from", f"the first origin ({first_t:.1f}) must follow more than 4 years of data")


def origins_of(target: Series, start: int, step: int = 1) -> np.ndarray:
    """Indices of the origin lists of ``target``: calendar year >= ``start``, a year before its last list."""
    idx = np.flatnonzero((np.floor(target.year) >= start) & (target.year <= target.year.max() - 1.0 + 1e-9))
    return idx[::step]


def check_models(models) -> None:
    """One line (:class:`DataError` on ``--model``) for a name that is not a growth model."""
    unknown = [m for m in models if m not in MODELS_BY_NAME]
    if unknown:
        raise DataError("--model", None, f"unknown model {unknown[0]!r} (expected {', '.join(GROWTH_MODELS)} or all)")


def backtest(options: BacktestOptions | None = None) -> xr.Dataset:
    """Run the rolling-origin hindcast of ``options.models``; one row per (model, origin, later list)."""
    options = options or BacktestOptions()
    check_models(options.models)
    data = load_growth_data(options.series, options.unit)
    target = data.target_series
    start = options.start if options.start is not None else _default_start(options.series, target)
    origins = origins_of(target, start, options.step())
    _check(data, target, origins, start, options.series)
    settings = options.settings()
    t_targets = np.asarray(target.year)
    y_targets = np.asarray(target.log2_flops)
    root = jax.random.key(options.seed)

    per_model = {}
    with jax.enable_x64(True):
        for m_index, name in enumerate(options.models):
            model = MODELS_BY_NAME[name]
            text = f"fitting {name} at {len(origins)} origins ({steps_text(settings)} each) and scoring it"
            with step(options.status, text):
                fits = _stack([fit_data_at(data, name, float(target.year[o]), options.priors) for o in origins])
                key = jax.random.fold_in(root, m_index)
                progress = progress_lines(options.status, f"fitting {name} at {len(origins)} origins")
                result = run_nuts(jax.random.fold_in(key, 0), model.model, fits, settings, progress=progress)
                scores = _score_all(jax.random.fold_in(key, 1), model, result.samples, fits, t_targets, y_targets)
                diag = _diagnostics(result, model)
            per_model[name] = (scores, diag)
    return _dataset(per_model, target, origins, options, start)


def _default_start(series: str, target: Series) -> int:
    if series in DEFAULT_START:
        return DEFAULT_START[series]
    n = len(target)
    return math.floor(target.year[min(max(5, n // 3), n - 1)])


def _score_all(key, model, samples, fits: FitData, t, y) -> dict[str, np.ndarray]:
    draws = {k: v.reshape(v.shape[0], -1, *v.shape[3:]) for k, v in samples.items()}
    t = np.asarray(t)
    y = jnp.asarray(y)

    def one(key, params, d):
        k0, k1, k2 = jax.random.split(key, 3)
        p = model.predict(k0, params, d, t)
        if d.rt is not None:
            p = Predictive(p.loc + ratio_predictive_draw(k1, params, d, jnp.asarray(t)), p.scale, p.df)
        return score(k2, p, y)

    keys = jax.random.split(key, fits.t.shape[0])
    out = jax.lax.map(lambda args: one(*args), (keys, draws, fits))
    return {k: np.asarray(v) for k, v in out.items()}


def _diagnostics(result, model) -> dict[str, np.ndarray]:
    names = [v for v in model.summary_vars if v in result.samples and result.samples[v].ndim == 3]
    names += [v for v in ("ratio_vol", "ratio_noise") if v in result.samples]
    r = np.stack([rhat(result.samples[v]) for v in names], axis=-1)
    return {"max_rhat": np.nanmax(r, axis=-1), "divergences": result.divergences()}


def _dataset(per_model, target: Series, origins: np.ndarray, options: BacktestOptions, start: int) -> xr.Dataset:
    rows = {k: [] for k in ("model", "origin", "target", "horizon", "pit", "crps", "log_score")}
    diag = {"max_rhat": [], "divergences": []}
    for name, (scores, d) in per_model.items():
        for b, o in enumerate(origins):
            later = np.flatnonzero(target.year > target.year[o] + 1e-9)
            for j in later:
                rows["model"].append(name)
                rows["origin"].append(target.labels[o])
                rows["target"].append(target.labels[j])
                rows["horizon"].append(float(target.year[j] - target.year[o]))
                for k in ("pit", "crps", "log_score"):
                    rows[k].append(float(scores[k][b, j]))
        diag["max_rhat"].append(d["max_rhat"])
        diag["divergences"].append(d["divergences"])
    ds = xr.Dataset(
        {
            "model": ("pair", np.array(rows["model"], dtype=str)),
            "origin": ("pair", np.array(rows["origin"], dtype=str)),
            "target": ("pair", np.array(rows["target"], dtype=str)),
            "horizon": ("pair", np.array(rows["horizon"])),
            "pit": ("pair", np.array(rows["pit"])),
            "crps": ("pair", np.array(rows["crps"])),
            "log_score": ("pair", np.array(rows["log_score"])),
            "max_rhat": (("fitted_model", "origin_list"), np.array(diag["max_rhat"])),
            "divergences": (("fitted_model", "origin_list"), np.array(diag["divergences"])),
        },
        coords={"fitted_model": list(per_model), "origin_list": [target.labels[o] for o in origins]},
    )
    settings = options.settings()
    ds.attrs.update(
        kind="backtest",
        series=options.series,
        start=start,
        quick=int(options.quick),
        seed=options.seed,
        priors=options.priors,
        num_warmup=settings.num_warmup,
        num_samples=settings.num_samples,
        num_chains=settings.num_chains,
    )
    return ds


def summarize_backtest(ds: xr.Dataset) -> dict:
    """Scores per model, overall and by horizon, as a JSON-ready dict: ``default`` is the model this
    hindcast's rule chooses (:func:`choose_default`; ``crossover`` uses it only when named with ``--model``),
    ``crossover_default`` the model ``crossover`` uses by default, ``warnings`` what makes the choice weak."""
    models = {}
    for name in ds["fitted_model"].values:
        sel = ds["model"].values == name
        entry = _scores(ds, sel)
        entry["by_horizon"] = {
            label: _scores(ds, sel & (ds["horizon"].values > lo) & (ds["horizon"].values <= hi))
            for label, lo, hi in HORIZONS
        }
        hist, _ = np.histogram(ds["pit"].values[sel], bins=PIT_BINS, range=(0.0, 1.0))
        entry["pit_histogram"] = [int(h) for h in hist]
        entry["max_rhat"] = float(np.nanmax(ds["max_rhat"].sel(fitted_model=name).values))
        entry["divergences"] = int(ds["divergences"].sel(fitted_model=name).values.sum())
        models[str(name)] = entry
    default, reason = choose_default(models)
    origins = int(ds.sizes["origin_list"])
    pairs = min(m["pairs"] for m in models.values())
    quick = bool(int(ds.attrs.get("quick", 0)))
    warnings = []
    if origins < MIN_ORIGINS or pairs < MIN_PAIRS:
        default = None  # a handful of dependent pairs cannot rank models
        reason = (
            f"{origins} origin{'s' if origins != 1 else ''} and {pairs} pairs are too few to choose from "
            f"(at least {MIN_ORIGINS} origins and {MIN_PAIRS} pairs)"
        )
        warnings.append(
            f"only {origins} distinct origin{'s' if origins != 1 else ''} and {pairs} pairs: too few to choose a "
            f"model from; start earlier (--from){', drop --quick' if quick else ''} or give a longer series"
        )
    if quick:
        warnings.append("--quick is a smoke test (every 4th origin, short chains): do not choose a model from it")
    return {
        "default": default,
        "default_reason": reason,
        "crossover_default": DEFAULT_MODEL,
        "priors": str(ds.attrs.get("priors", "base")),
        "origins": origins,
        "quick": quick,
        "warnings": warnings,
        "models": models,
    }


def _scores(ds: xr.Dataset, sel: np.ndarray) -> dict:
    pit = ds["pit"].values[sel]
    if not len(pit):
        return {
            "coverage": {_level(p): None for p in LEVELS},
            "crps": None,
            "log_score": None,
            "below_median": None,
            "pairs": 0,
            "origins": 0,
        }
    return {
        "coverage": {_level(p): float(np.mean(np.abs(pit - 0.5) <= p / 2)) for p in LEVELS},
        "crps": float(np.mean(ds["crps"].values[sel])),
        "log_score": float(np.mean(ds["log_score"].values[sel])),
        "below_median": float(np.mean(pit < 0.5)),  # later values below the predictive median (0.5 if unbiased)
        "pairs": int(sel.sum()),
        "origins": int(len(np.unique(ds["origin"].values[sel]))),
    }


def _level(p: float) -> str:
    return f"{round(100 * p)}"


def choose_default(models: dict) -> tuple[str, str]:
    """Best mean CRPS among calibrated models (90% coverage in [0.85, 0.95], 50% in [0.40, 0.60]);
    if none is calibrated, the best calibrated (smallest coverage error at 50% and 90%)."""

    def ok(m):
        c = m["coverage"]
        return all(lo <= c[k] <= hi for k, (lo, hi) in CALIBRATED.items())

    calibrated = [n for n, m in models.items() if ok(m)]
    if calibrated:
        best = min(calibrated, key=lambda n: models[n]["crps"])
        return best, "best mean CRPS among the calibrated models"
    best = min(models, key=lambda n: abs(models[n]["coverage"]["90"] - 0.9) + abs(models[n]["coverage"]["50"] - 0.5))
    return best, "no model is calibrated; the one closest to nominal coverage"
