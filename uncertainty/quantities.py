"""The quantities a report quotes, each defined once: the central interval (5%, median, 95%), the HDI's
probability, the brain FLOP/s thresholds of the tail probabilities and the years of P(crossed by year).
Kept and streamed runs, ``compare``, ``crossover`` and the command line's checks all read them from here
(the constants import nothing, so ``uncertainty --help`` stays light; the functions use NumPy)."""

from __future__ import annotations

__all__ = [
    "BY_YEARS",
    "CENTRAL",
    "HDI_PROB",
    "HEADLINE_YEAR",
    "TAIL_THRESHOLDS",
    "central",
    "flops_interval",
    "p_above",
    "p_by",
]

CENTRAL = (0.05, 0.5, 0.95)  # the equal-tailed 90% interval and the median
HDI_PROB = 0.9  # the highest-density interval's probability
TAIL_THRESHOLDS = (15, 18, 21, 24)  # log10 FLOP/s: P(brain FLOP/s > 1e15, 1e18, 1e21, 1e24)
BY_YEARS = (2030, 2050, 2100)  # P(crossed by the year)
HEADLINE_YEAR = 2050  # the one year of a compact table (compare's crossover columns)


def central(x, method: str = "linear") -> tuple[float, float, float]:
    """The 5% quantile, the median and the 95% quantile of the draws ``x`` (NaN for no draws); ``method``
    as :func:`numpy.quantile` (``inverted_cdf`` for years, where ``inf`` means never)."""
    import numpy as np

    x = np.asarray(x).ravel()
    if not x.size:
        return (np.nan,) * 3
    q5, q50, q95 = np.quantile(x, CENTRAL, method=method)
    return float(q5), float(q50), float(q95)


def flops_interval(log10_flops) -> dict[str, float]:
    """Median, 5% and 95% of FLOP/s from draws of log10 FLOP/s (NaN for no draws)."""
    import numpy as np

    q5, q50, q95 = central(np.asarray(log10_flops, dtype=np.float64))
    return {"median": 10.0**q50, "q5": 10.0**q5, "q95": 10.0**q95}


def p_above(log10_flops, threshold: float) -> float:
    """The share of draws of log10 FLOP/s above ``threshold`` (log10 FLOP/s)."""
    import numpy as np

    return float(np.mean(np.asarray(log10_flops) > threshold))


def p_by(years, year: float) -> float:
    """The share of crossover-year draws at or before ``year`` (never: ``inf``)."""
    import numpy as np

    return float(np.mean(np.asarray(years) <= year))
