"""The command line under generated prior files, valid and invalid, with extreme magnitudes, in both
precisions, and under generated growth CSVs: every run ends with exit 0 and a finite table, or exit 2
and exactly one line `error: ...`; never a traceback, a library warning or a `nan`."""

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from uncertainty.cli import main

from conftest import PRIORS

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
@pytest.mark.slow
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


YEARS = st.sampled_from(
    ["1939", "1940", "1993", "2000.5", "2010", "2024", "2200", "2201", "-20000", "4e134", "nan", "x"]
)
FLOPS = st.sampled_from(["0", "-1", "1e-3", "1", "3e12", "1e15", "2e18", "1e300", "inf", "nan", "many"])
HEADERS = st.sampled_from(["year,flops", "year,flops,unit", "year,flops,system", "year;flops", "flops,year", ""])
UNITS = st.sampled_from(["FLOP/s", "PFLOP/s", "EFLOP/s", "furlongs", ""])


@st.composite
def csv_texts(draw):
    header = draw(HEADERS)
    rows = []
    for i in range(draw(st.integers(0, 5))):
        row = [draw(YEARS), draw(FLOPS)]
        if header.endswith("unit"):
            row.append(draw(UNITS))
        elif header.endswith("system"):
            row.append(f"machine {i % 2}")
        rows.append(",".join(row))
    return "\n".join([header, *rows]) + "\n"


VALID_CSV = st.tuples(
    st.lists(st.sampled_from(["1993", "2000.5", "2010", "2024", "2200"]), min_size=3, max_size=5, unique=True),
    st.lists(st.sampled_from(["1e-3", "1", "3e12", "1e15", "2e18", "1e300"]), min_size=5, max_size=5),
).map(lambda p: "year,flops\n" + "".join(f"{y},{f}\n" for y, f in zip(sorted(p[0], key=float), p[1], strict=False)))


@settings(max_examples=10, **RUN)
@given(st.one_of(csv_texts(), VALID_CSV), st.sampled_from([None, "PFLOP/s"]))
@pytest.mark.slow
def test_generated_growth_csvs_end_in_a_table_or_one_line(tmp_path, capsys, text, unit):
    """A crossover on a generated CSV (malformed, extreme, in odd units; tiny NUTS runs): exit 0 with a table
    free of nan, whose only stderr lines are the project's own warnings, or exit 2 with exactly one line."""
    path = tmp_path / "series.csv"
    path.write_text(text)
    argv = ["crossover", str(PRIORS / "dettmers2015.toml"), "--series", str(path), "--model", "linear"]
    argv += ["--samples", "12", "--chains", "2", "--warmup", "10", "--no-compare", "-q"]
    code = main([*argv, *(["--unit", unit] if unit else [])])
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "Warning" not in err, err
    if code == 0:
        assert "crossover year" in out and not re.search(r"\bnan\b", out), out
        assert all(line.startswith("warning:") for line in err.splitlines()), err
    else:
        assert code == 2 and err.count("\n") == 1 and err.startswith("error:"), err
