"""Warm start: what a second run of the same prior file reuses from the first.

Three caches, in one folder (:func:`cache_dir`):

- JAX's persistent compilation cache (``<folder>/``): compiled XLA executables, so a warm run does
  not compile;
- growth fits (``<folder>/fits/``): the posterior draws of a NUTS fit, keyed by its data, model, settings
  and key (:mod:`uncertainty.inference.fitcache`), so a warm crossover does not refit;
- exported chunk samplers (``<folder>/exported/``): the brain model traced once and serialised with
  ``jax.export``, so a warm run neither imports NumPyro nor traces the model. An entry's name hashes
  the prior spec, the chunk size, the precision, the JAX version, the backend and the source of
  ``uncertainty.brain``, so an edit to any of them makes a new entry. The entry carries that hash
  inside it and is used only when it matches the one asked for: a stale, foreign (copied from another
  prior file's entry) or unreadable entry is traced again and replaced.

The command line enables both (:func:`enable`); library calls use neither unless they call it. A cache
that cannot be read or written costs the warm start only: one ``note:`` line on stderr, never JAX's
warnings; entries left empty by a failed write are removed, and so are the entries a run was writing
when a signal ended it (JAX writes its entries in place).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import re
import sys
import tempfile
import warnings
from pathlib import Path

from . import interrupts
from .errors import one_line

__all__ = [
    "cache_dir",
    "canonical",
    "enable",
    "entry",
    "exported_dir",
    "fits_dir",
    "load_exported",
    "lock_compilation_cache",
    "note",
    "save_exported",
    "source_digest",
]

_EXPORTED: Path | None = None  # set by enable()
_FITS: Path | None = None  # set by enable()


def cache_dir() -> str | None:
    """Where compiled programs persist between runs: ``$UNCERTAINTY_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/uncertainty/jax`` (``~/.cache/uncertainty/jax``); ``None`` when
    ``UNCERTAINTY_NO_CACHE`` is set (to anything but ``0`` or empty)."""
    if os.environ.get("UNCERTAINTY_NO_CACHE", "") not in ("", "0"):
        return None
    if os.environ.get("UNCERTAINTY_CACHE_DIR"):
        return os.environ["UNCERTAINTY_CACHE_DIR"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "uncertainty", "jax")


def enable() -> None:
    """Turn the caches on (the command line does, for the commands that compile). A folder that cannot
    be made costs the warm start only (one note line)."""
    global _EXPORTED, _FITS
    folder = cache_dir()
    if folder is None:
        return
    try:
        os.makedirs(os.path.join(folder, "exported"), exist_ok=True)
        os.makedirs(os.path.join(folder, "fits"), exist_ok=True)
        before = _sweep(Path(folder))
    except OSError as exc:
        note(folder, f"cannot be made ({exc.strerror or exc})")
        return
    import jax

    _quiet_jax_cache(folder)
    jax.config.update("jax_compilation_cache_dir", folder)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)  # every program: warm runs compile nothing
    lock_compilation_cache()
    _EXPORTED = Path(folder) / "exported"
    _FITS = Path(folder) / "fits"
    interrupts.on_signal(lambda: _remove_new(Path(folder), before))


JAX_CACHE_MAX_BYTES = 8 * 2**30  # past what the sweep keeps: JAX's own eviction, enabled for its file lock


def lock_compilation_cache() -> None:
    """Make JAX lock its persistent compilation cache (with ``filelock``) around every read and write. Without
    a size limit it writes an entry in place, unlocked, and another process or thread that reads it half
    written can crash in XLA's deserializer (seen: a segfault when two test workers shared a cache)."""
    import jax

    jax.config.update("jax_compilation_cache_max_size", JAX_CACHE_MAX_BYTES)


_ENTRY_SUFFIXES = ("-cache", ".jaxexport")  # JAX's compiled programs; the exported samplers
_noted: set[str] = set()


def note(folder: str | os.PathLike, problem: str) -> None:
    """One line on stderr, once per problem: the cache costs this run its warm start, nothing else."""
    if problem in _noted:
        return
    _noted.add(problem)
    text = f"note: compilation cache {os.fspath(folder)}: {problem}; the run goes on without a warm start"
    print(one_line(text), file=sys.stderr, flush=True)


def _entries(folder: Path) -> list[Path]:
    subs = [sub for sub in (folder, folder / "exported") if sub.is_dir()]
    return [p for sub in subs for p in sub.iterdir() if p.name.endswith(_ENTRY_SUFFIXES)]


