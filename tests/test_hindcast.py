"""Rolling-origin hindcasts: scores against closed forms, the Kalman filter, batched NUTS, the CLI."""

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from scipy import stats

from uncertainty.cli import main
from uncertainty.growth.models import MODELS_BY_NAME, Predictive, kalman_filter, pad_fit_data
from uncertainty.growth.scores import crps_from_samples, log_score, pit, predictive_samples
from uncertainty.inference.nuts import NutsSettings, rhat, run_nuts


@pytest.fixture(autouse=True)
def x64():
    with jax.enable_x64(True):
        yield


@pytest.mark.slow
def test_scores_of_a_normal_match_closed_forms():
    mu, sd, y = 1.0, 2.0, 2.5
    n = 200_000
    p = Predictive(jnp.full((n, 1), mu), jnp.full((n, 1), sd), jnp.full((n, 1), jnp.inf))
    z = (y - mu) / sd
    assert float(pit(p, jnp.array([y]))[0]) == pytest.approx(stats.norm.cdf(z), abs=1e-12)
    assert float(log_score(p, jnp.array([y]))[0]) == pytest.approx(stats.norm.logpdf(y, mu, sd), abs=1e-9)
    # CRPS of N(mu, sd) at y (Gneiting & Raftery 2007): sd * (z (2 Phi(z) - 1) + 2 phi(z) - 1 / sqrt(pi))
    exact = sd * (z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z) - 1 / math.sqrt(math.pi))
    x = predictive_samples(jax.random.key(0), p)
    got = float(crps_from_samples(x, jnp.array([y]))[0])
    assert got == pytest.approx(exact, abs=5 * sd / math.sqrt(n))  # Monte Carlo error ~ sd / sqrt(n)


def test_student_t_mixture_pit_and_density():
    p = Predictive(jnp.array([[0.0], [1.0]]), jnp.array([[1.0], [2.0]]), jnp.array([[3.0], [5.0]]))
    y = jnp.array([0.7])
    want_pit = 0.5 * (stats.t.cdf(0.7, 3) + stats.t.cdf((0.7 - 1) / 2, 5))
    want_pdf = 0.5 * (stats.t.pdf(0.7, 3) + stats.t.pdf((0.7 - 1) / 2, 5) / 2)
    assert float(pit(p, y)[0]) == pytest.approx(want_pit, rel=1e-9)
    assert float(log_score(p, y)[0]) == pytest.approx(math.log(want_pdf), rel=1e-9)


def test_crps_sorted_formula_equals_all_pairs():
    x = jax.random.normal(jax.random.key(1), (50, 3))
    y = jnp.array([0.1, -1.0, 2.0])
    pairs = jnp.mean(jnp.abs(x[:, None, :] - x[None, :, :]), axis=(0, 1))
    brute = jnp.mean(jnp.abs(x - y), axis=0) - 0.5 * pairs
    np.testing.assert_allclose(crps_from_samples(x, y), brute, rtol=1e-12)


def test_kalman_local_level_equals_the_joint_gaussian_density():
    # y_i = x_i + e, x a random walk (variance s^2 per year) from x(t_0) ~ N(m0, P0):
    # Cov(y_i, y_j) = P0 + s^2 (min(t_i, t_j) - t_0) + sigma^2 [i == j]
    t = np.array([2000.0, 2000.5, 2001.7, 2003.0, 2003.2])
    y = np.array([1.0, 1.3, 0.9, 2.0, 2.2])
    s, sigma, m0, P0 = 0.7, 0.3, 0.5, 2.0
    cov = P0 + s**2 * (np.minimum.outer(t, t) - t[0]) + sigma**2 * np.eye(len(t))
    want = stats.multivariate_normal(np.full(len(t), m0), cov).logpdf(y)

    def transition(dt):
        return jnp.ones((1, 1)), jnp.reshape(s**2 * dt, (1, 1))

    pad_t = np.concatenate([t, [t[-1]] * 3])
    pad_y = np.concatenate([y, [9.0] * 3])  # padding must not count
    mask = np.arange(8) < 5
    lls, m, P = kalman_filter(transition, jnp.array([m0]), jnp.array([[P0]]), pad_t, pad_y, sigma**2, mask)
    assert float(lls.sum()) == pytest.approx(want, rel=1e-10)
    assert np.all(np.asarray(lls)[5:] == 0.0)


