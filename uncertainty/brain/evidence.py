"""Condition the prior on measured evidence: PSIS of the prior draws, NUTS when PSIS fails.

Every ``[evidence.NAME]`` item gives each draw a log-likelihood: the derived quantity (an
expression over the classes' fields, :mod:`uncertainty.brain.expression` with ``sum``/``mean``) is
computed per draw and scored against the measurement (a Gaussian in linear or log space, or a
Student-t, whose central interval is the measured one; or a hard bound).

1. **PSIS.** The prior draws' log-weights are their summed log-likelihoods, smoothed by ArviZ's
   PSIS (Vehtari et al. 2024). The Pareto k-hat says whether the weights can be trusted
   (k-hat <= 0.7) and the effective sample size how many draws they are worth. Posterior draws are
   the prior draws resampled by those weights (seeded).
2. **NUTS**, when the weights are not to be trusted (k-hat > 0.7 or ESS < 100): the brain model of
   one draw, with each item's log-likelihood as a factor, sampled by NumPyro's NUTS (4 chains,
   float64, :mod:`uncertainty.inference.nuts`). A ``choice`` is a mixture, sampled through its marginal
   density; the chains start at prior draws picked by their likelihood. Reported with R-hat, bulk
   ESS and divergences. Discrete latent draws (``[scenarios]``, a ``choice`` with a fixed-value
   component) cannot be sampled by NUTS: such a file keeps its PSIS result, flagged.

How much the evidence moved the odds of each ``choice`` component is its posterior probability,
``E[w_k p_k(x) / sum_j w_j p_j(x)]`` over the posterior draws of the site (Rao-Blackwellised: the
data depend on the component only through the value ``x``), beside its prior weight ``w_k``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import replace
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
from numpyro import handlers

from .._arviz import az
from ..errors import PriorError
from ..inference.nuts import NutsSettings, run_nuts
from .distributions import to_distribution
from .expression import parse_expression
from .intervals import lognormal_params, normal_params
from .model import COPULA_SITE, brain_model
from .priors import EVIDENCE_FUNCTIONS, Choice, Evidence, Point, Prior, PriorSpec, correlated_priors
from .sites import field_site, site_priors, tied_sites

__all__ = [
    "INFERENCE",
    "K_HAT_LIMIT",
    "NUTS_SETTINGS",
    "Conditioned",
    "brain_draws",
    "choice_odds",
    "condition",
    "describe",
    "diagnosis",
    "diagnosis_of",
    "evidence_log_likelihood",
    "nuts_blocker",
    "posterior_sample",
    "evidence_quantities",
    "reliable",
    "reliable_nuts",
    "reliable_weights",
    "verdict",
]

K_HAT_LIMIT = 0.7  # PSIS: above this the importance weights are unreliable
MIN_ESS = 100  # fewer effective draws than this carry no usable posterior
RHAT_LIMIT = 1.01  # NUTS: above this the chains have not mixed
MIN_NUTS_ESS = 400  # NUTS: bulk ESS below this is too few for 5%/95% quantiles
INFERENCE = ("auto", "psis", "nuts")
INIT_DRAWS = 4096  # prior draws from which the NUTS chains' starting points are picked
NUTS_SETTINGS = NutsSettings(num_warmup=1000, num_samples=1000, num_chains=4, target_accept_prob=0.9, max_tree_depth=10)


class Conditioned(NamedTuple):
    """The posterior of a run: its draws, how they were obtained and each evidence item's check.

    ``draws``: posterior draws by site, flattened over chains (``num_chains`` equal blocks);
    ``k_hat``, ``ess_importance``: PSIS of the prior draws (always computed); for NUTS runs
    ``max_rhat``, ``ess`` (the smallest bulk ESS of the stored sites) and ``sample_stats``
    (``diverging``, ``acceptance_rate``, ``n_steps``, shape ``(chain, draw)``).
    """

    draws: dict[str, np.ndarray]
    k_hat: float
    ess: float  # PSIS: importance ESS; NUTS: smallest bulk ESS
    quantities: dict[str, tuple[np.ndarray, np.ndarray]]  # name -> (prior, posterior) draws of the quantity
    method: str = "PSIS"
    num_chains: int = 1
    ess_importance: float = math.nan
    max_rhat: float = math.nan
    sample_stats: dict[str, np.ndarray] | None = None
    choice_odds: dict[str, dict] | None = None
    fallback: str = ""  # why NUTS did not run although PSIS was unreliable (empty otherwise)

    def divergences(self) -> int:
        return 0 if self.sample_stats is None else int(self.sample_stats["diverging"].sum())


# -- quantities and likelihoods ---------------------------------------------------------------


def _named(spec: PriorSpec, name: str) -> tuple[list, str]:
    """The classes and the field an evidence quantity's name reads: ``field`` every class's, ``class.field``
    that one class's."""
    owner, dot, field = name.partition(".")
    return ([c for c in spec.classes if c.name == owner], field) if dot else (list(spec.classes), name)


