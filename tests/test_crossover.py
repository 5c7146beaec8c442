"""Scenario crossover years against the article's hand-computed years."""

import jax.numpy as jnp
import numpy as np
import pytest

from uncertainty.crossover import doublings_needed, scenario_crossover_year


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
