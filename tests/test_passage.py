"""First passage of a random walk with drift: the exact inverse Gaussian draw, the Brownian-bridge crossing
between grid points (its probability and where it happens), and the grid search built on them, against
closed forms, scipy's distributions and fine simulations (tolerances from the Monte Carlo error: a few
standard errors, or a KS test at p > 1e-3 with fixed seeds)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from uncertainty.growth.crossover import first_crossing_on_grid
from uncertainty.growth.passage import (
    bridge_crossing_fraction,
    bridge_crossing_probability,
    bridge_maximum,
    first_passage_of_levels,
    first_passage_on_grid,
    randomwalk_first_passage,
)

# jitted once per shape: one compilation instead of one per operation (the eager path: test_jit_vmap_and_shapes)
passage = jax.jit(randomwalk_first_passage)
fraction = jax.jit(bridge_crossing_fraction)
grid_passage = jax.jit(first_passage_on_grid)
linear_crossing = jax.jit(first_crossing_on_grid)

P_MIN = 1e-3  # a KS test fails below this p-value
Z = 4.0  # standard errors allowed between a Monte Carlo mean and its exact value


def _invgauss(mean: float, shape: float):
    """scipy's inverse Gaussian of mean ``mean`` and shape ``shape`` (its ``mu`` is ``mean / shape``)."""
    return stats.invgauss(mean / shape, scale=shape)


def _walk_paths(key, n: int, dt: float, steps: int, distance: float, drift: float, vol: float) -> jax.Array:
    """``n`` random walks ``-distance + drift t + vol W(t)`` (the gap, log2) at ``t = 0, dt, ..., steps dt``."""
    eps = jax.random.normal(key, (n, steps))
    walk = jnp.cumsum(drift * dt + vol * np.sqrt(dt) * eps, axis=1)
    return jnp.concatenate([jnp.zeros((n, 1)), walk], axis=1) - distance


# -- randomwalk_first_passage ------------------------------------------------------------------------------


@pytest.mark.parametrize("x64", [False, True])
def test_first_passage_mean_and_variance(x64):
    """IG(mu = d / drift, shape = d**2 / vol**2): mean mu, variance mu**3 / shape, excess kurtosis 15 mu / shape."""
    d, drift, vol, n = 10.0, 0.5, 1.0, 200_000
    mu, shape = d / drift, d**2 / vol**2
    var = mu**3 / shape
    with jax.enable_x64(x64):
        t = passage(jax.random.key(0), jnp.full(n, d), drift, vol)
    assert t.dtype == (jnp.float64 if x64 else jnp.float32)
    t = np.asarray(t, dtype=np.float64)
    assert abs(t.mean() - mu) < Z * np.sqrt(var / n)
    assert abs(t.var() - var) < Z * var * np.sqrt((2 + 15 * mu / shape) / n)


@pytest.mark.parametrize(
    "d, drift, vol",
    [
        (10.0, 0.5, 1.0),  # mean / shape = 0.2
        (1.0, 1e-3, 1.0),  # mean / shape = 1000: the textbook form cancels, nearly a Levy distribution
        (2.0, 4.0, 0.1),  # mean / shape = 0.00125: nearly d / drift
    ],
)
@pytest.mark.parametrize("x64", [False, True])
def test_first_passage_is_inverse_gaussian(d, drift, vol, x64):
    with jax.enable_x64(x64):
        t = np.asarray(passage(jax.random.key(1), d, drift, jnp.full(20_000, vol)))
    assert np.all(np.isfinite(t) & (t > 0))
    assert stats.kstest(t, _invgauss(d / drift, d**2 / vol**2).cdf).pvalue > P_MIN


