"""Monte Carlo uncertainty engine for the brain's FLOP/s and the year computing crosses it.

Public API::

    spec = load_priors("priors/default-evidence.toml")
    run = sample_run(spec, 100_000, seed=0)                 # the posterior too, for a file with [evidence]
    print(render(report_sections(run)))                     # the tables `uncertainty sample` prints

    draws = sample_brain(spec, 100_000, seed=0)             # the prior draws alone, by site

    run = forecast(spec, seed=0)                            # crossover year (NUTS growth fit)
    print(render(report_sections(run)))

    big = stream_crossover(spec, 0, ForecastOptions(num_samples=10**7))  # counted, not kept
    print(render(streamed_crossover_sections(big)))
"""

from typing import TYPE_CHECKING

from ._version import __version__ as __version__

# Public names -> the module that defines them. They are imported on first use (PEP 562), so
# `import uncertainty` and `uncertainty --help` do not load JAX, NumPyro, ArviZ or Matplotlib.
_EXPORTS = {
    "BrainFlops": ".brain.cost",
    "BrainParams": ".brain.cost",
    "brain_log10_flops": ".brain.cost",
    "sample_brain": ".brain.engine",
    "parse_expression": ".brain.expression",
    "STAGES": ".brain.lnp",
    "Convention": ".brain.lnp",
    "LNPParams": ".brain.lnp",
    "neuron_flops": ".brain.lnp",
    "stage_flops": ".brain.lnp",
    "PriorSpec": ".brain.priors",
    "load_priors": ".brain.priors",
    "parse_priors": ".brain.priors",
    "InputError": ".errors",
    "PriorError": ".errors",
    "doublings_needed": ".growth.crossover",
    "scenario_crossover_year": ".growth.crossover",
    "DEFAULT_MODEL": ".runs.forecast",
    "ForecastOptions": ".runs.forecast",
    "crossover_years": ".runs.forecast",
    "forecast": ".runs.forecast",
    "stream_crossover": ".runs.streamed_crossover",
    "StreamedCrossover": ".runs.streamed_crossover",
    "streamed_crossover_sections": ".output.streamed_crossover",
    "randomwalk_first_passage": ".growth.passage",
    "first_passage_on_grid": ".growth.passage",
    "BacktestOptions": ".growth.hindcast",
    "backtest": ".growth.hindcast",
    "backtest_table": ".output.backtest",
    "summarize_backtest": ".growth.hindcast",
    "load_growth_data": ".growth.history",
    "TARGETS": ".growth.targets",
    "target_section": ".output.report",
    "ESTIMATES": ".literature",
    "compare_table": ".output.compare",
    "pool_draws": ".runs.compare",
    "brain_inference_data": ".runs.io",
    "load_run": ".runs.io",
    "run_attrs": ".runs.io",
    "save_run": ".runs.io",
    "brain_flops_figure": ".output.plots",
    "calibration_figure": ".output.plots",
    "compare_figure": ".output.plots",
    "contributions_figure": ".output.plots",
    "crossover_cdf_figure": ".output.plots",
    "growth_fit_figure": ".output.plots",
    "write_figures": ".output.plots",
    "backtest_summary": ".output.report",
    "comparison_summary": ".output.report",
    "crossover_summary": ".output.report",
    "format_summary": ".output.tables",
    "growth_summary": ".output.report",
    "render": ".output.tables",
    "report_sections": ".output.report",
    "summary": ".output.report",
    "format_published": ".published",
    "reproduce_published": ".published",
    "format_reproduction": ".article",
    "point_brain_flops": ".article",
    "preset_path": ".article",
    "reproduce": ".article",
    "sample_run": ".runs.sample",
    "evidence_warning": ".runs.sample",
    "condition": ".brain.evidence",
    "diagnosis": ".brain.evidence",
    "evidence_tables": ".output.report",
    "choice_odds_table": ".output.report",
    "tail_probabilities": ".output.report",
    "prior_posterior_figure": ".output.plots",
    "load_saved": ".runs.io",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module, __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


if TYPE_CHECKING:  # the same names, eagerly, for type checkers and IDEs
    from .article import format_reproduction as format_reproduction
    from .article import point_brain_flops as point_brain_flops
    from .article import preset_path as preset_path
    from .article import reproduce as reproduce
    from .brain.cost import BrainFlops as BrainFlops
    from .brain.cost import BrainParams as BrainParams
    from .brain.cost import brain_log10_flops as brain_log10_flops
    from .brain.engine import sample_brain as sample_brain
    from .brain.evidence import condition as condition
    from .brain.evidence import diagnosis as diagnosis
    from .brain.expression import parse_expression as parse_expression
    from .brain.lnp import STAGES as STAGES
    from .brain.lnp import Convention as Convention
    from .brain.lnp import LNPParams as LNPParams
    from .brain.lnp import neuron_flops as neuron_flops
    from .brain.lnp import stage_flops as stage_flops
    from .brain.priors import PriorSpec as PriorSpec
    from .brain.priors import load_priors as load_priors
    from .brain.priors import parse_priors as parse_priors
    from .errors import InputError as InputError
    from .errors import PriorError as PriorError
    from .growth.crossover import doublings_needed as doublings_needed
    from .growth.crossover import scenario_crossover_year as scenario_crossover_year
    from .growth.hindcast import BacktestOptions as BacktestOptions
    from .growth.hindcast import backtest as backtest
    from .growth.hindcast import summarize_backtest as summarize_backtest
    from .growth.history import load_growth_data as load_growth_data
    from .growth.passage import first_passage_on_grid as first_passage_on_grid
    from .growth.passage import randomwalk_first_passage as randomwalk_first_passage
    from .growth.targets import TARGETS as TARGETS
    from .literature import ESTIMATES as ESTIMATES
    from .output.backtest import backtest_table as backtest_table
    from .output.compare import compare_table as compare_table
    from .output.plots import brain_flops_figure as brain_flops_figure
    from .output.plots import calibration_figure as calibration_figure
    from .output.plots import compare_figure as compare_figure
    from .output.plots import contributions_figure as contributions_figure
    from .output.plots import crossover_cdf_figure as crossover_cdf_figure
    from .output.plots import growth_fit_figure as growth_fit_figure
    from .output.plots import prior_posterior_figure as prior_posterior_figure
    from .output.plots import write_figures as write_figures
    from .output.report import backtest_summary as backtest_summary
    from .output.report import choice_odds_table as choice_odds_table
    from .output.report import comparison_summary as comparison_summary
    from .output.report import crossover_summary as crossover_summary
    from .output.report import evidence_tables as evidence_tables
    from .output.report import growth_summary as growth_summary
    from .output.report import report_sections as report_sections
    from .output.report import summary as summary
    from .output.report import tail_probabilities as tail_probabilities
    from .output.report import target_section as target_section
    from .output.streamed_crossover import streamed_crossover_sections as streamed_crossover_sections
    from .output.tables import format_summary as format_summary
    from .output.tables import render as render
    from .published import format_published as format_published
    from .published import reproduce_published as reproduce_published
    from .runs.compare import pool_draws as pool_draws
    from .runs.forecast import DEFAULT_MODEL as DEFAULT_MODEL
    from .runs.forecast import ForecastOptions as ForecastOptions
    from .runs.forecast import crossover_years as crossover_years
    from .runs.forecast import forecast as forecast
    from .runs.io import brain_inference_data as brain_inference_data
    from .runs.io import load_run as load_run
    from .runs.io import load_saved as load_saved
    from .runs.io import run_attrs as run_attrs
    from .runs.io import save_run as save_run
    from .runs.sample import evidence_warning as evidence_warning
    from .runs.sample import sample_run as sample_run
    from .runs.streamed_crossover import StreamedCrossover as StreamedCrossover
    from .runs.streamed_crossover import stream_crossover as stream_crossover
