"""Compute-growth models of the fastest computer, fitted with NumPyro NUTS.

The trend series (TOP500 HPL leaders, or a user CSV) follows, in log2 FLOP/s,

- ``linear``:      mu(t) = level + slope * (t - T_REF)
- ``changepoint``: mu(t) = level + slope_before * (t - T_REF) + (slope_after - slope_before) * max(0, t - change_year)

with Student-t noise (``nu`` degrees of freedom, scale ``sigma``), robust to the
odd outlier list. For the ``hpcg`` target the practical (HPCG) leaders are the
trend times an efficiency ratio that may drift while there are data:
``log2 HPCG(t) = mu(t) + ratio_log2 + ratio_drift * (min(t, ratio_until) - 2020) + noise``,
where ``ratio_until`` is the last HPCG list fitted. Beyond the data the ratio is held
at its last value: a drift extrapolated for centuries would give efficiencies above
100%.
Slopes are doublings per year; the doubling period is ``1 / slope`` years.

Weakly informative priors (log2 FLOP/s, years):
``level ~ Normal(50, 10)`` (2^50 = 1.1e15 at T_REF = 2010; the HPL leader then was 1.8e15),
slopes ``~ Normal(0.5, 0.5)`` (doubling every 2 years, anything from shrinking to 4 doublings
a year within 3 sd), ``change_year ~ Uniform(first + 2, last - 2)``, ``sigma ~ HalfNormal(1)``,
``nu ~ Gamma(2, 0.1)`` (Juarez & Steel 2010), ``ratio_log2 ~ Normal(log2 0.02, 1)``
(HPCG/HPL of the leaders: 1.0-3.6% in 2014-2025), ``ratio_drift ~ Normal(0, 0.1)`` per year,
``sigma_practical ~ HalfNormal(0.5)``.
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
from numpyro.infer import MCMC, NUTS

from .history import GrowthData

__all__ = [
    "GROWTH_MODELS",
    "T_REF",
    "RATIO_REF",
    "Trend",
    "growth_model",
    "fit_growth",
    "trend_params",
    "log2_target",
]

GROWTH_MODELS = ("linear", "changepoint")
T_REF = 2010.0
RATIO_REF = 2020.0


class Trend(NamedTuple):
    """Parameters of log2 F(t) of the target series for one posterior draw (or a batch).

    ``log2 F(t) = level + slope_before * (t - T_REF) + (slope_after - slope_before) * max(0, t - change_year)
    + ratio_log2 + ratio_drift * (min(t, ratio_until) - RATIO_REF)``; the linear model has equal
    slopes, the hpl target zero ratio terms.
    """

    level: Array
    slope_before: Array
    slope_after: Array
    change_year: Array
    ratio_log2: Array
    ratio_drift: Array
    ratio_until: Array

    def kinks(self) -> tuple[Array, ...]:
        """The years where the slope of log2 F(t) may change."""
        return (self.change_year, self.ratio_until)


def log2_target(p: Trend, t: Array) -> Array:
    """log2 FLOP/s of the target's trend at decimal year(s) ``t`` (one draw)."""
    mu = _mu(p.level, p.slope_before, p.slope_after, p.change_year, t)
    return mu + p.ratio_log2 + p.ratio_drift * (jnp.minimum(t, p.ratio_until) - RATIO_REF)


def _mu(level, slope_before, slope_after, change_year, t):
    """log2 FLOP/s of the trend series (HPL or a user CSV) at year(s) ``t``."""
    return level + slope_before * (t - T_REF) + (slope_after - slope_before) * jnp.maximum(0.0, t - change_year)


