"""Hindcasts pooled across technologies: Farmer & Lafond's (2016) protocol, the anchor of issue 21.

For each technology of a pool (:mod:`uncertainty.growth.pool`), every origin with ``m`` changes before
it, and every later point up to ``max_horizon`` years ahead: the random walk with drift estimated on the
``m`` most recent changes forecasts the point, and the error is normalised by the window's volatility.

Estimators (their eqs. 17-18, with a change of ``dt`` years counting ``dt`` times): drift
``mu = (y[i0] - y[i0-m]) / W`` over the window's span ``W`` (``m`` years for annual data), volatility
``K^2 = sum((dy - mu dt)^2 / dt) / (m - 1)``. The error ``E = y - (y[i0] + mu tau)`` at horizon ``tau``
normalised as ``eps = (E / K) / sqrt(A / (1 + theta^2))`` with
``A = -2 theta + (1 + 2 (m - 1) theta / m + theta^2) (tau + tau^2 / W)`` (their eq. 13; ``theta = 0``: the
plain random walk, ``A = tau + tau^2 / m``) is predicted to follow Student's t with ``m - 1`` degrees of
freedom (exactly for ``theta = 0`` and annual data; approximately otherwise). Farmer & Lafond found
``theta = 0.63`` (autocorrelated noise) matches their 53 technologies' errors, ``theta = 0`` too small.

Each (technology, origin, horizon) is a pair, scored as the predictive ``y[i0] + mu tau + K sqrt(A / (1 +
theta^2)) t(m - 1)``: PIT and the coverage of the central 50/80/90% intervals, CRPS and log score per unit
of the technology's volatility ``K`` (so technologies are comparable). Pooled with every technology weighted
equally (the mean of per-technology means), beside the spread across technologies; the mean squared
normalised error by horizon is Farmer & Lafond's Xi(tau) (their Fig. 6), every pair weighted equally as
they weight it. Positive errors are faster progress than forecast (``y`` is log performance).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from scipy import special, stats

from ..errors import DataError
from .pool import Technology, improving

__all__ = [
    "FL_MODELS",
    "PoolOptions",
    "pair_errors",
    "crps_student_t",
    "learn_priors",
    "model_hindcast",
    "pooled_name",
    "pooled_hindcast",
]

FL_MODELS = {"fl-randomwalk": 0.0, "fl-ima": 0.63}  # model name -> theta (Farmer & Lafond's matched value)
LEVELS = (0.5, 0.8, 0.9)
NOMINAL = np.round(np.arange(0.05, 1.0, 0.05), 2)  # central intervals of the coverage curves
EPS_GRID = np.arange(-8.0, 8.01, 0.25)  # normalised errors at which the empirical CDF is kept


@dataclass(frozen=True)
class PoolOptions:
    """Settings of a pooled hindcast (``uncertainty backtest --pool``)."""

    pool: tuple[str, ...] = ("pcdb",)
    m: int = 5  # changes in the estimation window (Farmer & Lafond: 5)
    max_horizon: float = 20.0  # years ahead (theirs: 20)
    level: float = 0.10  # the improvement filter's one-sided t-test level (theirs: 10%)
    models: tuple[str, ...] = ()  # growth models (NUTS) scored beside Farmer & Lafond's closed forms
    max_origins: int = 4  # origins per technology for the NUTS models, evenly spread
    max_points: int = 40  # points before an origin a NUTS model fits (the last ones)
    priors: tuple[str, ...] = ("base",)  # "base" (the models' own) and/or "pooled" (learned, leave one out)
    quick: bool = False  # short chains (a smoke test)
    seed: int = 0
    status: Callable[[str], None] | None = None

    def settings(self):
        from ..inference.nuts import NutsSettings

        return NutsSettings(150, 100, 2) if self.quick else NutsSettings(300, 200, 2)


def _window(t: np.ndarray, y: np.ndarray, i0: int, m: int) -> tuple[float, float, float] | None:
    """The span ``W``, drift ``mu`` and volatility ``K`` of the ``m`` changes ending at ``i0`` (eqs. 17-18, a
    change of ``dt`` years counting ``dt`` times); ``None`` for a window with a repeated date or no variation."""
    dt = np.diff(t[i0 - m : i0 + 1])
    dy = np.diff(y[i0 - m : i0 + 1])
    span = float(t[i0] - t[i0 - m])
    if span <= 0 or np.any(dt <= 0):
        return None
    mu = float(y[i0] - y[i0 - m]) / span
    k2 = float(np.sum((dy - mu * dt) ** 2 / dt)) / (m - 1)
    return (span, mu, math.sqrt(k2)) if k2 > 0 else None


def pair_errors(tech: Technology, m: int, max_horizon: float) -> dict[str, np.ndarray]:
    """Every (origin, later point) pair of one technology: the horizon ``tau`` (years), the window span ``W``
    (years), the error over the volatility ``E / K``; origins whose window has no variation are skipped."""
    t, y = tech.year, tech.y
    rows = {"origin": [], "tau": [], "span": [], "z": []}
    for i0 in range(m, len(t) - 1):
        window = _window(t, y, i0, m)
        if window is None:
            continue
        span, mu, k = window
        for j in range(i0 + 1, len(t)):
            tau = float(t[j] - t[i0])
            if tau > max_horizon + 1e-9:
                break
            if tau <= 1e-9:  # a second row of the origin's date: nothing to forecast
                continue
            rows["origin"].append(i0)
            rows["tau"].append(tau)
            rows["span"].append(span)
            rows["z"].append((float(y[j]) - (float(y[i0]) + mu * tau)) / k)
    return {key: np.asarray(v, dtype=np.int64 if key == "origin" else np.float64) for key, v in rows.items()}


def _a_star(tau: np.ndarray, span: np.ndarray, m: int, theta: float) -> np.ndarray:
    """Farmer & Lafond's A* over (1 + theta^2): the variance of the forecast error in units of K^2. Their
    formula counts whole yearly steps; a horizon under a year (irregular series) takes the share ``tau`` of
    the one-year value (the ``-2 theta`` term would otherwise make it negative)."""

    def a(h):
        return (-2.0 * theta + (1.0 + 2.0 * (m - 1) * theta / m + theta**2) * (h + h**2 / span)) / (1.0 + theta**2)

    return np.where(tau >= 1.0, a(np.maximum(tau, 1.0)), tau * a(np.ones_like(tau)))


def crps_student_t(z: np.ndarray, df: float) -> np.ndarray:
    """CRPS of the standard Student-t with ``df`` > 1 degrees of freedom at ``z`` (closed form: Jordan,
    Krueger & Lerch 2019, the ``scoringRules`` formula)."""
    z = np.asarray(z, dtype=np.float64)
    pdf, cdf = stats.t.pdf(z, df), stats.t.cdf(z, df)
    b = special.beta(0.5, df - 0.5) / special.beta(0.5, df / 2.0) ** 2
    return z * (2.0 * cdf - 1.0) + 2.0 * pdf * (df + z**2) / (df - 1.0) - 2.0 * math.sqrt(df) * b / (df - 1.0)


def _score(z: np.ndarray, scale: np.ndarray, df: float) -> dict[str, np.ndarray]:
    eps = z / scale
    return {
        "pit": stats.t.cdf(eps, df),
        "crps": scale * crps_student_t(eps, df),
        "log_score": stats.t.logpdf(eps, df) - np.log(scale),
        "eps": eps,
    }


def pooled_hindcast(technologies: list[Technology], options: PoolOptions = PoolOptions()) -> dict:
    """Scores of the Farmer & Lafond models on a pool, as a JSON-ready dict (see the module docstring)."""
    from .hindcast import check_models

    check_models(options.models)
    m = options.m
    if m < 4:
        raise ValueError("the window needs m >= 4 changes (the normalised errors' variance is finite for m > 3)")
    df = float(m - 1)
    kept, dropped = [], []
    for tech in technologies:
        ok, p = improving(tech, options.level)
        long_enough = len(tech) >= m + 2  # at least one origin with a later point
        (kept if ok and long_enough else dropped).append(
            {"name": tech.name, "points": len(tech), "p_value": p, "improving": ok, "long_enough": long_enough}
        )
    by_name = {t.name: t for t in technologies}
    pairs = {k["name"]: pair_errors(by_name[k["name"]], m, options.max_horizon) for k in kept}
    pairs = {name: p for name, p in pairs.items() if len(p["z"])}
    if not pairs:
        raise DataError(
            "--pool",
            None,
            f"no technology of {len(technologies)} passes the rules (progress at 10% in a one-sided t-test, at "
            f"least {m + 2} points, a window with some variation)",
        )
    models = {}
    for model, theta in FL_MODELS.items():
        per_tech: dict[str, dict] = {}
        all_eps, all_tau, all_z2, all_pred = [], [], [], []
        for name, p in pairs.items():
            scale = np.sqrt(_a_star(p["tau"], p["span"], m, theta))
            s = _score(p["z"], scale, df)
            per_tech[name] = _tech_scores(s["pit"], s["crps"], s["log_score"], p["origin"])
            all_eps.append(s["eps"])
            all_tau.append(p["tau"])
            all_z2.append(p["z"] ** 2)
            all_pred.append(df / (df - 2.0) * scale**2)  # E[(E/K)^2] predicted: t variance x A*/(1+theta^2)
        eps, tau = np.concatenate(all_eps), np.concatenate(all_tau)
        z2, pred = np.concatenate(all_z2), np.concatenate(all_pred)
        bands = {}
        for h in range(1, int(math.ceil(options.max_horizon)) + 1):
            sel = (tau > h - 1 + 1e-9) & (tau <= h + 1e-9)
            if sel.any():
                bands[str(h)] = {
                    "pairs": int(sel.sum()),
                    "xi": float(z2[sel].mean()),
                    "xi_predicted": float(pred[sel].mean()),
                }
        models[model] = {
            "theta": theta,
            **_pooled(per_tech),
            "per_pair": {
                f"cov_{round(100 * lv)}": float(np.mean(np.abs(stats.t.cdf(eps, df) - 0.5) <= lv / 2)) for lv in LEVELS
            },
            "eps_quantiles": {str(q): float(np.quantile(eps, q)) for q in (0.05, 0.25, 0.5, 0.75, 0.95)},
            "eps_quantiles_predicted": {str(q): float(stats.t.ppf(q, df)) for q in (0.05, 0.25, 0.5, 0.75, 0.95)},
            "xi_by_horizon": bands,
            "coverage_curve": _coverage_curve(stats.t.cdf(eps, df)),
            "eps_cdf": {
                "eps": EPS_GRID.tolist(),
                "observed": [float(np.mean(eps <= e)) for e in EPS_GRID],
                "predicted": stats.t.cdf(EPS_GRID, df).tolist(),
            },
        }
    from ..choices import GROWTH_MODELS
    from .models import POOLED_SITES

    status = options.status or (lambda text: None)
    for name in options.models:
        key = jax.random.fold_in(jax.random.key(options.seed), GROWTH_MODELS.index(name))  # the same alone or not
        for priors in options.priors:
            pooled = priors == "pooled"
            if pooled and name not in POOLED_SITES:  # nothing to pool (linear, changepoint): no row
                continue
            status(
                f"fitting {name}{' with pooled priors (leave one technology out)' if pooled else ''} at every "
                f"origin of {len(pairs)} technologies (one compiled program) ..."
            )
            row = pooled_name(name) if pooled else name
            models[row] = model_hindcast([by_name[t] for t in pairs], name, options, key, pooled=pooled)
    return {
        "kind": "pooled backtest",
        "pool": list(options.pool),
        "m": m,
        "max_horizon": options.max_horizon,
        "technologies_total": len(technologies),
        "technologies_kept": len(pairs),
        "max_origins": options.max_origins,
        "dropped": [d for d in dropped],
        "models": models,
    }


def _coverage_curve(pit: np.ndarray) -> dict:
    """The share of pairs inside the central interval of each nominal probability (every pair weighted
    equally; calibrated forecasts follow the diagonal)."""
    return {
        "nominal": NOMINAL.tolist(),
        "observed": [float(np.mean(np.abs(pit - 0.5) <= p / 2)) for p in NOMINAL],
    }


def pooled_name(model: str) -> str:
    """The row name of a model fitted with pooled priors."""
    return f"{model}+pooled"


def _tech_scores(pit: np.ndarray, crps: np.ndarray, log_score: np.ndarray, origin: np.ndarray) -> dict:
    """One technology's mean coverage (50/80/90), CRPS and log score over its pairs, with the counts."""
    return {
        **{f"cov_{round(100 * lv)}": float(np.mean(np.abs(pit - 0.5) <= lv / 2)) for lv in LEVELS},
        "crps": float(np.mean(crps)),
        "log_score": float(np.mean(log_score)),
        "pairs": int(len(pit)),
        "origins": int(len(np.unique(origin))),
    }


