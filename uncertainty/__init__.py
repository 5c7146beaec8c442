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

from .brain import BrainFlops as BrainFlops
from .brain import BrainParams as BrainParams
from .brain import brain_log10_flops as brain_log10_flops
from .crossover import doublings_needed as doublings_needed
from .crossover import scenario_crossover_year as scenario_crossover_year
from .engine import sample_brain as sample_brain
from .errors import InputError as InputError
from .errors import PriorError as PriorError
from .forecast import DEFAULT_MODEL as DEFAULT_MODEL
from .forecast import ForecastOptions as ForecastOptions
from .forecast import forecast as forecast
from .hindcast import BacktestOptions as BacktestOptions
from .hindcast import backtest as backtest
from .hindcast import backtest_table as backtest_table
from .hindcast import summarize_backtest as summarize_backtest
from .history import load_growth_data as load_growth_data
from .io import brain_inference_data as brain_inference_data
from .io import load_run as load_run
from .io import run_attrs as run_attrs
from .io import save_run as save_run
from .literature import ESTIMATES as ESTIMATES
from .lnp import STAGES as STAGES
from .lnp import Convention as Convention
from .lnp import LNPParams as LNPParams
from .lnp import neuron_flops as neuron_flops
from .lnp import stage_flops as stage_flops
from .plots import brain_flops_figure as brain_flops_figure
from .plots import calibration_figure as calibration_figure
from .plots import compare_figure as compare_figure
from .plots import contributions_figure as contributions_figure
from .plots import crossover_cdf_figure as crossover_cdf_figure
from .plots import growth_fit_figure as growth_fit_figure
from .plots import write_figures as write_figures
from .priors import PriorSpec as PriorSpec
from .priors import load_priors as load_priors
from .priors import parse_priors as parse_priors
from .report import backtest_summary as backtest_summary
from .report import comparison_summary as comparison_summary
from .report import crossover_summary as crossover_summary
from .report import format_summary as format_summary
from .report import growth_summary as growth_summary
from .report import render as render
from .report import report_sections as report_sections
from .report import summary as summary
from .reproduce import format_reproduction as format_reproduction
from .reproduce import point_brain_flops as point_brain_flops
from .reproduce import preset_path as preset_path
from .reproduce import reproduce as reproduce
