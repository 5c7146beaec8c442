"""Crossover year: when the fastest computer's practical FLOP/s first reaches the brain's.

Everything works on ``g(t) = log2 F(t) - log2 brain_flops``, which is piecewise
linear in t for every growth model here (one change of slope at most), so the
first crossing has a closed form and vectorises. A draw that does not cross by
the horizon gets ``inf``: it is counted as "no crossover", never dropped or
clipped into the histogram.

Scenario mode (the article's, SPEC section 5): ``F(t) = F0 * 2**((t - t0) / d)``;
the article counts whole doubling periods, ``ceil(log2(brain / F0))``.
"""

from __future__ import annotations

import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

__all__ = [
    "DEFAULT_HORIZON",
    "doublings_needed",
    "scenario_crossover_year",
    "first_crossing",
]

DEFAULT_HORIZON = 2300.0


def doublings_needed(brain_flops: ArrayLike, start_flops: ArrayLike) -> Array:
    """Doublings from ``start_flops`` to ``brain_flops`` (both FLOP/s): ``log2(brain / start)``."""
    return jnp.log2(jnp.asarray(brain_flops) / jnp.asarray(start_flops))


def scenario_crossover_year(
    brain_flops: ArrayLike,
    start_flops: ArrayLike,
    start_year: ArrayLike,
    doubling_years: ArrayLike,
    whole_periods: bool = False,
    horizon: float | None = None,
) -> Array:
    """Year (decimal) when ``F0 * 2**((t - t0) / d)`` first reaches ``brain_flops``.

    ``start_flops`` in FLOP/s at ``start_year``; ``doubling_years`` in years.
    With ``whole_periods`` the number of doublings is rounded up, as the article
    does ("21 doubling periods"). A brain already reached gives ``start_year``;
    a non-positive doubling period, or a year beyond ``horizon``, gives ``inf``.
    """
    n = jnp.maximum(doublings_needed(brain_flops, start_flops), 0.0)
    if whole_periods:
        n = jnp.ceil(n)
    d = jnp.asarray(doubling_years)
    year = jnp.asarray(start_year) + jnp.where(n > 0, d * n, 0.0)
    never = (n > 0) & (d <= 0)
    if horizon is not None:
        never = never | (year > horizon)
    return jnp.where(never, jnp.inf, year)


def first_crossing(
    g_start: ArrayLike,
    t_start: ArrayLike,
    slope_before: ArrayLike,
    slope_after: ArrayLike,
    change_year: ArrayLike,
    horizon: float = DEFAULT_HORIZON,
) -> Array:
    """First year ``t`` in ``[t_start, horizon]`` with ``g(t) >= 0``, else ``inf``.

    ``g`` is piecewise linear: ``g(t_start) = g_start`` (log2 units), slope
    ``slope_before`` (per year) until ``change_year`` and ``slope_after`` after it.
    """
    g0 = jnp.asarray(g_start)
    t0 = jnp.asarray(t_start)
    s1, s2 = jnp.asarray(slope_before), jnp.asarray(slope_after)
    tc = jnp.clip(jnp.asarray(change_year), t0, horizon)
    safe1 = jnp.where(s1 > 0, s1, 1.0)
    safe2 = jnp.where(s2 > 0, s2, 1.0)
    t1 = jnp.where(s1 > 0, t0 - g0 / safe1, jnp.inf)  # crossing on the first piece, if it lasts
    g_c = g0 + s1 * (tc - t0)
    t2 = jnp.where(s2 > 0, tc - g_c / safe2, jnp.inf)  # crossing on the second piece
    year = jnp.where(g0 >= 0, t0, jnp.where(t1 <= tc, t1, jnp.where(g_c >= 0, tc, t2)))
    return jnp.where(year <= horizon, year, jnp.inf)
