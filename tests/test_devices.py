"""Sharding over several devices: the same seed gives the same draws whatever the device count."""

import os
import subprocess
import sys

import numpy as np
import pytest

from uncertainty.brain.engine import draw_sharding, sample_brain
from uncertainty.brain.priors import load_priors

from conftest import PRIORS, ROOT

SCRIPT = """
import sys, jax, numpy as np
from uncertainty.brain.engine import draw_sharding, sample_brain
from uncertainty.brain.priors import load_priors
d = sample_brain(load_priors(sys.argv[1]), 5000, seed=9, chunk_size=4096)
np.savez(sys.argv[2], devices=len(jax.local_devices()), sharded=draw_sharding(4096) is not None, **d)
"""


@pytest.mark.slow
def test_four_cpu_devices_give_the_same_draws(tmp_path):
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "XLA_FLAGS": "--xla_force_host_platform_device_count=4"}
    out = tmp_path / "four.npz"
    cmd = [sys.executable, "-c", SCRIPT, str(PRIORS / "default.toml"), str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    assert done.returncode == 0, done.stderr
    four = dict(np.load(out))
    assert int(four.pop("devices")) == 4 and bool(four.pop("sharded"))
    assert draw_sharding(4096) is None  # this process has one CPU device
    one = sample_brain(load_priors(PRIORS / "default.toml"), 5000, seed=9, chunk_size=1024)  # and another chunk
    assert one.keys() == four.keys()
    for name in one:
        if name.startswith("log10_"):
            # derived sums: XLA compiles the arithmetic per device count, so the last bit may differ
            np.testing.assert_allclose(four[name], one[name], rtol=1e-14, atol=0)
        else:
            np.testing.assert_array_equal(four[name], one[name])  # the random draws are bit-identical
