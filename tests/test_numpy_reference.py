"""The JAX engine against an independent NumPy implementation; the benchmark's smoke test."""

import numpy as np
import pytest
from scipy import stats

from uncertainty.article import point_brain_flops
from uncertainty.benchmark import main as benchmark_main
from uncertainty.brain.engine import sample_brain
from uncertainty.brain.numpy_reference import numpy_sample_brain
from uncertainty.brain.priors import load_priors

from conftest import PRIORS


def test_numpy_reference_reproduces_the_presets():
    for name, expected in (("dettmers2015", 1.075e21), ("dettmers2015-text", 1.00009e21)):
        spec = load_priors(PRIORS / f"{name}.toml")
        out = numpy_sample_brain(spec, 3)
        np.testing.assert_allclose(10 ** out["log10_brain_flops"], expected, rtol=1e-12)
        np.testing.assert_allclose(10 ** out["log10_brain_flops"], point_brain_flops(spec), rtol=1e-12)


@pytest.mark.parametrize("key", ["log10_brain_flops", "log10_class_flops", "log10_stage_flops"])
@pytest.mark.slow
def test_engine_and_numpy_agree_in_distribution(key):
    # two independent samples of the default priors: a two-sample KS test at level 1e-4
    spec = load_priors(PRIORS / "default.toml")
    jax_draws = sample_brain(spec, 50_000, seed=11)[key]
    np_draws = numpy_sample_brain(spec, 50_000, seed=11)[key]
    assert jax_draws.shape == np_draws.shape
    cols = range(jax_draws.shape[1]) if jax_draws.ndim == 2 else [None]
    for j in cols:
        a = jax_draws if j is None else jax_draws[:, j]
        b = np_draws if j is None else np_draws[:, j]
        assert stats.ks_2samp(a, b).pvalue > 1e-4, (key, j)


@pytest.mark.slow
def test_benchmark_smoke(capsys):
    argv = ["--priors", str(PRIORS / "dettmers2015.toml"), "--samples", "200", "--repeats", "1", "--end-to-end", "300"]
    assert benchmark_main(argv) == 0
    out = capsys.readouterr().out
    assert "numpy" in out and "jax" in out and "speed-up" in out
    assert "end to end" in out and "cold" in out and "warm" in out
