"""Several prior files drawn side by side, with the same seed and number of draws
(:func:`~uncertainty.brain.engine.sample_brain`), and their weighted pool.

A pool (``--pool W1,W2,...``) is the mixture of the files' distributions with those weights
(Carlsmith's "all methods" view): each pooled draw comes from file ``i`` with probability
``w_i / sum(w)``, taking that file's draw of the same index.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..brain.engine import sample_brain
from ..brain.evidence import Conditioned, condition, posterior_sample
from ..brain.priors import PriorSpec
from ..errors import InputError

__all__ = ["FileRun", "pool_draws", "run_names", "sample_files"]


class FileRun(NamedTuple):
    """One prior file's draws in a comparison: ``draws``, what the table compares (the prior's, or for a file
    with ``[evidence]`` the posterior's, as many); ``prior`` and ``conditioned``, what a saved run holds."""

    draws: dict[str, np.ndarray]
    prior: dict[str, np.ndarray]
    conditioned: Conditioned | None


def run_names(specs: Sequence[PriorSpec]) -> list[str]:
    """Each file's name in the table and as ``--save DIR/NAME.nc``: its stem, with ``-2``, ``-3``, ... for a
    stem met before."""
    names: list[str] = []
    for spec in specs:
        stem = Path(spec.path).stem
        name, k = stem, 2
        while name in names:
            name, k = f"{stem}-{k}", k + 1
        names.append(name)
    return names


def sample_files(
    specs: Sequence[PriorSpec], num_samples: int, seed: int = 0, progress: bool = False
) -> dict[str, FileRun]:
    """The draws of each prior file by :func:`run_names`; for a file with ``[evidence]`` the table's draws are
    the posterior's."""
    out: dict[str, FileRun] = {}
    for name, spec in zip(run_names(specs), specs, strict=True):
        prior = sample_brain(spec, num_samples, seed, progress=progress)
        if not spec.evidence:
            out[name] = FileRun(draws=prior, prior=prior, conditioned=None)
            continue
        conditioned = condition(spec, prior, seed)
        out[name] = FileRun(
            draws=posterior_sample(conditioned, num_samples, seed), prior=prior, conditioned=conditioned
        )
    return out


def pool_draws(key_seed: int, log10_flops: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    """The weighted mixture of several runs' log10 brain FLOP/s (all of one length)."""
    if len(weights) != len(log10_flops):
        raise InputError("--pool", None, f"expected {len(log10_flops)} weights (one per file), got {len(weights)}")
    w = np.asarray(weights, dtype=float)
    if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise InputError("--pool", None, "weights must be >= 0, finite and not all zero")
    x = np.stack(log10_flops)
    which = np.random.default_rng(key_seed).choice(len(w), size=x.shape[1], p=w / w.sum())
    return x[which, np.arange(x.shape[1])]
