"""Prior specs -> NumPyro distributions.

Interval-elicited parameters come from :mod:`uncertainty.intervals`. Truncation of a lognormal is a truncated normal in
log space, pushed through ``exp``, so the interval still describes the
untruncated distribution.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpyro.distributions as dist
from numpyro.distributions import constraints, transforms

from .intervals import interval_z, lognormal_params, normal_params
from .priors import Choice, LogNormal, LogUniform, Normal, Point, Prior, Uniform

__all__ = ["interval_z", "lognormal_params", "normal_params", "to_distribution"]


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
