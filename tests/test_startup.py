"""Warm start: the command line's help and argument errors load no heavy library; the warm-start caches
(compiled programs, the exported sampler) persist between runs (and can be turned off)."""

import json
import os
import subprocess
import sys

import pytest

from uncertainty.choices import DEFAULT_MODEL, GROWTH_MODELS, PRESETS, PUBLISHED_PRESETS, UNITS

from conftest import PRIORS, ROOT

HEAVY = ("jax", "numpyro", "arviz", "matplotlib", "pandas", "xarray")


def python(code: str, **env: str) -> subprocess.CompletedProcess:
    environ = {**os.environ, "JAX_PLATFORMS": "cpu", **env}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=environ)


def test_help_and_bad_arguments_import_no_heavy_library():
    code = (
        "import sys\n"
        "from uncertainty.cli import main\n"
        "for argv in (['--help'], ['sample', '--help'], ['sample', 'x.toml', '--samples', 'lots']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit as exc:\n"
        "        print('exit', exc.code)\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = python(code)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [x for x in lines if x.startswith("exit ")] == ["exit 0", "exit 0", "exit 2"] and lines[-1] == "[]"
    assert done.stderr.count("\n") == 1 and "expected a whole number" in done.stderr


@pytest.mark.slow
def test_a_streamed_sample_loads_neither_arviz_nor_the_growth_forecast():
    """The quick start's `sample` streams its summaries: ArviZ (about 1 s to import) and the growth forecast
    are not loaded (the crossover header's data line lives in the report module, imported only for a
    crossover)."""
    code = (
        "import sys\n"
        "from uncertainty.cli import main\n"
        f"assert main(['sample', {str(PRIORS / 'default.toml')!r}, '-n', '3000', '-q']) == 0\n"
        "print(sorted(m for m in ('arviz', 'uncertainty.runs.forecast', 'uncertainty.output.report')"
        " if m in sys.modules))\n"
    )
    done = python(code, UNCERTAINTY_NO_CACHE="1")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]"


def test_the_package_imports_its_public_names_on_first_use():
    done = python(
        "import sys, uncertainty as u\n"
        "print('jax' in sys.modules)\n"
        "print(u.load_priors.__module__, u.DEFAULT_MODEL, 'jax' in sys.modules)\n"
        "print(all(hasattr(u, n) for n in u.__all__))\n"
    )
    assert done.stdout.split() == ["False", "uncertainty.brain.priors", "walkcycle", "True", "True"], done.stderr


def test_no_public_name_is_also_a_submodule():
    """A lazily exported name that is also a submodule would be replaced by the module once imported."""
    import importlib.util

    import uncertainty

    clashes = [n for n in uncertainty.__all__ if importlib.util.find_spec(f"uncertainty.{n}") is not None]
    assert clashes == []


def test_names_the_command_line_offers_match_their_modules():
    from uncertainty.article import preset_path
    from uncertainty.growth.history import UNITS as HISTORY_UNITS
    from uncertainty.growth.models import MODELS_BY_NAME
    from uncertainty.published import PUBLISHED

    assert set(GROWTH_MODELS) == set(MODELS_BY_NAME)
    assert tuple(HISTORY_UNITS) == UNITS
    assert DEFAULT_MODEL in GROWTH_MODELS
    assert tuple(PUBLISHED) == PUBLISHED_PRESETS
    assert all(preset_path(name).exists() for name in (*PRESETS, *PUBLISHED_PRESETS))


@pytest.mark.slow
def test_warm_start_fills_on_a_run_reuses_it_and_can_be_turned_off(tmp_path):
    """The first run fills both caches; a second run skips NumPyro and the tracing (the exported sampler)
    and prints the same table as a run without any cache (the exported program is the traced one)."""
    cache, off = tmp_path / "cache", tmp_path / "off"
    argv = ["sample", str(PRIORS / "default.toml"), "-n", "3000", "--chunk-size", "1024", "-q", "--format", "json"]
    code = (
        "import sys, json\n"
        "from uncertainty.cli import main\n"
        f"status = main({argv!r})\n"
        "print(json.dumps({'numpyro': 'numpyro' in sys.modules}))\n"
        "raise SystemExit(status)\n"
    )

    def run(**env):
        done = python(code, **env)
        assert done.returncode == 0, done.stderr
        table, modules = done.stdout.rsplit("\n{", 1)
        return table, json.loads("{" + modules)

    cold, cold_modules = run(UNCERTAINTY_NO_CACHE="", UNCERTAINTY_CACHE_DIR=str(cache))
    assert any(p.name.startswith("jit_") for p in cache.iterdir())
    assert [p.suffix for p in (cache / "exported").iterdir()] == [".jaxexport"]
    warm, warm_modules = run(UNCERTAINTY_NO_CACHE="", UNCERTAINTY_CACHE_DIR=str(cache))
    none, _ = run(UNCERTAINTY_NO_CACHE="1", UNCERTAINTY_CACHE_DIR=str(off))
    assert cold_modules["numpyro"] and not warm_modules["numpyro"]
    assert json.loads(warm)["tables"] == json.loads(cold)["tables"] == json.loads(none)["tables"]
    assert not off.exists()


def test_a_stale_exported_sampler_is_traced_again(tmp_path, monkeypatch):
    """An unreadable entry (truncated by a crash, or from another version) is replaced, not trusted."""
    from uncertainty import warmstart
    from uncertainty.brain.engine import BLOCK_SIZE, _exported_draw
    from uncertainty.brain.priors import load_priors

    monkeypatch.setattr(warmstart, "_EXPORTED", tmp_path)
    spec = load_priors(PRIORS / "default.toml")
    path = warmstart.entry(spec, 1024, BLOCK_SIZE, True)
    path.write_bytes(b"not an exported program")
    assert warmstart.load_exported(path) is None
    assert callable(_exported_draw(spec, 1024, True))
    assert warmstart.load_exported(path) is not None  # rewritten
    assert warmstart.entry(spec, 1024, BLOCK_SIZE, True) == path != warmstart.entry(spec, 2048, BLOCK_SIZE, True)


def test_canonical_text_does_not_depend_on_set_order():
    from uncertainty.warmstart import canonical

    assert canonical(frozenset({"b", "a", "c"})) == canonical(frozenset({"c", "b", "a"})) == "{'a', 'b', 'c'}"
    assert canonical({"y": 1, "x": (2, {3})}) == "{'x': (2, {3}), 'y': 1}"
