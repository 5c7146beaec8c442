"""Pooled (population) priors of the growth models, learned from a pool of technologies in two stages.

Stage 1: each technology is fitted alone with the model's base priors (NUTS; draws ``theta_js`` of the
pooled sites of :data:`uncertainty.growth.models.POOLED_SITES`).

Stage 2 (Lunn, Barrett, Sweeting & Thompson 2013, "Fully Bayesian hierarchical modelling in two
stages"): every pooled site gets a population distribution, ``Normal(loc, scale)`` of the site (a real
site, e.g. a drift in doublings per year) or of its log (a positive site: volatilities, rates), the sites
independent. Technology ``j`` contributes the likelihood
``L_j(phi) = E[p(theta | phi) / p0(theta)]`` over its stage-1 posterior (``p0`` the base prior), estimated
with its draws; the hyperparameters ``phi = (loc, scale)`` have the hyperpriors ``loc ~ Normal(c, w)``
(``c`` the base prior's mean, or the log of it for a positive site; ``w = 1`` for a real site, 2 for a
log) and ``scale ~ HalfNormal(1)``, and are sampled by NUTS.

The prior a technology then gets is the population's predictive distribution moment-matched to the
site's family: ``loc* = E[loc]``, ``scale* = sqrt(E[scale^2] + Var[loc])``.

Leave one technology out: the prior of technology ``j`` comes from a fit in which ``j``'s draws are
masked (zeroed before use, so nothing of them reaches the fit). Every fold and the fit on the whole pool
run in one compiled program.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from jax import Array
from jax.scipy.special import logsumexp

from .models import POOLED_SITES, base_prior

__all__ = [
    "HYPER",
    "PopulationData",
    "PopulationFit",
    "fit_population",
    "population_data",
    "population_model",
    "prior_dict",
]

HYPER = {"loc_sd_real": 1.0, "loc_sd_log": 2.0, "scale_sd": 1.0}  # the hyperpriors' widths (see the docstring)


class PopulationData(NamedTuple):
    """Stage-1 draws of one pool, for one fold: ``u`` (technologies, draws, sites) the sites on the population's
    scale (log for a positive site), ``offset`` (technologies, draws) ``-log p0(theta) - sum(log theta)`` over
    the positive sites (the Jacobian of the log), ``mask`` (technologies,) those the fold learns from;
    ``center``/``center_sd`` (sites,) the hyperpriors of ``loc``."""

    u: Array
    offset: Array
    mask: Array
    center: Array
    center_sd: Array


def _sites(model: str) -> list[str]:
    return list(POOLED_SITES[model])


def population_data(model: str, samples: dict[str, np.ndarray], mask: np.ndarray, most_draws: int = 200):
    """The :class:`PopulationData` of stage-1 ``samples`` (site -> ``(technologies, chains, draws)``), thinned to
    at most ``most_draws`` draws per technology, for the fold ``mask`` (technologies it learns from)."""
    sites = _sites(model)
    first = np.asarray(samples[sites[0]])
    n_tech = first.shape[0]
    flat = {s: np.asarray(samples[s], dtype=np.float64).reshape(n_tech, -1) for s in sites}
    n = flat[sites[0]].shape[1]
    keep = np.unique(np.linspace(0, n - 1, min(n, most_draws)).round().astype(int))
    u, offset, center, center_sd = [], np.zeros((n_tech, len(keep))), [], []
    for s in sites:
        x = flat[s][:, keep]
        positive = POOLED_SITES[model][s][2]
        base = base_prior(model, s)
        with jax.enable_x64(True):
            offset -= np.asarray(base.log_prob(jnp.asarray(x)))
            mean = float(base.mean)
        if positive:
            x = np.log(np.maximum(x, 1e-300))
            offset -= x
        u.append(x)
        center.append(math.log(mean) if positive else mean)
        center_sd.append(HYPER["loc_sd_log"] if positive else HYPER["loc_sd_real"])
    return PopulationData(
        np.stack(u, axis=-1), offset, np.asarray(mask, dtype=bool), np.array(center), np.array(center_sd)
    )


def population_model(d: PopulationData) -> None:
    """The stage-2 model: hyperparameters ``loc`` and ``scale`` (one per site) given the stage-1 draws."""
    k = d.center.shape[0]
    loc = numpyro.sample("loc", dist.Normal(d.center, d.center_sd).to_event(1))
    scale = numpyro.sample("scale", dist.HalfNormal(HYPER["scale_sd"]).expand([k]).to_event(1))
    u = jnp.where(d.mask[:, None, None], d.u, 0.0)  # a masked technology's draws reach nothing
    offset = jnp.where(d.mask[:, None], d.offset, 0.0)
    log_w = dist.Normal(loc, scale).log_prob(u).sum(-1) + offset  # (technologies, draws)
    ll = logsumexp(log_w, axis=1) - math.log(d.u.shape[1])
    numpyro.factor("pooled", jnp.sum(jnp.where(d.mask, ll, 0.0)))


class PopulationFit(NamedTuple):
    """Stage-2 draws for each fold: ``loc`` and ``scale`` of shape (folds, chains, draws, sites); ``prior``
    (folds, sites, 2): the moment-matched predictive ``(loc*, scale*)``; ``rhat`` (folds,): the largest."""

    sites: list[str]
    loc: np.ndarray
    scale: np.ndarray
    prior: np.ndarray
    rhat: np.ndarray
    divergences: np.ndarray


def fit_population(key: Array, model: str, samples: dict[str, np.ndarray], folds: np.ndarray, settings=None):
    """Stage 2 for every fold (a boolean ``(folds, technologies)`` array: the technologies each learns from),
    in one compiled program. ``samples``: the stage-1 draws, site -> ``(technologies, chains, draws)``."""
    from .nuts import NutsSettings, rhat, run_nuts

    folds = np.asarray(folds, dtype=bool)
    if not folds.any(axis=1).all():
        raise ValueError("every fold needs at least one technology to learn from")
    data = [population_data(model, samples, f) for f in folds]
    with jax.enable_x64(True):
        batch = jax.tree_util.tree_map(lambda *xs: jnp.asarray(np.stack(xs)), *data)
        result = run_nuts(key, population_model, batch, settings or NutsSettings(300, 300, 2))
    loc, scale = result.samples["loc"], result.samples["scale"]
    flat_loc = loc.reshape(loc.shape[0], -1, loc.shape[-1])
    flat_scale = scale.reshape(scale.shape[0], -1, scale.shape[-1])
    prior = np.stack([flat_loc.mean(axis=1), np.sqrt((flat_scale**2).mean(axis=1) + flat_loc.var(axis=1))], axis=-1)
    r = np.maximum(rhat(np.moveaxis(loc, -1, 1)).max(axis=1), rhat(np.moveaxis(scale, -1, 1)).max(axis=1))
    return PopulationFit(_sites(model), loc, scale, prior, r, result.divergences())


def prior_dict(fit: PopulationFit, fold: int) -> dict[str, np.ndarray]:
    """The pooled prior of one fold by site, ``(loc, scale)`` each (the ``FitData.prior`` format)."""
    return {s: fit.prior[fold, i] for i, s in enumerate(fit.sites)}
