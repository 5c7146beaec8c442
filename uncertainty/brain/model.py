"""The NumPyro model of brain FLOP/s.

Sample sites are the stochastic priors of every neuron class, named
``{class}_{field}`` (e.g. ``granule_rate``), ``shared_{field}`` for a
``[defaults]`` field listed in ``shared`` (one draw for every class that takes
it), and ``convention_{key}`` for an uncertain ``[convention]`` number; fixed
values are constants, not sites. Deterministic sites: ``log10_brain_flops``
(draw), ``log10_class_flops`` (draw, class) and, when some class is an LNP
neuron, ``log10_stage_flops`` (draw, counted stage: the LNP classes' FLOP/s in
each stage), all log10 FLOP/s. An ``expression`` class's FLOP/s is its compiled
expression (:mod:`uncertainty.brain.expression`) evaluated on its field draws. The LNP
cost function is written for one draw and batched over the draw plate with
``jax.vmap``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from jax.scipy.special import logsumexp, ndtr

from .cost import BrainParams, brain_log10_flops
from .distributions import quantile, to_distribution
from .expression import parse_expression
from .priors import (
    CLASS_FIELDS,
    CONVENTION_FIELDS,
    Point,
    PriorSpec,
    SameAs,
    correlated_priors,
    correlation_matrix,
)
from .sites import CONVENTION, field_site, site_name

__all__ = ["COPULA_SITE", "brain_model"]

_LN10 = 2.302585092994046
COPULA_SITE = "_copula_z"  # the correlated standard normals behind [correlations]; not stored


def brain_model(spec: PriorSpec, num_draws: int) -> None:
    """Draw ``num_draws`` joint samples of the priors and their brain FLOP/s."""
    columns: dict[str, list] = {f: [] for f in CLASS_FIELDS}
    values: dict[str, dict[str, jnp.ndarray]] = {}  # expression classes: field -> draws

    tied: dict[str, list[tuple[int, object]]] = {}  # site -> (scenario index, its prior), from [scenarios]
    same: dict[str, list[tuple[int, str]]] = {}  # site -> (scenario index, the site whose draw it takes)
    for k, sc in enumerate(spec.scenarios):
        for site, prior in sc.settings:
            if isinstance(prior, SameAs):
                same.setdefault(site, []).append((k, prior.site))
            else:
                tied.setdefault(site, []).append((k, prior))

    def one(name: str, positive: bool, prior) -> jnp.ndarray:
        if isinstance(prior, Point):
            return jnp.full((num_draws,), prior.value)
        if name in copula:
            return numpyro.deterministic(name, copula[name])
        return numpyro.sample(name, to_distribution(prior, positive))

    def draw(name: str, positive: bool, prior) -> jnp.ndarray:
        if name not in tied and name not in same:
            return one(name, positive, prior)
        # a scenario-tied site: the file's prior, replaced in each scenario's draws by that scenario's prior
        # (a site another site's draw replaces is stored once that draw is in, after every field is drawn)
        value = one(f"_base_{name}", positive, prior) if name not in copula else copula[name]
        for k, alt in tied.get(name, ()):
            value = jnp.where(scenario == k, one(f"_scenario{k}_{name}", positive, alt), value)
        return value if name in same else numpyro.deterministic(name, value)

    with numpyro.plate("draw", num_draws):
        copula = _copula_draws(spec)
        if spec.scenarios:
            weights = jnp.asarray([sc.weight for sc in spec.scenarios])
            scenario = numpyro.sample("scenario", dist.Categorical(probs=weights / weights.sum()))
        keys = [*spec.convention_priors, *(k for k in CONVENTION_FIELDS if site_name(CONVENTION, k) in tied)]
        convention = {
            k: draw(site_name(CONVENTION, k), True, spec.convention_priors.get(k, Point(getattr(spec.convention, k))))
            for k in dict.fromkeys(keys)
        }
        drawn: dict[str, jnp.ndarray] = {}
        for c in spec.classes:
            for f, prior in c.params.items():
                lnp_field = c.method == "lnp" and f in CLASS_FIELDS  # else an expression's or evidence's field
                positive = CLASS_FIELDS[f].positive if lnp_field else True
                site = field_site(spec, c, f)
                if site not in drawn:  # a shared site is drawn once, for the first class that takes it
                    drawn[site] = draw(site, positive, prior)
        for site, takes in same.items():  # { same_as = FIELD }: that field's draw in the scenario's draws
            value = drawn[site]
            for k, other in takes:
                value = jnp.where(scenario == k, drawn[other], value)
            drawn[site] = numpyro.deterministic(site, value)
        for c in spec.classes:
            for f in c.params:
                lnp_field = c.method == "lnp" and f in CLASS_FIELDS
                value = drawn[field_site(spec, c, f)]
                if lnp_field:
                    columns[f].append(value)
                elif c.method == "expression":
                    values.setdefault(c.name, {})[f] = value
                # else: an LNP class's field that only [evidence] uses: drawn, not part of the cost
    log10_class: dict[str, jnp.ndarray] = {}
    lnp = [c.name for c in spec.classes if c.method == "lnp"]
    if lnp:
        params = BrainParams.from_fields({f: jnp.stack(v, axis=-1) for f, v in columns.items()})  # (draw, class)
        if convention:  # uncertain counting: each draw has its own FLOPs per MAC / per nonlinearity

            def with_convention(p, conv):
                return brain_log10_flops(p, spec.convention._replace(**conv))

            flops = jax.vmap(with_convention)(params, convention)
        else:
            flops = jax.vmap(brain_log10_flops, in_axes=(0, None))(params, spec.convention)
        log10_class.update({name: flops.per_class[:, i] for i, name in enumerate(lnp)})
        numpyro.deterministic("log10_stage_flops", flops.per_stage)
    for c in spec.classes:
        if c.method == "expression":
            log10_class[c.name] = jnp.log10(parse_expression(c.expression)(values[c.name]))
    per_class = jnp.stack([log10_class[c.name] for c in spec.classes], axis=-1)
    # all LNP: the cascade's own log-space sum, bit for bit as before
    total = flops.total if len(lnp) == len(spec.classes) else logsumexp(per_class * _LN10, axis=-1) / _LN10
    numpyro.deterministic("log10_brain_flops", total)
    numpyro.deterministic("log10_class_flops", per_class)


def _copula_draws(spec: PriorSpec) -> dict[str, jnp.ndarray]:
    """Draws of the ``[correlations]`` sites through a Gaussian copula: correlated standard normals
    ``z``, pushed through the normal CDF and each prior's quantile function, so every marginal is
    exactly its prior and the rank correlations are the requested ones."""
    if not spec.correlations:
        return {}
    sites, matrix = correlation_matrix(spec)
    priors = correlated_priors(spec)
    chol = jnp.asarray(np.linalg.cholesky(matrix))
    z = numpyro.sample(COPULA_SITE, dist.Normal(0.0, 1.0).expand([len(sites)]).to_event(1))
    eps = jnp.finfo(z.dtype).eps
    u = jnp.clip(ndtr(z @ chol.T), eps, 1.0 - eps)
    return {site: quantile(priors[site], u[..., i]) for i, site in enumerate(sites)}
