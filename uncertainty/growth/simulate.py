"""Many future paths at once: a stochastic growth model's state stepped for a whole batch of draws.

:meth:`GrowthModel.paths <uncertainty.growth.models.GrowthModel>` simulates one draw at a time (its filter,
then a scan with a transition per step). A streamed crossover simulates hundreds of thousands of paths, so
here the filtered states of the posterior draws are computed once (:func:`filtered_states`), and a batch of
paths is one scan over the grid whose carry is the batch's states, with each draw's transition computed once
for the grid's constant step (:func:`state_paths`). The paths have the distribution of ``model.paths``
(another stream of random numbers).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import Array

from .models import STATE_SPACES, FitData

__all__ = [
    "BLOCK",
    "PathStart",
    "Ratio",
    "filtered_states",
    "levels_first_passage",
    "model_first_passage",
    "path_start",
    "state_paths",
]

_JITTER = 1e-12


def filtered_states(model: str, params: dict[str, Array], d: FitData) -> tuple[Array, Array]:
    """Each draw's state mean ``(n, k)`` and covariance ``(n, k, k)`` at the model's last point ``d.t_last``."""
    space = STATE_SPACES[model]
    return jax.vmap(lambda p: space.state(p, d))(params)


def _chol(a: Array) -> Array:
    return jnp.linalg.cholesky(a + _JITTER * jnp.eye(a.shape[-1]))


def state_paths(
    key: Array, model: str, params: dict[str, Array], states: tuple[Array, Array], t_last: float, grid: Array
) -> Array:
    """Paths ``(n, len(grid))`` of the model's first state component (log2 FLOP/s) along ``grid`` (sorted,
    after ``t_last``; steps after the first all equal, the last may be shorter), from each draw's filtered
    state ``states`` at ``t_last``."""
    space = STATE_SPACES[model]
    m, P = states
    n, k = m.shape
    dts = jnp.diff(jnp.concatenate([jnp.asarray([t_last], grid.dtype), grid]))

    def factors(dt):
        F, Q = jax.vmap(lambda p: space.transition(p)(dt))(params)
        return F, _chol(Q)

    k0, k1 = jax.random.split(key)
    x = m + jnp.einsum("nij,nj->ni", _chol(P), jax.random.normal(k0, (n, k), m.dtype))
    F_step, L_step = factors(dts[1] if grid.shape[0] > 1 else dts[0])

    def advance(x, inp):
        dt, i = inp
        regular = jnp.abs(dt - dts[1 % grid.shape[0]]) < 1e-9
        F, L = jax.lax.cond(regular, lambda: (F_step, L_step), lambda: factors(dt))
        e = jax.random.normal(jax.random.fold_in(k1, i), (n, k), m.dtype)
        x = jnp.einsum("nij,nj->ni", F, x) + jnp.einsum("nij,nj->ni", L, e)
        return x, x[:, 0]

    _, path = jax.lax.scan(advance, x, (dts, jnp.arange(grid.shape[0])))
    return path.T


BLOCK = 16  # grid steps per turn of the loop of :func:`levels_first_passage`


class Ratio(NamedTuple):
    """The HPCG efficiency walk of each draw: filtered mean and variance at its last list (time ``t``), vol."""

    mean: Array
    var: Array
    t: Array
    vol: Array


class PathStart(NamedTuple):
    """What each posterior draw's future path starts from: its parameters, the model's filtered state at the
    last point (mean ``(n, k)``, covariance ``(n, k, k)``), the ``hpcg`` target's efficiency walk (``None``
    for another target) and the path's variance rate (log2**2 per year)."""

    params: dict[str, Array]
    states: tuple[Array, Array]
    ratio: Ratio | None
    rate: Array

    def take(self, pick: Array) -> PathStart:
        """The draws ``pick`` (an index array)."""
        r = self.ratio
        return PathStart(
            params={k: v[pick] for k, v in self.params.items()},
            states=tuple(x[pick] for x in self.states),
            ratio=None if r is None else Ratio(r.mean[pick], r.var[pick], r.t, r.vol[pick]),
            rate=self.rate[pick],
        )


def path_start(model: str, params: dict[str, Array], d: FitData) -> PathStart:
    """The :class:`PathStart` of the posterior draws ``params`` of a state-space ``model`` fitted to ``d``."""
    from .models import path_variance_rate, ratio_state

    ratio = None
    if d.rt is not None:
        mean, var, t_ratio = ratio_state(params, d)
        ratio = Ratio(mean=mean, var=var, t=t_ratio, vol=params["ratio_vol"])
    return PathStart(params, filtered_states(model, params, d), ratio, path_variance_rate(model, params, d))


