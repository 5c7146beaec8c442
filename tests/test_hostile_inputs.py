"""Hostile input files (issue 19, "Trust and the first hour"): non-regular and oversized files, BOMs,
deep expressions, size limits checked before compiling, unknown units and numeric overflow. Each gives
one line on stderr, exit status 2, no traceback and no library warning; or a clean result."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import threading
from pathlib import Path

import jax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from uncertainty.brain.engine import sample_brain
from uncertainty.brain.expression import MAX_DEPTH, ExpressionError, parse_expression
from uncertainty.brain.priors import (
    MAX_CLASSES,
    MAX_FILE_BYTES,
    MAX_RANDOM_DRAWS,
    known_unit,
    load_priors,
    parse_priors,
)
from uncertainty.cli import main
from uncertainty.errors import DataError, InputError, PriorError
from uncertainty.growth.history import MAX_CSV_BYTES, MAX_ROWS, read_csv_series
from uncertainty.userfiles import check_regular_file, read_user_text

from conftest import one_class_text

ROOT = Path(__file__).resolve().parent.parent
EXPRESSION = '[classes.syn]\nmethod = "expression"\nflops_per_second = "{}"\na = {{ lognormal = [1e14, 1e15] }}\n'
CSV = "year,flops\n2000,1e12\n2001,2e12\n2003,8e12\n"


def _one_line_error(argv: list[str], capsys) -> str:
    """Run the CLI; assert exit status 2 and exactly one line 'error: ...' on stderr; return the line."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and "Warning" not in err
    return err


def _in_time(fn, seconds: float = 20.0):
    """``fn()``'s result or exception, failing (not hanging) when it blocks longer than ``seconds``."""
    out: list = []

    def run():
        try:
            out.append(("ok", fn()))
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            out.append(("raised", exc))

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), "blocked reading the file"
    kind, value = out[0]
    if kind == "raised":
        raise value
    return value


# -- 1. non-regular and oversized files --------------------------------------------------------


def _special(kind: str, tmp_path: Path) -> Path:
    if kind == "fifo":
        path = tmp_path / "pipe.toml"
        os.mkfifo(path)  # no writer: reading it would block forever
        return path
    if kind == "directory":
        return tmp_path
    return Path("/dev/null")  # a character device


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX only")
@pytest.mark.parametrize(
    ("kind", "words"), [("fifo", "FIFO"), ("directory", "directory"), ("chardev", "character device")]
)
@pytest.mark.parametrize(
    ("reader", "error", "what"),
    [(load_priors, PriorError, "a prior file"), (read_csv_series, DataError, "a growth CSV")],
)
def test_non_regular_files_are_refused_unread(kind, words, reader, error, what, tmp_path):
    path = _special(kind, tmp_path)
    with pytest.raises(error) as info:
        _in_time(lambda: reader(path))
    assert words in info.value.problem and what in info.value.problem
    assert info.value.file == str(path) and "\n" not in str(info.value)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_dev_zero_is_one_line_at_once():
    """``sample /dev/zero`` once read forever (14 GB in 9 s); now refused by its stat, in a process whose
    memory is capped so that a regression fails instead of filling the machine."""

    capped = (  # memory capped in the child itself: a preexec_fn would fork a multithreaded JAX process
        "import resource, runpy, sys; resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30)); "
        "sys.argv = ['uncertainty', 'sample', '/dev/zero', '-n', '10', '-q']; "
        "runpy.run_module('uncertainty', run_name='__main__')"
    )
    proc = subprocess.run(
        [sys.executable, "-c", capped],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "JAX_PLATFORMS": "cpu"},
    )
    assert proc.returncode == 2
    assert proc.stderr == "error: /dev/zero: is a character device, not a prior file\n"


def test_check_regular_file_names_the_kind_and_reads_nothing(tmp_path):
    path = tmp_path / "run.nc"
    path.write_bytes(b"x" * 10)
    assert check_regular_file(path, InputError, "a run file").st_size == 10
    with pytest.raises(InputError, match="over the limit of 9 bytes for a run file"):
        check_regular_file(path, InputError, "a run file", limit=9)
    with pytest.raises(InputError, match="no such file"):
        check_regular_file(tmp_path / "missing.nc", InputError)


