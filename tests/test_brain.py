"""Whole-brain FLOP/s: the article's presets exactly, log-space summation, overflow safety."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from uncertainty.article import point_brain_flops, preset_path
from uncertainty.brain.cost import BrainParams, brain_log10_flops
from uncertainty.brain.lnp import STAGES, Convention, LNPParams, neuron_flops
from uncertainty.brain.priors import load_priors


def test_dettmers2015_published_arithmetic():
    spec = load_priors(preset_path("dettmers2015"))
    # 2 * 200 * (10*1000*5) * (5e10*15*5 + 1e8*100000*5)
    expected = float(2 * 200 * (10 * 1000 * 5) * (5 * 10**10 * 15 * 5 + 10**8 * 100_000 * 5))
    assert expected == 1.075e21
    np.testing.assert_allclose(point_brain_flops(spec), expected, rtol=1e-6)
    np.testing.assert_allclose(point_brain_flops(spec), 1.075e21, rtol=1e-12)  # float64 throughout


def test_dettmers2015_text_granule_filter():
    spec = load_priors(preset_path("dettmers2015-text"))
    expected = float(2 * 200 * ((3 * 4 * 5) * 5 * 10**10 * 15 * 5 + (10 * 1000 * 5) * 10**8 * 100_000 * 5))
    assert expected == 1.00009e21
    np.testing.assert_allclose(point_brain_flops(spec), 1.00009e21, rtol=1e-6)


def test_full_cascade_of_the_published_preset():
    spec = load_priors(preset_path("dettmers2015"))
    # per neuron and update: dendrites + D*T + 2*D*T*Ks + 2*T + 2*O*T
    granule = 2 * 75 * 50_000 + 1000 * 5 + 2 * 5000 * 5 + 2 * 5 + 2 * 100 * 5  # 7_556_010
    purkinje = 2 * 500_000 * 50_000 + 1000 * 5 + 2 * 5000 * 5 + 2 * 5 + 2 * 1000 * 5  # 50_000_065_010
    expected = float(200 * (5 * 10**10 * granule + 10**8 * purkinje))
    full = point_brain_flops(spec, spec.convention._replace(stages=STAGES))
    np.testing.assert_allclose(full, expected, rtol=1e-12)
    assert 1e-4 < full / 1.075e21 - 1 < 1e-3  # "a few parts in 10^4" above the dendritic figure


@pytest.mark.slow
def test_per_class_and_per_stage_sum_to_total():
    lnp = LNPParams(
        *(jnp.array(v, dtype=jnp.float32) for v in ([15, 1e5], [5, 5], [3, 10], [4, 1e3], [5, 5], [5, 5], [100, 1e3]))
    )
    params = BrainParams(jnp.array([5e10, 1e8]), jnp.array([200.0, 200.0]), lnp)
    out = brain_log10_flops(params)
    assert out.per_class.shape == (2,) and out.per_stage.shape == (5,)
    np.testing.assert_allclose(np.sum(10.0 ** (out.per_class - out.total)), 1.0, rtol=1e-5)
    np.testing.assert_allclose(np.sum(10.0 ** (out.per_stage - out.total)), 1.0, rtol=1e-5)
    direct = sum(
        float(n) * float(r) * float(neuron_flops(LNPParams(*(leaf[i] for leaf in lnp))))
        for i, (n, r) in enumerate(zip(params.count, params.rate, strict=False))
    )
    np.testing.assert_allclose(10.0 ** float(out.total), direct, rtol=1e-5)


def test_only_counted_stages_are_reported():
    lnp = LNPParams(*(jnp.array([v], dtype=jnp.float32) for v in (15, 5, 3, 4, 5, 5, 100)))
    params = BrainParams(jnp.array([1e9]), jnp.array([10.0]), lnp)
    out = brain_log10_flops(params, Convention(stages=("soma", "output")))
    assert out.per_stage.shape == (2,)
    np.testing.assert_allclose(10.0 ** np.asarray(out.per_stage), [1e10 * 200, 1e10 * 1000], rtol=1e-5)


def test_float32_never_overflows():
    # 1e30 neurons x 1e3 Hz x 2e13 FLOPs = 2e46 FLOP/s: beyond float32 (3.4e38), fine in log space
    lnp = LNPParams(*(jnp.array([v], dtype=jnp.float32) for v in (1e6, 10, 100, 1000, 10, 5, 1)))
    params = BrainParams(jnp.array([1e30], dtype=jnp.float32), jnp.array([1e3], dtype=jnp.float32), lnp)
    out = brain_log10_flops(params, Convention(stages=("dendrites",)))
    assert out.total.dtype == jnp.float32
    np.testing.assert_allclose(float(out.total), np.log10(2e46), rtol=1e-6)


positive = st.floats(min_value=1e-3, max_value=1e12, allow_nan=False)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(positive, positive, *[st.floats(1, 1e4)] * 7), min_size=1, max_size=6))
@pytest.mark.slow
def test_vmapped_brain_agrees_with_loop_and_numpy(rows):
    cols = [jnp.asarray(c, dtype=jnp.float32) for c in zip(*rows, strict=False)]
    # a batch of draws, each draw holding one class
    batch = BrainParams(cols[0][:, None], cols[1][:, None], LNPParams(*(c[:, None] for c in cols[2:])))
    vmapped = jax.vmap(brain_log10_flops)(batch).total
    looped = [
        brain_log10_flops(BrainParams(batch.count[i], batch.rate[i], LNPParams(*(x[i] for x in batch.lnp)))).total
        for i in range(len(rows))
    ]
    np.testing.assert_allclose(np.asarray(vmapped), np.asarray(looped), rtol=1e-6, atol=1e-5)
    n, r, s, t, b, d, k, ks, o = (np.float64(x) for x in np.array(rows).T)
    numpy_total = n * r * (2 * s * t * b * d * k + d * t + 2 * d * t * ks + 2 * t + 2 * o * t)
    np.testing.assert_allclose(np.asarray(vmapped), np.log10(numpy_total), rtol=1e-5, atol=1e-5)
