"""Prior files: TOML text -> a validated, immutable prior specification.

The vocabulary (SPEC section 6). A parameter is either a plain number (fixed)
or an inline table naming exactly one distribution::

    rate = 200                                   # fixed, Hz
    rate = { lognormal = [0.1, 200] }            # 5th and 95th percentiles
    rate = { lognormal = [1, 100], ci = 0.8 }    # 10th and 90th percentiles
    rate = { normal = [150, 250] }               # 90% interval of a normal
    rate = { uniform = [50, 1000] }
    rate = { loguniform = [0.1, 1000] }
    rate = { point = 200 }
    rate = { lognormal = [0.1, 200], min = 0.05, max = 1000 }   # truncated
    rate = { choice = [200, { lognormal = [0.1, 2] }], weights = [1, 1] }
    rate = { lognormal = [0.1, 200], unit = "Hz" }   # unit is checked

A file holds ``[meta]`` (free text), ``[convention]`` (the counting
convention), ``[defaults]`` (class fields every class takes unless it sets
its own; ``shared = ["rate"]`` there makes one draw serve every class),
``[classes.NAME]`` tables (one per neuron class, any number) and an optional
``[growth]`` table (the article's compute-growth scenario). Every problem is
raised as a :class:`~uncertainty.errors.PriorError` naming file, key and
problem. A file is read only when it is a regular file of at most
:data:`MAX_FILE_BYTES` (a leading byte-order mark is dropped), and is refused at
load time, before anything is compiled, above :data:`MAX_CLASSES` classes or
:data:`MAX_RANDOM_DRAWS` random draws per sample.

A class is an LNP neuron (``method = "lnp"``, the default: every field of
:data:`CLASS_FIELDS`) or any published way of counting (``method =
"expression"``): ``flops_per_second = "synapses * rate * flop_per_spike"``, an
arithmetic expression (:mod:`uncertainty.brain.expression`) over fields the class sets
itself, with free names, positive values and any known ``unit`` (:func:`known_unit`)::

    [classes.synaptic]
    method = "expression"
    flops_per_second = "synapses * rate * flop_per_spike"
    synapses = { lognormal = [1e14, 1e15], unit = "synapses" }
    rate = { lognormal = [0.1, 2], unit = "Hz" }
    flop_per_spike = { loguniform = [1, 100], unit = "FLOP" }
"""

from __future__ import annotations

import difflib
import math
import tomllib
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np

from ..errors import PriorError
from ..userfiles import MiB, read_user_text
from .expression import FUNCTIONS, REDUCERS, ExpressionError, parse_expression
from .intervals import lognormal_params, normal_params
from .lnp import STAGES, Convention
from .sites import CONVENTION, SHARED, Site, SiteError, field_site, resolve, site_name, site_priors, tied_sites

__all__ = [
    "CLASS_FIELDS",
    "CONVENTION_FIELDS",
    "correlated_priors",
    "correlation_matrix",
    "GROWTH_FIELDS",
    "Choice",
    "Field",
    "SameAs",
    "METHODS",
    "expression_field",
    "fixed_values",
    "EVIDENCE_FUNCTIONS",
    "known_unit",
    "MAX_CLASSES",
    "MAX_FILE_BYTES",
    "MAX_RANDOM_DRAWS",
    "random_draws",
    "UNIT_WORDS",
    "GrowthSpec",
    "TARGET_FIELDS",
    "TargetSpec",
    "LogNormal",
    "LogUniform",
    "NeuronClassSpec",
    "Normal",
    "Point",
    "Prior",
    "PriorSpec",
    "Scenario",
    "Evidence",
    "Uniform",
    "load_priors",
    "parse_priors",
]


# --------------------------------------------------------------------------
# Distribution specs (plain data; distributions.py turns them into NumPyro)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    """A fixed value."""

    value: float


@dataclass(frozen=True)
class _Elicited:
    """A distribution elicited as its central ``ci`` interval ``[lo, hi]``, optionally truncated to
    ``[min, max]`` (two are equal only when of the same family)."""

    lo: float
    hi: float
    ci: float = 0.9
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class LogNormal(_Elicited):
    """Lognormal whose central ``ci`` interval is ``[lo, hi]``; optionally truncated."""


@dataclass(frozen=True)
class Normal(_Elicited):
    """Normal whose central ``ci`` interval is ``[lo, hi]``; optionally truncated."""


@dataclass(frozen=True)
class Uniform:
    """Uniform on ``[lo, hi]`` (truncation already intersected in)."""

    lo: float
    hi: float


@dataclass(frozen=True)
class LogUniform:
    """Log-uniform on ``[lo, hi]`` (truncation already intersected in)."""

    lo: float
    hi: float


@dataclass(frozen=True)
class Choice:
    """Weighted choice between scenarios; each component is itself a prior."""

    components: tuple[Prior, ...]
    weights: tuple[float, ...]


Prior = Point | LogNormal | Normal | Uniform | LogUniform | Choice


# --------------------------------------------------------------------------
# Fields a prior file may set, with their units
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """A parameter a prior file may set: its unit and its allowed range."""

    name: str
    symbol: str
    unit: str
    description: str
    positive: bool = True
    units: tuple[str, ...] = ()  # accepted spellings of ``unit``
    any_unit: bool = False  # a free field of an expression class: any known unit (:func:`known_unit`)

    def accepts(self, unit: str) -> bool:
        """Whether ``unit`` may label this field: its own unit or a spelling of it; any known unit for a
        free field."""
        if self.any_unit:
            return known_unit(unit)
        return unit == self.unit or unit in self.units


def expression_field(name: str) -> Field:
    """A free field of an ``expression`` class: positive, any known unit."""
    return Field(name, name, "a known unit", f"field '{name}'", any_unit=True)


