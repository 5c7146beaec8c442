"""First passage of a random walk with drift: exact where it exists, a Brownian bridge between grid points elsewhere.

Everything works on the gap ``g(t) = path(t) - level`` (log2 units; the path reaches the level when
``g >= 0``), the convention of :mod:`uncertainty.growth.crossover`. Times are in years, drifts in log2
per year, volatilities in log2 per sqrt(year), variances in log2**2 (a variance rate: log2**2 per year).

* :func:`randomwalk_first_passage`: the first-passage time of Brownian motion with drift, drawn exactly
  (inverse Gaussian, Michael, Schucany & Haas 1976; a defective one for a drift <= 0).
* :func:`bridge_crossing_probability` and :func:`bridge_crossing_fraction`: whether a Brownian bridge
  between two grid values reaches 0, and where (exact: the time ``s / (1 - s)`` of the bridge's first hit is
  again inverse Gaussian, see :func:`bridge_crossing_fraction`).
* :func:`first_passage_on_grid`: the first crossing of a path simulated on a coarse grid, each step a
  Brownian bridge; for a random walk with drift it has the exact first-passage distribution whatever the
  grid, where :func:`~uncertainty.growth.crossover.first_crossing_on_grid` (straight lines between points)
  misses the crossings between points and is late.

All are pure JAX (``jax.jit``, ``jax.vmap``), in float32 or float64 (the dtype of the inputs, JAX's
promotion; random draws in that dtype), broadcasting their array arguments.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

__all__ = [
    "randomwalk_first_passage",
    "bridge_crossing_probability",
    "bridge_crossing_fraction",
    "first_passage_on_grid",
    "bridge_maximum",
    "first_passage_of_levels",
]


def _float_dtype(*xs: ArrayLike):
    return jnp.result_type(float, *xs)


def _passage_time(key: Array, distance: Array, drift: Array, variance_rate: Array) -> Array:
    """First-passage time (years) from 0 up to ``distance`` > 0 of Brownian motion with drift ``drift`` and
    variance rate ``variance_rate`` (all broadcast, one dtype); ``inf`` where it never arrives.

    Michael, Schucany & Haas (1976) for IG(mu = d / |m|, lam = d**2 / v): with ``y = Z**2`` the two roots
    of ``lam (x - mu)**2 / (mu**2 x) = y`` are ``mu s`` and ``mu / s``; the smaller is taken with
    probability ``1 / (1 + s)``. Written with ``c = 2 |m| d / v = 2 lam / mu``:
    ``mu s = 2 lam / (c + y + sqrt(y (y + 2 c)))`` and ``s = c / (c + y + sqrt(y (y + 2 c)))``, a form without
    the cancellation of the textbook ``mu + mu**2 y / (2 lam) - mu / (2 lam) sqrt(4 mu lam y + mu**2 y**2)``
    (large ``mu / lam``), which is also the Levy draw ``lam / Z**2`` at ``m = 0`` (``c = 0``). A drift < 0
    arrives with probability ``exp(-c)``, and then at an IG(d / |m|, lam) time.
    """
    dtype = distance.dtype
    k_z, k_root, k_hit = jax.random.split(key, 3)
    shape = distance.shape
    y = jnp.square(jax.random.normal(k_z, shape, dtype))
    u_root = jax.random.uniform(k_root, shape, dtype)
    u_hit = jax.random.uniform(k_hit, shape, dtype)

    ahead = distance > 0
    noisy = variance_rate > 0
    d = jnp.where(ahead, distance, 1.0)
    v = jnp.where(noisy, variance_rate, 1.0)
    m = jnp.abs(drift)
    lam = jnp.square(d) / v
    c = 2.0 * m * d / v
    den = c + y + jnp.sqrt(y * (y + 2.0 * c))
    small = jnp.where(den > 0, 2.0 * lam / jnp.where(den > 0, den, 1.0), jnp.inf)
    s = jnp.where(c > 0, c / jnp.where(c > 0, den, 1.0), 0.0)
    mu = d / jnp.where(m > 0, m, 1.0)
    large = jnp.where(s > 0, mu / jnp.where(s > 0, s, 1.0), jnp.inf)
    t = jnp.where(u_root * (1.0 + s) <= 1.0, small, large)
    t = jnp.where((drift < 0) & (u_hit >= jnp.exp(-c)), jnp.inf, t)

    still = jnp.where(drift > 0, d / jnp.where(drift > 0, drift, 1.0), jnp.inf)
    t = jnp.where(noisy, t, still)
    return jnp.where(ahead, t, 0.0).astype(dtype)


def randomwalk_first_passage(key: Array, distance: ArrayLike, drift: ArrayLike, vol: ArrayLike) -> Array:
    """First-passage time (years) of ``drift * t + vol * W(t)`` from 0 up to ``distance`` (log2 units).

    ``drift`` in log2 per year, ``vol`` in log2 per sqrt(year) (its sign is ignored); all three broadcast.
    Exact: for ``drift > 0`` inverse Gaussian with mean ``distance / drift`` and shape
    ``distance**2 / vol**2`` (Michael, Schucany & Haas 1976, in a form stable for any ``mean / shape``).
    For ``drift <= 0`` the level is reached with probability ``exp(2 drift distance / vol**2)`` (1 at
    ``drift = 0``), then at an inverse Gaussian time of mean ``distance / |drift|`` (Levy,
    ``distance**2 / (vol**2 Z**2)``, at ``drift = 0``), else ``inf``. ``vol = 0``: ``distance / drift``
    for ``drift > 0``, else ``inf``. ``distance <= 0``: 0.
    """
    dtype = _float_dtype(distance, drift, vol)
    d, m, s = (jnp.asarray(x, dtype) for x in (distance, drift, vol))
    shape = jnp.broadcast_shapes(d.shape, m.shape, s.shape)
    d, m, s = (jnp.broadcast_to(x, shape) for x in (d, m, s))
    return _passage_time(key, d, m, jnp.square(s))


def bridge_crossing_probability(gap_a: ArrayLike, gap_b: ArrayLike, variance: ArrayLike) -> Array:
    """Probability that a Brownian bridge from ``gap_a`` to ``gap_b`` (log2 units) reaches 0 on the way.

    ``variance`` (log2**2) is the path's variance over the interval (``vol**2 * dt``). Both ends below 0:
    ``exp(-2 gap_a gap_b / variance)`` (0 when ``variance <= 0``); 1 if either end is at or above 0.
    """
    dtype = _float_dtype(gap_a, gap_b, variance)
    a, b, v = (jnp.asarray(x, dtype) for x in (gap_a, gap_b, variance))
    noisy = v > 0
    exponent = jnp.where(noisy, -2.0 * a * b / jnp.where(noisy, v, 1.0), -jnp.inf)
    return jnp.where((a >= 0) | (b >= 0), 1.0, jnp.exp(jnp.minimum(exponent, 0.0))).astype(dtype)


def bridge_crossing_fraction(key: Array, gap_a: ArrayLike, gap_b: ArrayLike, variance: ArrayLike) -> Array:
    """Where in its interval (a fraction in [0, 1]) a Brownian bridge from ``gap_a`` to ``gap_b`` first reaches 0,
    given that it does; drawn exactly.

    ``variance`` (log2**2) is the path's variance over the interval. The first hit ``s`` of a bridge from
    ``a < 0`` to ``b`` has density proportional to ``s**-1.5 (1 - s)**-0.5 exp(-a**2 / (2 v s) - b**2 / (2 v (1 - s)))``
    (the free hitting-time density times the transition density from 0 at ``s`` to ``b`` at 1), the same for
    ``b`` and ``-b`` (reflection at the hit), so a bridge ending below 0 that crosses is drawn as the one
    ending at ``|b|``. With ``u = s / (1 - s)`` that density is ``u**-1.5 exp(-a**2 / (2 v u) - b**2 u / (2 v))``:
    inverse Gaussian with mean ``|a| / |b|`` and shape ``a**2 / v`` (Levy at ``b = 0``), the first passage
    to ``|a|`` of a walk with drift ``|b|`` and variance rate ``v``, drawn exactly (Michael, Schucany & Haas);
    ``s = u / (1 + u)``. ``gap_a >= 0``: 0. ``variance = 0`` (a straight line): ``-a / (|b| - a)``, the
    linear interpolation (for both ends below 0 the bridge never crosses and the value is that of ``|b|``).
    """
    dtype = _float_dtype(gap_a, gap_b, variance)
    a, b, v = (jnp.asarray(x, dtype) for x in (gap_a, gap_b, variance))
    shape = jnp.broadcast_shapes(a.shape, b.shape, v.shape)
    a, b, v = (jnp.broadcast_to(x, shape) for x in (a, b, v))
    below = a < 0
    alpha = jnp.where(below, -a, 1.0)
    c = jnp.abs(b)
    noisy = v > 0
    u = _passage_time(key, alpha, c, jnp.where(noisy, v, 1.0))
    frac = 1.0 / (1.0 + 1.0 / u)  # u = 0 -> 0, u = inf -> 1
    line = alpha / (alpha + c)
    return jnp.where(below, jnp.where(noisy, frac, line), 0.0).astype(dtype)


def first_passage_on_grid(key: Array, times: ArrayLike, gap: ArrayLike, variance_rate: ArrayLike) -> Array:
    """First year where the path ``gap`` (shape ``(..., len(times))``, log2 units) reaches 0, with Brownian bridges
    between the grid points; ``inf`` if it does not by ``times[-1]``.

    ``times`` (years) is increasing. Between ``times[i]`` and ``times[i + 1]`` the path is a Brownian
    bridge of variance ``variance_rate * dt`` (``variance_rate`` in log2**2 per year, broadcast to
    ``gap.shape[:-1]``): the first step whose end is at or above 0, or whose bridge crosses (with
    :func:`bridge_crossing_probability`, drawn with ``key``), gives the year, placed in the step by
    :func:`bridge_crossing_fraction`. For a random walk with drift and volatility ``sqrt(variance_rate)``
    sampled on any grid this is the exact first passage (truncated at ``times[-1]``). ``variance_rate = 0``
    is linear interpolation, :func:`~uncertainty.growth.crossover.first_crossing_on_grid`. A path at or
    above 0 at ``times[0]`` crosses at ``times[0]``.
    """
    t = jnp.asarray(times, dtype=float)
    g = jnp.asarray(gap)
    dtype = _float_dtype(t, g, variance_rate)
    start = g[..., 0] >= 0
    if g.shape[-1] < 2:
        return jnp.where(start, t[0], jnp.inf).astype(dtype)
    rate = jnp.broadcast_to(jnp.asarray(variance_rate, dtype), g.shape[:-1])
    ga, gb = g[..., :-1], g[..., 1:]
    var = rate[..., None] * jnp.diff(t)
    k_cross, k_frac = jax.random.split(key)
    u = jax.random.uniform(k_cross, ga.shape, dtype)
    crosses = (gb >= 0) | (u < bridge_crossing_probability(ga, gb, var))
    first = jnp.argmax(crosses, axis=-1)

    def pick(x):
        return jnp.take_along_axis(x, first[..., None], axis=-1)[..., 0]

    frac = bridge_crossing_fraction(k_frac, pick(ga), pick(gb), pick(var))
    ta, tb = t[first], t[first + 1]
    year = jnp.minimum(ta + (tb - ta) * frac, tb)
    year = jnp.where(start, t[0], year)
    return jnp.where(jnp.any(crosses, axis=-1) | start, year, jnp.inf).astype(dtype)


def bridge_maximum(key: Array, gap_a: ArrayLike, gap_b: ArrayLike, variance: ArrayLike) -> Array:
    """A draw of the maximum of a Brownian bridge from ``gap_a`` to ``gap_b`` of variance ``variance``:
    ``(a + b + sqrt((b - a)**2 - 2 variance log U)) / 2`` (exact; ``max(a, b)`` at variance 0)."""
    a, b = jnp.asarray(gap_a), jnp.asarray(gap_b)
    dtype = _float_dtype(a, b, variance)
    shape = jnp.broadcast_shapes(a.shape, b.shape, jnp.shape(variance))
    u = jax.random.uniform(key, shape, dtype, minval=jnp.finfo(dtype).tiny)
    var = jnp.maximum(jnp.asarray(variance, dtype), 0.0)
    return (a + b + jnp.sqrt(jnp.square(b - a) - 2.0 * var * jnp.log(u))) / 2.0


def first_passage_of_levels(
    key: Array, times: ArrayLike, path: ArrayLike, levels: ArrayLike, variance_rate: ArrayLike
) -> Array:
    """First years where each path reaches each of its levels, with Brownian bridges between grid points:
    ``path`` ``(K, P)`` on the increasing ``times`` (log2 units), ``levels`` ``(K, R)``, ``variance_rate``
    ``(K,)`` (log2**2 per year). ``times[0]`` for a level at or below the first point, ``inf`` for one not
    reached by ``times[-1]``.

    Each step's bridge maximum is drawn once per path (:func:`bridge_maximum`); a level is first reached in
    the first step whose maximum reaches it (one binary search on the running maximum of the steps' maxima),
    and inside that step at the bridge's exact first-hit time given that it hits
    (:func:`bridge_crossing_fraction`). For each level this has the distribution of
    :func:`first_passage_on_grid`; the levels of one path share its grid points and step maxima.
    """
    t = jnp.asarray(times, dtype=float)
    g = jnp.asarray(path)
    lv = jnp.asarray(levels)
    dtype = _float_dtype(t, g, lv, variance_rate)
    var = jnp.asarray(variance_rate, dtype)[:, None] * jnp.diff(t)  # (K, P - 1)
    k_max, k_frac = jax.random.split(key)
    ga, gb = g[:, :-1], g[:, 1:]
    top = jax.lax.cummax(bridge_maximum(k_max, ga, gb, var), axis=1)
    step = jax.vmap(lambda m, v: jnp.searchsorted(m, v, side="left"))(top, lv)  # (K, R): the step reaching it
    inside = jnp.minimum(step, t.shape[0] - 2)

    def pick(x):
        return jnp.take_along_axis(x, inside, axis=1)

    frac = bridge_crossing_fraction(k_frac, pick(ga) - lv, pick(gb) - lv, pick(var))
    ta, tb = t[inside], t[inside + 1]
    year = jnp.minimum(ta + (tb - ta) * frac, tb)
    year = jnp.where(lv <= g[:, :1], t[0], year)
    return jnp.where((step >= t.shape[0] - 1) & (lv > g[:, :1]), jnp.inf, year).astype(dtype)