def test_oversized_prior_file_is_refused_naming_the_limit(tmp_path, capsys):
    path = tmp_path / "big.toml"
    path.write_text(one_class_text() + "# padding\n" * (MAX_FILE_BYTES // 10), encoding="utf-8")
    assert path.stat().st_size > MAX_FILE_BYTES
    err = _one_line_error(["sample", str(path), "-n", "10", "-q"], capsys)
    assert f"is {path.stat().st_size} bytes, over the limit of 1 MiB for a prior file" in err


def test_oversized_csv_is_refused_naming_the_limit(tmp_path):
    path = tmp_path / "big.csv"
    path.write_text(CSV + "# padding\n" * (MAX_CSV_BYTES // 10), encoding="utf-8")
    with pytest.raises(DataError, match=f"over the limit of {MAX_CSV_BYTES >> 20} MiB for a growth CSV"):
        read_csv_series(path)


def test_a_csv_over_the_row_limit_is_refused_before_parsing(tmp_path):
    """A million rows once took more than 120 s (the repeat check was quadratic); the limit is checked on
    the line count, before any row is parsed: a bad row past the limit is never reached."""
    path = tmp_path / "rows.csv"
    rows = "".join(f"{2000 + i / (MAX_ROWS + 1):.9f},1e12\n" for i in range(MAX_ROWS + 1))
    path.write_text("year,flops\n" + rows.replace("1e12\n", "lots\n", 1), encoding="utf-8")
    with pytest.raises(DataError) as info:
        read_csv_series(path)
    assert info.value.problem == f"has {MAX_ROWS + 1} data rows, over the limit of {MAX_ROWS}"


def test_a_csv_at_the_row_limit_is_read(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("year,flops\n" + "".join(f"{2000 + i / MAX_ROWS:.9f},{1e12 * (1 + i)}\n" for i in range(MAX_ROWS)))
    s = read_csv_series(path)
    assert len(s) == MAX_ROWS and len(s.measurements()) == MAX_ROWS


def test_read_user_text_refuses_non_utf8_in_one_line(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes(b"name = 'b\xe9se'\n")
    with pytest.raises(PriorError, match=r"cannot read: not UTF-8 text \(byte 0xe9 at offset 9\)"):
        read_user_text(path, PriorError, "a prior file", 100)


# -- 3. a byte-order mark ------------------------------------------------------------------------


def test_a_prior_file_with_a_bom_reads_as_without(tmp_path):
    text = one_class_text(rate='{ lognormal = [1, 10], unit = "Hz" }')
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    spec = load_priors(path)
    plain = parse_priors(text, path)
    assert spec.classes == plain.classes and spec.text == text
    assert parse_priors("\ufeff" + text, path).classes == plain.classes


# -- 4. one parse, one depth limit ---------------------------------------------------------------


def test_a_deep_expression_is_one_line_at_load_time(tmp_path, capsys):
    """950 unary '+' once parsed, then crashed with RecursionError while JAX traced the closures."""
    path = tmp_path / "deep.toml"
    path.write_text(EXPRESSION.format("+" * 950 + "a"), encoding="utf-8")
    err = _one_line_error(["sample", str(path), "-n", "2000", "-q"], capsys)
    assert "classes.syn.flops_per_second" in err and f"over the limit of {MAX_DEPTH}" in err


def test_a_deep_evidence_quantity_is_refused_at_load_time(tmp_path):
    text = (
        EXPRESSION.format("a")
        + f'[evidence.x]\nquantity = "{"+" * 950}sum(a)"\nobserved = {{ lognormal = [1e14, 1e15] }}\n'
    )
    with pytest.raises(PriorError) as info:
        parse_priors(text, "deep.toml")
    assert info.value.key == "evidence.x.quantity" and f"over the limit of {MAX_DEPTH}" in info.value.problem


def _nest(layers: list[str]) -> str:
    text = "a"
    for layer in layers:
        text = layer.format(text)
    return text


LAYERS = ["+{}", "-{}", "({} + a)", "(a * {})", "sqrt({})", "max({}, a)", "({})"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(LAYERS), min_size=0, max_size=MAX_DEPTH + 40))
@pytest.mark.slow
def test_what_parses_evaluates_inside_a_deep_stack(layers):
    """Property: an expression parses exactly when its syntax tree is at most MAX_DEPTH deep, and what
    parses evaluates (traced by JAX) with hundreds of frames already on the stack: the compiled program
    does not recurse."""
    text = _nest(layers)
    depth = 1 + sum(layer not in ("({})",) for layer in layers)  # parentheses add no node
    try:
        expr = parse_expression(text)
    except ExpressionError as exc:
        assert depth > MAX_DEPTH and f"over the limit of {MAX_DEPTH}" in str(exc)
        return
    assert expr.depth == depth <= MAX_DEPTH

    def deep(n: int):
        return deep(n - 1) if n else jax.jit(lambda a: expr({"a": a}))(2.0)

    jax.jit(lambda a: jax.numpy.maximum(jax.numpy.sqrt(-a), a))(2.0)  # JAX's lazy imports, at a shallow depth
    frame, used = sys._getframe(), 0
    while frame:
        frame, used = frame.f_back, used + 1
    # 120 frames left: JAX's tracing needs about 50, whatever the depth; closures nested per level would not fit
    assert deep(sys.getrecursionlimit() - used - 120).shape == ()  # sqrt(-a) is NaN: traced, not checked


def test_an_expression_at_the_depth_limit_samples(tmp_path):
    text = EXPRESSION.format("sqrt(" * (MAX_DEPTH - 2) + "a * 2" + ")" * (MAX_DEPTH - 2))
    assert parse_expression(parse_priors(text).classes[0].expression).depth == MAX_DEPTH
    draws = sample_brain(parse_priors(text), 64, seed=0)
    assert draws["log10_brain_flops"].shape == (64,)


def test_expression_numbers_beyond_float64_are_refused():
    for text in ("1e400 * a", "1" + "0" * 400 + " * a"):
        with pytest.raises(ExpressionError, match="is beyond float64"):
            parse_expression(text)


# -- 5. size limits before compiling -------------------------------------------------------------


def _classes(n: int, random: bool = True) -> str:
    a = "{ lognormal = [1e8, 1e9] }" if random else "1e8"
    return "".join(f'[classes.c{i}]\nmethod = "expression"\nflops_per_second = "a * 2"\na = {a}\n' for i in range(n))


def test_too_many_classes_is_refused_naming_the_limit_and_the_count(tmp_path, capsys):
    path = tmp_path / "many.toml"
    path.write_text(_classes(MAX_CLASSES + 1, random=False), encoding="utf-8")
    err = _one_line_error(["sample", str(path), "-n", "2000", "-q"], capsys)
    assert f"{MAX_CLASSES + 1} classes, over the limit of {MAX_CLASSES}" in err
    assert len(parse_priors(_classes(MAX_CLASSES, random=False)).classes) == MAX_CLASSES


def _draws_file(n: int) -> str:
    """``n`` random fields over classes of ten fields each (the limit on draws, not on classes, binds)."""
    out = []
    for c in range(0, n, 10):
        names = [f"f{i}" for i in range(c, min(c + 10, n))]
        fields = "".join(f"{x} = {{ lognormal = [1, 2] }}\n" for x in names)
        out.append(f'[classes.c{c}]\nmethod = "expression"\nflops_per_second = "{" * ".join(names)}"\n{fields}')
    return "".join(out)


def test_too_many_random_draws_are_refused_naming_the_limit_and_the_count():
    n = MAX_RANDOM_DRAWS + 1
    with pytest.raises(PriorError) as info:
        parse_priors(_draws_file(n), "many.toml")
    assert f"{n} random draws, over the limit of {MAX_RANDOM_DRAWS}" in info.value.problem
    assert info.value.key == "classes" and "\n" not in str(info.value)
    assert len(parse_priors(_draws_file(MAX_RANDOM_DRAWS)).classes) == math.ceil(MAX_RANDOM_DRAWS / 10)


def test_a_shared_draw_counts_once_and_a_choice_counts_its_components():
    from uncertainty.brain.priors import random_draws

    text = one_class_text(rate="{ choice = [1, { lognormal = [1, 2] }, { uniform = [1, 2] }] }")
    assert random_draws(parse_priors(text)) == 3  # the component index and two continuous draws
    shared = '[defaults]\nshared = ["rate"]\nrate = { lognormal = [1, 2] }\n' + "".join(
        f'[classes.c{i}]\nmethod = "expression"\nflops_per_second = "rate"\n' for i in range(5)
    )
    assert random_draws(parse_priors(shared)) == 1


# -- 6. units -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "unit",
    ["Hz", "FLOP/s", "FLOP/spike", "J / spike", "mm^3", "1/s", "synapses*Hz", "s^-1", "synapses/(neurons·dendrites)"],
)
def test_known_units(unit):
    assert known_unit(unit)
    parse_priors(EXPRESSION.format("a").replace("] }", f'], unit = "{unit}" }}'))


@pytest.mark.parametrize("unit", ["Hzz", "", "FLOP//s", "parsecs", "Hz^x", "Hz " * 30])
def test_unknown_units_are_refused_on_every_field(unit):
    assert not known_unit(unit)
    with pytest.raises(PriorError) as info:
        parse_priors(EXPRESSION.format("a").replace("] }", f'], unit = "{unit}" }}'))
    assert info.value.key == "classes.syn.a.unit" and "unknown unit" in info.value.problem
    if unit == "Hzz":
        assert "did you mean 'Hz'?" in info.value.problem


def _observed(quantity: str, unit: str, text: str | None = None) -> str:
    body = text or one_class_text(rate="{ lognormal = [0.1, 200] }")
    return body + f'[evidence.e]\nquantity = "{quantity}"\nobserved = {{ lognormal = [0.1, 2], unit = "{unit}" }}\n'


def test_evidence_observed_takes_a_unit_checked_like_a_field():
    assert parse_priors(_observed("mean(rate)", "Hz")).evidence[0].unit == "Hz"
    assert parse_priors(_observed("sum(rate)", "1/s")).evidence[0].unit == "1/s"
    assert parse_priors(_observed("sum(count * rate)", "spikes/s")).evidence[0].unit == "spikes/s"
    for quantity, unit, words in [
        ("mean(rate)", "neurons", "does not match 'Hz'"),  # the unit of an LNP field it averages
        ("mean(rate)", "Hzz", "does not match 'Hz'"),
        ("sum(count * rate)", "Hzz", "unknown unit 'Hzz' (did you mean 'Hz'?"),
    ]:
        with pytest.raises(PriorError) as info:
            parse_priors(_observed(quantity, unit))
        assert info.value.key == "evidence.e.observed.unit" and words in info.value.problem


# -- 7. numeric overflow: one line, no warning ---------------------------------------------------


def test_an_overflowing_evidence_quantity_is_one_line_without_a_warning(tmp_path, capsys):
    path = tmp_path / "overflow.toml"
    path.write_text(
        EXPRESSION.format("a")
        + '[evidence.x]\nquantity = "sum(a) ** 1e308"\nobserved = { lognormal = [1e15, 1e16] }\n',
        encoding="utf-8",
    )
    err = _one_line_error(["sample", str(path), "-n", "2000", "-q"], capsys)
    assert "evidence.x.quantity: is not a finite number in any prior draw" in err


@pytest.mark.parametrize(
    ("prior", "key"),
    [
        ("{ normal = [-1e308, 1e308], min = 1 }", "classes.syn.a.normal"),
        ("{ normal = [1e308, 1.7e308], min = 1 }", "classes.syn.a.normal"),
    ],
)
def test_an_interval_too_wide_for_float64_is_one_line_without_a_warning(prior, key, tmp_path, capsys):
    path = tmp_path / "wide.toml"
    path.write_text(EXPRESSION.format("a").replace("{ lognormal = [1e14, 1e15] }", prior), encoding="utf-8")
    err = _one_line_error(["sample", str(path), "-n", "2000", "-q"], capsys)
    assert f"{key}: " in err and "beyond float64" in err


def test_a_growth_interval_too_wide_for_float64_is_refused():
    growth = "[growth]\nstart_flops = 1e15\nstart_year = {}\ndoubling_years = 2\n"
    for prior in ("{ normal = [-1e308, 1e308] }", "{ uniform = [-1e308, 1e308] }"):
        with pytest.raises(PriorError, match="beyond float64") as info:
            parse_priors(EXPRESSION.format("a") + growth.format(prior))
        assert info.value.key.startswith("growth.start_year")
