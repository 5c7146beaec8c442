"""Figures of a run: brain FLOP/s, contributions, crossover-year CDF, growth fit, prior comparison.

Every function takes an ``InferenceData`` run (or several) and returns a
Matplotlib ``Figure`` sized for a paper column (6.5 x 4 inches), with a title,
axis labels carrying units, and a legend. :func:`write_figures` writes every
figure that fits a run. ArviZ draws the forest plots.
"""

from __future__ import annotations

import ast
import json
import math
import os
import tempfile
import tomllib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from .._arviz import az
from ..errors import OutputError, RunFileError, one_line
from ..literature import ESTIMATES
from ..quantities import BY_YEARS, HDI_PROB, central, p_by
from .report import is_conditioned, observed_interval, run_group, sensitivity

__all__ = [
    "FIGURE_SIZE",
    "brain_flops_figure",
    "contributions_figure",
    "counts_cdf_figure",
    "crossover_cdf_figure",
    "growth_fit_figure",
    "compare_figure",
    "sensitivity_figure",
    "pooled_errors_figure",
    "save_figure",
    "check_figure_path",
    "figures_for",
    "write_figures",
]

FIGURE_SIZE = (6.5, 4.0)  # inches: one paper column at readable font sizes
_REFERENCE_STYLE = {"color": "0.35", "linestyle": ":", "linewidth": 1.0}


def _pyplot():
    import matplotlib.pyplot as plt  # Matplotlib picks Agg by itself where there is no display

    # text is drawn as written: names from files ("cost $\frac{1}$ per spike") are not mathtext
    plt.rcParams["text.parse_math"] = False
    return plt


def _plain_texts(fig) -> None:
    """Escape the control characters of every text of ``fig`` (names from files), line by line, as errors
    escape them (:func:`uncertainty.errors.one_line`): a glyph no font has would warn when drawn."""
    from matplotlib.text import Text

    for text in fig.findobj(Text):
        value = text.get_text()
        if value and not value.replace("\n", "").isprintable():
            text.set_text("\n".join(one_line(line) for line in value.split("\n")))


def _new(rows: int = 1, cols: int = 1, **kwargs):
    plt = _pyplot()
    fig, ax = plt.subplots(rows, cols, figsize=kwargs.pop("figsize", FIGURE_SIZE), layout="constrained", **kwargs)
    return fig, ax


def _draws(idata: az.InferenceData, name: str) -> np.ndarray:
    return np.asarray(idata[run_group(idata)][name].values, dtype=np.float64)


def _mark_estimates(ax, lo: float, hi: float, text: bool = True) -> None:
    """Vertical reference lines at the literature estimates (log10 FLOP/s) inside [lo, hi]."""
    for e in ESTIMATES:
        x = math.log10(e.flops)
        if lo <= x <= hi:
            ax.axvline(x, label=f"_{e.label}", gid=f"estimate:{e.label}", **_REFERENCE_STYLE)
            if text:
                ax.text(
                    x,
                    0.98,
                    f" {e.label}",
                    rotation=90,
                    va="top",
                    ha="right",
                    fontsize=7,
                    color="0.3",
                    transform=ax.get_xaxis_transform(),
                )


def brain_flops_figure(idata: az.InferenceData, bins: int = 80):
    """Histogram of log10 brain FLOP/s, 90% HDI and median, with other authors' estimates marked."""
    x = _draws(idata, "log10_brain_flops").ravel()
    finite = x[np.isfinite(x)]  # check_plottable made sure there is one
    note = "" if finite.size == x.size else f"; {x.size - finite.size:,} non-finite left out"
    x = finite
    posterior = is_conditioned(idata)
    fig, ax = _new()
    ax.hist(x, bins=bins, density=True, color="tab:blue", alpha=0.6, label="posterior draws" if posterior else "draws")
    lo, hi = az.hdi(x, hdi_prob=HDI_PROB)
    ax.axvspan(lo, hi, color="tab:blue", alpha=0.08, label=f"{HDI_PROB:.0%} HDI [{lo:.1f}, {hi:.1f}]")
    med = float(np.median(x))
    ax.axvline(med, color="tab:blue", linewidth=2, label=f"median {med:.2f} (= {10**med:.2g} FLOP/s)")
    left, right = min(x.min() - 0.5, 14.5), max(x.max() + 0.5, 25.5)  # every literature estimate in view
    _mark_estimates(ax, left, right)
    ax.set_xlim(left, right)
    ax.set_xlabel("brain computation, log10 FLOP/s")
    ax.set_ylabel("probability density per log10 unit")
    name = idata[run_group(idata)].attrs.get("prior_name", "")
    what = "posterior" if posterior else "priors"
    ax.set_title(f"Brain FLOP/s ({name} {what}, {x.size:,} draws{note})")
    fig.legend(loc="outside lower center", ncol=3, fontsize=8)
    return fig


