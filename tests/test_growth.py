"""Growth models: recovery of known doubling periods, convergence on the real data, forecasts."""

import math

import jax
import numpy as np
import pytest
from scipy import stats

from uncertainty._arviz import az
from uncertainty.brain.distributions import lognormal_params
from uncertainty.brain.priors import load_priors, parse_priors
from uncertainty.growth.hindcast import fit_data_at
from uncertainty.growth.history import GrowthData, Series, load_growth_data
from uncertainty.growth.models import MODELS_BY_NAME
from uncertainty.inference.nuts import NutsSettings, rhat, run_nuts
from uncertainty.output.report import backtest_summary, crossover_summary, growth_summary
from uncertainty.runs.forecast import DEFAULT_MODEL, ForecastOptions, forecast

from conftest import PRIORS, one_class_text


def synthetic(slope_before: float, slope_after: float, change: float, seed: int = 0) -> GrowthData:
    """log2 F = 45 + slope * (t - 2010) with a kink at ``change`` and Student-t(5) noise of scale 0.3."""
    rng = np.random.default_rng(seed)
    t = np.arange(1993.5, 2026.0, 0.5)
    mu = 45 + slope_before * (t - 2010) + (slope_after - slope_before) * np.maximum(0, t - change)
    y = mu + 0.3 * rng.standard_t(5, size=t.size)
    return series_data(t, y)


def series_data(t: np.ndarray, y: np.ndarray) -> GrowthData:
    labels = tuple(f"{x:.2f}" for x in t)
    return GrowthData("synthetic", Series("synthetic", labels, t, 2.0**y, labels))


def simulate_walkcycle(rng, t, slope, vol, cycle_sd, reversion, obs_noise=0.0):
    """The walkcycle process exactly: trend = slope * t + Brownian motion, plus an Ornstein-Uhlenbeck deviation."""
    x, u, out = 40.0, cycle_sd * rng.standard_normal(), []
    for i, ti in enumerate(t):
        if i:
            dt = ti - t[i - 1]
            a = math.exp(-reversion * dt)
            x += slope * dt + vol * math.sqrt(dt) * rng.standard_normal()
            u = a * u + cycle_sd * math.sqrt(1 - a * a) * rng.standard_normal()
        out.append(x + u + obs_noise * rng.standard_normal())
    return np.array(out)


def fit(data: GrowthData, model: str, seed: int = 0, samples: int = 500, warmup: int = 500) -> dict[str, np.ndarray]:
    """Posterior draws ``(chain, draw, ...)`` of ``model`` on all of ``data``, with the NUTS statistics."""
    with jax.enable_x64(True):
        d = fit_data_at(data, model, data.last_year)
        batch = jax.tree_util.tree_map(lambda x: jax.numpy.asarray(x)[None], d)
        result = run_nuts(jax.random.key(seed), MODELS_BY_NAME[model].model, batch, NutsSettings(warmup, samples, 4))
    out = {k: v[0] for k, v in result.samples.items()}
    out["diverging"] = result.diverging[0]
    return out


def interval(draws: dict[str, np.ndarray], name: str) -> tuple[float, float]:
    lo, hi = az.hdi(draws[name].ravel(), hdi_prob=0.9)
    return float(lo), float(hi)


def max_rhat(draws: dict[str, np.ndarray], names) -> float:
    return max(float(rhat(draws[n])) for n in names)


@pytest.mark.slow
def test_linear_model_recovers_a_known_doubling_period():
    draws = fit(synthetic(0.5, 0.5, 2100.0), "linear")
    lo, hi = interval(draws, "doubling_years")
    assert lo < 2.0 < hi and hi - lo < 0.2  # true period: 1 / 0.5 = 2 years
    assert max_rhat(draws, ["slope"]) <= 1.01


@pytest.mark.slow
def test_changepoint_model_recovers_both_periods_and_the_change():
    draws = fit(synthetic(0.9, 0.4, 2013.0, seed=1), "changepoint", seed=1)
    for name, truth in (("doubling_years_before", 1 / 0.9), ("doubling_years_after", 1 / 0.4), ("change_year", 2013.0)):
        lo, hi = interval(draws, name)
        assert lo < truth < hi, (name, lo, hi)
    assert int(draws["diverging"].sum()) == 0


@pytest.mark.slow
def test_randomwalk_recovers_drift_and_volatility():
    rng = np.random.default_rng(5)
    t = np.arange(1950.0, 2026.0, 0.5)  # 151 lists
    y = 40 + np.concatenate([[0.0], np.cumsum(0.7 * 0.5 + 0.4 * math.sqrt(0.5) * rng.standard_normal(t.size - 1))])
    draws = fit(series_data(t, y), "randomwalk", seed=5)
    for name, truth in (("drift", 0.7), ("vol", 0.4)):
        lo, hi = interval(draws, name)
        assert lo < truth < hi, (name, lo, hi)
    assert max_rhat(draws, ["drift", "vol"]) <= 1.01


@pytest.mark.slow
def test_walkcycle_recovers_slope_volatility_and_cycle():
    rng = np.random.default_rng(11)
    t = np.arange(1900.0, 2026.0, 1.0)  # a long series: the cycle and the walk are told apart by their time scales
    truth = {"slope_last": 0.8, "vol": 0.3, "cycle_sd": 0.6, "reversion": 0.5}
    y = simulate_walkcycle(rng, t, truth["slope_last"], truth["vol"], truth["cycle_sd"], truth["reversion"], 0.05)
    draws = fit(series_data(t, y), "walkcycle", seed=11)
    for name, value in truth.items():
        lo, hi = interval(draws, name)
        assert lo < value < hi, (name, lo, hi)
    assert max_rhat(draws, ["vol", "cycle_sd", "reversion", "slope_last"]) <= 1.01


