"""The ``uncertainty`` command.

Commands: ``sample`` (draw a run of brain FLOP/s and print its credible
intervals), ``compare`` (several prior files in one table), ``crossover`` (the
year computing crosses it), ``report`` (the tables of a saved run), ``plot``
(its figures), ``backtest`` (hindcasts of the growth models) and ``reproduce``
(the source article's numbers beside the engine's). Bad input prints one line ``error: FILE: KEY:
problem`` to stderr and exits with status 2.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import math
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import replace

__all__ = ["entry", "main", "build_parser"]


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors as one line ``error: PROG: problem`` (exit status 2), and no abbreviated
    options (``--sample 20`` is an error, not ``--samples 20``)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        self.exit(2, f"error: {self.prog}: {message} (see --help)\n")


def _count(minimum: int):
    """An argparse type: a whole number >= ``minimum``, written as 1000000 or 1e6."""

    def parse(text: str) -> int:
        try:
            number = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
        if not math.isfinite(number) or not number.is_integer():
            raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'")
        if number < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {text}")
        return int(number)

    return parse


def _horizon(text: str) -> float:
    """An argparse type: the last year a crossover searches, from the last year of P(by year) to
    :data:`~uncertainty.choices.MAX_HORIZON`."""
    from .choices import MAX_HORIZON
    from .quantities import BY_YEARS

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a year, got '{text}'") from None
    if not math.isfinite(value) or not BY_YEARS[-1] <= value <= MAX_HORIZON:
        raise argparse.ArgumentTypeError(
            f"must be a year from {BY_YEARS[-1]} to {MAX_HORIZON:g} (P(by {BY_YEARS[-1]}) is reported), got '{text}'"
        )
    return value


_positive_int = _count(1)


def _positive_float(text: str) -> float:
    """An argparse type: a positive finite number (a budget in US dollars: ``1e9``)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got '{text}'") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number, got '{text}'")
    return value


def _chunk_size(text: str) -> int:
    from .choices import BLOCK_SIZE

    value = _count(BLOCK_SIZE)(text)
    if value % BLOCK_SIZE:
        raise argparse.ArgumentTypeError(f"must be a multiple of {BLOCK_SIZE} (the draws come in blocks), got {text}")
    return value


_samples = _count(10)  # ArviZ's ESS and MCSE need a few draws


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must lie in [0, 2**32), got {value}")
    return value


@functools.cache
def _options() -> dict[str, tuple[tuple[str, ...], dict]]:
    """Every option that several commands take, declared once: its flags, type, choices and default, and the
    help it has unless a command says more (:func:`_add` attaches one to a command)."""
    from .choices import DEFAULT_MODEL, DEFAULT_PRIORS, FORMATS, GROWTH_PRIORS, UNITS

    return {
        "samples": (("--samples", "-n"), {"type": _samples}),
        "seed": (
            ("--seed",),
            {"type": _seed, "default": 0, "help": "PRNG seed; the same seed gives the same run (default 0)"},
        ),
        "out": (("--out", "-o"), {"metavar": "RUN.nc", "help": "save the run (ArviZ InferenceData, netCDF) here"}),
        "force": (("--force",), {"action": "store_true", "help": "overwrite --out if it exists"}),
        "format": (("--format",), {"choices": FORMATS, "default": "table", "help": "output format (default table)"}),
        "quiet": (("--quiet", "-q"), {"action": "store_true", "help": "no progress bar"}),
        "series": (("--series",), {"default": None, "metavar": "TARGET"}),
        "unit": (("--unit",), {"choices": UNITS, "default": None, "help": UNIT_HELP}),
        "budget": (("--budget",), {"type": _positive_float, "default": None, "metavar": "USD"}),
        "model": (("--model",), {"default": DEFAULT_MODEL}),
        "priors": (("--priors",), {"dest": "growth_priors", "choices": GROWTH_PRIORS, "default": DEFAULT_PRIORS}),
        "warmup": (("--warmup",), {"type": _positive_int}),
        "refit": (
            ("--refit",),
            {
                "action": "store_true",
                "help": "fit the growth models again rather than taking them from the fit cache (a fit is cached by "
                "its data, model, settings and seed)",
            },
        ),
    }


def _add(parser: argparse.ArgumentParser, name: str, **changes) -> None:
    """Attach the shared option ``name`` (:func:`_options`) to a command, with that command's ``changes``."""
    flags, declared = _options()[name]
    parser.add_argument(*flags, **{**declared, **changes})


def _run_arguments(p: argparse.ArgumentParser, default_samples: int) -> None:
    """The arguments every command that draws a run shares."""
    p.add_argument("priors", metavar="PRIORS.toml", help="prior file (see priors/default.toml)")
    _add(p, "samples", default=default_samples, help=f"number of draws (default {default_samples})")
    for name in ("seed", "out", "force", "format", "quiet"):
        _add(p, name)