def _edges(x: np.ndarray, bins: int) -> np.ndarray:
    lo, hi = np.quantile(x, [0.001, 0.999])
    return np.linspace(lo, hi if hi > lo else lo + 1e-9, bins + 1)


def prior_posterior_figure(idata: az.InferenceData, bins: int = 80):
    """A run conditioned on ``[evidence]``: the prior and posterior densities of log10 brain FLOP/s and
    of each evidence quantity (log10), with the measured interval (or bound) shaded."""
    items = json.loads(idata.posterior.attrs["evidence"])
    fig, axes = _new(1, 1 + len(items), figsize=(4.2 * (1 + len(items)), 3.8), squeeze=False)
    panels = [("log10_brain_flops", "brain computation, log10 FLOP/s", None)]
    units = _field_units(str(idata.posterior.attrs.get("prior_text", "")))
    for name, item in items.items():  # the unit the measurement states, else the one its fields give
        unit = item.get("unit") or _unit_of(item.get("quantity", ""), units)
        panels.append((f"evidence_{name}", f"{name}, {_log10_of(unit)}", item))
    for ax, (var, label, item) in zip(axes[0], panels, strict=True):
        prior = np.asarray(idata.prior[var].values, dtype=np.float64).ravel()
        post = np.asarray(idata.posterior[var].values, dtype=np.float64).ravel()
        if item is not None:
            prior, post = (np.log10(x[x > 0]) for x in (prior, post))
        prior_edges, post_edges = _edges(prior, bins), _edges(post, bins)
        edges = (min(prior_edges[0], post_edges[0]), max(prior_edges[-1], post_edges[-1]))
        if item is not None:
            lo, hi = observed_interval(item)
            left = math.log10(lo) if lo > 0 else edges[0]
            right = math.log10(hi) if math.isfinite(hi) else edges[-1]
            ax.axvspan(max(left, edges[0]), min(right, edges[-1]), color="0.85", label="observed")
        # each its own bins: a posterior far narrower than its prior still shows its shape
        ax.hist(prior, bins=prior_edges, density=True, histtype="step", color="0.4", lw=1.5, label="prior")
        ax.hist(post, bins=post_edges, density=True, color="tab:blue", alpha=0.6, label="posterior")
        ax.set_xlim(edges[0], edges[-1])
        ax.set_xlabel(label)
    axes[0][0].set_ylabel("probability density per log10 unit")
    axes[0][-1].legend(fontsize=8)
    method = idata.posterior.attrs.get("inference", "")
    fig.suptitle(f"Prior and posterior given the evidence ({method})")
    return fig


def summaries_brain_flops_figure(ds: xr.Dataset, decades_per_bar: float = 0.05):
    """A streamed run (saved summaries): the histogram of log10 brain FLOP/s, its median and 90% HDI,
    with other authors' estimates marked."""
    from ..runs.streaming import BIN_WIDTH, from_dataset
    from .summaries import summary_table

    stats, layout = from_dataset(ds)
    table = summary_table(stats, layout, HDI_PROB)
    counts = stats.counts[0]
    step = max(1, round(decades_per_bar / BIN_WIDTH))
    usable = len(counts) // step * step
    bars = counts[:usable].reshape(-1, step).sum(axis=1)
    left = float(layout.lo[0]) + BIN_WIDTH * step * np.arange(len(bars))
    fig, ax = _new()
    ax.bar(left, bars / (stats.n * BIN_WIDTH * step), width=BIN_WIDTH * step, align="edge", color="tab:blue", alpha=0.6)
    row = table.loc["log10 brain FLOP/s"]
    ax.axvspan(row["hdi_lo"], row["hdi_hi"], color="tab:blue", alpha=0.08, label=f"{HDI_PROB:.0%} HDI")
    ax.axvline(row["median"], color="tab:blue", linewidth=2, label=f"median {row['median']:.2f}")
    lo, hi = float(stats.minimum[0]) - 0.5, float(stats.maximum[0]) + 0.5
    left_edge, right_edge = min(lo, 14.5), max(hi, 25.5)
    _mark_estimates(ax, left_edge, right_edge)
    ax.set_xlim(left_edge, right_edge)
    ax.set_xlabel("brain computation, log10 FLOP/s")
    ax.set_ylabel("probability density per log10 unit")
    ax.set_title(f"Brain FLOP/s ({ds.attrs.get('prior_name', '')} priors, {stats.n:,} draws, streamed)")
    fig.legend(loc="outside lower center", ncol=2, fontsize=8)
    return fig