def test_negative_drift_reaches_the_level_with_its_probability():
    """Drift < 0: reached with probability exp(2 drift d / vol**2), then at an IG(d / |drift|) time."""
    d, drift, vol, n = 2.0, -0.3, 1.0, 100_000
    t = np.asarray(passage(jax.random.key(2), jnp.full(n, d), drift, vol))
    p = np.exp(2 * drift * d / vol**2)
    reached = np.isfinite(t)
    assert np.all(np.isinf(t[~reached]) & (t[~reached] > 0))
    assert abs(reached.mean() - p) < Z * np.sqrt(p * (1 - p) / n)
    assert stats.kstest(t[reached], _invgauss(d / -drift, d**2 / vol**2).cdf).pvalue > P_MIN


def test_zero_drift_is_levy():
    """Drift 0: always reached, at d**2 / (vol**2 Z**2) (Levy, scale d**2 / vol**2)."""
    d, vol = 2.0, 0.5
    t = np.asarray(passage(jax.random.key(3), d, 0.0, jnp.full(20_000, vol)))
    assert np.all(np.isfinite(t))
    assert stats.kstest(t, stats.levy(scale=d**2 / vol**2).cdf).pvalue > P_MIN


def test_first_passage_without_noise_and_at_the_level():
    d = jnp.array([3.0, 3.0, 3.0, 3.0, 0.0, -1.0, -1.0])
    drift = jnp.array([0.7, 1.3, 0.0, -0.5, 0.7, -0.5, 0.7])
    vol = jnp.array([0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0])
    t = np.asarray(randomwalk_first_passage(jax.random.key(4), d, drift, vol))
    np.testing.assert_array_equal(t[:2], np.float32(3.0) / np.array([0.7, 1.3], np.float32))  # d / drift exactly
    assert np.all(np.isinf(t[2:4]))  # no noise, no growth: never
    np.testing.assert_array_equal(t[4:], 0.0)  # already there


def test_first_passage_against_a_fine_grid_walk():
    """A walk on 1/1000-year steps, its first crossing by linear interpolation (late by about
    0.58 vol sqrt(dt) / drift = 0.02 year), against the exact draw; both censored at the 8-year horizon."""
    d, drift, vol, dt, horizon = 2.0, 1.0, 1.0, 1e-3, 8.0
    steps = round(horizon / dt)
    gap = _walk_paths(jax.random.key(5), 2000, dt, steps, d, drift, vol)
    simulated = np.asarray(linear_crossing(jnp.arange(steps + 1) * dt, gap))
    exact = np.asarray(passage(jax.random.key(6), d, drift, jnp.full(20_000, vol)))
    assert stats.ks_2samp(np.minimum(simulated, horizon), np.minimum(exact, horizon)).pvalue > P_MIN


# -- bridge_crossing_probability -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "a, b, variance, expected",
    [
        (-1.0, -1.0, 1.0, np.exp(-2.0)),
        (-2.0, -0.5, 4.0, np.exp(-0.5)),
        (-1.0, -3.0, 0.5, np.exp(-12.0)),
        (0.5, -1.0, 1.0, 1.0),  # starts above
        (-1.0, 0.0, 1.0, 1.0),  # ends on the level
        (-1.0, 2.0, 0.0, 1.0),  # ends above, straight line
        (-1.0, -1.0, 0.0, 0.0),  # a straight line below
        (-1e-30, -1e-30, 0.0, 0.0),
    ],
)
def test_bridge_probability_by_hand(a, b, variance, expected):
    assert float(bridge_crossing_probability(a, b, variance)) == pytest.approx(expected, rel=1e-6)


def _bridges(key, n: int, steps: int, a: float, b: float, variance: float) -> tuple[np.ndarray, jax.Array]:
    """``n`` Brownian bridges from ``a`` to ``b`` of variance ``variance`` over [0, 1], at ``steps + 1`` points."""
    s = jnp.linspace(0.0, 1.0, steps + 1)
    w = jnp.cumsum(jax.random.normal(key, (n, steps)) * np.sqrt(1.0 / steps), axis=1)
    w = jnp.concatenate([jnp.zeros((n, 1)), w], axis=1)
    return np.asarray(s), a + (b - a) * s + np.sqrt(variance) * (w - s * w[:, -1:])


