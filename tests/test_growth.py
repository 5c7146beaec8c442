"""Growth models: recovery of known doubling periods, convergence on the real data, forecasts."""

import math

import jax
import numpy as np
import pytest
from scipy import stats

from uncertainty._arviz import az
from uncertainty.distributions import lognormal_params
from uncertainty.forecast import ForecastOptions, forecast
from uncertainty.growth import fit_growth
from uncertainty.history import GrowthData, Series, load_growth_data
from uncertainty.priors import load_priors, parse_priors
from uncertainty.report import backtest_summary, crossover_summary, growth_summary

from conftest import PRIORS, one_class_text


def synthetic(slope_before: float, slope_after: float, change: float, seed: int = 0) -> GrowthData:
    """log2 F = 45 + slope * (t - 2010) with a kink at ``change`` and Student-t(5) noise of scale 0.3."""
    rng = np.random.default_rng(seed)
    t = np.arange(1993.5, 2026.0, 0.5)
    mu = 45 + slope_before * (t - 2010) + (slope_after - slope_before) * np.maximum(0, t - change)
    y = mu + 0.3 * rng.standard_t(5, size=t.size)
    labels = tuple(f"{x:.1f}" for x in t)
    return GrowthData("synthetic", Series("synthetic", labels, t, 2.0**y, labels))


def fit(data: GrowthData, model: str, seed: int = 0, samples: int = 500) -> az.InferenceData:
    with jax.enable_x64(True):
        mcmc = fit_growth(jax.random.key(seed), data, model, num_warmup=500, num_samples=samples, num_chains=4)
        return az.from_numpyro(mcmc)


def interval(idata: az.InferenceData, name: str) -> tuple[float, float]:
    lo, hi = az.hdi(idata.posterior[name].values.ravel(), hdi_prob=0.9)
    return float(lo), float(hi)


def test_linear_model_recovers_a_known_doubling_period():
    idata = fit(synthetic(0.5, 0.5, 2100.0), "linear")
    lo, hi = interval(idata, "doubling_years")
    assert lo < 2.0 < hi and hi - lo < 0.2  # true period: 1 / 0.5 = 2 years
    assert float(az.rhat(idata)["slope"]) <= 1.01


def test_changepoint_model_recovers_both_periods_and_the_change():
    idata = fit(synthetic(0.9, 0.4, 2013.0, seed=1), "changepoint", seed=1)
    for name, truth in (("doubling_years_before", 1 / 0.9), ("doubling_years_after", 1 / 0.4), ("change_year", 2013.0)):
        lo, hi = interval(idata, name)
        assert lo < truth < hi, (name, lo, hi)
    assert int(idata.sample_stats.diverging.sum()) == 0


@pytest.mark.parametrize("model", ["linear", "changepoint"])
def test_real_data_fit_converges(model):
    idata = fit(load_growth_data("hpcg").measurements(), model, samples=1000)
    rhat = az.rhat(idata)
    assert max(float(rhat[v].max()) for v in rhat.data_vars) <= 1.01
    ess = az.ess(idata, method="bulk")
    assert min(float(ess[v].min()) for v in ess.data_vars) > 400
    assert int(idata.sample_stats.diverging.sum()) == 0


def test_forecast_joins_brain_and_growth_draws():
    spec = load_priors(PRIORS / "dettmers2015.toml")  # brain fixed at 1.075e21
    idata = forecast(spec, 0, ForecastOptions(num_samples=400, num_warmup=300, num_chains=2, compare=False))
    post = idata.posterior
    assert post["crossover_year"].shape == (2, 200) and post["log10_class_flops"].shape == (2, 200, 2)
    np.testing.assert_allclose(10 ** post["log10_brain_flops"].values, 1.075e21, rtol=1e-9)
    assert {"posterior", "posterior_predictive", "observed_data", "sample_stats", "log_likelihood"} <= set(
        idata.groups()
    )
    assert post.attrs["model"] == "changepoint" and post.attrs["series"] == "hpcg"
    # the crossover year of each draw is where its own trend reaches the brain
    from uncertainty.growth import log2_target, trend_params

    samples = {
        k: post[k].values for k in ("level", "slope_before", "slope_after", "change_year", "ratio_log2", "ratio_drift")
    }
    p = trend_params(samples, load_growth_data("hpcg").measurements())  # the data the run fitted
    y = post["crossover_year"].values
    finite = np.isfinite(y)
    with jax.enable_x64(True):
        gap = np.asarray(log2_target(p, y)) - math.log2(1.075e21)
    np.testing.assert_allclose(gap[finite], 0.0, atol=1e-6)
    table = growth_summary(idata)
    assert {"doubling_years_before", "doubling_years_after", "change_year"} <= set(table.index)
    assert {"median", "r_hat", "ess_bulk", "ess_tail"} <= set(table.columns)


def test_backtest_counts_heldout_lists():
    spec = load_priors(PRIORS / "dettmers2015.toml")
    options = ForecastOptions(data_until=2015, num_samples=400, num_warmup=300, num_chains=2, compare=False)
    idata = forecast(spec, 1, options)
    table, note = backtest_summary(idata)
    assert list(table.index) == ["2016-11", "2018-06", "2020-06", "2020-11", "2025-06"]
    assert set(np.unique(table[["in_50", "in_90"]].values)) <= {0.0, 1.0}
    assert np.all(table["in_90"] >= table["in_50"])  # the 50% interval lies inside the 90% one
    assert f"{int(table['in_90'].sum())} ({table['in_90'].mean():.0%}) inside the 90% interval" in note
    # nothing after 2015 was fitted; 2014-11 (33.863 PF) is 2013-06 (33.86 PF) rounded differently
    assert idata.observed_data["trend_list"].values[-1] == "2013-06"


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