# The words a ``unit`` label is built from (SPEC section 6: units are stated in the file and checked). A
# unit is one word or words joined by "/", "*" or "·", each with an optional integer power: "Hz", "FLOP/s",
# "FLOP/spike", "J/spike", "mm^3", "1/s". A free field of an expression class may carry any such unit;
# a field of the LNP model or [growth] only its own (:class:`Field`).
UNIT_WORDS: tuple[str, ...] = (
    "1",
    "%",
    # time and rate
    *("s", "ms", "us", "µs", "ns", "min", "h", "day", "days", "y", "year", "years"),
    *("Hz", "kHz", "MHz", "GHz"),
    # computation
    *("FLOP", "FLOPs", "kFLOP", "MFLOP", "GFLOP", "TFLOP", "PFLOP", "EFLOP", "MAC", "MACs", "OP", "OPs"),
    *("op", "ops", "operation", "operations", "instruction", "instructions", "update", "updates"),
    *("bit", "bits", "byte", "bytes", "B", "kB", "MB", "GB", "TB"),
    # the brain's parts and events
    *("neuron", "neurons", "synapse", "synapses", "spike", "spikes", "event", "events", "step", "steps"),
    *("branch", "branches", "dendrite", "dendrites", "compartment", "compartments", "cell", "cells"),
    *("axon", "axons", "channel", "channels", "receptor", "receptors", "molecule", "molecules"),
    *("ion", "ions", "protein", "proteins", "ATP", "mol", "mmol"),
    # energy, power, size, mass
    *("J", "mJ", "uJ", "µJ", "nJ", "pJ", "fJ", "eV", "cal", "kcal", "W", "mW", "uW", "µW", "kW", "MW"),
    *("m", "cm", "mm", "um", "µm", "nm", "L", "mL", "g", "kg", "mg"),
)
_UNIT_WORDS = frozenset(UNIT_WORDS)


def known_unit(unit: object) -> bool:
    """Whether ``unit`` is built from :data:`UNIT_WORDS`: words joined by ``/``, ``*`` or ``·`` (parentheses
    allowed), each with an optional integer power (``^2``, ``^-1``)."""
    if not isinstance(unit, str) or not unit.strip() or len(unit) > 60:
        return False
    for part in unit.replace("(", "").replace(")", "").replace("*", "/").replace("·", "/").split("/"):
        word, caret, power = part.strip().partition("^")
        if word not in _UNIT_WORDS or (caret and not power.removeprefix("-").isdigit()):
            return False
    return True


def _unit_problem(unit: object, fld: Field) -> str:
    """Why ``unit`` cannot label ``fld``, with the closest known spelling."""
    if not fld.any_unit:
        return f"unit {_show(unit)} does not match '{fld.unit}' ({fld.description})"
    hint = difflib.get_close_matches(unit, UNIT_WORDS, n=1) if isinstance(unit, str) else []
    close = f"did you mean '{hint[0]}'? " if hint else ""
    return (
        f"unknown unit {_show(unit)} ({close}a unit is built from words such as Hz, s, FLOP, synapses, "
        "neurons, spikes, J, W, joined by / or *)"
    )


CLASS_FIELDS: dict[str, Field] = {
    f.name: f
    for f in (
        Field("count", "N", "neurons", "number of neurons in the class", units=("1",)),
        Field("rate", "rate", "Hz", "updates (firing rate) per neuron per second", units=("1/s",)),
        Field("synapses", "S", "synapses", "input synapses per neuron", units=("1",)),
        Field("time_steps", "T", "steps", "input time window, time steps", units=("1",)),
        Field("branches", "B", "branches", "dendritic filter: branches per dendrite", units=("1",)),
        Field("dendrites", "D", "dendrites", "dendritic filter: dendrites", units=("1",)),
        Field("filter_steps", "K", "steps", "dendritic filter: time steps", units=("1",)),
        Field("soma_steps", "K_s", "steps", "somatic filter: time steps", units=("1",)),
        Field("outputs", "O", "synapses", "output synapses per neuron", units=("1",)),
    )
}

CONVENTION_FIELDS: dict[str, Field] = {
    f.name: f
    for f in (
        Field("flops_per_mac", "fpm", "FLOP", "FLOPs per multiply-accumulate", units=("FLOP/MAC", "1")),
        Field("flops_per_nonlinearity", "fnl", "FLOP", "FLOPs per nonlinearity element", units=("1",)),
    )
}

TARGET_FIELDS: dict[str, Field] = {
    f.name: f
    for f in (
        Field("fraction", "f", "1", "practical fraction of a compute target's peak (model FLOP utilisation)"),
        Field("budget_usd", "B", "USD", "hardware budget of the budget target, US dollars", units=("$", "dollars")),
    )
}

GROWTH_FIELDS: dict[str, Field] = {
    f.name: f
    for f in (
        Field("start_flops", "F0", "FLOP/s", "practical FLOP/s of the fastest computer at start_year"),
        Field("start_year", "t0", "year", "year of start_flops", positive=False),
        Field("doubling_years", "d", "years", "doubling period of practical FLOP/s", units=("y",)),
    )
}

MAX_FILE_BYTES = 1 * MiB  # a prior file is text a person writes; larger files are refused unread
# Limits checked at load time, before anything is traced or compiled. The sampler is one XLA program in
# which every random draw is its own block: compiling it costs about 0.17 CPU seconds per draw, and little
# per class beyond its draws (`uncertainty sample FILE -n 2000 -q`, no compilation cache, this 2-core
# machine: 75 draws 11 s, 150 draws 25 s, 200 draws in 200 classes 36-41 s and 1.4 GB, 300 draws 58 s and
# 1.8 GB; issue 19: 1000 expression classes took 14 minutes and 10.6 GB). At the limits a file compiles in
# about half a minute. Expressions have their own limits (expression.MAX_LENGTH, expression.MAX_DEPTH).
MAX_CLASSES = 200  # [classes.NAME] tables
MAX_RANDOM_DRAWS = 150  # random draws per sample (random_draws): shared fields once, a choice's components each
EVIDENCE_FUNCTIONS = {**FUNCTIONS, **REDUCERS}  # what an [evidence] quantity may call
_TOP_LEVEL = (
    "meta",
    "convention",
    "defaults",
    "classes",
    "growth",
    "target",
    "correlations",
    "scenarios",
    "evidence",
)
LIKELIHOODS = ("normal", "lognormal", "student_t", "uniform", "upper", "lower")
STUDENT_T_DF = 4.0  # degrees of freedom of a student_t measurement unless it gives df
_CONVENTION_KEYS = ("flops_per_mac", "flops_per_nonlinearity", "stages")
_KINDS = ("lognormal", "normal", "uniform", "loguniform", "point", "choice")
_OPTIONS = {
    "lognormal": ("ci", "min", "max", "unit"),
    "normal": ("ci", "min", "max", "unit"),
    "uniform": ("min", "max", "unit"),
    "loguniform": ("min", "max", "unit"),
    "point": ("min", "max", "unit"),
    "choice": ("weights", "unit"),
}
_ALL_OPTIONS = ("ci", "min", "max", "unit", "weights")