@pytest.mark.parametrize("a, b, variance", [(-1.0, -1.0, 1.0), (-0.5, -1.5, 2.0)])
def test_bridge_probability_against_simulated_bridges(a, b, variance):
    """Bridges on 2000 steps: the share reaching 0 at a step is at most the exact probability (a path seen
    at 0 on the grid reaches it), and at least the probability with the level moved up by the discrete-monitoring
    correction 0.5826 sqrt(variance / steps) (Broadie, Glasserman & Kou 1997)."""
    n, steps = 4000, 2000
    _, x = _bridges(jax.random.key(7), n, steps, a, b, variance)
    share = float(jnp.mean(jnp.any(x >= 0, axis=1)))
    p = float(bridge_crossing_probability(a, b, variance))
    shift = 0.5826 * np.sqrt(variance / steps)
    p_low = np.exp(-2 * (a - shift) * (b - shift) / variance)
    se = np.sqrt(p * (1 - p) / n)
    assert p_low - Z * se < share < p + Z * se


# -- bridge_crossing_fraction ---------------------------------------------------------------------------------


def _bridge_hit_cdf(a: float, b: float, variance: float, s: np.ndarray) -> np.ndarray:
    """P(first hit of 0 <= s | the bridge from a < 0 to b crosses), by quadrature, independent of the sampler:
    P(no hit by s) = E[1{X_s < 0} (1 - exp(-2 a X_s / (variance s)))], X_s ~ N(a + (b - a) s, variance s (1 - s))."""
    s = np.clip(np.asarray(s, dtype=np.float64), 1e-12, 1 - 1e-12)[:, None]
    mean, sd = a + (b - a) * s, np.sqrt(variance * s * (1 - s))
    lo, hi = mean - 12 * sd, np.minimum(0.0, mean + 12 * sd)
    half = np.maximum(hi - lo, 0.0) / 2
    nodes, weights = np.polynomial.legendre.leggauss(400)
    x = lo + half * (nodes + 1)
    density = stats.norm.pdf(x, mean, sd) * -np.expm1(-2 * a * x / (variance * s))
    p = 1.0 if b >= 0 else np.exp(-2 * a * b / variance)
    return (1 - np.sum(weights * density, axis=1) * half[:, 0]) / p


@pytest.mark.parametrize(
    "a, b, variance",
    [
        (-1.0, 0.5, 1.0),  # ends above
        (-0.05, 3.0, 0.01),  # ends far above, little noise: near the straight line's -a / (b - a)
        (-2.0, 0.0, 0.5),  # ends on the level (Levy in s / (1 - s))
        (-1.0, -0.5, 1.0),  # ends below, given that it crosses
        (-0.3, -0.2, 0.1),
    ],
)
@pytest.mark.parametrize("x64", [False, True])
def test_bridge_fraction_has_the_exact_distribution(a, b, variance, x64):
    with jax.enable_x64(x64):
        s = np.asarray(fraction(jax.random.key(8), a, b, jnp.full(20_000, variance)))
    assert np.all((s >= 0) & (s <= 1))
    assert stats.kstest(s, lambda q: _bridge_hit_cdf(a, b, variance, q)).pvalue > P_MIN


