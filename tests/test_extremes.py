"""Extreme but valid inputs: no overflow in the per-neuron cost (a sum of logs), no value cast to a type
that cannot hold it, and a run that cannot be tabulated stops in one line naming the field; never a
table of nan, never a library warning on the terminal."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from uncertainty.brain.lnp import STAGES, Convention, LNPParams, log_stage_flops, stage_flops
from uncertainty.cli import main

CELL = """[classes.cell]
count = {count}
rate = {{ lognormal = [1, 10] }}
synapses = {synapses}
time_steps = 3
branches = {branches}
dendrites = 10
filter_steps = 3
soma_steps = 3
outputs = 1000
"""


def _file(tmp_path, count="1e10", synapses="1000", branches="3"):
    path = tmp_path / "cell.toml"
    path.write_text(CELL.format(count=count, synapses=synapses, branches=branches))
    return path


def test_the_log_cost_of_huge_factors_is_finite_where_the_product_overflows():
    """S = B = 1e300: the dendritic stage is 2 * (1e300 * 3) * (1e300 * 10 * 3) = 1.8e602 FLOPs, far past
    float64; its natural log, 602 ln 10 + ln 1.8, is not."""
    with jax.enable_x64(True):
        p = LNPParams(*(jnp.asarray(v, dtype=jnp.float64) for v in (1e300, 3.0, 1e300, 10.0, 3.0, 3.0, 1000.0)))
        assert not np.isfinite(float(stage_flops(p)[0]))
        got = float(log_stage_flops(p)[0])
    assert got == pytest.approx(602 * math.log(10) + math.log(1.8), rel=1e-14)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(1e-3, 1e6), min_size=7, max_size=7), st.sampled_from([STAGES, ("dendrites",), STAGES[1:]]))
def test_log_stage_flops_is_the_log_of_stage_flops(dims, stages):
    c = Convention(stages=stages)
    with jax.enable_x64(True):
        p = LNPParams(*(jnp.asarray(v, dtype=jnp.float64) for v in dims))
        linear, logged = np.asarray(stage_flops(p, c)), np.asarray(log_stage_flops(p, c))
        only = np.asarray(log_stage_flops(p, c, counted_only=True))
    counted = np.asarray(c.mask)
    np.testing.assert_array_equal(only, logged[counted])
    # a sum of logs against the log of a product: equal to a few ulps of the terms summed (absolute, near log 1 = 0)
    np.testing.assert_allclose(logged[counted], np.log(linear[counted]), rtol=1e-13, atol=1e-14)
    assert np.all(np.isneginf(logged[~counted]))


def _one_line(capsys, *words):
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and captured.err.startswith("error:"), captured.err
    assert "Warning" not in captured.err
    for word in words:
        assert word in captured.err
    return captured.err


def test_a_value_float32_cannot_hold_is_refused_before_sampling(tmp_path, capsys):
    path = _file(tmp_path, count="1e300")
    assert main(["sample", str(path), "-n", "100", "-q", "--precision", "float32"]) == 2
    _one_line(capsys, "classes.cell.count", "1e+300", "--precision float64")


@pytest.mark.parametrize("keep", [[], ["--keep-draws"]])
def test_brain_flops_past_float64_stop_in_one_line(tmp_path, capsys, keep):
    """S = B = 1e300 in float64: every cost is finite in log space, but brain FLOP/s (about 1e614) has no
    linear value to tabulate: one line, not a table of nan and 'never'."""
    path = _file(tmp_path, synapses="1e300", branches="1e300")
    assert main(["sample", str(path), "-n", "200", "-q", *keep]) == 2
    _one_line(capsys, "beyond float64", "1e614")


def test_parameters_float32_cannot_hold_are_stored_in_float64(tmp_path, capsys):
    from uncertainty.runs.io import load_run

    path = _file(tmp_path, count="1", synapses="{ lognormal = [1e60, 1e61] }")
    out = tmp_path / "run.nc"
    assert main(["sample", str(path), "-n", "300", "-q", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "Warning" not in captured.err and "nan" not in captured.out
    stored = load_run(out).prior["cell_synapses"]
    assert stored.dtype == np.float64 and np.all(np.isfinite(stored.values))
    assert load_run(out).prior["cell_rate"].dtype == np.float32  # values float32 holds stay float32


def test_a_run_written_chunk_by_chunk_keeps_float32_only_with_room_to_spare(tmp_path):
    """The writer picks each site's type from the first chunk: float32 only with 6 decades to spare, and a
    later chunk that float32 still cannot hold stops in one error naming the site (never a silent inf), the
    temporary file removed."""
    from uncertainty.brain.priors import parse_priors
    from uncertainty.errors import OutputError
    from uncertainty.runs.io import RunWriter, load_run, run_attrs

    spec = parse_priors("[classes.syn]\nmethod = 'expression'\nflops_per_second = 'a * b'\na = 2\nb = 3\n", "t.toml")
    n = 4

    def chunk(a, b):
        return {
            "syn_a": np.full(2, a),
            "syn_b": np.full(2, b),
            "log10_brain_flops": np.full(2, 1.0),
            "log10_class_flops": np.ones((2, 1)),
        }

    out = tmp_path / "run.nc"
    with RunWriter(out, False, spec, run_attrs(spec, seed=0, num_samples=n), n) as writer:
        writer.add(0, chunk(1e33, 5.0))  # float32 holds 1e33, but not 1e33 * 1e6
        writer.add(2, chunk(3e38 * 10, 6.0))
        writer.close()
    prior = load_run(out).prior
    assert prior["syn_a"].dtype == np.float64 and prior["syn_a"].values[0, -1] == 3e39
    assert prior["syn_b"].dtype == np.float32

    out2 = tmp_path / "run2.nc"
    attrs = run_attrs(spec, seed=0, num_samples=n)
    with (
        pytest.raises(OutputError, match="syn_b: draws of syn_b left float32's range"),
        RunWriter(out2, False, spec, attrs, n) as writer,
    ):
        writer.add(0, chunk(1.0, 5.0))
        writer.add(2, chunk(1.0, 1e300))
    assert not out2.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
