"""Reproduce the source article's numbers (Dettmers 2015; SPEC section 4).

The article's published figures are quoted here as reference values; the
engine recomputes each from a preset prior file of fixed values, in float64.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from .brain.cost import BrainParams, brain_log10_flops
from .brain.lnp import STAGES, Convention
from .brain.priors import CLASS_FIELDS, Point, PriorSpec, load_priors
from .choices import PRESETS
from .errors import InputError, PriorError
from .growth.crossover import doublings_needed, scenario_crossover_year

__all__ = ["ARTICLE", "PRESETS", "Reproduction", "point_brain_flops", "preset_path", "reproduce", "format_reproduction"]


@dataclass(frozen=True)
class _Article:
    brain_flops: float = 1.075e21  # "my estimate would be 1.075x10^21 FLOPS"
    start_flops: float = 0.58e15  # Tianhe-2 on HPCG
    start_year: float = 2015.0  # the article's date (July 2015)
    doublings: int = 21  # "it would take 21 doubling periods"
    scenarios: tuple[tuple[float, str, float], ...] = (
        (1.0, "Moore's law", 2037.0),
        (1.8, "growth of the last 60 years", 2053.0),
        (3.0, "networking bandwidth", 2078.0),
    )


ARTICLE = _Article()


def preset_path(name: str) -> Path:
    """Path of a shipped prior file, e.g. ``preset_path("default")``."""
    filename = name if name.endswith(".toml") else f"{name}.toml"
    packaged = resources.files("uncertainty") / "priors" / filename
    if packaged.is_file():
        return Path(str(packaged))
    source_tree = Path(__file__).resolve().parent.parent / "priors" / filename
    if source_tree.is_file():
        return source_tree
    raise InputError(filename, None, "no such preset")


def point_brain_flops(spec: PriorSpec, convention: Convention | None = None) -> float:
    """Brain FLOP/s of a prior file whose class fields are all fixed values, in float64."""
    for key in spec.convention_priors:
        raise PriorError(spec.path, f"convention.{key}", "must be a fixed value to be evaluated exactly")
    columns = {}
    for f in CLASS_FIELDS:
        values = []
        for c in spec.classes:
            if c.method != "lnp":
                raise PriorError(spec.path, f"classes.{c.name}.method", "only LNP classes are evaluated here")
            prior = c.params[f]
            if not isinstance(prior, Point):
                raise PriorError(spec.path, f"classes.{c.name}.{f}", "must be a fixed value to be evaluated exactly")
            values.append(prior.value)
        columns[f] = values
    with jax.enable_x64(True):
        params = BrainParams.from_fields({f: jnp.asarray(v, dtype=jnp.float64) for f, v in columns.items()})
        log10 = brain_log10_flops(params, convention or spec.convention).total
        return float(10.0 ** np.float64(log10))


@dataclass(frozen=True)
class Reproduction:
    """The article's figures beside the engine's for one preset."""

    preset: str
    path: str
    stages: tuple[str, ...]
    brain_flops: float
    full_cascade_flops: float
    start_flops: float
    start_year: float
    doublings: float
    years: tuple[tuple[float, str, float, float], ...]  # (d, label, article, engine)


def _fixed(spec: PriorSpec, name: str) -> float:
    if spec.growth is None:
        raise PriorError(spec.path, "growth", "missing: the preset needs a [growth] table")
    prior = getattr(spec.growth, name)
    if not isinstance(prior, Point):
        raise PriorError(spec.path, f"growth.{name}", "must be a fixed value")
    return prior.value


def reproduce(preset: str) -> Reproduction:
    """Recompute the article's numbers from a preset (see :data:`PRESETS`)."""
    path = preset_path(preset)
    spec = load_priors(path)
    brain = point_brain_flops(spec)
    full = point_brain_flops(spec, spec.convention._replace(stages=STAGES))
    f0, t0 = _fixed(spec, "start_flops"), _fixed(spec, "start_year")
    with jax.enable_x64(True):
        n = float(doublings_needed(brain, f0))
        years = tuple(
            (d, label, article, float(scenario_crossover_year(brain, f0, t0, d, whole_periods=True)))
            for d, label, article in ARTICLE.scenarios
        )
    return Reproduction(preset, str(path), spec.convention.stages, brain, full, f0, t0, n, years)


def format_reproduction(r: Reproduction) -> str:
    """A side-by-side table: the article's figure and the engine's."""
    rows = [
        (f"brain FLOP/s (stages counted: {', '.join(r.stages)})", f"{ARTICLE.brain_flops:.6g}", f"{r.brain_flops:.6g}"),
        ("brain FLOP/s, full cascade (all five stages)", "-", f"{r.full_cascade_flops:.6g}"),
        (
            f"practical FLOP/s in {r.start_year:g} (Tianhe-2, HPCG)",
            f"{ARTICLE.start_flops:.6g}",
            f"{r.start_flops:.6g}",
        ),
        (
            "doublings needed, log2(brain / practical)",
            f"{ARTICLE.doublings}",
            f"{r.doublings:.2f} -> {int(np.ceil(r.doublings))}",
        ),
    ]
    for d, label, article, engine in r.years:
        rows.append(
            (
                f"crossover year, doubling every {d:g} y ({label})",
                f"{article:g}",
                f"{engine:.1f}".rstrip("0").rstrip("."),
            )
        )
    head = ("quantity", "article", "engine")
    widths = [max(len(x[i]) for x in (head, *rows)) for i in range(3)]
    lines = [f"Dettmers (2015) reproduced from preset '{r.preset}' ({r.path})", ""]
    for row in (head, *rows):
        lines.append(f"{row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]:>{widths[2]}}")
    lines += [
        "",
        f"The article rounds {r.doublings:.2f} up to {int(np.ceil(r.doublings))} whole doubling periods from "
        f"{r.start_year:g}; its 2037 for Moore's law",
        f"is one year later than {r.start_year:g} + {int(np.ceil(r.doublings))} x 1.0 = "
        f"{r.start_year + np.ceil(r.doublings):g}, and its 2053 is 2052.8 rounded.",
    ]
    if r.preset == "dettmers2015-text":
        lines.append(
            "With the granule filter the text states (3x4x5) the total is 1.00009e+21; the published"
            " 1.075e+21 needs the 10x1000x5 filter in the granule term too (preset 'dettmers2015')."
        )
    return "\n".join(lines)
