"""Credible-interval tables of a run, via ArviZ.

Brain FLOP/s (every run): for log10 brain FLOP/s, brain FLOP/s, each class's and
each stage's share of the total: mean, sd, median, 5% and 95% quantiles, 90%
highest density interval, Monte Carlo standard errors of the mean and of the
median, bulk effective sample size.

Crossover runs add the crossover year (median, 5%/95%, 90% HDI of the draws that
cross, P(by 2030/2050/2100), P(no crossover by the horizon)), the growth fit
(ArviZ summary with R-hat, bulk/tail ESS, divergences), the LOO model comparison
and, with ``--data-until``, the backtest. Formats: table, markdown, json, csv.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
import pandas as pd
import xarray as xr

from .._arviz import az
from ..quantities import BY_YEARS, HDI_PROB, HEADLINE_YEAR, TAIL_THRESHOLDS, central, flops_interval
from .tables import (
    BRAIN_COLUMNS,
    FORMATS,
    INTERVALS_NOTE,
    Section,
    _prob,
    _year,
    tail_section,
)
from .tables import format_summary as format_summary
from .tables import render as render
from .tables import sensitivity_section as sensitivity_section

__all__ = [
    "FORMATS",
    "Section",
    "summary",
    "crossover_summary",
    "growth_summary",
    "growth_convergence",
    "growth_warning",
    "comparison_summary",
    "backtest_summary",
    "sensitivity",
    "report_sections",
    "growth_sections",
    "crossover_section",
    "render",
    "format_summary",
    "run_group",
    "is_conditioned",
    "resampled_ess",
    "resampling_note",
    "brain_title",
    "data_line",
    "target_section",
    "TargetRow",
]


def run_group(idata: az.InferenceData) -> str:
    """The group holding the run's draws: ``posterior`` if present, else ``prior``."""
    for group in ("posterior", "prior"):
        if group in idata.groups() and "log10_brain_flops" in idata[group]:
            return group
    if "posterior" in idata.groups() and idata.posterior.attrs.get("kind") == "crossover":  # a streamed run's fit
        return "posterior"
    raise KeyError("no group holds 'log10_brain_flops'")


def is_conditioned(idata: az.InferenceData) -> bool:
    """Whether the run is conditioned on a prior file's ``[evidence]``: its brain draws are a posterior (a
    ``sample`` run keeps the evidence in its attributes, a ``crossover`` run its brain draws' diagnostics)."""
    if "posterior" not in idata.groups():
        return False
    attrs = idata.posterior.attrs
    return "evidence" in attrs or "brain_pareto_k" in attrs


def brain_title(idata: az.InferenceData) -> str:
    """The title of the run's brain-FLOP/s table: says "posterior" for a run conditioned on evidence."""
    return "brain FLOP/s (posterior)" if is_conditioned(idata) else "brain FLOP/s"


# -- brain FLOP/s ----------------------------------------------------------------


def _quantities(ds: xr.Dataset) -> xr.Dataset:
    ds = ds[[v for v in ("log10_brain_flops", "log10_class_flops", "log10_stage_flops") if v in ds]].astype("float64")
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


def resampled_ess(attrs) -> float | None:
    """The effective sample size of a run's brain draws when they resample a smaller posterior, else ``None``.

    A PSIS posterior is its prior draws resampled by their weights: worth the importance ESS. A crossover's
    posterior brain draws are NUTS chains (or PSIS draws) resampled to the crossover's draw count: worth NUTS's
    bulk ESS (the smallest of the sampled sites') or the importance ESS. A ``sample`` run's NUTS draws keep their
    chains, and ArviZ's ESS of them is already right. ArviZ, which sees only the resample, would count each of
    its draws as independent."""
    for prefix in ("", "brain_"):
        method = attrs.get(prefix + "inference")
        if method == "PSIS":
            return float(attrs[prefix + "ess_importance"])
        if method == "NUTS" and prefix:
            return float(attrs[prefix + "ess_bulk"])
    return None


def _capped(mcse, ess, cap: float | None):
    """A Monte Carlo standard error from ``ess`` effective draws, recomputed for at most ``cap`` of them."""
    return mcse if cap is None else mcse * np.sqrt(np.maximum(np.asarray(ess, dtype=np.float64) / cap, 1.0))


