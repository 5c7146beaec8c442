"""Scores of a predictive distribution against an observed value (array statistics, JAX).

A predictive here is a mixture: each posterior draw ``s`` contributes a
Student-t (or normal, ``df = inf``) component ``(loc_s, scale_s, df_s)``.
For an observation ``y`` (all in log2 FLOP/s):

- PIT ``= mean_s F_s(y)``, exact for the mixture; ``y`` lies inside the central
  ``p`` interval exactly when ``|PIT - 1/2| <= p/2``;
- log score ``= log mean_s f_s(y)`` (the log predictive density; higher is better);
- CRPS ``= E|X - y| - E|X - X'|/2`` (lower is better; log2 units), estimated from one
  draw of ``X`` per component with the sorted-sample formula (no O(S^2) pairs).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpyro.distributions as dist
from jax import Array
from jax.scipy.special import logsumexp

from .models import Predictive

__all__ = ["LEVELS", "pit", "log_score", "crps_from_samples", "predictive_samples", "score"]

LEVELS = (0.5, 0.8, 0.9)


def _finite_df(df: Array) -> Array:
    return jnp.where(jnp.isfinite(df), df, 1.0)


def _cdf(p: Predictive, y: Array) -> Array:
    z = (y - p.loc) / p.scale
    t = dist.StudentT(_finite_df(p.df)).cdf(z)
    return jnp.where(jnp.isfinite(p.df), t, jax.scipy.stats.norm.cdf(z))


def _logpdf(p: Predictive, y: Array) -> Array:
    z = (y - p.loc) / p.scale
    t = dist.StudentT(_finite_df(p.df)).log_prob(z)
    return jnp.where(jnp.isfinite(p.df), t, jax.scipy.stats.norm.logpdf(z)) - jnp.log(p.scale)


def pit(p: Predictive, y: Array) -> Array:
    """Probability integral transform of ``y`` under the mixture over axis 0 (draws)."""
    return jnp.mean(_cdf(p, y), axis=0)


def log_score(p: Predictive, y: Array) -> Array:
    """Log predictive density of ``y`` under the mixture over axis 0."""
    return logsumexp(_logpdf(p, y), axis=0) - math.log(p.loc.shape[0])


def predictive_samples(key: Array, p: Predictive) -> Array:
    """One draw from each component: samples of the mixture, shape of ``p.loc``."""
    eps = jnp.where(
        jnp.isfinite(jnp.broadcast_to(p.df, p.loc.shape)),
        dist.StudentT(jnp.broadcast_to(_finite_df(p.df), p.loc.shape)).sample(key),
        jax.random.normal(key, p.loc.shape),
    )
    # Student-t draws with df < 1 can overflow; a cap far beyond any FLOP/s keeps the CRPS finite
    return p.loc + p.scale * jnp.clip(eps, -_EPS_CAP, _EPS_CAP)


_EPS_CAP = 1e6


def crps_from_samples(x: Array, y: Array) -> Array:
    """CRPS of the empirical distribution of ``x`` (axis 0) at ``y``: ``E|X-y| - E|X-X'|/2``.

    ``sum_ij |x_i - x_j| = 2 sum_i (2i - n - 1) x_(i)`` for the sorted sample (i = 1..n).
    """
    n = x.shape[0]
    xs = jnp.sort(x, axis=0)
    i = jnp.arange(1, n + 1, dtype=x.dtype).reshape((n,) + (1,) * (x.ndim - 1))
    spread = 2.0 * jnp.sum((2.0 * i - n - 1.0) * xs, axis=0) / n**2
    return jnp.mean(jnp.abs(x - y), axis=0) - 0.5 * spread


def score(key: Array, p: Predictive, y: Array) -> dict[str, Array]:
    """PIT, log score and CRPS of observations ``y`` (shape of ``p.loc[0]``)."""
    return {
        "pit": pit(p, y),
        "log_score": log_score(p, y),
        "crps": crps_from_samples(predictive_samples(key, p), y),
    }
