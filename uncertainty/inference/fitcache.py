"""Cached NUTS fits: a warm run reuses the posterior draws of a fit whose inputs have not changed.

An entry (``<cache>/fits/fit-<hash>.npz``, :func:`uncertainty.warmstart.fits_dir`) holds one
:class:`~uncertainty.inference.nuts.NutsResult`. Its name hashes everything the draws depend on: the
fit's name, the data (every array's bytes, shape and type), the settings, the PRNG key, the source of
the models and the sampler (``uncertainty/growth`` and ``uncertainty/inference``), the package, JAX and
NumPyro versions and the backend. A changed CSV, setting, seed or model therefore fits again. The entry
states its hash inside it and is used only when that matches and every array has the fit's shape: a
truncated, foreign or unreadable entry is fitted again and replaced, never trusted. Entries are written
atomically (a temporary file renamed); beyond :data:`MAX_ENTRIES` the least recently used are removed.
Without the cache (library calls that did not call
:func:`uncertainty.warmstart.enable`, ``UNCERTAINTY_NO_CACHE``) every call fits.

Fits that miss the cache are all compiled first, one after the other in the calling thread, then run side by
side, one per core (XLA never compiles in two threads at once).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np

from .. import interrupts, warmstart
from .._version import __version__
from ..errors import one_line
from .nuts import NutsResult, NutsSettings, Status, compile_nuts, progress_lines, step, steps_text

__all__ = ["FitJob", "cached_fits", "fit_entry"]

_STATS = ("diverging", "accept_prob", "num_steps")
MAX_ENTRIES = 48  # fits kept in the cache; the least recently used beyond these are removed
_META = "__meta__"


class FitJob(NamedTuple):
    """One NUTS fit: its name (in status lines and the entry), key, NumPyro model, batched data and settings."""

    name: str
    key: jax.Array
    model: Callable
    data: Any
    settings: NutsSettings
    text: str  # the status line of the fit, e.g. "fitting walkcycle to hpcg"


def _hash(job: FitJob) -> str:
    digest = hashlib.sha256()
    for part in (job.name, repr(tuple(job.settings)), __version__, version("jax"), version("numpyro")):
        digest.update(str(part).encode() + b"\0")
    digest.update(jax.default_backend().encode() + b"\0")
    digest.update(warmstart.source_digest("growth", "inference").encode())  # an edit to a model or the sampler
    digest.update(np.asarray(jax.random.key_data(job.key)).tobytes())
    leaves, tree = jax.tree_util.tree_flatten(job.data)
    digest.update(str(tree).encode())
    for leaf in leaves:
        a = np.asarray(leaf)
        digest.update(f"{a.dtype.str}{a.shape}".encode())
        digest.update(np.ascontiguousarray(a).tobytes())
    return digest.hexdigest()


def fit_entry(job: FitJob) -> Path | None:
    """The cache file of ``job`` (``None`` when the cache is off)."""
    folder = warmstart.fits_dir()
    return None if folder is None else folder / f"fit-{_hash(job)}.npz"


def _shape_ok(result: NutsResult, job: FitJob) -> bool:
    batch = jax.tree_util.tree_leaves(job.data)[0].shape[0]
    want = (batch, job.settings.num_chains, job.settings.num_samples)
    arrays = [*result.samples.values(), result.diverging, result.accept_prob, result.num_steps]
    return bool(result.samples) and all(a.shape[:3] == want for a in arrays)


def _load(path: Path, job: FitJob) -> tuple[NutsResult, str] | None:
    """The fit stored at ``path`` and when it was made, or ``None`` (missing, unreadable, foreign, misshapen)."""
    try:
        with np.load(io.BytesIO(path.read_bytes()), allow_pickle=False) as f:
            meta = json.loads(str(f[_META]))
            if meta.get("hash") != path.stem.removeprefix("fit-"):
                return None
            samples = {k.removeprefix("samples/"): f[k] for k in f.files if k.startswith("samples/")}
            result = NutsResult(samples=samples, **{k: f[k] for k in _STATS})
    except Exception:  # a truncated or foreign file: fit again
        return None
    if not _shape_ok(result, job):
        return None
    with contextlib.suppress(OSError):
        now = time.time()
        os.utime(path, (now, now))  # used now: the last to be pruned
    return result, str(meta.get("created", "?"))


def _prune(folder: Path) -> None:
    """Remove the least recently used entries beyond :data:`MAX_ENTRIES` (a stale entry, of data or code
    since changed, is never used again)."""
    try:
        entries = sorted(folder.glob("fit-*.npz"), key=lambda p: p.stat().st_mtime, reverse=True)
        for path in entries[MAX_ENTRIES:]:
            path.unlink(missing_ok=True)
    except OSError:
        pass


def _save(path: Path, job: FitJob, result: NutsResult) -> None:
    """Store a fit atomically; a failure costs the next run its cached fit only (one note line)."""
    created = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    meta = json.dumps({"hash": path.stem.removeprefix("fit-"), "name": job.name, "created": created})
    arrays = {f"samples/{k}": v for k, v in result.samples.items()}
    arrays.update({k: getattr(result, k) for k in _STATS}, **{_META: np.array(meta)})
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npz")
        interrupts.temporary(tmp)
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
        _prune(path.parent)
    except OSError as exc:
        text = f"note: growth-fit cache {path.parent}: an entry could not be written ({exc.strerror or exc})"
        print(one_line(text), file=sys.stderr, flush=True)
    finally:
        if tmp is not None:
            interrupts.forget(tmp)
            if os.path.exists(tmp):
                os.unlink(tmp)


def cached_fits(
    jobs: list[FitJob], *, refit: bool = False, status: Status | None = None, workers: int | None = None
) -> dict[str, NutsResult]:
    """Run every job's NUTS fit, or take it from the cache (not with ``refit``); ``{name: result}``.

    ``status`` takes ``growth fit: cached (NAME, DATE)`` for a cached fit, and ``TEXT (STEPS) ...`` /
    ``TEXT (STEPS): done in S s`` around each fit run. The fits that run are all compiled in this thread, one
    after the other, then run on up to ``workers`` threads (default: the CPU count); each fit's draws are
    exactly those of :func:`~uncertainty.inference.nuts.run_nuts` with the same key.
    """
    say = status or (lambda text: None)
    results: dict[str, NutsResult] = {}
    todo: list[tuple[FitJob, Path | None]] = []
    for job in jobs:
        path = fit_entry(job)
        found = None if (path is None or refit) else _load(path, job)
        if found is not None:
            results[job.name] = found[0]
            say(f"growth fit: cached ({job.name}, {found[1]})")
            continue
        if path is not None and not refit and path.exists():
            say(f"growth fit: the cached {job.name} fit is unreadable or stale; fitting it again")
        todo.append((job, path))
    if not todo:
        return results

    def run(job, path, program):
        text = f"{job.text} ({steps_text(job.settings)})"
        say(f"{text} ...")
        start = time.perf_counter()
        result = program(progress_lines(status, text))
        say(f"{text}: done in {time.perf_counter() - start:.1f} s")
        if path is not None:
            _save(path, job, result)
        return job.name, result

    def compiled(job):
        with step(status, f"compiling the {job.name} fit"):
            return compile_nuts(job.key, job.model, job.data, job.settings)

    count = min(len(todo), workers or os.cpu_count() or 1)
    if count == 1:
        done = [run(job, path, compiled(job)) for job, path in todo]
    else:  # every fit compiled here first, then run side by side: XLA never compiles in two threads at once
        programs = [compiled(job) for job, _ in todo]
        with ThreadPoolExecutor(count) as pool:
            futures = [
                pool.submit(run, job, path, program) for (job, path), program in zip(todo, programs, strict=True)
            ]
            done = [f.result() for f in futures]
    results.update(done)
    return {job.name: results[job.name] for job in jobs}
