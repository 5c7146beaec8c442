"""Figures of a run: brain FLOP/s, contributions, crossover-year CDF, growth fit, prior comparison.

Every function takes an ``InferenceData`` run (or several) and returns a
Matplotlib ``Figure`` sized for a paper column (6.5 x 4 inches), with a title,
axis labels carrying units, and a legend. :func:`write_figures` writes every
figure that fits a run. ArviZ draws the forest plots.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from .._arviz import az
from ..errors import OutputError, RunFileError
from ..literature import ESTIMATES
from .report import BY_YEARS, HDI_PROB, observed_interval, run_group, sensitivity

__all__ = [
    "FIGURE_SIZE",
    "brain_flops_figure",
    "contributions_figure",
    "crossover_cdf_figure",
    "growth_fit_figure",
    "compare_figure",
    "sensitivity_figure",
    "figures_for",
    "write_figures",
]

FIGURE_SIZE = (6.5, 4.0)  # inches: one paper column at readable font sizes
_REFERENCE_STYLE = {"color": "0.35", "linestyle": ":", "linewidth": 1.0}


def _pyplot():
    import matplotlib.pyplot as plt  # Matplotlib picks Agg by itself where there is no display

    return plt


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
    fig, ax = _new()
    ax.hist(x, bins=bins, density=True, color="tab:blue", alpha=0.6, label="draws")
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
    ax.set_title(f"Brain FLOP/s ({name} priors, {x.size:,} draws{note})")
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
    panels += [(f"evidence_{name}", f"{name}, log10", item) for name, item in items.items()]
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
    from .streaming import BIN_WIDTH, from_dataset, summary_table

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


def contributions_figure(idata: az.InferenceData):
    """Forest plots of log10 FLOP/s per class and, when some class is an LNP neuron, per counted stage
    (median, 50% and 90% HDI)."""
    group = run_group(idata)
    panels = [("log10_class_flops", "per class"), ("log10_stage_flops", "per stage (LNP classes)")]
    panels = [(var, title) for var, title in panels if var in idata[group]]
    fig, axes = _new(1, len(panels), figsize=(FIGURE_SIZE[0], FIGURE_SIZE[1]), squeeze=False)
    for ax, (var, title) in zip(axes[0], panels, strict=True):
        ds = idata[group][[var]].astype("float64")
        az.plot_forest(ds, var_names=[var], combined=True, hdi_prob=HDI_PROB, ax=ax, textsize=8)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("log10 FLOP/s")
    fig.suptitle(f"Contributions to brain FLOP/s (median, {HDI_PROB:.0%} HDI)")
    return fig


def crossover_cdf_figure(idata: az.InferenceData):
    """Cumulative probability that computing has crossed brain FLOP/s, by year."""
    y = _draws(idata, "crossover_year").ravel()
    horizon = float(idata[run_group(idata)].attrs.get("horizon", np.inf))
    finite = np.sort(y[np.isfinite(y)])
    fig, ax = _new()
    if finite.size:
        ax.step(
            finite, np.arange(1, finite.size + 1) / y.size, where="post", color="tab:red", label="P(crossed by year)"
        )
        hi = min(float(np.quantile(finite, 0.995)) + 5, horizon)
        lo = float(finite[0]) - 2
    else:
        lo, hi = 2000.0, horizon
    lines = []
    for year in BY_YEARS:
        p = float((y <= year).mean())
        lines.append(f"P(by {year}) = {p:.3f}")
        if lo <= year <= hi:
            ax.plot([year], [p], "o", color="black", markersize=4)
    never = float((~np.isfinite(y)).mean())
    lines.append(f"P(no crossover by {horizon:g}) = {never:.3f}")
    ax.axhline(1.0 - never, color="0.5", linestyle="--", linewidth=1, label="1 - P(no crossover)")
    ax.text(
        0.02,
        0.97,
        "\n".join(lines),
        transform=ax.transAxes,
        va="top",
        fontsize=8,
        bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "0.7"},
    )
    ax.set_xlim(lo, hi)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("year")
    ax.set_ylabel("cumulative probability")
    model = idata[run_group(idata)].attrs.get("model", "")
    ax.set_title(f"When does practical computing cross brain FLOP/s? ({model} model)")
    ax.legend(loc="lower right", fontsize=8)
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
    if "practical_obs" in obs:
        ax.plot(obs["trend_year"], obs["trend_obs"] * log10_2, ".", color="0.55", label="HPL leaders (trend)")
        ax.plot(obs["practical_year"], obs["practical_obs"] * log10_2, label="HPCG leaders (target)", **target)
    else:
        ax.plot(
            obs["trend_year"],
            obs["trend_obs"] * log10_2,
            label=f"{Path(str(attrs.get('series', ''))).name} leaders",
            **target,
        )
    if "heldout_log2_flops" in obs:
        held_years = idata.posterior_predictive["heldout_year"].values
        ax.plot(held_years, obs["heldout_log2_flops"] * log10_2, "x", color="tab:red", label="held out (backtest)")
    brain = _draws(idata, "log10_brain_flops").ravel()
    b5, b50, b95 = np.quantile(brain, [0.05, 0.5, 0.95])
    ax.axhspan(b5, b95, color="tab:blue", alpha=0.12, label="brain FLOP/s, 90% interval")
    ax.axhline(b50, color="tab:blue", linewidth=1, label="brain FLOP/s, median")
    y = _draws(idata, "crossover_year").ravel()
    finite = y[np.isfinite(y) & (y <= years[-1])]
    if finite.size:
        twin = ax.twinx()
        twin.hist(finite, bins=60, range=(float(finite.min()), years[-1]), color="tab:red", alpha=0.35)
        twin.set_ylim(0, twin.get_ylim()[1] * 4)  # keep the histogram in the bottom quarter
        twin.set_yticks([])
        ax.plot([], [], color="tab:red", alpha=0.35, linewidth=6, label="crossover year (histogram)")
    ax.set_xlim(min(years[0], float(np.min(obs["trend_year"]))), years[-1])
    ax.set_xlabel("year")
    ax.set_ylabel("log10 FLOP/s")
    ax.set_title("Growth of the fastest computer and the brain")
    ax.legend(loc="upper left", fontsize=7, ncol=2)
    return fig


def compare_figure(runs: dict[str, az.InferenceData]):
    """Forest plot of log10 brain FLOP/s across runs (e.g. prior files), with other estimates marked."""
    if not runs:
        raise ValueError("no runs to compare")
    data = [
        xr.Dataset({"log10 brain FLOP/s": idata[run_group(idata)]["log10_brain_flops"].astype("float64")})
        for idata in runs.values()
    ]
    fig, ax = _new()
    az.plot_forest(data, model_names=list(runs), combined=True, hdi_prob=HDI_PROB, ax=ax, textsize=8)
    lo, hi = ax.get_xlim()
    lo, hi = min(lo, 14.5), max(hi, 25.5)  # show every literature estimate
    _mark_estimates(ax, lo, hi)
    ax.set_xlim(lo, hi)
    ax.set_xlabel("brain computation, log10 FLOP/s")
    ax.set_title(f"Brain FLOP/s by prior file (median, 50% and {HDI_PROB:.0%} HDI)")
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
    ax.set_xlabel("mean brain computation, log10 FLOP/s")
    ax.set_title("Sensitivity of brain FLOP/s to each prior (tornado)")
    ax.legend(loc="lower right", fontsize=8)
    return fig


def calibration_figure(ds: xr.Dataset):
    """A hindcast (``uncertainty backtest --out``): empirical vs nominal coverage of the central intervals
    per model (calibrated models follow the diagonal), and each model's PIT histogram (flat when calibrated)."""
    models = [str(m) for m in ds["fitted_model"].values]
    fig, (left, right) = _new(1, 2, figsize=(FIGURE_SIZE[0] * 1.4, FIGURE_SIZE[1]))
    nominal = np.linspace(0.0, 1.0, 21)
    left.plot([0, 1], [0, 1], color="black", linewidth=0.8, label="nominal")
    bins = np.linspace(0.0, 1.0, 11)
    for name in models:
        pit = ds["pit"].values[ds["model"].values == name]
        covered = [np.mean(np.abs(pit - 0.5) <= p / 2) for p in nominal]
        (line,) = left.plot(nominal, covered, marker=".", label=name)
        hist, _ = np.histogram(pit, bins=bins, density=True)
        right.stairs(hist, bins, color=line.get_color(), label=name)
    right.axhline(1.0, color="black", linewidth=0.8)
    left.set_xlabel("nominal coverage of the central interval")
    left.set_ylabel("empirical coverage (hindcast)")
    left.set_title(f"Calibration out of sample ({ds.attrs.get('series', '')})")
    left.legend(fontsize=7)
    right.set_xlabel("PIT of the observed leader")
    right.set_ylabel("density")
    right.set_title("PIT histograms (flat = calibrated)")
    return fig


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
            return {"brain_flops": summaries_brain_flops_figure(idata)}
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
            fd, tmp = tempfile.mkstemp(prefix=f".{stem}.", suffix=f".{fmt}", dir=out)
            os.close(fd)
            try:
                fig.savefig(tmp, dpi=200, format=fmt)
                os.chmod(tmp, 0o644)
                os.replace(tmp, targets[stem])
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
            written.append(targets[stem])
    except OSError as exc:
        if created and out.is_dir() and not any(out.iterdir()):
            out.rmdir()  # a folder this call made and could not fill: leave nothing behind
        raise OutputError(out, None, f"cannot write figures: {exc.strerror or exc}") from None
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
