"""Streaming summaries: per-chunk statistics merged on the host reproduce the exact table of the kept draws
within the stated bin-width bound, in O(chunk) memory."""

import json
import math

import numpy as np
import pytest

from uncertainty.brain.engine import sample_brain
from uncertainty.brain.priors import parse_priors
from uncertainty.output.report import sensitivity, summary
from uncertainty.output.summaries import sensitivity_table, summary_table
from uncertainty.runs.io import brain_inference_data, run_attrs
from uncertainty.runs.streaming import BIN_WIDTH, merge, summarize_brain

from conftest import PRIORS

REL = 10**BIN_WIDTH - 1  # a quantile's relative error bound in linear units


@pytest.fixture(scope="module")
def default_pair():
    from uncertainty.brain.priors import load_priors

    spec = load_priors(PRIORS / "default.toml")
    n, chunk = 200_000, 65_536  # four chunks, the last one cut
    stats, layout = summarize_brain(spec, n, seed=3, chunk_size=chunk)
    draws = sample_brain(spec, n, seed=3, chunk_size=chunk)
    idata = brain_inference_data(draws, spec, run_attrs(spec, seed=3, num_samples=n))
    return stats, layout, idata


@pytest.mark.slow
def test_streamed_table_matches_the_kept_draws(default_pair):
    stats, layout, idata = default_pair
    got, ref = summary_table(stats, layout), summary(idata)
    assert list(got.index) == list(ref.index) and list(got.columns) == list(ref.columns)
    np.testing.assert_allclose(got[["mean", "sd"]], ref[["mean", "sd"]], rtol=1e-9)
    log_row = got.loc["log10 brain FLOP/s"] - ref.loc["log10 brain FLOP/s"]
    assert all(abs(log_row[c]) <= BIN_WIDTH for c in ("median", "q5", "q95"))
    for c in ("median", "q5", "q95"):
        np.testing.assert_allclose(got[c], ref[c], rtol=REL * 1.01)
    assert (got["ess_bulk"] == 200_000).all()  # independent draws: the ESS is the draw count
    np.testing.assert_allclose(got["mcse_mean"], got["sd"] / math.sqrt(200_000))
    # the 90% HDI of log10 brain FLOP/s: the shortest interval, from whole bins
    assert abs(got.loc["log10 brain FLOP/s", "hdi_lo"] - ref.loc["log10 brain FLOP/s", "hdi_lo"]) < 0.01
    assert abs(got.loc["log10 brain FLOP/s", "hdi_hi"] - ref.loc["log10 brain FLOP/s", "hdi_hi"]) < 0.01
    # that of brain FLOP/s is 10^(that of log10 brain FLOP/s) in both, so they agree to the same 0.01 decade
    for end in ("hdi_lo", "hdi_hi"):
        for table in (got, ref):
            assert table.loc["brain FLOP/s", end] == pytest.approx(10 ** table.loc["log10 brain FLOP/s", end])
        assert abs(math.log10(got.loc["brain FLOP/s", end] / ref.loc["brain FLOP/s", end])) < 0.01
    # the MCSE of the median from the binomial order-statistic interval, beside ArviZ's estimate
    ratio = got.loc["log10 brain FLOP/s", "mcse_median"] / ref.loc["log10 brain FLOP/s", "mcse_median"]
    assert 0.5 < ratio < 2.0


def test_streamed_sensitivity_matches_the_kept_draws(default_pair):
    stats, layout, idata = default_pair
    got, ref = sensitivity_table(stats, layout), sensitivity(idata)
    assert set(got.index) == set(ref.index) and got.index[0] == ref.index[0] == "shared_rate"
    # the tails' cut points come from the first chunk: the same swings within a few thousandths of a decade
    np.testing.assert_allclose(got["swing"], ref.loc[got.index, "swing"], atol=0.02)


def test_streamed_tail_probabilities_are_the_kept_draws_counts(default_pair):
    """P(brain FLOP/s > 10^k) from the histograms (whole decades are bin edges) is the count over the kept
    draws, exactly; thresholds past every draw give 0 or 1."""
    from uncertainty.output.report import tail_probabilities
    from uncertainty.output.summaries import exceedance

    stats, layout, idata = default_pair
    x = idata.prior["log10_brain_flops"].values.ravel()
    thresholds = (10, 15, 18, 19, 20, 21, 24, 40)
    got, kept = exceedance(stats, layout, thresholds), tail_probabilities(idata, thresholds)
    assert set(got) == set(thresholds)
    for k in thresholds:
        assert got[k][0] == kept[k][0] == np.mean(x > k)
        p = got[k][0]
        assert got[k][1] == pytest.approx(math.sqrt(p * (1 - p) / x.size))
        assert kept[k][1] == pytest.approx(got[k][1], rel=0.2, abs=1e-12)  # ArviZ's ESS-based MCSE, iid draws
    assert got[10][0] == 1.0 and got[40][0] == 0.0 and 0.0 < got[20][0] < 1.0