@pytest.mark.slow
def test_walkcycle_converges_on_the_real_data_and_reports_divergences():
    draws = fit(load_growth_data("hpcg"), "walkcycle", samples=1000)
    names = ["vol", "cycle_sd", "reversion", "obs_noise", "slope_last", "ratio_vol", "ratio_noise"]
    assert max_rhat(draws, names) <= 1.01
    # divergences are reported with every run (``NUTS divergences`` in the report); here: few
    assert int(draws["diverging"].sum()) < 0.02 * draws["diverging"].size


@pytest.mark.parametrize("model", ["linear", "changepoint"])
@pytest.mark.slow
def test_real_data_fit_converges(model):
    draws = fit(load_growth_data("hpcg"), model)
    names = [v for v in MODELS_BY_NAME[model].summary_vars if v in draws]
    assert max_rhat(draws, names) <= 1.01
    assert int(draws["diverging"].sum()) == 0


@pytest.mark.slow
def test_forecast_joins_brain_and_growth_draws():
    spec = load_priors(PRIORS / "dettmers2015.toml")  # brain fixed at 1.075e21
    # the CLI tests' tiny settings (2 chains x 100 draws, 150 warm-up steps; a shared compiled program when they
    # run in one process): nothing below depends on the precision of the fit
    idata = forecast(spec, 0, ForecastOptions(num_samples=200, num_warmup=150, num_chains=2, compare=False))
    post = idata.posterior
    assert post["crossover_year"].shape == (2, 100) and post["log10_class_flops"].shape == (2, 100, 2)
    np.testing.assert_allclose(10 ** post["log10_brain_flops"].values, 1.075e21, rtol=1e-9)
    assert {"posterior", "posterior_predictive", "observed_data", "sample_stats", "log_likelihood"} <= set(
        idata.groups()
    )
    assert post.attrs["model"] == DEFAULT_MODEL == "walkcycle" and post.attrs["series"] == "hpcg"
    # 1.075e21 FLOP/s is far above the last HPCG value: every crossing lies in the simulated future
    y = post["crossover_year"].values
    assert np.all(y > load_growth_data("hpcg").last_year)
    table = growth_summary(idata)
    assert {"doubling_years_last", "vol", "cycle_sd", "ratio_vol"} <= set(table.index)
    assert {"median", "r_hat", "ess_bulk", "ess_tail"} <= set(table.columns)


@pytest.mark.slow
def test_backtest_counts_heldout_lists():
    spec = load_priors(PRIORS / "dettmers2015.toml")
    # the settings of test_cli_crossover's backtest (one compiled program when both run in one process): the
    # held-out lists, the 0/1 coverage flags and the note's arithmetic do not depend on the fit's precision
    options = ForecastOptions(data_until=2015, num_samples=200, num_warmup=150, num_chains=2, compare=False)
    idata = forecast(spec, 1, options)
    table, note = backtest_summary(idata)
    # later distinct HPCG measurements: 2017-11's 0.603 PF is 2016-11's 0.6027 PF rounded differently
    assert list(table.index) == ["2016-11", "2018-06", "2020-06", "2020-11", "2025-06"]
    assert set(np.unique(table[["in_50", "in_90"]].values)) <= {0.0, 1.0}
    assert np.all(table["in_90"] >= table["in_50"])  # the 50% interval lies inside the 90% one
    assert f"{int(table['in_90'].sum())} ({table['in_90'].mean():.0%}) inside the 90% interval" in note
    # nothing after 2015 was fitted
    assert idata.observed_data["trend_list"].values[-1] == "2015-11"


def test_no_crossover_probability_matches_the_prior():
    # brain fixed at 1.075e21, F0 = 0.58e15 in 2015: n = log2(1.075e21 / 0.58e15) doublings needed.
    # With d ~ lognormal[1, 30] the crossover 2015 + n d is past 2300 exactly when d > 285 / n.
    text = (PRIORS / "dettmers2015.toml").read_text()
    text = text.replace(
        'doubling_years = { choice = [1.0, 1.8, 3.0], unit = "years" }', "doubling_years = { lognormal = [1, 30] }"
    )
    text = text.replace("whole_periods = true", "whole_periods = false")
    spec = parse_priors(text, "tiny-rate.toml")
    n_draws = 40_000
    idata = forecast(spec, 3, ForecastOptions(model="scenario", num_samples=n_draws))
    n = math.log2(1.075e21 / 0.58e15)
    mu, sigma = lognormal_params(1, 30)
    p = stats.lognorm(s=sigma, scale=math.exp(mu)).sf(285 / n)
    row = crossover_summary(idata).iloc[0]
    assert abs(row["p_never"] - p) <= 5 * math.sqrt(p * (1 - p) / n_draws)
    assert np.isinf(idata.prior["crossover_year"].values).sum() == round(row["p_never"] * n_draws)  # none dropped


def test_scenario_needs_a_growth_table():
    from uncertainty.errors import PriorError

    with pytest.raises(PriorError, match="growth"):
        forecast(parse_priors(one_class_text(), "t.toml"), 0, ForecastOptions(model="scenario", num_samples=10))