def _field(spec: PriorSpec, values: dict, name: str, n: int) -> jnp.ndarray:
    """Values of field ``name`` for every class, shape ``(n, classes)``; of ``class.field``, that class's
    field, shape ``(n, 1)`` (sum/mean reduce over the classes, as for any field)."""
    classes, field = _named(spec, name)
    return jnp.stack([_column(spec, values, c, field, n) for c in classes], axis=-1)


def _column(spec: PriorSpec, values: dict, c, name: str, n: int) -> jnp.ndarray:
    site = field_site(spec, c, name)
    if site in values:
        return jnp.reshape(jnp.asarray(values[site], dtype=jnp.float64), (n,))
    return jnp.full((n,), c.params[name].value, dtype=jnp.float64)  # a fixed value (a constant, not a site)


def _quantities(spec: PriorSpec, values: dict, n: int) -> dict[str, jnp.ndarray]:
    out = {}
    for item in spec.evidence:
        expr = parse_expression(item.quantity, EVIDENCE_FUNCTIONS, dotted=True)  # the load-time parse (cached)
        fields = {name: _field(spec, values, name, n) for name in expr.names}
        value = expr(fields)  # (n, 1): reduced over the classes, or one class's field; or a constant
        out[item.name] = jnp.broadcast_to(value[..., 0] if jnp.ndim(value) == 2 else value, (n,))
    return out


