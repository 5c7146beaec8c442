"""Issue 19, "first hour": how results are labelled and shown. The HDI of brain FLOP/s in decades, pasteable
Markdown, help text without a literal %%, "posterior" wherever a run is conditioned on evidence, readable
figures, notes that hold for any file, tail probabilities of crossover runs, compare's column names."""

import json
import math

import numpy as np
import pytest

from uncertainty._arviz import az
from uncertainty.brain.engine import sample_brain
from uncertainty.brain.priors import parse_priors
from uncertainty.cli import build_parser, main
from uncertainty.output.report import report_sections, summary
from uncertainty.output.tables import INTERVALS_NOTE, Section, render
from uncertainty.runs.io import brain_inference_data, load_run, run_attrs

from conftest import PRIORS, one_class_text

WIDE = one_class_text(rate="{ lognormal = [0.01, 1000] }")  # brain FLOP/s over five decades
EVIDENCE = (
    '\n[evidence.mean_rate]\nquantity = "sum(count * rate) / sum(count)"\n'
    'observed = { lognormal = [0.3, 30] }\nsource = "test"\n'
)


def _run(text: str, n: int, seed: int = 0):
    spec = parse_priors(text, "wide.toml")
    draws = sample_brain(spec, n, seed=seed)
    return brain_inference_data(draws, spec, run_attrs(spec, seed=seed, num_samples=n))


@pytest.fixture(scope="module")
def evidence_files(tmp_path_factory):
    """A small prior file with [evidence], its saved run, and the same file without the evidence."""
    folder = tmp_path_factory.mktemp("evidence")
    (folder / "ev.toml").write_text(WIDE + EVIDENCE)
    (folder / "plain.toml").write_text(WIDE)
    run = folder / "ev.nc"
    assert main(["sample", str(folder / "ev.toml"), "-n", "4000", "--out", str(run), "-q"]) == 0
    return folder, run


# -- 1. the HDI of brain FLOP/s ------------------------------------------------------------------


def test_kept_hdi_of_brain_flops_is_ten_to_the_log10_hdi():
    """On draws spread over five decades the shortest interval in FLOP/s hugs the low end (below the 5%
    quantile); the table gives 10^(the HDI of log10 brain FLOP/s), which holds 90% of the draws."""
    idata = _run(WIDE, 20_000)
    table = summary(idata)
    log_row, row = table.loc["log10 brain FLOP/s"], table.loc["brain FLOP/s"]
    assert row["hdi_lo"] == pytest.approx(10 ** log_row["hdi_lo"], rel=1e-12)
    assert row["hdi_hi"] == pytest.approx(10 ** log_row["hdi_hi"], rel=1e-12)
    x = 10.0 ** idata.prior["log10_brain_flops"].values.ravel()
    linear_lo, _ = az.hdi(x, hdi_prob=0.9)
    assert linear_lo < 0.5 * row["q5"] < row["hdi_lo"]  # the linear HDI would sit far below the log one
    inside = np.mean((x >= row["hdi_lo"]) & (x <= row["hdi_hi"]))
    assert inside == pytest.approx(0.9, abs=0.002)
    # a share's HDI stays in its own units, within [0, 1]
    shares = table.loc[[i for i in table.index if i.startswith("share")]]
    assert ((shares["hdi_lo"] >= 0) & (shares["hdi_hi"] <= 1)).all()


def test_streamed_hdi_of_brain_flops_is_ten_to_the_log10_hdi():
    from uncertainty.output.summaries import summary_table
    from uncertainty.runs.streaming import BIN_WIDTH, summarize_brain

    spec = parse_priors(WIDE, "wide.toml")
    stats, layout = summarize_brain(spec, 50_000, seed=4, chunk_size=16_384)
    got = summary_table(stats, layout)
    ref = summary(_run(WIDE, 50_000, seed=4))
    for end in ("hdi_lo", "hdi_hi"):
        assert got.loc["brain FLOP/s", end] == pytest.approx(10 ** got.loc["log10 brain FLOP/s", end], rel=1e-12)
        # streamed and kept agree within the histogram's resolution (the HDI's flat optimum: a few bins)
        assert abs(math.log10(got.loc["brain FLOP/s", end] / ref.loc["brain FLOP/s", end])) < 10 * BIN_WIDTH


def test_the_note_under_the_table_says_how_the_hdi_is_taken_and_holds_for_any_file():
    assert "bimodal" not in INTERVALS_NOTE and "default priors" not in INTERVALS_NOTE
    assert "in decades for brain FLOP/s" in INTERVALS_NOTE and "log10 brain FLOP/s" in INTERVALS_NOTE


# -- 2. Markdown -------------------------------------------------------------------------------------


def _blocks(text: str) -> list[list[str]]:
    """Markdown text as blocks (runs of non-blank lines)."""
    blocks, block = [], []
    for line in text.splitlines():
        if line.strip():
            block.append(line)
        elif block:
            blocks.append(block)
            block = []
    return blocks + ([block] if block else [])