def build_parser() -> argparse.ArgumentParser:
    from .choices import (
        BLOCK_SIZE,
        DEFAULT_CHUNK_SIZE,
        DEFAULT_HORIZON,
        DEFAULT_MODEL,
        DEFAULT_PRIORS,
        FORECAST_MODELS,
        GROWTH_MODELS,
        MAX_HORIZON,
        PRECISIONS,
        PRESETS,
        PUBLISHED_PRESETS,
        TARGET_NAMES,
    )
    from .quantities import BY_YEARS, HEADLINE_YEAR, TAIL_THRESHOLDS

    tails = ", ".join(f"1e{k}" for k in TAIL_THRESHOLDS)

    parser = _Parser(
        prog="uncertainty",
        description="Monte Carlo uncertainty engine for the brain's FLOP/s (extended LNP neuron model).",
    )
    from ._version import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser(
        "sample",
        help="draw brain-FLOP/s samples from a prior file and print credible intervals",
        description="Draw joint samples of a prior file's parameters, push them through the LNP cost "
        "function and print credible intervals of brain FLOP/s; optionally save the run as netCDF.",
    )
    _run_arguments(s, default_samples=1_000_000)
    s.add_argument(
        "--chunk-size",
        type=_chunk_size,
        default=None,
        help=f"draws per jitted chunk, a multiple of {BLOCK_SIZE} (default {DEFAULT_CHUNK_SIZE} on a CPU, more on a "
        "GPU by its memory); it changes the speed and memory, not the draws",
    )
    s.add_argument("--precision", choices=PRECISIONS, default="float64", help="floating-point type (default float64)")
    s.add_argument(
        "--derived-only",
        action="store_true",
        help="keep only the log10 FLOP/s draws in the run, not every parameter draw (smaller; no sensitivity table)",
    )
    s.add_argument(
        "--keep-draws",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=f"keep every draw (an InferenceData run) or only streamed summaries (O(chunk) memory; quantiles within "
        f"0.001 decade); default: keep the draws of a run saved with --out of up to {KEEP_DRAWS_LIMIT:,} draws, "
        "and always for a file with [evidence]; stream otherwise",
    )
    s.add_argument(
        "--coordinator",
        metavar="HOST:PORT",
        help="run as one of several processes (jax.distributed): the address of process 0's coordinator; each "
        "process draws its own chunks and process 0 prints the merged summary (streamed runs only). Under "
        "SLURM or Open MPI the processes are found without these flags",
    )
    s.add_argument("--num-processes", type=_positive_int, help="how many processes run (with --coordinator)")
    s.add_argument("--process-id", type=int, help="this process's index, 0 to --num-processes - 1 (with --coordinator)")
    s.add_argument(
        "--inference",
        choices=("auto", "psis", "nuts"),
        default="auto",
        help="how a file with [evidence] is conditioned: PSIS of the prior draws, NUTS, or auto (PSIS, NUTS when "
        "its Pareto k-hat > 0.7; default auto)",
    )
    s.set_defaults(run=_cmd_sample)

    r = sub.add_parser(
        "report",
        help="credible intervals of a saved run (sample, crossover, or streamed summaries)",
        description="Median, mean, 5%/95% quantiles, 90% HDI and Monte Carlo standard errors of log10 brain "
        "FLOP/s and brain FLOP/s, and each class's and stage's share, from a saved run; for a crossover run "
        "also the crossover year, the growth fit, the model comparison and the backtest; for a run with "
        "[evidence], the evidence and choice-odds tables.",
    )
    r.add_argument(
        "run_file",
        metavar="RUN.nc",
        help="a run saved by 'uncertainty sample --out' or 'uncertainty crossover --out' (kept draws or streamed "
        "summaries)",
    )
    _add(r, "format")
    r.set_defaults(run=_cmd_report)

    c = sub.add_parser(
        "crossover",
        help="the year computing crosses brain FLOP/s: growth fitted to a compute target's history",
        description="Fit a growth model to the history of a compute target (the HPCG or TOP500 leader, the "
        "largest AI supercomputer, the fastest ML chip, the best price-performance times a budget) with NUTS (or "
        "draw the prior file's [growth] scenario), pair each draw with a brain-FLOP/s draw (and, for a peak "
        "target, the [target] practical fraction and budget) and report the crossover year: P(already crossed by "
        f"the last observation), median, 5%/95%, 90% HDI, P(by {'/'.join(map(str, BY_YEARS))}), "
        "P(no crossover by the horizon), "
        "the fitted doubling periods with R-hat and ESS, and a LOO comparison of the models. Several --series: "
        "one table, a row per target.",
    )
    _run_arguments(c, default_samples=10_000)
    _add(
        c,
        "series",
        nargs="+",
        help="compute target(s): hpcg (default; HPL trend x HPCG efficiency), hpl (TOP500 Rmax), ai-cluster "
        "(largest AI supercomputer, 16-bit peak x fraction), accelerator (fastest ML chip, 16-bit peak x fraction), "
        "budget (best 32-bit FLOP/s per USD x budget x fraction) or a CSV 'year,flops'; several: one table, a row each",
    )
    _add(
        c,
        "budget",
        help="the budget target's hardware budget in US dollars (default: the prior file's [target] budget_usd)",
    )
    _add(c, "unit")
    _add(
        c,
        "model",
        choices=FORECAST_MODELS,
        help=f"growth model (default {DEFAULT_MODEL}: the best CRPS among the models calibrated across the 67 "
        "technologies of the performance curve database, see `backtest --pool`)",
    )
    _add(
        c,
        "priors",
        help=f"the growth model's priors: base (its own) or pooled (learned from the other computing series, for "
        f"randomwalk, walkcycle, locallinear, regimes; see `backtest --pool`); default {DEFAULT_PRIORS}",
    )
    c.add_argument("--data-until", type=int, metavar="YEAR", help="fit on lists up to YEAR and backtest the rest")
    _add(c, "warmup", default=None, help="NUTS warm-up steps per chain (default 1000)")
    c.add_argument("--chains", type=_positive_int, default=None, help="NUTS chains (default 4)")
    c.add_argument(
        "--horizon",
        type=_horizon,
        default=DEFAULT_HORIZON,
        help=f"last year searched for a crossover, {BY_YEARS[-1]}-{MAX_HORIZON:g} (default {DEFAULT_HORIZON:g})",
    )
    c.add_argument("--no-compare", action="store_true", help="skip fitting the other models for the LOO comparison")
    _add(c, "refit")
    c.add_argument(
        "--keep-draws",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="keep every joint draw and its path (an InferenceData run, for --out and --data-until) or stream "
        "them (the crossover year counted in 0.01-year bins; memory independent of --samples); default: keep up "
        "to 100,000 draws, and always for a file with [evidence]",
    )
    c.set_defaults(run=_cmd_crossover)

    g = sub.add_parser(
        "plot",
        help="write every figure that fits one or more saved runs",
        description="Write the figures of saved runs: brain FLOP/s with other estimates marked, contributions per "
        "class and stage, and for crossover runs the crossover-year CDF and the growth fit. Several runs also "
        "get a forest plot comparing them.",
    )
    g.add_argument("run_files", metavar="RUN.nc", nargs="+", help="runs saved with --out")
    _add(g, "out", default="figures", metavar="DIR", help="folder for the figures (default figures)")
    _add(g, "format", choices=("png", "svg"), default="png", help="image format (default png)")
    _add(g, "force", help="overwrite existing figures")
    g.set_defaults(run=_cmd_plot)

    b = sub.add_parser(
        "backtest",
        help="rolling-origin hindcast of the growth models: coverage, CRPS and log score out of sample",
        description="For every origin list from --from to the last list minus one year, fit each growth model on "
        "the data up to the origin (NUTS, all origins in one compiled program) and score its predictive "
        "distribution of the leader at every later list: coverage of the central 50/80/90% intervals, PIT "
        "histogram, CRPS (log2 units) and log predictive density, overall and by horizon. Pairs from one origin "
        "share a fit, so scores are dependent; the number of distinct origins is given beside the pairs.",
    )
    _add(
        b,
        "series",
        help=f"series to hindcast: {', '.join(TARGET_NAMES)} or a CSV 'year,flops' (default hpl)",
    )
    b.add_argument(
        "--pool",
        nargs="+",
        default=None,
        metavar="POOL",
        help="hindcast many technologies at once (Farmer & Lafond's protocol): pcdb (the performance curve "
        "database), computing (compute leaders, chips, prices) and/or CSV files 'year,flops'; the random walk "
        "with drift estimated per technology (fl-randomwalk) and its autocorrelated variant (fl-ima)",
    )
    _add(b, "unit")
    _add(
        b,
        "model",
        nargs="+",
        default=None,
        metavar="M",
        help=f"models to score: {', '.join(GROWTH_MODELS)} or all (default all; with --pool none: Farmer & "
        "Lafond's closed forms only, the growth models on up to 4 origins per technology when named)",
    )
    _add(
        b,
        "priors",
        nargs="+",
        default=None,
        help="the growth models' own priors (base, the default) or pooled priors (for randomwalk, walkcycle, "
        "locallinear, regimes). On one series: the shipped priors learned from the computing pool without the "
        "series (one value). With --pool and --model: either or both, learned from the other technologies of "
        "the pool (leave one technology out), rows named MODEL+pooled",
    )
    b.add_argument("--from", dest="start", type=int, metavar="YEAR", help="first origin year (default 2000 for hpl)")
    b.add_argument("--quick", action="store_true", help="every 4th origin and short chains (a smoke test)")
    _add(b, "seed", help="PRNG seed (default 0)")
    _add(b, "format")
    _add(b, "out", help="save every scored pair (netCDF) here")
    b.add_argument(
        "--figure",
        metavar="FILE.png",
        help="with --pool: save the figure of normalised errors against the predicted Student t and every model's "
        "coverage against nominal (.png or .svg)",
    )
    _add(b, "force")
    _add(b, "quiet", help="no status lines")
    b.set_defaults(run=_cmd_backtest)

    m = sub.add_parser(
        "compare",
        help=f"several prior files side by side: median, 90%% interval and P(> {tails}) of brain FLOP/s",
        description="Sample every prior file with the same seed and number of draws and print one table: the "
        f"median and 5%/95% quantiles of brain FLOP/s and P(brain FLOP/s > {tails}) (a file with "
        "[evidence]: its posterior, so labelled). --pool adds the "
        "weighted mixture of the files' distributions as one more row; --save keeps each run for "
        "'uncertainty plot', which draws several runs as one forest plot.",
    )
    m.add_argument("priors", metavar="PRIORS.toml", nargs="+", help="prior files to compare")
    _add(m, "samples", default=None, help="draws per file (default 200000; 10000 with --crossover)")
    _add(m, "seed", help="PRNG seed, the same for every file (default 0)")
    m.add_argument("--pool", metavar="W1,W2,...", help="weights of a pooled row (one per file)")
    m.add_argument(
        "--crossover",
        action="store_true",
        help=f"add each file's crossover year (P(already crossed), median, P(by {HEADLINE_YEAR})) against one "
        "growth fit of --model per --series target",
    )
    _add(
        m,
        "series",
        nargs="+",
        help=f"with --crossover: compute target(s), {', '.join(TARGET_NAMES)} or a CSV (default hpcg); several: "
        "columns for each",
    )
    _add(m, "budget", help="with --crossover: the budget target's budget (USD)")
    _add(m, "unit")
    _add(m, "model", choices=GROWTH_MODELS, default=None, help=f"with --crossover (default {DEFAULT_MODEL})")
    _add(m, "priors", help=f"with --crossover: the growth model's priors, base or pooled (default {DEFAULT_PRIORS})")
    _add(m, "warmup", default=None, help="with --crossover: NUTS warm-up (default 1000)")
    _add(m, "refit", help="with --crossover: fit the growth model again rather than taking it from the fit cache")
    m.add_argument(
        "--keep-draws",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=f"with --crossover: keep every file's joint draws or stream them (brain FLOP/s and the crossover year "
        f"counted in bins; memory independent of --samples); default: keep up to {CROSSOVER_KEEP_LIMIT:,} draws",
    )
    m.add_argument("--save", metavar="DIR", help="save each run as DIR/NAME.nc (for 'uncertainty plot')")
    _add(m, "force", help="overwrite saved runs")
    _add(m, "format")
    _add(m, "quiet")
    m.set_defaults(run=_cmd_compare)

    p = sub.add_parser(
        "reproduce",
        help="a published estimate's numbers beside the engine's",
        description="Recompute Dettmers (2015) exactly from a preset: brain FLOP/s, the full-cascade figure, "
        "doublings needed from 0.58e15 FLOP/s in 2015 and the crossover years for doubling every 1, 1.8 and 3 "
        "years. The other published presets (Carlsmith 2020, synapses x rate, Sandberg & Bostrom 2008) are "
        "sampled (200000 draws, seed 0) and each published figure is set beside the engine's median or 90% interval.",
    )
    p.add_argument("preset", choices=(*PRESETS, *PUBLISHED_PRESETS), help="which preset")
    p.set_defaults(run=_cmd_reproduce)
    return parser


