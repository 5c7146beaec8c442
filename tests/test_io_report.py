"""Runs as InferenceData: provenance, atomic saving, loading; the credible-interval table."""

import json
import math
import os

import numpy as np
import pytest

from uncertainty import __version__
from uncertainty._arviz import az
from uncertainty.brain.engine import sample_brain
from uncertainty.brain.priors import parse_priors
from uncertainty.errors import OutputError, RunFileError
from uncertainty.output.report import format_summary, summary
from uncertainty.runs.io import brain_inference_data, load_run, run_attrs, save_run

from conftest import one_class_text


@pytest.fixture
def tiny_run(tiny_spec):
    draws = sample_brain(tiny_spec, 4000, seed=5)
    return brain_inference_data(draws, tiny_spec, run_attrs(tiny_spec, seed=5, num_samples=4000, precision="float64"))


def test_inference_data_layout_and_provenance(tiny_run, tiny_spec):
    prior = tiny_run.prior
    assert prior["log10_brain_flops"].dims == ("chain", "draw")
    assert prior["log10_class_flops"].dims == ("chain", "draw", "neuron_class")
    assert list(prior["neuron_class"].values) == ["a", "b"]
    assert list(prior["stage"].values) == list(tiny_spec.convention.stages)
    assert prior["a_rate"].dtype == np.float32 and prior["log10_brain_flops"].dtype == np.float64
    assert float(tiny_run.constant_data["b_count"]) == 1e8
    for key, value in {
        "seed": 5,
        "num_samples": 4000,
        "prior_text": tiny_spec.text,
        "uncertainty_version": __version__,
    }.items():
        assert prior.attrs[key] == value
    assert "cpu" in prior.attrs["devices"].lower()


def test_save_load_round_trip(tiny_run, tmp_path):
    path = save_run(tiny_run, tmp_path / "run.nc")
    back = load_run(path)
    np.testing.assert_array_equal(back.prior["log10_brain_flops"], tiny_run.prior["log10_brain_flops"])
    assert back.prior.attrs["prior_text"] == tiny_run.prior.attrs["prior_text"]
    assert format_summary(summary(back)) == format_summary(summary(tiny_run))
    assert oct(os.stat(path).st_mode & 0o777) != oct(0o600)  # not mkstemp's private mode
    assert [p.name for p in tmp_path.iterdir()] == ["run.nc"]  # no temporary file left behind


def test_existing_file_is_kept_without_force(tiny_run, tmp_path):
    path = tmp_path / "run.nc"
    path.write_bytes(b"precious")
    with pytest.raises(OutputError, match="exists; pass --force"):
        save_run(tiny_run, path)
    assert path.read_bytes() == b"precious"
    save_run(tiny_run, path, force=True)
    assert load_run(path).prior.attrs["seed"] == 5


def test_failed_write_leaves_old_file_intact(tiny_run, tmp_path, monkeypatch):
    path = tmp_path / "run.nc"
    path.write_bytes(b"precious")

    def broken(fd):  # the bytes are written (half a file on a full disk); the sync fails
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("uncertainty.runs.io.os.fsync", broken)
    with pytest.raises(OutputError, match="No space left"):
        save_run(tiny_run, path, force=True)
    assert path.read_bytes() == b"precious"
    assert [p.name for p in tmp_path.iterdir()] == ["run.nc"]


@pytest.mark.parametrize(
    "name, problem",
    [("missing/run.nc", "does not exist"), (".", "is a directory")],
)
def test_bad_output_paths(tiny_run, tmp_path, name, problem):
    with pytest.raises(OutputError, match=problem):
        save_run(tiny_run, tmp_path / name)


def test_unwritable_folder(tiny_run):
    with pytest.raises(OutputError, match="not writable"):
        save_run(tiny_run, "/proc/run.nc")


def test_load_errors(tmp_path):
    with pytest.raises(RunFileError, match="no such file"):
        load_run(tmp_path / "nope.nc")
    (tmp_path / "junk.nc").write_text("not netcdf")
    with pytest.raises(RunFileError, match="not a readable netCDF"):
        load_run(tmp_path / "junk.nc")
    az.from_dict(posterior={"x": np.zeros((1, 3))}).to_netcdf(str(tmp_path / "other.nc"))
    with pytest.raises(RunFileError, match="log10_brain_flops"):
        load_run(tmp_path / "other.nc")