def _forest(ax, rows: list[tuple[str, np.ndarray]], color: str = "tab:blue") -> None:
    """One row per ``(label, draws)``, the first at the top: the median (dot), the 25%-75% interval (thick) and
    the 90% HDI (thin); non-finite draws are left out."""
    n = len(rows)
    for k, (label, draws) in enumerate(rows):
        y = n - 1 - k
        x = np.asarray(draws, dtype=np.float64).ravel()
        x = x[np.isfinite(x)]
        if x.size < 2:
            continue
        lo, hi = az.hdi(x, hdi_prob=HDI_PROB)
        q25, q50, q75 = np.quantile(x, [0.25, 0.5, 0.75])
        ax.hlines(y, lo, hi, color=color, linewidth=1.2, gid=f"hdi:{label}")
        ax.hlines(y, q25, q75, color=color, linewidth=4.0, gid=f"iqr:{label}")
        ax.plot([q50], [y], "o", color=color, markerfacecolor="white", markersize=5, gid=f"median:{label}")
    ax.set_yticks(np.arange(n)[::-1], [label for label, _ in rows], fontsize=8)
    ax.set_ylim(-0.7, n - 0.3)
    ax.grid(axis="x", color="0.9", linewidth=0.6)
    ax.set_axisbelow(True)


def _forest_legend(fig, color: str = "tab:blue") -> None:
    """The key of :func:`_forest`'s marks, below the figure."""
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], color=color, marker="o", markerfacecolor="white", linestyle="none", label="median"),
        Line2D([], [], color=color, linewidth=4.0, label="25%-75% (central 50%)"),
        Line2D([], [], color=color, linewidth=1.2, label=f"{HDI_PROB:.0%} HDI"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=8)


def contributions_figure(idata: az.InferenceData):
    """Forest plots of log10 FLOP/s per class and, when some class is an LNP neuron, per counted stage
    (median, 25%-75% and 90% HDI)."""
    group = run_group(idata)
    panels = [
        ("log10_class_flops", "neuron_class", "per class"),
        ("log10_stage_flops", "stage", "per stage (LNP classes)"),
    ]
    panels = [panel for panel in panels if panel[0] in idata[group]]
    fig, axes = _new(1, len(panels), figsize=(FIGURE_SIZE[0], FIGURE_SIZE[1]), squeeze=False)
    for ax, (var, dim, title) in zip(axes[0], panels, strict=True):
        da = idata[group][var]
        rows = [(str(v), da.sel({dim: v}).values) for v in da[dim].values]
        _forest(ax, rows)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("log10 FLOP/s")
    what = " (posterior)" if is_conditioned(idata) else ""
    fig.suptitle(f"Contributions to brain FLOP/s{what}")
    _forest_legend(fig)
    return fig


def crossover_cdf_figure(idata: az.InferenceData):
    """Cumulative probability that computing has crossed brain FLOP/s, by year; it starts at the share of
    draws already crossed by the target's last observation (a dotted line marks it)."""
    y = _draws(idata, "crossover_year").ravel()
    attrs = idata[run_group(idata)].attrs
    finite = np.sort(y[np.isfinite(y)])
    t_last = attrs.get("last_observation")
    return _cdf_figure(
        finite,
        np.arange(1, finite.size + 1) / y.size,
        None if t_last is None else float((y <= float(t_last)).mean()),
        {year: p_by(y, year) for year in BY_YEARS},
        float((~np.isfinite(y)).mean()),
        attrs,
    )


def counts_cdf_figure(ds: xr.Dataset):
    """:func:`crossover_cdf_figure` of a saved streamed crossover: the curve from its counts of the crossover
    year (a step at the end of each 0.01-year bin)."""
    from ..runs.streamed_crossover import BIN, from_crossover_dataset

    y = from_crossover_dataset(ds).years
    filled = np.flatnonzero(y.hist)
    years = (y.base + filled + 1) * BIN
    cumulative = (y.already + np.cumsum(y.hist)[filled]) / y.n
    by = {year: float(y.batch_counts[:, 3 + i].sum() / y.n) for i, year in enumerate(BY_YEARS)}
    return _cdf_figure(years, cumulative, y.already / y.n, by, y.never / y.n, ds.attrs)