def _header(attrs: dict) -> dict:
    keys = (
        "prior_file",
        "series",
        "model",
        "data_until",
        "num_samples",
        "num_chains",
        "seed",
        "precision",
        "devices",
        "processes",
        "uncertainty_version",
    )
    head = {}
    for k in keys:
        if k in attrs:
            head[k] = attrs[k]
        if k == "series" and "last_observation" in attrs:  # a crossover: what its target counts, its data
            from .output.report import data_line  # not for `sample`: the report module loads ArviZ (about 1 s)

            if attrs.get("target_counts"):
                head["counts"] = attrs["target_counts"]
            head["data"] = data_line(attrs)
    return head


def _run_text(idata, fmt: str) -> str:
    from .output.report import render, report_sections, run_group

    return render(report_sections(idata), fmt, _header(dict(idata[run_group(idata)].attrs)))


def _deliver(text: str, save=None) -> int:
    """Print a command's ``text`` on stdout, then run ``save`` (a callable returning the paths it wrote).

    The save never depends on stdout: a closed pipe or a full disk on stdout is raised only after the
    run is on disk (exit 1 or 2, with the ``saved`` line). Once saved, a late Ctrl-C or SIGTERM changes
    nothing (:func:`uncertainty.interrupts.settled`)."""
    failed = None
    try:
        print(text, flush=True)
    except OSError as exc:  # BrokenPipeError (`| head`) or a full disk (`> /dev/full`)
        _silence_stdout()
        failed = exc
    if save is not None:
        from . import interrupts

        for path in save():
            print(f"saved {path}", file=sys.stderr)
        interrupts.settled()
    if failed is not None:
        raise failed
    return 0


def _print_and_save(idata, args: argparse.Namespace) -> int:
    """Print a fresh run's tables, then save it if ``--out`` was given."""
    from .runs.io import save_run

    save = None if args.out is None else (lambda: [save_run(idata, args.out, args.force)])
    return _deliver(_run_text(idata, args.format), save)


UNIT_HELP = "unit of a CSV series's flops column (default FLOP/s; or give the CSV a 'unit' column)"
KEEP_DRAWS_LIMIT = 1_000_000  # above this, `sample` streams its summaries unless --keep-draws


