"""Pooled (population) priors of the growth models, learned from a pool of technologies in two stages.

Stage 1: each technology is fitted alone with the model's base priors (NUTS; draws of the pooled sites of
:data:`uncertainty.growth.models.POOLED_SITES`).

Stage 2 (the normal approximation of two-stage hierarchical models, as in meta-analysis): every pooled
site gets a population distribution, ``Normal(loc, scale)`` of the site (a real site, e.g. a drift in
doublings per year) or of its log (a positive site: volatilities, rates), the sites independent. On that
scale ``u``, technology ``j``'s stage-1 posterior of a site is summarised by its mean and variance, and the
base prior's normal approximation (its mean and variance on the same scale) is divided out: what is left,
``Normal(m_j, v_j)``, is the technology's likelihood of the site (a site its data do not inform, whose
posterior is no narrower than the prior, is left out for it). The population then gives technology ``j``
the marginal likelihood ``Normal(m_j; loc, scale^2 + v_j)``: smooth in ``(loc, scale)``, so NUTS samples
the hyperparameters without the funnel that Monte Carlo weights of stage-1 draws make at small
``scale``. Hyperpriors: ``loc ~ Normal(c, w)`` (``c`` the base prior's mean, or the log of it for a
positive site; ``w = 1`` for a real site, 2 for a log) and ``scale ~ HalfNormal(1)``.

The prior a technology then gets is the population's predictive distribution moment-matched to the
site's family: ``loc* = E[loc]``, ``scale* = sqrt(E[scale^2] + Var[loc])``.

Leave one technology out: the prior of technology ``j`` comes from a fit in which ``j`` is masked (its
summaries zeroed before use, so nothing of them reaches the fit). Every fold and the fit on the whole pool
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

from .models import POOLED_SITES, base_prior, is_positive

__all__ = [
    "HYPER",
    "STAGE2_SETTINGS",
    "PopulationData",
    "PopulationFit",
    "base_moments",
    "fit_population",
    "population_data",
    "population_model",
    "prior_dict",
]

HYPER = {"loc_sd_real": 1.0, "loc_sd_log": 2.0, "scale_sd": 1.0}  # the hyperpriors' widths (see the docstring)
STAGE2_SETTINGS = (500, 500, 4)  # NUTS warm-up, draws, chains of the hyperparameters
UNINFORMED = 1e6  # the likelihood variance of a site a technology's data do not inform (left out)


class PopulationData(NamedTuple):
    """Stage-1 summaries of one pool, for one fold, on the population's scale (log for a positive site):
    ``mean``/``var`` (technologies, sites) each technology's likelihood of each site, ``mask`` (technologies,)
    those the fold learns from; ``center``/``center_sd`` (sites,) the hyperpriors of ``loc``."""

    mean: Array
    var: Array
    mask: Array
    center: Array
    center_sd: Array


def _sites(model: str) -> list[str]:
    return list(POOLED_SITES[model])


def _to_scale(model: str, site: str, x):
    return np.log(np.maximum(x, 1e-300)) if is_positive(model, site) else np.asarray(x, dtype=np.float64)


def base_moments(model: str, site: str, draws: int = 200_000) -> tuple[float, float]:
    """Mean and variance of the base prior of a site on the population's scale (a fixed-seed Monte Carlo
    estimate; for a positive site, of its log)."""
    with jax.enable_x64(True):
        x = np.asarray(base_prior(model, site).sample(jax.random.key(0), (draws,)))
    u = _to_scale(model, site, x)
    return float(u.mean()), float(u.var())


def population_data(model: str, samples: dict[str, np.ndarray], mask: np.ndarray) -> PopulationData:
    """The :class:`PopulationData` of stage-1 ``samples`` (site -> ``(technologies, chains, draws)``) for the fold
    ``mask`` (the technologies it learns from)."""
    sites = _sites(model)
    n_tech = np.asarray(samples[sites[0]]).shape[0]
    mean, var, center, center_sd = [], [], [], []
    for s in sites:
        u = _to_scale(model, s, np.asarray(samples[s], dtype=np.float64).reshape(n_tech, -1))
        m_post, v_post = u.mean(axis=1), np.maximum(u.var(axis=1), 1e-12)
        m0, v0 = base_moments(model, s)
        precision = 1.0 / v_post - 1.0 / v0  # the posterior's precision less the prior's: the likelihood's
        informed = precision > 1e-6
        v = np.where(informed, 1.0 / np.where(informed, precision, 1.0), UNINFORMED)
        m = np.where(informed, v * (m_post / v_post - m0 / v0), m0)
        mean.append(m)
        var.append(v)
        positive = is_positive(model, s)
        with jax.enable_x64(True):
            prior_mean = float(base_prior(model, s).mean)
        center.append(math.log(prior_mean) if positive else prior_mean)
        center_sd.append(HYPER["loc_sd_log"] if positive else HYPER["loc_sd_real"])
    return PopulationData(
        np.stack(mean, axis=-1),
        np.stack(var, axis=-1),
        np.asarray(mask, dtype=bool),
        np.array(center),
        np.array(center_sd),
    )


def population_model(d: PopulationData) -> None:
    """The stage-2 model: hyperparameters ``loc`` and ``scale`` (one per site) given the stage-1 summaries."""
    k = d.center.shape[0]
    loc = numpyro.sample("loc", dist.Normal(d.center, d.center_sd).to_event(1))
    scale = numpyro.sample("scale", dist.HalfNormal(HYPER["scale_sd"]).expand([k]).to_event(1))
    mean = jnp.where(d.mask[:, None], d.mean, 0.0)  # a masked technology's summaries reach nothing
    var = jnp.where(d.mask[:, None], d.var, 1.0)
    ll = dist.Normal(loc, jnp.sqrt(scale**2 + var)).log_prob(mean)  # (technologies, sites)
    ll = jnp.where(var < UNINFORMED, ll, 0.0)
    numpyro.factor("pooled", jnp.sum(jnp.where(d.mask[:, None], ll, 0.0)))


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
    from ..inference.nuts import NutsSettings, rhat, run_nuts

    folds = np.asarray(folds, dtype=bool)
    if not folds.any(axis=1).all():
        raise ValueError("every fold needs at least one technology to learn from")
    whole = population_data(model, samples, folds[0])
    data = [whole._replace(mask=f) for f in folds]
    with jax.enable_x64(True):
        batch = jax.tree_util.tree_map(lambda *xs: jnp.asarray(np.stack(xs)), *data)
        result = run_nuts(key, population_model, batch, settings or NutsSettings(*STAGE2_SETTINGS))
    loc, scale = result.samples["loc"], result.samples["scale"]
    flat_loc = loc.reshape(loc.shape[0], -1, loc.shape[-1])
    flat_scale = scale.reshape(scale.shape[0], -1, scale.shape[-1])
    prior = np.stack([flat_loc.mean(axis=1), np.sqrt((flat_scale**2).mean(axis=1) + flat_loc.var(axis=1))], axis=-1)
    r = np.maximum(rhat(np.moveaxis(loc, -1, 1)).max(axis=1), rhat(np.moveaxis(scale, -1, 1)).max(axis=1))
    return PopulationFit(_sites(model), loc, scale, prior, r, result.divergences())


def prior_dict(fit: PopulationFit, fold: int) -> dict[str, np.ndarray]:
    """The pooled prior of one fold by site, ``(loc, scale)`` each (the ``FitData.prior`` format)."""
    return {s: fit.prior[fold, i] for i, s in enumerate(fit.sites)}
