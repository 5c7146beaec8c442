"""Crossover year: when the fastest computer's practical FLOP/s reaches the brain's.

Scenario mode (the article's, SPEC section 5): ``F(t) = F0 * 2**((t - t0) / d)``,
so ``F(t) >= brain`` first at ``t = t0 + d * log2(brain / F0)``. The article
counts whole doubling periods, ``ceil(log2(brain / F0))``; both are offered.
Vectorised: every argument may be an array (broadcast together).
"""

from __future__ import annotations

import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

__all__ = ["doublings_needed", "scenario_crossover_year"]


def doublings_needed(brain_flops: ArrayLike, start_flops: ArrayLike) -> Array:
    """Doublings from ``start_flops`` to ``brain_flops`` (both FLOP/s): ``log2(brain / start)``."""
    return jnp.log2(jnp.asarray(brain_flops) / jnp.asarray(start_flops))


def scenario_crossover_year(
    brain_flops: ArrayLike,
    start_flops: ArrayLike,
    start_year: ArrayLike,
    doubling_years: ArrayLike,
    whole_periods: bool = False,
) -> Array:
    """Year (decimal) when ``F0 * 2**((t - t0) / d)`` first reaches ``brain_flops``.

    ``start_flops`` in FLOP/s at ``start_year``; ``doubling_years`` in years.
    With ``whole_periods`` the number of doublings is rounded up, as the article
    does ("21 doubling periods"). A brain already reached gives ``start_year``.
    """
    n = jnp.maximum(doublings_needed(brain_flops, start_flops), 0.0)
    if whole_periods:
        n = jnp.ceil(n)
    return jnp.asarray(start_year) + jnp.asarray(doubling_years) * n