@pytest.mark.slow
def test_merge_is_the_statistics_of_the_union():
    """Chan's merge of two halves gives the moments of the whole (hand-checked against NumPy)."""
    spec = parse_priors(
        '[classes.syn]\nmethod = "expression"\nflops_per_second = "a * b"\n'
        "a = { lognormal = [1e14, 1e15] }\nb = { lognormal = [1, 100] }\n"
    )
    whole, layout = summarize_brain(spec, 3000, seed=1, chunk_size=1024)
    x = sample_brain(spec, 3000, seed=1, chunk_size=1024)["log10_brain_flops"]
    assert whole.n == 3000
    np.testing.assert_allclose(whole.mean_log[0], x.mean(), rtol=1e-12)
    np.testing.assert_allclose(whole.m2_log[0], ((x - x.mean()) ** 2).sum(), rtol=1e-9)
    np.testing.assert_allclose(whole.minimum[0], x.min()) and np.testing.assert_allclose(whole.maximum[0], x.max())
    assert whole.counts[0].sum() + whole.under[0] + whole.over[0] == 3000
    assert merge(None, whole) is whole


@pytest.mark.slow
def test_the_chunk_size_changes_no_statistic():
    """The layout comes from the run's first LOOK draws whatever the chunk size (chunks smaller than it are
    held until it is in), so a run in chunks of 16,384 has the histograms of a run in chunks of LOOK and cut points."""
    from uncertainty.runs.streaming import LOOK

    spec = parse_priors(
        '[classes.syn]\nmethod = "expression"\nflops_per_second = "a * b"\n'
        "a = { lognormal = [1e14, 1e15] }\nb = { lognormal = [1, 100] }\n"
    )
    n = LOOK + 9000
    small, small_layout = summarize_brain(spec, n, seed=6, chunk_size=16384)
    whole, layout = summarize_brain(spec, n, seed=6, chunk_size=LOOK)  # the layout from the first chunk
    np.testing.assert_array_equal(small_layout.lo, layout.lo)
    np.testing.assert_array_equal(small_layout.cut_lo, layout.cut_lo)
    np.testing.assert_array_equal(small_layout.cut_hi, layout.cut_hi)
    assert small.n == whole.n == n
    np.testing.assert_array_equal(small.counts, whole.counts)
    np.testing.assert_array_equal(small.low_n, whole.low_n)
    np.testing.assert_allclose(small.mean_log, whole.mean_log, rtol=1e-12)


@pytest.mark.slow
def test_quantiles_at_ten_million_draws_within_the_bound():
    """10^7 draws: every streamed quantile within one bin (0.001 decade) of np.quantile of the same draws."""
    spec = parse_priors(
        '[classes.syn]\nmethod = "expression"\nflops_per_second = "a * b"\n'
        "a = { lognormal = [1e14, 1e15] }\nb = { choice = [{ lognormal = [1, 10] }, { lognormal = [100, 1e4] }] }\n"
    )
    n = 10_000_000
    stats, layout = summarize_brain(spec, n, seed=4, chunk_size=1 << 20)
    x = sample_brain(spec, n, seed=4, chunk_size=1 << 20)["log10_brain_flops"]
    probs = [0.001, 0.05, 0.25, 0.5, 0.75, 0.95, 0.999]
    from uncertainty.output.summaries import histogram_quantiles

    got = histogram_quantiles(stats.counts[0], int(stats.under[0]), float(layout.lo[0]), n, probs)
    exact = np.quantile(x, probs)
    assert np.max(np.abs(got - exact)) <= BIN_WIDTH


