"""The tables of a streamed crossover (:mod:`uncertainty.runs.streamed_crossover`): the brain table from the
streamed statistics, the crossover year from its 0.01-year histogram with batch-means Monte Carlo errors,
the growth fit and the LOO comparison."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..quantities import BY_YEARS, CENTRAL, HDI_PROB
from ..runs.streamed_crossover import BIN, StreamedCrossover, YearCounts
from .report import TargetRow, crossover_section, growth_convergence, growth_sections, growth_summary
from .summaries import summary_sections

__all__ = ["streamed_crossover_sections", "year_quantile", "year_table"]


def year_quantile(y: YearCounts, p: float) -> float:
    """The ``p`` quantile (inverted CDF) of the crossover year: ``-inf`` among the draws already crossed, ``inf``
    among those that never cross, else the middle of its 0.01-year bin."""
    need = p * y.n
    if y.already >= need:
        return -math.inf
    cum = y.already + np.cumsum(y.hist)
    j = int(np.searchsorted(cum, need, side="left"))
    return math.inf if j >= len(y.hist) else (y.base + j + 0.5) * BIN


def _hdi(y: YearCounts) -> tuple[float, float]:
    """The shortest run of whole bins holding ``HDI_PROB`` of the draws that cross after the data."""
    total = int(y.hist.sum())
    if total == 0:
        return (-math.inf, -math.inf) if y.already == y.n else (math.inf, math.inf)
    cum = np.concatenate([[0], np.cumsum(y.hist)])
    need = math.ceil(HDI_PROB * total)
    ends = np.searchsorted(cum, cum[:-1] + need, side="left")
    ok = ends < len(cum)
    starts = np.flatnonzero(ok)
    best = starts[np.argmin(ends[ok] - starts)]
    return (y.base + best) * BIN, (y.base + ends[best]) * BIN


def _batch_mcse(counts: np.ndarray, sizes: np.ndarray) -> float:
    """Standard error of a proportion from independent batches (ratio estimator, batch means)."""
    if len(sizes) < 2:
        return math.nan
    p = counts.sum() / sizes.sum()
    b = len(sizes)
    return float(math.sqrt(b / (b - 1) * np.sum((counts - p * sizes) ** 2)) / sizes.sum())


def _by_block(y: YearCounts) -> tuple[np.ndarray, np.ndarray]:
    """The batches' counts summed within each growth block, and the mean of their medians per block."""
    block = np.arange(len(y.batch_counts)) % y.blocks
    counts = np.stack([y.batch_counts[block == g].sum(axis=0) for g in range(y.blocks)])
    medians = np.array([y.batch_medians[block == g].mean() for g in range(y.blocks)])
    return counts, medians


def year_table(y: YearCounts) -> pd.DataFrame:
    """One row with the columns of :func:`uncertainty.output.report.crossover_summary` (but ESS: the draws are
    counted, not kept): P(already), quantiles, 90% HDI, P(by year), P(never), with errors from batch means
    over the growth blocks (see :mod:`uncertainty.runs.streamed_crossover`)."""
    blocks, block_medians = _by_block(y)
    sizes = blocks[:, 0].astype(np.float64)
    row: dict[str, float] = {"p_already": y.already / y.n, "mcse_p_already": _batch_mcse(blocks[:, 1], sizes)}
    q5, median, q95 = (year_quantile(y, p) for p in CENTRAL)
    row.update(median=median, q5=q5, q95=q95)
    row["hdi_lo"], row["hdi_hi"] = _hdi(y)
    for i, year in enumerate(BY_YEARS):
        by = blocks[:, 3 + i]
        row[f"p_by_{year}"], row[f"mcse_p_by_{year}"] = by.sum() / y.n, _batch_mcse(by, sizes)
    row["p_never"] = y.never / y.n
    medians = block_medians
    ok = len(medians) > 1 and np.isfinite(medians).all()
    row["mcse_median"] = float(np.std(medians, ddof=1) / math.sqrt(len(medians))) if ok else math.nan
    return pd.DataFrame([row], index=["crossover year"])


def streamed_crossover_sections(run: StreamedCrossover) -> list:
    """Every table of a streamed crossover."""
    y = run.years
    batches = len(y.batch_counts)
    how = (
        f"\nstreamed: {y.n:,} joint draws counted in {BIN:g}-year bins (quantiles and HDI to the bin); mcse from "
        f"batch means over {y.blocks} blocks of the growth draws ({batches:,} batches; it includes the fit's own "
        "Monte Carlo error, which more draws do not reduce); each batch pairs its brain draws with "
        f"{run.attrs.get('growth_draws', 0):,} growth posterior draws resampled with the seed, first passage "
        f"{run.attrs.get('first_passage')}"
        + (
            f", one path per {run.attrs['draws_per_path']} brain draws"
            if run.attrs.get("draws_per_path", 1) > 1
            else ""
        )
    )
    return [
        *summary_sections(run.stats, run.layout),
        crossover_section(year_table(y), run.attrs, how),
        *growth_sections(run.fit),
    ]


def streamed_target(run: StreamedCrossover) -> TargetRow:
    """A streamed crossover as a row of :func:`uncertainty.output.report.target_section`."""
    converged, _ = growth_convergence(growth_summary(run.fit))
    return TargetRow(year_table(run.years).iloc[0], run.attrs, converged)