METHODS = ("lnp", "expression")


@dataclass(frozen=True)
class NeuronClassSpec:
    """One class of the brain's cost.

    ``method = "lnp"``: a prior for every field of :data:`CLASS_FIELDS` (the LNP neuron).
    ``method = "expression"``: ``expression`` gives the class's FLOP/s over its own fields
    (:mod:`uncertainty.brain.expression`); ``params`` holds exactly the fields it reads.
    """

    name: str
    params: dict[str, Prior]
    inherited: frozenset[str] = frozenset()  # fields taken from [defaults]
    method: str = "lnp"
    expression: str | None = None


@dataclass(frozen=True)
class GrowthSpec:
    """The article's growth scenario ``F(t) = F0 * 2**((t - t0) / d)``."""

    start_flops: Prior
    start_year: Prior
    doubling_years: Prior
    whole_periods: bool = False  # count whole doubling periods, as the article does


@dataclass(frozen=True)
class TargetSpec:
    """``[target]``: what turns a compute target's peak history into practical FLOP/s (``None``: the
    built-in default of :mod:`uncertainty.growth.targets`)."""

    fraction: Prior | None = None  # practical fraction of peak, in (0, 1]
    budget_usd: Prior | None = None  # hardware budget of the ``budget`` target, US dollars


@dataclass(frozen=True)
class SameAs:
    """A scenario's setting ``{ same_as = "FIELD" }``: the site takes the draw of another site (``site``,
    the same class's ``FIELD``), e.g. an LNP update rate that is the firing rate in one reading."""

    site: str
    field: str


@dataclass(frozen=True)
class Scenario:
    """A named joint scenario of ``[scenarios]``: drawn with probability ``weight / sum(weights)``;
    in its draws every site of ``settings`` takes the scenario's prior (or, for :class:`SameAs`, another
    site's draw) instead of the file's."""

    name: str
    weight: float
    settings: tuple[tuple[str, Prior | SameAs], ...]


@dataclass(frozen=True)
class Evidence:
    """An ``[evidence.NAME]`` item: a derived quantity (an expression over the classes' fields, each a
    vector over classes, reduced with ``sum``/``mean``) and what was measured of it.

    ``kind``: ``normal``/``lognormal`` (a Gaussian likelihood of the quantity, in log space for
    lognormal, whose 90% interval is ``[lo, hi]``, or ``ci``), ``student_t`` (a Student-t likelihood
    with ``df`` degrees of freedom and that central interval: robust to an outlying measurement),
    ``uniform`` (a hard bound ``[lo, hi]``), ``upper``/``lower`` (a hard one-sided bound ``lo``).
    """

    name: str
    quantity: str
    kind: str
    lo: float
    hi: float = math.nan
    ci: float = 0.9
    df: float = math.nan
    source: str = ""
    unit: str = ""  # the unit of the measured values, when the file states it (checked)


@dataclass(frozen=True)
class PriorSpec:
    """A validated prior file."""

    path: str
    text: str
    meta: dict[str, Any]
    convention: Convention
    classes: tuple[NeuronClassSpec, ...]
    growth: GrowthSpec | None = None
    shared: tuple[str, ...] = ()  # [defaults] fields drawn once per sample for every class using them
    # uncertain conventions (``flops_per_mac``, ``flops_per_nonlinearity``): drawn per sample, overriding
    # the number in ``convention``; fixed ones are in ``convention`` only
    convention_priors: dict[str, Prior] = field(default_factory=dict)
    # [correlations]: (site, site, Spearman rank correlation), sites as the model names them
    correlations: tuple[tuple[str, str, float], ...] = ()
    scenarios: tuple[Scenario, ...] = ()  # [scenarios], in file order (the ``scenario`` site indexes them)
    evidence: tuple[Evidence, ...] = ()  # [evidence.NAME] items: what conditions the prior
    target: TargetSpec = TargetSpec()  # [target]: practical fraction and budget of the compute targets
    class_names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "class_names", tuple(c.name for c in self.classes))

    @property
    def name(self) -> str:
        return str(self.meta.get("name", Path(self.path).stem))


# --------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------


def load_priors(path: str | Path) -> PriorSpec:
    """Read and validate a prior file; raise :class:`PriorError` on any problem."""
    path = Path(path)
    return parse_priors(read_user_text(path, PriorError, "a prior file", MAX_FILE_BYTES), path)


def _evidence_names(table: Any) -> tuple[str, ...]:
    """Names the ``[evidence]`` quantities use that are not LNP fields (parse errors are reported later)."""
    names: dict[str, None] = {}
    if not isinstance(table, dict):
        return ()
    for body in table.values():
        text = body.get("quantity") if isinstance(body, dict) else None
        if not isinstance(text, str):
            continue
        try:
            expr = parse_expression(text, EVIDENCE_FUNCTIONS, dotted=True)
        except ExpressionError:
            continue
        fields = (n.partition(".")[2] or n for n in expr.names)
        names.update((n, None) for n in fields if n not in CLASS_FIELDS and n.isidentifier())
    return tuple(names)


def parse_priors(text: str, path: str | Path = "<string>") -> PriorSpec:
    """Validate TOML ``text`` as a prior file; ``path`` is used in error messages."""
    p = _Parser(str(path))
    text = text.removeprefix("\ufeff")  # a byte-order mark (spreadsheets, some editors) is not a statement
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PriorError(path, None, f"malformed TOML: {exc}") from None
    except RecursionError:
        raise PriorError(path, None, "malformed TOML: nested too deeply") from None
    p.no_unknown(doc, _TOP_LEVEL, "")
    meta = doc.get("meta", {})
    if not isinstance(meta, dict):
        p.fail("meta", "must be a table")
    convention, convention_priors = p.convention(doc.get("convention", {}))
    defaults = doc.get("defaults", {})
    if not isinstance(defaults, dict):
        p.fail("defaults", "must be a table")
    extra = _evidence_names(doc.get("evidence"))  # fields only evidence uses (e.g. atp_per_spike)
    p.extra = extra
    p.no_unknown(defaults, (*CLASS_FIELDS, *extra, "shared"), "defaults")
    shared = p.shared(defaults)
    defaults = {
        k: p.prior(v, f"defaults.{k}", CLASS_FIELDS.get(k) or expression_field(k))
        for k, v in defaults.items()
        if k != "shared"
    }
    specs = p.classes(doc.get("classes"), defaults)
    growth = p.growth(doc["growth"]) if "growth" in doc else None
    spec = PriorSpec(str(path), text, dict(meta), convention, specs, growth, shared, convention_priors)
    if "correlations" in doc:
        spec = replace(spec, correlations=p.correlations(doc["correlations"], spec))
    if "scenarios" in doc:
        spec = replace(spec, scenarios=p.scenarios(doc["scenarios"], spec))
    draws = random_draws(spec)
    if draws > MAX_RANDOM_DRAWS:
        p.fail(
            "classes",
            f"{draws} random draws, over the limit of {MAX_RANDOM_DRAWS} (fix fields, or share them in [defaults])",
        )
    if "target" in doc:
        spec = replace(spec, target=p.target(doc["target"]))
    if "evidence" in doc:
        spec = replace(spec, evidence=p.evidence(doc["evidence"], spec))
    return spec


