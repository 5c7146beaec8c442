"""Growth models of the fastest computer (NumPyro, fitted with NUTS in float64).

They serve the crossover forecast (:mod:`uncertainty.runs.forecast`, on simulated future
paths) and are scored out of sample by :mod:`uncertainty.growth.hindcast` (``uncertainty
backtest``), which also picks the default model.

Every model describes ``y(t)``, log2 FLOP/s of the benchmark leader at decimal
year ``t``. Two fit the *distinct measurements* (a leader repeated on later
lists is one measurement) with a deterministic trend plus Student-t noise; the
others are stochastic processes, most of them fitted to the leader at *every list*,
whose forecast uncertainty grows with the horizon.

``linear`` (measurements)
    ``y = level + slope * (t - t_last) + noise``.
``changepoint`` (measurements)
    the slope changes once, at ``change_year``; beyond the data the trend is a
    straight line (no further change).
``randomwalk`` (every list)
    Farmer & Lafond (2016): a random walk with drift,
    ``y(t + dt) - y(t) ~ Normal(drift * dt, vol**2 * dt)``; per list interval
    (dt = 0.5 y) this is their geometric random walk. Its forecast error
    variance grows as ``vol**2 * (tau + tau**2 / T)`` (horizon tau, data span T).
``walkcycle`` (every list; the default)
    a random walk with drift plus a mean-reverting deviation:
    ``y = x + u + noise``, the trend ``x`` a Brownian motion with drift (constant
    slope, ``vol`` per sqrt(year)), ``u`` an Ornstein-Uhlenbeck process (stationary
    sd ``cycle_sd``, rate ``reversion`` per year). A new leader jumps above the
    trend and stays flat while the trend catches up: short-run changes are large,
    long-run ones smaller than a random walk's. The slope is integrated out by the
    Kalman filter (:func:`kalman_filter`, ``lax.scan``); ``slope_last`` is its draw
    given the other parameters.
``locallinear`` (every list)
    local linear trend: level and slope are both random walks in continuous
    time (the level integrates the slope), observed with noise; the marginal
    likelihood comes from a Kalman filter.
    The slope itself drifts, so long-range bands fan out.
``regimes`` (measurements)
    a piecewise-linear trend whose slope may shift at every whole year. A shift
    is a "regime change" with probability ``1 - exp(-rate)`` per year (a
    Poisson process) and then has size ``Normal(0, jump**2)``; otherwise it is
    ``Normal(0, 0.02**2)`` (a slow drift). ``rate`` and ``jump`` are learned
    from the history (hierarchical), and shifts keep arriving after the data,
    so the future may slow down or speed up again.

For the ``hpcg`` target every model adds the HPCG efficiency ratio
``r = log2 HPCG - log2 HPL`` of the leaders at each HPCG list: a local-level
model (a random walk with observation noise, Kalman filter), which continues as
a random walk after the last list, capped at 100% efficiency (``r <= 0``).

Priors (log2 FLOP/s, years; ``t_last`` and ``y_last`` are the time and value of
the last data point, so ``level`` is the trend at ``t_last``):
``level ~ Normal(y_last, 10)`` (only the data's scale), slopes and ``drift``
``~ Normal(0.5, 0.5)`` doublings per year, ``change_year ~ Uniform(first + 2,
last - 2)``, ``sigma ~ HalfNormal(1)``, ``nu ~ Gamma(2, 0.1)`` (Juarez & Steel
2010), ``vol ~ HalfNormal(2)`` per sqrt(year), local linear ``obs_noise ~
HalfNormal(0.5)``, ``level_vol ~ HalfNormal(1)`` per sqrt(year), ``slope_vol ~
HalfNormal(0.2)`` doublings per year per sqrt(year), its initial state
``Normal([y_first, 0.5], diag(1, 0.5**2))``; walkcycle ``vol ~ HalfNormal(1)`` per sqrt(year),
``cycle_sd ~ HalfNormal(1)``, ``reversion ~ Gamma(2, 4)`` per year (mean 0.5: a deviation
lasts about two years, a leader's typical reign), ``obs_noise ~ HalfNormal(0.1)``, the slope
``Normal(0.5, 0.5)`` and the trend at the first list ``Normal(y_first, 3**2)``, ``u``
stationary; regimes ``rate ~ Gamma(2, 20)``
shifts per year (mean one per decade), ``jump ~ HalfNormal(0.5)`` doublings per
year; ratio ``r_first ~ Normal(log2 0.02, 1)`` (initial state), ``ratio_vol ~
HalfNormal(0.5)`` per sqrt(year), ``ratio_noise ~ HalfNormal(0.5)``.

Pooled priors: the sites of :data:`POOLED_SITES` (drifts and slopes, volatilities, the cycle's size and
reversion rate, regime-shift rate and size) may instead get a population prior learned from a pool of
technologies (:mod:`uncertainty.growth.population`), ``Normal(loc, scale)`` for a real site and
``LogNormal(loc, scale)`` for a positive one, passed in ``FitData.prior``; without it every site keeps the
base prior above.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from jax import Array

from ..choices import GROWTH_MODELS

__all__ = [
    "GROWTH_MODELS",
    "MODELS_BY_NAME",
    "GrowthModel",
    "FitData",
    "POOLED_SITES",
    "Predictive",
    "base_prior",
    "is_positive",
    "kalman_filter",
    "pad_fit_data",
    "path_variance_rate",
    "predict_after",
    "ratio_state",
    "STATE_SPACES",
    "StateSpace",
]

_LOG_2PI = math.log(2.0 * math.pi)
SHIFT_DRIFT = 0.02  # doublings per year: size of a shift that is not a regime change
RATIO_PRIOR = (math.log2(0.02), 1.0)


class FitData(NamedTuple):
    """One data set, padded to a fixed length (``mask`` marks real points; padding repeats the last one).

    ``t``, ``y``: decimal years and log2 FLOP/s of the trend series (HPL leaders or a user CSV);
    ``knots``/``knot_mask``: whole years where a ``regimes`` slope may shift (active ones lie a year
    or more before ``t_last``); ``rt``, ``ry``, ``rmask``: the log2 HPCG/HPL ratio (``hpcg`` target only).
    """

    t: Array
    y: Array
    mask: Array
    t_first: Array
    t_last: Array
    y_last: Array
    knots: Array
    knot_mask: Array
    rt: Array | None = None
    ry: Array | None = None
    rmask: Array | None = None
    t_origin: Array | float = math.nan
    n_lists: Array | int = 0
    n_new: Array | int = 0
    prior: dict[str, Array] | None = None  # pooled priors by site: (loc, scale) of Normal (real) or LogNormal


# -- priors: the base prior of every site that a population can replace ------------------------------

# model -> site -> (base distribution, its arguments, whether the site is positive). A pooled prior
# (:mod:`uncertainty.growth.population`) replaces the base by Normal(loc, scale) for a real site and
# LogNormal(loc, scale) for a positive one.
POOLED_SITES: dict[str, dict[str, tuple[type, tuple[float, ...], bool]]] = {
    "randomwalk": {
        "drift": (dist.Normal, (0.5, 0.5), False),
        "vol": (dist.HalfNormal, (2.0,), True),
    },
    "walkcycle": {
        "vol": (dist.HalfNormal, (1.0,), True),
        "cycle_sd": (dist.HalfNormal, (1.0,), True),
        "reversion": (dist.Gamma, (2.0, 4.0), True),
        "obs_noise": (dist.HalfNormal, (0.1,), True),
        "slope_last": (dist.Normal, (0.5, 0.5), False),  # the constant slope (the filter's initial state)
    },
    "locallinear": {
        "obs_noise": (dist.HalfNormal, (0.5,), True),
        "level_vol": (dist.HalfNormal, (1.0,), True),
        "slope_vol": (dist.HalfNormal, (0.2,), True),
    },
    "regimes": {
        "slope_last": (dist.Normal, (0.5, 0.5), False),
        "rate": (dist.Gamma, (2.0, 20.0), True),
        "jump": (dist.HalfNormal, (0.5,), True),
        "sigma": (dist.HalfNormal, (1.0,), True),
    },
}


def base_prior(model: str, site: str) -> dist.Distribution:
    """The base (unpooled) prior of a site of :data:`POOLED_SITES`."""
    cls, args, _ = POOLED_SITES[model][site]
    return cls(*args)


def is_positive(model: str, site: str) -> bool:
    """Whether a site of :data:`POOLED_SITES` is positive (pooled as a LogNormal) rather than real (a Normal)."""
    return POOLED_SITES[model][site][2]


def site_prior(d: FitData, model: str, site: str) -> dist.Distribution:
    """The prior of a site: the pooled one in ``d.prior`` if any, else the base prior."""
    if d.prior is None or site not in d.prior:
        return base_prior(model, site)
    loc, scale = d.prior[site][0], d.prior[site][1]
    return dist.LogNormal(loc, scale) if is_positive(model, site) else dist.Normal(loc, scale)


def _sample(d: FitData, model: str, site: str) -> Array:
    return numpyro.sample(site, site_prior(d, model, site))


class Predictive(NamedTuple):
    """Conditional predictive of each draw: Student-t(``df``, ``loc``, ``scale``) (``df = inf``: normal)."""

    loc: Array
    scale: Array
    df: Array


def pad_fit_data(
    t: np.ndarray,
    y: np.ndarray,
    length: int,
    knots: np.ndarray,
    ratio: tuple[np.ndarray, np.ndarray, int] | None = None,
    lists: tuple[float, int, int] | None = None,
    prior: dict[str, np.ndarray] | None = None,
) -> FitData:
    """A :class:`FitData` of ``length`` points from the sorted points ``(t, y)``.

    ``lists``: ``(t_origin, n_lists, n_new)``, the time of the last list known, how many lists
    are known and on how many of them (after the first) a new leader appeared; without it the
    points are taken to be every list. ``prior``: pooled priors by site, ``(loc, scale)`` each.
    """
    n = len(t)
    if n > length:
        raise ValueError(f"{n} points do not fit a length of {length}")
    pad = length - n
    tt = np.concatenate([t, np.full(pad, t[-1])])
    yy = np.concatenate([y, np.full(pad, y[-1])])
    mask = np.arange(length) < n
    rt = ry = rmask = None
    if ratio is not None:
        r_t, r_y, r_len = ratio
        rpad = r_len - len(r_t)
        rt = np.concatenate([r_t, np.full(rpad, r_t[-1])])
        ry = np.concatenate([r_y, np.full(rpad, r_y[-1])])
        rmask = np.arange(r_len) < len(r_t)
    return FitData(
        t=tt,
        y=yy,
        mask=mask,
        t_first=np.float64(t[0]),
        t_last=np.float64(t[-1]),
        y_last=np.float64(y[-1]),
        knots=np.asarray(knots, dtype=np.float64),
        knot_mask=np.asarray(knots) <= t[-1] - 1.0,
        rt=rt,
        ry=ry,
        rmask=rmask,
        t_origin=np.float64(lists[0] if lists else t[-1]),
        n_lists=np.int64(lists[1] if lists else n),
        n_new=np.int64(lists[2] if lists else n - 1),
        prior=None if prior is None else {k: np.asarray(v, dtype=np.float64) for k, v in prior.items()},
    )


# -- Kalman filter -----------------------------------------------------------------


def _local_linear_transition(level_vol: Array, slope_vol: Array) -> Callable[[Array], tuple[Array, Array]]:
    """F(dt), Q(dt) of the integrated random walk: slope a Brownian motion, level its integral plus a walk."""

    def transition(dt):
        F = jnp.array([[1.0, dt], [0.0, 1.0]])
        q = slope_vol**2
        Q = jnp.array(
            [[level_vol**2 * dt + q * dt**3 / 3.0, q * dt**2 / 2.0], [q * dt**2 / 2.0, q * dt]],
        )
        return F, Q

    return transition


def _local_level_transition(vol: Array) -> Callable[[Array], tuple[Array, Array]]:
    def transition(dt):
        return jnp.ones((1, 1)), jnp.reshape(vol**2 * dt, (1, 1))

    return transition


def kalman_filter(
    transition: Callable[[Array], tuple[Array, Array]],
    m0: Array,
    P0: Array,
    t: Array,
    y: Array,
    obs_var: Array,
    mask: Array,
) -> tuple[Array, Array, Array]:
    """Kalman filter of ``y_i = x_i[0] + Normal(0, obs_var)``, ``x_i = F(dt) x_{i-1} + Normal(0, Q(dt))``.

    ``x`` at ``t[0]`` (before the first observation) is ``Normal(m0, P0)``; masked points are skipped.
    Returns the one-step-ahead log predictive density of each point (0 where masked; their sum is the
    marginal log-likelihood) and the filtered mean and covariance at the last unmasked point.
    """

    def step(carry, inp):
        m, P, t_prev = carry
        ti, yi, ok = inp
        dt = jnp.where(ok, ti - t_prev, 0.0)
        F, Q = transition(dt)
        m_pred = F @ m
        P_pred = F @ P @ F.T + Q
        S = P_pred[0, 0] + obs_var
        v = yi - m_pred[0]
        gain = P_pred[:, 0] / S
        m_new = m_pred + gain * v
        P_new = P_pred - jnp.outer(gain, P_pred[0, :])
        P_new = 0.5 * (P_new + P_new.T)
        ll = -0.5 * (_LOG_2PI + jnp.log(S) + v**2 / S)
        return (
            jnp.where(ok, m_new, m),
            jnp.where(ok, P_new, P),
            jnp.where(ok, ti, t_prev),
        ), jnp.where(ok, ll, 0.0)

    (m, P, _), lls = jax.lax.scan(step, (m0, P0, t[0]), (t, y, mask))
    return lls, m, P


# -- the HPCG efficiency ratio (hpcg target) ------------------------------------------------


def _ratio_model(d: FitData) -> None:
    vol = numpyro.sample("ratio_vol", dist.HalfNormal(0.5))
    noise = numpyro.sample("ratio_noise", dist.HalfNormal(0.5))
    lls, _, _ = _ratio_filter(vol, noise, d)
    numpyro.factor("ratio_loglik", lls.sum())
    numpyro.deterministic("ratio_log_lik", lls)


def _ratio_filter(vol, noise, d: FitData):
    m0 = jnp.array([RATIO_PRIOR[0]])
    P0 = jnp.array([[RATIO_PRIOR[1] ** 2]])
    return kalman_filter(_local_level_transition(vol), m0, P0, d.rt, d.ry, noise**2, d.rmask)


def _ratio_last(d: FitData) -> Array:
    return jnp.max(jnp.where(d.rmask, d.rt, -jnp.inf))


def ratio_paths(key: Array, params: dict[str, Array], d: FitData, grid: Array) -> Array:
    """log2 HPCG/HPL efficiency along ``grid`` (sorted, after the last HPCG list): a random walk from the
    filtered state, capped at 0 (100%) after every step. Shape ``(draws, len(grid))``."""

    def one(key, vol, noise):
        _, m, P = _ratio_filter(vol, noise, d)
        k0, k1 = jax.random.split(key)
        start = m[0] + jnp.sqrt(P[0, 0]) * jax.random.normal(k0)
        dts = jnp.diff(jnp.concatenate([_ratio_last(d)[None], grid]))
        steps = vol * jnp.sqrt(jnp.maximum(dts, 0.0)) * jax.random.normal(k1, dts.shape)

        def walk(r, s):
            r = jnp.minimum(r + s, 0.0)
            return r, r

        _, path = jax.lax.scan(walk, jnp.minimum(start, 0.0), steps)
        return path

    keys = jax.random.split(key, params["ratio_vol"].shape[0])
    return jax.vmap(one)(keys, params["ratio_vol"], params["ratio_noise"])


def ratio_state(params: dict[str, Array], d: FitData) -> tuple[Array, Array, Array]:
    """Each draw's filtered log2 HPCG/HPL ratio at the last HPCG list: its mean and variance ``(draws,)``,
    and the time of that list (a scalar)."""

    def one(vol, noise):
        _, m, P = _ratio_filter(vol, noise, d)
        return m[0], P[0, 0]

    mean, var = jax.vmap(one)(params["ratio_vol"], params["ratio_noise"])
    return mean, var, _ratio_last(d)


def ratio_predictive_draw(key: Array, params: dict[str, Array], d: FitData, t: Array) -> Array:
    """One draw per posterior draw of the observed log2 ratio at each time ``t`` (after the last HPCG list)."""

    def one(key, vol, noise):
        _, m, P = _ratio_filter(vol, noise, d)
        h = jnp.maximum(t - _ratio_last(d), 0.0)
        k0, k1 = jax.random.split(key)
        state = jnp.minimum(m[0] + jnp.sqrt(P[0, 0] + vol**2 * h) * jax.random.normal(k0, t.shape), 0.0)
        return state + noise * jax.random.normal(k1, t.shape)

    keys = jax.random.split(key, params["ratio_vol"].shape[0])
    return jax.vmap(one)(keys, params["ratio_vol"], params["ratio_noise"])


# -- trend models (distinct measurements, Student-t noise) --------------------------------------


def _level(d: FitData) -> Array:
    return numpyro.sample("level", dist.Normal(d.y_last, 10.0))


def _observe_trend(mu: Array, d: FitData, sigma: Array | None = None) -> None:
    if sigma is None:
        sigma = numpyro.sample("sigma", dist.HalfNormal(1.0))
    nu = numpyro.sample("nu", dist.Gamma(2.0, 0.1))
    obs = dist.StudentT(nu, mu, sigma)
    numpyro.sample("obs", obs.mask(d.mask), obs=d.y)
    numpyro.deterministic("log_lik", jnp.where(d.mask, obs.log_prob(d.y), 0.0))


def linear_model(d: FitData) -> None:
    level = _level(d)
    slope = numpyro.sample("slope", dist.Normal(0.5, 0.5))
    numpyro.deterministic("doubling_years", 1.0 / slope)
    _observe_trend(level + slope * (d.t - d.t_last), d)
    if d.rt is not None:
        _ratio_model(d)


def _linear_trend(params, d, t):
    return params["level"][:, None] + params["slope"][:, None] * (t - d.t_last)


def changepoint_model(d: FitData) -> None:
    level = _level(d)
    change = numpyro.sample("change_year", dist.Uniform(d.t_first + 2.0, d.t_last - 2.0))
    before = numpyro.sample("slope_before", dist.Normal(0.5, 0.5))
    after = numpyro.sample("slope_after", dist.Normal(0.5, 0.5))
    numpyro.deterministic("doubling_years_before", 1.0 / before)
    numpyro.deterministic("doubling_years_after", 1.0 / after)
    _observe_trend(_hinge(level, before, after, change, d.t_last, d.t), d)
    if d.rt is not None:
        _ratio_model(d)


def _hinge(level, before, after, change, t_last, t):
    return level + after * (t - t_last) + (before - after) * jnp.minimum(0.0, t - change)


def _changepoint_trend(params, d, t):
    p = {k: params[k][:, None] for k in ("level", "slope_before", "slope_after", "change_year")}
    return _hinge(p["level"], p["slope_before"], p["slope_after"], p["change_year"], d.t_last, t)


def _trend_predict(trend):
    def predict(key, params, d, t):
        loc = trend(params, d, t)
        return Predictive(loc, jnp.broadcast_to(params["sigma"][:, None], loc.shape), params["nu"][:, None])

    return predict


def _trend_paths(trend):
    def paths(key, params, d, grid):
        return trend(params, d, grid)

    return paths


# -- regimes: slope shifts as a Poisson process, in the data and after it ---------------------------


def _shift_logdensity(delta: Array, rate: Array, jump: Array) -> Array:
    p = -jnp.expm1(-rate)  # P(at least one regime change in a year)
    return jnp.logaddexp(
        jnp.log1p(-p) + dist.Normal(0.0, SHIFT_DRIFT).log_prob(delta),
        jnp.log(p) + dist.Normal(0.0, jump).log_prob(delta),
    )


def regimes_model(d: FitData) -> None:
    level = _level(d)
    slope = _sample(d, "regimes", "slope_last")
    rate = _sample(d, "regimes", "rate")
    jump = _sample(d, "regimes", "jump")
    z = numpyro.sample("shift_z", dist.Normal(0.0, 1.0).expand(d.knots.shape).to_event(1))
    delta = jnp.where(d.knot_mask, jump * z, 0.0)
    # active knots: replace the Normal(0, 1) of z by the shift density of delta = jump * z
    correction = _shift_logdensity(jump * z, rate, jump) + jnp.log(jump) - dist.Normal(0.0, 1.0).log_prob(z)
    numpyro.factor("shift_prior", jnp.sum(jnp.where(d.knot_mask, correction, 0.0)))
    numpyro.deterministic("shift", delta)
    numpyro.deterministic("doubling_years_last", 1.0 / slope)
    mu = level + slope * (d.t - d.t_last) + jnp.sum(delta[:, None] * jnp.maximum(0.0, d.knots[:, None] - d.t), 0)
    _observe_trend(mu, d, _sample(d, "regimes", "sigma"))
    if d.rt is not None:
        _ratio_model(d)


def _future_shifts(key: Array, params: dict[str, Array], knots: Array) -> Array:
    """Shift sizes at future ``knots`` for each draw, shape ``(draws, len(knots))``."""
    n = params["rate"].shape[0]
    k0, k1 = jax.random.split(key)
    p = -jnp.expm1(-params["rate"])[:, None]
    regime = jax.random.uniform(k0, (n, knots.shape[0])) < p
    size = jnp.where(regime, params["jump"][:, None], SHIFT_DRIFT)
    return size * jax.random.normal(k1, (n, knots.shape[0]))


def _regimes_trend(key: Array, params: dict[str, Array], d: FitData, t: Array) -> Array:
    """Trend of each draw at times ``t`` with fresh shifts at the whole years after ``t_last - 1``.

    The knots after the data are a static count, enough to cover ``t``: ``t`` must be a concrete
    array (not traced), as it is in every caller.
    """
    n_knots = int(np.ceil(np.ptp(np.asarray(t)))) + 3
    t = jnp.asarray(t)
    knots = jnp.floor(d.t_last - 1.0) + 1.0 + jnp.arange(n_knots, dtype=t.dtype)
    starts = jnp.maximum(knots, d.t_last)
    ramps = jnp.maximum(0.0, t[None, :] - starts[:, None])  # (knots, times)
    delta = _future_shifts(key, params, knots)
    base = params["level"][:, None] + params["slope_last"][:, None] * (t - d.t_last)
    return base + delta @ ramps


def _regimes_predict(key, params, d, t):
    loc = _regimes_trend(key, params, d, t)
    return Predictive(loc, jnp.broadcast_to(params["sigma"][:, None], loc.shape), params["nu"][:, None])


# -- random walk with drift (every list) -----------------------------------------------------------


def randomwalk_model(d: FitData) -> None:
    drift = _sample(d, "randomwalk", "drift")
    vol = _sample(d, "randomwalk", "vol")
    numpyro.deterministic("doubling_years", 1.0 / drift)
    dt = jnp.diff(d.t)
    ok = d.mask[1:] & (dt > 0)
    step = dist.Normal(drift * dt, vol * jnp.sqrt(jnp.where(ok, dt, 1.0)))
    dy = jnp.diff(d.y)
    numpyro.sample("obs", step.mask(ok), obs=dy)
    numpyro.deterministic("log_lik", jnp.where(ok, step.log_prob(dy), 0.0))
    if d.rt is not None:
        _ratio_model(d)


def _randomwalk_predict(key, params, d, t):
    h = jnp.maximum(t - d.t_last, 0.0)
    loc = d.y_last + params["drift"][:, None] * h
    scale = params["vol"][:, None] * jnp.sqrt(h)
    return Predictive(loc, scale, jnp.full_like(loc[:, :1], jnp.inf))


def _randomwalk_paths(key, params, d, grid):
    dts = jnp.diff(jnp.concatenate([d.t_last[None], grid]))
    n = params["drift"].shape[0]
    eps = jax.random.normal(key, (n, grid.shape[0]))
    steps = params["drift"][:, None] * dts + params["vol"][:, None] * jnp.sqrt(jnp.maximum(dts, 0.0)) * eps
    return d.y_last + jnp.cumsum(steps, axis=1)


# -- walkcycle: a random walk with drift plus a mean-reverting deviation (every list) -------------------


def _walkcycle_transition(p: dict[str, Array]) -> Callable[[Array], tuple[Array, Array]]:
    """F(dt), Q(dt) of the state ``(y, u, s)``: the leader ``y = x + u``, the trend ``x`` (integrates the
    constant slope ``s`` plus a Brownian motion of sd ``vol`` per sqrt(year)) and ``u``, an
    Ornstein-Uhlenbeck deviation (stationary sd ``cycle_sd``, rate ``reversion`` per year)."""

    def transition(dt):
        a = jnp.exp(-p["reversion"] * dt)
        q_u = p["cycle_sd"] ** 2 * -jnp.expm1(-2.0 * p["reversion"] * dt)
        F = jnp.array([[1.0, a - 1.0, dt], [0.0, a, 0.0], [0.0, 0.0, 1.0]])
        Q = jnp.array([[p["vol"] ** 2 * dt + q_u, q_u, 0.0], [q_u, q_u, 0.0], [0.0, 0.0, 0.0]])
        return F, Q

    return transition


WALK_START_SD = 3.0  # log2 units: the first list's trend, before it is observed
WALKCYCLE_SITES = ("vol", "cycle_sd", "reversion", "obs_noise")


def _walkcycle_filter(p: dict[str, Array], d: FitData):
    c2 = p["cycle_sd"] ** 2
    slope = site_prior(d, "walkcycle", "slope_last")  # Normal: the slope is constant
    m0 = jnp.array([d.y[0], 0.0, slope.loc])
    P0 = jnp.array([[WALK_START_SD**2 + c2, c2, 0.0], [c2, c2, 0.0], [0.0, 0.0, slope.scale**2]])
    return kalman_filter(_walkcycle_transition(p), m0, P0, d.t, d.y, p["obs_noise"] ** 2, d.mask)


def walkcycle_model(d: FitData) -> None:
    p = {site: _sample(d, "walkcycle", site) for site in WALKCYCLE_SITES}
    lls, m, P = _walkcycle_filter(p, d)
    numpyro.factor("loglik", lls.sum())
    numpyro.deterministic("log_lik", lls)
    # the slope is integrated out by the filter; this draw of it given the rest is its exact posterior
    slope = numpyro.sample("slope_last", dist.Normal(m[2], jnp.sqrt(P[2, 2])))
    numpyro.deterministic("doubling_years_last", 1.0 / slope)
    if d.rt is not None:
        _ratio_model(d)


def _walkcycle_predict(key, params, d, t):
    def one(p):
        _, m, P = _walkcycle_filter(p, d)
        h = jnp.maximum(t - d.t_last, 0.0)
        F, Q = jax.vmap(_walkcycle_transition(p))(h)
        var = (F @ P @ jnp.swapaxes(F, -1, -2) + Q)[:, 0, 0] + p["obs_noise"] ** 2
        return (F @ m)[:, 0], jnp.sqrt(var)

    loc, scale = jax.vmap(one)({k: params[k] for k in WALKCYCLE_SITES})
    return Predictive(loc, scale, jnp.full_like(loc[:, :1], jnp.inf))


def _walkcycle_paths(key, params, d, grid):
    def one(key, p):
        _, m, P = _walkcycle_filter(p, d)
        return _simulate_state(key, _walkcycle_transition(p), m, P, d.t_last, grid)

    keys = jax.random.split(key, params["vol"].shape[0])
    return jax.vmap(one)(keys, {k: params[k] for k in WALKCYCLE_SITES})


def _simulate_state(key, transition, m, P, t0, grid):
    """First state component along ``grid`` of a linear-Gaussian state from ``Normal(m, P)`` at ``t0``."""
    k = m.shape[0]
    k0, k1 = jax.random.split(key)
    x0 = m + jnp.linalg.cholesky(P + 1e-12 * jnp.eye(k)) @ jax.random.normal(k0, (k,))
    dts = jnp.diff(jnp.concatenate([jnp.asarray(t0)[None], grid]))
    eps = jax.random.normal(k1, (grid.shape[0], k))

    def walk(x, inp):
        dt, e = inp
        F, Q = transition(jnp.maximum(dt, 0.0))
        x = F @ x + jnp.linalg.cholesky(Q + 1e-12 * jnp.eye(k)) @ e
        return x, x[0]

    _, path = jax.lax.scan(walk, x0, (dts, eps))
    return path


# -- local linear trend (every list, Kalman filter) ----------------------------------------------


def locallinear_model(d: FitData) -> None:
    obs_noise = _sample(d, "locallinear", "obs_noise")
    level_vol = _sample(d, "locallinear", "level_vol")
    slope_vol = _sample(d, "locallinear", "slope_vol")
    lls, m, P = _locallinear_filter(obs_noise, level_vol, slope_vol, d)
    numpyro.factor("loglik", lls.sum())
    numpyro.deterministic("log_lik", lls)
    # the filtered slope at the last point given the rest: its exact posterior (not only its mean)
    numpyro.sample("slope_last", dist.Normal(m[1], jnp.sqrt(P[1, 1])))
    if d.rt is not None:
        _ratio_model(d)


def _locallinear_filter(obs_noise, level_vol, slope_vol, d: FitData):
    m0 = jnp.array([d.y[0], 0.5])
    P0 = jnp.diag(jnp.array([1.0, 0.25]))
    return kalman_filter(_local_linear_transition(level_vol, slope_vol), m0, P0, d.t, d.y, obs_noise**2, d.mask)


def _locallinear_predict(key, params, d, t):
    def one(obs_noise, level_vol, slope_vol):
        _, m, P = _locallinear_filter(obs_noise, level_vol, slope_vol, d)
        h = jnp.maximum(t - d.t_last, 0.0)
        F, Q = jax.vmap(_local_linear_transition(level_vol, slope_vol))(h)  # (times, 2, 2)
        state = F @ m
        var = (F @ P @ jnp.swapaxes(F, -1, -2) + Q)[:, 0, 0] + obs_noise**2
        return state[:, 0], jnp.sqrt(var)

    loc, scale = jax.vmap(one)(params["obs_noise"], params["level_vol"], params["slope_vol"])
    return Predictive(loc, scale, jnp.full_like(loc[:, :1], jnp.inf))


def _locallinear_paths(key, params, d, grid):
    def one(key, obs_noise, level_vol, slope_vol):
        _, m, P = _locallinear_filter(obs_noise, level_vol, slope_vol, d)
        return _simulate_state(key, _local_linear_transition(level_vol, slope_vol), m, P, d.t_last, grid)

    keys = jax.random.split(key, params["obs_noise"].shape[0])
    return jax.vmap(one)(keys, params["obs_noise"], params["level_vol"], params["slope_vol"])


# -- state-space form of the stochastic models (streamed crossovers simulate many paths at once) ---------


def _randomwalk_state(params, d):
    """State ``(y, drift)`` at the last point: the last value, the draw's drift (both known)."""
    return jnp.stack([d.y_last, params["drift"]]), jnp.zeros((2, 2))


