"""Prior specs -> NumPyro distributions.

Interval-elicited parameters come from :mod:`uncertainty.brain.intervals`.
Truncation of a lognormal is a truncated normal in log space, pushed through
``exp``, so the interval still describes the untruncated distribution.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpyro.distributions as dist
from jax.scipy.special import ndtr, ndtri
from numpyro.distributions import constraints, transforms

from .intervals import interval_z, lognormal_params, normal_params
from .priors import Choice, LogNormal, LogUniform, Normal, Point, Prior, Uniform

__all__ = ["interval_z", "lognormal_params", "normal_params", "quantile", "to_distribution"]


def to_distribution(prior: Prior, positive: bool = True) -> dist.Distribution:
    """A NumPyro distribution for one prior spec (Point becomes a Delta)."""
    if isinstance(prior, Point):
        return dist.Delta(jnp.asarray(prior.value))
    if isinstance(prior, LogNormal):
        mu, sigma = lognormal_params(prior.lo, prior.hi, prior.ci)
        if prior.min is None and prior.max is None:
            return dist.LogNormal(mu, sigma)
        low = None if prior.min is None else math.log(prior.min)
        high = None if prior.max is None else math.log(prior.max)
        base = dist.TruncatedNormal(mu, sigma, low=low, high=high)
        return dist.TransformedDistribution(base, transforms.ExpTransform())
    if isinstance(prior, Normal):
        mean, sd = normal_params(prior.lo, prior.hi, prior.ci)
        if prior.min is None and prior.max is None:
            return dist.Normal(mean, sd)
        return dist.TruncatedNormal(mean, sd, low=prior.min, high=prior.max)
    if isinstance(prior, Uniform):
        return dist.Uniform(prior.lo, prior.hi)
    if isinstance(prior, LogUniform):
        return dist.LogUniform(prior.lo, prior.hi)
    if isinstance(prior, Choice):
        components = [to_distribution(c, positive) for c in prior.components]
        support = constraints.positive if positive else constraints.real
        return dist.MixtureGeneral(dist.Categorical(probs=jnp.asarray(prior.weights)), components, support=support)
    raise TypeError(f"not a prior spec: {prior!r}")


def _normal_quantile(mean: float, sd: float, low: float | None, high: float | None, u):
    """Quantile ``u`` of Normal(mean, sd) truncated to [low, high] (either may be None)."""
    a = 0.0 if low is None else ndtr((low - mean) / sd)
    b = 1.0 if high is None else ndtr((high - mean) / sd)
    return mean + sd * ndtri(a + u * (b - a))


def quantile(prior: Prior, u):
    """The prior's quantile function at probabilities ``u`` (arrays), for the continuous kinds.

    Used by the Gaussian copula of ``[correlations]``: a uniform draw ``u`` pushed through it has
    exactly the prior's distribution. Point and Choice have no such use (the parser refuses them).
    """
    if isinstance(prior, LogNormal):
        mu, sigma = lognormal_params(prior.lo, prior.hi, prior.ci)
        low = None if prior.min is None else math.log(prior.min)
        high = None if prior.max is None else math.log(prior.max)
        return jnp.exp(_normal_quantile(mu, sigma, low, high, u))
    if isinstance(prior, Normal):
        mean, sd = normal_params(prior.lo, prior.hi, prior.ci)
        return _normal_quantile(mean, sd, prior.min, prior.max, u)
    if isinstance(prior, Uniform):
        return prior.lo + u * (prior.hi - prior.lo)
    if isinstance(prior, LogUniform):
        return jnp.exp(math.log(prior.lo) + u * (math.log(prior.hi) - math.log(prior.lo)))
    raise TypeError(f"no quantile function for {type(prior).__name__}")