def _draw_options(args: argparse.Namespace) -> dict:
    """How ``sample`` draws (kept or streamed): chunk size, precision, progress bar."""
    return {
        "chunk_size": args.chunk_size,
        "precision": args.precision,
        "progress": not args.quiet and sys.stderr.isatty(),
    }


def _status(args: argparse.Namespace, text: str, *, always: bool = False) -> None:
    """A status line on stderr (not with --quiet): where no progress bar shows (stderr not a terminal), or
    ``always`` (a step after the bar, such as the statistics of kept draws)."""
    if not args.quiet and (always or not sys.stderr.isatty()):
        print(text, file=sys.stderr, flush=True)


def _sample_attrs(spec, args: argparse.Namespace) -> dict:
    """The provenance attributes of a ``sample`` run (kept draws or streamed summaries)."""
    from .brain.engine import chunk_of
    from .runs.provenance import run_attrs

    chunk = chunk_of(spec, args.samples, args.chunk_size)
    return run_attrs(spec, seed=args.seed, num_samples=args.samples, chunk_size=chunk, precision=args.precision)


def _cmd_sample(args: argparse.Namespace) -> int:
    from .brain.engine import check_memory
    from .brain.priors import load_priors
    from .errors import InputError
    from .multihost import start_processes

    spec = load_priors(args.priors)
    if args.out is not None:
        from .runs.io import check_output_path

        check_output_path(args.out, args.force)  # fail before the work, not after
    several = start_processes(args.coordinator, args.num_processes, args.process_id)
    saved_small = args.out is not None and args.samples <= KEEP_DRAWS_LIMIT
    keep = args.keep_draws if args.keep_draws is not None else (bool(spec.evidence) or (saved_small and not several))
    if not keep:
        if spec.evidence:
            problem = "a file with [evidence] keeps its draws (the posterior reweights them); drop --no-keep-draws"
            raise InputError("--no-keep-draws", None, problem)
        return _sample_streamed(spec, args)
    if several:
        flag = "--keep-draws" if args.keep_draws else "[evidence]"
        raise InputError(flag, None, "a run that keeps its draws runs in one process; stream it (drop --keep-draws)")
    if args.out is not None and args.samples > KEEP_DRAWS_LIMIT and not spec.evidence:
        return _sample_written(spec, args)
    check_memory(spec, args.samples)
    _status(args, f"drawing {args.samples:,} draws of {spec.path} ...")
    from .runs.sample import evidence_warning, sample_run

    idata = sample_run(
        spec,
        args.samples,
        args.seed,
        inference=args.inference,
        keep_parameters=not args.derived_only,
        attrs=_sample_attrs(spec, args),
        **_draw_options(args),
    )
    warning = evidence_warning(idata)
    if warning is not None:
        print(f"warning: {spec.path}: evidence: {warning}", file=sys.stderr)
    _status(args, f"summarising {args.samples:,} kept draws (ArviZ statistics) ...", always=True)
    return _print_and_save(idata, args)


def _cmd_crossover(args: argparse.Namespace) -> int:
    from .brain.engine import check_memory
    from .brain.priors import load_priors
    from .errors import InputError
    from .runs.forecast import ForecastOptions, forecast
    from .runs.io import check_output_path

    if args.model == "scenario":
        given = [f"--{k.replace('_', '-')}" for k in ("series", "data_until", "warmup", "chains") if getattr(args, k)]
        if args.growth_priors == "pooled":
            given.append("--priors")
        if given:
            problem = f"draws the prior file's [growth] table; {', '.join(given)} apply to the data models"
            raise InputError("--model scenario", None, problem)
    spec = load_priors(args.priors)
    targets = list(dict.fromkeys(args.series or [ForecastOptions().series]))
    _check_budget(args, targets)
    if len(targets) > 1:
        given = [f"--{k.replace('_', '-')}" for k in ("out", "data_until") if getattr(args, k) is not None]
        if given:
            problem = f"applies to one target; run each target on its own for {', '.join(given)}"
            raise InputError(given[0], None, problem)
    keep = _crossover_keeps(spec, args, targets)
    if args.out is not None:
        check_output_path(args.out, args.force)
    if keep:
        check_memory(spec, args.samples)
    defaults = ForecastOptions()
    options = ForecastOptions(
        series=targets[0],
        budget_usd=args.budget,
        unit=args.unit,
        model=args.model,
        priors=args.growth_priors,
        data_until=args.data_until,
        num_samples=args.samples,
        num_warmup=args.warmup or defaults.num_warmup,
        num_chains=args.chains or defaults.num_chains,
        horizon=args.horizon,
        compare=not args.no_compare,
        refit=args.refit,
        progress=not args.quiet and sys.stderr.isatty(),
        status=lambda text: _status(args, text, always=True),  # the same lines on a terminal: NUTS shows no bar
    )
    if args.model != "scenario":  # the data models: every check of the data before the fit
        for target in targets:
            _check_series(target, args.unit, replace(options, series=target), kept=keep)
    if len(targets) > 1:
        return _crossover_targets(spec, args, options, targets, keep)
    if not keep:
        return _crossover_streamed(spec, args, options)
    idata = forecast(spec, args.seed, options)
    attrs = idata[next(iter(idata.groups()))].attrs
    if "brain_pareto_k" in attrs:
        from .brain.evidence import diagnosis_of

        print(f"brain FLOP/s conditioned on [evidence] ({diagnosis_of(attrs, 'brain_')})", file=sys.stderr)
    from .output.report import growth_warning

    warning = growth_warning(idata)
    if warning is not None:
        print(warning, file=sys.stderr)
    return _print_and_save(idata, args)


CROSSOVER_KEEP_LIMIT = 100_000  # above this, `crossover` streams (counts the crossover years) unless --keep-draws


def _crossover_keeps(spec, args: argparse.Namespace, targets: list[str]) -> bool:
    """Whether a crossover keeps every joint draw (an InferenceData run) or streams them (counts of the
    crossover year; memory independent of the draws): kept up to :data:`CROSSOVER_KEEP_LIMIT` draws, for
    the scenario model and for a file with [evidence], unless ``--keep-draws`` / ``--no-keep-draws`` says."""
    from .errors import InputError

    if args.keep_draws is not None:
        keep = args.keep_draws
    else:
        keep = args.samples <= CROSSOVER_KEEP_LIMIT or bool(spec.evidence) or args.model == "scenario"
    if keep:
        return True
    flag = "--no-keep-draws" if args.keep_draws is False else "--samples"
    why = "" if args.keep_draws is False else f" (above {CROSSOVER_KEEP_LIMIT:,} draws the crossover streams)"
    if args.model == "scenario":
        raise InputError(flag, None, "the scenario model keeps its draws; drop --no-keep-draws")
    if spec.evidence:
        problem = "a file with [evidence] keeps its draws (the posterior reweights them)"
        raise InputError(flag, None, f"{problem}: at most {CROSSOVER_KEEP_LIMIT:,} draws, or --keep-draws")
    if args.data_until is not None:
        raise InputError("--data-until", None, f"needs the kept draws{why}; add --keep-draws or use fewer draws")
    return False