def resampling_note(idata: az.InferenceData) -> str:
    """What the ESS and MCSE columns count, when the run's brain draws resample a smaller posterior."""
    attrs = idata[run_group(idata)].attrs
    cap = resampled_ess(attrs)
    if cap is None:
        return ""
    method = attrs.get("inference", attrs.get("brain_inference"))
    what = "PSIS importance ESS" if method == "PSIS" else "NUTS bulk ESS"
    return f"the brain draws resample a posterior worth {cap:.0f} independent draws ({what})"


def summary(idata: az.InferenceData) -> pd.DataFrame:
    """Brain FLOP/s: one row per quantity, one column per statistic (see module docstring).

    The HDI of brain FLOP/s is 10^(the HDI of log10 brain FLOP/s): the shortest interval in decades, not in
    FLOP/s (which, for draws spread over decades, hugs their lower end). A share's HDI is in its own units.
    Draws that resample a smaller posterior (:func:`resampled_ess`) have their ESS capped at that posterior's
    and their MCSEs grown to match."""
    group = run_group(idata)
    table = _stats_table(_quantities(idata[group]))
    ends = ["hdi_lo", "hdi_hi"]
    table.loc["brain FLOP/s", ends] = 10.0 ** table.loc["log10 brain FLOP/s", ends].to_numpy(dtype=np.float64)
    cap = resampled_ess(idata[group].attrs)
    if cap is not None:
        ess = table["ess_bulk"].to_numpy(dtype=np.float64)
        for column in ("mcse_mean", "mcse_median"):
            table[column] = _capped(table[column].to_numpy(dtype=np.float64), ess, cap)
        table["ess_bulk"] = np.minimum(ess, cap)
    return table


def _stats_table(ds: xr.Dataset) -> pd.DataFrame:
    """Monte Carlo statistics of every (chain, draw) variable of ``ds``, one row each."""
    hdi = az.hdi(ds, hdi_prob=HDI_PROB)
    mcse_mean = az.mcse(ds, method="mean")
    mcse_median = az.mcse(ds, method="median")
    ess = az.ess(ds, method="bulk")
    rows = {}
    for name, da in ds.data_vars.items():
        x = da.values.ravel()
        q5, median, q95 = central(x)
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
    return pd.DataFrame.from_dict(rows, orient="index", columns=BRAIN_COLUMNS)


# -- sensitivity -------------------------------------------------------------------


def sensitivity(idata: az.InferenceData, tail: float = 0.1) -> pd.DataFrame | None:
    """How much each stochastic parameter moves log10 brain FLOP/s, largest first.

    ``low``/``high``: the median of log10 brain FLOP/s over the draws where the
    parameter is in its lowest/highest ``tail`` (10%); ``swing = high - low`` (in
    decades); ``rank_corr``: Spearman's rank correlation. For a monotone one-parameter
    model, ``low`` and ``high`` are the brain FLOP/s at the parameter's 5% and 95%
    quantiles. None for runs without parameter draws.
    """
    from ..brain.sites import is_parameter_site

    ds = idata[run_group(idata)]
    classes = ds["neuron_class"].values.tolist() if "neuron_class" in ds.coords else []
    names = [
        v
        for v in ds.data_vars
        if is_parameter_site(v, classes) and ds[v].dims == ("chain", "draw") and np.ptp(ds[v].values) > 0
    ]
    if not names:
        return None
    y = ds["log10_brain_flops"].values.ravel().astype(np.float64)
    ry = _ranks(y)
    rows = {}
    for name in names:
        x = ds[name].values.ravel().astype(np.float64)
        lo_cut, hi_cut = np.quantile(x, [tail, 1.0 - tail])
        low, high = float(np.mean(y[x <= lo_cut])), float(np.mean(y[x >= hi_cut]))
        rx = _ranks(x)
        rows[name] = {"low": low, "high": high, "swing": high - low, "rank_corr": float(np.corrcoef(rx, ry)[0, 1])}
    table = pd.DataFrame.from_dict(rows, orient="index")
    return table.reindex(table["swing"].abs().sort_values(ascending=False).index)


def _ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="stable")
    ranks = np.empty(x.size)
    ranks[order] = np.arange(x.size)
    return ranks


# -- crossover year ----------------------------------------------------------------