def _randomwalk_transition(params):
    def transition(dt):
        return jnp.array([[1.0, dt], [0.0, 1.0]]), jnp.array([[params["vol"] ** 2 * dt, 0.0], [0.0, 0.0]])

    return transition


def _walkcycle_state(params, d):
    _, m, P = _walkcycle_filter({k: params[k] for k in WALKCYCLE_SITES}, d)
    return m, P


def _locallinear_state(params, d):
    _, m, P = _locallinear_filter(params["obs_noise"], params["level_vol"], params["slope_vol"], d)
    return m, P


class StateSpace(NamedTuple):
    """A stochastic model's future as a linear-Gaussian state whose first component is the path: the state's
    mean and covariance at the last point given the data (one draw: ``state(params, d) -> (m, P)``), its
    transition over ``dt`` years (``transition(params)(dt) -> (F, Q)``) and the path's variance rate
    (log2**2 per year: what a Brownian bridge between two path points has, ``variance_rate(params)``)."""

    state: Callable
    transition: Callable
    variance_rate: Callable


STATE_SPACES: dict[str, StateSpace] = {
    "randomwalk": StateSpace(_randomwalk_state, _randomwalk_transition, lambda p: p["vol"] ** 2),
    "walkcycle": StateSpace(
        _walkcycle_state,
        lambda p: _walkcycle_transition({k: p[k] for k in WALKCYCLE_SITES}),
        lambda p: p["vol"] ** 2 + 2.0 * p["reversion"] * p["cycle_sd"] ** 2,  # the walk's and the cycle's
    ),
    "locallinear": StateSpace(
        _locallinear_state,
        lambda p: _local_linear_transition(p["level_vol"], p["slope_vol"]),
        lambda p: p["level_vol"] ** 2,  # the slope's walk integrates to a smooth path
    ),
}


