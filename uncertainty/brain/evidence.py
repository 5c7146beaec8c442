"""Condition the prior on measured evidence: Pareto-smoothed importance sampling of the prior draws.

Every ``[evidence.NAME]`` item gives each prior draw a log-likelihood: the derived quantity (an
expression over the classes' fields, :mod:`uncertainty.brain.expression` with ``sum``/``mean``) is
computed per draw and scored against the measurement (a Gaussian in linear or log space whose 90%
interval is the measured one, or a hard bound). The draws' log-weights are the summed
log-likelihoods, smoothed by ArviZ's PSIS (Vehtari et al. 2024); the Pareto k-hat says whether the
weights can be trusted (k-hat <= 0.7) and the effective sample size how many draws they are worth.
Posterior draws are the prior draws resampled by those weights (seeded). NUTS on the NumPyro model,
the fallback for k-hat > 0.7, is not built yet: such a run is reported as unreliable.
"""

from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .._arviz import az
from ..errors import PriorError
from .expression import FUNCTIONS, REDUCERS, parse_expression
from .intervals import lognormal_params, normal_params
from .model import field_site, fixed_values
from .priors import Evidence, PriorSpec

__all__ = [
    "K_HAT_LIMIT",
    "Conditioned",
    "brain_draws",
    "condition",
    "evidence_log_likelihood",
    "evidence_quantities",
    "reliable",
    "reliable_weights",
    "verdict",
]

K_HAT_LIMIT = 0.7  # PSIS: above this the importance weights are unreliable
MIN_ESS = 100  # fewer effective draws than this carry no usable posterior


class Conditioned(NamedTuple):
    """The posterior of a run: resampled draws, PSIS diagnostics and each evidence item's check."""

    draws: dict[str, np.ndarray]  # posterior draws (the prior draws resampled by weight)
    k_hat: float
    ess: float  # effective sample size of the smoothed weights
    quantities: dict[str, tuple[np.ndarray, np.ndarray]]  # name -> (prior, posterior) draws of the quantity


def _field(spec: PriorSpec, draws: dict[str, np.ndarray], name: str, n: int) -> np.ndarray:
    """Draws of field ``name`` for every class, shape ``(n, classes)``."""
    fixed = fixed_values(spec)
    columns = []
    for c in spec.classes:
        site = field_site(spec, c, name)
        if site in draws:
            columns.append(np.asarray(draws[site], dtype=np.float64))
        else:
            columns.append(np.full(n, fixed[site]))
    return np.stack(columns, axis=-1)


def evidence_quantities(spec: PriorSpec, draws: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each evidence item's derived quantity, one value per draw."""
    n = len(draws["log10_brain_flops"])
    out = {}
    with jax.enable_x64(True):
        for item in spec.evidence:
            expr = parse_expression(item.quantity, {**FUNCTIONS, **REDUCERS})
            values = {name: jnp.asarray(_field(spec, draws, name, n)) for name in expr.names}
            out[item.name] = np.broadcast_to(np.asarray(expr(values), dtype=np.float64), (n,))
    return out


def _log_likelihood(item: Evidence, q: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        if item.kind == "normal":
            mean, sd = normal_params(item.lo, item.hi, item.ci)
            return -0.5 * ((q - mean) / sd) ** 2
        if item.kind == "lognormal":
            mu, sigma = lognormal_params(item.lo, item.hi, item.ci)
            return np.where(q > 0, -0.5 * ((np.log(q) - mu) / sigma) ** 2, -np.inf)
        if item.kind == "uniform":
            return np.where((q >= item.lo) & (q <= item.hi), 0.0, -np.inf)
        if item.kind == "upper":
            return np.where(q <= item.lo, 0.0, -np.inf)
        return np.where(q >= item.lo, 0.0, -np.inf)  # lower


def evidence_log_likelihood(spec: PriorSpec, quantities: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each item's log-likelihood per draw (up to a constant; ``-inf`` outside a hard bound)."""
    return {item.name: _log_likelihood(item, quantities[item.name]) for item in spec.evidence}


def condition(spec: PriorSpec, draws: dict[str, np.ndarray], seed: int = 0) -> Conditioned:
    """PSIS-reweight and resample the prior draws by the evidence of ``spec``.

    Raises :class:`PriorError` when no draw is compatible with an item (every weight is zero).
    """
    quantities = evidence_quantities(spec, draws)
    loglik = evidence_log_likelihood(spec, quantities)
    for item in spec.evidence:
        if not np.isfinite(loglik[item.name]).any():
            raise PriorError(spec.path, f"evidence.{item.name}", "every prior draw contradicts it (no draw has weight)")
    total = np.sum(np.stack(list(loglik.values())), axis=0)
    if not np.isfinite(total).any():
        raise PriorError(spec.path, "evidence", "no prior draw satisfies every item at once")
    finite = np.isfinite(total)
    log_w = np.where(finite, total - total[finite].max(), -np.inf)
    kept = np.flatnonzero(finite)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ArviZ warns on high k-hat; the report says it instead
        smoothed, k_hat = az.psislw(log_w[kept].copy())
    weights = np.zeros_like(log_w)
    weights[kept] = np.exp(smoothed - smoothed.max())
    weights /= weights.sum()
    ess = float(1.0 / np.sum(weights**2))
    n = len(total)
    index = np.random.default_rng(seed).choice(n, size=n, p=weights)
    posterior = {k: np.asarray(v)[index] for k, v in draws.items()}
    checks = {name: (q, q[index]) for name, q in quantities.items()}
    return Conditioned(posterior, float(k_hat), ess, checks)


def reliable_weights(k_hat: float, ess: float) -> bool:
    """Whether importance weights can be trusted: Pareto k-hat <= 0.7 and ESS >= 100."""
    return k_hat <= K_HAT_LIMIT and ess >= MIN_ESS and math.isfinite(k_hat)


def reliable(c: Conditioned) -> bool:
    """Whether the conditioning's importance weights can be trusted (:func:`reliable_weights`)."""
    return reliable_weights(c.k_hat, c.ess)


def verdict(k_hat: float, ess: float) -> str:
    """The words reports and warnings use for :func:`reliable_weights`."""
    return "reliable" if reliable_weights(k_hat, ess) else "UNRELIABLE: the posterior is not to be trusted"


def brain_draws(
    spec: PriorSpec, num_samples: int, seed: int = 0, progress: bool = False
) -> tuple[dict[str, np.ndarray], Conditioned | None]:
    """Brain draws for a crossover run: the prior's, or, when ``spec`` has ``[evidence]``, the posterior's
    (the prior draws resampled by their PSIS weights), with the conditioning."""
    from .engine import sample_brain

    draws = sample_brain(spec, num_samples, seed, progress=progress)
    if not spec.evidence:
        return draws, None
    conditioned = condition(spec, draws, seed)
    return conditioned.draws, conditioned
