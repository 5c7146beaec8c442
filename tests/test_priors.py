"""Prior files: the shipped files, every distribution kind, and every way a file can be wrong."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from uncertainty.brain.expression import parse_expression
from uncertainty.brain.lnp import STAGES, Convention
from uncertainty.brain.priors import (
    CLASS_FIELDS,
    Choice,
    GrowthSpec,
    LogNormal,
    LogUniform,
    Normal,
    Point,
    PriorSpec,
    Uniform,
    load_priors,
    parse_priors,
)
from uncertainty.errors import InputError, PriorError

PRIORS = Path(__file__).parent.parent / "priors"
SHIPPED = sorted(PRIORS.glob("*.toml"))

# A valid one-class file with all nine class fields; every case below differs from it by one thing.
BASE = """\
[meta]
name = "base"

[classes.granule]
count = 5e10
rate = 200
synapses = 15
time_steps = 5
branches = 3
dendrites = 4
filter_steps = 5
soma_steps = 5
outputs = 100
"""


def sub(old: str, new: str, text: str = BASE) -> str:
    """``text`` with exactly one occurrence of ``old`` replaced by ``new``."""
    assert text.count(old) == 1, old
    return text.replace(old, new)


def with_field(name: str, value: str) -> str:
    """BASE with class field ``name`` set to the TOML text ``value``."""
    line = next(ln for ln in BASE.splitlines() if ln.startswith(f"{name} = "))
    return sub(line, f"{name} = {value}")


def with_rate(value: str) -> str:
    """BASE with the rate field set to the TOML text ``value``."""
    return with_field("rate", value)


def before_classes(tables: str) -> str:
    """BASE with top-level ``tables`` (TOML text) inserted before ``[classes.granule]``."""
    return sub("[classes.granule]", f"{tables}\n\n[classes.granule]")


def rate_of(text: str):
    return parse_priors(text, "t.toml").classes[0].params["rate"]


# --------------------------------------------------------------------------
# 1. The shipped prior files
# --------------------------------------------------------------------------


def test_shipped_files_exist():
    assert {p.stem for p in SHIPPED} >= {"default", "dettmers2015", "dettmers2015-text"}


def _names(quantity: str) -> tuple[str, ...]:
    from uncertainty.brain.priors import EVIDENCE_FUNCTIONS

    return parse_expression(quantity, EVIDENCE_FUNCTIONS, dotted=True).names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_file_parses(path):
    spec = load_priors(path)
    assert isinstance(spec, PriorSpec)
    assert spec.path == str(path)
    assert spec.text == path.read_text(encoding="utf-8")
    assert spec.name == path.stem  # meta.name matches the file name
    assert spec.classes
    assert spec.class_names == tuple(c.name for c in spec.classes)
    evidence_only = {n.partition(".")[2] or n for e in spec.evidence for n in _names(e.quantity)} - set(CLASS_FIELDS)
    for cls in spec.classes:
        if cls.method == "lnp":  # the model's fields, and those only evidence reads
            assert set(cls.params) == set(CLASS_FIELDS) | evidence_only
        else:  # an expression class sets exactly the fields its expression reads
            assert set(cls.params) == set(parse_expression(cls.expression).names) | evidence_only
    assert set(spec.convention.stages) <= set(STAGES)
    # parsing the text again gives the same specification
    assert parse_priors(spec.text, path) == spec


def _published_dendritic_flops(spec: PriorSpec) -> float:
    """Sum over classes of count * rate * fpm * (S*T) * (B*D*K); every field must be a Point."""
    fpm = spec.convention.flops_per_mac
    total = 0.0
    for cls in spec.classes:
        v = {k: p.value for k, p in cls.params.items()}
        per_update = fpm * (v["synapses"] * v["time_steps"]) * (v["branches"] * v["dendrites"] * v["filter_steps"])
        total += v["count"] * v["rate"] * per_update
    return total


def test_dettmers2015_facts():
    spec = load_priors(PRIORS / "dettmers2015.toml")
    assert spec.convention == Convention(flops_per_mac=2.0, flops_per_nonlinearity=1.0, stages=("dendrites",))
    assert spec.class_names == ("granule", "purkinje")
    granule, purkinje = (c.params for c in spec.classes)
    # every value is fixed
    assert all(isinstance(p, Point) for c in spec.classes for p in c.params.values())
    # the granule class takes the Purkinje filter 10x1000x5 from [defaults]
    assert (granule["branches"], granule["dendrites"], granule["filter_steps"]) == (Point(10), Point(1000), Point(5))
    assert granule["count"] == Point(5e10)
    assert granule["synapses"] == Point(15)
    assert purkinje["count"] == Point(1e8)
    assert purkinje["synapses"] == Point(100000)
    assert granule["rate"] == purkinje["rate"] == Point(200)
    assert math.isclose(_published_dendritic_flops(spec), 1.075e21, rel_tol=1e-12)
    assert isinstance(spec.growth, GrowthSpec)
    assert spec.growth.start_flops == Point(0.58e15)
    assert spec.growth.start_year == Point(2015)
    assert spec.growth.whole_periods is True
    doubling = spec.growth.doubling_years
    assert isinstance(doubling, Choice)
    assert doubling.components == (Point(1.0), Point(1.8), Point(3.0))
    assert doubling.weights == pytest.approx((1 / 3, 1 / 3, 1 / 3))


def test_dettmers2015_text_facts():
    spec = load_priors(PRIORS / "dettmers2015-text.toml")
    assert spec.convention.stages == ("dendrites",)
    assert spec.class_names == ("granule", "purkinje")
    granule, purkinje = (c.params for c in spec.classes)
    assert granule["branches"] == Point(3)
    assert granule["dendrites"] == Point(4)
    assert purkinje["branches"] == Point(10)
    assert purkinje["dendrites"] == Point(1000)
    assert math.isclose(_published_dendritic_flops(spec), 1.00009e21, rel_tol=1e-12)
    assert spec.growth is not None


def test_default_facts():
    spec = load_priors(PRIORS / "default.toml")
    assert spec.convention.stages == STAGES
    assert spec.class_names == ("granule", "purkinje", "cortex", "other")
    assert spec.growth.start_flops == Point(17.41e15) and not spec.growth.whole_periods
    assert spec.growth.doubling_years.weights == (0.5, 0.25, 0.25)
    params = {c.name: c.params for c in spec.classes}
    rate = params["granule"]["rate"]
    assert rate == Choice((LogNormal(50, 1000), LogNormal(0.1, 2)), (0.5, 0.5))
    # [defaults] distributions reach every class that does not override them
    assert all(p["rate"] == rate for p in params.values())
    assert params["cortex"]["synapses"] == LogNormal(5000, 15000)
    assert params["granule"]["synapses"] == LogNormal(12, 20)
    assert params["granule"]["time_steps"] == Uniform(2.4, 6)
    assert params["cortex"]["count"] == Normal(12.7e9, 19.9e9, 0.9, 1e9, None)
    assert spec.shared == ("rate",) and "rate" in spec.classes[0].inherited
    # every stochastic field is stochastic somewhere
    assert not any(isinstance(p, Point) for c in spec.classes for p in c.params.values())


# --------------------------------------------------------------------------
# 2. Every distribution kind
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("200", Point(200.0)),
        ("2.5e2", Point(250.0)),
        ("{ point = 200 }", Point(200.0)),
        ("{ point = 200, min = 100, max = 300 }", Point(200.0)),
        ("{ lognormal = [0.1, 200] }", LogNormal(0.1, 200.0, 0.9, None, None)),
        ("{ lognormal = [1, 100], ci = 0.8 }", LogNormal(1.0, 100.0, 0.8, None, None)),
        ("{ lognormal = [0.1, 200], min = 0.05, max = 1000 }", LogNormal(0.1, 200.0, 0.9, 0.05, 1000.0)),
        # a lower truncation at or below zero is dropped: a lognormal is positive anyway
        ("{ lognormal = [1, 10], min = 0, max = 100 }", LogNormal(1.0, 10.0, 0.9, None, 100.0)),
        ("{ normal = [150, 250], min = 1 }", Normal(150.0, 250.0, 0.9, 1.0, None)),
        ("{ normal = [150, 250], ci = 0.5, min = 10, max = 400 }", Normal(150.0, 250.0, 0.5, 10.0, 400.0)),
        ("{ uniform = [50, 1000] }", Uniform(50.0, 1000.0)),
        ("{ uniform = [0.5, 10] }", Uniform(0.5, 10.0)),
        ("{ loguniform = [0.1, 1000] }", LogUniform(0.1, 1000.0)),
        # truncation is intersected into uniform and loguniform intervals
        ("{ uniform = [1, 10], min = 2, max = 20 }", Uniform(2.0, 10.0)),
        ("{ uniform = [1, 10], min = 0.5, max = 5 }", Uniform(1.0, 5.0)),
        ("{ loguniform = [0.1, 1000], min = 1, max = 100 }", LogUniform(1.0, 100.0)),
        ("{ loguniform = [0.1, 1000], max = 1e6 }", LogUniform(0.1, 1000.0)),
        ("{ choice = [1, 2, 4] }", Choice((Point(1.0), Point(2.0), Point(4.0)), (1 / 3, 1 / 3, 1 / 3))),
        ("{ choice = [1, 2], weights = [1, 3] }", Choice((Point(1.0), Point(2.0)), (0.25, 0.75))),
        ("{ choice = [1, 2], weights = [0, 2] }", Choice((Point(1.0), Point(2.0)), (0.0, 1.0))),
        (
            "{ choice = [200, { lognormal = [0.1, 2] }], weights = [1, 1] }",
            Choice((Point(200.0), LogNormal(0.1, 2.0)), (0.5, 0.5)),
        ),
        (
            "{ choice = [{ choice = [1, { uniform = [2, 3] }], weights = [3, 1] }, { point = 7 }], weights = [2, 6] }",
            Choice(
                (Choice((Point(1.0), Uniform(2.0, 3.0)), (0.75, 0.25)), Point(7.0)),
                (0.25, 0.75),
            ),
        ),
        # units: the canonical spelling and an accepted alternative
        ('{ lognormal = [0.1, 200], unit = "Hz" }', LogNormal(0.1, 200.0)),
        ('{ point = 200, unit = "1/s" }', Point(200.0)),
        ('{ choice = [1, 2], unit = "Hz" }', Choice((Point(1.0), Point(2.0)), (0.5, 0.5))),
    ],
)
def test_rate_prior_kinds(value, expected):
    got = rate_of(with_rate(value))
    assert type(got) is type(expected)
    if isinstance(expected, Choice):
        assert _same_choice(got, expected)
    else:
        assert got == expected


def _same_choice(a, b) -> bool:
    if not isinstance(a, Choice):
        return a == b
    return (
        len(a.components) == len(b.components)
        and all(_same_choice(x, y) for x, y in zip(a.components, b.components, strict=True))
        and a.weights == pytest.approx(b.weights)
        and math.isclose(sum(a.weights), 1.0)
    )


def test_values_are_floats():
    params = parse_priors(BASE, "t.toml").classes[0].params
    assert all(isinstance(p, Point) and type(p.value) is float for p in params.values())


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("count", '{ lognormal = [1e9, 2e9], unit = "neurons" }', LogNormal(1e9, 2e9)),
        ("count", '{ lognormal = [1e9, 2e9], unit = "1" }', LogNormal(1e9, 2e9)),
        ("synapses", '{ uniform = [10, 20], unit = "synapses" }', Uniform(10, 20)),
        ("time_steps", '{ uniform = [2.4, 6], unit = "steps" }', Uniform(2.4, 6)),
        ("branches", '{ loguniform = [2, 5], unit = "branches" }', LogUniform(2, 5)),
        ("dendrites", '{ point = 4, unit = "dendrites" }', Point(4)),
        ("outputs", '{ point = 4, unit = "synapses" }', Point(4)),
    ],
)
def test_unit_accepted(field, value, expected):
    spec = parse_priors(with_field(field, value), "t.toml")
    assert spec.classes[0].params[field] == expected


@pytest.mark.parametrize("unit", ['"neurons"', '"hz"', '"steps"', '""', "5", "true"])
def test_unit_rejected(unit):
    with pytest.raises(PriorError) as info:
        rate_of(with_rate(f"{{ lognormal = [0.1, 200], unit = {unit} }}"))
    assert info.value.key == "classes.granule.rate.unit"
    assert "unit" in info.value.problem


def test_convention_defaults_and_canonical_order():
    assert parse_priors(BASE, "t.toml").convention == Convention()
    text = before_classes('[convention]\nflops_per_mac = 1\nstages = ["soma", "dendrites"]')
    conv = parse_priors(text, "t.toml").convention
    assert conv.flops_per_mac == 1.0
    assert conv.flops_per_nonlinearity == 1.0
    assert conv.stages == ("dendrites", "soma")


def test_growth_table():
    text = BASE + "\n[growth]\nstart_flops = 1e15\nstart_year = { normal = [2014, 2016] }\ndoubling_years = 2\n"
    growth = parse_priors(text, "t.toml").growth
    assert growth == GrowthSpec(Point(1e15), Normal(2014.0, 2016.0, 0.9, None, None), Point(2.0))


def test_meta_is_free_text_and_name_falls_back_to_stem():
    spec = parse_priors(sub('name = "base"', 'name = "x"\nauthors = ["a", "b"]\nyear = 2015'), "dir/file.toml")
    assert spec.meta == {"name": "x", "authors": ["a", "b"], "year": 2015}
    assert spec.name == "x"
    assert parse_priors(sub('name = "base"\n', ""), "dir/file.toml").name == "file"


# --------------------------------------------------------------------------
# 3. [defaults]
# --------------------------------------------------------------------------


DEFAULTS_TEXT = """\
[defaults]
rate = { lognormal = [0.1, 2] }
synapses = 1000
time_steps = 5
branches = 3
dendrites = 4
filter_steps = 5
soma_steps = 5
outputs = 100

