"""Whole-brain FLOP/s from neuron classes, summed in log space.

``brain_flops = sum_c N_c * rate_c * sum_{counted stages} stage_c`` (SPEC
section 3). Every product becomes a sum of logs and every sum a log-sum-exp,
so float32 never overflows however wide the priors are. Written for one draw
(class parameters stacked along a leading class axis); batch with ``jax.vmap``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
from jax import Array
from jax.scipy.special import logsumexp

from .lnp import Convention, LNPParams, log_stage_flops

__all__ = ["BrainParams", "BrainFlops", "brain_log10_flops"]

_LN10 = 2.302585092994046


class BrainParams(NamedTuple):
    """Parameters of every neuron class for one draw; each leaf has shape ``(classes,)``.

    count: neurons; rate: updates per second (Hz); lnp: neuron dimensions.
    """

    count: Array
    rate: Array
    lnp: LNPParams

    @classmethod
    def from_fields(cls, fields: dict[str, Array]) -> BrainParams:
        """From a mapping of every class field (``count``, ``rate`` and the LNP dimensions) to arrays."""
        rest = {k: v for k, v in fields.items() if k not in ("count", "rate")}
        return cls(fields["count"], fields["rate"], LNPParams(**rest))


class BrainFlops(NamedTuple):
    """log10 FLOP/s of one draw.

    total: whole brain, scalar; per_class: shape ``(classes,)``;
    per_stage: shape ``(counted stages,)`` in :data:`~uncertainty.brain.lnp.STAGES` order.
    """

    total: Array
    per_class: Array
    per_stage: Array


def brain_log10_flops(params: BrainParams, convention: Convention = Convention()) -> BrainFlops:
    """log10 of whole-brain FLOP/s, per class and per counted stage, for one draw."""
    # (classes, counted stages): sums of logs, so no product overflows
    log_stage_cost = log_stage_flops(params.lnp, convention, counted_only=True)
    log_class_stage = jnp.log(params.count)[:, None] + jnp.log(params.rate)[:, None] + log_stage_cost
    per_class = logsumexp(log_class_stage, axis=1)
    per_stage = logsumexp(log_class_stage, axis=0)
    total = logsumexp(per_class)
    return BrainFlops(total / _LN10, per_class / _LN10, per_stage / _LN10)
