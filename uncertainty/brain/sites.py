"""The brain model's sites: the one rule that names them and the one resolver of a prior file's references
to them (light: no NumPyro, and nothing from :mod:`uncertainty.brain.priors` at run time, which uses it).

A site is named ``{owner}_{field}`` (:func:`site_name`): ``{class}_{field}`` for a class's own field,
``shared_{field}`` for a ``[defaults]`` field listed in ``shared`` (one draw for every class that inherits
it), ``convention_{key}`` for a ``[convention]`` number. A prior file names sites as ``class.field``,
``*.field`` (every class that has the field), ``defaults.field`` or ``convention.key`` (:func:`resolve`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .priors import NeuronClassSpec, Prior, PriorSpec

__all__ = [
    "CONVENTION",
    "DERIVED_SITES",
    "SHARED",
    "Site",
    "SiteError",
    "field_site",
    "has_stages",
    "is_parameter_site",
    "resolve",
    "site_name",
    "site_priors",
    "takes_shared",
    "tied_sites",
]

SHARED = "shared"  # owner of the shared draws of [defaults] fields (a reserved class name)
CONVENTION = "convention"  # owner of the [convention] numbers (a reserved class name)
DERIVED_SITES = ("log10_brain_flops", "log10_class_flops", "log10_stage_flops")


class SiteError(ValueError):
    """A reference that names no site; the message is its one-line problem."""


@dataclass(frozen=True)
class Site:
    """A site a reference names: the field ``field`` of ``owner`` (a class, :data:`SHARED` or
    :data:`CONVENTION`); ``cls`` is the class whose own field it is (``None`` for the other owners)."""

    owner: str
    field: str
    cls: NeuronClassSpec | None = None

    @property
    def name(self) -> str:
        return site_name(self.owner, self.field)


def site_name(owner: str, field: str) -> str:
    """Name of the site of ``field`` of ``owner``: a neuron class, :data:`SHARED` or :data:`CONVENTION`."""
    return f"{owner}_{field}"


def takes_shared(spec: PriorSpec, cls: NeuronClassSpec, field: str) -> bool:
    """Whether class ``cls`` takes ``field`` from the shared draw: a ``[defaults]`` field listed in ``shared``
    that the class inherits (does not set itself)."""
    return field in spec.shared and field in cls.inherited


def field_site(spec: PriorSpec, cls: NeuronClassSpec, field: str) -> str:
    """The site holding class ``cls``'s ``field``: ``shared_{field}`` for a shared [defaults] field it
    inherits, else ``{class}_{field}``."""
    return site_name(SHARED if takes_shared(spec, cls, field) else cls.name, field)


def site_priors(spec: PriorSpec) -> dict[str, Prior]:
    """The prior of every site of ``spec``'s fields, by site name, in the model's order: the uncertain
    conventions, then each class's fields (a shared field once, as its first class inherits it). Fixed
    fields are included: their sites are constants unless a scenario sets them."""
    out: dict[str, Prior] = {site_name(CONVENTION, k): prior for k, prior in spec.convention_priors.items()}
    for c in spec.classes:
        for f, prior in c.params.items():
            out.setdefault(field_site(spec, c, f), prior)
    return out


def tied_sites(spec: PriorSpec) -> set[str]:
    """The sites some ``[scenarios]`` entry sets (drawn per scenario, never constants)."""
    return {site for sc in spec.scenarios for site, _ in sc.settings}


def is_parameter_site(name: str, class_names: Iterable[str]) -> bool:
    """Whether a stored site is a stochastic parameter of the model: ``{class}_{field}``, ``shared_{field}``
    or ``convention_{key}`` (not a derived log10 FLOP/s)."""
    owners = (*class_names, SHARED, CONVENTION)
    return name not in DERIVED_SITES and any(name.startswith(site_name(owner, "")) for owner in owners)


def has_stages(spec: PriorSpec) -> bool:
    """Whether a run of ``spec`` has per-stage FLOP/s (it has at least one LNP class)."""
    return any(c.method == "lnp" for c in spec.classes)


def resolve(
    reference: str, spec: PriorSpec, *, conventions: Collection[str], fan_out: bool = False
) -> tuple[Site, ...]:
    """The sites a prior file's ``reference`` names: ``class.field`` (a class's own field),
    ``defaults.field`` (a shared draw) or ``convention.key`` (a key in ``conventions``). With ``fan_out``
    (a scenario's setting) ``*.field`` names every class that has the field, once per site, and
    ``conventions`` are the keys that may be set; without it (a correlation's end: one draw) they are the
    uncertain ones. Raises :class:`SiteError` with the problem in one line."""
    owner, dot, field = reference.partition(".")
    if not dot or not field:
        forms = "*.field, defaults.field, convention.key" if fan_out else "defaults.field, convention.key"
        raise SiteError(f"'{reference}' is not class.field (or {forms})")
    if owner == CONVENTION:
        if field not in conventions:
            if fan_out:
                raise SiteError(f"unknown convention '{field}' (expected one of {', '.join(conventions)})")
            raise SiteError(f"'{reference}' is not an uncertain convention (give it a prior in [convention])")
        return (Site(CONVENTION, field),)
    if owner == "defaults":
        if field not in spec.shared:
            other = (
                f"the classes (*.{field} or class.{field})" if fan_out else f"the class field instead (class.{field})"
            )
            raise SiteError(f"'{reference}' is not a shared default; name {other}")
        if not any(field in c.inherited for c in spec.classes):
            raise SiteError(f"'{reference}' is a shared default no class inherits (each sets its own or has none)")
        return (Site(SHARED, field),)
    if owner == "*" and fan_out:
        return _every_class(field, spec)
    return (_class_site(reference, owner, field, spec),)


def _class_site(reference: str, owner: str, field: str, spec: PriorSpec) -> Site:
    """The site of ``owner.field``: a class's own field (a shared one is named ``defaults.field``)."""
    cls = next((c for c in spec.classes if c.name == owner), None)
    if cls is None:
        raise SiteError(f"unknown class '{owner}' (classes: {', '.join(spec.class_names)})")
    if field not in cls.params:
        raise SiteError(f"class '{owner}' has no field '{field}'")
    if takes_shared(spec, cls, field):
        raise SiteError(f"'{reference}' is the shared draw of [defaults]; name it defaults.{field}")
    return Site(owner, field, cls)


def _every_class(field: str, spec: PriorSpec) -> tuple[Site, ...]:
    """The sites of ``*.field``: each class's own field, or the shared draw, in class order, once each."""
    sites: dict[str, Site] = {}
    for c in spec.classes:
        if field in c.params:
            site = Site(SHARED, field) if takes_shared(spec, c, field) else Site(c.name, field, c)
            sites.setdefault(site.name, site)
    if not sites:
        raise SiteError(f"no class has a field '{field}'")
    return tuple(sites.values())
