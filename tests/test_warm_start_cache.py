"""The warm-start cache is trusted only for what it states it was built from, and a cache that cannot be read
or written costs a note line, never JAX's warnings or entries left empty."""

import warnings

import pytest

from uncertainty import warmstart
from uncertainty.brain.engine import BLOCK_SIZE, _exported_draw
from uncertainty.brain.priors import parse_priors

from conftest import one_class_text


@pytest.fixture
def exported(tmp_path, monkeypatch):
    monkeypatch.setattr(warmstart, "_EXPORTED", tmp_path)
    return tmp_path


def test_an_entry_copied_from_another_prior_file_is_not_used(exported):
    """Two prior files with the same sites: the first's entry copied under the second's name is refused
    (it states the first's key) and traced again; the second then draws its own numbers."""
    a = parse_priors(one_class_text(rate="{ lognormal = [1, 10] }"), "a.toml")
    b = parse_priors(one_class_text(rate="{ lognormal = [100, 1000] }"), "b.toml")
    path_a, path_b = (warmstart.entry(s, 1024, BLOCK_SIZE, True) for s in (a, b))
    assert path_a != path_b
    _exported_draw(a, 1024, True)
    path_b.write_bytes(path_a.read_bytes())
    assert warmstart.load_exported(path_b) is None
    import jax

    draw = _exported_draw(b, 1024, True)
    rates = draw(jax.random.key(0), jax.numpy.uint32(0))["cell_rate"]
    assert 50 < float(jax.numpy.median(rates)) < 2000  # b's prior (median ~316), not a's (~3.2)
    assert warmstart.load_exported(path_b) is not None  # rewritten with b's own key


@pytest.mark.parametrize("content", [b"", b"\x00" * 64, b"random bytes \xff\xfe"])
def test_an_empty_or_random_entry_is_traced_again(exported, content):
    spec = parse_priors(one_class_text(), "x.toml")
    path = warmstart.entry(spec, 1024, BLOCK_SIZE, True)
    path.write_bytes(content)
    assert warmstart.load_exported(path) is None
    assert callable(_exported_draw(spec, 1024, True))
    assert warmstart.load_exported(path) is not None


def test_jax_cache_warnings_become_one_note_each(tmp_path, capsys, monkeypatch):
    """JAX warns once per program when its cache cannot be read or written (a full disk, random bytes): the
    run prints one note line per kind of problem, and entries a failed write left empty are removed."""
    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)  # restored after the test
    monkeypatch.setattr(warmstart, "_noted", set())
    empty = tmp_path / "jit_draw-0123-cache"
    empty.write_bytes(b"")
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warmstart._quiet_jax_cache(str(tmp_path))
        for name in ("jit_a", "jit_b", "jit_c"):
            warnings.warn(
                f"Error writing persistent compilation cache entry for '{name}': OSError: [Errno 28] full", stacklevel=1
            )
            warnings.warn(
                f"Error reading persistent compilation cache entry for '{name}': ValueError: bad", stacklevel=1
            )
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all(line.startswith("note: compilation cache ") for line in err)
    assert "could not be written" in err[0] and "could not be read" in err[1]
    assert not empty.exists()


def test_enable_removes_empty_entries_and_says_when_the_folder_cannot_be_made(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(warmstart, "_noted", set())
    (tmp_path / "exported").mkdir()
    (tmp_path / "exported" / "draw-x.jaxexport").write_bytes(b"")
    (tmp_path / "jit_y-cache").write_bytes(b"kept")
    assert warmstart._sweep(tmp_path) == {str(tmp_path / "jit_y-cache")}
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["jit_y-cache"]
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("UNCERTAINTY_NO_CACHE", "")
    monkeypatch.setenv("UNCERTAINTY_CACHE_DIR", str(blocker / "cache"))
    monkeypatch.setattr(warmstart, "_EXPORTED", None)
    warmstart.enable()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot be made" in err and warmstart.exported_dir() is None