def path_variance_rate(model: str, params: dict[str, Array], d: FitData) -> Array:
    """Each draw's variance rate of the target's log2 path (log2**2 per year): the model's (0 for the
    deterministic and piecewise-linear ones), plus the HPCG efficiency walk's for the ``hpcg`` target."""
    some = next(iter(params.values()))
    rate = STATE_SPACES[model].variance_rate(params) if model in STATE_SPACES else jnp.zeros_like(some)
    if d.rt is not None:
        rate = rate + params["ratio_vol"] ** 2
    return rate


# -- registry ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GrowthModel:
    """A growth model: its NumPyro model, the data it fits, its predictive and its future paths.

    ``predict(key, params, data, t)`` gives each draw's conditional predictive of the leader's log2
    FLOP/s at times ``t`` after the data; ``paths(key, params, data, grid)`` each draw's path of the
    expected frontier (trend, level or walk; no list-to-list noise) along a sorted grid.
    """

    name: str
    model: Callable[[FitData], None]
    fits: str  # "lists" (every list) or "measurements" (distinct values)
    stochastic: bool  # whether the future path is random beyond the parameter draws
    predict: Callable
    paths: Callable
    summary_vars: tuple[str, ...]
    description: str


MODELS_BY_NAME: dict[str, GrowthModel] = {
    "linear": GrowthModel(
        "linear",
        linear_model,
        "measurements",
        False,
        _trend_predict(_linear_trend),
        _trend_paths(_linear_trend),
        ("doubling_years", "slope", "level", "sigma", "nu"),
        "one exponential trend with Student-t noise (deterministic)",
    ),
    "changepoint": GrowthModel(
        "changepoint",
        changepoint_model,
        "measurements",
        False,
        _trend_predict(_changepoint_trend),
        _trend_paths(_changepoint_trend),
        ("doubling_years_before", "doubling_years_after", "change_year", "level", "sigma", "nu"),
        "one change of slope in the data, a straight line after it (deterministic)",
    ),
    "randomwalk": GrowthModel(
        "randomwalk",
        randomwalk_model,
        "lists",
        True,
        _randomwalk_predict,
        _randomwalk_paths,
        ("doubling_years", "drift", "vol"),
        "random walk with drift on every list (Farmer & Lafond 2016)",
    ),
    "walkcycle": GrowthModel(
        "walkcycle",
        walkcycle_model,
        "lists",
        True,
        _walkcycle_predict,
        _walkcycle_paths,
        ("doubling_years_last", *WALKCYCLE_SITES),
        "random walk with drift plus a mean-reverting deviation: a leader jumps, the trend catches up",
    ),
    "locallinear": GrowthModel(
        "locallinear",
        locallinear_model,
        "lists",
        True,
        _locallinear_predict,
        _locallinear_paths,
        ("slope_last", "obs_noise", "level_vol", "slope_vol"),
        "local linear trend: level and slope both random walks (Kalman filter)",
    ),
    "regimes": GrowthModel(
        "regimes",
        regimes_model,
        "measurements",
        True,
        _regimes_predict,
        _regimes_trend,
        ("doubling_years_last", "slope_last", "rate", "jump", "level", "sigma", "nu"),
        "slope shifts arriving as a Poisson process, learned from the history and continued after it",
    ),
}


def predict_after(model: GrowthModel, key: Array, params: dict[str, Array], d: FitData, t) -> Predictive:
    """``model.predict`` at the years ``t`` after the data, evaluated with the model's last point ``d.t_last``
    put first (its column then dropped): a model that draws future changes at whole years (``regimes``)
    then covers every year from the last point on, not only the span of ``t``. ``d`` concrete (not traced)."""
    t = np.asarray(t, dtype=np.float64)
    t_all = np.concatenate([[float(d.t_last)], t])
    p = model.predict(key, params, d, t_all)
    return Predictive(*(x[..., 1:] if np.ndim(x) and np.shape(x)[-1] == len(t_all) else x for x in p))