[classes.a]
count = 1e9

[classes.b]
count = { loguniform = [1e8, 1e9] }
rate = 50
synapses = { uniform = [10, 20] }
"""


def test_defaults_copied_and_overridden():
    spec = parse_priors(DEFAULTS_TEXT, "d.toml")
    assert spec.class_names == ("a", "b")
    a, b = (c.params for c in spec.classes)
    assert set(a) == set(b) == set(CLASS_FIELDS)
    assert a["count"] == Point(1e9)
    assert a["rate"] == LogNormal(0.1, 2.0)
    assert a["synapses"] == Point(1000.0)
    assert b["count"] == LogUniform(1e8, 1e9)
    assert b["rate"] == Point(50.0)
    assert b["synapses"] == Uniform(10.0, 20.0)
    for name in ("time_steps", "branches", "dendrites", "filter_steps", "soma_steps", "outputs"):
        assert a[name] == b[name]


def test_class_may_set_every_field_without_defaults():
    spec = parse_priors(BASE, "t.toml")
    assert spec.class_names == ("granule",)
    assert spec.classes[0].params["branches"] == Point(3.0)


# --------------------------------------------------------------------------
# 4. Bad prior files
# --------------------------------------------------------------------------

# (id, text, key that must appear in the message (None: no key), word that must appear)
BAD = [
    ("malformed-toml", with_rate(""), None, "malformed TOML"),
    ("malformed-toml-duplicate-key", sub("rate = 200", "rate = 200\nrate = 300"), None, "malformed TOML"),
    ("unknown-distribution", with_rate("{ gamma = [1, 2] }"), "classes.granule.rate", "unknown key 'gamma'"),
    ("no-distribution", with_rate('{ unit = "Hz" }'), "classes.granule.rate", "names no distribution"),
    ("lo-greater-than-hi", with_rate("{ uniform = [10, 1] }"), "classes.granule.rate.uniform", "lo > hi"),
    ("negative-count", sub("count = 5e10", "count = -5"), "classes.granule.count", "negative"),
    ("zero-count", sub("count = 5e10", "count = 0"), "classes.granule.count", "zero"),
    ("negative-point", with_rate("{ point = -1 }"), "classes.granule.rate.point", "negative"),
    ("nan", with_rate("nan"), "classes.granule.rate", "NaN"),
    ("nan-in-interval", with_rate("{ lognormal = [nan, 2] }"), "classes.granule.rate.lognormal[0]", "NaN"),
    ("infinity", with_rate("inf"), "classes.granule.rate", "infinite"),
    ("infinity-in-interval", with_rate("{ uniform = [1, inf] }"), "classes.granule.rate.uniform[1]", "infinite"),
    ("infinite-max", with_rate("{ lognormal = [1, 2], max = inf }"), "classes.granule.rate.max", "infinite"),
    ("zero-width", with_rate("{ lognormal = [5, 5] }"), "classes.granule.rate.lognormal", "zero-width"),
    ("interval-not-pair", with_rate("{ uniform = [1, 2, 3] }"), "classes.granule.rate.uniform", "interval"),
    ("interval-not-list", with_rate("{ uniform = 5 }"), "classes.granule.rate.uniform", "interval"),
    ("unknown-class-key", sub("rate = 200", "rate = 200\ncolour = 3"), "classes.granule.colour", "unknown key"),
    ("misspelt-class-key", sub("rate = 200", "rates = 200"), "classes.granule.rates", "did you mean 'rate'"),
    ("unknown-top-level", before_classes("[extras]\nx = 1"), "extras", "unknown key"),
    ("unknown-defaults-key", before_classes("[defaults]\ncolour = 3"), "defaults.colour", "unknown key"),
    ("unknown-convention-key", before_classes("[convention]\nfpm = 2"), "convention.fpm", "unknown key"),
    ("unknown-option", with_rate("{ lognormal = [1, 2], sigma = 1 }"), "classes.granule.rate.sigma", "unknown"),
    ("option-not-applying", with_rate("{ uniform = [1, 2], ci = 0.5 }"), "classes.granule.rate.ci", "does not apply"),
    ("missing-class-field", sub("outputs = 100\n", ""), "classes.granule", "missing field 'outputs'"),
    ("no-classes", '[meta]\nname = "x"\n', "classes", "missing"),
    ("empty-classes", '[meta]\nname = "x"\n\n[classes]\n', "classes", "at least one"),
    ("classes-not-table", "classes = 5\n", "classes", "at least one"),
    (
        "class-not-table",
        sub("[classes.granule]", "[classes]\nother = 3\n\n[classes.granule]"),
        "classes.other",
        "table",
    ),
    ("bad-class-name", sub("[classes.granule]", '[classes."bad-name"]'), "classes.bad-name", "class names"),
    ("meta-not-table", "meta = 3\n" + sub('[meta]\nname = "base"\n', ""), "meta", "table"),
    ("lognormal-lo-zero", with_rate("{ lognormal = [0, 10] }"), "classes.granule.rate.lognormal", "0 < lo"),
    ("lognormal-lo-negative", with_rate("{ lognormal = [-1, 10] }"), "classes.granule.rate.lognormal", "0 < lo"),
    ("loguniform-lo-zero", with_rate("{ loguniform = [0, 10] }"), "classes.granule.rate.loguniform", "0 < lo"),
    ("uniform-negative", with_rate("{ uniform = [-1, 10] }"), "classes.granule.rate.uniform", "> 0"),
    ("uniform-zero", with_rate("{ uniform = [0, 10] }"), "classes.granule.rate.uniform", "> 0"),
    ("normal-far-truncation", with_rate("{ normal = [1, 10], min = 1e6 }"), "classes.granule.rate", "mass"),
    ("lognormal-far-truncation", with_rate("{ lognormal = [1, 10], min = 1e6 }"), "classes.granule.rate", "mass"),
    ("ci-one", with_rate("{ lognormal = [1, 10], ci = 1 }"), "classes.granule.rate.ci", "between 0 and 1"),
    ("ci-zero", with_rate("{ normal = [1, 10], ci = 0, min = 0.5 }"), "classes.granule.rate.ci", "between 0 and 1"),
    ("ci-above-one", with_rate("{ lognormal = [1, 10], ci = 90 }"), "classes.granule.rate.ci", "between 0 and 1"),
    # z of a vanishing interval is 0 (a zero-width scale); of one a hair below 1, infinite
    ("ci-vanishing", with_rate("{ lognormal = [0.1, 200], ci = 1e-300 }"), "classes.granule.rate.ci", "too close to 0"),
    (
        "ci-hair-below-one",
        with_rate("{ normal = [1, 10], ci = 0.9999999999999999, min = 0.5 }"),
        "classes.granule.rate.ci",
        "too close to 1",
    ),
    ("min-equals-max", with_rate("{ lognormal = [1, 10], min = 5, max = 5 }"), "classes.granule.rate", "min >= max"),
    ("min-above-max", with_rate("{ uniform = [1, 10], min = 6, max = 5 }"), "classes.granule.rate", "min >= max"),
    ("negative-min", with_rate("{ lognormal = [1, 10], min = -1 }"), "classes.granule.rate.min", "> 0"),
    ("truncation-empty", with_rate("{ uniform = [1, 10], min = 20 }"), "classes.granule.rate", "leaves nothing"),
    ("point-outside", with_rate("{ point = 5, max = 4 }"), "classes.granule.rate.point", "outside"),
    ("choice-empty", with_rate("{ choice = [] }"), "classes.granule.rate.choice", "non-empty"),
    ("choice-bad-component", with_rate("{ choice = [1, -2] }"), "classes.granule.rate.choice[1]", "negative"),
    (
        "choice-wrong-weights",
        with_rate("{ choice = [1, 2], weights = [1] }"),
        "classes.granule.rate.weights",
        "2 weights",
    ),
    (
        "choice-negative-weight",
        with_rate("{ choice = [1, 2], weights = [-1, 2] }"),
        "classes.granule.rate.weights",
        ">= 0",
    ),
    (
        "choice-zero-weights",
        with_rate("{ choice = [1, 2], weights = [0, 0] }"),
        "classes.granule.rate.weights",
        "not all zero",
    ),
    ("choice-min", with_rate("{ choice = [1, 2], min = 0 }"), "classes.granule.rate.min", "does not apply"),
    ("boolean", with_rate("true"), "classes.granule.rate", "expected a number"),
    ("boolean-in-interval", with_rate("{ uniform = [false, 2] }"), "classes.granule.rate.uniform[0]", "number"),
    (
        "boolean-weight",
        with_rate("{ choice = [1, 2], weights = [true, 1] }"),
        "classes.granule.rate.weights[0]",
        "number",
    ),
    ("string", with_rate('"200"'), "classes.granule.rate", "expected a number"),
    ("list", with_rate("[1, 2]"), "classes.granule.rate", "expected a number"),
    ("date", with_rate("2015-01-01"), "classes.granule.rate", "expected a number"),
    ("unknown-stage", before_classes('[convention]\nstages = ["axon"]'), "convention.stages", "unknown stage 'axon'"),
    ("duplicate-stage", before_classes('[convention]\nstages = ["soma", "soma"]'), "convention.stages", "twice"),
    ("empty-stages", before_classes("[convention]\nstages = []"), "convention.stages", "non-empty"),
    ("stages-not-list", before_classes('[convention]\nstages = "soma"'), "convention.stages", "list"),
    ("negative-fpm", before_classes("[convention]\nflops_per_mac = -2"), "convention.flops_per_mac", "> 0"),
    (
        "zero-fnl",
        before_classes("[convention]\nflops_per_nonlinearity = 0"),
        "convention.flops_per_nonlinearity",
        "> 0",
    ),
    ("convention-not-table", "convention = 3\n" + BASE, "convention", "table"),
    (
        "normal-positive-without-min",
        sub("count = 5e10", "count = { normal = [1e9, 2e9] }"),
        "classes.granule.count",
        "needs min > 0",
    ),
    (
        "normal-positive-negative-min",
        sub("count = 5e10", "count = { normal = [1e9, 2e9], min = -1 }"),
        "classes.granule.count.min",
        "> 0",
    ),
    (
        "two-distributions",
        with_rate("{ lognormal = [1, 10], uniform = [1, 10] }"),
        "classes.granule.rate",
        "2 distributions",
    ),
    (
        "bad-default",
        sub("soma_steps = 5\n", "", before_classes("[defaults]\nsoma_steps = -1")),
        "defaults.soma_steps",
        "negative",
    ),
    ("defaults-not-table", "defaults = 3\n" + BASE, "defaults", "table"),
    ("growth-missing-field", BASE + "\n[growth]\nstart_flops = 1e15\nstart_year = 2015\n", "growth", "doubling_years"),
    ("growth-unknown-key", BASE + "\n[growth]\nstart = 1\n", "growth.start", "unknown key"),
    ("growth-not-table", "growth = 3\n" + BASE, "growth", "table"),
    (
        "growth-whole-periods-not-bool",
        BASE + "\n[growth]\nstart_flops = 1e15\nstart_year = 2015\ndoubling_years = 2\nwhole_periods = 1\n",
        "growth.whole_periods",
        "true or false",
    ),
    (
        "growth-unit",
        BASE + '\n[growth]\nstart_flops = 1e15\nstart_year = 2015\ndoubling_years = { point = 2, unit = "Hz" }\n',
        "growth.doubling_years.unit",
        "unit",
    ),
]


def _check_one_line(err: PriorError, path: str, key: str | None, word: str) -> None:
    msg = str(err)
    assert "\n" not in msg and "\r" not in msg, msg
    assert msg.startswith(path + ": "), msg
    assert path in msg
    if key is not None:
        assert key in msg, msg
    assert word in msg, msg
    assert isinstance(err, InputError) and isinstance(err, ValueError)
    assert err.file == path


def test_bad_cases_each_differ_from_a_valid_base():
    parse_priors(BASE, "base.toml")  # the base itself is valid
    ids = [case[0] for case in BAD]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(("text", "key", "word"), [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_bad_text_parse_priors(text, key, word):
    path = "priors/bad case.toml"
    with pytest.raises(PriorError) as info:
        parse_priors(text, path)
    _check_one_line(info.value, path, key, word)
    if key is not None:
        assert info.value.key == key or info.value.key.startswith(key)


@pytest.mark.parametrize(("text", "key", "word"), [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_bad_file_load_priors(tmp_path, text, key, word):
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PriorError) as info:
        load_priors(path)
    _check_one_line(info.value, str(path), key, word)


def test_load_priors_missing_file(tmp_path):
    path = tmp_path / "nope.toml"
    with pytest.raises(PriorError) as info:
        load_priors(path)
    _check_one_line(info.value, str(path), None, "no such file")
    assert info.value.key is None


def test_load_priors_directory(tmp_path):
    with pytest.raises(PriorError) as info:
        load_priors(tmp_path)
    _check_one_line(info.value, str(tmp_path), None, "directory")


def test_load_priors_not_utf8(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes(BASE.replace("base", "b\xe9se").encode("latin-1"))
    with pytest.raises(PriorError) as info:
        load_priors(path)
    _check_one_line(info.value, str(path), None, "cannot read")


def test_load_priors_accepts_str_path():
    spec = load_priors(str(PRIORS / "dettmers2015.toml"))
    assert spec.path == str(PRIORS / "dettmers2015.toml")


# --------------------------------------------------------------------------
# Regressions: inputs that once escaped validation
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        sub("[classes.granule]", '[classes."a\\nb"]'),
        sub("rate = 200", 'rate = 200\n"x\\ny" = 1'),
        before_classes('[convention]\nstages = ["a\\nb"]'),
    ],
    ids=["class-name", "class-key", "stage"],
)
def test_newline_in_names_gives_one_line_error(text):
    with pytest.raises(PriorError) as info:
        parse_priors(text, "t.toml")
    assert "\n" not in str(info.value)


def test_huge_integer_is_a_prior_error():
    with pytest.raises(PriorError):
        parse_priors(with_rate("1" + "0" * 400), "t.toml")


def test_deep_nesting_is_a_prior_error():
    with pytest.raises(PriorError):
        parse_priors(with_rate("[" * 2000 + "]" * 2000), "t.toml")


def test_choice_weights_do_not_overflow():
    rate = rate_of(with_rate("{ choice = [1, 2], weights = [1e308, 1e308] }"))
    assert rate.weights == (0.5, 0.5)


@pytest.mark.parametrize("value", ["{ lognormal = [1, 10], max = 0 }", "{ lognormal = [1, 10], max = -5 }"])
def test_lognormal_nonpositive_max_rejected(value):
    with pytest.raises(PriorError):
        rate_of(with_rate(value))


def test_unused_invalid_default_rejected():
    with pytest.raises(PriorError):
        parse_priors(before_classes("[defaults]\nrate = -1"), "t.toml")


# --------------------------------------------------------------------------
# 5. Properties
# --------------------------------------------------------------------------

magnitudes = st.floats(min_value=1e-12, max_value=1e12, allow_nan=False, allow_infinity=False)


@settings(max_examples=100, deadline=None)
@given(lo=magnitudes, hi=magnitudes, ci=st.floats(min_value=0.01, max_value=0.99))
def test_lognormal_round_trips(lo, hi, ci):
    assume(lo < hi)
    got = rate_of(with_rate(f"{{ lognormal = [{lo!r}, {hi!r}], ci = {ci!r} }}"))
    assert got == LogNormal(lo, hi, ci, None, None)


@settings(max_examples=100, deadline=None)
@given(
    lo=magnitudes,
    hi=magnitudes,
    tmin=st.none() | magnitudes,
    tmax=st.none() | magnitudes,
    kind=st.sampled_from(["uniform", "loguniform"]),
)
def test_truncation_intersects(lo, hi, tmin, tmax, kind):
    assume(lo < hi)
    opts = "".join(f", {k} = {v!r}" for k, v in (("min", tmin), ("max", tmax)) if v is not None)
    text = with_rate(f"{{ {kind} = [{lo!r}, {hi!r}]{opts} }}")
    lo2 = lo if tmin is None else max(lo, tmin)
    hi2 = hi if tmax is None else min(hi, tmax)
    if (tmin is not None and tmax is not None and tmin >= tmax) or lo2 >= hi2:
        with pytest.raises(PriorError):
            rate_of(text)
    else:
        assert rate_of(text) == (Uniform if kind == "uniform" else LogUniform)(lo2, hi2)


def _parses_or_prior_error(text: str) -> None:
    try:
        spec = parse_priors(text, "fuzz.toml")
    except PriorError as err:
        assert str(err).startswith("fuzz.toml")
    else:
        assert isinstance(spec, PriorSpec)


@settings(max_examples=150, deadline=None)
@given(st.text())
def test_arbitrary_text_parses_or_raises_prior_error(text):
    _parses_or_prior_error(text)


@settings(max_examples=100, deadline=None)
@given(st.text())
def test_base_plus_arbitrary_text_parses_or_raises_prior_error(text):
    _parses_or_prior_error(BASE + text)


def _toml_string(s: str) -> str:
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _toml_value(v) -> str:
    """A JSON-like value as a TOML inline value."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return _toml_string(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    assert isinstance(v, dict)
    return "{ " + ", ".join(f"{_toml_string(k)} = {_toml_value(x)}" for k, x in v.items()) + " }"


