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
from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from .pool import Technology, improving

__all__ = ["FL_MODELS", "PoolOptions", "pair_errors", "crps_student_t", "pooled_hindcast", "render_pooled"]

FL_MODELS = {"fl-randomwalk": 0.0, "fl-ima": 0.63}  # model name -> theta (Farmer & Lafond's matched value)
LEVELS = (0.5, 0.8, 0.9)


@dataclass(frozen=True)
class PoolOptions:
    """Settings of a pooled hindcast (``uncertainty backtest --pool``)."""

    pool: tuple[str, ...] = ("pcdb",)
    m: int = 5  # changes in the estimation window (Farmer & Lafond: 5)
    max_horizon: float = 20.0  # years ahead (theirs: 20)
    level: float = 0.10  # the improvement filter's one-sided t-test level (theirs: 10%)


def pair_errors(tech: Technology, m: int, max_horizon: float) -> dict[str, np.ndarray]:
    """Every (origin, later point) pair of one technology: the horizon ``tau`` (years), the window span ``W``
    (years), the error over the volatility ``E / K``; origins whose window has no variation are skipped."""
    t, y = tech.year, tech.y
    rows = {"origin": [], "tau": [], "span": [], "z": []}
    for i0 in range(m, len(t) - 1):
        dt = np.diff(t[i0 - m : i0 + 1])
        dy = np.diff(y[i0 - m : i0 + 1])
        span = float(t[i0] - t[i0 - m])
        if span <= 0 or np.any(dt <= 0):
            continue
        mu = float(y[i0] - y[i0 - m]) / span
        k2 = float(np.sum((dy - mu * dt) ** 2 / dt)) / (m - 1)
        if not k2 > 0:
            continue
        k = math.sqrt(k2)
        for j in range(i0 + 1, len(t)):
            tau = float(t[j] - t[i0])
            if tau > max_horizon + 1e-9:
                break
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
    models = {}
    for model, theta in FL_MODELS.items():
        per_tech = {}
        all_eps, all_tau, all_z2, all_pred = [], [], [], []
        for name, p in pairs.items():
            scale = np.sqrt(_a_star(p["tau"], p["span"], m, theta))
            s = _score(p["z"], scale, df)
            per_tech[name] = {
                **{f"cov_{round(100 * lv)}": float(np.mean(np.abs(s["pit"] - 0.5) <= lv / 2)) for lv in LEVELS},
                "crps": float(np.mean(s["crps"])),
                "log_score": float(np.mean(s["log_score"])),
                "pairs": int(len(p["z"])),
                "origins": int(len(np.unique(p["origin"]))),
            }
            all_eps.append(s["eps"])
            all_tau.append(p["tau"])
            all_z2.append(p["z"] ** 2)
            all_pred.append(df / (df - 2.0) * scale**2)  # E[(E/K)^2] predicted: t variance x A*/(1+theta^2)
        eps, tau = np.concatenate(all_eps), np.concatenate(all_tau)
        z2, pred = np.concatenate(all_z2), np.concatenate(all_pred)
        table = {c: [v[c] for v in per_tech.values()] for c in ("cov_50", "cov_80", "cov_90", "crps", "log_score")}
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
            "technologies": len(per_tech),
            "pairs": int(eps.size),
            "pooled": {c: float(np.mean(v)) for c, v in table.items()},
            "spread": {c: [float(q) for q in np.quantile(v, [0.1, 0.9])] for c, v in table.items()},
            "per_pair": {
                f"cov_{round(100 * lv)}": float(np.mean(np.abs(stats.t.cdf(eps, df) - 0.5) <= lv / 2)) for lv in LEVELS
            },
            "eps_quantiles": {str(q): float(np.quantile(eps, q)) for q in (0.05, 0.25, 0.5, 0.75, 0.95)},
            "eps_quantiles_predicted": {str(q): float(stats.t.ppf(q, df)) for q in (0.05, 0.25, 0.5, 0.75, 0.95)},
            "xi_by_horizon": bands,
            "per_technology": per_tech,
        }
    return {
        "kind": "pooled backtest",
        "pool": list(options.pool),
        "m": m,
        "max_horizon": options.max_horizon,
        "technologies_total": len(technologies),
        "technologies_kept": len(pairs),
        "dropped": [d for d in dropped],
        "models": models,
    }


def render_pooled(summary: dict, fmt: str = "table") -> str:
    """The pooled scores per model, Xi(tau) against its prediction, and the normalised errors' quantiles."""
    import json

    import pandas as pd

    from ..output.tables import Section, render

    if fmt == "json":
        return json.dumps(summary, indent=2)
    rows = {}
    for name, mdl in summary["models"].items():
        p, s = mdl["pooled"], mdl["spread"]
        rows[name] = {
            "theta": mdl["theta"],
            "cov_50": p["cov_50"],
            "cov_80": p["cov_80"],
            "cov_90": p["cov_90"],
            "cov_90_p10": s["cov_90"][0],
            "cov_90_p90": s["cov_90"][1],
            "crps": p["crps"],
            "log_score": p["log_score"],
            "technologies": mdl["technologies"],
            "pairs": mdl["pairs"],
        }
    fmt3 = {c: (lambda v: f"{v:.3f}") for c in ("cov_50", "cov_80", "cov_90", "cov_90_p10", "cov_90_p90", "crps")}
    counts = {"technologies": lambda v: f"{v:.0f}", "pairs": lambda v: f"{v:.0f}", "theta": lambda v: f"{v:g}"}
    dropped = summary["dropped"]
    note = (
        f"pool {' + '.join(summary['pool'])}: {summary['technologies_kept']} of {summary['technologies_total']} "
        f"technologies pass the rules (a one-sided t-test rejects 'no progress' at 10%, and at least m + 2 = "
        f"{summary['m'] + 2} points); {len(dropped)} left out. Window m = {summary['m']} changes, horizons up to "
        f"{summary['max_horizon']:g} years. Pooled: each technology weighted equally; cov 90 p10/p90: the spread of "
        "the technologies' 90% coverage. CRPS and log score per unit of each technology's volatility."
    )
    sections = [
        Section(
            "pooled hindcast",
            pd.DataFrame.from_dict(rows, orient="index"),
            index_name="model",
            formats={**fmt3, **counts},
            note=note,
        )
    ]
    xi = {}
    for name, mdl in summary["models"].items():
        for h, band in mdl["xi_by_horizon"].items():
            row = xi.setdefault(int(h), {"pairs": band["pairs"], "xi": band["xi"]})
            row[f"predicted_{name}"] = band["xi_predicted"]
    table = pd.DataFrame.from_dict(xi, orient="index").sort_index()
    sections.append(
        Section(
            "mean squared normalised error by horizon",
            table,
            index_name="horizon (years)",
            formats={"pairs": lambda v: f"{v:.0f}"},
            note="xi: the mean of (E/K)^2 over the pairs at that horizon (every pair weighted equally, as Farmer & "
            "Lafond's Fig. 6); predicted: (m-1)/(m-3) x A*/(1+theta^2) for each model",
        )
    )
    return render(sections, fmt)
