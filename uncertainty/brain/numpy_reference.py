"""An independent NumPy implementation of the brain model, for benchmarks and cross-checks.

Same priors, same cost function, written with NumPy and SciPy only (no JAX, no
NumPyro): the benchmark compares its speed with the JAX engine, and the tests
compare its quantiles with the engine's within Monte Carlo error.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import special

from .distributions import lognormal_params, normal_params
from .priors import CLASS_FIELDS, Choice, LogNormal, LogUniform, Normal, Point, Prior, PriorSpec

__all__ = ["numpy_draw", "numpy_sample_brain"]


def _truncated_normal(rng: np.random.Generator, mu: float, sigma: float, lo, hi, n: int) -> np.ndarray:
    a = 0.0 if lo is None else special.ndtr((lo - mu) / sigma)
    b = 1.0 if hi is None else special.ndtr((hi - mu) / sigma)
    return mu + sigma * special.ndtri(rng.uniform(a, b, n))


def numpy_draw(rng: np.random.Generator, prior: Prior, n: int) -> np.ndarray:
    """``n`` draws of one prior spec (float64)."""
    if isinstance(prior, Point):
        return np.full(n, prior.value)
    if isinstance(prior, LogNormal):
        mu, sigma = lognormal_params(prior.lo, prior.hi, prior.ci)
        lo = None if prior.min is None else np.log(prior.min)
        hi = None if prior.max is None else np.log(prior.max)
        return np.exp(_truncated_normal(rng, mu, sigma, lo, hi, n))
    if isinstance(prior, Normal):
        mean, sd = normal_params(prior.lo, prior.hi, prior.ci)
        return _truncated_normal(rng, mean, sd, prior.min, prior.max, n)
    if isinstance(prior, LogUniform):
        return np.exp(rng.uniform(np.log(prior.lo), np.log(prior.hi), n))
    if isinstance(prior, Choice):
        which = rng.choice(len(prior.components), size=n, p=np.asarray(prior.weights))
        out = np.empty(n)
        for i, comp in enumerate(prior.components):
            mask = which == i
            out[mask] = numpy_draw(rng, comp, int(mask.sum()))
        return out
    return rng.uniform(prior.lo, prior.hi, n)  # Uniform


def numpy_sample_brain(
    spec: PriorSpec,
    num_samples: int,
    seed: int = 0,
    draw: Callable[[np.random.Generator, Prior, int], np.ndarray] = numpy_draw,
) -> dict[str, np.ndarray]:
    """``log10_brain_flops``, ``log10_class_flops`` and ``log10_stage_flops`` of ``num_samples`` draws.

    ``draw(rng, prior, n)`` draws one prior (:func:`numpy_draw`; the benchmark passes squigglepy's)."""
    if spec.correlations:
        raise NotImplementedError("the NumPy reference draws independent priors; [correlations] is engine-only")
    rng = np.random.default_rng(seed)
    drawn = {k: draw(rng, p, num_samples) for k, p in spec.convention_priors.items()}
    c = spec.convention._replace(**drawn)
    stage_costs = []
    counts, rates = [], []
    shared = {}
    for cls in spec.classes:
        v = {}
        for f in CLASS_FIELDS:
            if f in spec.shared and f in cls.inherited:
                if f not in shared:
                    shared[f] = draw(rng, cls.params[f], num_samples)
                v[f] = shared[f]
            else:
                v[f] = draw(rng, cls.params[f], num_samples)
        fields = ("synapses", "time_steps", "branches", "dendrites", "filter_steps", "soma_steps", "outputs")
        s, t, b, d, k, ks, o = (v[f] for f in fields)
        stage_costs.append(
            np.stack(
                [
                    c.flops_per_mac * (s * t) * (b * d * k),
                    c.flops_per_nonlinearity * d * t,
                    c.flops_per_mac * (d * t) * ks,
                    c.flops_per_nonlinearity * 2.0 * t,
                    c.flops_per_mac * o * t,
                ],
                axis=-1,
            )[:, list(c.mask)]
        )
        counts.append(v["count"])
        rates.append(v["rate"])
    # (draw, class, counted stage), in log space as the engine does
    log_cs = (
        np.log(np.stack(counts, 1))[..., None]
        + np.log(np.stack(rates, 1))[..., None]
        + np.log(np.stack(stage_costs, 1))
    )
    per_class = special.logsumexp(log_cs, axis=2)
    per_stage = special.logsumexp(log_cs, axis=1)
    total = special.logsumexp(per_class, axis=1)
    ln10 = np.log(10.0)
    return {
        "log10_brain_flops": total / ln10,
        "log10_class_flops": per_class / ln10,
        "log10_stage_flops": per_stage / ln10,
    }
