"""Figures: every plot on tiny runs writes a non-empty image; the brain figure's data is checked."""

import math

import numpy as np
import pytest

from uncertainty.brain.engine import sample_brain
from uncertainty.brain.priors import load_priors
from uncertainty.cli import main
from uncertainty.literature import ESTIMATES
from uncertainty.output.plots import brain_flops_figure, crossover_cdf_figure, figures_for, write_figures
from uncertainty.runs.forecast import ForecastOptions, forecast
from uncertainty.runs.io import brain_inference_data, run_attrs

from conftest import PRIORS


@pytest.fixture(scope="module")
def brain_run():
    spec = load_priors(PRIORS / "default.toml")
    draws = sample_brain(spec, 3000, seed=2)
    return brain_inference_data(draws, spec, run_attrs(spec, seed=2, num_samples=3000))


@pytest.fixture(scope="module")
def crossover_run():
    spec = load_priors(PRIORS / "default.toml")
    # the fit of test_cli_crossover's backtest (default.toml, seed 0, until 2015, tiny settings): one compiled
    # program when both files run in one process
    options = ForecastOptions(data_until=2015, num_samples=200, num_warmup=150, num_chains=2, compare=False)
    return forecast(spec, 0, options)


def test_brain_figure_plots_the_data(brain_run):
    import matplotlib.pyplot as plt

    fig = brain_flops_figure(brain_run, bins=40)
    ax = fig.axes[0]
    x = brain_run.prior["log10_brain_flops"].values.ravel()
    heights, edges = np.histogram(x, bins=40, density=True)
    (bars,) = ax.containers  # the histogram
    np.testing.assert_allclose([p.get_height() for p in bars], heights)
    np.testing.assert_allclose([p.get_x() for p in bars], edges[:-1])
    lines = {line.get_gid(): line.get_xdata()[0] for line in ax.lines if line.get_gid()}
    lo, hi = ax.get_xlim()
    expected = {f"estimate:{e.label}": math.log10(e.flops) for e in ESTIMATES if lo <= math.log10(e.flops) <= hi}
    assert "estimate:Dettmers 2015" in expected
    assert lines == pytest.approx(expected)
    medians = [line.get_xdata()[0] for line in ax.lines if line.get_label().startswith("median")]
    assert medians == pytest.approx([np.median(x)])
    assert ax.get_xlabel() == "brain computation, log10 FLOP/s" and ax.get_title()
    plt.close(fig)


@pytest.mark.slow
def test_crossover_cdf_reaches_one_minus_p_never(crossover_run):
    import matplotlib.pyplot as plt

    fig = crossover_cdf_figure(crossover_run)
    ax = fig.axes[0]
    y = crossover_run.posterior["crossover_year"].values.ravel()
    step = next(line for line in ax.lines if line.get_label() == "P(crossed by year)")
    assert step.get_ydata()[-1] == pytest.approx(np.isfinite(y).mean())
    plt.close(fig)


@pytest.mark.slow
def test_every_figure_writes_a_non_empty_image(brain_run, crossover_run, tmp_path):
    assert set(figures_for(brain_run)) == {"brain_flops", "contributions", "sensitivity"}
    written = write_figures({"brain": brain_run, "cross": crossover_run}, tmp_path / "figs", "png")
    names = sorted(p.name for p in written)
    assert names == sorted(
        [
            "brain_brain_flops.png",
            "brain_contributions.png",
            "brain_sensitivity.png",
            "cross_brain_flops.png",
            "cross_contributions.png",
            "cross_crossover_cdf.png",
            "cross_growth_fit.png",
            "compare.png",
        ]
    )
    for p in written:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 10_000
    svg = write_figures({"cross": crossover_run}, tmp_path / "svg", "svg")
    assert all(p.read_text().lstrip().startswith("<?xml") for p in svg)


def test_plot_cli(brain_run, tmp_path, capsys):
    run = tmp_path / "run.nc"
    assert main(["sample", str(PRIORS / "dettmers2015.toml"), "-n", "100", "--out", str(run), "-q"]) == 0
    capsys.readouterr()
    assert main(["plot", str(run), "--out", str(tmp_path / "figs")]) == 0
    assert capsys.readouterr().out.split() == [
        str(tmp_path / "figs" / f"{s}.png") for s in ("brain_flops", "contributions")
    ]
    # again without --force: refused, nothing replaced
    before = (tmp_path / "figs" / "brain_flops.png").read_bytes()
    assert main(["plot", str(run), "--out", str(tmp_path / "figs")]) == 2
    assert "exists; pass --force" in capsys.readouterr().err
    assert (tmp_path / "figs" / "brain_flops.png").read_bytes() == before
    assert main(["plot", str(tmp_path / "missing.nc")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_run_names_stay_unique_when_files_share_a_name():
    from uncertainty.output.plots import _names

    assert _names(["a/x/run.nc", "b/x/run.nc"]) == ["a_x_run", "b_x_run"]
    assert _names(["run.nc", "other.nc"]) == ["run", "other"]
    assert _names(["r.nc", "r.nc"]) == ["1_r", "2_r"]  # the same file twice


def _total_only_run(path, values):
    from uncertainty._arviz import az

    az.from_dict(prior={"log10_brain_flops": np.asarray(values, dtype=float)[None, :]}).to_netcdf(str(path))
    return path


def test_plot_accepts_every_run_report_accepts_or_refuses_in_one_line(brain_run, tmp_path, capsys):
    """A run holding only the total gets its histogram; a run with no finite draw is one line, exit 2;
    runs in folders of the same name keep a figure each; an output folder that cannot be made is one line."""
    total = _total_only_run(tmp_path / "total.nc", np.random.default_rng(0).normal(19, 1, 500))
    assert main(["report", str(total)]) == 0
    assert main(["plot", str(total), "--out", str(tmp_path / "f1")]) == 0
    assert [p.name for p in (tmp_path / "f1").iterdir()] == ["brain_flops.png"]
    inf = _total_only_run(tmp_path / "inf.nc", np.full(50, np.inf))
    capsys.readouterr()
    assert main(["plot", str(inf), "--out", str(tmp_path / "f2")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no finite draw" in err and not (tmp_path / "f2").exists()
    for folder in ("a/x", "b/x"):
        (tmp_path / folder).mkdir(parents=True)
        brain_run.to_netcdf(str(tmp_path / folder / "run.nc"))
    runs = [str(tmp_path / "a/x/run.nc"), str(tmp_path / "b/x/run.nc")]
    assert main(["plot", *runs, "--out", str(tmp_path / "f3")]) == 0
    names = {p.name for p in (tmp_path / "f3").iterdir()}
    assert {"a_x_run_brain_flops.png", "b_x_run_brain_flops.png", "compare.png"} <= names
    capsys.readouterr()
    assert main(["plot", str(total), "--out", "/proc/nope"]) == 2  # /proc exists; mkdir there fails
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error:")