@pytest.mark.parametrize("a, b, variance", [(-1.0, -0.5, 1.0), (-1.0, 0.5, 1.0), (-0.3, 0.2, 0.1)])
def test_bridge_fraction_against_simulated_bridges(a, b, variance):
    """Bridges on 1000 steps conditioned on crossing. Each step's own crossing is drawn with the bridge
    probability (a plain look at the grid points is late by O(sqrt(dt)): 0.014 of the interval here, which a
    KS test on thousands of paths sees) and placed at the step's middle (off by at most half a step)."""
    n, steps = 10_000, 1000
    s, x = _bridges(jax.random.key(9), n, steps, a, b, variance)
    u = jax.random.uniform(jax.random.key(10), (n, steps))
    crossed = (x[:, 1:] >= 0) | (u < bridge_crossing_probability(x[:, :-1], x[:, 1:], variance / steps))
    hit = np.asarray(jnp.any(crossed, axis=1))
    simulated = (s[:-1] + 0.5 / steps)[np.asarray(jnp.argmax(crossed, axis=1))][hit]
    assert np.all(hit) if b >= 0 else hit.sum() > 2000
    drawn = np.asarray(fraction(jax.random.key(11), a, b, jnp.full(20_000, variance)))
    assert stats.ks_2samp(simulated, drawn).pvalue > P_MIN