def _compare_streams(specs, args: argparse.Namespace) -> bool:
    """Whether ``compare --crossover`` streams every file (counts, memory independent of the draws): above
    :data:`CROSSOVER_KEEP_LIMIT` draws unless ``--keep-draws`` / ``--no-keep-draws`` says; never without
    ``--crossover`` (``--keep-draws`` there is a one-line error)."""
    from .errors import InputError

    if not args.crossover:
        if args.keep_draws is not None:
            flag = "--keep-draws" if args.keep_draws else "--no-keep-draws"
            raise InputError(flag, None, "applies with --crossover")
        return False
    stream = args.samples > CROSSOVER_KEEP_LIMIT if args.keep_draws is None else not args.keep_draws
    if not stream:
        return False
    flag = "--no-keep-draws" if args.keep_draws is False else "--samples"
    why = "" if args.keep_draws is False else f" (above {CROSSOVER_KEEP_LIMIT:,} draws compare --crossover streams)"
    for spec in specs:
        if spec.evidence:
            problem = f"{spec.path} has [evidence] and keeps its draws (the posterior reweights them)"
            raise InputError(flag, None, f"{problem}: at most {CROSSOVER_KEEP_LIMIT:,} draws, or --keep-draws")
    if args.save is not None:
        raise InputError("--save", None, f"needs the kept draws{why}; add --keep-draws or use fewer draws")
    return True


def _compare_streamed(specs, args: argparse.Namespace, options, targets: list[str], weights, label: str):
    """The compare table of streamed runs: each file streamed against each target (one growth fit per target,
    the brain draws of ``sample`` with the seed), brain FLOP/s from the first target's runs."""
    from .output.compare import streamed_compare_table, streamed_crossover_columns
    from .runs.compare import run_names
    from .runs.streamed_crossover import stream_crossover

    names = run_names(specs)
    table = None
    for target in targets:
        o = replace(options, series=target)
        runs = {name: stream_crossover(spec, args.seed, o) for name, spec in zip(names, specs, strict=True)}
        if table is None:
            table = streamed_compare_table({n: (r.stats, r.layout) for n, r in runs.items()}, weights, label)
        named = target if len(targets) > 1 else None
        years = {n: r.years for n, r in runs.items()}
        table = table.join(streamed_crossover_columns(years, weights, label, named))
    return table


def _crossover_streamed(spec, args: argparse.Namespace, options) -> int:
    """A streamed crossover: the brain table from streamed statistics, the crossover year from counts."""
    from .output.report import growth_warning
    from .runs.streamed_crossover import stream_crossover

    run = stream_crossover(spec, args.seed, options)
    warning = growth_warning(run.fit)
    if warning is not None:
        print(warning, file=sys.stderr)
    save = None
    if args.out is not None:  # the counts and the fit's draws: what `report` reprints
        from .runs.io import save_run
        from .runs.streamed_crossover import crossover_dataset

        def save():
            return [save_run(crossover_dataset(run), args.out, args.force)]

    return _deliver(_streamed_crossover_text(run, args.format), save)


def _streamed_crossover_text(run, fmt: str) -> str:
    """Every table of a streamed crossover (a fresh run or one read back), as ``crossover`` prints them."""
    from .output.streamed_crossover import streamed_crossover_sections
    from .output.tables import render

    return render(streamed_crossover_sections(run), fmt, _header(run.attrs))


def _check_budget(args: argparse.Namespace, targets: list[str]) -> None:
    """``--budget`` without the ``budget`` target would change nothing: one line, not a silent no-op."""
    from .errors import InputError

    if args.budget is not None and "budget" not in targets:
        raise InputError("--budget", None, "applies to the budget target; add it: --series ... budget")


def _crossover_targets(spec, args: argparse.Namespace, options, targets: list[str], keep: bool) -> int:
    """``crossover --series A B ...``: one growth fit per target (no LOO comparison), the same brain draws
    (the seed's), one table with a row per target; kept, or streamed (counted) target by target."""

    from .output.report import growth_warning, run_group, target_section
    from .output.tables import render

    runs, how = {}, ""
    for target in targets:
        one = replace(options, series=target, compare=False)
        if keep:
            from .runs.forecast import forecast

            runs[target] = forecast(spec, args.seed, one)
            warning = growth_warning(runs[target])
        else:
            from .output.streamed_crossover import streamed_target
            from .runs.streamed_crossover import BIN, stream_crossover

            run = stream_crossover(spec, args.seed, one)
            warning = growth_warning(run.fit)
            if not runs:
                from .output.summaries import summary_table

                brain = summary_table(run.stats, run.layout).loc["brain FLOP/s"]
                attrs = dict(run.attrs)
                how = f"; streamed: {options.num_samples:,} joint draws a target, counted in {BIN:g}-year bins"
            runs[target] = streamed_target(run)
        if warning is not None:
            print(warning.replace("warning: ", f"warning: {target}: ", 1), file=sys.stderr)
    if keep:
        from .quantities import flops_interval

        first = runs[targets[0]]
        attrs = dict(first[run_group(first)].attrs)
        brain = flops_interval(first[run_group(first)]["log10_brain_flops"].values)
    head = {k: v for k, v in _header(attrs).items() if k not in ("counts", "data")}
    head["series"] = " ".join(targets)
    text = (
        f"median {brain['median']:.3g} (5% {brain['q5']:.3g}, 95% {brain['q95']:.3g}), the same draws for every target"
    )
    if "brain_pareto_k" in attrs:  # the posterior given the file's [evidence]
        from .brain.evidence import diagnosis_of

        diagnosis = diagnosis_of(attrs, "brain_")
        text += f"; conditioned on [evidence] ({diagnosis})"
        print(f"brain FLOP/s conditioned on [evidence] ({diagnosis})", file=sys.stderr)
    head = {"prior_file": head.pop("prior_file"), "brain FLOP/s": text, **head}
    return _deliver(render([target_section(runs, how)], args.format, head))


def _streamed_text(stats, layout, fmt: str, attrs: dict) -> str:
    """The report of streamed statistics (a streamed run, its saved summaries, a kept run read back)."""
    from .output.summaries import summary_sections
    from .output.tables import render

    return render(summary_sections(stats, layout), fmt, _header(attrs))


