"""Monte Carlo uncertainty engine for the brain's FLOP/s and the year computing crosses it.

Public API::

    spec = load_priors("priors/default.toml")
    draws = sample_brain(spec, 100_000, seed=0)
    idata = brain_inference_data(draws, spec, run_attrs(spec, seed=0, num_samples=100_000))
    print(format_summary(summary(idata)))

    run = forecast(spec, seed=0)                            # crossover year (NUTS growth fit)
    print(render(report_sections(run)))
"""

__version__ = "0.1.0"

from .brain.cost import BrainFlops as BrainFlops
from .brain.cost import BrainParams as BrainParams
from .brain.cost import brain_log10_flops as brain_log10_flops
from .brain.engine import sample_brain as sample_brain
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
from .growth.forecast import DEFAULT_MODEL as DEFAULT_MODEL
from .growth.forecast import ForecastOptions as ForecastOptions
from .growth.forecast import crossover_years as crossover_years
from .growth.forecast import forecast as forecast
from .growth.hindcast import BacktestOptions as BacktestOptions
from .growth.hindcast import backtest as backtest
from .growth.hindcast import backtest_table as backtest_table
from .growth.hindcast import summarize_backtest as summarize_backtest
from .growth.history import load_growth_data as load_growth_data
from .literature import ESTIMATES as ESTIMATES
from .output.compare import compare_table as compare_table
from .output.compare import pool_draws as pool_draws
from .output.io import brain_inference_data as brain_inference_data
from .output.io import load_run as load_run
from .output.io import run_attrs as run_attrs
from .output.io import save_run as save_run
from .output.plots import brain_flops_figure as brain_flops_figure
from .output.plots import calibration_figure as calibration_figure
from .output.plots import compare_figure as compare_figure
from .output.plots import contributions_figure as contributions_figure
from .output.plots import crossover_cdf_figure as crossover_cdf_figure
from .output.plots import growth_fit_figure as growth_fit_figure
from .output.plots import write_figures as write_figures
from .output.report import backtest_summary as backtest_summary
from .output.report import comparison_summary as comparison_summary
from .output.report import crossover_summary as crossover_summary
from .output.report import format_summary as format_summary
from .output.report import growth_summary as growth_summary
from .output.report import render as render
from .output.report import report_sections as report_sections
from .output.report import summary as summary
from .published import format_published as format_published
from .published import reproduce_published as reproduce_published
from .reproduce import format_reproduction as format_reproduction
from .reproduce import point_brain_flops as point_brain_flops
from .reproduce import preset_path as preset_path
from .reproduce import reproduce as reproduce
