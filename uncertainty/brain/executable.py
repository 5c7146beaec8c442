"""An executable LNP neuron: each stage as the JAX operation its cost formula describes.

The analytic costs of :mod:`uncertainty.brain.lnp` are a counting convention; here each
stage is real code on arrays of the sizes the convention names, so XLA can count
the FLOPs of the compiled program itself (``cost_analysis``). The tests check that
XLA's count equals the analytic one for every stage (with ``flops_per_mac = 2``
and ``flops_per_nonlinearity = 1``, which is how XLA counts a multiply-add and an
elementwise operation).

===========================  =====================================================
stage                        operation
===========================  =====================================================
``dendrites``                (S*T) input map  @  (S*T, B*D*K) filter bank
``dendritic_nonlinearity``   ReLU on the (D, T) dendritic responses
``soma``                     (D*T) responses  @  (D*T, K_s) temporal filter
``spike``                    ReLU on T somatic potentials, times a Poisson gate
``output``                   T spikes  @  (T, O) synaptic weights
===========================  =====================================================
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from .lnp import STAGES

__all__ = ["stage_programs", "xla_stage_flops"]


def stage_programs(
    synapses: int, time_steps: int, branches: int, dendrites: int, filter_steps: int, soma_steps: int, outputs: int
) -> dict[str, tuple[Callable, tuple[jax.Array, ...]]]:
    """For each stage, a function and example arguments of the sizes the convention names."""
    s, t, b, d, k, ks, o = synapses, time_steps, branches, dendrites, filter_steps, soma_steps, outputs
    ones = jnp.ones
    return {
        "dendrites": (lambda x, w: x @ w, (ones(s * t), ones((s * t, b * d * k)))),
        "dendritic_nonlinearity": (lambda v: jnp.maximum(v, 0.0), (ones((d, t)),)),
        "soma": (lambda u, w: u @ w, (ones(d * t), ones((d * t, ks)))),
        "spike": (lambda r, gate: jnp.maximum(r, 0.0) * gate, (ones(t), ones(t))),
        "output": (lambda spikes, w: spikes @ w, (ones(t), ones((t, o)))),
    }


def xla_stage_flops(*dims: int) -> dict[str, float]:
    """FLOPs of each compiled stage as XLA counts them (``Compiled.cost_analysis``)."""
    out = {}
    for stage, (fn, args) in stage_programs(*dims).items():
        cost = jax.jit(fn).lower(*args).compile().cost_analysis()
        if isinstance(cost, list):  # older JAX returns one dict per device
            cost = cost[0]
        out[stage] = float(cost["flops"])
    assert tuple(out) == STAGES
    return out