def _cdf_figure(years, cumulative, already: float | None, by: dict, never: float, attrs):
    """The crossover-year CDF: ``cumulative`` probability at ``years`` (after the last observation),
    ``already`` crossed by the last observation (None: not known), P(by each year), P(never)."""
    horizon = float(attrs.get("horizon", np.inf))
    fig, ax = _new()
    if len(years):
        ax.step(years, cumulative, where="post", color="tab:red", label="P(crossed by year)")
        hi = min(float(years[min(np.searchsorted(cumulative, 0.995 * cumulative[-1]), len(years) - 1)]) + 5, horizon)
        lo = float(years[0]) - 2
    else:
        lo, hi = 2000.0, horizon
    lines = []
    t_last = attrs.get("last_observation")
    if t_last is not None and already is not None:  # the curve starts at the share already crossed
        t_last = float(t_last)
        lines.append(f"P(crossed by the last observation, {t_last:.1f}) = {already:.3f}")
        ax.axvline(t_last, color="0.3", linestyle=":", linewidth=1, label=f"last observation ({t_last:.1f})")
        ax.plot([t_last], [already], "s", color="tab:red", markersize=4)
        lo = min(lo, t_last - 2)
    for year, p in by.items():
        lines.append(f"P(by {year}) = {p:.3f}")
        if lo <= year <= hi:
            ax.plot([year], [p], "o", color="black", markersize=4)
    lines.append(f"P(no crossover by {horizon:g}) = {never:.3f}")
    ax.axhline(1.0 - never, color="0.5", linestyle="--", linewidth=1, label="1 - P(no crossover)")
    ax.text(  # lower right: below a cumulative curve, late years are where it leaves room
        0.98,
        0.03,
        "\n".join(lines),
        transform=ax.transAxes,
        va="bottom",
        ha="right",
        fontsize=8,
        bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "0.7"},
    )
    ax.set_xlim(lo, hi)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("year")
    ax.set_ylabel("cumulative probability")
    ax.set_title(f"When does practical computing cross brain FLOP/s? ({attrs.get('model', '')} model)")
    ax.legend(loc="center right", fontsize=8)
    return fig


def growth_fit_figure(idata: az.InferenceData):
    """Benchmark data, the forecast fan (50%/90% predictive bands after the data), the brain band and the
    crossover histogram."""
    if "posterior_predictive" not in idata.groups() or "log2_flops_forecast" not in idata.posterior_predictive:
        raise ValueError("the run has no growth fit (run `uncertainty crossover` with a data model)")
    log10_2 = math.log10(2.0)
    pred = idata.posterior_predictive["log2_flops_forecast"]
    years = pred["forecast_year"].values
    draws = pred.values.reshape(-1, years.size) * log10_2
    q05, q25, q50, q75, q95 = np.quantile(draws, [0.05, 0.25, 0.5, 0.75, 0.95], axis=0)
    obs = idata.observed_data
    attrs = idata.posterior.attrs
    fig, ax = _new()
    ax.fill_between(years, q05, q95, color="tab:green", alpha=0.15, label="90% predictive")
    ax.fill_between(years, q25, q75, color="tab:green", alpha=0.3, label="50% predictive")
    ax.plot(years, q50, color="tab:green", linewidth=1.5, label=f"median forecast ({attrs.get('model', '')})")
    target = {"marker": "s", "linestyle": "none", "color": "black", "markersize": 4}
    leaders = _target_name(attrs) == "fastest computer"  # else a record series of AI hardware
    if "practical_obs" in obs:
        ax.plot(obs["trend_year"], obs["trend_obs"] * log10_2, ".", color="0.55", label="HPL leaders (trend)")
        ax.plot(obs["practical_year"], obs["practical_obs"] * log10_2, label="HPCG leaders (target)", **target)
    else:
        ax.plot(
            obs["trend_year"],
            obs["trend_obs"] * log10_2,
            label=f"{Path(str(attrs.get('series', ''))).name} {'leaders' if leaders else 'records'}",
            **target,
        )
    if "heldout_log2_flops" in obs:
        held_years = idata.posterior_predictive["heldout_year"].values
        ax.plot(held_years, obs["heldout_log2_flops"] * log10_2, "x", color="tab:red", label="held out (backtest)")
    brain = _draws(idata, "log10_brain_flops").ravel()
    what = "brain FLOP/s"
    for scale in ("practical_fraction", "budget_usd"):  # a peak target: the brain in the target's units
        if scale in idata.posterior:
            brain = brain - np.log10(_draws(idata, scale).ravel())
    if "practical_fraction" in idata.posterior:
        what += " / fraction" + (" / budget" if "budget_usd" in idata.posterior else "")
    b5, b50, b95 = central(brain)
    ax.axhspan(b5, b95, color="tab:blue", alpha=0.12, label=f"{what}, 90% interval")
    ax.axhline(b50, color="tab:blue", linewidth=1, label=f"{what}, median")
    y = _draws(idata, "crossover_year").ravel()
    t_last = float(attrs.get("last_observation", -np.inf))  # draws already crossed: not a crossing year to plot
    finite = y[np.isfinite(y) & (y <= years[-1]) & (y > t_last)]
    if finite.size:
        twin = ax.twinx()
        twin.hist(finite, bins=60, range=(float(finite.min()), years[-1]), color="tab:red", alpha=0.35)
        twin.set_ylim(0, twin.get_ylim()[1] * 4)  # keep the histogram in the bottom quarter
        twin.set_yticks([])
        ax.plot([], [], color="tab:red", alpha=0.35, linewidth=6, label="crossover year (histogram)")
    ax.set_xlim(min(years[0], float(np.min(obs["trend_year"]))), years[-1])
    ax.set_xlabel("year")
    quantity = str(attrs.get("target_quantity", "FLOP/s"))
    ax.set_ylabel(f"log10 {quantity}")
    ax.set_title(f"Growth of the {_target_name(attrs)} and the brain")
    ax.legend(loc="upper left", fontsize=7, ncol=2)
    return fig