def _pooled(per_tech: dict[str, dict]) -> dict:
    """Technologies weighted equally: the mean of their scores, the 10th and 90th percentiles across them."""
    table = {c: [v[c] for v in per_tech.values()] for c in ("cov_50", "cov_80", "cov_90", "crps", "log_score")}
    return {
        "technologies": len(per_tech),
        "pairs": int(sum(v["pairs"] for v in per_tech.values())),
        "pooled": {c: float(np.mean(v)) for c, v in table.items()},
        "spread": {c: [float(q) for q in np.quantile(v, [0.1, 0.9])] for c, v in table.items()},
        "per_technology": per_tech,
    }


def _origins(tech: Technology, m: int, max_horizon: float, most: int) -> list[int]:
    """Up to ``most`` origins of a technology, evenly spread over those with ``m`` changes before them, a
    window with some variation and a later point within ``max_horizon``."""
    ok = sorted(set(pair_errors(tech, m, max_horizon)["origin"].tolist()))
    if len(ok) <= most:
        return ok
    return sorted({ok[round(i)] for i in np.linspace(0, len(ok) - 1, most)})


def _fit_window(tech: Technology, i0: int, length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The last ``length`` points up to index ``i0`` (log2 units) and the whole years a ``regimes`` slope may
    shift at."""
    lo = max(0, i0 + 1 - length)
    t_fit, y_fit = tech.year[lo : i0 + 1], tech.y[lo : i0 + 1] / math.log(2.0)
    knots = np.arange(math.ceil(t_fit[0]), math.floor(t_fit[-1]) + 1, dtype=np.float64)
    return t_fit, y_fit, knots


def _min_span(model: str) -> float:
    return 4.0 if model in ("changepoint", "regimes") else 0.0  # their change needs > 4 years (as crossover's)


def _long_enough(window: tuple[np.ndarray, np.ndarray, np.ndarray], model: str) -> bool:
    """Whether a fit window spans more than the model needs (:func:`_min_span`)."""
    return window[0][-1] - window[0][0] > _min_span(model)


def _run_fits(model: str, windows: list, options: PoolOptions, key, priors: list | None = None):
    """NUTS fits of ``model`` to every ``(t, y, knots)`` window (padded and masked: one compiled program), each
    with its pooled prior (``priors[i]``, site -> ``(loc, scale)``) or the base priors. Returns the result and
    the batched data."""
    from ..inference.nuts import run_nuts
    from .models import MODELS_BY_NAME, pad_fit_data

    n_knots = max(len(w[2]) for w in windows)
    fits = [
        pad_fit_data(
            t,
            y,
            options.max_points,
            np.concatenate([kn, np.full(n_knots - len(kn), 1e4)]),
            prior=None if priors is None else priors[i],
        )
        for i, (t, y, kn) in enumerate(windows)
    ]
    batch = jax.tree_util.tree_map(lambda *xs: jnp.asarray(np.stack([np.asarray(x) for x in xs])), *fits)
    return run_nuts(key, MODELS_BY_NAME[model].model, batch, options.settings()), batch


def learn_priors(
    technologies: list[Technology],
    model: str,
    options: PoolOptions,
    key,
    leave_out: dict[str, set[str]] | None = None,
) -> tuple[dict, dict]:
    """Pooled priors of ``model`` learned from a pool (:mod:`uncertainty.growth.population`; stage 1 fits each
    technology's last ``max_points`` points). ``leave_out``: fold name -> the technologies that fold does not
    learn from (default: each technology's own fold leaves it out). Returns ``({fold: {site: (loc, scale)}},
    population summary)``, the summary from the whole pool; technologies too short for the model (a change
    model's window of 4 years or less) neither learn nor get a fold."""
    from .models import is_positive
    from .population import fit_population, prior_dict

    last = {t.name: _fit_window(t, len(t) - 1, options.max_points) for t in technologies}
    names = [n for n, w in last.items() if _long_enough(w, model)]
    if len(names) < 2:
        raise DataError("--priors", None, f"{model}: pooled priors need at least 2 technologies to learn from")
    if leave_out is None:
        leave_out = {n: {n} for n in names}
    windows = [last[n] for n in names]
    with jax.enable_x64(True):
        stage1, _ = _run_fits(model, windows, options, jax.random.fold_in(key, 0))
    folds = np.array([[True] * len(names)] + [[n not in out for n in names] for out in leave_out.values()])
    fit = fit_population(jax.random.fold_in(key, 1), model, stage1.samples, folds)
    priors = {fold: prior_dict(fit, 1 + i) for i, fold in enumerate(leave_out)}
    summary = {
        "technologies": names,
        "max_rhat": float(np.max(fit.rhat)),
        "divergences": int(fit.divergences.sum()),
        "sites": {
            s: {
                "family": "lognormal" if is_positive(model, s) else "normal",
                "loc": [float(q) for q in np.quantile(fit.loc[0, ..., i], [0.05, 0.5, 0.95])],
                "scale": [float(q) for q in np.quantile(fit.scale[0, ..., i], [0.05, 0.5, 0.95])],
                "prior": [float(v) for v in fit.prior[0, i]],
            }
            for i, s in enumerate(fit.sites)
        },
    }
    return priors, summary


def model_hindcast(technologies: list[Technology], model: str, options: PoolOptions, key, pooled: bool = False) -> dict:
    """One growth model of :mod:`uncertainty.growth.models` fitted by NUTS at the origins of every technology
    (the last ``max_points`` points before each origin, padded and masked: one compiled program for the
    pool), scored at the later points within ``max_horizon`` years as the closed-form models are (CRPS and
    log score per unit of the origin window's volatility ``K``). Values in log2 units (the models' priors
    are in doublings). ``pooled``: each technology's fits use the pooled priors learned from the other
    technologies (:func:`learn_priors`, leave one technology out) instead of the base priors."""
    from .models import MODELS_BY_NAME, predict_after
    from .scores import score

    gm = MODELS_BY_NAME[model]
    m, most = options.m, options.max_origins
    priors, population = (None, None)
    if pooled:
        priors, population = learn_priors(technologies, model, options, jax.random.fold_in(key, 7))
    items = []  # (technology, origin index, fit window, target times, target values, K)
    skipped = 0
    for tech in technologies:
        y2 = tech.y / math.log(2.0)
        for i0 in _origins(tech, m, options.max_horizon, most):
            window = _fit_window(tech, i0, options.max_points)
            if not _long_enough(window, model) or (priors is not None and tech.name not in priors):
                skipped += 1
                continue
            later = (tech.year > tech.year[i0] + 1e-9) & (tech.year <= tech.year[i0] + options.max_horizon + 1e-9)
            _, _, k = _window(tech.year, y2, i0, m)  # an origin of pair_errors: its window has variation
            items.append((tech.name, i0, window, tech.year[later], y2[later], k))
    if not items:
        raise DataError(
            "--model", None, f"{model}: no origin of the pool has a fit window over {_min_span(model):g} years"
        )
    with jax.enable_x64(True):
        result, batch = _run_fits(
            model,
            [it[2] for it in items],
            options,
            jax.random.fold_in(key, 0),
            None if priors is None else [priors[it[0]] for it in items],
        )
        per_tech_rows: dict[str, list] = {}
        for b, (name, i0, _, t_later, y_later, k) in enumerate(items):
            params = {v: jnp.asarray(x[b].reshape(-1, *x.shape[3:])) for v, x in result.samples.items()}
            d = jax.tree_util.tree_map(lambda x, b=b: x[b], batch)
            kb = jax.random.fold_in(key, 1 + b)
            p = predict_after(gm, jax.random.fold_in(kb, 0), params, d, t_later)
            sc = score(jax.random.fold_in(kb, 1), p, jnp.asarray(y_later))
            rows = per_tech_rows.setdefault(name, [])
            for j in range(len(t_later)):
                rows.append(
                    (i0, float(sc["pit"][j]), float(sc["crps"][j]) / k, float(sc["log_score"][j]) + math.log(k))
                )
    per_tech, all_pit = {}, []
    for name, rows in per_tech_rows.items():
        origin, pit, crps, logs = (np.array(c) for c in zip(*rows, strict=True))
        per_tech[name] = _tech_scores(pit, crps, logs, origin)
        all_pit.append(pit)
    from ..inference.nuts import rhat

    r = [
        float(np.nanmax(rhat(result.samples[v])))
        for v in gm.summary_vars
        if v in result.samples and result.samples[v].ndim == 3
    ]
    out = {
        "fitted": len(items),
        "skipped": skipped,
        "max_rhat": max(r) if r else float("nan"),
        "divergences": int(result.divergences().sum()),
        **_pooled(per_tech),
        "coverage_curve": _coverage_curve(np.concatenate(all_pit)),
    }
    if pooled:
        out["population"] = population
        out["priors"] = {name: {s: [float(v) for v in lp] for s, lp in p.items()} for name, p in priors.items()}
    return out
