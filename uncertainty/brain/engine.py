"""Seeded, chunked, jitted Monte Carlo sampling of the brain model.

Draws are made in blocks of ``BLOCK_SIZE`` (1024): block ``b`` of a run is keyed
``fold_in(key(seed), b)``, so draw ``n`` depends only on the seed and ``n``. A run is
processed in chunks of a whole number of blocks (``chunk_size``; by default 32768 on a
CPU and more on an accelerator, from its memory: :func:`default_chunk_size`); the chunk
size changes how much is drawn at once, never which draws, and a shorter run is a
prefix of a longer one. Every chunk has the same shape, so the model is traced and
compiled once; the last chunk is cut to length. With several local devices (GPUs, or
CPU devices forced with ``XLA_FLAGS=--xla_force_host_platform_device_count=N``) each
chunk's blocks are sharded over them. The random draws are bit-identical whatever the
number of devices; derived log10 FLOP/s may differ in the last bit, because XLA
compiles the arithmetic for each device count.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from functools import partial

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from tqdm.auto import tqdm

from ..choices import BLOCK_SIZE, DEFAULT_CHUNK_SIZE, PRECISIONS
from ..errors import InputError, PriorError
from .priors import Choice, Point, Prior, PriorSpec

__all__ = [
    "BLOCK_SIZE",
    "DEFAULT_CHUNK_SIZE",
    "default_chunk_size",
    "chunk_of",
    "PRECISIONS",
    "sample_brain",
    "draw_chunks",
    "draw_chunk",
    "nonfinite_error",
    "check_precision",
    "check_magnitude",
    "check_memory",
    "check_fits",
    "physical_memory",
    "bytes_per_draw",
    "draw_sharding",
]


def _draw_sites(model: Callable[[], None], key: jax.Array) -> dict[str, jax.Array]:
    from numpyro import handlers

    trace = handlers.trace(handlers.seed(model, key)).get_trace()
    return {
        name: site["value"]
        for name, site in trace.items()
        if site["type"] in ("sample", "deterministic") and not name.startswith("_")  # "_": internal sites
    }


_COMPILED: dict[tuple, Callable[[jax.Array, int], dict[str, jax.Array]]] = {}


def draw_sharding(chunk: int) -> NamedSharding | None:
    """How a chunk's draws are split over the local devices: along the draw axis, a whole number of
    blocks per device, when there are several devices and they divide the chunk's blocks; ``None``
    (one device) otherwise."""
    devices = jax.local_devices()
    if len(devices) < 2 or (chunk // BLOCK_SIZE) % len(devices):
        return None
    return NamedSharding(Mesh(np.array(devices), ("draw",)), PartitionSpec("draw"))


def _compiled_draw(spec: PriorSpec, chunk: int, x64: bool) -> Callable[[jax.Array, int], dict[str, jax.Array]]:
    """The jitted chunk sampler of a prior spec, ``draw(root_key, chunk_index)``, cached so repeated runs
    compile once (and, with the warm start on, exported so that later processes skip NumPyro and the
    tracing: :mod:`uncertainty.warmstart`)."""
    sharding = draw_sharding(chunk)
    key = (repr(spec), chunk, x64, sharding)  # the repr holds every field of the (frozen) spec
    if key not in _COMPILED:
        if len(_COMPILED) >= 16:
            _COMPILED.pop(next(iter(_COMPILED)))
        # a sharded sampler is traced, not exported
        exported = _exported_draw(spec, chunk, x64) if sharding is None else None
        _COMPILED[key] = exported or _traced_draw(spec, chunk, sharding)
    return _COMPILED[key]


def _chunk_sampler(spec: PriorSpec, chunk: int) -> Callable[[jax.Array, jax.Array], dict[str, jax.Array]]:
    """``draw(root_key, chunk_index)``: the chunk's blocks, each keyed ``fold_in(root_key, block)`` and drawn
    by the model over a plate of ``BLOCK_SIZE`` draws (vmapped over the blocks), laid end to end."""
    from .model import brain_model

    blocks = chunk // BLOCK_SIZE
    block = partial(_draw_sites, partial(brain_model, spec, BLOCK_SIZE))

    def draw(root: jax.Array, index: jax.Array) -> dict[str, jax.Array]:
        first = jax.numpy.asarray(index, dtype=np.uint32) * np.uint32(blocks)
        keys = jax.vmap(jax.random.fold_in, in_axes=(None, 0))(root, first + np.arange(blocks, dtype=np.uint32))
        return {name: v.reshape(chunk, *v.shape[2:]) for name, v in jax.vmap(block)(keys).items()}

    return draw


def _traced_draw(spec: PriorSpec, chunk: int, sharding=None) -> Callable[[jax.Array, int], dict[str, jax.Array]]:
    return jax.jit(_chunk_sampler(spec, chunk), out_shardings=sharding)


def _exported_draw(spec: PriorSpec, chunk: int, x64: bool) -> Callable[[jax.Array, int], dict[str, jax.Array]] | None:
    """The sampler from the warm-start cache (exported there on first use); ``None`` when the cache is off."""
    from .. import warmstart

    path = warmstart.entry(spec, chunk, BLOCK_SIZE, x64)
    if path is None:
        return None
    exported = warmstart.load_exported(path)
    if exported is None:
        from jax import export

        key = jax.random.key(0)
        index = jax.ShapeDtypeStruct((), np.uint32)
        exported = export.export(_traced_draw(spec, chunk))(jax.ShapeDtypeStruct(key.shape, key.dtype), index)
        warmstart.save_exported(path, exported)
    return jax.jit(exported.call)


def default_chunk_size(spec: PriorSpec | None = None) -> int:
    """Draws per chunk when none is asked for: ``DEFAULT_CHUNK_SIZE`` (32768) on a CPU; on an accelerator,
    as many whole blocks as fit in a tenth of its memory (a chunk's draws, by :func:`bytes_per_draw`), at
    most 2**22. The draws do not depend on it (see the module's docstring)."""
    device = jax.local_devices()[0]
    if device.platform == "cpu":
        return DEFAULT_CHUNK_SIZE
    try:
        memory = int((device.memory_stats() or {}).get("bytes_limit", 0))
    except Exception:  # not every backend tells
        memory = 0
    if memory <= 0:
        return DEFAULT_CHUNK_SIZE
    per_draw = bytes_per_draw(spec) if spec is not None else 2048
    blocks = max(1, min(memory // 10 // per_draw, 1 << 22) // BLOCK_SIZE)
    return int(blocks * BLOCK_SIZE)


def bytes_per_draw(spec: PriorSpec) -> int:
    """Rough peak memory of one draw of a run, in bytes, end to end (sampling, ArviZ, report)."""
    stochastic = (
        sum(
            1
            for c in spec.classes
            for f, p in c.params.items()
            if not isinstance(p, Point) and not (f in spec.shared and f in c.inherited)
        )
        + len(spec.shared)
        + len(spec.convention_priors)
    )
    derived = 1 + len(spec.classes) + len(spec.convention.stages)
    return 8 * 3 * (stochastic + 2 * derived)  # float64, about three live copies; report quantities


def physical_memory() -> int | None:
    """This machine's memory in bytes (``None`` where the platform does not tell)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(spec: PriorSpec, num_samples: int) -> None:
    """Refuse, before any work, a run whose draws would not fit in this machine's memory."""
    check_fits(num_samples, bytes_per_draw(spec), f"'{spec.name}'")


def check_fits(num_samples: int, per_draw: int, what: str, hint: str = "") -> None:
    """Refuse (an :class:`InputError` on ``--samples``, one line) ``num_samples`` draws of ``what`` at
    ``per_draw`` bytes each when they need more than 80% of this machine's memory; the message gives the
    largest count that fits (and ``hint``, another way out)."""
    have = physical_memory()
    need = num_samples * per_draw
    if have is None or need <= 0.8 * have:
        return
    problem = (
        f"{num_samples:g} draws of {what} need about {need / 2**30:.1f} GiB; this machine has "
        f"{have / 2**30:.1f} GiB (at most about {int(0.8 * have / per_draw):.2g} draws{hint})"
    )
    raise InputError("--samples", None, problem)


def _run_shape(spec: PriorSpec, num_samples: int, seed: int, chunk_size: int | None, precision: str) -> tuple[int, int]:
    """A run's chunk size and number of chunks, after checking its arguments (the precision against the
    spec's values: :func:`check_precision`). A run shorter than a chunk is one chunk of the blocks it needs."""
    if num_samples < 1:
        raise ValueError(f"num_samples must be >= 1, got {num_samples}")
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed must lie in [0, 2**32), got {seed}")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if -(-num_samples // BLOCK_SIZE) > 2**32:
        raise ValueError(f"num_samples must be at most {BLOCK_SIZE * 2**32:g}, got {num_samples:g}")
    chunk = chunk_of(spec, num_samples, chunk_size)
    check_precision(spec, precision)
    return chunk, -(-num_samples // chunk)


def chunk_of(spec: PriorSpec, num_samples: int, chunk_size: int | None = None) -> int:
    """The chunk a run of ``num_samples`` draws uses: ``chunk_size`` (a multiple of ``BLOCK_SIZE``; by
    default :func:`default_chunk_size`), or the blocks it needs when that is fewer."""
    chunk_size = default_chunk_size(spec) if chunk_size is None else chunk_size
    if chunk_size < 1 or chunk_size % BLOCK_SIZE:
        raise ValueError(f"chunk_size must be a positive multiple of {BLOCK_SIZE}, got {chunk_size}")
    return min(chunk_size, -(-num_samples // BLOCK_SIZE) * BLOCK_SIZE)


def draw_chunk(
    spec: PriorSpec,
    num_samples: int,
    seed: int,
    index: int,
    *,
    chunk_size: int | None = None,
    precision: str = "float64",
) -> dict[str, jax.Array]:
    """Chunk ``index`` of a run, alone (device arrays of the full chunk size), as :func:`draw_chunks` draws it."""
    chunk, _ = _run_shape(spec, num_samples, seed, chunk_size, precision)
    with jax.enable_x64(precision == "float64"):
        return _compiled_draw(spec, chunk, precision == "float64")(jax.random.key(seed), np.uint32(index))


def draw_chunks(
    spec: PriorSpec,
    num_samples: int,
    seed: int = 0,
    *,
    chunk_size: int | None = None,
    precision: str = "float64",
    progress: bool = False,
    processes: tuple[int, int] = (0, 1),
) -> Iterator[tuple[int, int, dict[str, jax.Array]]]:
    """The run's chunks as ``(start, take, draws)``: device arrays of the full chunk size, of which the
    first ``take`` belong to the run (the last chunk is cut). The next chunk is dispatched before a
    chunk is handed out, so the device draws it while the caller fetches or reduces this one.
    Runs inside ``jax.enable_x64`` of the precision; a progress bar with ETA when ``progress``.
    ``chunk_size``: a multiple of ``BLOCK_SIZE``, by default :func:`default_chunk_size`.

    ``processes = (p, P)``: only chunks ``p, p + P, p + 2P, ...`` (process ``p`` of ``P`` in a
    multi-process run); a chunk's draws depend on its index, not on who draws it."""
    chunk, num_chunks = _run_shape(spec, num_samples, seed, chunk_size, precision)
    first, step = processes
    mine = range(first, num_chunks, step)
    cut = chunk * num_chunks - num_samples  # rows of the last chunk past the run's end
    total = len(mine) * chunk - (cut if len(mine) and mine[-1] == num_chunks - 1 else 0)
    with jax.enable_x64(precision == "float64"):
        draw = _compiled_draw(spec, chunk, precision == "float64")
        root = jax.random.key(seed)
        with tqdm(total=total, unit="draw", unit_scale=True, disable=not progress, leave=False) as bar:
            pending = draw(root, np.uint32(mine[0])) if len(mine) else None
            for j, i in enumerate(mine):
                current = pending
                if j + 1 < len(mine):
                    pending = draw(root, np.uint32(mine[j + 1]))  # asynchronous: runs while the caller works
                start = i * chunk
                take = min(chunk, num_samples - start)
                yield start, take, current
                bar.update(take)


def sample_brain(
    spec: PriorSpec,
    num_samples: int,
    seed: int = 0,
    *,
    chunk_size: int | None = None,
    precision: str = "float64",
    progress: bool = False,
) -> dict[str, np.ndarray]:
    """Draw ``num_samples`` joint prior samples and their log10 FLOP/s.

    Returns NumPy arrays by site name, each with a leading draw axis. ``precision``
    is the floating-point type of the computation ("float64" or "float32").
    """
    out: dict[str, np.ndarray] = {}
    for start, take, chunk in draw_chunks(
        spec, num_samples, seed, chunk_size=chunk_size, precision=precision, progress=progress
    ):
        for name, value in chunk.items():
            if name not in out:
                out[name] = np.empty((num_samples, *value.shape[1:]), dtype=value.dtype)
            out[name][start : start + take] = np.asarray(value)[:take]
    _check_expressions(spec, out)
    total = out["log10_brain_flops"]
    check_magnitude(spec, float(np.max(total)), float(np.min(total)), len(total))
    return out


def nonfinite_error(spec: PriorSpec, index: int, bad: int, total: int) -> PriorError:
    """The error of a class whose FLOP/s is not a positive finite number in ``bad`` of ``total`` draws."""
    c = spec.classes[index]
    if c.method == "expression":
        return PriorError(
            spec.path,
            f"classes.{c.name}.flops_per_second",
            f"is not a positive finite number in {bad} of {total} draws",
        )
    problem = f"FLOP/s is not a positive finite number in {bad} of {total} draws (a factor is 0, or too large)"
    return PriorError(spec.path, f"classes.{c.name}", problem)


def _check_expressions(spec: PriorSpec, draws: dict[str, np.ndarray]) -> None:
    """Every class must give a positive, finite FLOP/s in every draw (an expression ``a - b`` may not; nor
    may an LNP class whose factors overflow even in log space or are 0)."""
    per_class = draws["log10_class_flops"]
    for i in range(len(spec.classes)):
        bad = ~np.isfinite(per_class[:, i])
        if bad.any():
            raise nonfinite_error(spec, i, int(bad.sum()), bad.size)


LOG10_FLOAT64_MAX = float(np.log10(np.finfo(np.float64).max))  # 308.25
LOG10_FLOAT64_TINY = float(np.log10(np.finfo(np.float64).tiny))  # -307.65


def check_magnitude(
    spec: PriorSpec, max_log10_flops: float, min_log10_flops: float | None = None, num_draws: int = 1
) -> None:
    """Stop a run whose brain FLOP/s leaves float64's range (2.2e-308 to 1.8e308; at the top, less the
    room a sum over ``num_draws`` draws needs): its log10 is fine, but the table's linear units (brain
    FLOP/s, its mean and sd) cannot hold it (inf, or 0)."""
    if max_log10_flops > LOG10_FLOAT64_MAX - math.log10(max(num_draws, 1)) - 1:
        problem = (
            f"brain FLOP/s reaches 1e{max_log10_flops:.0f}, beyond float64 (1.8e308) in linear units; "
            "check the magnitudes of the priors"
        )
        raise PriorError(spec.path, "classes", problem)
    if min_log10_flops is not None and min_log10_flops < LOG10_FLOAT64_TINY:
        problem = (
            f"brain FLOP/s falls to 1e{min_log10_flops:.0f}, below float64 (2.2e-308) in linear units; "
            "check the magnitudes of the priors"
        )
        raise PriorError(spec.path, "classes", problem)


_FLOAT32_MAX = float(np.finfo(np.float32).max)
_FLOAT32_TINY = float(np.finfo(np.float32).tiny)


def check_precision(spec: PriorSpec, precision: str) -> None:
    """Refuse, before any work, a fixed value or interval bound that ``precision`` cannot hold (float32:
    magnitudes from about 1.2e-38 to 3.4e38): it would become inf or 0 and every draw non-finite."""
    if precision != "float32":
        return

    def numbers(prior: Prior) -> list[float]:
        if isinstance(prior, Choice):
            return [x for comp in prior.components for x in numbers(comp)]
        names = ("value", "lo", "hi", "min", "max")
        return [float(getattr(prior, n)) for n in names if getattr(prior, n, None) is not None]

    fields = [(f"classes.{c.name}.{f}", p) for c in spec.classes for f, p in c.params.items()]
    fields += [(f"convention.{k}", p) for k, p in spec.convention_priors.items()]
    for key, prior in fields:
        for x in numbers(prior):
            if x != 0 and not _FLOAT32_TINY <= abs(x) <= _FLOAT32_MAX:
                problem = f"{x:g} does not fit in float32 (magnitudes 1.2e-38 to 3.4e+38); use --precision float64"
                raise PriorError(spec.path, key, problem)