VOCABULARY = ("lognormal", "normal", "uniform", "loguniform", "point", "choice", "ci", "min", "max", "unit", "weights")
json_leaves = (
    st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)  # TOML's integer range
    | st.floats()
    | st.text(max_size=8)
    | st.sampled_from(["Hz", "1/s", "neurons", "steps"])
)
numbers = st.integers(min_value=-5, max_value=2000) | st.floats(min_value=-10.0, max_value=1e4) | st.floats()


def _distribution_shaped(inner):
    """Inline tables that look like priors, so the fuzzing reaches the checks past 'expected a number'."""
    return st.builds(
        lambda kind, body, opts: {kind: body, **opts},
        st.sampled_from(VOCABULARY[:6]),
        st.lists(numbers, min_size=1, max_size=3) | inner,
        st.fixed_dictionaries(
            {},
            optional={
                "ci": numbers,
                "min": numbers,
                "max": numbers,
                "unit": st.sampled_from(["Hz", "1/s", "neurons", "steps", "synapses"]),
                "weights": st.lists(numbers, max_size=3),
            },
        ),
    )


json_values = st.recursive(
    json_leaves,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(VOCABULARY) | st.text(max_size=6), inner, max_size=4)
        | _distribution_shaped(inner)
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(sorted(CLASS_FIELDS)), value=json_values)
def test_arbitrary_field_value_parses_or_raises_prior_error(field, value):
    text = with_field(field, _toml_value(value))
    tomllib.loads(text)  # the serialiser writes valid TOML, so the parser sees the value itself
    _parses_or_prior_error(text)