def _target_name(attrs) -> str:
    """A short name of a crossover's target for a title: "fastest computer" (HPCG, HPL, a CSV), "largest AI
    supercomputer", "fastest ML accelerator", "best price-performance"."""
    return {
        "ai-cluster": "largest AI supercomputer",
        "accelerator": "fastest ML accelerator",
        "budget": "best price-performance",
    }.get(str(attrs.get("target", "")), "fastest computer")


def compare_figure(runs: dict[str, az.InferenceData]):
    """Forest plot of log10 brain FLOP/s across runs (e.g. prior files), the first run at the top, with other
    estimates marked; a run conditioned on ``[evidence]`` is labelled "(posterior)"."""
    if not runs:
        raise ValueError("no runs to compare")
    rows = [
        (
            f"{name} (posterior)" if is_conditioned(idata) else name,
            idata[run_group(idata)]["log10_brain_flops"].values,
        )
        for name, idata in runs.items()
    ]
    fig, ax = _new(figsize=(FIGURE_SIZE[0], max(3.6, 0.45 * len(rows) + 2.6)))
    _forest(ax, rows)
    bottom, top = ax.get_ylim()
    ax.set_ylim(bottom, bottom + (top - bottom) / 0.6)  # the top 40% for the estimates' names, clear of the rows
    lo, hi = ax.get_xlim()
    lo, hi = min(lo, 14.5), max(hi, 25.5)  # show every literature estimate
    _mark_estimates(ax, lo, hi)
    ax.set_xlim(lo, hi)
    ax.set_xlabel("brain computation, log10 FLOP/s")
    ax.set_title("Brain FLOP/s by prior file")
    _forest_legend(fig)
    return fig


def sensitivity_figure(idata: az.InferenceData, top: int = 12):
    """Tornado chart: mean log10 brain FLOP/s with each parameter in its lowest vs highest 10%."""
    table = sensitivity(idata)
    if table is None:
        raise ValueError("the run has no parameter draws")
    table = table.head(top).iloc[::-1]  # largest at the top
    mean = float(np.mean(_draws(idata, "log10_brain_flops")))
    fig, ax = _new(figsize=(FIGURE_SIZE[0], max(2.5, 0.3 * len(table) + 1.2)))
    pos = np.arange(len(table))
    for column, color in (("low", "tab:blue"), ("high", "tab:orange")):
        label = f"parameter in its {'lowest' if column == 'low' else 'highest'} 10%"
        ax.barh(pos, table[column] - mean, left=mean, color=color, alpha=0.7, label=label)
    ax.axvline(mean, color="black", linewidth=1, label="all draws")
    ax.set_yticks(pos, table.index, fontsize=8)
    ax.set_ylim(-0.6, len(table) - 0.4)
    ax.set_xlabel("mean brain computation, log10 FLOP/s")
    what = "Posterior sensitivity of brain FLOP/s" if is_conditioned(idata) else "Sensitivity of brain FLOP/s"
    ax.set_title(f"{what} to each {'parameter' if is_conditioned(idata) else 'prior'} (tornado)", wrap=True)
    fig.legend(loc="outside lower center", ncol=3, fontsize=8)  # below the axes: it hides no bar
    return fig


