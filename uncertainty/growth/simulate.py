"""Many future paths at once: a stochastic growth model's state stepped for a whole batch of draws.

:meth:`GrowthModel.paths <uncertainty.growth.models.GrowthModel>` simulates one draw at a time (its filter,
then a scan with a transition per step). A streamed crossover simulates hundreds of thousands of paths, so
here the filtered states of the posterior draws are computed once (:func:`filtered_states`), and a batch of
paths is one scan over the grid whose carry is the batch's states, with each draw's transition computed once
for the grid's constant step (:func:`state_paths`). The paths have the distribution of ``model.paths``
(another stream of random numbers).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import Array

from .models import STATE_SPACES, FitData

__all__ = ["filtered_states", "state_paths"]

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
