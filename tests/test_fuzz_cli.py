"""The command line under generated prior files, valid and invalid, with extreme magnitudes, in both
precisions: every run ends with exit 0 and a finite table, or exit 2 and exactly one line `error: ...`;
never a traceback, a library warning or a `nan`."""

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from uncertainty.cli import main

MAGNITUDES = st.sampled_from(
    ["1e-320", "1e-40", "1e-3", "0.5", "3", "1e4", "1e12", "1e39", "1e200", "1e300", "-2", "0"]
)
PRIOR = st.one_of(
    MAGNITUDES,
    st.tuples(MAGNITUDES, MAGNITUDES).map(lambda b: f"{{ lognormal = [{b[0]}, {b[1]}] }}"),
    st.tuples(MAGNITUDES, MAGNITUDES).map(lambda b: f"{{ uniform = [{b[0]}, {b[1]}] }}"),
    st.tuples(MAGNITUDES, st.sampled_from(["1e-300", "0.5", "0.9", "0.9999999999999999", "1"])).map(
        lambda b: f"{{ lognormal = [1, {b[0]}], ci = {b[1]} }}"
    ),
    st.sampled_from(['"ten"', "[1, 2]", "{ normal = [1, 10] }", "{ choice = [1, 1e300] }", "nan", "inf"]),
)
FIELDS = ("count", "rate", "synapses", "time_steps", "branches", "dendrites", "filter_steps", "soma_steps", "outputs")


POSITIVE = st.sampled_from(["1e-320", "1e-40", "1e-3", "0.5", "3", "1e4", "1e12", "1e39", "1e200", "1e300"])
VALID = st.one_of(
    POSITIVE,
    st.tuples(POSITIVE, POSITIVE).map(lambda b: f"{{ lognormal = [{min(b, key=float)}, {max(b, key=float)}] }}"),
)
RUN = dict(deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])


@settings(max_examples=12, **RUN)
@given(st.fixed_dictionaries({f: PRIOR for f in FIELDS}), st.sampled_from(["float64", "float32"]), st.booleans())
def test_generated_prior_files_end_in_a_table_or_one_line(tmp_path, capsys, values, precision, keep):
    _check_run(tmp_path, capsys, values, precision, keep)


@settings(max_examples=4, **RUN)
@given(st.fixed_dictionaries({f: VALID for f in FIELDS}), st.sampled_from(["float64", "float32"]), st.booleans())
def test_valid_files_of_every_magnitude_end_in_a_table_or_one_line(tmp_path, capsys, values, precision, keep):
    """Every value is a valid prior: the runs that can be tabulated are, the others stop in one line."""
    _check_run(tmp_path, capsys, values, precision, keep)


def _check_run(tmp_path, capsys, values, precision, keep):
    path = tmp_path / "fuzz.toml"
    path.write_text("[classes.cell]\n" + "".join(f"{k} = {v}\n" for k, v in values.items()))
    argv = ["sample", str(path), "-n", "64", "--chunk-size", "1024", "-q", "--precision", precision]
    code = main([*argv, "--keep-draws" if keep else "--no-keep-draws"])
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "Warning" not in err, err
    if code == 0:
        assert err == "" and "log10 brain FLOP/s" in out
        assert not re.search(r"\b(nan|inf|never)\b", out), out
    else:
        assert code == 2 and err.count("\n") == 1 and err.startswith("error:"), err