def test_bridge_fraction_at_the_edges():
    a = jnp.array([0.0, 1.0, -1.0, -1.0, -3.0, -2.0])
    b = jnp.array([-1.0, 2.0, 1.0, 0.0, 1.0, -1.0])
    v = jnp.array([1.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    s = np.asarray(bridge_crossing_fraction(jax.random.key(12), a, b, v))
    np.testing.assert_array_equal(s[:2], 0.0)  # starts at or above the level
    np.testing.assert_allclose(s[2:5], [0.5, 1.0, 0.75])  # no noise: the straight line's crossing
    assert 0 <= s[5] <= 1


# -- first_passage_on_grid -------------------------------------------------------------------------------------


def test_grid_passage_is_exact_on_a_coarse_grid():
    """A random walk seen once a year: the bridges give the exact inverse Gaussian, where linear interpolation
    between the yearly points (first_crossing_on_grid) misses the crossings between them and is late."""
    d, drift, vol, n, horizon = 3.0, 1.0, 1.0, 20_000, 30
    mu, shape = d / drift, d**2 / vol**2
    times = jnp.arange(horizon + 1.0)
    gap = _walk_paths(jax.random.key(13), n, 1.0, horizon, d, drift, vol)
    bridged = np.asarray(grid_passage(jax.random.key(14), times, gap, vol**2), dtype=np.float64)
    linear = np.asarray(linear_crossing(times, gap), dtype=np.float64)
    assert np.all(np.isfinite(bridged) & np.isfinite(linear))  # P(T > 30) is about 1e-7
    se = np.sqrt(mu**3 / shape / n)
    assert abs(bridged.mean() - mu) < Z * se
    assert stats.kstest(bridged, _invgauss(mu, shape).cdf).pvalue > P_MIN
    late = linear - bridged  # on the same paths
    assert late.mean() > Z * late.std() / np.sqrt(n)
    assert linear.mean() - mu > Z * se


def test_grid_passage_agrees_with_a_fine_scan():
    """The yearly points of walks on 1/200-year steps: the bridged crossing on the yearly grid against the
    linear crossing on the fine grid (late by about 0.58 vol sqrt(dt) / drift = 0.04 year), censored at 12 years."""
    d, drift, vol, per_year, horizon = 3.0, 1.0, 1.0, 200, 12
    gap = _walk_paths(jax.random.key(15), 4000, 1 / per_year, per_year * horizon, d, drift, vol)
    fine = np.asarray(linear_crossing(jnp.arange(per_year * horizon + 1) / per_year, gap))
    coarse = np.asarray(grid_passage(jax.random.key(16), jnp.arange(horizon + 1.0), gap[:, ::per_year], 1.0))
    assert stats.ks_2samp(np.minimum(fine, horizon), np.minimum(coarse, horizon)).pvalue > P_MIN


@pytest.mark.parametrize("x64", [False, True])
def test_zero_variance_is_linear_interpolation(x64):
    """Without variance between the points a bridge is a straight line: first_crossing_on_grid exactly."""
    with jax.enable_x64(x64):
        times = jnp.array([2025.0, 2025.25, 2025.5, 2026.0, 2027.5, 2030.0])
        start = jnp.array([-3.0, -0.1, 0.0, 2.0, -10.0, -1.0])[:, None]
        slope = jnp.array([1.0, 7.0, -1.0, 0.5, 1.0, 0.4])[:, None]
        lines = start + slope * (times - times[0])
        walks = jnp.cumsum(jax.random.normal(jax.random.key(17), (200, times.size)), axis=1) - 2.0
        gap = jnp.concatenate([lines, walks])
        got = np.asarray(grid_passage(jax.random.key(18), times, gap, 0.0))
        np.testing.assert_array_equal(got, np.asarray(linear_crossing(times, gap)))
        expected = [2028.0, 2025.0 + 0.1 / 7.0, 2025.0, 2025.0, np.inf, 2027.5]
        np.testing.assert_allclose(got[:6], expected, rtol=1e-7)
        assert 0 < np.isfinite(got[6:]).mean() < 1


def test_grid_passage_under_jit_and_vmap():
    """Eager calls equal jitted and vmapped ones; ``variance_rate`` broadcasts to ``gap.shape[:-1]``."""
    times = jnp.arange(6.0)
    gap = jnp.cumsum(jax.random.normal(jax.random.key(19), (3, 4, 6)), axis=-1) - 2.0
    rate = jnp.array([0.5, 1.0, 2.0, 0.0])
    keys = jax.random.split(jax.random.key(20), 5)
    eager = first_passage_on_grid(keys[2], times, gap, rate)
    assert eager.shape == (3, 4) and eager.dtype == jnp.float32
    mapped = jax.jit(jax.vmap(first_passage_on_grid, (0, None, None, None)))(keys, times, gap, rate)
    assert mapped.shape == (5, 3, 4)
    np.testing.assert_allclose(mapped[2], eager, rtol=1e-6)
    one_point = first_passage_on_grid(keys[0], times[:1], jnp.array([[-1.0], [0.5]]), 1.0)
    np.testing.assert_array_equal(one_point, [np.inf, 0.0])


def test_samplers_under_vmap():
    keys = jax.random.split(jax.random.key(21), 5)
    walks = jax.jit(jax.vmap(randomwalk_first_passage, (0, None, None, None)))(keys, jnp.ones(7), 0.3, 1.0)
    assert walks.shape == (5, 7)
    np.testing.assert_allclose(walks[1], passage(keys[1], jnp.ones(7), 0.3, 1.0), rtol=1e-6)
    ends = jnp.array([-1.0, 1.0])
    where = jax.jit(jax.vmap(bridge_crossing_fraction, (0, None, None, None)))(keys, -1.0, ends, 1.0)
    assert where.shape == (5, 2)
    np.testing.assert_allclose(where[3], fraction(keys[3], -1.0, ends, 1.0), rtol=1e-6)


# -- properties ---------------------------------------------------------------------------------------------------

P = 7  # grid points in the property test (one shape: one compilation)
finite = st.floats(-50.0, 50.0, allow_nan=False)


@jax.jit
def _everything(key, times, gap, rate, distance, drift, vol):
    k1, k2, k3 = jax.random.split(key, 3)
    return (
        first_passage_on_grid(k1, times, gap, rate),
        bridge_crossing_probability(gap[..., :-1], gap[..., 1:], rate[:, None]),
        bridge_crossing_fraction(k2, gap[..., :-1], gap[..., 1:], rate[:, None]),
        randomwalk_first_passage(k3, distance, drift, vol),
    )


@settings(max_examples=60, deadline=None)
@given(
    st.floats(1900.0, 2100.0),
    st.lists(st.floats(0.01, 10.0), min_size=P - 1, max_size=P - 1),
    st.lists(st.lists(finite, min_size=P, max_size=P), min_size=3, max_size=3),
    st.lists(st.sampled_from([0.0, 1e-6, 0.01, 1.0, 100.0]), min_size=3, max_size=3),
    st.tuples(finite, st.floats(-5.0, 5.0), st.floats(0.0, 10.0)),
    st.integers(0, 2**31 - 1),
)
def test_outputs_are_in_range(t0, steps, gap, rate, walk, seed):
    times = jnp.asarray(t0 + np.concatenate([[0.0], np.cumsum(steps)]), dtype=jnp.float32)
    gap = jnp.asarray(gap, dtype=jnp.float32)
    rate = jnp.asarray(rate, dtype=jnp.float32)
    year, prob, frac, passage = (np.asarray(x) for x in _everything(jax.random.key(seed), times, gap, rate, *walk))
    times, gap = np.asarray(times), np.asarray(gap)
    assert not np.any(np.isnan(year)) and not np.any(year == -np.inf)
    done = np.isfinite(year)
    assert np.all((year[done] >= times[0]) & (year[done] <= times[-1]))
    assert np.all(done[np.any(gap >= 0, axis=1)])  # a point at or above 0 means a crossing by then
    reached = gap >= 0
    by = np.where(reached.any(axis=1), times[np.argmax(reached, axis=1)], np.inf)
    assert np.all(year <= by)
    np.testing.assert_array_equal(year[gap[:, 0] >= 0], times[0])
    assert np.all((prob >= 0) & (prob <= 1))
    assert np.all((frac >= 0) & (frac <= 1))
    assert not np.isnan(passage) and passage >= 0


# -- first_passage_of_levels: many levels per path (the streamed crossover) -----------------------------------

levels_passage = jax.jit(first_passage_of_levels)


def test_bridge_maximum_has_the_closed_form_distribution():
    """P(max of a bridge from a to b >= m) = exp(-2 (m - a)(m - b) / v) for m above both ends."""
    a, b, v, n = -1.0, -0.5, 0.8, 200_000
    top = np.asarray(jax.jit(bridge_maximum)(jax.random.key(31), jnp.full(n, a), jnp.full(n, b), v))
    assert np.all(top >= max(a, b))
    for m in (-0.3, 0.0, 0.5):
        p = np.exp(-2 * (m - a) * (m - b) / v)
        assert abs((top >= m).mean() - p) < Z * np.sqrt(p * (1 - p) / n)
    np.testing.assert_allclose(np.asarray(bridge_maximum(jax.random.key(1), -1.0, -0.5, 0.0)), -0.5)


def test_levels_passage_is_exact_for_a_random_walk():
    """16 levels on each yearly-sampled walk: every level's crossing has the inverse Gaussian law of its
    distance (the levels share the path, each one's law is exact)."""
    drift, vol, n = 1.0, 1.0, 5000
    distances = np.linspace(0.5, 8.0, 16)
    times = jnp.arange(41.0)
    paths = _walk_paths(jax.random.key(32), n, 1.0, 40, 0.0, drift, vol)
    got = np.asarray(levels_passage(jax.random.key(33), times, paths, jnp.tile(distances, (n, 1)), jnp.ones(n)))
    assert np.all(np.isfinite(got))
    for j in (0, 5, 15):
        d = distances[j]
        mu, shape = d / drift, d**2 / vol**2
        assert abs(got[:, j].mean() - mu) < Z * np.sqrt(mu**3 / shape / n)
        assert stats.kstest(got[:, j], _invgauss(mu, shape).cdf).pvalue > P_MIN


def test_levels_passage_without_variance_is_the_linear_crossing():
    from uncertainty.growth.crossover import crossings_of_levels

    with jax.enable_x64(True):
        times = jnp.arange(2025.0, 2060.0, 0.5)
        paths = jnp.cumsum(jax.random.normal(jax.random.key(34), (40, times.shape[0])), axis=1)
        levels = jax.random.uniform(jax.random.key(35), (40, 8), minval=-4.0, maxval=12.0)
        got = levels_passage(jax.random.key(36), times, paths, levels, jnp.zeros(40))
        want = crossings_of_levels(times, paths, levels)
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=0, atol=1e-9)
