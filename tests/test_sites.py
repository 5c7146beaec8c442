"""The one rule that names the brain model's sites, and the one resolver of a prior file's references."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from uncertainty.brain.lnp import Convention
from uncertainty.brain.priors import (
    CONVENTION_FIELDS,
    LogNormal,
    NeuronClassSpec,
    Point,
    PriorSpec,
    fixed_values,
    parse_priors,
)
from uncertainty.brain.sites import (
    Site,
    SiteError,
    field_site,
    is_parameter_site,
    resolve,
    site_name,
    site_priors,
    tied_sites,
)
from uncertainty.errors import PriorError

TEXT = """\
[convention]
flops_per_mac = { lognormal = [1, 3] }

[defaults]
rate = { lognormal = [1, 10] }
synapses = { lognormal = [100, 1000] }
shared = ["rate"]

[classes.a]
count = 1e9
time_steps = 5
branches = 3
dendrites = 4
filter_steps = 5
soma_steps = 5
outputs = 100

[classes.b]
count = 1e9
rate = { lognormal = [2, 20] }
synapses = 500
time_steps = 5
branches = 3
dendrites = 4
filter_steps = 5
soma_steps = 5
outputs = 100

[classes.syn]
method = "expression"
flops_per_second = "synapses * rate * flop"
flop = { loguniform = [1, 100] }
"""


@pytest.fixture(scope="module")
def spec() -> PriorSpec:
    return parse_priors(TEXT)


def _names(sites) -> tuple[str, ...]:
    return tuple(s.name for s in sites)


def test_a_class_field_is_its_own_site(spec):
    (site,) = resolve("b.rate", spec, conventions=spec.convention_priors)
    assert site == Site("b", "rate", spec.classes[1]) and site.name == "b_rate"
    assert _names(resolve("syn.flop", spec, conventions=(), fan_out=True)) == ("syn_flop",)


def test_star_fans_out_to_every_class_with_the_field_once_per_site(spec):
    # a and syn inherit the shared rate (one site), b has its own; in class order
    assert _names(resolve("*.rate", spec, conventions=(), fan_out=True)) == ("shared_rate", "b_rate")
    # synapses is a [defaults] field but not shared: each class's own site
    assert _names(resolve("*.synapses", spec, conventions=(), fan_out=True)) == (
        "a_synapses",
        "b_synapses",
        "syn_synapses",
    )
    assert _names(resolve("*.flop", spec, conventions=(), fan_out=True)) == ("syn_flop",)


def test_defaults_and_convention_references(spec):
    assert resolve("defaults.rate", spec, conventions=()) == (Site("shared", "rate"),)
    assert _names(resolve("convention.flops_per_mac", spec, conventions=spec.convention_priors)) == (
        "convention_flops_per_mac",
    )
    # a scenario may set a fixed convention too
    assert _names(resolve("convention.flops_per_nonlinearity", spec, conventions=CONVENTION_FIELDS, fan_out=True)) == (
        "convention_flops_per_nonlinearity",
    )


@pytest.mark.parametrize(
    ("reference", "fan_out", "problem"),
    [
        ("rate", False, "'rate' is not class.field (or defaults.field, convention.key)"),
        ("b.", True, "'b.' is not class.field (or *.field, defaults.field, convention.key)"),
        ("nope.rate", False, "unknown class 'nope' (classes: a, b, syn)"),
        ("*.rate", False, "unknown class '*' (classes: a, b, syn)"),
        ("b.flop", True, "class 'b' has no field 'flop'"),
        ("*.nope", True, "no class has a field 'nope'"),
        ("a.rate", False, "'a.rate' is the shared draw of [defaults]; name it defaults.rate"),
        ("syn.rate", True, "'syn.rate' is the shared draw of [defaults]; name it defaults.rate"),
        ("defaults.synapses", False, "'defaults.synapses' is not a shared default; name the class field instead"),
        ("defaults.synapses", True, "'defaults.synapses' is not a shared default; name the classes (*.synapses"),
        (
            "convention.flops_per_nonlinearity",
            False,
            "'convention.flops_per_nonlinearity' is not an uncertain convention (give it a prior in [convention])",
        ),
        (
            "convention.fpm",
            True,
            "unknown convention 'fpm' (expected one of flops_per_mac, flops_per_nonlinearity)",
        ),
    ],
)
def test_bad_references_have_one_line_problems(spec, reference, fan_out, problem):
    conventions = CONVENTION_FIELDS if fan_out else spec.convention_priors
    with pytest.raises(SiteError) as exc:
        resolve(reference, spec, conventions=conventions, fan_out=fan_out)
    assert str(exc.value).startswith(problem) and "\n" not in str(exc.value)


def test_site_priors_and_field_sites(spec):
    a, b, syn = spec.classes
    assert field_site(spec, a, "rate") == field_site(spec, syn, "rate") == "shared_rate"
    assert field_site(spec, b, "rate") == "b_rate" and field_site(spec, a, "synapses") == "a_synapses"
    priors = site_priors(spec)
    assert list(priors)[:2] == ["convention_flops_per_mac", "a_count"]
    assert priors["shared_rate"] == LogNormal(1.0, 10.0) and priors["b_synapses"] == Point(500.0)
    assert "a_rate" not in priors and "syn_rate" not in priors
    assert all(is_parameter_site(s, spec.class_names) for s in priors)
    assert not is_parameter_site("log10_class_flops", spec.class_names)
    assert not is_parameter_site("scenario", spec.class_names)


def test_tied_sites_are_the_sites_scenarios_set():
    text = '[scenarios]\nlow = { weight = 1, "*.rate" = 2, "convention.flops_per_mac" = 1 }\n' + TEXT
    assert tied_sites(parse_priors(text)) == {"shared_rate", "b_rate", "convention_flops_per_mac"}


def test_sites_module_is_light():
    code = "import sys, uncertainty.brain.sites; sys.exit('numpyro' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0


_identifiers = st.from_regex(r"[a-z][a-z0-9]{0,5}(_[a-z0-9]{1,4})?", fullmatch=True)


@settings(max_examples=60, deadline=None)
@given(
    classes=st.lists(_identifiers.filter(lambda n: n not in ("shared", "convention")), min_size=1, max_size=4),
    fields=st.lists(_identifiers, min_size=1, max_size=4, unique=True),
    data=st.data(),
)
def test_built_names_resolve_back(classes, fields, data):
    """Every (class, field) a spec holds: ``class.field`` resolves to the name site_name builds, or, for
    a shared draw, ``defaults.field`` does; ``*.field`` gives exactly the classes' field sites."""
    classes = list(dict.fromkeys(classes))
    shared = tuple(data.draw(st.lists(st.sampled_from(fields), unique=True)))
    specs = []
    for name in classes:
        own = data.draw(st.lists(st.sampled_from(fields), min_size=1, unique=True))
        inherited = frozenset(data.draw(st.lists(st.sampled_from(own), unique=True)))
        specs.append(NeuronClassSpec(name, dict.fromkeys(own, Point(1.0)), inherited, "expression", "1"))
    spec = PriorSpec("<test>", "", {}, Convention(), tuple(specs), shared=shared)
    for c in spec.classes:
        for f in c.params:
            site = field_site(spec, c, f)
            if f in shared and f in c.inherited:
                assert _names(resolve(f"defaults.{f}", spec, conventions=())) == (site,) == (site_name("shared", f),)
                with pytest.raises(SiteError, match="is the shared draw of"):
                    resolve(f"{c.name}.{f}", spec, conventions=())
            else:
                assert _names(resolve(f"{c.name}.{f}", spec, conventions=())) == (site,) == (site_name(c.name, f),)
            assert is_parameter_site(site, spec.class_names)
    for f in fields:
        expected = tuple(dict.fromkeys(field_site(spec, c, f) for c in spec.classes if f in c.params))
        if expected:
            assert _names(resolve(f"*.{f}", spec, conventions=(), fan_out=True)) == expected
        else:
            with pytest.raises(SiteError, match="no class has a field"):
                resolve(f"*.{f}", spec, conventions=(), fan_out=True)


