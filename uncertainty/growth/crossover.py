"""Crossover year: when the fastest computer's practical FLOP/s first reaches the brain's.

Everything works on ``g(t) = log2 F(t) - log2 brain_flops``. For a piecewise-linear
trend the first crossing has a closed form (:func:`first_crossing_at_kinks`: evaluate
g at the kinks, interpolate on the first segment that reaches 0). For random future
paths (the growth models of :mod:`uncertainty.growth.models`) it is found on the
simulated path (:func:`first_crossing_on_grid`: the first grid point at or above 0,
linear interpolation inside the step). Both vectorise. A draw that does not cross by
the horizon gets ``inf``: it is counted as "no crossover", never dropped or
clipped into the histogram.

Scenario mode (the article's, SPEC section 5): ``F(t) = F0 * 2**((t - t0) / d)``;
the article counts whole doubling periods, ``ceil(log2(brain / F0))``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from ..choices import DEFAULT_HORIZON

__all__ = [
    "doublings_needed",
    "scenario_crossover_year",
    "first_crossing",
    "first_crossing_at_kinks",
    "first_crossing_on_grid",
    "crossings_of_levels",
]


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


def first_crossing_at_kinks(
    gap: Callable[[Array], Array], t_start: ArrayLike, kinks: Sequence[ArrayLike], horizon: float = DEFAULT_HORIZON
) -> Array:
    """First year in ``[t_start, horizon]`` where a piecewise-linear ``gap(t)`` reaches 0, else ``inf``.

    ``gap`` is linear between the ``kinks`` (any order, any may lie outside the
    range), so evaluating it at the sorted kinks and interpolating linearly on the
    first segment that ends at or above 0 is exact.
    """
    t0 = jnp.asarray(t_start, dtype=float)
    inner = [jnp.clip(jnp.asarray(k, dtype=float), t0, horizon) for k in kinks]
    shape = jnp.broadcast_shapes(t0.shape, *(k.shape for k in inner))
    points = jnp.sort(jnp.stack([jnp.broadcast_to(x, shape) for x in (t0, *inner, jnp.full(shape, horizon))], -1), -1)
    values = jnp.stack([gap(points[..., i]) for i in range(points.shape[-1])], -1)
    a, b = points[..., :-1], points[..., 1:]
    ga, gb = values[..., :-1], values[..., 1:]
    crosses = gb >= 0  # a segment whose end is at or above the brain
    denom = jnp.where(gb > ga, gb - ga, 1.0)
    root = jnp.where(ga >= 0, a, a + (b - a) * (-ga) / denom)
    first = jnp.argmax(crosses, axis=-1)
    year = jnp.take_along_axis(root, first[..., None], axis=-1)[..., 0]
    year = jnp.where(values[..., 0] >= 0, points[..., 0], year)
    return jnp.where(jnp.any(crosses, axis=-1) | (values[..., 0] >= 0), year, jnp.inf)


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
    g0, t0, tc = (jnp.asarray(x, dtype=float) for x in (g_start, t_start, change_year))
    s1, s2 = jnp.asarray(slope_before), jnp.asarray(slope_after)

    def gap(t):
        return g0 + s1 * (jnp.minimum(t, tc) - t0) + s2 * jnp.maximum(t - tc, 0.0)

    return first_crossing_at_kinks(gap, t0, [tc], horizon)


def first_crossing_on_grid(times: ArrayLike, gap: ArrayLike) -> Array:
    """First year where the path ``gap`` (shape ``(..., len(times))``, log2 units) reaches 0, else ``inf``.

    ``times`` is increasing; between grid points the path is taken as linear, so a
    path that is linear in t gives the exact crossing. A path at or above 0 at
    ``times[0]`` crosses at ``times[0]``.
    """
    t = jnp.asarray(times, dtype=float)
    g = jnp.asarray(gap)
    reached = g >= 0
    first = jnp.argmax(reached, axis=-1)
    prev = jnp.maximum(first - 1, 0)
    ga = jnp.take_along_axis(g, prev[..., None], axis=-1)[..., 0]
    gb = jnp.take_along_axis(g, first[..., None], axis=-1)[..., 0]
    ta, tb = t[prev], t[first]
    frac = jnp.where(gb > ga, -ga / jnp.where(gb > ga, gb - ga, 1.0), 1.0)
    year = jnp.where(first == 0, t[0], ta + (tb - ta) * jnp.clip(frac, 0.0, 1.0))
    return jnp.where(jnp.any(reached, axis=-1), year, jnp.inf)


def crossings_of_levels(times: ArrayLike, path: ArrayLike, levels: ArrayLike) -> Array:
    """First years where each path reaches each of its levels: ``path`` (``(..., P)``, log2 units, on the
    increasing ``times``) and ``levels`` (``(..., R)``): ``R`` levels per path. The same years as
    :func:`first_crossing_on_grid` of ``path - level`` for each level (linear between grid points, ``times[0]``
    for a level at or below the first point, ``inf`` for one never reached), found by binary search on the
    path's running maximum: ``O(P + R log P)`` per path rather than ``O(P R)``."""
    t = jnp.asarray(times, dtype=float)
    g = jnp.asarray(path)
    top = jax.lax.cummax(g, axis=g.ndim - 1)
    flat_top = top.reshape(-1, top.shape[-1])
    flat_levels = jnp.asarray(levels).reshape(flat_top.shape[0], -1)
    first = jax.vmap(lambda m, v: jnp.searchsorted(m, v, side="left"))(flat_top, flat_levels)
    first = first.reshape(jnp.shape(levels))
    inside = jnp.clip(first, 1, t.shape[0] - 1)
    ga = jnp.take_along_axis(g, inside - 1, axis=-1)
    gb = jnp.take_along_axis(g, inside, axis=-1)
    lv = jnp.asarray(levels)
    frac = jnp.where(gb > ga, (lv - ga) / jnp.where(gb > ga, gb - ga, 1.0), 1.0)
    year = t[inside - 1] + (t[inside] - t[inside - 1]) * jnp.clip(frac, 0.0, 1.0)
    year = jnp.where(first == 0, t[0], year)
    return jnp.where(first >= t.shape[0], jnp.inf, year)