def _stated(prior: Prior) -> list[float]:
    """The numbers a prior states as values it can take: a point, interval ends, truncation bounds."""
    if isinstance(prior, Point):
        return [prior.value]
    if isinstance(prior, Choice):
        return [v for c in prior.components for v in _stated(c)]
    if isinstance(prior, LogNormal):  # its 90% interval, or its truncation where it is tighter
        return [prior.lo, prior.hi if prior.max is None else min(prior.hi, prior.max)]
    return [prior.lo, prior.hi]


def _draws(prior: Prior | SameAs) -> int:
    """Random draws a prior takes: none for a fixed value or another site's draw; a choice its index and
    each component's."""
    if isinstance(prior, Point | SameAs):
        return 0
    if isinstance(prior, Choice):
        return 1 + sum(_draws(c) for c in prior.components)
    return 1


def random_draws(spec: PriorSpec) -> int:
    """Random draws one sample of ``spec``'s brain model takes (what its compile time grows with): each
    uncertain field once (a shared [defaults] field once for all classes), uncertain conventions, the
    scenario index and each scenario's replacement priors."""
    scenarios = [prior for sc in spec.scenarios for _, prior in sc.settings]
    return sum(map(_draws, site_priors(spec).values())) + sum(map(_draws, scenarios)) + bool(spec.scenarios)


def fixed_values(spec: PriorSpec) -> dict[str, float]:
    """The prior file's fixed (point) values, by ``{class}_{field}`` site name (not those a scenario sets)."""
    tied = tied_sites(spec)
    return {
        site_name(c.name, f): prior.value
        for c in spec.classes
        for f, prior in c.params.items()
        if isinstance(prior, Point) and field_site(spec, c, f) not in tied
    }


def correlated_priors(spec: PriorSpec) -> dict[str, Prior]:
    """The priors of the sites named in ``[correlations]``, by site name, in order of appearance."""
    priors = site_priors(spec)
    return {site: priors[site] for a, b, _ in spec.correlations for site in (a, b)}


def correlation_matrix(spec: PriorSpec) -> tuple[tuple[str, ...], np.ndarray]:
    """Sites and the Gaussian-copula (Pearson) correlation matrix realising the requested rank
    correlations: ``r = 2 sin(pi rho / 6)`` (Spearman's rho of a bivariate normal)."""
    sites = tuple(correlated_priors(spec))
    index = {s: i for i, s in enumerate(sites)}
    m = np.eye(len(sites))
    for a, b, rho in spec.correlations:
        r = 2.0 * math.sin(math.pi * rho / 6.0)
        m[index[a], index[b]] = m[index[b], index[a]] = r
    return sites, m