def growth_model(
    t_trend: Array,
    y_trend: Array | None,
    t_practical: Array | None = None,
    y_practical: Array | None = None,
    *,
    changepoint: bool,
    change_range: tuple[float, float],
) -> None:
    """NumPyro model of log2 FLOP/s of the trend series (and the practical series if given)."""
    level = numpyro.sample("level", dist.Normal(50.0, 10.0))
    if changepoint:
        change_year = numpyro.sample("change_year", dist.Uniform(*change_range))
        slope_before = numpyro.sample("slope_before", dist.Normal(0.5, 0.5))
        slope_after = numpyro.sample("slope_after", dist.Normal(0.5, 0.5))
        numpyro.deterministic("doubling_years_before", 1.0 / slope_before)
        numpyro.deterministic("doubling_years_after", 1.0 / slope_after)
    else:
        slope_before = slope_after = numpyro.sample("slope", dist.Normal(0.5, 0.5))
        change_year = jnp.asarray(change_range[1])
        numpyro.deterministic("doubling_years", 1.0 / slope_before)
    sigma = numpyro.sample("sigma", dist.HalfNormal(1.0))
    nu = numpyro.sample("nu", dist.Gamma(2.0, 0.1))
    mu = _mu(level, slope_before, slope_after, change_year, t_trend)
    numpyro.sample("trend_obs", dist.StudentT(nu, mu, sigma), obs=y_trend)
    if t_practical is not None:
        ratio_log2 = numpyro.sample("ratio_log2", dist.Normal(math.log2(0.02), 1.0))
        ratio_drift = numpyro.sample("ratio_drift", dist.Normal(0.0, 0.1))
        sigma_p = numpyro.sample("sigma_practical", dist.HalfNormal(0.5))
        mu_p = _mu(level, slope_before, slope_after, change_year, t_practical) + ratio_log2
        mu_p = mu_p + ratio_drift * (t_practical - RATIO_REF)
        numpyro.sample("practical_obs", dist.StudentT(nu, mu_p, sigma_p), obs=y_practical)


def _model_kwargs(data: GrowthData, model: str) -> dict:
    trend = data.trend
    kwargs = {
        "t_trend": jnp.asarray(trend.year),
        "y_trend": jnp.asarray(trend.log2_flops),
        "changepoint": model == "changepoint",
        "change_range": (data.first_year + 2.0, data.last_year - 2.0),
    }
    if data.practical is not None:
        kwargs["t_practical"] = jnp.asarray(data.practical.year)
        kwargs["y_practical"] = jnp.asarray(data.practical.log2_flops)
    return kwargs


def fit_growth(
    key: Array,
    data: GrowthData,
    model: str = "changepoint",
    *,
    num_warmup: int = 1000,
    num_samples: int = 1000,
    num_chains: int = 4,
    progress: bool = False,
) -> MCMC:
    """Fit a growth model with NUTS (float64); returns the finished ``MCMC``.

    Chains run vectorised on one device, so the result does not depend on the
    number of devices.
    """
    if model not in GROWTH_MODELS:
        raise ValueError(f"model must be one of {GROWTH_MODELS}, got {model!r}")
    kwargs = _model_kwargs(data, model)
    mcmc = MCMC(
        NUTS(growth_model, target_accept_prob=0.9),
        num_warmup=num_warmup,
        num_samples=num_samples,
        num_chains=num_chains,
        chain_method="vectorized",
        progress_bar=progress,
    )
    mcmc.run(key, **kwargs)
    return mcmc


def trend_params(samples: dict[str, np.ndarray], data: GrowthData) -> Trend:
    """Posterior samples (any leading shape) as :class:`Trend` of the target series."""
    level = np.asarray(samples["level"])
    zeros = np.zeros_like(level)
    if "change_year" in samples:
        before, after, change = samples["slope_before"], samples["slope_after"], samples["change_year"]
    else:
        before = after = samples["slope"]
        change = np.full_like(level, data.last_year)
    if data.practical is not None:
        ratio, drift = samples["ratio_log2"], samples["ratio_drift"]
        until = np.full_like(level, data.practical.year.max())
    else:
        ratio, drift, until = zeros, zeros, np.full_like(level, data.last_year)
    return Trend(*(np.asarray(x, dtype=np.float64) for x in (level, before, after, change, ratio, drift, until)))


def predictive_log2(key: Array, samples: dict[str, np.ndarray], data: GrowthData, t: np.ndarray) -> np.ndarray:
    """Posterior predictive log2 FLOP/s of the target series at years ``t`` (with Student-t noise).

    Returns shape ``(*sample_shape, len(t))``.
    """
    p = trend_params(samples, data)
    shape = p.level.shape
    flat = Trend(*(x.reshape(-1) for x in p))
    mean = jax.vmap(log2_target, in_axes=(0, None))(flat, jnp.asarray(t))
    scale = samples["sigma_practical"] if data.practical is not None else samples["sigma"]
    nu = np.asarray(samples["nu"]).reshape(-1, 1)
    noise = dist.StudentT(nu, 0.0, np.asarray(scale).reshape(-1, 1)).expand(mean.shape).sample(key)
    return np.asarray(mean + noise).reshape(*shape, len(t))