def _field_units(prior_text: str) -> dict[str, str]:
    """The unit of each class field: its ``unit`` label in the prior file (the run keeps the file's text),
    else the unit the field declares (:data:`~uncertainty.brain.priors.CLASS_FIELDS`)."""
    from ..brain.priors import CLASS_FIELDS

    units = {name: f.unit for name, f in CLASS_FIELDS.items()}
    try:
        doc = tomllib.loads(prior_text)
    except tomllib.TOMLDecodeError:
        return units
    classes = doc.get("classes", {})
    tables = [doc.get("defaults", {}), *(classes.values() if isinstance(classes, dict) else ())]
    labels: dict[str, str] = {}
    for table in tables:
        for name, value in table.items() if isinstance(table, dict) else ():
            if isinstance(value, dict) and isinstance(value.get("unit"), str):
                labels.setdefault(name, value["unit"])
    # "1" is an accepted spelling of a count's unit; the declared one ("neurons") says more
    units.update({name: label for name, label in labels.items() if label != "1" or name not in units})
    return units


def _unit_of(quantity: str, units: dict[str, str]) -> str | None:
    """The unit of an evidence quantity (an expression over class fields) from its fields' units: ``""`` for
    a pure number, None when it cannot be told (a field of unknown unit, a sum of unlike units...)."""
    try:
        dims = _dims(ast.parse(quantity, mode="eval").body, units)
    except (SyntaxError, ValueError, RecursionError):
        return None
    if dims is None:
        return None
    up = [u if k == 1 else f"{u}^{k:g}" for u, k in dims.items() if k > 0]
    down = [u if k == -1 else f"{u}^{-k:g}" for u, k in dims.items() if k < 0]
    text = "·".join(up) or ("1" if down else "")
    if down:
        text += "/" + (down[0] if len(down) == 1 else "(" + "·".join(down) + ")")
    return text


def _dims(node: ast.AST, units: dict[str, str]) -> dict[str, float] | None:
    """Unit exponents of an expression node (``{}``: a pure number; None: unknown)."""

    def combine(a: dict[str, float], b: dict[str, float], sign: float) -> dict[str, float]:
        out = dict(a)
        for u, k in b.items():
            out[u] = out.get(u, 0.0) + sign * k
        return {u: k for u, k in out.items() if k != 0}

    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return {}
    if isinstance(node, ast.Name):
        unit = units.get(node.id)
        return None if unit is None else ({} if unit == "1" else {unit: 1.0})
    if isinstance(node, ast.UnaryOp):
        return _dims(node.operand, units)
    if isinstance(node, ast.BinOp):
        a = _dims(node.left, units)
        if isinstance(node.op, ast.Pow):
            power = node.right
            if a is None or not (isinstance(power, ast.Constant) and isinstance(power.value, (int, float))):
                return None if a is None or a else {}
            return {u: k * power.value for u, k in a.items()}
        b = _dims(node.right, units)
        if a is None or b is None:
            return None
        if isinstance(node.op, ast.Mult):
            return combine(a, b, 1.0)
        if isinstance(node.op, ast.Div):
            return combine(a, b, -1.0)
        return a if a == b else None  # + and -: like units only
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        args = [_dims(arg, units) for arg in node.args]
        if not args or any(a is None for a in args):
            return None
        if node.func.id in ("sum", "mean", "min", "max"):
            return args[0] if all(a == args[0] for a in args) else None
        if node.func.id == "sqrt":
            return {u: k / 2 for u, k in args[0].items()}
        if node.func.id in ("log", "log10", "exp"):
            return {} if not args[0] else None
    return None


def _log10_of(unit: str | None) -> str:
    """An axis label's "log10 UNIT"."""
    if unit is None:
        return "log10"
    return f"log10 {unit}" if unit else "log10 (a pure number)"