@pytest.mark.slow
def test_batched_nuts_fits_each_data_set_on_its_own():
    def model(d):
        mu = numpyro.sample("mu", dist.Normal(0.0, 10.0))
        numpyro.sample("y", dist.Normal(mu, 1.0).mask(d["mask"]), obs=d["y"])

    rng = np.random.default_rng(0)
    y = rng.normal(np.array([[-3.0], [0.0], [5.0]]), 1.0, (3, 30))
    n = np.array([30, 10, 4])
    data = {"y": jnp.asarray(y), "mask": jnp.asarray(np.arange(30)[None, :] < n[:, None])}
    r = run_nuts(jax.random.key(0), model, data, NutsSettings(300, 1000, 4))
    assert r.samples["mu"].shape == (3, 4, 1000)
    assert np.all(rhat(r.samples["mu"]) <= 1.01) and r.divergences().sum() == 0
    for b in range(3):  # conjugate posterior: N(sum y / (n + 1/100), 1 / (n + 1/100))
        prec = n[b] + 0.01
        mean, sd = y[b, : n[b]].sum() / prec, 1 / math.sqrt(prec)
        draws = r.samples["mu"][b].ravel()
        assert abs(draws.mean() - mean) < 5 * sd / math.sqrt(1000)  # generous: ESS >= 1000 of 4000 draws
        assert draws.std() == pytest.approx(sd, rel=0.15)


@pytest.mark.slow
def test_random_walk_predictive_matches_farmer_lafond():
    # Random walk with drift, m increments of dt = 0.5: forecast variance K^2 (tau + tau^2 / m) per step
    # (Farmer & Lafond 2016), times (m - 1) / (m - 3) for the Student-t of unknown K (flat-prior limit).
    rng = np.random.default_rng(3)
    m, dt, drift, vol = 120, 0.5, 0.6, 0.8
    t = 1990.0 + dt * np.arange(m + 1)
    y = 40.0 + np.concatenate([[0.0], np.cumsum(drift * dt + vol * math.sqrt(dt) * rng.standard_normal(m))])
    d = pad_fit_data(t, y, m + 1, np.arange(1991.0, 2050.0))
    batch = jax.tree_util.tree_map(lambda x: None if x is None else jnp.asarray(x)[None], d)
    rw = MODELS_BY_NAME["randomwalk"]
    r = run_nuts(jax.random.key(1), rw.model, batch, NutsSettings(400, 1000, 4))
    params = {k: jnp.asarray(v[0].reshape(-1, *v.shape[3:])) for k, v in r.samples.items()}
    tau = 20  # steps ahead
    p = rw.predict(jax.random.key(2), params, d, jnp.array([t[-1] + tau * dt]))
    x = np.asarray(predictive_samples(jax.random.key(3), p))[:, 0]
    inc = np.diff(y)
    k_hat = inc.std(ddof=1)  # per step
    var_fl = k_hat**2 * (tau + tau**2 / m) * (m - 1) / (m - 3)
    assert x.mean() == pytest.approx(y[-1] + tau * inc.mean(), abs=4 * math.sqrt(var_fl / 1000))
    assert x.var() == pytest.approx(var_fl, rel=0.12)  # 4000 draws: sd of a variance estimate ~ 3%


def _simulate(model: str, rng, t: np.ndarray) -> np.ndarray:
    if model == "randomwalk":
        steps = 0.7 * np.diff(t) + 0.5 * np.sqrt(np.diff(t)) * rng.standard_normal(len(t) - 1)
        return 40.0 + np.concatenate([[0.0], np.cumsum(steps)])
    x, u, out = 40.0, 0.5 * rng.standard_normal(), []  # walkcycle: slope 0.7, vol 0.3, cycle sd 0.5, rate 0.5
    for i, ti in enumerate(t):
        if i:
            a = math.exp(-0.5 * (ti - t[i - 1]))
            x += 0.7 * (ti - t[i - 1]) + 0.3 * math.sqrt(ti - t[i - 1]) * rng.standard_normal()
            u = a * u + 0.5 * math.sqrt(1 - a * a) * rng.standard_normal()
        out.append(x + u)
    return np.array(out)


