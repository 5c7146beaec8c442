"""Crossover years: the article's scenarios by hand, the closed form of piecewise-linear trends, and the
first crossing of simulated paths."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from uncertainty.growth.crossover import doublings_needed, first_crossing_on_grid, scenario_crossover_year
from uncertainty.growth.models import MODELS_BY_NAME, pad_fit_data


def test_doublings_of_the_article():
    # log2(1.075e21 / 0.58e15) = 20.82
    assert round(float(doublings_needed(1.075e21, 0.58e15)), 2) == 20.82


@pytest.mark.parametrize("d, year", [(1.0, 2036.0), (1.8, 2052.8), (3.0, 2078.0)])
def test_article_scenarios_whole_periods(d, year):
    # 2015 + 21 whole periods of d years
    got = scenario_crossover_year(1.075e21, 0.58e15, 2015.0, d, whole_periods=True)
    assert float(got) == pytest.approx(year, abs=1e-3)


def test_continuous_and_vectorised():
    d = jnp.array([1.0, 1.8, 3.0])
    got = scenario_crossover_year(1.075e21, 0.58e15, 2015.0, d)
    expected = 2015.0 + np.array([1.0, 1.8, 3.0]) * np.log2(1.075e21 / 0.58e15)
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-6)


def test_already_reached_gives_start_year():
    assert float(scenario_crossover_year(1e14, 0.58e15, 2015.0, 2.0)) == 2015.0


# -- first crossing of a piecewise-linear log2 gap ---------------------------------------

from uncertainty.growth.crossover import first_crossing  # noqa: E402


@pytest.mark.parametrize(
    "g0, s1, s2, tc, expected",
    [
        (-10.0, 0.5, 0.5, 2100.0, 2020.0),  # straight line: 10 doublings at 0.5 per year
        (-10.0, 1.0, 0.25, 2005.0, 2025.0),  # 5 doublings by 2005, then 5 more at 0.25 per year
        (-4.0, 1.0, 0.25, 2005.0, 2004.0),  # crosses before the change of slope
        (-5.0, 1.0, 0.25, 2005.0, 2005.0),  # exactly at the change
        (2.0, 0.5, 0.5, 2100.0, 2000.0),  # already above at the start
        (-10.0, 0.5, 0.0, 2010.0, np.inf),  # growth stops short of the brain
        (-10.0, -0.1, 0.5, 2010.0, 2032.0),  # shrinks to -11 by 2010, then 22 years at 0.5
        (-200.0, 0.5, 0.5, 2100.0, np.inf),  # would cross in 2400, past the horizon (2300)
    ],
)
def test_first_crossing_by_hand(g0, s1, s2, tc, expected):
    assert float(first_crossing(g0, 2000.0, s1, s2, tc)) == pytest.approx(expected)


def test_first_crossing_vectorises_and_respects_horizon():
    g0 = jnp.array([-10.0, -10.0, -10.0])
    got = first_crossing(g0, 2000.0, jnp.array([0.5, 0.1, 0.05]), jnp.array([0.5, 0.1, 0.05]), 2100.0, horizon=2150.0)
    np.testing.assert_allclose(np.asarray(got), [2020.0, 2100.0, np.inf])


def test_scenario_horizon_and_non_growth():
    # 20.82 doublings: d = 20 years -> 2431 is past the horizon; d <= 0 never crosses
    got = scenario_crossover_year(1.075e21, 0.58e15, 2015.0, jnp.array([1.0, 20.0, 0.0, -1.0]), horizon=2300.0)
    assert float(got[0]) == pytest.approx(2015 + math.log2(1.075e21 / 0.58e15), abs=1e-3)
    assert np.all(np.isinf(np.asarray(got[1:])))


@pytest.mark.slow
def test_two_kinks_by_hand_and_against_a_dense_search():
    from uncertainty.growth.crossover import first_crossing_at_kinks

    # slope 1 until 2010, 0.5 until 2020, then 0.25; gap -20 in 2000: -10 by 2010, -5 by 2020, 0 in 2040
    def gap(t):
        return (
            -20.0
            + jnp.minimum(t, 2010.0)
            - 2000.0
            + 0.5 * jnp.clip(t - 2010.0, 0, 10)
            + 0.25 * jnp.maximum(t - 2020.0, 0)
        )

    assert float(first_crossing_at_kinks(gap, 2000.0, [2020.0, 2010.0])) == pytest.approx(2040.0)
    # random kinks and slopes (some negative): the closed form agrees with a fine grid search
    rng = np.random.default_rng(0)
    grid = np.linspace(2000.0, 2300.0, 300_001)
    for _ in range(200):
        k1, k2 = rng.uniform(1990, 2320, 2)
        s0, s1, s2 = rng.uniform(-0.5, 1.0, 3)
        g0 = rng.uniform(-60, 5)

        def g(t, k1=k1, k2=k2, s0=s0, s1=s1, s2=s2, g0=g0):
            lo, hi = min(k1, k2), max(k1, k2)
            t = np.asarray(t) if not isinstance(t, jnp.ndarray) else t
            m = jnp if isinstance(t, jnp.ndarray) else np
            return (
                g0
                + s0 * (m.minimum(t, lo) - 2000)
                + s1 * m.clip(t - lo, 0, max(hi - lo, 0))
                + s2 * m.maximum(t - hi, 0)
            )

        got = float(first_crossing_at_kinks(g, 2000.0, [k1, k2]))
        above = np.flatnonzero(g(grid) >= 0)
        expected = grid[above[0]] if above.size else np.inf
        if np.isinf(expected):
            assert np.isinf(got)
        else:
            assert got == pytest.approx(expected, abs=2e-3)


@pytest.mark.parametrize(
    ("gap", "expected"),
    [
        ([-2.0, -1.0, 1.0], 1.5),  # reaches 0 halfway between t = 1 and t = 2
        ([0.5, 1.0, 2.0], 0.0),  # already at or above the brain at the start
        ([-3.0, 0.0, 1.0], 1.0),  # touches 0 exactly on a grid point
        ([-3.0, -2.0, -1.0], math.inf),  # never by the last grid point (the horizon)
    ],
)
def test_first_crossing_on_grid_by_hand(gap, expected):
    assert float(first_crossing_on_grid(jnp.array([0.0, 1.0, 2.0]), jnp.array(gap))) == expected


def _line_data(slope: float, level_2020: float):
    t = np.arange(1995.0, 2020.01, 0.5)
    return t, level_2020 + slope * (t - 2020.0)


@pytest.mark.parametrize("model", ["randomwalk", "walkcycle", "linear"])
@pytest.mark.slow
def test_zero_noise_paths_cross_where_the_closed_form_does(model):
    """A path without noise is the straight line ``y_last + slope (t - t_last)``: the grid search must
    find its closed-form crossing ``t_last + (brain - y_last) / slope`` to 0.01 year."""
    slope, level = 0.6, 60.0
    brain = jnp.array([61.3, 75.0, 100.0])  # log2 FLOP/s: inside the first step, decades and a century later
    t, y = _line_data(slope, level)
    with jax.enable_x64(True):
        d = pad_fit_data(t, y, len(t), np.arange(1995.0, 2021.0))
        d = jax.tree_util.tree_map(jnp.asarray, d)
        one = jnp.ones(3)
        params = {
            "randomwalk": {"drift": slope * one, "vol": 0.0 * one},
            "walkcycle": {"vol": 0.0 * one, "cycle_sd": 0.0 * one, "reversion": one, "obs_noise": 1e-6 * one},
            "linear": {"level": level * one, "slope": slope * one},
        }[model]
        grid = jnp.arange(2020.25, 2300.0, 0.25)
        paths = MODELS_BY_NAME[model].paths(jax.random.key(0), params, d, grid)
        times = jnp.concatenate([jnp.array([2020.0]), grid])
        path = jnp.concatenate([jnp.full((3, 1), level), paths], axis=1)
        year = first_crossing_on_grid(times, path - brain[:, None])
    np.testing.assert_allclose(np.asarray(year), 2020.0 + (np.asarray(brain) - level) / slope, atol=0.01)


def test_crossings_of_levels_equal_the_grid_scan_of_each_level():
    """The running-maximum search gives exactly the first grid crossing of ``path - level`` for every level:
    a level below the first point (times[0]), one never reached (inf), ties at a grid point, a path that dips."""
    from uncertainty.growth.crossover import crossings_of_levels

    with jax.enable_x64(True):
        key = jax.random.key(11)
        times = np.arange(2025.0, 2100.01, 0.25)
        steps = 0.4 * 0.25 + 0.6 * 0.5 * jax.random.normal(key, (50, len(times)))
        path = 60.0 + jnp.cumsum(steps, axis=1)
        levels = 60.0 + jax.random.uniform(jax.random.fold_in(key, 1), (50, 16), minval=-3.0, maxval=40.0)
        levels = levels.at[0, 0].set(path[0, 7])  # exactly a grid value
        got = crossings_of_levels(times, path, levels)
        want = first_crossing_on_grid(times, path[:, None, :] - levels[..., None])
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
        assert np.isinf(np.asarray(got)).any() and (np.asarray(got) == times[0]).any()
