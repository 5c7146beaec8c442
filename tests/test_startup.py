"""Warm start: the command line's help and argument errors load no heavy library; the compilation cache
persists compiled programs between runs (and can be turned off)."""

import os
import subprocess
import sys

from uncertainty.choices import DEFAULT_MODEL, FORECAST_MODELS, GROWTH_MODELS, PRESETS, PUBLISHED_PRESETS

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
    from uncertainty.growth.forecast import MODELS
    from uncertainty.growth.models import MODELS_BY_NAME
    from uncertainty.published import PUBLISHED

    assert set(GROWTH_MODELS) == set(MODELS_BY_NAME) and MODELS == FORECAST_MODELS
    assert DEFAULT_MODEL in GROWTH_MODELS
    assert tuple(PUBLISHED) == PUBLISHED_PRESETS
    assert all(preset_path(name).exists() for name in (*PRESETS, *PUBLISHED_PRESETS))


def test_compilation_cache_fills_on_a_run_and_can_be_turned_off(tmp_path):
    cache, off = tmp_path / "cache", tmp_path / "off"
    argv = ["sample", str(PRIORS / "default.toml"), "-n", "100", "-q"]
    code = f"from uncertainty.cli import main; raise SystemExit(main({argv!r}))"
    done = python(code, UNCERTAINTY_NO_CACHE="", UNCERTAINTY_CACHE_DIR=str(cache))
    assert done.returncode == 0, done.stderr
    assert any(p.name.startswith("jit__draw_sites") for p in cache.iterdir())
    done = python(code, UNCERTAINTY_NO_CACHE="1", UNCERTAINTY_CACHE_DIR=str(off))
    assert done.returncode == 0 and not off.exists()