def evidence_quantities(spec: PriorSpec, draws: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each evidence item's derived quantity, one value per draw."""
    n = len(draws["log10_brain_flops"])
    with jax.enable_x64(True):
        return {k: np.asarray(v, dtype=np.float64) for k, v in _quantities(spec, draws, n).items()}


def _student_t_scale(item: Evidence) -> float:
    from scipy.stats import t

    return (item.hi - item.lo) / 2.0 / float(t.ppf(0.5 + item.ci / 2.0, item.df))


def _log_likelihood(item: Evidence, q: jnp.ndarray) -> jnp.ndarray:
    """One item's log-likelihood of the quantity ``q`` (up to a constant; ``-inf`` outside a hard bound)."""
    if item.kind == "normal":
        mean, sd = normal_params(item.lo, item.hi, item.ci)
        return -0.5 * ((q - mean) / sd) ** 2
    if item.kind == "lognormal":
        mu, sigma = lognormal_params(item.lo, item.hi, item.ci)
        safe = jnp.where(q > 0, q, 1.0)
        return jnp.where(q > 0, -0.5 * ((jnp.log(safe) - mu) / sigma) ** 2, -jnp.inf)
    if item.kind == "student_t":
        z = (q - 0.5 * (item.lo + item.hi)) / _student_t_scale(item)
        return -0.5 * (item.df + 1.0) * jnp.log1p(z**2 / item.df)
    if item.kind == "uniform":
        return jnp.where((q >= item.lo) & (q <= item.hi), 0.0, -jnp.inf)
    if item.kind == "upper":
        return jnp.where(q <= item.lo, 0.0, -jnp.inf)
    return jnp.where(q >= item.lo, 0.0, -jnp.inf)  # lower


def evidence_log_likelihood(spec: PriorSpec, quantities: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each item's log-likelihood per draw (up to a constant; ``-inf`` outside a hard bound)."""
    with jax.enable_x64(True):
        return {
            item.name: np.asarray(_log_likelihood(item, jnp.asarray(quantities[item.name], dtype=jnp.float64)))
            for item in spec.evidence
        }


# -- the posterior probability of each choice component -----------------------------------------


def _choice_sites(spec: PriorSpec) -> dict[str, Choice]:
    """The sites drawn from a ``choice`` prior (not tied to scenarios), by site name."""
    tied = tied_sites(spec)
    return {s: p for s, p in site_priors(spec).items() if isinstance(p, Choice) and s not in tied}


def describe(prior: Prior) -> str:
    """A short label of a prior: ``lognormal [50, 1000]``, ``point 1.8``."""
    if isinstance(prior, Point):
        return f"point {prior.value:g}"
    if isinstance(prior, Choice):
        return "choice of " + ", ".join(describe(c) for c in prior.components)
    return f"{type(prior).__name__.lower()} [{prior.lo:g}, {prior.hi:g}]"


def _log_density(prior: Prior, x: jnp.ndarray) -> jnp.ndarray:
    """A component's log density at ``x``, ``-inf`` outside its support (a bounded component, e.g. a
    log-uniform, beside one that is not)."""
    d = to_distribution(prior)

    @jax.jit  # traced: NumPyro checks a concrete value against the support (and warns); this masks it
    def log_density(v):
        inside = d.support(v)
        return jnp.where(inside, d.log_prob(jnp.where(inside, v, d.support.feasible_like(v))), -jnp.inf)

    return log_density(x)


def choice_odds(spec: PriorSpec, draws: dict[str, np.ndarray]) -> dict[str, dict]:
    """For each ``choice`` site: its components' labels, prior weights and posterior probabilities
    (the mean over ``draws`` of each component's responsibility for the drawn value)."""
    out = {}
    with jax.enable_x64(True):
        for site, prior in _choice_sites(spec).items():
            if site not in draws:
                continue
            x = jnp.asarray(draws[site], dtype=jnp.float64)
            weights = np.asarray(prior.weights, dtype=np.float64) / sum(prior.weights)
            logp = jnp.stack([jnp.log(w) + _log_density(c, x) for w, c in zip(weights, prior.components, strict=True)])
            resp = jnp.exp(logp - jax.scipy.special.logsumexp(logp, axis=0))
            out[site] = {
                "components": [describe(c) for c in prior.components],
                "prior": [float(w) for w in weights],
                "posterior": [float(v) for v in np.asarray(jnp.mean(resp, axis=1))],
            }
    return out


# -- PSIS ------------------------------------------------------------------------------------


def _log_weights(spec: PriorSpec, draws: dict[str, np.ndarray]):
    quantities = evidence_quantities(spec, draws)
    loglik = evidence_log_likelihood(spec, quantities)
    for item in spec.evidence:
        if not np.isfinite(quantities[item.name]).any():
            raise PriorError(
                spec.path, f"evidence.{item.name}.quantity", "is not a finite number in any prior draw (overflow?)"
            )
        if not np.isfinite(loglik[item.name]).any():
            raise PriorError(spec.path, f"evidence.{item.name}", "every prior draw contradicts it (no draw has weight)")
    total = np.sum(np.stack(list(loglik.values())), axis=0)
    if not np.isfinite(total).any():
        raise PriorError(spec.path, "evidence", "no prior draw satisfies every item at once")
    return quantities, total


def _psis(spec: PriorSpec, draws: dict[str, np.ndarray], seed: int) -> Conditioned:
    quantities, total = _log_weights(spec, draws)
    finite = np.isfinite(total)
    log_w = np.where(finite, total - total[finite].max(), -np.inf)
    kept = np.flatnonzero(finite)
    if np.ptp(log_w[kept]) == 0.0:  # hard bounds only: equal weights, exact rejection sampling, no tail to fit
        smoothed, k_hat = log_w[kept], -math.inf
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ArviZ warns on high k-hat; the report says it instead
            smoothed, k_hat = az.psislw(log_w[kept].copy())
    weights = np.zeros_like(log_w)
    weights[kept] = np.exp(smoothed - smoothed.max())
    weights /= weights.sum()
    ess = float(1.0 / np.sum(weights**2))
    n = len(total)
    index = np.random.default_rng(seed).choice(n, size=n, p=weights)
    posterior = {k: np.asarray(v)[index] for k, v in draws.items()}
    checks = {name: (q, q[index]) for name, q in quantities.items()}
    return Conditioned(
        draws=posterior,
        k_hat=float(k_hat),
        ess=ess,
        quantities=checks,
        ess_importance=ess,
        choice_odds=choice_odds(spec, posterior),
    )


# -- NUTS ------------------------------------------------------------------------------------


def _evidence_sites(spec: PriorSpec) -> set[str]:
    """The sites the ``[evidence]`` quantities read."""
    sites = set()
    for item in spec.evidence:
        for name in parse_expression(item.quantity, EVIDENCE_FUNCTIONS, dotted=True).names:
            classes, field = _named(spec, name)
            sites.update(field_site(spec, c, field) for c in classes)
    return sites


def _scenarios_apart(spec: PriorSpec) -> bool:
    """Whether ``spec``'s scenarios are independent of its evidence: no item reads a site a scenario sets,
    and none of those sites is correlated. NUTS then samples the file without them, and each posterior
    draw's scenario (and what it sets) is drawn from the prior given the rest (:func:`_with_scenarios`)."""
    tied = tied_sites(spec)
    return not (tied & _evidence_sites(spec)) and not (tied & correlated_priors(spec).keys())


def _sampled(spec: PriorSpec) -> PriorSpec:
    """What NUTS samples: ``spec`` without its scenarios (independent of the evidence, drawn after it)."""
    return replace(spec, scenarios=()) if spec.scenarios else spec


def nuts_blocker(spec: PriorSpec) -> str:
    """Why NUTS cannot sample ``spec`` (a discrete latent draw), or ``""`` when it can."""
    if spec.scenarios and not _scenarios_apart(spec):
        return (
            "[scenarios] draw a discrete scenario index, which NUTS cannot sample "
            "(the evidence reads a field a scenario sets)"
        )
    for site, prior in _choice_sites(_sampled(spec)).items():
        if any(isinstance(c, Point) for c in prior.components):
            return f"{site} is a choice with a fixed-value component (a discrete draw), which NUTS cannot sample"
    return ""


def _evidence_model(spec: PriorSpec):
    def model(_data) -> None:
        with handlers.trace() as trace:
            brain_model(spec, 1)
        values = {k: s["value"] for k, s in trace.items() if s["type"] in ("sample", "deterministic")}
        quantities = _quantities(spec, values, 1)
        for item in spec.evidence:
            numpyro.factor(f"_evidence_{item.name}", jnp.sum(_log_likelihood(item, quantities[item.name])))

    return model


def _initial_points(spec: PriorSpec, model, key: jax.Array, num_chains: int) -> dict[str, jnp.ndarray]:
    """Unconstrained starting points: prior draws (all latent sites) picked at random by their likelihood."""
    from numpyro.infer.util import unconstrain_fn

    k0, k1 = jax.random.split(key)
    trace = handlers.trace(handlers.seed(brain_model, k0)).get_trace(spec, INIT_DRAWS)
    latent = {k: s["value"] for k, s in trace.items() if s["type"] == "sample" and not s["is_observed"]}
    values = {k: s["value"] for k, s in trace.items() if s["type"] in ("sample", "deterministic")}
    quantities = _quantities(spec, values, INIT_DRAWS)
    total = sum(_log_likelihood(e, quantities[e.name]) for e in spec.evidence)
    if not bool(jnp.isfinite(total).any()):
        raise PriorError(spec.path, "evidence", "no prior draw satisfies every item at once")
    picks = jax.random.categorical(k1, jnp.where(jnp.isfinite(total), total, -jnp.inf), shape=(num_chains,))
    picks = [int(i) for i in picks]
    chains = [unconstrain_fn(model, (None,), {}, {k: v[i : i + 1] for k, v in latent.items()}) for i in picks]
    return {k: jnp.stack([c[k] for c in chains])[None] for k in chains[0]}  # (batch 1, chain, ...)


def _with_scenarios(spec: PriorSpec, key: jax.Array, draws: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``draws`` of ``spec`` without its scenarios (NUTS draws), each given its scenario and what the
    scenario sets, drawn from the prior given the rest (exact when :func:`_scenarios_apart`), and its
    FLOP/s computed again."""
    n = len(draws["log10_brain_flops"])
    # a correlated site is a deterministic function of the copula's normals: those are what NUTS sampled
    drawn_again = tied_sites(spec) | correlated_priors(spec).keys()
    given = {k: jnp.asarray(v) for k, v in draws.items() if k not in drawn_again and not k.startswith("log10_")}
    trace = handlers.trace(handlers.seed(handlers.condition(brain_model, data=given), key)).get_trace(spec, n)
    return {k: np.asarray(s["value"]) for k, s in trace.items() if s["type"] in ("sample", "deterministic")}


def _nuts(
    spec: PriorSpec, prior_draws: dict[str, np.ndarray], psis: Conditioned, seed: int, settings: NutsSettings
) -> Conditioned:
    sampled = _sampled(spec)
    model = _evidence_model(sampled)
    key = jax.random.fold_in(jax.random.key(seed), 0x4E555453)  # "NUTS": apart from the prior draws' keys
    with jax.enable_x64(True):
        init = _initial_points(sampled, model, jax.random.fold_in(key, 0), settings.num_chains)
        result = run_nuts(jax.random.fold_in(key, 1), model, jnp.zeros((1,)), settings, init=init)
    chains, draws = settings.num_chains, settings.num_samples
    grouped = {}
    for name, value in result.samples.items():
        if name.startswith("_") or name not in prior_draws:
            continue
        v = np.asarray(value[0])  # (chain, draw, 1, ...): the one-draw plate
        grouped[name] = v.reshape(chains, draws, *v.shape[3:]).astype(prior_draws[name].dtype)
    flat = {k: v.reshape(chains * draws, *v.shape[2:]) for k, v in grouped.items()}
    if spec.scenarios:
        latent = dict(flat)
        if COPULA_SITE in result.samples:  # (batch, chain, draw, 1, sites): the correlated sites' normals
            z = np.asarray(result.samples[COPULA_SITE][0])
            latent[COPULA_SITE] = z.reshape(chains * draws, *z.shape[3:])
        with jax.enable_x64(True):
            full = _with_scenarios(spec, jax.random.fold_in(key, 2), latent)
        flat = {k: v.astype(prior_draws[k].dtype) for k, v in full.items() if k in prior_draws}
        grouped = {k: v.reshape(chains, draws, *v.shape[1:]) for k, v in flat.items()}
    scalar = [k for k, v in grouped.items() if v.ndim == 2]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant sites give NaN R-hat
        ds = az.convert_to_dataset({k: grouped[k] for k in scalar})
        rhat = az.rhat(ds).to_array().values
        ess = az.ess(ds, method="bulk").to_array().values
    stats = {
        "diverging": np.asarray(result.diverging[0]),
        "acceptance_rate": np.asarray(result.accept_prob[0]),
        "n_steps": np.asarray(result.num_steps[0]),
    }
    post_q = evidence_quantities(spec, flat)
    checks = {name: (psis.quantities[name][0], post_q[name]) for name in post_q}
    return Conditioned(
        draws=flat,
        k_hat=psis.k_hat,
        ess=float(np.nanmin(ess)),
        quantities=checks,
        method="NUTS",
        num_chains=chains,
        ess_importance=psis.ess_importance,
        max_rhat=float(np.nanmax(rhat)),
        sample_stats=stats,
        choice_odds=choice_odds(spec, flat),
    )


def condition(
    spec: PriorSpec,
    draws: dict[str, np.ndarray],
    seed: int = 0,
    inference: str = "auto",
    settings: NutsSettings | None = None,
) -> Conditioned:
    """The posterior of ``spec`` given its ``[evidence]``, from its prior ``draws``.

    ``inference``: ``auto`` (PSIS, then NUTS when the weights are unreliable and NUTS can sample the
    file), ``psis`` or ``nuts``. Raises :class:`PriorError` when no draw is compatible with an item
    (every weight is zero), or when ``nuts`` is asked for a file it cannot sample.
    """
    if inference not in INFERENCE:
        raise ValueError(f"inference must be one of {INFERENCE}, got {inference!r}")
    psis = _psis(spec, draws, seed)
    if inference == "psis" or (inference == "auto" and reliable(psis)):
        return psis
    blocker = nuts_blocker(spec)
    if blocker:
        if inference == "nuts":
            raise PriorError(spec.path, "evidence", f"--inference nuts: {blocker}")
        return psis._replace(fallback=blocker)
    return _nuts(spec, draws, psis, seed, settings or NUTS_SETTINGS)


def reliable_weights(k_hat: float, ess: float) -> bool:
    """Whether importance weights can be trusted: Pareto k-hat <= 0.7 (``-inf``: equal weights, from hard
    bounds only) and ESS >= 100."""
    return k_hat <= K_HAT_LIMIT and ess >= MIN_ESS and not math.isnan(k_hat)


def reliable_nuts(max_rhat: float, ess: float) -> bool:
    """Whether NUTS chains can be trusted: R-hat <= 1.01 and the smallest bulk ESS >= 400."""
    return max_rhat <= RHAT_LIMIT and ess >= MIN_NUTS_ESS


def reliable(c: Conditioned) -> bool:
    """Whether the conditioning can be trusted (:func:`reliable_weights`, or :func:`reliable_nuts`)."""
    if c.method == "NUTS":
        return reliable_nuts(c.max_rhat, c.ess)
    return reliable_weights(c.k_hat, c.ess)


def verdict(ok: bool) -> str:
    """The words reports and warnings use for a reliability check."""
    return "reliable" if ok else "UNRELIABLE: the posterior is not to be trusted"


def diagnosis(method: str, k_hat: float, ess: float, max_rhat: float = math.nan, divergences: int = 0) -> str:
    """One line on how the posterior was obtained and whether it can be trusted."""
    if method == "NUTS":
        ok = reliable_nuts(max_rhat, ess)
        return (
            f"NUTS (PSIS k-hat {k_hat:.2f} was too high): max R-hat {max_rhat:.3f}, smallest bulk ESS {ess:.0f}, "
            f"{divergences} divergences ({verdict(ok)})"
        )
    tail = "equal weights (hard bounds only)" if k_hat == -math.inf else f"Pareto k-hat {k_hat:.2f}"
    return f"PSIS: {tail}, importance ESS {ess:.0f} ({verdict(reliable_weights(k_hat, ess))})"


def diagnosis_of(attrs, prefix: str = "") -> str:
    """:func:`diagnosis` from a run's attributes (:func:`uncertainty.runs.io.conditioning_attrs`), with
    the reason NUTS could not run when it could not."""
    k, ess = float(attrs[prefix + "pareto_k"]), float(attrs[prefix + "ess_importance"])
    if attrs.get(prefix + "inference") == "NUTS":
        text = diagnosis(
            "NUTS",
            k,
            float(attrs[prefix + "ess_bulk"]),
            float(attrs[prefix + "max_rhat"]),
            int(attrs[prefix + "divergences"]),
        )
    else:
        text = diagnosis("PSIS", k, ess)
    if attrs.get(prefix + "nuts_unavailable"):
        text += f"; NUTS could not run: {attrs[prefix + 'nuts_unavailable']}"
    return text


def brain_draws(
    spec: PriorSpec, num_samples: int, seed: int = 0, progress: bool = False
) -> tuple[dict[str, np.ndarray], Conditioned | None]:
    """``num_samples`` brain draws for a crossover run: the prior's, or, when ``spec`` has ``[evidence]``,
    the posterior's (NUTS draws are resampled to ``num_samples``, seeded), with the conditioning."""
    from .engine import sample_brain

    draws = sample_brain(spec, num_samples, seed, progress=progress)
    if not spec.evidence:
        return draws, None
    conditioned = condition(spec, draws, seed)
    return posterior_sample(conditioned, num_samples, seed), conditioned


def posterior_sample(conditioned: Conditioned, num_samples: int, seed: int = 0) -> dict[str, np.ndarray]:
    """``num_samples`` of a posterior's draws (NUTS chains resampled to that count, seeded; PSIS draws as they are
    when they number as many)."""
    post = conditioned.draws
    n = len(post["log10_brain_flops"])
    if n != num_samples:
        index = np.random.default_rng(seed).choice(n, size=num_samples)
        post = {k: v[index] for k, v in post.items()}
    return post