def _sample_streamed(spec, args: argparse.Namespace) -> int:
    """``sample`` without keeping the draws: per-chunk statistics, merged (O(chunk) memory). With several
    processes, each draws its own chunks and process 0 prints and saves the merged summary."""
    import threading

    import jax

    from .runs.streaming import summarize_brain

    # the tables' imports (pandas) load on a second thread while the device draws (it holds no GIL)
    tables = threading.Thread(target=importlib.import_module, args=("uncertainty.output.tables",), daemon=True)
    tables.start()
    _status(args, f"drawing {args.samples:,} draws of {spec.path} (streamed summaries) ...")
    stats, layout = summarize_brain(spec, args.samples, args.seed, **_draw_options(args))
    tables.join()
    if jax.process_index() != 0:
        return 0
    attrs = _sample_attrs(spec, args)
    if jax.process_count() > 1:
        attrs["processes"] = jax.process_count()
    save = None
    if args.out is not None:
        from .runs.io import save_run
        from .runs.streaming import summaries_dataset

        def save():
            return [save_run(summaries_dataset(stats, layout, attrs), args.out, args.force)]

    return _deliver(_streamed_text(stats, layout, args.format, attrs), save)


def _sample_written(spec, args: argparse.Namespace) -> int:
    """``sample --keep-draws --out`` above 10^6 draws: every draw written to disk chunk by chunk as it is
    drawn (never all in memory), the table from the same pass's streamed statistics."""
    from .runs.io import RunWriter
    from .runs.streaming import summarize_brain

    attrs = _sample_attrs(spec, args)
    _status(args, f"drawing {args.samples:,} draws of {spec.path}, written to {args.out} as drawn ...")
    with RunWriter(args.out, args.force, spec, attrs, args.samples, keep_parameters=not args.derived_only) as writer:
        stats, layout = summarize_brain(spec, args.samples, args.seed, **_draw_options(args), on_chunk=writer.add)
        return _deliver(_streamed_text(stats, layout, args.format, attrs), lambda: [writer.close()])


def _cmd_report(args: argparse.Namespace) -> int:
    """Reprint the tables of any file the tool writes: a kept run, streamed summaries or a backtest (each
    checked once, when it is read)."""
    import xarray as xr

    from .runs.io import load_saved

    saved = load_saved(args.run_file)
    if isinstance(saved, xr.Dataset) and saved.attrs["kind"] == "backtest":
        from .growth.hindcast import summarize_backtest
        from .output.backtest import render_backtest

        summary = summarize_backtest(saved)
        for warning in summary.get("warnings", []):  # as `backtest` prints them: the CSV format has no room
            print(f"warning: {args.run_file}: {warning}", file=sys.stderr)
        print(render_backtest(summary, args.format))
        return 0
    if isinstance(saved, xr.Dataset) and "year_hist" in saved:  # a streamed crossover
        from .runs.streamed_crossover import from_crossover_dataset

        print(_streamed_crossover_text(from_crossover_dataset(saved), args.format))
        return 0
    if isinstance(saved, xr.Dataset):
        from .runs.streaming import from_dataset

        print(_streamed_text(*from_dataset(saved), args.format, dict(saved.attrs)))
        return 0
    if _streams_from_file(saved):
        from .runs.streaming import summarize_run

        stats, layout = summarize_run(saved.prior, int(saved.prior.attrs.get("chunk_size", 0)) or None)
        print(_streamed_text(stats, layout, args.format, dict(saved.prior.attrs)))
        return 0
    print(_run_text(saved, args.format))
    return 0


def _streams_from_file(idata) -> bool:
    """Whether ``report`` summarises a kept run chunk by chunk from the file: a run of prior draws only
    (``sample``), of more than 10^6 draws (too many to load and sort)."""
    groups = getattr(idata, "groups", None)  # InferenceData only; a Dataset has none
    if not callable(groups) or "prior" not in groups():
        return False  # a streamed run, a backtest or a compare file: read whole
    if [g for g in groups() if g not in ("prior", "constant_data")]:
        return False
    sizes = idata.prior.sizes
    return sizes.get("chain", 0) == 1 and sizes.get("draw", 0) > KEEP_DRAWS_LIMIT


