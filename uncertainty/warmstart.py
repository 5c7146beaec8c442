"""Warm start: what a second run of the same prior file reuses from the first.

Two caches, in one folder (:func:`cache_dir`):

- JAX's persistent compilation cache (``<folder>/``): compiled XLA executables, so a warm run does
  not compile;
- exported chunk samplers (``<folder>/exported/``): the brain model traced once and serialised with
  ``jax.export``, so a warm run neither imports NumPyro nor traces the model. An entry's name hashes
  the prior spec, the chunk size, the precision, the JAX version, the backend and the source of
  ``uncertainty.brain``, so an edit to any of them makes a new entry; a stale or unreadable entry is
  traced again.

The command line enables both (:func:`enable`); library calls use neither unless they call it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import tempfile
from pathlib import Path

__all__ = ["cache_dir", "canonical", "enable", "entry", "exported_dir", "load_exported", "save_exported"]

_EXPORTED: Path | None = None  # set by enable()


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
    """Turn both caches on (the command line does, for the commands that compile). A folder that cannot
    be made is skipped silently: the run only loses its warm start."""
    global _EXPORTED
    folder = cache_dir()
    if folder is None:
        return
    try:
        os.makedirs(os.path.join(folder, "exported"), exist_ok=True)
    except OSError:
        return
    import jax

    jax.config.update("jax_compilation_cache_dir", folder)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)  # every program: warm runs compile nothing
    _EXPORTED = Path(folder) / "exported"


def exported_dir() -> Path | None:
    """The folder of exported samplers, or ``None`` when :func:`enable` has not run (or could not)."""
    return _EXPORTED


def _source_digest() -> str:
    """A hash of the source of ``uncertainty.brain`` (what a traced sampler is made of)."""
    digest = hashlib.sha256()
    folder = Path(__file__).parent / "brain"
    for path in sorted(folder.glob("*.py")):
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
    for part in (*parts, jax.__version__, jax.default_backend(), _source_digest()):
        digest.update(canonical(part).encode())
        digest.update(b"\0")
    return _EXPORTED / f"draw-{digest.hexdigest()[:40]}.jaxexport"


def load_exported(path: Path):
    """The exported program saved at ``path``, or ``None`` if it is missing or unreadable."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    try:
        from jax import export

        return export.deserialize(bytearray(data))
    except Exception:  # a truncated or foreign file: trace again
        return None


def save_exported(path: Path, exported) -> None:
    """Save an exported program atomically (a temporary file renamed); failures are silent (no warm start)."""
    try:
        data = exported.serialize()
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".jaxexport")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except Exception:
        return
