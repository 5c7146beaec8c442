"""Hindcast scores as tables: one series' rolling-origin backtest and the pooled hindcast across technologies."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from ..choices import DEFAULT_MODEL
from ..growth.models import POOLED_SITES
from .tables import Section, render

__all__ = ["backtest_table", "render_backtest", "render_pooled"]


def backtest_table(summary: dict):
    """One row per model and horizon band (``all`` first): coverage 50/80/90, CRPS, log score, counts."""
    rows = {}
    for name, m in summary["models"].items():
        for label, entry in [("all", m), *m["by_horizon"].items()]:
            if not entry["pairs"]:  # a horizon band no pair reaches (a short series): no row, never a 'nan'
                continue
            cov = entry["coverage"]
            rows[(name, label)] = {
                "cov_50": cov.get("50"),
                "cov_80": cov.get("80"),
                "cov_90": cov.get("90"),
                "crps": entry["crps"],
                "log_score": entry["log_score"],
                "pairs": entry["pairs"],
                "origins": entry["origins"],
            }
    table = pd.DataFrame.from_dict(rows, orient="index").astype(float)
    table.index = [f"{n} {h}" for n, h in table.index]
    return table


def render_backtest(summary: dict, fmt: str = "table") -> str:
    """The hindcast scores as a table (or Markdown, CSV); ``json`` gives the dict of
    :func:`uncertainty.growth.hindcast.summarize_backtest`."""
    if fmt == "json":
        return json.dumps(summary, indent=2)
    diag = "; ".join(
        f"{n}: max R-hat {m['max_rhat']:.3f}, {m['divergences']} divergences" for n, m in summary["models"].items()
    )
    chosen = summary["default"]
    crossover = summary.get("crossover_default", DEFAULT_MODEL)
    if chosen is None:
        choice = f"no model chosen by this hindcast: {summary['default_reason']}; 'crossover' uses {crossover}"
    elif chosen == crossover:
        choice = f"chosen by this hindcast: {chosen} ({summary['default_reason']}); 'crossover' uses it by default"
    else:
        choice = (
            f"chosen by this hindcast: {chosen} ({summary['default_reason']}); 'crossover --model {chosen}' uses it "
            f"(crossover's default is {crossover}, chosen across the technologies of the performance curve database, "
            "see backtest --pool)"
        )
    note = f"{choice}\nPairs share origins and data, so they are dependent. NUTS: {diag}"
    if summary.get("priors") == "pooled":
        note += (
            f"\npriors: pooled ({', '.join(POOLED_SITES)}), learned from the computing series "
            "other than this one (python -m uncertainty.growth.pooled_priors)"
        )
    for warning in summary.get("warnings", []):
        note += f"\nwarning: {warning}"
    counts = {"pairs": lambda v: f"{v:.0f}", "origins": lambda v: f"{v:.0f}"}
    fmts = {c: (lambda v: "nan" if np.isnan(v) else f"{v:.3f}") for c in ("cov_50", "cov_80", "cov_90", "crps")}
    table = backtest_table(summary)
    section = Section("backtest", table, index_name="model horizon", formats={**fmts, **counts}, note=note)
    return render([section], fmt)


def _json_safe(value):
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def render_pooled(summary: dict, fmt: str = "table") -> str:
    """The pooled scores per model, Xi(tau) against its prediction, and the normalised errors' quantiles."""
    if fmt == "json":  # JSON has no inf or NaN: an R-hat of chains that never mixed is "inf", a missing one null
        return json.dumps(_json_safe(summary), indent=2, allow_nan=False)
    rows = {}
    for name, mdl in summary["models"].items():
        p, s = mdl["pooled"], mdl["spread"]
        rows[name] = {
            "theta": f"{mdl['theta']:g}" if "theta" in mdl else "-",
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
    counts = {"technologies": lambda v: f"{v:.0f}", "pairs": lambda v: f"{v:.0f}"}
    dropped = summary["dropped"]
    note = (
        f"pool {' + '.join(summary['pool'])}: {summary['technologies_kept']} of {summary['technologies_total']} "
        f"technologies pass the rules (a one-sided t-test rejects 'no progress' at 10%, and at least m + 2 = "
        f"{summary['m'] + 2} points); {len(dropped)} left out. Window m = {summary['m']} changes, horizons up to "
        f"{summary['max_horizon']:g} years. Pooled: each technology weighted equally; cov 90 p10/p90: the spread of "
        "the technologies' 90% coverage. CRPS and log score per unit of each technology's volatility."
    )
    fitted = {n: mdl for n, mdl in summary["models"].items() if "fitted" in mdl}
    if fitted:
        note += (
            f" NUTS models, on up to {summary['max_origins']} origins per technology (fewer pairs than the closed "
            "forms, which score every origin): "
            + "; ".join(
                f"{n}: {mdl['fitted']} fits, max R-hat {mdl['max_rhat']:.3g}, {mdl['divergences']} divergences"
                + (
                    f" (population: max R-hat {mdl['population']['max_rhat']:.3g}, "
                    f"{mdl['population']['divergences']} divergences)"
                    if "population" in mdl
                    else ""
                )
                + (
                    f", {mdl['skipped']} origins skipped (a fit window of 4 years or less)"
                    if mdl.get("skipped")
                    else ""
                )
                for n, mdl in fitted.items()
            )
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
        for h, band in mdl.get("xi_by_horizon", {}).items():
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