def calibration_figure(ds: xr.Dataset):
    """A hindcast (``uncertainty backtest --out``): empirical vs nominal coverage of the central intervals
    per model (calibrated models follow the diagonal), and each model's PIT histogram in a small panel of
    its own (flat when calibrated)."""
    models = [str(m) for m in ds["fitted_model"].values]
    plt = _pyplot()
    fig = plt.figure(figsize=(FIGURE_SIZE[0] * 1.5, FIGURE_SIZE[1] * 1.1), layout="constrained")
    left_fig, right_fig = fig.subfigures(1, 2, width_ratios=[1.0, 1.1])
    left = left_fig.subplots()
    cols = min(3, max(1, len(models)))
    rows = max(1, -(-len(models) // cols))
    panels = right_fig.subplots(rows, cols, sharex=True, sharey=True, squeeze=False).ravel()
    nominal = np.linspace(0.0, 1.0, 21)
    left.plot([0, 1], [0, 1], color="black", linewidth=0.8, label="nominal")
    bins = np.linspace(0.0, 1.0, 11)
    for name, ax in zip(models, panels, strict=False):
        pit = ds["pit"].values[ds["model"].values == name]
        covered = [np.mean(np.abs(pit - 0.5) <= p / 2) for p in nominal]
        (line,) = left.plot(nominal, covered, marker=".", label=name)
        hist, _ = np.histogram(pit, bins=bins, density=True)
        ax.stairs(hist, bins, color=line.get_color(), fill=True, alpha=0.5, gid=f"pit:{name}")
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_title(f"{name} ({pit.size} pairs)", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in panels[len(models) :]:
        ax.set_axis_off()
    left.set_xlabel("nominal coverage of the central interval")
    left.set_ylabel("empirical coverage (hindcast)")
    left.set_title(f"Calibration out of sample ({ds.attrs.get('series', '')})")
    left.legend(fontsize=7)
    right_fig.supxlabel("PIT of the observed leader", fontsize=9)
    right_fig.supylabel("density (1 = calibrated)", fontsize=9)
    right_fig.suptitle("PIT histograms (flat = calibrated)", fontsize=11)
    return fig


def pooled_errors_figure(summary: dict):
    """A pooled hindcast (``uncertainty backtest --pool``): left, Farmer & Lafond's check, the empirical CDF of
    the normalised errors of the closed forms against the Student t they predict; right, every model's
    coverage of its central intervals against nominal (the diagonal is calibrated), pairs weighted equally."""
    fig, (left, right) = _new(1, 2, figsize=(FIGURE_SIZE[0] * 1.5, FIGURE_SIZE[1]))
    pool = " + ".join(summary["pool"])
    for name, mdl in summary["models"].items():
        if "eps_cdf" in mdl:
            cdf = mdl["eps_cdf"]
            (line,) = left.plot(cdf["eps"], cdf["observed"], label=f"{name} (observed)", gid=f"eps:{name}")
            left.plot(cdf["eps"], cdf["predicted"], color=line.get_color(), linestyle="--", linewidth=0.9)
    left.plot([], [], color="0.3", linestyle="--", linewidth=0.9, label=f"Student t({summary['m'] - 1}) predicted")
    left.set_xlabel("normalised forecast error")
    left.set_ylabel("cumulative share of pairs")
    left.set_title(f"Normalised errors ({pool})", fontsize=10)
    left.legend(fontsize=7)
    right.plot([0, 1], [0, 1], color="black", linewidth=0.8, label="nominal")
    for name, mdl in summary["models"].items():
        curve = mdl.get("coverage_curve")
        if curve:
            style = {"linestyle": "--"} if "eps_cdf" in mdl else {}
            right.plot(curve["nominal"], curve["observed"], marker=".", label=name, gid=f"cov:{name}", **style)
    right.set_xlabel("nominal coverage of the central interval")
    right.set_ylabel("share of later values inside")
    right.set_title(f"Calibration across technologies ({pool})", fontsize=10)
    right.legend(fontsize=7)
    return fig


def save_figure(fig, path: str | Path, force: bool = False) -> Path:
    """Write one figure (png or svg, by the suffix) through a temporary file; an existing file only with ``force``."""
    plt = _pyplot()
    try:
        path = check_figure_path(path, force)
        _plain_texts(fig)
        _write_atomically(fig, path, path.suffix.lstrip(".").lower())
    finally:
        plt.close(fig)
    return path


def check_figure_path(path: str | Path, force: bool = False) -> Path:
    """One line (:class:`OutputError`) for a figure file that cannot be written: not .png or .svg, or
    what :func:`uncertainty.runs.io.check_output_path` refuses (an existing file without ``force``...)."""
    from ..runs.io import check_output_path

    path = Path(path)
    if path.suffix.lower() not in (".png", ".svg"):
        raise OutputError(path, None, "a figure is .png or .svg")
    return check_output_path(path, force)


def _write_atomically(fig, target: Path, fmt: str) -> None:
    """Save ``fig`` to a temporary file beside ``target`` (readable by all), then rename it over ``target``."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".{fmt}", dir=target.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=200, format=fmt)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def check_plottable(path: str | Path, idata: az.InferenceData | xr.Dataset) -> None:
    """Refuse, in one line, a run whose brain FLOP/s has no finite draw (nothing to draw a histogram of)."""
    if isinstance(idata, xr.Dataset):
        return
    x = _draws(idata, "log10_brain_flops")
    if not np.isfinite(x).any():
        raise RunFileError(path, "log10_brain_flops", "has no finite draw to plot")


def figures_for(idata: az.InferenceData | xr.Dataset) -> dict[str, object]:
    """Every figure that fits one run (or a backtest), by file stem."""
    if isinstance(idata, xr.Dataset):
        if idata.attrs.get("kind") == "summaries":
            figs = {"brain_flops": summaries_brain_flops_figure(idata)}
            if "year_hist" in idata:  # a streamed crossover
                figs["crossover_cdf"] = counts_cdf_figure(idata)
            return figs
        return {"calibration": calibration_figure(idata)}
    figs = {"brain_flops": brain_flops_figure(idata)}
    if "log10_class_flops" in idata[run_group(idata)]:  # a run may hold the total alone
        figs["contributions"] = contributions_figure(idata)
    if {"prior", "posterior"} <= set(idata.groups()) and "evidence" in idata.posterior.attrs:
        figs["prior_posterior"] = prior_posterior_figure(idata)
    if sensitivity(idata) is not None:
        figs["sensitivity"] = sensitivity_figure(idata)
    if "crossover_year" in idata[run_group(idata)]:
        figs["crossover_cdf"] = crossover_cdf_figure(idata)
        groups = idata.groups()
        if (
            "posterior_predictive" in groups
            and "log2_flops_forecast" in idata.posterior_predictive
            and "observed_data" in groups
            and {"trend_obs", "trend_year"} <= set(idata.observed_data.data_vars)
        ):
            figs["growth_fit"] = growth_fit_figure(idata)
    return figs


def write_figures(
    runs: dict[str, az.InferenceData | xr.Dataset],
    out_dir: str | Path,
    fmt: str = "png",
    force: bool = False,
) -> list[Path]:
    """Write every figure of every run (and a comparison when there are several) into ``out_dir``.

    Files are ``{stem}.{fmt}`` for one run and ``{run}_{stem}.{fmt}`` for several;
    each is written to a temporary file and renamed. Existing files are only
    replaced with ``force``.
    """
    if fmt not in ("png", "svg"):
        raise ValueError(f"format must be png or svg, got {fmt!r}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise OutputError(out, None, "is not a folder")
    if not out.parent.is_dir():
        raise OutputError(out, None, f"folder '{out.parent}' does not exist")
    plt = _pyplot()
    figures: dict[str, object] = {}
    for name, idata in runs.items():
        prefix = "" if len(runs) == 1 else f"{name}_"
        figures.update({f"{prefix}{stem}": fig for stem, fig in figures_for(idata).items()})
    brain_runs = {k: v for k, v in runs.items() if not isinstance(v, xr.Dataset)}
    if len(brain_runs) > 1:
        figures["compare"] = compare_figure(brain_runs)
    for fig in figures.values():
        _plain_texts(fig)
    targets = {stem: out / f"{stem}.{fmt}" for stem in figures}
    existing = [p for p in targets.values() if p.exists()]
    if existing and not force:
        for fig in figures.values():
            plt.close(fig)
        raise OutputError(existing[0], None, "exists; pass --force to overwrite it")
    created = not out.exists()
    written = []
    try:
        out.mkdir(exist_ok=True)
        for stem, fig in figures.items():
            _write_atomically(fig, targets[stem], fmt)
            written.append(targets[stem])
    except BaseException as exc:
        if created and out.is_dir() and not any(out.iterdir()):
            out.rmdir()  # a folder this call made and could not fill: leave nothing behind
        if isinstance(exc, OSError):
            raise OutputError(out, None, f"cannot write figures: {exc.strerror or exc}") from None
        raise
    finally:
        for fig in figures.values():
            plt.close(fig)
    return written


def _names(paths: Sequence[str | Path]) -> list[str]:
    """Short, unique run names from file paths: the stems, with as many parent folders as it takes to tell
    them apart (``a/x/run.nc``, ``b/x/run.nc`` -> ``a_x_run``, ``b_x_run``); numbered when even the
    whole paths clash (the same file twice)."""
    parts = [Path(p).with_suffix("").parts or (str(p),) for p in paths]
    for depth in range(1, max(len(q) for q in parts) + 1):
        names = ["_".join(q[-depth:]).lstrip("/_") or "run" for q in parts]
        if len(set(names)) == len(names):
            return names
    return [f"{i + 1}_{Path(p).stem}" for i, p in enumerate(paths)]