def test_markdown_tables_end_before_their_notes_and_the_header_is_a_list():
    import pandas as pd

    table = pd.DataFrame({"x": [1.0, 2.0]}, index=["a", "b"])
    sections = [Section("one", table, note="first line\nsecond line"), Section("two", table, note="two's note")]
    text = render(sections, "markdown", {"prior_file": "p.toml", "seed": 3})
    blocks = _blocks(text)
    assert blocks[0] == ["- prior_file: p.toml", "- seed: 3"]  # one list item per header line
    tables = [b for b in blocks if b[0].startswith("|")]
    assert len(tables) == 2
    for block in tables:  # a table block holds only table rows: a note inside it would render as a row
        assert all(line.startswith("|") and line.endswith("|") for line in block) and len(block) == 4
    assert ["first line"] in blocks and ["second line"] in blocks and ["two's note"] in blocks
    assert ["## one"] in blocks and ["## two"] in blocks


def test_markdown_report_of_a_run_parses_into_tables_and_notes():
    idata = _run(WIDE, 2000)
    text = render(report_sections(idata), "markdown", {"seed": 0})
    for block in _blocks(text):
        rows = [line.startswith("|") for line in block]
        assert all(rows) or not any(rows), block  # no block mixes table rows and text
    assert [INTERVALS_NOTE] in _blocks(text)


# -- 3. help -----------------------------------------------------------------------------------------


def test_no_help_text_prints_a_literal_double_percent():
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    texts = {"": parser.format_help()} | {name: p.format_help() for name, p in subparsers.choices.items()}
    assert {"backtest", "compare"} <= set(texts)
    for name, text in texts.items():
        assert "%%" not in text, name
    assert "50/80/90% intervals" in " ".join(texts["backtest"].split())
    assert "5%/95% quantiles" in " ".join(texts["compare"].split())


# -- 4. a run conditioned on evidence says "posterior" ------------------------------------------------


def test_an_evidence_run_says_posterior_in_its_table(evidence_files, capsys):
    _, run = evidence_files
    assert main(["report", str(run)]) == 0
    printed = capsys.readouterr().out
    assert "brain FLOP/s (posterior):" in printed
    assert main(["report", str(run), "--format", "json"]) == 0
    assert "brain FLOP/s (posterior)" in json.loads(capsys.readouterr().out)["tables"]
    plain = report_sections(_run(WIDE, 500))
    assert plain[0].title == "brain FLOP/s"  # a run of the prior keeps its title


def test_an_evidence_run_says_posterior_in_its_figures(evidence_files):
    import matplotlib.pyplot as plt

    from uncertainty.output.plots import brain_flops_figure, contributions_figure, prior_posterior_figure

    _, run = evidence_files
    idata = load_run(run)
    fig = brain_flops_figure(idata)
    title = fig.axes[0].get_title()
    assert "posterior" in title and "priors" not in title
    fig2 = contributions_figure(idata)
    assert "posterior" in fig2.get_suptitle()
    fig3 = prior_posterior_figure(idata)
    assert fig3.axes[1].get_xlabel() == "mean_rate, log10 Hz"  # the unit of sum(count * rate) / sum(count)
    items = json.loads(idata.posterior.attrs["evidence"])
    assert items["mean_rate"]["source"] == "test" and items["mean_rate"]["unit"] == ""  # no unit stated
    items["mean_rate"]["unit"] = "spikes/s"  # a unit the measurement states is the one shown
    idata.posterior.attrs["evidence"] = json.dumps(items)
    fig4 = prior_posterior_figure(idata)
    assert fig4.axes[1].get_xlabel() == "mean_rate, log10 spikes/s"
    for f in (fig, fig2, fig3, fig4):
        plt.close(f)
    fig = brain_flops_figure(_run(WIDE, 500))
    assert "priors" in fig.axes[0].get_title() and "posterior" not in fig.axes[0].get_title()
    plt.close(fig)


