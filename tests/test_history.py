"""Benchmark history: the shipped CSVs, measurements, cut-offs and user CSVs."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from uncertainty.errors import DataError
from uncertainty.growth.history import builtin_series, load_growth_data, read_csv_series


def test_builtin_series_units_and_times():
    hpcg = builtin_series("hpcg")
    assert len(hpcg) == 24 and hpcg.labels[0] == "2014-06" and hpcg.labels[-1] == "2025-11"
    assert hpcg.flops[0] == 0.58e15  # Tianhe-2, the article's 0.58 PFLOP/s
    assert hpcg.year[0] == pytest.approx(2014 + 5.5 / 12)  # middle of June
    assert hpcg.year[1] == pytest.approx(2014 + 10.5 / 12)  # middle of November
    hpl = builtin_series("hpl")
    assert len(hpl) == 66 and hpl.labels[0] == "1993-06"
    assert hpl.flops[hpl.labels.index("2022-06")] == 1102e15  # Frontier
    assert np.all(np.diff(hpl.year) > 0)


def test_measurements_drop_repeated_values():
    hpcg = builtin_series("hpcg").measurements()
    # Tianhe-2 0.58 (2014-06) reappears in 2015-06..2016-06; Fugaku's 16.00 repeats 2020-11..2024-11
    # the K computer's 0.6027 (2016-11) and 0.603 (2017-11) are one result, rounded differently
    assert hpcg.labels == ("2014-06", "2014-11", "2016-11", "2018-06", "2020-06", "2020-11", "2025-06")
    hpl = builtin_series("hpl").measurements()
    # Tianhe-2's 33.86 / 33.863 (2013-06, 2014-11) and the Numerical Wind Tunnel's 0.0001704 / 0.00017
    # (1994-11, 1995-06) are rounding duplicates of one measurement
    assert len(hpl) == 37 and "2013-11" not in hpl.labels and "2013-06" in hpl.labels
    assert "2014-11" not in hpl.labels and "1995-06" not in hpl.labels


def test_rounding_duplicates_need_the_same_system_and_half_a_percent():
    from uncertainty.growth.history import Series

    year = np.array([2000.0, 2001.0, 2002.0, 2003.0])
    systems = ("A", "A", "B", "A")
    flops = np.array([100.0, 100.4, 100.2, 100.6])  # +0.4% same system; +0.2% other system; +0.6% same system
    s = Series("x", ("a", "b", "c", "d"), year, flops, systems).measurements()
    assert s.labels == ("a", "c", "d")


def test_until_and_after_split_by_calendar_year():
    hpcg = builtin_series("hpcg")
    before, later = hpcg.until(2015), hpcg.after(2015)
    assert before.labels[-1] == "2015-11" and later.labels[0] == "2016-06"
    assert len(before) + len(later) == len(hpcg)


def test_growth_data_targets():
    d = load_growth_data("hpcg")
    assert d.trend.name == "hpl" and d.practical.name == "hpcg" and d.target_series is d.practical
    assert d.first_year == pytest.approx(1993 + 5.5 / 12)
    assert load_growth_data("hpl").practical is None
    cut = d.until(2015)
    assert cut.trend.labels[-1] == "2015-11" and cut.practical.labels[-1] == "2015-11"


def test_user_csv(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text("\ufeff# my data\nyear,flops\n2001.5,2e12\n2000,1e12\n2003,8e12\n")  # with a spreadsheet's BOM
    s = read_csv_series(path)
    np.testing.assert_array_equal(s.year, [2000, 2001.5, 2003])  # sorted by year
    np.testing.assert_array_equal(s.log2_flops, np.log2([1e12, 2e12, 8e12]))
    d = load_growth_data(str(path))
    assert d.target == str(path) and d.practical is None


@pytest.mark.parametrize(
    "text, problem",
    [
        ("", "is empty"),
        ("when,value\n2000,1\n", "expected columns 'year' and 'flops'"),
        ("year,flops\n2000,1e12\n2001,lots\n2002,1e13\n", "not a number"),
        ("year,flops\n2000,1e12\n2001\n2002,1e13\n", "expected 2 fields"),
        ("year,flops\n2000,1e12\n2001,-5\n2002,1e13\n", "flops must be > 0"),
        ("year,flops\n2000,1e12\n2001,nan\n2002,1e13\n", "finite"),
        ("year,flops\n2000,1e12\n2001,2e12\n", "at least 3"),
    ],
)
def test_bad_csv(tmp_path, text, problem):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=problem) as info:
        read_csv_series(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_unknown_series_and_missing_csv(tmp_path):
    with pytest.raises(DataError, match="unknown series"):
        load_growth_data("linpack")
    with pytest.raises(DataError, match="no such file"):
        load_growth_data(str(tmp_path / "none.csv"))


def test_a_csv_in_pflops_with_its_unit_is_the_builtin_series(tmp_path, capsys):
    """The TOP500 leaders written as PFLOP/s: read with --unit PFLOP/s (or a unit column) they are the
    built-in hpl series, measurement for measurement; read as FLOP/s they draw a warning line."""
    from uncertainty.cli import _check_series
    from uncertainty.growth.history import builtin_series, load_growth_data, magnitude_warning

    hpl = builtin_series("hpl")
    rows = [f'{float(y)!r},{float(f) / 1e15!r},"{s}"' for y, f, s in zip(hpl.year, hpl.flops, hpl.systems, strict=True)]
    plain = tmp_path / "top500_pflops.csv"
    plain.write_text("year,flops,system\n" + "\n".join(rows) + "\n")
    for data in (
        load_growth_data(str(plain), "PFLOP/s"),
        load_growth_data(str(_with_unit_column(tmp_path, rows)), None),
    ):
        got = data.target_series
        np.testing.assert_array_equal(got.year, hpl.year)
        np.testing.assert_allclose(got.flops, hpl.flops, rtol=1e-14)
        assert len(got.measurements()) == len(hpl.measurements())
        assert magnitude_warning(data) is None
    assert "implausible" in magnitude_warning(load_growth_data(str(plain)))
    _check_series(str(plain), None)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("warning:") and "--unit" in err
    with pytest.raises(DataError, match="applies to a CSV series"):
        load_growth_data("hpl", "PFLOP/s")
    with pytest.raises(DataError, match="unit column; drop --unit"):
        load_growth_data(str(_with_unit_column(tmp_path, rows)), "PFLOP/s")


def _with_unit_column(folder, rows):
    path = folder / "top500_units.csv"
    path.write_text("year,flops,system,unit\n" + "\n".join(f"{r},PFLOP/s" for r in rows) + "\n")
    return path


def _quadratic_measurements(flops, systems, tolerance=0.005):
    """The reference: each value against every kept one (the first, O(n^2) implementation)."""
    kept, keep = [], []
    for value, system in zip(flops, systems, strict=True):
        value = float(value)
        repeat = any(value == v or (system == s and abs(value - v) <= tolerance * max(value, v)) for v, s in kept)
        keep.append(not repeat)
        if not repeat:
            kept.append((value, system))
    return keep


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([1.0, 1.002, 1.004, 1.006, 1.01, 2.0, 2.009, 2.01, 1e15, 1.004e15]),
            st.sampled_from("ABC"),
        ),
        max_size=40,
    )
)
def test_measurements_match_the_pairwise_rule(rows):
    """Property: the O(n log n) repeat check (nearest kept values of the system) keeps exactly the rows the
    pairwise rule keeps; values near the 0.5% tolerance, shared between systems, in any order."""
    from uncertainty.growth.history import Series

    flops = np.array([f for f, _ in rows], dtype=float)
    systems = tuple(s for _, s in rows)
    n = len(rows)
    series = Series("x", tuple(str(i) for i in range(n)), np.arange(n, dtype=float) + 2000, flops, systems)
    keep = _quadratic_measurements(flops, systems)
    assert series.measurements().labels == tuple(str(i) for i in range(n) if keep[i])


def test_measurements_of_many_rows_are_fast():
    """10,000 rows once took 13 s (every value against every kept one); now a fraction of a second."""
    import time

    from uncertainty.growth.history import MAX_ROWS, Series

    rng = np.random.default_rng(0)
    n = MAX_ROWS
    flops = 10 ** rng.uniform(12, 18, n)
    systems = tuple(f"row {i}" for i in range(n))  # a CSV without a system column: only equal values repeat
    series = Series("x", tuple(map(str, range(n))), np.linspace(1990, 2020, n), flops, systems)
    start = time.process_time()
    assert len(series.measurements()) == n
    assert time.process_time() - start < 2.0
