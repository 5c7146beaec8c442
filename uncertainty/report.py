"""Credible-interval tables of a run, via ArviZ.

For log10 brain FLOP/s, brain FLOP/s, each class's share and each stage's
share of the total: mean, sd, median, 5% and 95% quantiles, 90% highest
density interval, Monte Carlo standard errors of the mean and of the median,
and the bulk effective sample size. Formats: table, markdown, json, csv.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ._arviz import az

__all__ = ["FORMATS", "HDI_PROB", "summary", "format_summary", "run_group"]

FORMATS = ("table", "markdown", "json", "csv")
HDI_PROB = 0.9
_COLUMNS = ["mean", "sd", "median", "q5", "q95", "hdi_lo", "hdi_hi", "mcse_mean", "mcse_median", "ess_bulk"]


def run_group(idata: az.InferenceData) -> str:
    """The group holding the run's draws: ``posterior`` if present, else ``prior``."""
    for group in ("posterior", "prior"):
        if group in idata.groups() and "log10_brain_flops" in idata[group]:
            return group
    raise KeyError("no group holds 'log10_brain_flops'")


def _quantities(ds: xr.Dataset) -> xr.Dataset:
    total = ds["log10_brain_flops"]
    out = {"log10 brain FLOP/s": total, "brain FLOP/s": 10.0**total}
    if "log10_class_flops" in ds:
        per_class = 10.0 ** (ds["log10_class_flops"] - total)
        for name in per_class["neuron_class"].values:
            out[f"share of class {name}"] = per_class.sel(neuron_class=name, drop=True)
    if "log10_stage_flops" in ds:
        per_stage = 10.0 ** (ds["log10_stage_flops"] - total)
        for name in per_stage["stage"].values:
            out[f"share of stage {name}"] = per_stage.sel(stage=name, drop=True)
    return xr.Dataset(out)


def summary(idata: az.InferenceData) -> pd.DataFrame:
    """One row per quantity, one column per statistic (see module docstring)."""
    ds = _quantities(idata[run_group(idata)])
    hdi = az.hdi(ds, hdi_prob=HDI_PROB)
    mcse_mean = az.mcse(ds, method="mean")
    mcse_median = az.mcse(ds, method="median")
    ess = az.ess(ds, method="bulk")
    rows = {}
    for name, da in ds.data_vars.items():
        x = da.values.ravel()
        q5, median, q95 = np.quantile(x, [0.05, 0.5, 0.95])
        rows[name] = [
            x.mean(),
            x.std(ddof=1) if x.size > 1 else np.nan,
            median,
            q5,
            q95,
            float(hdi[name].sel(hdi="lower")),
            float(hdi[name].sel(hdi="higher")),
            float(mcse_mean[name]),
            float(mcse_median[name]),
            float(ess[name]),
        ]
    return pd.DataFrame.from_dict(rows, orient="index", columns=_COLUMNS)


_HEADERS = {
    "mean": "mean",
    "sd": "sd",
    "median": "median",
    "q5": "5%",
    "q95": "95%",
    "hdi_lo": f"hdi {HDI_PROB:.0%} lo",
    "hdi_hi": f"hdi {HDI_PROB:.0%} hi",
    "mcse_mean": "mcse mean",
    "mcse_median": "mcse median",
    "ess_bulk": "ess bulk",
}


def _fmt(value: float) -> str:
    return "nan" if not np.isfinite(value) else f"{value:.4g}"


def format_summary(table: pd.DataFrame, fmt: str = "table", header: dict[str, Any] | None = None) -> str:
    """Render :func:`summary` as a terminal table, Markdown, JSON or CSV."""
    if fmt == "json":
        rows = [{"quantity": q, **{k: _json_float(v) for k, v in row.items()}} for q, row in table.iterrows()]
        return json.dumps({**(header or {}), "hdi_prob": HDI_PROB, "rows": rows}, indent=2, default=_json_default)
    if fmt == "csv":
        return table.rename_axis("quantity").to_csv(float_format="%.10g").rstrip("\n")
    cells = [[q] + [_fmt(v) for v in row] for q, row in table.iterrows()]
    head = ["quantity"] + [_HEADERS[c] for c in table.columns]
    lines = []
    if header:
        lines += [f"{k}: {v}" for k, v in header.items()]
        lines.append("")
    if fmt == "markdown":
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "|".join([":---"] + ["---:"] * (len(head) - 1)) + "|")
        lines += ["| " + " | ".join(r) + " |" for r in cells]
        return "\n".join(lines)
    if fmt != "table":
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    widths = [max(len(r[i]) for r in [head] + cells) for i in range(len(head))]
    just = [str.ljust] + [str.rjust] * (len(head) - 1)
    for r in [head] + cells:
        lines.append("  ".join(j(c, w) for j, c, w in zip(just, r, widths, strict=False)))
    return "\n".join(lines)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):  # attributes read back from netCDF are NumPy scalars
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _json_float(v: float) -> float | None:
    return float(v) if np.isfinite(v) else None
