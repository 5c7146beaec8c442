"""Published estimates of brain compute, each shipped as a prior file and reproduced by sampling it.

For every preset of :data:`PUBLISHED`, :func:`reproduce_published` samples the file (seed 0) and
sets each published figure beside the engine's matching statistic: a median beside a central
estimate, a 90% interval beside a published range, a per-scenario median beside a per-level
figure. The Dettmers (2015) presets, whose fields are all fixed, are reproduced exactly by
:mod:`uncertainty.article` instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .brain.engine import sample_brain
from .brain.priors import load_priors
from .quantities import central

__all__ = ["PUBLISHED", "Figure", "PublishedRow", "reproduce_published", "format_published"]


@dataclass(frozen=True)
class Figure:
    """One published figure: its label, its text, and the engine's statistic of the draws that it is
    compared with (log10 FLOP/s: one value, or a (5%, 95%) pair)."""

    label: str
    published: str
    statistic: Callable[[dict[str, np.ndarray]], float | tuple[float, float]]


@dataclass(frozen=True)
class PublishedRow:
    label: str
    published: str
    engine: float | tuple[float, float]  # log10 FLOP/s

    def engine_text(self) -> str:
        if isinstance(self.engine, tuple):
            return f"{10.0 ** self.engine[0]:.2g} - {10.0 ** self.engine[1]:.2g}"
        return f"{10.0**self.engine:.3g}"


def _median(d):
    return float(np.median(d["log10_brain_flops"]))


def _interval(d):
    lo, _, hi = central(d["log10_brain_flops"])
    return lo, hi


def _scenario_median(k: int):
    return lambda d: float(np.median(d["log10_brain_flops"][d["scenario"] == k]))


PUBLISHED: dict[str, tuple[str, tuple[Figure, ...]]] = {
    "carlsmith2020-mechanistic": (
        "Carlsmith (2020), mechanistic method",
        (
            Figure("central estimate (engine: median)", "~1e15", _median),
            Figure("range (engine: 90% interval)", "1e13 - 1e17", _interval),
        ),
    ),
    "synapse-rate": (
        "synapses x rate (Merkle 1989, Kurzweil 2005)",
        (
            Figure("Merkle (1989) range (engine: 90% interval)", "1e13 - 1e16", _interval),
            Figure("Kurzweil (2005) (engine: median)", "2e16", _median),
        ),
    ),
    "sandberg-bostrom2008": (
        "Sandberg & Bostrom (2008), whole brain emulation levels",
        (
            Figure("spiking neural network (engine: median in the scenario)", "1e18", _scenario_median(0)),
            Figure("electrophysiology (engine: median in the scenario)", "1e22", _scenario_median(1)),
            Figure("metabolome (engine: median in the scenario)", "1e25", _scenario_median(2)),
            Figure("all levels, equal weights (engine: 90% interval)", "-", _interval),
        ),
    ),
}


def reproduce_published(preset: str, num_samples: int = 200_000, seed: int = 0) -> list[PublishedRow]:
    """Sample a published preset and set each published figure beside the engine's statistic."""
    from .article import preset_path

    _, figures = PUBLISHED[preset]
    draws = sample_brain(load_priors(preset_path(preset)), num_samples, seed)
    return [PublishedRow(f.label, f.published, f.statistic(draws)) for f in figures]


def format_published(preset: str, rows: list[PublishedRow], num_samples: int = 200_000, seed: int = 0) -> str:
    """The side-by-side table of :func:`reproduce_published`."""
    title, _ = PUBLISHED[preset]
    table = [("quantity (FLOP/s)", "published", "engine")] + [(r.label, r.published, r.engine_text()) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(3)]
    lines = [f"{title}: preset '{preset}', {num_samples} draws, seed {seed}", ""]
    lines += [f"{a:<{widths[0]}}  {b:>{widths[1]}}  {c:>{widths[2]}}" for a, b, c in table]
    lines += ["", "Each published range is read as a 90% interval of a lognormal (see the prior file's comments)."]
    return "\n".join(lines)