def crossover_summary(idata: az.InferenceData) -> pd.DataFrame:
    """One row: the crossover year's quantiles, HDI, probabilities and Monte Carlo errors.

    Draws that never cross (``inf``) count in every quantile and probability: a
    quantile that falls among them is ``inf`` ("never"). The HDI is over the draws
    that cross. MCSEs come from ArviZ (never-crossing draws enter as a value past
    the horizon, which leaves ranks and indicators unchanged).
    """
    group = run_group(idata)
    da = idata[group]["crossover_year"]
    horizon = float(idata[group].attrs.get("horizon", np.inf))
    t_last = float(idata[group].attrs.get("last_observation", -np.inf))
    y = da.values
    finite = np.isfinite(y)
    big = np.where(finite, y, (horizon if np.isfinite(horizon) else np.nanmax(y[finite], initial=0.0)) + 1000.0)
    ds = xr.Dataset({"year": (da.dims, big)})
    already = y <= t_last
    cap = resampled_ess(idata[group].attrs)
    row: dict[str, float] = {}
    row["p_already"], row["mcse_p_already"] = _probability(da.dims, already, cap)
    q5, median, q95 = central(y, method="inverted_cdf")
    for name, value in (("median", median), ("q5", q5), ("q95", q95)):
        row[name] = -np.inf if value <= t_last else value  # among the draws already crossed: "already"
    crossing = y[finite & ~already].ravel()
    if crossing.size > 2:
        lo, hi = az.hdi(crossing, hdi_prob=HDI_PROB)
    elif crossing.size:  # one or two draws cross: their range
        lo, hi = crossing.min(), crossing.max()
    else:  # none crosses after the data by the horizon: all already crossed, or none ever
        lo = hi = -np.inf if already.all() else np.inf
    row["hdi_lo"], row["hdi_hi"] = float(lo), float(hi)
    for year in BY_YEARS:
        row[f"p_by_{year}"], row[f"mcse_p_by_{year}"] = _probability(da.dims, y <= year, cap)
    row["p_never"] = float((~finite).mean())
    ess = float(az.ess(ds, method="bulk")["year"])
    row["mcse_median"] = float(_capped(float(az.mcse(ds, method="median")["year"]), ess, cap))
    row["ess_bulk"] = ess if cap is None else min(ess, cap)
    return pd.DataFrame([row], index=["crossover year"])


def _priors_line(attrs) -> str:
    """Which priors the growth fit used (runs saved before pooled priors existed used the base priors)."""
    if attrs.get("growth_priors") == "pooled":
        return (
            f"{attrs.get('model')} with pooled priors: learned from the computing series (for a compute target, "
            "without its own series; see backtest --pool computing --priors pooled)"
        )
    return f"{attrs.get('model')} with its own (base) priors"


def _growth_vars(model: str | None) -> tuple[str, ...]:
    """The growth parameters a run of ``model`` summarises: a fitted model's, or the ``[growth]`` scenario's."""
    from ..brain.priors import GROWTH_FIELDS
    from ..growth.models import MODELS_BY_NAME

    if model in MODELS_BY_NAME:
        return (*MODELS_BY_NAME[model].summary_vars, "ratio_vol", "ratio_noise")
    return ("doubling_years", *(f for f in GROWTH_FIELDS if f != "doubling_years"))


def growth_summary(idata: az.InferenceData) -> pd.DataFrame:
    """ArviZ summary of the growth parameters (doubling periods in years), with R-hat and ESS.

    The median comes first: a doubling period is 1 / slope, whose mean and sd are
    pulled by slopes near zero.
    """
    group = run_group(idata)
    names = [v for v in _growth_vars(idata[group].attrs.get("model")) if v in idata[group]]
    table = az.summary(
        idata,
        group=group,
        var_names=names,
        hdi_prob=HDI_PROB,
        round_to="none",
        stat_funcs={"median": np.median},
        extend=True,
    )
    table = table.rename(columns={f"hdi_{(1 - HDI_PROB) / 2:.0%}": "hdi_lo", f"hdi_{(1 + HDI_PROB) / 2:.0%}": "hdi_hi"})
    columns = ("median", "mean", "sd", "hdi_lo", "hdi_hi", "mcse_mean", "ess_bulk", "ess_tail", "r_hat")
    keep = [c for c in columns if c in table]
    return table[keep]