class _Parser:
    extra: tuple[str, ...] = ()  # fields only [evidence] uses

    def __init__(self, path: str):
        self.path = path

    def fail(self, key: str | None, problem: str):
        raise PriorError(self.path, key or None, problem)

    def no_unknown(self, table: dict, allowed, where: str) -> None:
        for key in table:
            if key not in allowed:
                hint = difflib.get_close_matches(key, list(allowed), n=1)
                known = f"did you mean '{hint[0]}'?" if hint else "expected one of " + ", ".join(allowed)
                self.fail(_join(where, key), f"unknown key '{key}' ({known})")

    # -- sections ----------------------------------------------------------

    def convention(self, table: Any) -> tuple[Convention, dict[str, Prior]]:
        if not isinstance(table, dict):
            self.fail("convention", "must be a table")
        self.no_unknown(table, _CONVENTION_KEYS, "convention")
        out, priors = {}, {}
        for key in ("flops_per_mac", "flops_per_nonlinearity"):
            if key in table:
                prior = self.prior(table[key], f"convention.{key}", CONVENTION_FIELDS[key])
                if isinstance(prior, Point):
                    out[key] = prior.value
                else:
                    priors[key] = prior
        if "stages" in table:
            stages = table["stages"]
            if not isinstance(stages, list) or not stages or not all(isinstance(s, str) for s in stages):
                self.fail("convention.stages", "must be a non-empty list of stage names")
            for s in stages:
                if s not in STAGES:
                    self.fail("convention.stages", f"unknown stage '{s}' (expected some of {', '.join(STAGES)})")
            if len(set(stages)) != len(stages):
                self.fail("convention.stages", "lists a stage twice")
            out["stages"] = tuple(s for s in STAGES if s in stages)  # canonical order
        return Convention(**out), priors

    def shared(self, defaults: dict) -> tuple[str, ...]:
        names = defaults.get("shared", [])
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            self.fail("defaults.shared", "must be a list of field names")
        for n in names:
            if n not in defaults or n == "shared":
                self.fail("defaults.shared", f"'{n}' is not a field set in [defaults]")
        return tuple(f for f in (*CLASS_FIELDS, *self.extra) if f in names)

    def classes(self, table: Any, defaults: dict[str, Prior]) -> tuple[NeuronClassSpec, ...]:
        if table is None:
            self.fail("classes", "missing: define at least one [classes.NAME] table")
        if not isinstance(table, dict) or not table:
            self.fail("classes", "must hold at least one [classes.NAME] table")
        if len(table) > MAX_CLASSES:
            self.fail("classes", f"{len(table)} classes, over the limit of {MAX_CLASSES}")
        return tuple(self.neuron_class(name, body, defaults) for name, body in table.items())

    def neuron_class(self, name: str, body: Any, defaults: dict[str, Prior]) -> NeuronClassSpec:
        where = f"classes.{name}"
        if not isinstance(body, dict):
            self.fail(where, "must be a table of class fields")
        if not name.isidentifier():
            self.fail(where, "class names may hold only letters, digits and underscores")
        if name in (SHARED, CONVENTION):
            self.fail(where, f"'{name}' is reserved (it names the draws of [defaults] shared fields and [convention])")
        method = body.get("method", "lnp")
        if method not in METHODS:
            self.fail(f"{where}.method", f"unknown method {_show(method)} (expected one of {', '.join(METHODS)})")
        if method == "expression":
            return self.expression_class(name, body, defaults)
        self.no_unknown(body, (*CLASS_FIELDS, *self.extra, "method"), where)
        params, inherited = {}, set()
        for fname, fld in CLASS_FIELDS.items():
            if fname in body:
                params[fname] = self.prior(body[fname], f"{where}.{fname}", fld)
            elif fname in defaults:
                params[fname] = defaults[fname]
                inherited.add(fname)
            else:
                self.fail(
                    where, f"missing field '{fname}' ({fld.description}, {fld.unit}); set it here or in [defaults]"
                )
        self.evidence_fields(where, body, defaults, params, inherited)
        return NeuronClassSpec(name, params, frozenset(inherited))

    def evidence_fields(self, where: str, body: dict, defaults: dict, params: dict, inherited: set) -> None:
        """Fields only ``[evidence]`` uses (any unit, positive), from the class or from [defaults]."""
        for fname in self.extra:
            if fname in body:
                params[fname] = self.prior(body[fname], f"{where}.{fname}", expression_field(fname))
            elif fname in defaults and fname not in params:
                params[fname] = defaults[fname]
                inherited.add(fname)

    def expression_class(self, name: str, body: dict, defaults: dict[str, Prior]) -> NeuronClassSpec:
        where = f"classes.{name}"
        key = f"{where}.flops_per_second"
        if "flops_per_second" not in body:
            self.fail(where, "missing 'flops_per_second' (the class's FLOP/s as an expression over its fields)")
        text = body["flops_per_second"]
        if not isinstance(text, str):
            self.fail(key, f"expected an expression in quotes, got {_show(text)}")
        try:
            expr = parse_expression(text)
        except ExpressionError as exc:
            self.fail(key, str(exc))
        fields = {k: v for k, v in body.items() if k not in ("method", "flops_per_second")}
        for k in fields:
            if not k.isidentifier() or k in FUNCTIONS:
                self.fail(f"{where}.{k}", "a field name must be an identifier and not a function name")
            if k not in expr.names and k not in self.extra:
                used = ", ".join(expr.names) or "none"
                self.fail(f"{where}.{k}", f"field '{k}' is not used in flops_per_second (it uses: {used})")
        params, inherited = {}, set()
        for n in expr.names:
            if n in fields:
                params[n] = self.prior(fields[n], f"{where}.{n}", expression_field(n))
            elif n in defaults:
                params[n] = defaults[n]
                inherited.add(n)
            else:
                self.fail(key, f"unknown name '{n}': set it as a field of [{where}] (or in [defaults])")
        inherited_set = set(inherited)
        self.evidence_fields(where, fields, defaults, params, inherited_set)
        return NeuronClassSpec(name, params, frozenset(inherited_set), "expression", text)

    def growth(self, table: Any) -> GrowthSpec:
        if not isinstance(table, dict):
            self.fail("growth", "must be a table")
        self.no_unknown(table, (*GROWTH_FIELDS, "whole_periods"), "growth")
        params = {}
        if "whole_periods" in table:
            if not isinstance(table["whole_periods"], bool):
                self.fail("growth.whole_periods", f"expected true or false, got {_show(table['whole_periods'])}")
            params["whole_periods"] = table["whole_periods"]
        for fname, fld in GROWTH_FIELDS.items():
            if fname not in table:
                self.fail("growth", f"missing field '{fname}' ({fld.description}, {fld.unit})")
            params[fname] = self.prior(table[fname], f"growth.{fname}", fld)
        return GrowthSpec(**params)

    def target(self, table: Any) -> TargetSpec:
        if not isinstance(table, dict):
            self.fail("target", "must be a table")
        self.no_unknown(table, tuple(TARGET_FIELDS), "target")
        params = {}
        for fname, fld in TARGET_FIELDS.items():
            if fname in table:
                where = f"target.{fname}"
                prior = self.prior(table[fname], where, fld)
                if fname == "fraction":
                    high = max(_stated(prior))
                    if high > 1:
                        self.fail(where, f"a practical fraction lies in (0, 1]; {high:g} is above 1")
                params[fname] = prior
        return TargetSpec(**params)

    def correlations(self, table: Any, spec: PriorSpec) -> tuple:
        if not isinstance(table, dict) or not table:
            self.fail("correlations", 'must be a table of "class.field ~ class.field" = rank correlation')
        pairs, seen = [], set()
        for key, value in table.items():
            where = f"correlations.{key}"
            ends = [e.strip() for e in key.split("~")]
            if len(ends) != 2 or not all(ends):
                self.fail(where, 'expected "class.field ~ class.field"')
            sites = tuple(self.correlated_site(e, where, spec) for e in ends)
            if sites[0] == sites[1]:
                self.fail(where, "correlates a field with itself")
            if frozenset(sites) in seen:
                self.fail(where, "this pair is given twice")
            seen.add(frozenset(sites))
            rho = self.number(value, where)
            if not -1.0 <= rho <= 1.0:
                self.fail(where, f"a rank correlation lies in [-1, 1], got {rho:g}")
            pairs.append((*sites, rho))
        _, m = correlation_matrix(replace(spec, correlations=tuple(pairs)))
        smallest = float(np.linalg.eigvalsh(m).min())
        if smallest <= 1e-9:
            self.fail(
                "correlations", f"the correlation matrix is not positive definite (smallest eigenvalue {smallest:.3g})"
            )
        return tuple(pairs)

    def sites(
        self, reference: str, where: str, spec: PriorSpec, conventions: Collection[str], fan_out: bool = False
    ) -> tuple[Site, ...]:
        """The sites ``reference`` names (:func:`~uncertainty.brain.sites.resolve`); a bad one fails at ``where``."""
        try:
            return resolve(reference, spec, conventions=conventions, fan_out=fan_out)
        except SiteError as exc:
            self.fail(where, str(exc))

    def correlated_site(self, end: str, where: str, spec: PriorSpec) -> str:
        """The site of a correlation's end: one uncertain, continuous draw."""
        (site,) = self.sites(end, where, spec, spec.convention_priors)
        prior = site_priors(spec)[site.name]
        if isinstance(prior, Point):
            self.fail(where, f"'{end}' is a fixed value; only uncertain fields can be correlated")
        if isinstance(prior, Choice):
            self.fail(where, f"'{end}' is a choice; a choice cannot be correlated (tie choices with scenarios)")
        return site.name

    def scenarios(self, table: Any, spec: PriorSpec) -> tuple[Scenario, ...]:
        if not isinstance(table, dict) or not table:
            self.fail("scenarios", 'must hold at least one scenario: NAME = { weight = W, "class.field" = ... }')
        out = []
        for name, body in table.items():
            where = f"scenarios.{name}"
            if not isinstance(body, dict):
                self.fail(where, 'must be a table: { weight = W, "class.field" = value or prior, ... }')
            if "weight" not in body:
                self.fail(where, "missing 'weight' (a positive number)")
            weight = self.number(body["weight"], f"{where}.weight")
            if weight <= 0:
                self.fail(f"{where}.weight", f"must be > 0, got {weight:g}")
            settings: dict[str, Prior | SameAs] = {}
            for target, value in body.items():
                if target == "weight":
                    continue
                key = f"{where}.{target}"
                for site in self.sites(target, key, spec, CONVENTION_FIELDS, fan_out=True):
                    if site.name in settings:
                        self.fail(key, f"sets '{site.name}' a second time")
                    if isinstance(value, dict) and "same_as" in value:
                        settings[site.name] = self.same_as(value, key, site, spec)
                    else:
                        settings[site.name] = self.prior(value, key, _site_field(site))
            out.append(Scenario(name, weight, tuple(settings.items())))
        set_sites = {site for sc in out for site, _ in sc.settings}
        for sc in out:
            for site, value in sc.settings:
                if isinstance(value, SameAs) and value.site in set_sites:
                    self.fail(
                        f"scenarios.{sc.name}",
                        f"'{site}' is the same as '{value.site}', which a scenario sets itself; "
                        "name a field no scenario sets",
                    )
        return tuple(out)

    def same_as(self, value: dict, key: str, site: Site, spec: PriorSpec) -> SameAs:
        """A setting ``{ same_as = "FIELD" }`` of ``site``: the draw of the same class's ``FIELD`` (for a shared
        draw, the one site every class that inherits it has for ``FIELD``)."""
        self.no_unknown(value, ("same_as",), key)
        other = value["same_as"]
        if not isinstance(other, str) or not other.isidentifier():
            self.fail(f"{key}.same_as", f"expected a field name in quotes, got {_show(other)}")
        if site.owner == CONVENTION:
            self.fail(f"{key}.same_as", "a convention cannot be the same as a class field")
        classes = [site.cls] if site.cls is not None else [c for c in spec.classes if site.field in c.inherited]
        targets = set()
        for c in classes:
            if other not in c.params:
                self.fail(f"{key}.same_as", f"class '{c.name}' has no field '{other}'")
            targets.add(field_site(spec, c, other))
        if len(targets) > 1:
            self.fail(
                f"{key}.same_as",
                f"'{site.name}' is one draw for every class, but '{other}' is drawn per class (share it in [defaults])",
            )
        (target,) = targets
        if target == site.name:
            self.fail(f"{key}.same_as", f"'{site.name}' cannot be the same as itself")
        mine, theirs = CLASS_FIELDS.get(site.field), CLASS_FIELDS.get(other)
        if mine is not None and theirs is not None and mine.unit != theirs.unit:  # a free field's unit is open
            self.fail(f"{key}.same_as", f"'{site.field}' is in {mine.unit}, but '{other}' is in {theirs.unit}")
        return SameAs(target, other)

    def evidence(self, table: Any, spec: PriorSpec) -> tuple[Evidence, ...]:
        if not isinstance(table, dict) or not table:
            self.fail("evidence", "must hold [evidence.NAME] tables with quantity and observed")
        out = []
        for name, body in table.items():
            where = f"evidence.{name}"
            if not isinstance(body, dict):
                self.fail(where, 'must be a table: quantity = "...", observed = { ... }, source = "..."')
            self.no_unknown(body, ("quantity", "observed", "source"), where)
            for key in ("quantity", "observed"):
                if key not in body:
                    self.fail(where, f"missing '{key}'")
            text = body["quantity"]
            if not isinstance(text, str):
                self.fail(f"{where}.quantity", f"expected an expression in quotes, got {_show(text)}")
            fld = self.evidence_quantity(text, f"{where}.quantity", spec)
            source = body.get("source", "")
            if not isinstance(source, str):
                self.fail(f"{where}.source", "must be text")
            observed = self.observed(body["observed"], f"{where}.observed", fld)
            unit = body["observed"].get("unit", "")
            out.append(Evidence(name, text, *observed, source=source, unit=unit))
        return tuple(out)

    def evidence_quantity(self, text: str, key: str, spec: PriorSpec) -> Field:
        """Names must be fields of every class, or ``class.field`` one class's field; the result must be one
        number per draw. Returns the field whose unit the quantity has: the LNP field it sums or averages
        (``sum(count)``, ``mean(rate)``, every class an LNP neuron), else a free field (any known unit)."""
        import jax
        import jax.numpy as jnp

        try:
            expr = parse_expression(text, EVIDENCE_FUNCTIONS, dotted=True)
        except ExpressionError as exc:
            self.fail(key, str(exc))
        for n in expr.names:
            owner, dot, fname = n.partition(".")
            if dot:
                cls = next((c for c in spec.classes if c.name == owner), None)
                if cls is None:
                    self.fail(key, f"unknown class '{owner}' in '{n}' (classes: {', '.join(spec.class_names)})")
                if fname not in cls.params:
                    self.fail(key, f"class '{owner}' has no field '{fname}'")
                continue
            missing = [c.name for c in spec.classes if n not in c.params]
            if missing:
                self.fail(key, f"unknown name '{n}': not a field of class '{missing[0]}' (every class needs it)")
        with jax.enable_x64(True):  # as the quantities are computed: float64 constants, traced, not run
            # 3 draws: a field is (draws, classes), class.field (draws, 1); a one-class file is checked as two
            # classes, so a field it forgets to reduce is refused as in any other file
            classes = max(len(spec.classes), 2)
            columns = {n: (3, 1) if "." in n else (3, classes) for n in expr.names}
            try:
                shape = jax.eval_shape(expr, {n: jax.ShapeDtypeStruct(s, jnp.float64) for n, s in columns.items()})
            except (TypeError, ValueError) as exc:
                self.fail(key, f"does not compute: {str(exc).splitlines()[0][:200]}")
            shape = shape.shape
        if shape not in ((3, 1), ()):  # one number per draw (reduced, or one class's field), or a constant
            self.fail(key, "gives one value per class, not one number: reduce the fields with sum(...) or mean(...)")
        reducers = {f for f, _, _ in REDUCERS.values()}
        program = expr.program
        one_field = program[0][0] == "name" and (len(program) == 1 or (len(program) == 2 and program[1][1] in reducers))
        if one_field and program[0][1] in CLASS_FIELDS and all(c.method == "lnp" for c in spec.classes):
            return CLASS_FIELDS[program[0][1]]
        return expression_field(text)

    def observed(self, value: Any, key: str, fld: Field | None = None) -> tuple:
        if not isinstance(value, dict):
            self.fail(key, "must be a table naming one likelihood: " + ", ".join(LIKELIHOODS))
        self.no_unknown(value, (*LIKELIHOODS, "ci", "df", "unit"), key)
        if "unit" in value:
            fld = fld or expression_field("quantity")
            if not isinstance(value["unit"], str) or not fld.accepts(value["unit"]):
                self.fail(f"{key}.unit", _unit_problem(value["unit"], fld))
        kinds = [k for k in value if k in LIKELIHOODS]
        if len(kinds) != 1:
            self.fail(key, f"name exactly one likelihood ({', '.join(LIKELIHOODS)}), got {len(kinds)}")
        kind = kinds[0]
        if "ci" in value and kind not in ("normal", "lognormal", "student_t"):
            self.fail(f"{key}.ci", f"'ci' does not apply to {kind}")
        if "df" in value and kind != "student_t":
            self.fail(f"{key}.df", f"'df' applies to student_t only, not to {kind}")
        if kind in ("upper", "lower"):
            bound = self.number(value[kind], f"{key}.{kind}")
            if bound <= 0:
                self.fail(f"{key}.{kind}", f"a bound on a positive quantity must be > 0, got {bound:g}")
            return kind, bound
        lo, hi = self.interval(value[kind], f"{key}.{kind}")
        if lo <= 0:
            self.fail(f"{key}.{kind}", f"the quantity is positive; lo must be > 0, got {lo:g}")
        ci = self.credibility(value, key)
        if kind != "student_t":
            return kind, lo, hi, ci
        df = self.number(value["df"], f"{key}.df") if "df" in value else STUDENT_T_DF
        if df <= 0:
            self.fail(f"{key}.df", f"degrees of freedom must be > 0, got {df:g}")
        return kind, lo, hi, ci, df

    # -- values ------------------------------------------------------------

    def credibility(self, value: dict, key: str) -> float:
        """The ``ci`` of an interval (default 0.9): strictly between 0 and 1, and far enough from both that
        its normal quantile is finite and non-zero (a ``ci`` of 1e-300 has z = 0: a zero-width scale)."""
        ci = self.number(value["ci"], f"{key}.ci") if "ci" in value else 0.9
        if not 0.0 < ci < 1.0:
            self.fail(f"{key}.ci", f"must lie strictly between 0 and 1, got {ci:g}")
        if not 0.5 < 0.5 + ci / 2.0 < 1.0:
            self.fail(
                f"{key}.ci",
                f"{ci!r} is too close to {0 if ci < 0.5 else 1} to define an interval; use 1e-6 to 0.999999",
            )
        return ci

    def number(self, value: Any, key: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(key, f"expected a number, got {_show(value)}")
        try:
            value = float(value)
        except OverflowError:
            self.fail(key, f"number too large ({str(value)[:12]}...)")
        if math.isnan(value):
            self.fail(key, "is NaN")
        if math.isinf(value):
            self.fail(key, "is infinite")
        return value

    def interval(self, value: Any, key: str) -> tuple[float, float]:
        if not isinstance(value, list) or len(value) != 2:
            self.fail(key, f"expected an interval [lo, hi], got {_show(value)}")
        lo = self.number(value[0], f"{key}[0]")
        hi = self.number(value[1], f"{key}[1]")
        if lo > hi:
            self.fail(key, f"lo > hi ({lo:g} > {hi:g})")
        if lo == hi:
            self.fail(key, f"zero-width interval [{lo:g}, {hi:g}]; use {{ point = {lo:g} }} for a fixed value")
        return lo, hi

    def prior(self, value: Any, key: str, fld: Field) -> Prior:
        """A prior of ``fld`` at ``key``: a plain number (fixed) or a table naming one distribution."""
        if not isinstance(value, dict):
            v = self.number(value, key)
            self.check_positive(v, key, fld)
            return Point(v)
        kind = self.kind(value, key, fld)
        lo_t, hi_t = self.bounds(value, key, kind, fld)
        sub = f"{key}.{kind}"
        if kind == "point":
            return self.point(value[kind], sub, fld, lo_t, hi_t)
        if kind == "choice":
            return self.choice(value, key, fld)
        lo, hi = self.interval(value[kind], sub)
        if kind == "lognormal":
            return self.lognormal(value, key, (lo, hi), lo_t, hi_t)
        if kind == "normal":
            return self.normal(value, key, fld, (lo, hi), lo_t, hi_t)
        return self.uniform(kind, key, fld, (lo, hi), lo_t, hi_t)

    def kind(self, value: dict, key: str, fld: Field) -> str:
        """The one distribution a prior table names; its options must apply to it, its unit to ``fld``."""
        self.no_unknown(value, _KINDS + _ALL_OPTIONS, key)
        kinds = [k for k in value if k in _KINDS]
        if not kinds:
            self.fail(key, "names no distribution (expected one of " + ", ".join(_KINDS) + ")")
        if len(kinds) > 1:
            self.fail(key, f"names {len(kinds)} distributions ({', '.join(kinds)}); give exactly one")
        kind = kinds[0]
        for option in value:
            if option != kind and option not in _OPTIONS[kind]:
                self.fail(f"{key}.{option}", f"'{option}' does not apply to a {kind} prior")
        if "unit" in value:
            unit = value["unit"]
            if not isinstance(unit, str) or not fld.accepts(unit):
                self.fail(f"{key}.unit", _unit_problem(unit, fld))
        return kind

    def bounds(self, value: dict, key: str, kind: str, fld: Field) -> tuple[float | None, float | None]:
        """A prior's truncation ``min`` and ``max`` (``None`` where not given)."""
        lo_t = self.number(value["min"], f"{key}.min") if "min" in value else None
        hi_t = self.number(value["max"], f"{key}.max") if "max" in value else None
        if lo_t is not None and hi_t is not None and lo_t >= hi_t:
            self.fail(key, f"min >= max ({lo_t:g} >= {hi_t:g})")
        if fld.positive and lo_t is not None and (lo_t < 0 or (lo_t == 0 and kind != "lognormal")):
            self.fail(f"{key}.min", f"must be > 0 for a positive quantity ({fld.unit}), got {lo_t:g}")
        return lo_t, hi_t

    def point(self, value: Any, sub: str, fld: Field, lo_t: float | None, hi_t: float | None) -> Point:
        v = self.number(value, sub)
        self.check_positive(v, sub, fld)
        if (lo_t is not None and v < lo_t) or (hi_t is not None and v > hi_t):
            self.fail(sub, f"{v:g} lies outside [min, max]")
        return Point(v)

    def choice(self, value: dict, key: str, fld: Field) -> Choice:
        sub = f"{key}.choice"
        items = value["choice"]
        if not isinstance(items, list) or not items:
            self.fail(sub, "expected a non-empty list of values or distribution tables")
        comps = tuple(self.prior(item, f"{sub}[{i}]", fld) for i, item in enumerate(items))
        weights = self.weights(value["weights"], key, len(comps)) if "weights" in value else (1.0,) * len(comps)
        scaled = [w / max(weights) for w in weights]  # no overflow in the sum
        return Choice(comps, tuple(w / sum(scaled) for w in scaled))

    def weights(self, ws: Any, key: str, n: int) -> tuple[float, ...]:
        """A choice's ``n`` weights: numbers >= 0, not all zero."""
        if not isinstance(ws, list) or len(ws) != n:
            self.fail(f"{key}.weights", f"expected a list of {n} weights, got {_show(ws)}")
        weights = tuple(self.number(w, f"{key}.weights[{i}]") for i, w in enumerate(ws))
        if any(w < 0 for w in weights) or max(weights) <= 0:
            self.fail(f"{key}.weights", "weights must be >= 0 and not all zero")
        return weights

    def lognormal(
        self, value: dict, key: str, interval: tuple[float, float], lo_t: float | None, hi_t: float | None
    ) -> LogNormal:
        sub, (lo, hi) = f"{key}.lognormal", interval
        ci = self.credibility(value, key)
        if lo <= 0:
            self.fail(sub, f"lognormal needs 0 < lo, got lo = {lo:g}")
        if hi_t is not None and hi_t <= 0:
            self.fail(f"{key}.max", f"must be > 0 for a lognormal, got {hi_t:g}")
        if lo_t is not None and lo_t <= 0:
            lo_t = None  # a lognormal is positive anyway
        mu, sd = lognormal_params(lo, hi, ci)
        self.check_mass(key, mu, sd, lo_t and math.log(lo_t), hi_t and math.log(hi_t))
        return LogNormal(lo, hi, ci, lo_t, hi_t)

    def normal(
        self, value: dict, key: str, fld: Field, interval: tuple[float, float], lo_t: float | None, hi_t: float | None
    ) -> Normal:
        sub, (lo, hi) = f"{key}.normal", interval
        ci = self.credibility(value, key)
        if fld.positive and lo_t is None:
            self.fail(key, f"a normal prior on a positive quantity ({fld.unit}) needs min > 0")
        mean, sd = normal_params(lo, hi, ci)
        if not (math.isfinite(mean) and math.isfinite(sd)):
            self.fail(sub, f"[{lo:g}, {hi:g}] is too wide: its mean or spread is beyond float64 (1.8e308)")
        self.check_mass(key, mean, sd, lo_t, hi_t)
        return Normal(lo, hi, ci, lo_t, hi_t)

    def uniform(
        self, kind: str, key: str, fld: Field, interval: tuple[float, float], lo_t: float | None, hi_t: float | None
    ) -> Uniform | LogUniform:
        """A ``uniform`` or ``loguniform`` prior, its truncation intersected in."""
        sub, (lo, hi) = f"{key}.{kind}", interval
        if kind == "loguniform" and lo <= 0:
            self.fail(sub, f"loguniform needs 0 < lo, got lo = {lo:g}")
        lo2 = lo if lo_t is None else max(lo, lo_t)
        hi2 = hi if hi_t is None else min(hi, hi_t)
        if lo2 >= hi2:
            self.fail(key, f"[min, max] leaves nothing of [{lo:g}, {hi:g}]")
        if not math.isfinite(hi2 - lo2):
            self.fail(key, f"[{lo2:g}, {hi2:g}] is too wide: its width is beyond float64 (1.8e308)")
        if kind == "uniform" and fld.positive and lo2 <= 0:
            self.fail(sub, f"must be > 0 for a positive quantity ({fld.unit}), got lo = {lo:g}; or set min > 0")
        return Uniform(lo2, hi2) if kind == "uniform" else LogUniform(lo2, hi2)

    def check_mass(self, key: str, mean: float, sd: float, low: float | None, high: float | None) -> None:
        """Truncation must keep a usable share of a (log-)normal: at least 1e-6 of its mass."""
        if low is None and high is None:
            return
        z = NormalDist(mean, sd)
        kept = (1.0 if high is None else z.cdf(high)) - (0.0 if low is None else z.cdf(low))
        if kept < 1e-6:
            self.fail(
                key, f"[min, max] keeps only {kept:.1e} of the distribution's mass; move the interval or the bounds"
            )

    def check_positive(self, v: float, key: str, fld: Field) -> None:
        if fld.positive and v <= 0:
            word = "negative" if v < 0 else "zero"
            self.fail(key, f"{fld.description} must be > 0 ({fld.unit}), got {word} value {v:g}")


def _site_field(site: Site) -> Field:
    """The field a scenario's setting of ``site`` is checked as (its unit and range)."""
    if site.owner == CONVENTION:
        return CONVENTION_FIELDS[site.field]
    lnp = site.cls is None or site.cls.method == "lnp"  # a shared draw is checked as [defaults] is
    return CLASS_FIELDS[site.field] if lnp and site.field in CLASS_FIELDS else expression_field(site.field)


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
