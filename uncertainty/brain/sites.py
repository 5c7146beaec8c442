"""The names of the brain model's stored sites, and what they are (light: no JAX or NumPyro)."""

from __future__ import annotations

from .priors import Point, PriorSpec

__all__ = ["DERIVED_SITES", "fixed_values", "has_stages", "is_parameter_site", "site_name"]

DERIVED_SITES = ("log10_brain_flops", "log10_class_flops", "log10_stage_flops")


def site_name(class_name: str, field: str) -> str:
    """Name of the sample site of ``field`` in neuron class ``class_name``."""
    return f"{class_name}_{field}"


def fixed_values(spec: PriorSpec) -> dict[str, float]:
    """The prior file's fixed (point) values, by site name."""
    tied = {site for sc in spec.scenarios for site, _ in sc.settings}  # scenario-set sites are draws
    return {
        site_name(c.name, f): prior.value
        for c in spec.classes
        for f, prior in c.params.items()
        if isinstance(prior, Point) and site_name(c.name, f) not in tied
    }


def is_parameter_site(name: str, class_names) -> bool:
    """Whether a stored site is a stochastic parameter of the model: ``{class}_{field}``, ``shared_{field}``
    or ``convention_{key}`` (not a derived log10 FLOP/s)."""
    owners = (*class_names, "shared", "convention")
    return name not in DERIVED_SITES and any(name.startswith(f"{owner}_") for owner in owners)


def has_stages(spec: PriorSpec) -> bool:
    """Whether a run of ``spec`` has per-stage FLOP/s (it has at least one LNP class)."""
    return any(c.method == "lnp" for c in spec.classes)
