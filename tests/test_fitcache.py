"""The growth-fit cache: a warm run takes the fit from disk (the same draws); a changed CSV, setting or seed
fits again; a corrupt, foreign or misshapen entry is fitted again and replaced, never trusted."""

import dataclasses
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from uncertainty import warmstart
from uncertainty.growth.models import MODELS_BY_NAME, pad_fit_data
from uncertainty.inference.fitcache import FitJob, cached_fits, fit_entry
from uncertainty.inference.nuts import NutsSettings, run_nuts

from conftest import PRIORS

SETTINGS = NutsSettings(num_warmup=60, num_samples=40, num_chains=2)


@pytest.fixture
def fits(tmp_path, monkeypatch):
    folder = tmp_path / "fits"
    folder.mkdir()
    monkeypatch.setattr(warmstart, "_FITS", folder)
    return folder


def _job(seed=0, slope=0.6, settings=SETTINGS):
    t = np.arange(2000.0, 2016.0)
    y = 40.0 + slope * (t - 2000.0) + 0.3 * np.sin(t)
    d = pad_fit_data(t, y, len(t), np.arange(2000.0, 2016.0))
    batch = jax.tree_util.tree_map(lambda x: jnp.asarray(x)[None], d)
    return FitJob("randomwalk", jax.random.key(seed), MODELS_BY_NAME["randomwalk"].model, batch, settings, "fitting")


def _fit(job, **kw):
    lines = []
    with jax.enable_x64(True):
        result = cached_fits([job], status=lines.append, **kw)[job.name]
    return result, lines


def test_a_second_fit_is_taken_from_the_cache_with_the_same_draws(fits):
    job = _job()
    first, lines = _fit(job)
    assert any(line.startswith("fitting (2 chains x 100 steps): done in") for line in lines)
    assert len(list(fits.glob("fit-*.npz"))) == 1
    second, lines = _fit(job)
    assert len(lines) == 1 and lines[0].startswith("growth fit: cached (randomwalk, 20")
    for name, values in first.samples.items():
        np.testing.assert_array_equal(second.samples[name], values)
    np.testing.assert_array_equal(second.num_steps, first.num_steps)
    with jax.enable_x64(True):  # the fit is the one run_nuts makes with that key
        direct = run_nuts(job.key, job.model, job.data, job.settings)
    np.testing.assert_array_equal(direct.samples["drift"], first.samples["drift"])


def test_fits_run_side_by_side_on_worker_threads_give_run_nuts_draws_in_float64(fits):
    """Two fits that miss the cache run on two threads; x64 is thread-local, so the worker threads must run
    the programs in the caller's precision (they once read the draws as float32 and the finish program
    refused them)."""
    jobs = [_job(seed=3), _job(seed=4, slope=0.7)._replace(name="randomwalk_twin")]
    with jax.enable_x64(True):
        results = cached_fits(jobs, workers=2)
        direct = [run_nuts(job.key, job.model, job.data, job.settings) for job in jobs]
    for job, want in zip(jobs, direct, strict=True):
        got = results[job.name]
        assert got.samples["drift"].dtype == np.float64
        for name, values in want.samples.items():
            np.testing.assert_array_equal(got.samples[name], values)


@pytest.mark.parametrize(
    "change",
    [
        {"slope": 0.61},  # one data value
        {"seed": 1},
        {"settings": SETTINGS._replace(num_warmup=61)},
    ],
)
def test_a_changed_input_fits_again(fits, change):
    _fit(_job())
    _, lines = _fit(_job(**change))
    assert not any("cached" in line for line in lines)
    assert len(list(fits.glob("fit-*.npz"))) == 2


def test_refit_fits_even_when_cached(fits):
    _fit(_job())
    _, lines = _fit(_job(), refit=True)
    assert not any("cached" in line for line in lines) and any("done in" in line for line in lines)


def _npz_with(path, **replace):
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    arrays.update(replace)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


@pytest.mark.parametrize("damage", ["truncated", "garbage", "foreign", "misshapen"])
def test_a_corrupt_entry_is_fitted_again_and_replaced(fits, damage):
    job = _job()
    first, _ = _fit(job)
    path = fit_entry(job)
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:1000])
    elif damage == "garbage":
        path.write_bytes(b"not a fit")
    elif damage == "foreign":  # another fit's entry copied under this name
        other = _job(seed=5)
        _fit(other)
        path.write_bytes(fit_entry(other).read_bytes())
    else:
        _npz_with(path, **{"samples/drift": np.zeros((1, 2, 7))})
    again, lines = _fit(job)
    assert any("unreadable or stale; fitting it again" in line for line in lines)
    assert any("done in" in line for line in lines)
    np.testing.assert_array_equal(again.samples["drift"], first.samples["drift"])
    _, lines = _fit(job)  # the entry was replaced by a good one
    assert lines[0].startswith("growth fit: cached")


def test_without_the_cache_every_call_fits(monkeypatch):
    monkeypatch.setattr(warmstart, "_FITS", None)
    job = _job()
    assert fit_entry(job) is None
    _, lines = _fit(job)
    _, lines = _fit(job)
    assert not any("cached" in line for line in lines)


@pytest.mark.slow
def test_a_changed_csv_fits_the_crossover_again(fits, tmp_path):
    """End to end: a warm crossover takes its fit from the cache (the same crossover years); an edited CSV fits."""
    from uncertainty.brain.priors import load_priors
    from uncertainty.runs.forecast import ForecastOptions, forecast

    csv = tmp_path / "mine.csv"

    def write(last):
        values = [2.0 ** (40 + 0.5 * (y - 2000)) for y in range(2000, 2020)] + [last]
        rows = (f"{y},{v:.17g}" for y, v in zip(range(2000, 2021), values, strict=True))
        csv.write_text("year,flops\n" + "\n".join(rows))

    lines = []
    o = ForecastOptions(
        series=str(csv), model="randomwalk", num_samples=200, num_warmup=100, num_chains=2, compare=False
    )
    o = dataclasses.replace(o, status=lines.append)
    spec = load_priors(PRIORS / "default.toml")
    write(2.0**50)
    first = forecast(spec, 0, o)
    second = forecast(spec, 0, o)
    assert sum("growth fit: cached (randomwalk" in line for line in lines) == 1
    np.testing.assert_array_equal(first.posterior["crossover_year"], second.posterior["crossover_year"])
    lines.clear()
    write(2.0**50.1)
    forecast(spec, 0, o)
    assert not any("cached" in line for line in lines)


def test_the_least_recently_used_entries_beyond_the_limit_are_removed(fits, monkeypatch):
    from uncertainty.inference import fitcache

    monkeypatch.setattr(fitcache, "MAX_ENTRIES", 2)
    first = _job(seed=0)
    for job in (first, _job(seed=1), first, _job(seed=2)):  # the first used again: then the most recent
        _fit(job)
        time.sleep(0.05)  # file times are coarser than a fit of this size
    names = {p.name for p in fits.glob("fit-*.npz")}
    assert len(names) == 2 and fit_entry(first).name in names and fit_entry(_job(seed=1)).name not in names