@pytest.mark.parametrize("model", ["randomwalk", "walkcycle"])
@pytest.mark.slow
def test_hindcast_coverage_on_series_simulated_from_the_model(model):
    """Series simulated from the model with known parameters, each fitted on 24 lists (12 years) and scored 4 years
    later: independent series, so the coverage of the central 50% and 90% intervals is binomial."""
    n_series, n_fit, ahead = 40, 24, 8
    rng = np.random.default_rng(21)
    t = 1980.0 + 0.5 * np.arange(n_fit + ahead)
    series = [_simulate(model, rng, t) for _ in range(n_series)]
    fits = [pad_fit_data(t[:n_fit], y[:n_fit], n_fit, np.arange(1980.0, 2001.0)) for y in series]
    batch = jax.tree_util.tree_map(lambda *xs: jnp.asarray(np.stack(xs)), *fits)
    gm = MODELS_BY_NAME[model]
    r = run_nuts(jax.random.key(4), gm.model, batch, NutsSettings(200, 100, 2))
    pits = []
    for b in range(n_series):
        params = {k: jnp.asarray(v[b].reshape(-1, *v.shape[3:])) for k, v in r.samples.items()}
        d = jax.tree_util.tree_map(jnp.asarray, fits[b])
        p = gm.predict(jax.random.key(b), params, d, np.array([t[-1]]))
        pits.append(float(pit(p, jnp.array([series[b][-1]]))[0]))
    pits = np.array(pits)
    for level in (0.5, 0.9):
        covered = np.mean(np.abs(pits - 0.5) <= level / 2)
        assert abs(covered - level) <= 3 * math.sqrt(level * (1 - level) / n_series), (level, covered)


@pytest.mark.slow
def test_cli_backtest_quick_json(capsys, tmp_path):
    path = tmp_path / "bt.nc"
    assert main(["backtest", "--model", "randomwalk", "--quick", "--format", "json", "--out", str(path)]) == 0
    out = json.loads(capsys.readouterr().out)
    import xarray as xr

    with xr.open_dataset(path, engine="h5netcdf") as saved:  # every scored pair, with the settings
        assert saved.attrs["kind"] == "backtest" and saved.sizes["pair"] == out["models"]["randomwalk"]["pairs"]
        assert np.all((saved["pit"].values >= 0) & (saved["pit"].values <= 1))
        assert np.all(saved["horizon"].values > 0)
    rw = out["models"]["randomwalk"]
    assert out["default"] == "randomwalk"
    assert set(rw["coverage"]) == {"50", "80", "90"}
    assert rw["coverage"]["50"] <= rw["coverage"]["80"] <= rw["coverage"]["90"]
    assert set(rw["by_horizon"]) == {"<=3y", "3-6y", ">6y"}
    assert sum(v["pairs"] for v in rw["by_horizon"].values()) == rw["pairs"]
    assert rw["origins"] == 13 and rw["crps"] > 0 and math.isfinite(rw["log_score"])
    assert sum(rw["pit_histogram"]) == rw["pairs"]
    assert rw["max_rhat"] < 1.1
    # the saved hindcast plots as a calibration figure
    assert main(["plot", str(path), "--out", str(tmp_path / "figs")]) == 0
    assert capsys.readouterr().out.split() == [str(tmp_path / "figs" / "calibration.png")]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "nope"], "unknown model 'nope'"),
        (["--from", "2030"], "leaves no origin"),
        (["--from", "1994"], "need at least 5"),
        (["--series", "missing.csv"], "no such file"),
    ],
)
def test_cli_backtest_bad_input(capsys, args, message):
    assert main(["backtest", "--quick", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
