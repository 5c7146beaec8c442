"""Cost of one neuron of the extended linear-nonlinear-Poisson (LNP) model.

A neuron is a small convolutional net (SPEC section 3; Dettmers 2015):

==========================  ============================================  ==========================
stage                       cost per neuron and update (FLOPs)            deep-learning analogue
==========================  ============================================  ==========================
``dendrites``               ``flops_per_mac * (S*T) * (B*D*K)``           spatio-temporal convolution
``dendritic_nonlinearity``  ``flops_per_nonlinearity * D*T``              ReLU-like nonlinearity
``soma``                    ``flops_per_mac * (D*T) * K_s``               1x1xK_s temporal convolution
``spike``                   ``flops_per_nonlinearity * 2*T``              nonlinearity + Poisson gate
``output``                  ``flops_per_mac * O*T``                       dense layer onto O synapses
==========================  ============================================  ==========================

Counting convention: a convolution of an input of size I with a filter of size
F costs I*F multiply-accumulates (every input element meets every filter
element); one multiply-accumulate is ``flops_per_mac`` FLOPs (default 2); a
nonlinearity or the Poisson gate costs ``flops_per_nonlinearity`` FLOPs per
element (default 1). Dimensions are real numbers (expected sizes), not
rounded. All functions are written for one draw; batch them with ``jax.vmap``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
from jax import Array

__all__ = [
    "STAGES",
    "Convention",
    "LNPParams",
    "dendrites_flops",
    "dendritic_nonlinearity_flops",
    "soma_flops",
    "spike_flops",
    "output_flops",
    "stage_flops",
    "log_stage_flops",
    "neuron_flops",
]

STAGES: tuple[str, ...] = ("dendrites", "dendritic_nonlinearity", "soma", "spike", "output")


class LNPParams(NamedTuple):
    """Dimensions of one neuron (scalars for one draw; arrays under ``vmap``).

    synapses (S), time_steps (T), branches (B), dendrites (D),
    filter_steps (K), soma_steps (K_s), outputs (O); all dimensionless counts.
    """

    synapses: Array
    time_steps: Array
    branches: Array
    dendrites: Array
    filter_steps: Array
    soma_steps: Array
    outputs: Array


class Convention(NamedTuple):
    """How operations are counted. Hashable, so it can be a static jit argument."""

    flops_per_mac: float = 2.0
    flops_per_nonlinearity: float = 1.0
    stages: tuple[str, ...] = STAGES

    @property
    def mask(self) -> tuple[bool, ...]:
        """Which of :data:`STAGES` are counted, in that order."""
        return tuple(s in self.stages for s in STAGES)


def dendrites_flops(p: LNPParams, c: Convention = Convention()) -> Array:
    """Dendritic spatio-temporal convolution, FLOPs per update: fpm * (S*T) * (B*D*K)."""
    return c.flops_per_mac * (p.synapses * p.time_steps) * (p.branches * p.dendrites * p.filter_steps)


def dendritic_nonlinearity_flops(p: LNPParams, c: Convention = Convention()) -> Array:
    """Dendritic nonlinearity on each dendrite and time step, FLOPs per update: fnl * D*T."""
    return c.flops_per_nonlinearity * p.dendrites * p.time_steps


def soma_flops(p: LNPParams, c: Convention = Convention()) -> Array:
    """Somatic 1x1xK_s temporal convolution of the D*T map, FLOPs per update: fpm * (D*T) * K_s."""
    return c.flops_per_mac * (p.dendrites * p.time_steps) * p.soma_steps


def spike_flops(p: LNPParams, c: Convention = Convention()) -> Array:
    """Somatic nonlinearity plus Poisson gate on T steps, FLOPs per update: fnl * 2*T."""
    return c.flops_per_nonlinearity * 2.0 * p.time_steps


def output_flops(p: LNPParams, c: Convention = Convention()) -> Array:
    """Axon terminals as a dense layer onto O synapses, FLOPs per update: fpm * O*T."""
    return c.flops_per_mac * p.outputs * p.time_steps


_STAGE_FUNCTIONS = (dendrites_flops, dendritic_nonlinearity_flops, soma_flops, spike_flops, output_flops)


def stage_flops(p: LNPParams, c: Convention = Convention()) -> Array:
    """FLOPs per update of every stage in :data:`STAGES` order, shape ``(5,)``.

    Stages the convention does not count are zero.
    """
    costs = jnp.stack([jnp.asarray(f(p, c)) for f in _STAGE_FUNCTIONS])
    return jnp.where(jnp.asarray(c.mask), costs, jnp.zeros_like(costs))


def log_stage_flops(p: LNPParams, c: Convention = Convention(), counted_only: bool = False) -> Array:
    """Natural log of the FLOPs per update of every stage in :data:`STAGES` order, shape ``(..., 5)``, as
    sums of the logs of the factors: no product is formed, so no stage overflows (S = B = 1e300 is fine
    in float64). Stages the convention does not count are -inf, or left out with ``counted_only``.
    Elementwise: ``p``'s fields may be arrays (one value per class, say)."""
    log = {name: jnp.log(jnp.asarray(getattr(p, name))) for name in LNPParams._fields}
    mac, nonlinearity = jnp.log(jnp.asarray(c.flops_per_mac)), jnp.log(jnp.asarray(c.flops_per_nonlinearity))
    t, d = log["time_steps"], log["dendrites"]
    costs = [
        mac + log["synapses"] + t + log["branches"] + d + log["filter_steps"],
        nonlinearity + d + t,
        mac + d + t + log["soma_steps"],
        nonlinearity + jnp.log(2.0) + t,
        mac + log["outputs"] + t,
    ]
    if counted_only:
        return jnp.stack([cost for cost, counted in zip(costs, c.mask, strict=True) if counted], axis=-1)
    return jnp.where(jnp.asarray(c.mask), jnp.stack(costs, axis=-1), -jnp.inf)


def neuron_flops(p: LNPParams, c: Convention = Convention()) -> Array:
    """FLOPs per update of one neuron: the sum of the counted stages."""
    return jnp.sum(stage_flops(p, c))