def _sweep(folder: Path) -> frozenset[str]:
    """Remove entries that a failed write left empty; the names of the entries there now."""
    names = set()
    for path in _entries(folder):
        try:
            if path.stat().st_size == 0:
                path.unlink()
                continue
        except OSError:
            continue
        names.add(str(path))
    return frozenset(names)


def _remove_new(folder: Path, before: frozenset[str]) -> None:
    """Remove the entries written since :func:`enable` (a signal may have cut one short: JAX writes in place)."""
    for path in _entries(folder):
        if str(path) not in before:
            path.unlink(missing_ok=True)


_JAX_CACHE_WARNING = re.compile(r"Error (reading|writing) persistent compilation cache entry for '[^']*': (.*)", re.S)


def _quiet_jax_cache(folder: str) -> None:
    """JAX's warnings about its persistent cache (an unreadable entry, a read-only folder, a full disk)
    become one note line each; other warnings are shown as before."""
    shown = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        match = _JAX_CACHE_WARNING.match(str(message))
        if match is None:
            return shown(message, category, filename, lineno, file, line)
        reading = match.group(1) == "reading"
        if reading:
            note(folder, "an entry could not be read (remove the folder to rebuild it)")
        else:
            note(folder, f"an entry could not be written ({match.group(2).strip().splitlines()[0][:120]})")
        if not reading:
            _sweep(Path(folder))

    warnings.filterwarnings(
        "always", message=r"Error (reading|writing) persistent compilation cache", category=UserWarning
    )
    warnings.showwarning = show


def fits_dir() -> Path | None:
    """The folder of cached growth fits, or ``None`` when :func:`enable` has not run (or could not)."""
    return _FITS


def exported_dir() -> Path | None:
    """The folder of exported samplers, or ``None`` when :func:`enable` has not run (or could not)."""
    return _EXPORTED


@functools.cache
def source_digest(*folders: str) -> str:
    """A hash of the source of the package's ``folders`` (e.g. ``"brain"``: what a traced sampler is made of),
    read once per process."""
    digest = hashlib.sha256()
    for folder in folders:
        for path in sorted((Path(__file__).parent / folder).glob("*.py")):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def canonical(obj: object) -> str:
    """A text of ``obj`` that is the same in every process: dataclasses field by field, sets and dicts
    sorted (their ``repr`` follows the per-process string hash)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = ", ".join(f"{f.name}={canonical(getattr(obj, f.name))}" for f in dataclasses.fields(obj))
        return f"{type(obj).__name__}({fields})"
    if isinstance(obj, (set, frozenset)):
        return "{" + ", ".join(sorted(canonical(v) for v in obj)) + "}"
    if isinstance(obj, dict):
        return "{" + ", ".join(sorted(f"{canonical(k)}: {canonical(v)}" for k, v in obj.items())) + "}"
    if isinstance(obj, (list, tuple)):
        return "(" + ", ".join(canonical(v) for v in obj) + ")"
    return repr(obj)


def entry(*parts: object) -> Path | None:
    """The file of the exported program identified by ``parts`` (with JAX's version, the backend and the
    model's source); ``None`` when the cache is off."""
    if _EXPORTED is None:
        return None
    import jax

    digest = hashlib.sha256()
    for part in (*parts, jax.__version__, jax.default_backend(), source_digest("brain")):
        digest.update(canonical(part).encode())
        digest.update(b"\0")
    return _EXPORTED / f"draw-{digest.hexdigest()}.jaxexport"


_MAGIC = b"uncertainty-exported-sampler\n"


def _header(path: Path) -> bytes:
    """What an entry states it was built from: the key its name hashes (:func:`entry`)."""
    return _MAGIC + path.stem.removeprefix("draw-").encode() + b"\n"


def load_exported(path: Path):
    """The exported program saved at ``path``, or ``None`` if it is missing, unreadable, or was not built
    from what ``path`` names (its stated key differs: a stale or foreign entry)."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    header = _header(path)
    if not data.startswith(header):
        return None
    try:
        from jax import export

        return export.deserialize(bytearray(data[len(header) :]))
    except Exception:  # a truncated file: trace again
        return None


def save_exported(path: Path, exported) -> None:
    """Save an exported program atomically (a temporary file renamed), headed by the key it was built from;
    a failure costs the warm start only (one note line)."""
    tmp = None
    try:
        data = _header(path) + exported.serialize()
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".jaxexport")
        interrupts.temporary(tmp)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError as exc:
        note(path.parent.parent, f"an entry could not be written ({exc.strerror or exc})")
    finally:
        if tmp is not None:
            interrupts.forget(tmp)
            if os.path.exists(tmp):
                os.unlink(tmp)
