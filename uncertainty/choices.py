"""The names the command line offers, free of heavy imports (``uncertainty --help`` stays fast).

Each constant has its home here; the modules that use them (the engine, the growth models, the
report, the presets) import them from this module, so the two never drift apart.
"""

from __future__ import annotations

__all__ = [
    "BLOCK_SIZE",
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_MODEL",
    "DEFAULT_PRIORS",
    "GROWTH_PRIORS",
    "FORECAST_MODELS",
    "FORMATS",
    "GROWTH_MODELS",
    "UNITS",
    "PRECISIONS",
    "PRESETS",
    "PUBLISHED_PRESETS",
    "TARGET_NAMES",
    "DEFAULT_HORIZON",
    "MAX_HORIZON",
]

FORMATS = ("table", "markdown", "json", "csv")  # report output formats
BLOCK_SIZE = 1 << 10  # draws per PRNG key: a chunk is a whole number of blocks, block b keyed fold_in(key(seed), b)
DEFAULT_CHUNK_SIZE = 1 << 15  # draws per chunk on a CPU, the fastest of 2**14-2**18 here (GPUs: default_chunk_size)
PRECISIONS = ("float64", "float32")
UNITS = ("FLOP/s", "GFLOP/s", "TFLOP/s", "PFLOP/s", "EFLOP/s")  # of a growth CSV (growth.history.UNITS)
GROWTH_MODELS = ("linear", "changepoint", "randomwalk", "walkcycle", "locallinear", "regimes")
FORECAST_MODELS = (*GROWTH_MODELS, "scenario")  # the growth models plus the prior file's [growth] table
DEFAULT_MODEL = "walkcycle"  # best pooled CRPS among the models calibrated on the pcdb pool (growth.selection)
GROWTH_PRIORS = ("base", "pooled")  # a growth model's own priors, or pooled ones (growth.pooled_priors)
DEFAULT_PRIORS = "base"  # the default model's priors: "base" (its own) or "pooled" (growth.pooled_priors)
PRESETS = ("dettmers2015", "dettmers2015-text")  # the source article's numbers
PUBLISHED_PRESETS = ("carlsmith2020-mechanistic", "synapse-rate", "sandberg-bostrom2008")  # other published counts
TARGET_NAMES = ("hpcg", "hpl", "ai-cluster", "accelerator", "budget")  # compute targets (growth.targets)
DEFAULT_HORIZON = 2300.0  # the last year a crossover searches, by default
MAX_HORIZON = 10_000.0  # the latest --horizon (the earliest is the last year of quantities.BY_YEARS)