def test_summary_matches_numpy_and_mc_error():
    spec = parse_priors(one_class_text(rate="{ lognormal = [0.1, 200] }"), "t.toml")
    n = 100_000
    draws = sample_brain(spec, n, seed=2)
    table = summary(brain_inference_data(draws, spec, run_attrs(spec, seed=2, num_samples=n)))
    x = draws["log10_brain_flops"]
    row = table.loc["log10 brain FLOP/s"]
    assert row["median"] == pytest.approx(np.median(x))
    assert row["q5"] == pytest.approx(np.quantile(x, 0.05))
    assert row["q95"] == pytest.approx(np.quantile(x, 0.95))
    assert row["mean"] == pytest.approx(x.mean())
    # iid draws: MCSE of the mean ~ sd / sqrt(N), ESS ~ N
    assert row["mcse_mean"] == pytest.approx(x.std() / math.sqrt(n), rel=0.05)
    assert 0.9 * n < row["ess_bulk"] < 1.1 * n
    # a normal's 90% HDI is its central 90% interval: the shortest 90% interval of the draws is no wider
    # than their central one and nearly as wide; its position is the flat optimum of the width, which
    # converges slowly (n^(-1/3): seeds 2-7 put hdi_lo 0.004-0.06 from q5 at sd 1), hence the looser check
    width = row["hdi_hi"] - row["hdi_lo"]
    assert 0 <= (row["q95"] - row["q5"]) - width < 0.01 * x.std()
    assert row["hdi_lo"] == pytest.approx(row["q5"], abs=0.1 * x.std())
    flops = table.loc["brain FLOP/s"]
    assert flops["median"] == pytest.approx(10 ** row["median"], rel=1e-9)
    assert table.loc["share of class cell", "median"] == pytest.approx(1.0)
    shares = table.loc[[i for i in table.index if i.startswith("share of stage")], "mean"]
    assert shares.sum() == pytest.approx(1.0)


def test_formats(tiny_run):
    table = summary(tiny_run)
    text = format_summary(table, "table", {"seed": 5})
    assert text.splitlines()[0] == "seed: 5" and "log10 brain FLOP/s" in text
    md = format_summary(table, "markdown").splitlines()
    assert md[0].startswith("| quantity | mean |") and md[1].startswith("|:---|")
    assert len(md) == 2 + len(table)
    data = json.loads(format_summary(table, "json", {"seed": 5}))
    rows = data["tables"]["brain FLOP/s"]["rows"]
    assert data["seed"] == 5 and rows[0]["quantity"] == "log10 brain FLOP/s"
    assert rows[0]["median"] == pytest.approx(table.iloc[0]["median"])
    csv = format_summary(table, "csv").splitlines()
    assert csv[0].startswith("table,row,mean,sd,median,q5,q95") and len(csv) == 1 + len(table)
    assert csv[1].startswith("brain FLOP/s,log10 brain FLOP/s,")
    with pytest.raises(ValueError):
        format_summary(table, "xml")


@pytest.mark.parametrize(
    "make, problem",
    [
        (lambda: az.from_dict(observed_data={"log10_brain_flops": np.zeros(5)}), "prior or posterior group"),
        (lambda: az.from_dict(prior={"log10_brain_flops": np.array([["a"] * 5])}), "expected float values"),
        (lambda: az.from_dict(prior={"log10_brain_flops": np.zeros((1, 2))}), "fewer than 4 draws"),
        (
            lambda: az.from_dict(
                prior={"log10_brain_flops": np.zeros((1, 5)), "log10_class_flops": np.zeros((1, 5, 2))}
            ),
            "log10_class_flops",
        ),
    ],
)
def test_load_rejects_runs_of_the_wrong_shape(make, problem, tmp_path):
    path = tmp_path / "odd.nc"
    make().to_netcdf(str(path))
    with pytest.raises(RunFileError, match=problem):
        load_run(path)


def test_sample_brain_checks_the_seed(tiny_spec):
    for seed in (-1, 2**32):
        with pytest.raises(ValueError, match="seed"):
            sample_brain(tiny_spec, 10, seed=seed)


def test_sensitivity_against_the_analytic_tail_means():
    # only the rate is uncertain and only the dendrites count, so log10 brain = c + log10(rate):
    # the mean over the lowest 10% of a normal is m - s * phi(z_0.1) / 0.1, over the highest m + s * ...
    from scipy import stats

    from uncertainty.output.report import sensitivity

    text = one_class_text(rate="{ lognormal = [0.1, 200] }", soma_steps="{ uniform = [2, 8] }")
    spec = parse_priors('[convention]\nstages = ["dendrites"]\n' + text, "t.toml")
    n = 200_000
    draws = sample_brain(spec, n, seed=8)
    table = sensitivity(brain_inference_data(draws, spec, run_attrs(spec, seed=8, num_samples=n)))
    assert list(table.index) == ["cell_rate", "cell_soma_steps"]
    c = math.log10(1e9 * 2 * 1000 * 5 * 3 * 4 * 5)
    m = (math.log10(0.1) + math.log10(200)) / 2
    s = (math.log10(200) - math.log10(0.1)) / (2 * stats.norm.ppf(0.95))
    k = stats.norm.pdf(stats.norm.ppf(0.9)) / 0.1
    tol = 5 * s / math.sqrt(0.1 * n)  # the tail means' standard error is below s / sqrt(n_tail)
    assert table.loc["cell_rate", "low"] == pytest.approx(c + m - s * k, abs=tol)
    assert table.loc["cell_rate", "high"] == pytest.approx(c + m + s * k, abs=tol)
    assert table.loc["cell_rate", "rank_corr"] == pytest.approx(1.0)
    # the soma does not count here: its swing is the difference of two means of 10% of the draws (sd s each)
    assert abs(table.loc["cell_soma_steps", "swing"]) < 5 * s * math.sqrt(2 / (0.1 * n))
