"""The NumPyro model of brain FLOP/s.

Sample sites are the stochastic priors of every neuron class, named
``{class}_{field}`` (e.g. ``granule_rate``), and ``shared_{field}`` for a
``[defaults]`` field listed in ``shared`` (one draw for every class that takes
it); fixed values are constants, not sites. Deterministic sites: ``log10_brain_flops`` (draw), ``log10_class_flops``
(draw, class) and ``log10_stage_flops`` (draw, counted stage), all log10 FLOP/s.
The cost function is written for one draw and batched over the draw plate with
``jax.vmap``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpyro

from .brain import BrainParams, brain_log10_flops
from .distributions import to_distribution
from .priors import CLASS_FIELDS, Point, PriorSpec

__all__ = ["DERIVED_SITES", "brain_model", "site_name", "fixed_values"]

DERIVED_SITES = ("log10_brain_flops", "log10_class_flops", "log10_stage_flops")


def site_name(class_name: str, field: str) -> str:
    """Name of the sample site of ``field`` in neuron class ``class_name``."""
    return f"{class_name}_{field}"


def fixed_values(spec: PriorSpec) -> dict[str, float]:
    """The prior file's fixed (point) values, by site name."""
    return {
        site_name(c.name, f): prior.value
        for c in spec.classes
        for f, prior in c.params.items()
        if isinstance(prior, Point)
    }


def brain_model(spec: PriorSpec, num_draws: int) -> None:
    """Draw ``num_draws`` joint samples of the priors and their brain FLOP/s."""
    columns: dict[str, list] = {f: [] for f in CLASS_FIELDS}

    def draw(name: str, field: str, prior) -> jnp.ndarray:
        if isinstance(prior, Point):
            return jnp.full((num_draws,), prior.value)
        return numpyro.sample(name, to_distribution(prior, CLASS_FIELDS[field].positive))

    with numpyro.plate("draw", num_draws):
        shared = {}
        for c in spec.classes:
            for f, prior in c.params.items():
                if f in spec.shared and f in c.inherited:
                    if f not in shared:
                        shared[f] = draw(site_name("shared", f), f, prior)
                    columns[f].append(shared[f])
                else:
                    columns[f].append(draw(site_name(c.name, f), f, prior))
    params = BrainParams.from_fields({f: jnp.stack(v, axis=-1) for f, v in columns.items()})  # (draw, class)
    flops = jax.vmap(brain_log10_flops, in_axes=(0, None))(params, spec.convention)
    numpyro.deterministic("log10_brain_flops", flops.total)
    numpyro.deterministic("log10_class_flops", flops.per_class)
    numpyro.deterministic("log10_stage_flops", flops.per_stage)
