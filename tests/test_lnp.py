"""LNP cost function: each stage against hand-computed numbers; properties; vmap == loop."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from uncertainty.brain.lnp import (
    STAGES,
    Convention,
    LNPParams,
    dendrites_flops,
    dendritic_nonlinearity_flops,
    neuron_flops,
    output_flops,
    soma_flops,
    spike_flops,
    stage_flops,
)

# The granule cell of the article's text: S x T = 15 x 5, filter 3 x 4 x 5, soma 1x1x5, O = 100.
GRANULE = LNPParams(*(jnp.float32(v) for v in (15, 5, 3, 4, 5, 5, 100)))


@pytest.mark.parametrize(
    "fn, default, other",
    [
        # default: flops_per_mac = 2, flops_per_nonlinearity = 1; other: 1 and 3
        (dendrites_flops, 2 * (15 * 5) * (3 * 4 * 5), 1 * (15 * 5) * (3 * 4 * 5)),  # 9000, 4500
        (dendritic_nonlinearity_flops, 4 * 5, 3 * 4 * 5),  # 20, 60
        (soma_flops, 2 * (4 * 5) * 5, 1 * (4 * 5) * 5),  # 200, 100
        (spike_flops, 2 * 5, 3 * 2 * 5),  # 10, 30
        (output_flops, 2 * 100 * 5, 1 * 100 * 5),  # 1000, 500
    ],
)
def test_stage_against_hand_computed(fn, default, other):
    assert float(fn(GRANULE)) == default
    assert float(fn(GRANULE, Convention(flops_per_mac=1.0, flops_per_nonlinearity=3.0))) == other


def test_stage_vector_and_neuron_total():
    np.testing.assert_array_equal(np.asarray(stage_flops(GRANULE)), [9000, 20, 200, 10, 1000])
    assert float(neuron_flops(GRANULE)) == 10230
    only = Convention(stages=("dendrites", "output"))
    np.testing.assert_array_equal(np.asarray(stage_flops(GRANULE, only)), [9000, 0, 0, 0, 1000])
    assert float(neuron_flops(GRANULE, only)) == 10000


def test_purkinje_dendrites_of_the_article():
    # Purkinje: 100000 x 5 input, filter 10 x 1000 x 5 -> 2 * 500000 * 50000 = 5e10 FLOPs per update
    p = LNPParams(*(jnp.float32(v) for v in (100_000, 5, 10, 1000, 5, 5, 1000)))
    np.testing.assert_allclose(float(dendrites_flops(p)), 5e10, rtol=1e-7)  # float32


def test_convention_mask_order_is_canonical():
    assert Convention().mask == (True,) * 5
    assert Convention(stages=("output", "dendrites")).mask == (True, False, False, False, True)
    assert STAGES[0] == "dendrites" and len(STAGES) == 5


dims = st.floats(min_value=0.5, max_value=1e4, allow_nan=False, width=32)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(*[dims] * 7), min_size=1, max_size=8), st.sampled_from([1.0, 2.0]))
@pytest.mark.slow
def test_vmap_agrees_with_loop(rows, fpm):
    conv = Convention(flops_per_mac=fpm)
    batch = LNPParams(*(jnp.asarray(col, dtype=jnp.float32) for col in zip(*rows, strict=False)))
    batched = jax.jit(jax.vmap(stage_flops, in_axes=(0, None)), static_argnums=1)(batch, conv)
    looped = jnp.stack([stage_flops(LNPParams(*(jnp.float32(v) for v in row)), conv) for row in rows])
    np.testing.assert_allclose(np.asarray(batched), np.asarray(looped), rtol=1e-6)


@settings(max_examples=50, deadline=None)
@given(st.tuples(*[dims] * 7), st.floats(min_value=1.5, max_value=4.0))
def test_costs_scale_as_the_formulas_say(row, k):
    p = LNPParams(*(jnp.float32(v) for v in row))
    # the dendritic convolution is bilinear in input size and filter size
    np.testing.assert_allclose(dendrites_flops(p._replace(synapses=p.synapses * k)), k * dendrites_flops(p), rtol=1e-5)
    np.testing.assert_allclose(dendrites_flops(p._replace(branches=p.branches * k)), k * dendrites_flops(p), rtol=1e-5)
    # every MAC stage is linear in flops_per_mac, every nonlinearity stage in flops_per_nonlinearity
    c = Convention(flops_per_mac=2.0 * k, flops_per_nonlinearity=k)
    np.testing.assert_allclose(stage_flops(p, c), k * stage_flops(p), rtol=1e-5)
    # time enters every stage linearly
    np.testing.assert_allclose(stage_flops(p._replace(time_steps=p.time_steps * k)), k * stage_flops(p), rtol=1e-5)


# from 2 up: a contraction of length 1 is a bare multiply, which XLA counts as 1 FLOP, not a MAC's 2
small = st.integers(min_value=2, max_value=12)


@settings(max_examples=25, deadline=None)
@given(st.tuples(*[small] * 7))
@pytest.mark.slow
def test_xla_counts_what_the_convention_counts(dims):
    from uncertainty.brain.executable import xla_stage_flops

    analytic = np.asarray(stage_flops(LNPParams(*(jnp.float32(v) for v in dims))))
    counted = xla_stage_flops(*dims)
    np.testing.assert_array_equal([counted[s] for s in STAGES], analytic)