def growth_convergence(table: pd.DataFrame) -> tuple[bool, str]:
    """Whether the growth fit's chains converged (largest R-hat <= 1.01, smallest bulk ESS >= 400, the
    evidence's rule), and a line saying so: the crossover years rest on it."""
    from ..brain.evidence import reliable_nuts

    if "r_hat" not in table or table.empty:
        return True, ""
    rhat, ess = float(table["r_hat"].max()), float(table["ess_bulk"].min())
    ok = reliable_nuts(rhat, ess)
    said = "converged"
    if not ok:
        said = "NOT CONVERGED: its crossover years are not to be trusted (raise --warmup or --samples)"
    return ok, f"growth fit: max R-hat {rhat:.3f}, smallest bulk ESS {ess:.0f}: {said}"


def growth_warning(idata: az.InferenceData) -> str | None:
    """The warning line of a crossover run whose growth fit did not converge (``None`` when it did, or has none)."""
    if run_group(idata) != "posterior" or "sample_stats" not in idata.groups():
        return None
    ok, line = growth_convergence(growth_summary(idata))
    return None if ok else f"warning: {line}"


def scenario_summary(idata: az.InferenceData) -> pd.DataFrame | None:
    """Statistics of the scenario's uncertain growth inputs (None when all are fixed)."""
    ds = idata[run_group(idata)]
    names = [v for v in ("start_flops", "start_year", "doubling_years") if v in ds and np.ptp(ds[v].values) > 0]
    return _stats_table(ds[names]) if names else None


def crossover_by_brain_scenario(idata: az.InferenceData) -> pd.DataFrame | None:
    """Per ``[scenarios]`` entry of the brain prior (e.g. a reading of the update rate): its share of the
    joint draws, their crossover year (median, 5%, 95%; ``inf``: not by the horizon) and P(by each year
    to the headline year). None for runs without brain scenarios."""
    ds = idata[run_group(idata)]
    names = str(ds.attrs.get("scenario_names", ""))
    if "scenario" not in ds or "crossover_year" not in ds or not names:
        return None
    index = ds["scenario"].values.ravel()
    y = ds["crossover_year"].values.ravel().astype(np.float64)
    rows = {}
    for k, name in enumerate(names.split(",")):
        sel = y[index == k]
        if sel.size == 0:
            continue
        q5, med, q95 = central(sel, method="inverted_cdf")
        rows[name] = {"share": sel.size / y.size, "median": med, "q5": q5, "q95": q95}
        rows[name].update({f"p_by_{b}": float(np.mean(sel <= b)) for b in BY_YEARS if b <= 2050})
    return pd.DataFrame.from_dict(rows, orient="index")


def crossover_by_scenario(idata: az.InferenceData, max_scenarios: int = 10) -> pd.DataFrame | None:
    """Crossover year for each distinct doubling period, when there are only a few (a choice of points)."""
    ds = idata[run_group(idata)]
    if "doubling_years" not in ds:
        return None
    d = ds["doubling_years"].values.ravel()
    y = ds["crossover_year"].values.ravel()
    values, counts = np.unique(d, return_counts=True)
    if len(values) > max_scenarios or counts.sum() != d.size or counts.min() < 2:
        return None
    rows = {}
    for v, c in zip(values, counts, strict=True):
        sel = y[d == v]
        q5, med, q95 = central(sel, method="inverted_cdf")
        rows[f"doubling every {v:g} y"] = {"share": c / d.size, "median": med, "q5": q5, "q95": q95}
    return pd.DataFrame.from_dict(rows, orient="index")


def divergences(idata: az.InferenceData) -> int | None:
    """Number of divergent NUTS transitions, or None for a run without MCMC."""
    if "sample_stats" in idata.groups() and "diverging" in idata.sample_stats:
        return int(idata.sample_stats["diverging"].sum())
    return None


def comparison_summary(idata: az.InferenceData) -> tuple[pd.DataFrame, str] | None:
    """The LOO comparison of the growth models saved with the run, and its notes."""
    text = idata[run_group(idata)].attrs.get("model_comparison")
    if not text:
        return None
    data = json.loads(text)
    table = pd.DataFrame.from_dict(data["rows"], orient="index")
    cols = [c for c in ("rank", "elpd_loo", "p_loo", "elpd_diff", "se", "dse", "weight", "warning") if c in table]
    note = f"preferred by LOO: {data['preferred']}"
    if any("Pareto" in n for n in data.get("notes", [])):
        note += " (ArviZ warned that some Pareto k > 0.7: influential points; read elpd with care)"
    return table[cols].astype(float), note