def levels_first_passage(
    key: Array,
    model: str,
    start: PathStart,
    levels: Array,
    *,
    t_last: float,
    step: float,
    t0: float,
    y0: float,
    horizon: float,
) -> Array:
    """First years ``(n, R)`` where each draw's path (the model's state from ``start.states`` at ``t_last``, plus
    the capped efficiency walk ``start.ratio`` of the ``hpcg`` target) reaches each of its ``R`` levels (log2),
    on the grid ``t_last + step * i`` with Brownian bridges of variance rate ``start.rate`` between points.

    The path starts at the last observation ``(t0, y0)``: a level at or below ``y0`` is crossed at ``t0``;
    grid points at or before ``t0`` are stepped through, not searched. A level reached after ``horizon``, or
    not at all, gives ``inf``. The grid is walked :data:`BLOCK` points at a time and the walk stops when every
    finite level is reached, so a batch costs the steps to its latest crossing, not to the horizon. Each
    level's year has the distribution of :func:`~uncertainty.growth.passage.first_passage_of_levels` on
    the simulated path.
    """
    from .passage import bridge_crossing_fraction, bridge_maximum

    space = STATE_SPACES[model]
    params, ratio, rate = start.params, start.ratio, start.rate
    m, P = start.states
    n, k = m.shape
    dtype = m.dtype
    F, Q = jax.vmap(lambda p: space.transition(p)(step))(params)
    L = _chol(Q)
    k_start, k_ratio, k_loop = jax.random.split(key, 3)
    x = m + jnp.einsum("nij,nj->ni", _chol(P), jax.random.normal(k_start, (n, k), dtype))
    if ratio is not None:
        r = jnp.minimum(ratio.mean + jnp.sqrt(ratio.var) * jax.random.normal(k_ratio, (n,), dtype), 0.0)
        first_ratio_dt = jnp.maximum(t_last + step - ratio.t, 0.0)
    else:
        r = jnp.zeros((n,), dtype)
    steps = max(1, math.ceil((horizon - t_last) / step - 1e-9))
    blocks = -(-steps // BLOCK)
    years = jnp.where(levels <= y0, jnp.asarray(t0, dtype), jnp.asarray(jnp.inf, dtype))
    crossed = (levels <= y0) | ~jnp.isfinite(levels)

    def body(carry):
        b, x, r, prev_t, prev_g, years, crossed = carry
        kb = jax.random.fold_in(k_loop, b)
        k_steps, k_max, k_frac = jax.random.split(kb, 3)
        index = b * BLOCK + jnp.arange(1, BLOCK + 1)
        times = t_last + step * index.astype(dtype)

        def advance(state, inp):
            x, r = state
            i, kk = inp
            k_x, k_r = jax.random.split(kk)
            x = jnp.einsum("nij,nj->ni", F, x) + jnp.einsum("nij,nj->ni", L, jax.random.normal(k_x, (n, k), dtype))
            if ratio is not None:
                dt = jnp.where(i == 1, first_ratio_dt, step)
                r = jnp.minimum(r + ratio.vol * jnp.sqrt(dt) * jax.random.normal(k_r, (n,), dtype), 0.0)
            return (x, r), x[:, 0] + r

        (x, r), path = jax.lax.scan(advance, (x, r), (index, jax.random.split(k_steps, BLOCK)))
        path = path.T  # (n, BLOCK)
        after = times > t0 + 1e-9
        shifted_t = jnp.concatenate([prev_t[None], times[:-1]])
        shifted_g = jnp.concatenate([prev_g[:, None], path[:, :-1]], axis=1)
        left_t = jnp.where(shifted_t > t0 + 1e-9, shifted_t, t0)
        left_g = jnp.where((shifted_t > t0 + 1e-9)[None, :], shifted_g, y0)
        var = rate[:, None] * (times - left_t)[None, :]
        top = jax.lax.cummax(jnp.where(after[None, :], bridge_maximum(k_max, left_g, path, var), -jnp.inf), axis=1)
        j = jax.vmap(lambda t, v: jnp.searchsorted(t, v, side="left"))(top, levels)
        hit = (j < BLOCK) & ~crossed
        jj = jnp.minimum(j, BLOCK - 1)

        def pick(a):
            return jnp.take_along_axis(a, jj, axis=1)

        frac = bridge_crossing_fraction(k_frac, pick(left_g) - levels, pick(path) - levels, pick(var))
        ta, tb = left_t[jj], times[jj]
        years = jnp.where(hit, ta + (tb - ta) * frac, years)
        last = times[-1] > t0 + 1e-9
        prev_t = jnp.where(last, times[-1], prev_t)
        prev_g = jnp.where(last, path[:, -1], prev_g)
        return b + 1, x, r, prev_t, prev_g, years, crossed | hit

    def more(carry):
        b, *_, crossed = carry
        return (b < blocks) & ~jnp.all(crossed)

    start = (jnp.asarray(0), x, r, jnp.asarray(t0, dtype), jnp.full((n,), y0, dtype), years, crossed)
    years = jax.lax.while_loop(more, body, start)[5]
    return jnp.where(years > horizon, jnp.inf, years)


def model_first_passage(
    key: Array,
    model: str,
    params: dict[str, Array],
    d: FitData,
    levels: Array,
    *,
    t0: float,
    y0: float,
    horizon: float,
    step: float = 1.0,
) -> Array:
    """:func:`levels_first_passage` of the posterior draws ``params`` (one path each, ``levels`` ``(n, R)``),
    from their :func:`path_start`."""
    return levels_first_passage(
        key,
        model,
        path_start(model, params, d),
        levels,
        t_last=float(d.t_last),
        step=step,
        t0=t0,
        y0=y0,
        horizon=horizon,
    )