# Valid prior files, generated with the priors they must parse to: the fuzz reaches past the parse errors.
positive_floats = st.floats(min_value=1e-6, max_value=1e12, allow_nan=False, allow_infinity=False)


@st.composite
def _interval(draw) -> tuple[float, float]:
    a, b = draw(positive_floats), draw(positive_floats)
    assume(a != b)
    return min(a, b), max(a, b)


@st.composite
def _valid_prior(draw, field: str, depth: int = 0) -> tuple[str, object]:
    """A valid prior of a positive field: its TOML text and the prior object the parser must return."""
    kinds = ["point", "lognormal", "loguniform", "uniform"] + (["choice"] if depth == 0 else [])
    kind = draw(st.sampled_from(kinds))
    unit = draw(st.sampled_from([None, CLASS_FIELDS[field].unit]))
    tail = "" if unit is None else f", unit = {_toml_string(unit)}"
    if kind == "point":
        v = draw(positive_floats)
        return (repr(v) if unit is None else f"{{ point = {v!r}{tail} }}"), Point(v)
    lo, hi = draw(_interval())
    if kind == "lognormal":
        ci = draw(st.sampled_from([None, 0.5, 0.8, 0.95]))
        text = f"{{ lognormal = [{lo!r}, {hi!r}]{'' if ci is None else f', ci = {ci}'}{tail} }}"
        return text, LogNormal(lo, hi, 0.9 if ci is None else ci)
    if kind == "loguniform":
        return f"{{ loguniform = [{lo!r}, {hi!r}]{tail} }}", LogUniform(lo, hi)
    if kind == "uniform":
        return f"{{ uniform = [{lo!r}, {hi!r}]{tail} }}", Uniform(lo, hi)
    parts = draw(st.lists(_valid_prior(field, depth + 1), min_size=1, max_size=3))
    weights = draw(st.lists(st.integers(1, 9), min_size=len(parts), max_size=len(parts)))
    text = f"{{ choice = [{', '.join(t for t, _ in parts)}], weights = {weights}{tail} }}"
    return text, Choice(tuple(prior for _, prior in parts), tuple(w / sum(weights) for w in weights))