# -- references the parser once got wrong ------------------------------------------------------------

EVIDENCE_ATP = '[evidence.energy]\nquantity = "sum(atp)"\nobserved = { lognormal = [1, 100] }\n'


def test_star_over_lnp_and_expression_classes_sets_the_shared_draw_once():
    spec = parse_priors('[scenarios]\nlow = { weight = 1, "*.rate" = 2 }\n' + TEXT)
    assert spec.scenarios[0].settings == (("shared_rate", Point(2.0)), ("b_rate", Point(2.0)))


def test_scenarios_set_fields_only_evidence_uses():
    text = TEXT.replace('shared = ["rate"]', 'atp = 5\nshared = ["rate"]').replace(
        "synapses = 500", "synapses = 500\natp = 6"
    )
    own = parse_priors('[scenarios]\nlow = { weight = 1, "b.atp" = { point = 2, unit = "J" } }\n' + EVIDENCE_ATP + text)
    assert own.scenarios[0].settings == (("b_atp", Point(2.0)),)
    shared = TEXT.replace('shared = ["rate"]', 'atp = { lognormal = [1, 10], unit = "J" }\nshared = ["rate", "atp"]')
    spec = parse_priors(
        '[scenarios]\nlow = { weight = 1, "defaults.atp" = { point = 2, unit = "J" } }\n' + EVIDENCE_ATP + shared
    )
    assert spec.scenarios[0].settings == (("shared_atp", Point(2.0)),)


@pytest.mark.parametrize(
    "section",
    ['[correlations]\n"defaults.rate ~ b.rate" = 0.5\n', '[scenarios]\nlow = { weight = 1, "defaults.rate" = 2 }\n'],
)
def test_a_shared_default_no_class_inherits_is_refused(section):
    text = TEXT.replace("[classes.a]\n", "[classes.a]\nrate = 3\n").replace("flop = {", "rate = 4\nflop = {")
    with pytest.raises(PriorError) as exc:
        parse_priors(section + text, "x.toml")
    assert "'defaults.rate' is a shared default no class inherits" in str(exc.value)


def test_a_shared_fixed_field_in_evidence_and_in_scenarios():
    from uncertainty.brain.engine import sample_brain
    from uncertainty.brain.evidence import evidence_quantities

    text = TEXT.replace("rate = { lognormal = [1, 10] }", "rate = 7")
    spec = parse_priors('[evidence.spikes]\nquantity = "mean(rate)"\nobserved = { lognormal = [1, 100] }\n' + text)
    draws = sample_brain(spec, 8, seed=0)
    np.testing.assert_allclose(evidence_quantities(spec, draws)["spikes"], (7 + draws["b_rate"] + 7) / 3)
    assert fixed_values(spec)["a_rate"] == 7.0
    tied = parse_priors('[scenarios]\nlow = { weight = 1, "defaults.rate" = { lognormal = [1, 5] } }\n' + text)
    assert "a_rate" not in fixed_values(tied) and "syn_rate" not in fixed_values(tied)