def test_compare_labels_an_evidence_file_posterior_and_names_its_columns_as_shown(evidence_files, capsys):
    folder, _ = evidence_files
    files = [str(folder / "ev.toml"), str(folder / "plain.toml")]
    assert main(["compare", *files, "-n", "2000", "-q", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)["tables"]["compare"]
    assert [r["prior file"] for r in data["rows"]] == ["ev (posterior)", "plain"]
    assert "p_gt_1e15" in data["rows"][0] and "p_gt_1eN" in data["note"]
    assert main(["compare", *files, "-n", "2000", "-q"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "p gt 1e15" in lines[0] and lines[1].startswith("ev (posterior) ") and lines[2].startswith("plain ")
    note = lines[3]
    assert "p gt 1eN = P(brain FLOP/s > 1eN)" in note and "p_gt" not in note and "(posterior)" in note


# -- 5. figures ----------------------------------------------------------------------------------------


def test_contributions_rows_are_named_and_the_marks_explained():
    import matplotlib.pyplot as plt

    from uncertainty.output.plots import contributions_figure

    spec = parse_priors(WIDE.replace("[classes.cell]", "[classes.synaptic]"), "t.toml")
    idata = brain_inference_data(sample_brain(spec, 2000, seed=1), spec, run_attrs(spec, seed=1, num_samples=2000))
    fig = contributions_figure(idata)
    per_class, per_stage = fig.axes
    assert [t.get_text() for t in per_class.get_yticklabels()] == ["synaptic"]
    assert [t.get_text() for t in per_stage.get_yticklabels()] == list(spec.convention.stages)
    (legend,) = fig.legends
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels == ["median", "25%-75% (central 50%)", "90% HDI"]  # the thick bar is explained
    x = idata.prior["log10_class_flops"].values.ravel()
    thick = next(c for c in per_class.collections if c.get_gid() == "iqr:synaptic")
    (segment,) = thick.get_segments()
    np.testing.assert_allclose(segment[:, 0], np.quantile(x, [0.25, 0.75]))
    plt.close(fig)


@pytest.mark.slow
def test_sensitivity_legend_hides_no_bar():
    import matplotlib.pyplot as plt

    from uncertainty.output.plots import sensitivity_figure

    fig = sensitivity_figure(_run(PRIORS.joinpath("default.toml").read_text(), 3000))
    fig.canvas.draw()
    ax = fig.axes[0]
    assert ax.get_legend() is None
    (legend,) = fig.legends
    box = legend.get_window_extent()
    for bar in ax.patches:
        assert not box.overlaps(bar.get_window_extent())
    plt.close(fig)


def test_compare_rows_run_top_down_in_the_order_of_the_runs():
    import matplotlib.pyplot as plt

    from uncertainty.output.plots import compare_figure

    runs = {"first": _run(WIDE, 500), "second": _run(one_class_text(), 500), "third": _run(WIDE, 500, seed=2)}
    fig = compare_figure(runs)
    ax = fig.axes[0]
    ticks = sorted(zip(ax.get_yticks(), (t.get_text() for t in ax.get_yticklabels()), strict=True), reverse=True)
    assert [label for _, label in ticks] == list(runs)
    rows = {c.get_gid().split(":", 1)[1]: c.get_ydata()[0] for c in ax.lines if str(c.get_gid()).startswith("median:")}
    assert rows["first"] > rows["second"] > rows["third"]  # the marks sit on their rows
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["median", "25%-75% (central 50%)", "90% HDI"]
    plt.close(fig)


def test_units_of_evidence_quantities():
    from uncertainty.output.plots import _field_units, _log10_of, _unit_of

    units = _field_units(
        "[defaults]\natp = { lognormal = [1, 2], unit = 'ATP' }\n[classes.a]\ncount = { point = 5, unit = '1' }\n"
    )
    assert _unit_of("sum(count * rate) / sum(count)", units) == "Hz"
    assert _unit_of("sum(count)", units) == "neurons"  # "1" is a spelling: the declared unit says more
    assert _unit_of("mean(atp * rate)", units) == "ATP·Hz"
    assert _unit_of("sum(synapses) / sum(count * dendrites)", units) == "synapses/(neurons·dendrites)"
    assert _unit_of("sum(rate) + sum(count)", units) is None  # unlike units
    assert _unit_of("sum(mystery)", units) is None
    assert _unit_of("sum(count) / sum(count)", units) == ""
    assert _unit_of("sqrt(sum(rate * rate))", units) == "Hz"
    assert [_log10_of(u) for u in ("Hz", "", None)] == ["log10 Hz", "log10 (a pure number)", "log10"]


def test_calibration_figure_draws_each_pit_histogram_in_its_own_panel():
    import matplotlib.pyplot as plt
    import xarray as xr

    from uncertainty.output.plots import calibration_figure

    models = ["linear", "changepoint", "randomwalk", "walkcycle", "locallinear", "regimes"]
    pit = np.random.default_rng(0).uniform(size=6 * 30)
    ds = xr.Dataset(
        {"model": ("pair", np.repeat(models, 30)), "pit": ("pair", pit)},
        coords={"fitted_model": models},
        attrs={"series": "hpl"},
    )
    fig = calibration_figure(ds)
    owners = {}
    for ax in fig.get_axes():
        for patch in ax.patches:
            if str(patch.get_gid()).startswith("pit:"):
                owners.setdefault(id(ax), []).append(patch.get_gid())
    assert sorted(g for gids in owners.values() for g in gids) == sorted(f"pit:{m}" for m in models)
    assert all(len(gids) == 1 for gids in owners.values())  # one histogram per panel: none overlap
    plt.close(fig)


# -- 6. crossover runs get the tail probabilities ------------------------------------------------------


def test_a_crossover_run_reports_the_tail_probabilities():
    rng = np.random.default_rng(0)
    log10 = rng.normal(18.5, 1.5, (1, 400))
    years = np.where(rng.uniform(size=(1, 400)) < 0.9, rng.uniform(2020, 2100, (1, 400)), np.inf)
    idata = az.from_dict(prior={"log10_brain_flops": log10, "crossover_year": years})
    idata.prior.attrs["horizon"] = 2300.0
    sections = {s.title: s for s in report_sections(idata)}
    assert {"brain FLOP/s", "tail probabilities", "crossover year"} <= set(sections)
    tails = sections["tail probabilities"].table
    assert tails.loc["P(> 1e18)", "p"] == pytest.approx(np.mean(log10 > 18))