@st.composite
def _valid_prior_file(draw) -> tuple[str, dict[str, dict[str, object]]]:
    """A valid prior file of one to three LNP classes (every field given) and the priors of each class."""
    names = draw(st.lists(st.from_regex(r"[a-z][a-z0-9]{0,7}", fullmatch=True), min_size=1, max_size=3, unique=True))
    assume(all(n not in ("shared", "convention", "defaults") for n in names))
    lines, expected = ['[meta]\nname = "generated"\n'], {}
    for name in names:
        lines.append(f"[classes.{name}]")
        expected[name] = {}
        for field in CLASS_FIELDS:
            text, prior = draw(_valid_prior(field))
            lines.append(f"{field} = {text}")
            expected[name][field] = prior
        lines.append("")
    return "\n".join(lines), expected


@settings(max_examples=150, deadline=None)
@given(_valid_prior_file())
def test_generated_valid_prior_files_parse_to_the_priors_they_state(generated):
    text, expected = generated
    tomllib.loads(text)
    spec = parse_priors(text, "valid.toml")
    assert spec.class_names == tuple(expected)
    for cls in spec.classes:
        for field, prior in expected[cls.name].items():
            got = cls.params[field]
            if isinstance(prior, Choice):
                assert got.components == prior.components
                assert got.weights == pytest.approx(prior.weights, rel=1e-12)
            else:
                assert got == prior, (cls.name, field)


def test_uniform_truncated_to_positive_is_accepted():
    assert rate_of(with_rate("{ uniform = [-1, 10], min = 0.5 }")) == Uniform(0.5, 10.0)
