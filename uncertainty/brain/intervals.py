"""Distribution parameters from elicited credible intervals.

A normal whose central ``ci`` interval is ``[lo, hi]`` has mean ``(lo + hi) / 2``
and sd ``(hi - lo) / (2 z)`` with ``z = Phi^-1((1 + ci) / 2)`` (1.6449 for the
default 90% interval); a lognormal is the same in log space.
"""

from __future__ import annotations

import math
from statistics import NormalDist

__all__ = ["interval_z", "normal_params", "lognormal_params"]


def interval_z(ci: float) -> float:
    """Standard-normal quantile bounding a central ``ci`` interval (1.6449 for 0.9)."""
    return NormalDist().inv_cdf(0.5 + ci / 2.0)


def normal_params(lo: float, hi: float, ci: float = 0.9) -> tuple[float, float]:
    """(mean, sd) of the normal whose central ``ci`` interval is ``[lo, hi]``."""
    return (lo + hi) / 2.0, (hi - lo) / (2.0 * interval_z(ci))


def lognormal_params(lo: float, hi: float, ci: float = 0.9) -> tuple[float, float]:
    """(mu, sigma) of the lognormal whose central ``ci`` interval is ``[lo, hi]``."""
    return normal_params(math.log(lo), math.log(hi), ci)