@pytest.mark.slow
def test_cli_streams_when_asked_and_report_reads_the_summaries(tmp_path, capsys):
    from uncertainty.cli import main

    out = tmp_path / "big.nc"
    argv = ["sample", str(PRIORS / "default.toml"), "-n", "5000", "-q", "--chunk-size", "2048", "--no-keep-draws"]
    assert main([*argv, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "streamed: 5,000 independent draws" in printed and "share of stage dendrites" in printed
    assert "tail probabilities" in printed and "P(> 1e18)" in printed
    assert out.stat().st_size < 2_000_000  # statistics, not draws
    assert main(["report", str(out), "--format", "csv"]) == 0
    again = capsys.readouterr().out
    assert "log10 brain FLOP/s" in again and "shared_rate" in again
    # the same numbers as the run printed
    assert main(["report", str(out)]) == 0
    assert capsys.readouterr().out.split("brain FLOP/s:")[1] == printed.split("brain FLOP/s:")[1]
    assert main(["plot", str(out), "--out", str(tmp_path / "figs")]) == 0
    assert (tmp_path / "figs" / "brain_flops.png").stat().st_size > 0


def test_cli_keeps_the_draws_of_a_file_with_evidence(tmp_path, capsys):
    from uncertainty.cli import main

    path = tmp_path / "ev.toml"
    path.write_text(
        '[classes.syn]\nmethod = "expression"\nflops_per_second = "a * b"\n'
        "a = { lognormal = [1e14, 1e15] }\nb = { lognormal = [1, 100] }\n"
        '[evidence.b]\nquantity = "sum(b)"\nobserved = { upper = 10 }\n'
    )
    assert main(["sample", str(path), "-n", "1000", "-q", "--no-keep-draws"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--no-keep-draws" in err and "[evidence]" in err


@pytest.mark.slow
def test_kept_draws_above_the_limit_are_written_chunk_by_chunk(tmp_path, capsys, monkeypatch):
    """`sample --out` above the keep limit with --keep-draws: every draw on disk (the draws of sample_brain),
    written as drawn; `report` summarises the file chunk by chunk and prints the table the run printed, and
    `plot` draws the figure of those summaries."""
    import uncertainty.cli as cli
    import uncertainty.output.plots as cli_plots
    from uncertainty.brain.priors import load_priors
    from uncertainty.runs.io import load_run

    monkeypatch.setattr(cli, "KEEP_DRAWS_LIMIT", 5000)
    out = tmp_path / "kept.nc"
    argv = ["sample", str(PRIORS / "default.toml"), "-n", "12000", "--chunk-size", "4096", "--seed", "2", "-q"]
    assert cli.main([*argv, "--keep-draws", "--out", str(out), "--format", "json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert not list(tmp_path.glob(".*.tmp"))  # the temporary file became the run
    idata = load_run(out)
    draws = sample_brain(load_priors(PRIORS / "default.toml"), 12000, seed=2, chunk_size=4096)
    assert idata.prior.sizes["draw"] == 12000 and list(idata.prior["draw"].values) == list(range(12000))
    for name, values in draws.items():
        stored = idata.prior[name].values[0]
        np.testing.assert_array_equal(stored, values.astype(stored.dtype))
    assert cli.main(["report", str(out), "--format", "json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["tables"]["brain FLOP/s"] == printed["tables"]["brain FLOP/s"]
    np.testing.assert_allclose(
        [r["swing"] for r in again["tables"]["sensitivity (top 10)"]["rows"]],
        [r["swing"] for r in printed["tables"]["sensitivity (top 10)"]["rows"]],
        atol=0.01,  # parameters stored as float32: the tails' cut points move by their rounding
    )
    # `plot` reads it chunk by chunk too: the figure of its streamed summaries, from the same statistics
    drawn = []
    real = cli_plots.figures_for
    monkeypatch.setattr(cli_plots, "figures_for", lambda run: drawn.append(run) or real(run))
    assert cli.main(["plot", str(out), "--out", str(tmp_path / "figures")]) == 0
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == ["brain_flops.png"]
    assert "12,000 draws, more than 5,000: plotted from their streamed summaries" in capsys.readouterr().err
    (summaries,) = drawn
    assert summaries.attrs["kind"] == "summaries" and int(summaries.attrs["num_samples"]) == 12000


def test_a_failed_chunked_write_leaves_no_file(tmp_path, capsys, monkeypatch):
    """A run that would not fit on the disk stops after its first chunk, in one line, with no file left."""
    import uncertainty.cli as cli

    monkeypatch.setattr(cli, "KEEP_DRAWS_LIMIT", 1000)
    monkeypatch.setattr("shutil.disk_usage", _tiny_disk)
    out = tmp_path / "kept.nc"
    argv = ["sample", str(PRIORS / "default.toml"), "-n", "3000", "--chunk-size", "1024", "-q", "--keep-draws"]
    assert cli.main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error:") and "GiB free" in err
    assert list(tmp_path.iterdir()) == []


def _tiny_disk(path):
    import collections

    return collections.namedtuple("usage", "total used free")(10**6, 10**6 - 1000, 1000)
