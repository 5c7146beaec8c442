"""Synthetic recovery of the local linear trend and the regime-shift model; the capped HPCG ratio walk."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from uncertainty.growth.models import pad_fit_data, ratio_paths, ratio_predictive_draw

from test_growth import fit, interval, max_rhat, series_data, synthetic


def simulate_local_linear(rng, t, level_vol, slope_vol, obs_noise, slope0=0.6):
    """Level integrates the slope plus a Brownian motion; the slope is a Brownian motion (exact steps)."""
    x = np.array([40.0, slope0])
    out = []
    for i, ti in enumerate(t):
        if i:
            dt = ti - t[i - 1]
            q = slope_vol**2
            cov = np.array([[level_vol**2 * dt + q * dt**3 / 3, q * dt**2 / 2], [q * dt**2 / 2, q * dt]])
            x = np.array([[1.0, dt], [0.0, 1.0]]) @ x + np.linalg.cholesky(cov) @ rng.standard_normal(2)
        out.append(x[0] + obs_noise * rng.standard_normal())
    return np.array(out), x[1]


@pytest.mark.slow
def test_locallinear_recovers_volatilities_noise_and_the_last_slope():
    rng = np.random.default_rng(21)
    t = np.arange(1900.0, 2026.0, 0.5)
    truth = {"level_vol": 0.4, "slope_vol": 0.05, "obs_noise": 0.2}
    y, slope_last = simulate_local_linear(rng, t, **truth)
    draws = fit(series_data(t, y), "locallinear", seed=21)
    for name, value in {**truth, "slope_last": slope_last}.items():
        lo, hi = interval(draws, name)
        assert lo < value < hi, (name, value, lo, hi)
    assert max_rhat(draws, ["level_vol", "slope_vol", "obs_noise"]) <= 1.01


@pytest.mark.slow
def test_regimes_recovers_the_slope_after_a_regime_change():
    """One kink (0.9 -> 0.4 doublings per year in 2013): the last slope is the later one, and the model
    puts a regime change (a large shift) near 2013 rather than a slow drift."""
    draws = fit(synthetic(0.9, 0.4, 2013.0, seed=3), "regimes", seed=3)
    lo, hi = interval(draws, "slope_last")
    assert lo < 0.4 < hi and hi - lo < 0.3, (lo, hi)
    lo, hi = interval(draws, "doubling_years_last")
    assert lo < 2.5 < hi, (lo, hi)
    # the shifts (one per whole year) sum to the total change of slope,, most of it within two years of 2013
    knots = np.arange(1994.0, 2026.0)
    shift = draws["shift"].reshape(-1, knots.size)
    total = shift.sum(axis=1)
    near = shift[:, np.abs(knots - 2013.0) <= 2.0].sum(axis=1)
    assert abs(np.median(total) - (0.4 - 0.9)) < 0.15, np.median(total)  # a shift is slope_after - slope_before
    assert np.median(near / total) > 0.7


def _ratio_data(values):
    t = np.arange(2000.0, 2010.0, 0.5)
    rt = np.arange(2014.0, 2014.0 + 0.5 * len(values), 0.5)
    d = pad_fit_data(t, 40 + 0.5 * (t - 2000), len(t), np.arange(2000.0, 2010.0), (rt, np.asarray(values), len(rt)))
    return jax.tree_util.tree_map(jnp.asarray, d)


def test_ratio_walk_is_capped_at_full_efficiency():
    """log2 HPCG/HPL near 0 with a large volatility: without the cap half the paths would exceed 100%."""
    with jax.enable_x64(True):
        d = _ratio_data([-0.2, -0.1, -0.15, -0.1])
        n = 2000
        params = {"ratio_vol": jnp.full(n, 1.0), "ratio_noise": jnp.full(n, 1e-3)}
        grid = jnp.arange(2016.0, 2060.0, 0.25)
        paths = np.asarray(ratio_paths(jax.random.key(0), params, d, grid))
        draw = np.asarray(ratio_predictive_draw(jax.random.key(1), params, d, grid))
    assert paths.shape == (n, grid.size)
    assert paths.max() <= 0.0
    capped = (paths[:, -1] == 0.0).mean()
    assert 0.02 < capped < 0.5, capped  # the cap binds on some paths, never on all
    # predictive draws: the capped state plus list noise (sd 1e-3): never more than 5 sd above 0
    assert draw.max() < 5e-3
    # far below the cap the walk is an ordinary random walk: sd grows as vol * sqrt(horizon)
    with jax.enable_x64(True):
        low = _ratio_data([-8.0, -8.0, -8.0, -8.0])
        params = {"ratio_vol": jnp.full(n, 0.1), "ratio_noise": jnp.full(n, 1e-3)}
        far = np.asarray(ratio_paths(jax.random.key(2), params, low, jnp.array([2025.5])))[:, 0]
    expected_sd = math.sqrt(0.1**2 * 10.0)  # 10 years after the last list, plus a small filter sd
    assert abs(far.std() / expected_sd - 1) < 0.1, far.std()