def _cmd_plot(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window

    from .output.plots import _names, check_plottable, write_figures
    from .runs.io import load_saved

    runs = dict(zip(_names(args.run_files), (load_saved(p) for p in args.run_files), strict=True))
    for (name, run), path in zip(runs.items(), args.run_files, strict=True):
        if _streams_from_file(run):  # too many draws to load: the streamed summaries, as `report` prints them
            from .runs.streaming import summaries_dataset, summarize_run

            attrs = dict(run.prior.attrs)
            runs[name] = summaries_dataset(*summarize_run(run.prior, int(attrs.get("chunk_size", 0)) or None), attrs)
            n = run.prior.sizes["draw"]
            note = f"note: {path}: {n:,} draws, more than {KEEP_DRAWS_LIMIT:,}: plotted from their streamed summaries"
            print(f"{note} (read chunk by chunk), brain FLOP/s only", file=sys.stderr)
        check_plottable(path, runs[name])
    for path in write_figures(runs, args.out, args.format, args.force):
        print(path)
    return 0


def _check_series(series: str, unit: str | None, options=None, kept: bool = True) -> None:
    """Read a growth series before the work (bad rows, a unit given twice, and with a crossover's
    ``options`` every check of its fit: one line, exit 2), then warn, in one line, when its values are
    implausible as FLOP/s (a CSV in PFLOP/s read as FLOP/s, say)."""
    from .growth.history import load_growth_data, magnitude_warning

    if options is not None:
        from .runs.forecast import check_data

        data = check_data(options, kept)
    else:
        data = load_growth_data(series, unit)
    warning = magnitude_warning(data)
    if warning:
        print(f"warning: {warning}", file=sys.stderr)


def _cmd_backtest(args: argparse.Namespace) -> int:
    from .choices import GROWTH_MODELS
    from .growth.hindcast import BacktestOptions, backtest, summarize_backtest
    from .output.backtest import render_backtest
    from .runs.io import check_output_path, save_run

    if args.pool is not None:
        return _pooled_backtest(args)
    if args.figure is not None:
        from .errors import InputError

        raise InputError("--figure", None, "applies to --pool (a single series: backtest --out, then plot)")
    priors = args.growth_priors or ["base"]
    if len(priors) > 1:
        from .errors import InputError

        raise InputError("--priors", None, "one value on a single series (both together apply to --pool)")
    args.series = args.series or "hpl"
    models = GROWTH_MODELS if args.model is None or "all" in args.model else tuple(dict.fromkeys(args.model))
    if args.out is not None:
        check_output_path(args.out, args.force)
    _check_series(args.series, args.unit)
    options = BacktestOptions(
        series=args.series,
        unit=args.unit,
        models=models,
        start=args.start,
        quick=args.quick,
        seed=args.seed,
        priors=priors[0],
        status=lambda text: _status(args, text, always=True),  # the same lines on a terminal: NUTS shows no bar
    )
    ds = backtest(options)
    summary = summarize_backtest(ds)
    for warning in summary["warnings"]:  # also on stderr: the CSV format has no room for them
        print(f"warning: {args.series}: {warning}", file=sys.stderr)
    save = None if args.out is None else (lambda: [save_run(ds, args.out, args.force)])
    return _deliver(render_backtest(summary, args.format), save)


def _pooled_backtest(args: argparse.Namespace) -> int:
    """``backtest --pool``: Farmer & Lafond's hindcast on every technology of the pools (closed form, no fit)."""
    from .choices import GROWTH_MODELS
    from .errors import InputError
    from .growth.pool import load_pool
    from .growth.pooled_hindcast import PoolOptions, pooled_hindcast
    from .output.backtest import render_pooled

    given = [
        flag
        for flag, value in (
            ("--series", args.series),
            ("--unit", args.unit),
            ("--from", args.start),
            ("--out", args.out),
        )
        if value is not None
    ]
    if given:
        raise InputError(given[0], None, "applies to a single series, not to --pool")
    if args.growth_priors is not None and args.model is None:
        raise InputError("--priors", None, "applies to the growth models: name them with --model")
    models = () if args.model is None else GROWTH_MODELS if "all" in args.model else tuple(dict.fromkeys(args.model))
    if "pooled" in (args.growth_priors or ()):
        from .growth.models import POOLED_SITES

        if not any(m in POOLED_SITES for m in models):
            problem = f"pooled priors exist for {', '.join(POOLED_SITES)}, not for {', '.join(models)}"
            raise InputError("--priors", None, problem)
    if args.figure is not None:
        _check_figure_path(args.figure, args.force)
    pools = list(dict.fromkeys(args.pool))
    technologies = load_pool(pools)
    _status(args, f"pooled hindcast of {len(technologies)} technologies (Farmer & Lafond's random walk, closed form)")
    options = PoolOptions(
        pool=tuple(pools),
        models=models,
        priors=tuple(dict.fromkeys(args.growth_priors or ("base",))),
        quick=args.quick,
        seed=args.seed,
        status=lambda text: _status(args, text, always=True),
    )
    summary = pooled_hindcast(technologies, options)

    def save():
        from .output.plots import pooled_errors_figure, save_figure

        return [save_figure(pooled_errors_figure(summary), args.figure, args.force)]

    return _deliver(render_pooled(summary, args.format), None if args.figure is None else save)


def _check_figure_path(path: str, force: bool) -> None:
    """One line before any work: a figure file that exists (without --force), a missing folder, a bad suffix."""
    from .output.plots import check_figure_path

    check_figure_path(path, force)


def _weights(text: str | None, n: int) -> list[float] | None:
    from .errors import InputError

    if text is None:
        return None
    try:
        weights = [float(w) for w in text.split(",")]
    except ValueError:
        raise InputError("--pool", None, f"expected comma-separated numbers, got '{text}'") from None
    if len(weights) != n:
        raise InputError("--pool", None, f"expected {n} weights (one per file), got {len(weights)}")
    if not all(math.isfinite(w) and w >= 0 for w in weights) or sum(weights) <= 0:
        raise InputError("--pool", None, "weights must be >= 0, finite and not all zero")
    return weights


def _cmd_compare(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .brain.engine import check_memory
    from .brain.priors import load_priors
    from .output.compare import compare_table, crossover_columns, row_labels
    from .output.report import Section, render
    from .quantities import HEADLINE_YEAR
    from .runs.compare import pool_draws, run_names, sample_files
    from .runs.io import brain_inference_data, check_output_path, run_attrs, save_run

    specs = [load_priors(p) for p in args.priors]  # every file checked before any work
    weights = _weights(args.pool, len(specs))
    if args.samples is None:
        args.samples = 10_000 if args.crossover else 200_000
    streamed = _compare_streams(specs, args)
    for spec in specs if not streamed else ():
        check_memory(spec, args.samples)
    if args.save is not None:  # every saved name checked before any work; the folder is made at the end
        for name in run_names(specs):
            check_output_path(Path(args.save) / f"{name}.nc", args.force, make_folder=True)
    targets = list(dict.fromkeys(args.series or ["hpcg"]))
    if not args.crossover:  # these shape the crossover columns only: without them, one line, not a silent no-op
        from .errors import InputError

        given = (("--series", args.series), ("--budget", args.budget), ("--unit", args.unit))
        given += (("--model", args.model), ("--warmup", args.warmup), ("--refit", args.refit or None))
        for flag, value in given:
            if value is not None:
                raise InputError(flag, None, "applies with --crossover")
        if args.growth_priors == "pooled":
            raise InputError("--priors", None, "applies with --crossover")
    if args.crossover:  # the growth data checked before any work
        from .runs.forecast import ForecastOptions

        _check_budget(args, targets)

        options = ForecastOptions(
            series=targets[0],
            unit=args.unit,
            model=args.model or ForecastOptions().model,
            priors=args.growth_priors,
            num_samples=args.samples,
            num_warmup=args.warmup or ForecastOptions().num_warmup,
            compare=False,
            budget_usd=args.budget,
            refit=args.refit,
            status=lambda text: _status(args, text, always=True),
            progress=not args.quiet and sys.stderr.isatty(),
        )
        for target in targets:
            _check_series(target, args.unit, replace(options, series=target), kept=not streamed)
    label = "pool (weights " + ",".join(f"{w:g}" for w in weights or []) + ")"
    if streamed:
        table = _compare_streamed(specs, args, options, targets, weights, label)
        names = run_names(specs)
    else:
        runs = sample_files(specs, args.samples, args.seed, progress=not args.quiet and sys.stderr.isatty())
        names = list(runs)
        flops = {name: run.draws["log10_brain_flops"] for name, run in runs.items()}
        pooled = pool_draws(args.seed, list(flops.values()), weights) if weights is not None else None
        table = compare_table(flops, pooled, label)
    if args.crossover and not streamed:  # files x targets: one growth fit per target, the same brain draws
        from .runs.forecast import crossover_years, last_observation

        for target in targets:
            o = replace(options, series=target)
            years = crossover_years(dict(zip(runs, specs, strict=True)), args.seed, o)
            pooled_years = pool_draws(args.seed, list(years.values()), weights) if weights is not None else None
            named = target if len(targets) > 1 else None
            table = table.join(crossover_columns(years, pooled_years, label, last_observation(o), named))
    table = table.rename(index=row_labels(names, specs))  # "NAME (posterior)" for a file with [evidence]
    from .output.tables import _year

    probs = {c: (lambda v: f"{v:.3f}") for c in table.columns if c.startswith("p_")}
    probs.update({c: _year for c in table.columns if c.startswith("median_year")})
    column = "p_gt_1eN" if args.format in ("json", "csv") else "p gt 1eN"  # as the header shows the column
    note = (
        f"{args.samples} draws per file, seed {args.seed}; median, 5% and 95% of brain FLOP/s; "
        f"{column} = P(brain FLOP/s > 1eN)"
    )
    if streamed:
        note += (
            "; streamed: counted in bins (brain FLOP/s in 0.001 decades, interpolated; the crossover year in "
            "0.01-year bins, to the bin)"
        )
    if args.crossover:
        note += (
            f"; crossover against {', '.join(targets)} ({options.model}): p already = P(crossed by the target's last "
            "observation), median year ('already': among those draws; 'never': among draws that do not cross by "
            f"the horizon), p by {HEADLINE_YEAR}"
        )
    if any(spec.evidence for spec in specs):
        note += "; (posterior): a file with [evidence], conditioned on it"
    section = Section(
        "compare", table, index_name="prior file", formats={**probs, "log10_median": lambda v: f"{v:.2f}"}, note=note
    )
    save = None
    if args.save is not None:

        def save():
            Path(args.save).mkdir(parents=True, exist_ok=True)
            for spec, (name, run) in zip(specs, runs.items(), strict=True):
                attrs = run_attrs(spec, seed=args.seed, num_samples=args.samples)
                idata = brain_inference_data(run.prior, spec, attrs, conditioned=run.conditioned)
                yield save_run(idata, Path(args.save) / f"{name}.nc", args.force)

    return _deliver(render([section], args.format), save)


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from .article import format_reproduction, reproduce
    from .published import PUBLISHED, format_published, reproduce_published

    if args.preset in PUBLISHED:
        print(format_published(args.preset, reproduce_published(args.preset)))
    else:
        print(format_reproduction(reproduce(args.preset)))
    return 0


COMPILING = ("sample", "crossover", "compare", "backtest", "reproduce")  # commands that compile JAX programs


def _silence_stdout() -> None:
    """Point stdout at /dev/null: after a failed write to it, the exit's flush would fail (and print) again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _check_backend(args: argparse.Namespace) -> None:
    """With ``JAX_PLATFORMS`` set, check that JAX can start one of the backends it names (a machine without a
    GPU given ``JAX_PLATFORMS=cuda`` is one line, not a traceback from inside JAX). Not for a run of several
    processes: ``jax.distributed`` must start before the backend does."""
    from .errors import InputError
    from .multihost import launched

    platforms = os.environ.get("JAX_PLATFORMS", "")
    if not platforms or getattr(args, "coordinator", None) or launched():
        return  # JAX chooses among the backends this machine has (the CPU at least)
    import jax

    try:
        jax.devices()
    except Exception as exc:  # RuntimeError for an unknown name; a bare AssertionError for a missing plugin
        reason = (str(exc).splitlines() or [""])[0].split(" (set JAX_PLATFORMS")[0] or type(exc).__name__
        problem = f"JAX cannot start this backend ({reason}); unset JAX_PLATFORMS to let it choose"
        raise InputError(f"JAX_PLATFORMS={platforms}", None, problem) from None


_XLA_PROBE = "import jax; jax.jit(lambda x: x + 1)(1).block_until_ready()"


def _check_xla_flags(args: argparse.Namespace) -> None:
    """With ``XLA_FLAGS`` set, check that XLA accepts it before any work: XLA ends the process with its own
    fatal log line on an unknown flag, which Python cannot catch, so a child process starts the backend
    and compiles one program first. A value that passed is remembered in the cache folder (one marker file
    per value and JAX version), so the check costs about a second once. Not for a run of several
    processes (each would start the backend before ``jax.distributed``)."""
    import hashlib
    import subprocess

    from . import warmstart
    from .errors import InputError
    from .multihost import launched

    flags = os.environ.get("XLA_FLAGS", "")
    if not flags or getattr(args, "coordinator", None) or launched():
        return
    from importlib.metadata import version

    folder = warmstart.cache_dir()
    key = hashlib.sha256(f"{flags}\0{version('jax')}\0{version('jaxlib')}".encode()).hexdigest()[:32]
    marker = os.path.join(folder, f"xla-flags-{key}.ok") if folder else None
    if marker and os.path.isfile(marker):
        return
    try:
        done = subprocess.run(
            [sys.executable, "-c", _XLA_PROBE],
            env={
                **os.environ,
                "JAX_PLATFORMS": "cpu",
            },  # XLA parses its flags for every backend; the CPU is always there
            capture_output=True,
            text=True,
            errors="replace",
            timeout=300,
        )
    except (OSError, subprocess.TimeoutExpired):
        return  # the probe itself could not run: the run goes on and XLA speaks for itself
    if done.returncode != 0:
        logged = re.findall(r"^([EF])\d{4} [\d:.]+ +\d+ [^\]]+\] (.*)$", done.stderr, re.M)  # XLA's log lines
        about_flags = [(level, text) for level, text in logged if re.search(r"flag|XLA_FLAGS", text, re.I)]
        if not about_flags:  # the probe failed for another reason (memory, a signal): the run speaks for itself
            return
        lines = [text for level, text in about_flags if level == "E"] + [t for lv, t in about_flags if lv == "F"]
        reason = lines[0].strip()
        raise InputError(f"XLA_FLAGS={flags}", None, f"XLA refuses it ({reason}); fix or unset XLA_FLAGS")
    if marker:
        try:
            os.makedirs(folder, exist_ok=True)
            with open(marker, "w"):
                pass
        except OSError:
            pass  # not remembered: the next run checks again


def entry() -> None:
    """The ``uncertainty`` command and ``python -m uncertainty``: Ctrl-C and SIGTERM handled from the first
    moment (:mod:`uncertainty.interrupts`, before JAX starts a thread), text that the terminal's encoding
    cannot show escaped rather than fatal (file names that are not UTF-8), then :func:`main`."""
    from . import interrupts

    interrupts.install()
    for stream in (sys.stdout, sys.stderr):
        if stream is not None and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    raise SystemExit(main())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 1 stdout closed by its reader, 2 bad input or an output
    that cannot be written, 130/143 interrupted)."""
    from .errors import InputError

    parser = build_parser()
    args = parser.parse_args(argv)
    if sys.stdout is None:  # `uncertainty ... >&-`: the table would go nowhere
        if sys.stderr is not None:
            print("error: standard output is closed; redirect it to a file or /dev/null", file=sys.stderr)
        return 2
    from . import interrupts

    try:
        if args.command in COMPILING:
            from . import warmstart

            _check_xla_flags(args)  # first: starting any backend with flags XLA refuses ends the process
            _check_backend(args)
            warmstart.enable()
        with interrupts.terminating():
            return args.run(args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `uncertainty reproduce dettmers2015 | head -1`
        _silence_stdout()
        return 1
    except OSError as exc:  # e.g. stdout on a full disk (`> /dev/full`): one line, not a traceback
        _silence_stdout()
        print(f"error: {exc.filename or 'output'}: cannot write: {exc.strerror or exc}", file=sys.stderr)
        return 2