def backtest_summary(idata: az.InferenceData) -> tuple[pd.DataFrame, str] | None:
    """For each held-out list: observed value, predictive median and where it falls."""
    if "posterior_predictive" not in idata.groups() or "log2_flops_heldout" not in idata.posterior_predictive:
        return None
    pred = idata.posterior_predictive["log2_flops_heldout"]
    obs = idata.observed_data["heldout_log2_flops"]
    rows = {}
    for label in obs["heldout_list"].values:
        draws = pred.sel(heldout_list=label).values.ravel()
        y = float(obs.sel(heldout_list=label))
        pct = float((draws < y).mean())
        lo50, hi50, lo90, hi90 = np.quantile(draws, [0.25, 0.75, 0.05, 0.95])
        rows[str(label)] = {
            "observed": 2.0**y,
            "pred_median": 2.0 ** float(np.median(draws)),
            "pred_q5": 2.0**lo90,
            "pred_q95": 2.0**hi90,
            "percentile": pct,
            "in_50": float(lo50 <= y <= hi50),
            "in_90": float(lo90 <= y <= hi90),
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    until = idata[run_group(idata)].attrs.get("data_until")
    n = len(table)
    note = (
        f"backtest: fitted on lists up to {until}; of {n} later measurements "
        f"{int(table['in_50'].sum())} ({table['in_50'].mean():.0%}) fall inside the 50% interval and "
        f"{int(table['in_90'].sum())} ({table['in_90'].mean():.0%}) inside the 90% interval"
    )
    return table, note


def _crossover_section(idata: az.InferenceData) -> Section:
    resampled = resampling_note(idata)
    how = (
        f"; {resampled}: the year's ess and mcse count at most that many (an upper bound on its mcse)"
        if resampled
        else ""
    )
    return crossover_section(crossover_summary(idata), idata[run_group(idata)].attrs, how)


def _last_text(attrs) -> str:
    """``2.73e+20 OP/s (16-bit peak), 2025-07-22 (xAI Colossus Memphis Phase 3)``: a run's last observation."""
    value = attrs.get("last_value")
    head = "" if value is None else f"{float(value):.3g} {attrs.get('target_quantity', 'FLOP/s')}, "
    system = attrs.get("last_system")
    return f"{head}{attrs.get('last_label', '')}" + (f" ({system})" if system else "")


def data_line(attrs) -> str | None:
    """The crossover's data in one line: source, last observation, and the fraction and budget priors of a
    peak target (``None`` for a run that records none of them)."""
    if "last_observation" not in attrs:
        return None
    parts = [str(attrs["data_source"])] if attrs.get("data_source") else []
    parts.append(f"last observation {_last_text(attrs)}")
    if attrs.get("fraction_prior"):
        parts.append(f"practical fraction {attrs['fraction_prior']}")
    if attrs.get("budget_prior"):
        parts.append(f"budget {attrs['budget_prior']}")
    return "; ".join(parts)


class TargetRow(NamedTuple):
    """A crossover run against one compute target, as the target table needs it: the crossover-year row
    (:func:`crossover_summary`, or its streamed counterpart), the run's attributes and whether its growth fit
    converged."""

    year: pd.Series
    attrs: Mapping
    converged: bool


def _target_row(idata: az.InferenceData) -> TargetRow:
    converged, _ = growth_convergence(growth_summary(idata))
    return TargetRow(crossover_summary(idata).iloc[0], idata[run_group(idata)].attrs, converged)


def target_section(runs: Mapping[str, az.InferenceData | TargetRow], how: str = "") -> Section:
    """One row per compute target of crossover runs of one prior file (the same brain draws; kept runs, or
    :class:`TargetRow` of streamed ones): P(crossed by the target's last observation), the median and 90%
    interval of the crossover year, P(by 2030), P(by 2050), P(none by the horizon), the growth model and
    whether its fit converged."""
    from ..growth.pooled_hindcast import pooled_name

    rows, notes = {}, []
    targets = {k: v if isinstance(v, TargetRow) else _target_row(v) for k, v in runs.items()}
    for name, (year, attrs, converged) in targets.items():
        model = str(attrs["model"])
        rows[name] = {
            "last_obs": float(attrs["last_observation"]),
            "p_already": year["p_already"],
            "median": year["median"],
            "q5": year["q5"],
            "q95": year["q95"],
            **{f"p_by_{y}": year[f"p_by_{y}"] for y in BY_YEARS if y <= HEADLINE_YEAR},
            "p_none": year["p_never"],
            "model": pooled_name(model) if attrs.get("growth_priors") == "pooled" else model,
            "converged": "yes" if converged else "NO",
        }
        notes.append(f"{name}: {data_line(attrs)}; counts {attrs.get('target_counts', 'FLOP/s')}")
    horizon = float(next(iter(targets.values())).attrs.get("horizon", np.inf))
    table = pd.DataFrame.from_dict(rows, orient="index").rename(columns={"p_none": f"p_none_by_{horizon:g}"})
    formats = {c: _prob for c in table.columns if c.startswith("p_")}
    formats.update({c: _year for c in ("last_obs", "median", "q5", "q95")})
    note = "\n".join(
        [
            "p already: the share of draws whose brain lies at or below the target's practical value at its last "
            "observation (last obs); 'already': a quantile among them; 'never': among draws that do not cross by "
            "the horizon; converged: the growth fit's largest R-hat <= 1.01 and smallest bulk ESS >= 400" + how,
            *notes,
        ]
    )
    return Section("crossover year by target", table, index_name="target", formats=formats, note=note)


def scenario_table(idata: az.InferenceData) -> pd.DataFrame | None:
    """Per ``[scenarios]`` entry: its share of the draws and the median, 5% and 95% of brain FLOP/s in
    its draws. None for runs without scenarios."""
    ds = idata[run_group(idata)]
    names = str(ds.attrs.get("scenario_names", ""))
    if "scenario" not in ds or not names:
        return None
    index = ds["scenario"].values.ravel()
    x = ds["log10_brain_flops"].values.ravel().astype(np.float64)
    above = x > np.median(x)
    rows = {}
    for k, name in enumerate(names.split(",")):
        sel = x[index == k]
        held = float(np.sum(above & (index == k)) / max(int(above.sum()), 1))
        rows[name] = {"share": sel.size / x.size, **flops_interval(sel), "above_median": held}
    return pd.DataFrame.from_dict(rows, orient="index")


def scenario_note(table: pd.DataFrame) -> str:
    """The note under :func:`scenario_table`: what its columns are, and which scenario carries the result
    (holds most of the draws above the median)."""
    top = str(table["above_median"].idxmax())
    return (
        "share: the scenario's share of the draws (its weight, or its posterior probability given evidence, up to "
        "Monte Carlo error); above_median: its share of the draws above the median brain FLOP/s. "
        f"{top} carries the result: it holds {table.loc[top, 'above_median']:.0%} of the draws above the median"
    )


def evidence_tables(idata: az.InferenceData) -> tuple[pd.DataFrame, pd.DataFrame, str] | None:
    """For a run conditioned on ``[evidence]``: brain FLOP/s (and each scenario's share) in the prior
    and the posterior; each evidence item's measured interval beside its prior and posterior
    (median, 5%, 95%); and a note with the PSIS diagnostics. None for other runs."""
    if "posterior" not in idata.groups() or "prior" not in idata.groups():
        return None
    attrs = idata.posterior.attrs
    if "pareto_k" not in attrs:
        return None
    items = json.loads(attrs["evidence"])

    def stats_of(x):
        q5, q50, q95 = central(np.asarray(x, dtype=np.float64))
        return q50, q5, q95

    rows = {}
    for group in ("prior", "posterior"):
        rows[group] = flops_interval(idata[group]["log10_brain_flops"])
        if "scenario" in idata[group] and attrs.get("scenario_names"):
            index = idata[group]["scenario"].values.ravel()
            for k, name in enumerate(str(attrs["scenario_names"]).split(",")):
                rows[group][f"p_{name}"] = float(np.mean(index == k))
    brain = pd.DataFrame.from_dict(rows, orient="index")
    checks = {}
    for name, item in items.items():
        prior = stats_of(idata.prior[f"evidence_{name}"])
        post = stats_of(idata.posterior[f"evidence_{name}"])
        lo, hi = observed_interval(item)

        def inside(x, lo=lo, hi=hi):
            x = np.asarray(x, dtype=np.float64).ravel()
            return float(np.mean((x >= lo) & (x <= hi)))

        checks[name] = {
            "observed_lo": lo,
            "observed_hi": hi,
            "prior_median": prior[0],
            "posterior_median": post[0],
            "posterior_q5": post[1],
            "posterior_q95": post[2],
            "prior_inside": inside(idata.prior[f"evidence_{name}"]),
            "posterior_inside": inside(idata.posterior[f"evidence_{name}"]),
        }
    from ..brain.evidence import diagnosis_of

    note = diagnosis_of(attrs)
    if attrs.get("inference") == "PSIS":
        note += "; posterior draws are the prior draws resampled by weight: the tables count this ESS"
    return brain, pd.DataFrame.from_dict(checks, orient="index"), note


def evidence_sources(idata: az.InferenceData) -> dict[str, str]:
    """Each evidence item's ``source`` as its prior file gives it (items without one are left out)."""
    items = json.loads(idata.posterior.attrs.get("evidence", "{}"))
    return {name: str(item["source"]) for name, item in items.items() if item.get("source")}


def observed_interval(item: dict) -> tuple[float, float]:
    """An evidence item's measured interval ``(lo, hi)`` (as stored in a run's ``evidence`` attribute);
    a one-sided bound is open on its other side."""
    if item["kind"] == "upper":
        return -np.inf, item["lo"]
    if item["kind"] == "lower":
        return item["lo"], np.inf
    return item["lo"], item["hi"]


def choice_odds_table(idata: az.InferenceData) -> pd.DataFrame | None:
    """For a conditioned run with ``choice`` priors: each component's prior weight, posterior probability
    and Bayes factor (posterior odds / prior odds). None for other runs."""
    if "posterior" not in idata.groups() or "choice_odds" not in idata.posterior.attrs:
        return None
    rows = {}
    for site, odds in json.loads(idata.posterior.attrs["choice_odds"]).items():
        for label, prior, post in zip(odds["components"], odds["prior"], odds["posterior"], strict=True):
            with np.errstate(divide="ignore", invalid="ignore"):
                factor = (post / (1.0 - post)) / (prior / (1.0 - prior)) if 0 < prior < 1 else np.nan
            rows[f"{site}: {label}"] = {"prior": prior, "posterior": post, "bayes_factor": factor}
    return pd.DataFrame.from_dict(rows, orient="index") if rows else None


def tail_probabilities(idata: az.InferenceData, thresholds=TAIL_THRESHOLDS) -> dict[int, tuple[float, float]]:
    """P(brain FLOP/s > 10^k) over the run's draws (the posterior when there is one) and its MCSE (ArviZ's,
    of the indicator: ESS-based, so right for MCMC draws too; for at most :func:`resampled_ess` draws)."""
    group = run_group(idata)
    da = idata[group]["log10_brain_flops"]
    cap = resampled_ess(idata[group].attrs)
    return {k: _probability(da.dims, da.values > k, cap) for k in thresholds}


def _probability(dims, event: np.ndarray, cap: float | None = None) -> tuple[float, float]:
    """The share of draws (``dims``: chain, draw) where ``event`` holds and its Monte Carlo standard error
    (ArviZ's MCSE of the indicator's mean: ESS-based, right for MCMC draws; for at most ``cap`` effective draws
    when given; 0 when every draw agrees)."""
    indicator = xr.Dataset({"p": (dims, event.astype(np.float64))})
    p = float(indicator["p"].mean())
    if p in (0.0, 1.0):
        return p, 0.0
    mcse = float(az.mcse(indicator, method="mean")["p"])
    return p, mcse if cap is None else float(_capped(mcse, p * (1.0 - p) / mcse**2, cap))


def growth_sections(idata: az.InferenceData) -> list[Section]:
    """The growth fit's table (with its priors, divergences and convergence) and the LOO comparison."""
    n_div = divergences(idata)
    growth = growth_summary(idata)
    note = "" if n_div is None else f"NUTS divergences: {n_div}"
    attrs = idata[run_group(idata)].attrs
    note = "\n".join(line for line in (_priors_line(attrs), note, growth_convergence(growth)[1]) if line)
    sections = [Section("growth model", growth, index_name="parameter", note=note)]
    compared = comparison_summary(idata)
    if compared is not None:
        sections.append(Section("model comparison (LOO)", compared[0], index_name="model", note=compared[1]))
    return sections


def crossover_section(table: pd.DataFrame, attrs, how: str = "") -> Section:
    """The crossover-year table (a row of :func:`crossover_summary` or its streamed counterpart), its columns
    named by the run's last observation and horizon, with the note that says how to read it."""
    horizon = attrs.get("horizon", np.inf)
    t_last = attrs.get("last_observation")
    table = table.rename(columns={"p_never": f"p_none_by_{float(horizon):g}"})
    note = "'never': the quantile falls among draws that do not cross by the horizon; "
    if t_last is None:  # a run saved before the last observation was recorded
        table = table.drop(columns=["p_already", "mcse_p_already"])
        note += "the HDI is over the draws that cross"
    else:
        table = table.rename(columns={"p_already": f"p_crossed_by_{float(t_last):.1f}"})
        table = table.rename(columns={"mcse_p_already": f"mcse_p_crossed_by_{float(t_last):.1f}"})
        note += (
            f"'already': among draws whose brain lies at or below the target's last observed practical value "
            f"({_last_text(attrs)}); p crossed by {float(t_last):.1f}: their share; the HDI is over the draws that "
            "cross after the data"
        )
    formats = {c: _prob for c in table.columns if c.startswith(("p_", "mcse_p"))}
    formats.update({c: _year for c in ("median", "q5", "q95", "hdi_lo", "hdi_hi")})
    return Section("crossover year", table, formats=formats, note=note + how)


def report_sections(idata: az.InferenceData) -> list[Section]:
    """Every table that fits the run."""
    resampled = resampling_note(idata)
    resampled = f"; {resampled}: ess and mcse count at most that many" if resampled else ""
    brain_note = INTERVALS_NOTE + resampled
    sections = [Section(brain_title(idata), summary(idata), note=brain_note)]
    conditioned = evidence_tables(idata)
    if conditioned is not None:
        brain, checks, note = conditioned
        probs = {c: _prob for c in brain.columns if c.startswith("p_")}
        sections.append(Section("prior vs posterior", brain, index_name="group", formats=probs, note=note))
        note = (
            "observed: the measurement's interval (or bound); prior/posterior: the quantity's draws; "
            "inside: the share of them inside the observed interval (a predictive check)"
        )
        sources = evidence_sources(idata)
        if sources:
            note += "; sources: " + "; ".join(f"{name}: {text}" for name, text in sources.items())
        sections.append(
            Section(
                "evidence",
                checks,
                index_name="item",
                note=note,
                formats={"prior_inside": _prob, "posterior_inside": _prob},
            )
        )
        odds = choice_odds_table(idata)
        if odds is not None:
            note = (
                "each choice component's prior weight and posterior probability (the mean responsibility of the "
                "component for the posterior draws); bayes_factor = posterior odds / prior odds"
            )
            sections.append(
                Section(
                    "choice odds",
                    odds,
                    index_name="choice component",
                    formats={"prior": _prob, "posterior": _prob},
                    note=note,
                )
            )
    by_scenario = scenario_table(idata)
    if by_scenario is not None:
        sections.append(
            Section(
                "brain FLOP/s by scenario",
                by_scenario,
                index_name="scenario",
                formats={"share": _prob, "above_median": _prob},
                note=scenario_note(by_scenario),
            )
        )
    group = run_group(idata)
    how = "from the draws; mcse from ArviZ (ESS-based)" + resampled
    sections.append(tail_section(tail_probabilities(idata), how))
    if "crossover_year" not in idata[group]:
        table = sensitivity(idata)
        if table is not None:
            sections.append(sensitivity_section(table))
        return sections
    sections.append(_crossover_section(idata))
    if group == "prior":  # scenario mode: independent draws, no MCMC
        years = {c: _year for c in ("median", "q5", "q95")}
        by = crossover_by_scenario(idata)
        if by is not None:
            sections.append(
                Section("crossover year by scenario", by, index_name="scenario", formats={"share": _prob, **years})
            )
        growth = scenario_summary(idata)
        if growth is not None:
            sections.append(Section("growth scenario", growth))
        return sections
    by = crossover_by_brain_scenario(idata)
    if by is not None:
        years = {c: _year for c in ("median", "q5", "q95")}
        probs = {c: _prob for c in by.columns if c.startswith("p_by_")}
        note = "each scenario's joint draws: its share of them, their crossover year and P(crossed by each year)"
        sections.append(
            Section(
                "crossover year by scenario",
                by,
                index_name="scenario",
                formats={"share": _prob, **years, **probs},
                note=note,
            )
        )
    sections += growth_sections(idata)
    backtest = backtest_summary(idata)
    if backtest is not None:
        formats = {"percentile": _prob, "in_50": _prob, "in_90": _prob}
        sections.append(Section("backtest", backtest[0], index_name="list", formats=formats, note=backtest[1]))
    return sections
