"""Files the tool wrote, read back by ``report`` and ``plot``: each is checked once against its schema
(:mod:`uncertainty.runs.runfile`). Real small files of every kind, corrupted field by field, give a
table with no 'nan' or exactly one line ``error: ...`` with exit 2: never a traceback, never a warning.
Text from files reaches the terminal escaped and matplotlib as plain text."""

import json
import os
import re
import shutil

import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from uncertainty._arviz import az
from uncertainty.cli import main
from uncertainty.errors import RunFileError
from uncertainty.runs.io import load_saved, save_run

from conftest import PRIORS


def _backtest_dataset() -> xr.Dataset:
    """A hindcast as ``uncertainty backtest --out`` saves it (fitting one takes a minute: its scores are
    made up here, its layout is the tool's own)."""
    from uncertainty.growth.hindcast import BacktestOptions, _dataset
    from uncertainty.growth.history import Series

    years = np.arange(2000.0, 2012.0)
    target = Series("hpl", tuple(f"{int(y)}-06" for y in years), years, 10.0 ** (12 + years / 10), ("x",) * 12)
    origins = np.arange(0, 5)
    rng = np.random.default_rng(0)
    shape = (len(origins), len(years))
    scores = {"pit": rng.uniform(size=shape), "crps": rng.uniform(0.1, 2, shape), "log_score": rng.normal(-2, 1, shape)}
    diag = {"max_rhat": np.full(len(origins), 1.01), "divergences": np.zeros(len(origins), dtype=int)}
    return _dataset({"linear": (scores, diag)}, target, origins, BacktestOptions(models=("linear",)), 2000)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """One small file of each kind the tool writes, made once with the CLI (the backtest excepted)."""
    folder = tmp_path_factory.mktemp("runs")
    made = {
        "kept": ["sample", str(PRIORS / "default.toml"), "-n", "2000"],
        "summaries": ["sample", str(PRIORS / "default.toml"), "-n", "2000", "--no-keep-draws"],
        "evidence": ["sample", str(PRIORS / "default-evidence.toml"), "-n", "2000", "--inference", "psis"],
        "scenario": ["crossover", str(PRIORS / "default.toml"), "--model", "scenario", "-n", "400"],
    }
    paths = {}
    for name, argv in made.items():
        paths[name] = folder / f"{name}.nc"
        assert main([*argv, "-q", "--out", str(paths[name])]) == 0
    paths["backtest"] = save_run(_backtest_dataset(), folder / "backtest.nc")
    return paths


def _groups(path) -> dict[str, xr.Dataset]:
    """A file's groups in memory (``""``: a plain dataset)."""
    with xr.open_dataset(path, engine="h5netcdf") as root:
        if "kind" in root.attrs:
            return {"": root.load()}
    idata = az.from_netcdf(path)
    return {g: idata[g].load() for g in idata.groups()}


def _write(groups: dict[str, xr.Dataset], path) -> None:
    if os.path.exists(path):
        os.unlink(path)
    for i, (group, ds) in enumerate(groups.items()):
        kwargs = {"group": group} if group else {}
        ds.to_netcdf(path, mode="w" if i == 0 else "a", engine="h5netcdf", **kwargs)


def _check_cli(argv, capsys) -> tuple[int, str, str]:
    """Run the CLI: exit 0 and no 'nan', or exit 2 and one line; never a traceback or a warning."""
    code = main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "Warning" not in err, err
    if code == 0:
        assert all(line.startswith("warning: ") for line in err.splitlines()), err
        assert not re.search(r"\bnan\b", out), out
    else:
        assert code == 2 and err.count("\n") == 1 and err.startswith("error: "), err
    return code, out, err


# -- the corruptions -----------------------------------------------------------------------------------------

BAD_ATTRS = st.sampled_from(
    ["text", "{not json", "[]", "{}", '{"x": {}}', "nan", float("nan"), float("inf"), -1, 0, 1e308, 2.5, "\x1b[31m"]
)
BAD_VALUES = st.sampled_from([np.nan, np.inf, -np.inf])


def _json_variants(text: str) -> st.SearchStrategy:
    """A JSON attribute with one entry dropped or one leaf replaced."""
    data = json.loads(text)
    paths = []

    def walk(node, path):
        if isinstance(node, dict):
            for k, v in node.items():
                paths.append((*path, k))
                walk(v, (*path, k))
        elif isinstance(node, list):
            for i, v in enumerate(node[:2]):
                paths.append((*path, i))
                walk(v, (*path, i))

    walk(data, ())

    def change(args):
        path, how, leaf = args
        new = json.loads(text)
        node = new
        for k in path[:-1]:
            node = node[k]
        if how == "drop":
            del node[path[-1]]
        else:
            node[path[-1]] = leaf
        return json.dumps(new)

    leaves = st.sampled_from(["x", None, float("nan"), -1.0, 2.0, [], {}, "\x07"])
    return st.tuples(st.sampled_from(paths), st.sampled_from(["drop", "set"]), leaves).map(change)


def corruptions(groups: dict[str, xr.Dataset]) -> st.SearchStrategy:
    """One change to a file, field by field: ``(what, change)`` where ``change(groups)`` alters the groups in
    place: an attribute dropped or set to junk (text in numbers, bad JSON, NaN), a JSON attribute with an entry
    dropped or replaced, a variable's values as text or booleans, NaN or inf in a variable, a variable or a
    coordinate dropped, a label with a control character."""
    attrs = sorted({(g, k) for g, ds in groups.items() for k in ds.attrs if k != "prior_text"})
    json_attrs = [(g, k) for g, k in attrs if isinstance(groups[g].attrs[k], str) and groups[g].attrs[k][:1] == "{"]
    variables = sorted((g, v) for g, ds in groups.items() for v in ds.data_vars)
    numeric = [(g, v) for g, v in variables if groups[g][v].dtype.kind in "fiu" and groups[g][v].size]
    coords = sorted((g, c) for g, ds in groups.items() for c in ds.coords if c not in ("chain", "draw"))
    text_coords = [(g, c) for g, c in coords if groups[g][c].dtype.kind == "U" and groups[g][c].size]

    def drop_attr(gk):
        return f"drop attribute {gk}", lambda gs: gs[gk[0]].attrs.pop(gk[1])

    def set_attr(args):
        (g, k), value = args
        return f"attribute {g}.{k} = {value!r}", lambda gs: gs[g].attrs.__setitem__(k, value)

    def retype(args):
        (g, v), dtype = args
        return f"{g}.{v} as {dtype}", lambda gs: gs.__setitem__(g, gs[g].assign({v: gs[g][v].astype(dtype)}))

    def poke(args):
        (g, v), value, everywhere = args

        def change(gs):
            x = gs[g][v].values.astype(np.float64)
            x.flat[slice(None) if everywhere else x.size // 2] = value
            gs[g] = gs[g].assign({v: (gs[g][v].dims, x)})

        return f"{g}.{v} {'all' if everywhere else 'one'} {value}", change

    def drop_var(gv):
        return f"drop {gv}", lambda gs: gs.__setitem__(gv[0], gs[gv[0]].drop_vars(gv[1]))

    def relabel(gc):
        g, c = gc

        def change(gs):
            labels = gs[g][c].values.astype(object)
            labels[0] = "bad\x1b[31m\nlabel"
            gs[g] = gs[g].assign_coords({c: labels.astype(str)})

        return f"label of {gc} with control characters", change

    options = [
        st.sampled_from(attrs).map(drop_attr),
        st.tuples(st.sampled_from(attrs), BAD_ATTRS).map(set_attr),
        st.tuples(st.sampled_from(variables), st.sampled_from(["str", "bool"])).map(retype),
        st.tuples(st.sampled_from(numeric), BAD_VALUES, st.booleans()).map(poke),
        st.sampled_from(variables).map(drop_var),
    ]
    if json_attrs:
        options.append(
            st.sampled_from(json_attrs).flatmap(
                lambda gk: _json_variants(groups[gk[0]].attrs[gk[1]]).map(lambda text: set_attr((gk, text)))
            )
        )
    if coords:
        options.append(st.sampled_from(coords).map(drop_var))
    if text_coords:
        options.append(st.sampled_from(text_coords).map(relabel))
    return st.one_of(options)


KINDS = ("kept", "summaries", "evidence", "scenario", "backtest")
RUN = dict(deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.slow
@settings(max_examples=30, **RUN)
@given(data=st.data())
def test_corrupted_files_give_a_table_or_one_line(files, tmp_path, capsys, data):
    kind = data.draw(st.sampled_from(KINDS), label="kind")
    groups = _groups(files[kind])
    what, change = data.draw(corruptions(groups), label="corruption")
    change(groups)
    path = tmp_path / "bad.nc"
    _write(groups, path)
    _check_cli(["report", str(path)], capsys)
    figures = tmp_path / "figures"
    shutil.rmtree(figures, ignore_errors=True)
    code, out, _ = _check_cli(["plot", str(path), "--out", str(figures)], capsys)
    if code == 0:
        assert out.split() and all(os.path.getsize(p) > 0 for p in out.split())
    else:
        assert not figures.exists()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.slow
def test_every_kind_reads_back(files, kind, capsys, tmp_path):
    """The files as written: report prints their tables (a backtest's too), plot draws them."""
    code, out, _ = _check_cli(["report", str(files[kind])], capsys)
    assert code == 0 and ("cov 50" if kind == "backtest" else "log10 brain FLOP/s") in out
    code, out, _ = _check_cli(["plot", str(files[kind]), "--out", str(tmp_path / "f")], capsys)
    assert code == 0 and len(out.split()) >= 1


@pytest.mark.slow
def test_report_reprints_a_backtest(files, capsys):
    """`report BT.nc` prints the tables `backtest` printed, in every format."""
    from uncertainty.growth.hindcast import summarize_backtest
    from uncertainty.output.backtest import render_backtest

    ds = load_saved(files["backtest"])
    for fmt in ("table", "json", "csv"):
        assert main(["report", str(files["backtest"]), "--format", fmt]) == 0
        assert capsys.readouterr().out.rstrip("\n") == render_backtest(summarize_backtest(ds), fmt)


@pytest.mark.parametrize(
    "group, change, problem",
    [
        ("posterior", lambda ds: ds.attrs.update(evidence="{not json"), "attrs.evidence: not valid JSON"),
        ("posterior", lambda ds: ds.attrs.update(choice_odds="[1"), "attrs.choice_odds: not valid JSON"),
        ("posterior", lambda ds: ds.attrs.pop("pareto_k"), "pareto_k: missing"),
        ("posterior", lambda ds: ds.attrs.update(ess_importance="many"), "expected a number, got text 'many'"),
        ("prior", lambda ds: ds.attrs.update(chunk_size="big"), "chunk_size: expected a whole number, got text"),
        (
            "posterior",
            lambda ds: ds.__setitem__("log10_brain_flops", ds["log10_brain_flops"].astype(str)),
            "posterior.log10_brain_flops: expected float values, got text",
        ),
        (
            "posterior",
            lambda ds: ds.__setitem__("log10_brain_flops", ds["log10_brain_flops"] > 19),
            "posterior.log10_brain_flops: expected float values, got booleans",
        ),
        (
            "posterior",
            lambda ds: ds["log10_brain_flops"].values.__setitem__((0, 3), np.nan),
            "posterior.log10_brain_flops: 1 of 2,000 values are NaN or inf",
        ),
        ("posterior", lambda ds: ds.__delitem__("evidence_neurons"), "posterior.evidence_neurons: missing"),
    ],
)
@pytest.mark.slow
def test_a_bad_field_is_named_in_one_line(files, tmp_path, capsys, group, change, problem):
    """Each problem of issue 19 is one line naming the field and what is wrong (a wrong dtype as a dtype)."""
    groups = _groups(files["evidence"])
    change(groups[group])
    _write(groups, tmp_path / "bad.nc")
    with pytest.raises(RunFileError, match=re.escape(problem)):
        load_saved(tmp_path / "bad.nc")
    code, _, err = _check_cli(["report", str(tmp_path / "bad.nc")], capsys)
    assert code == 2 and problem in err


@pytest.mark.parametrize(
    "change, problem",
    [
        (lambda ds: ds.attrs.pop("num_draws"), "attrs.num_draws: missing"),
        (lambda ds: ds.attrs.update(bins="many"), "attrs.bins: expected a whole number"),
        (lambda ds: ds["mean_log"].values.__setitem__(0, np.inf), "mean_log: 1 of 19 values are NaN or inf"),
        (lambda ds: ds["under"].values.__setitem__(0, 5), "counts: the histograms count 2,005 draws"),
    ],
)
def test_bad_summaries_are_one_line(files, tmp_path, change, problem):
    (ds,) = _groups(files["summaries"]).values()
    change(ds)
    save_run(ds, tmp_path / "bad.nc")
    with pytest.raises(RunFileError, match=re.escape(problem)):
        load_saved(tmp_path / "bad.nc")


def test_text_in_a_crossover_horizon_is_one_line(files, tmp_path, capsys):
    groups = _groups(files["scenario"])
    groups["prior"].attrs["horizon"] = "soon"
    _write(groups, tmp_path / "bad.nc")
    code, _, err = _check_cli(["report", str(tmp_path / "bad.nc")], capsys)
    assert code == 2 and "prior.attrs.horizon: expected a number, got text 'soon'" in err


@pytest.mark.parametrize("make", ["fifo", "device", "folder"])
def test_paths_that_are_not_regular_files_are_refused_before_reading(tmp_path, capsys, make):
    """A FIFO would block the read forever, /dev/zero never ends, a folder is no file: each is one line."""
    if make == "fifo":
        path = tmp_path / "run.nc"
        os.mkfifo(path)
    elif make == "device":
        path = "/dev/zero"
    else:
        path = tmp_path
    for argv in (["report", str(path)], ["plot", str(path), "--out", str(tmp_path / "figs")]):
        code, _, err = _check_cli(argv, capsys)
        assert code == 2 and err.count("\n") == 1 and "not a run file" in err
    assert not (tmp_path / "figs").exists()


def test_text_from_a_run_reaches_the_terminal_escaped(files, tmp_path, capsys):
    """An escape sequence and a newline in the prior path print as one escaped header line."""
    groups = _groups(files["kept"])
    groups["prior"].attrs["prior_file"] = "runs/\x1b[31mred\nsecond.toml"
    _write(groups, tmp_path / "odd.nc")
    code, out, _ = _check_cli(["report", str(tmp_path / "odd.nc")], capsys)
    assert code == 0 and "\x1b" not in out
    (line,) = [line for line in out.splitlines() if line.startswith("prior_file:")]
    assert line == "prior_file: runs/\\x1b[31mred\\nsecond.toml"
    assert "second.toml" not in out.replace(line, "")
    main(["report", str(tmp_path / "odd.nc"), "--format", "markdown"])
    assert "- prior_file: runs/\\x1b[31mred\\nsecond.toml\n" in capsys.readouterr().out


def test_a_prior_name_with_dollars_and_control_characters_plots(tmp_path, capsys):
    """A [meta] name that is not mathtext ($\\frac{1}$) nor printable draws as plain text: figures written."""
    text = (PRIORS / "dettmers2015.toml").read_text()
    prior = tmp_path / "odd.toml"
    prior.write_text(text.replace('name = "dettmers2015"', 'name = "cost $\\\\frac{1}$ per spike \\u001b[31m"'))
    run = tmp_path / "run.nc"
    assert main(["sample", str(prior), "-n", "100", "-q", "--out", str(run)]) == 0
    capsys.readouterr()
    code, out, _ = _check_cli(["plot", str(run), "--out", str(tmp_path / "figs")], capsys)
    assert code == 0 and {os.path.basename(p) for p in out.split()} >= {"brain_flops.png"}
    assert all(os.path.getsize(p) > 0 for p in out.split())
