"""NUTS for a batch of independent data sets in one compiled program.

A rolling-origin hindcast fits the same growth model to dozens of data sets
(the history up to each origin). Instead of compiling and running a sampler per
data set, every data set is padded to one shape (with a mask) and
:func:`run_nuts` vmaps NumPyro's functional NUTS kernel
(:func:`numpyro.infer.hmc.hmc` with ``potential_fn_gen``) over
``batch x chains`` lanes: each lane has its own step-size and mass-matrix
adaptation, as if it ran alone, and one XLA program serves the whole batch.
A single fit (the ``crossover`` command) is a batch of one. The steps (warm-up,
then draws) run as :data:`SEGMENTS` calls of one compiled segment program, so a fit
reports its progress between calls.

The compiled programs are cached per (model, shapes, settings), so a second
call with new data of the same shape does not compile again.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from numpyro import handlers
from numpyro.infer.hmc import hmc
from numpyro.infer.initialization import init_to_median
from numpyro.infer.util import constrain_fn, potential_energy, unconstrain_fn

__all__ = [
    "NutsSettings",
    "NutsResult",
    "Progress",
    "Status",
    "compile_nuts",
    "progress_lines",
    "run_nuts",
    "rhat",
    "step",
    "steps_text",
]

Status = Callable[[str], None]  # takes one status line (the CLI prints it on stderr)


class NutsSettings(NamedTuple):
    """Sampler settings (static: a change compiles a new program)."""

    num_warmup: int = 500
    num_samples: int = 500
    num_chains: int = 4
    target_accept_prob: float = 0.9
    max_tree_depth: int = 8


def steps_text(s: NutsSettings) -> str:
    """``4 chains x 2,000 steps`` (warm-up and draws) of one fit."""
    return f"{s.num_chains} chains x {s.num_warmup + s.num_samples:,} steps"


@contextmanager
def step(status: Status | None, text: str) -> Iterator[None]:
    """Report a long step to ``status``: ``TEXT ...`` before it and ``TEXT: done in S s`` after
    (nothing when ``status`` is None)."""
    if status is None:
        yield
        return
    status(f"{text} ...")
    start = time.perf_counter()
    yield
    status(f"{text}: done in {time.perf_counter() - start:.1f} s")


class NutsResult(NamedTuple):
    """Constrained draws ``samples[name]`` of shape ``(batch, chain, draw, ...)``, with NUTS statistics."""

    samples: dict[str, np.ndarray]
    diverging: np.ndarray  # (batch, chain, draw) bool
    accept_prob: np.ndarray  # (batch, chain, draw)
    num_steps: np.ndarray  # (batch, chain, draw) leapfrog steps

    def divergences(self) -> np.ndarray:
        """Divergent transitions per data set, shape ``(batch,)``."""
        return self.diverging.sum(axis=(1, 2))


def _init_params(model: Callable, key: Array, data: Any) -> dict[str, Array]:
    """Unconstrained start of one chain: the median of 15 prior draws of each site (random per key)."""
    seeded = handlers.substitute(handlers.seed(model, key), substitute_fn=partial(init_to_median, num_samples=15))
    trace = handlers.trace(seeded).get_trace(data)
    values = {
        name: site["value"]
        for name, site in trace.items()
        if site["type"] == "sample" and not site["is_observed"] and not site["infer"].get("is_auxiliary")
    }
    return unconstrain_fn(model, (data,), {}, values)


SEGMENTS = 8  # a fit runs as this many calls of one compiled program: progress is reported between them

_COMPILED: dict[tuple, tuple[Callable, Callable, Callable]] = {}


def _programs(model: Callable, settings: NutsSettings) -> tuple[Callable, Callable, Callable]:
    """The three jitted programs of a fit: its start, one segment of its steps, its constrained draws."""
    key = (model, settings)
    if key not in _COMPILED:
        _COMPILED[key] = (
            jax.jit(partial(_start, model, settings)),
            jax.jit(partial(_segment, model, settings)),
            jax.jit(partial(_finish, model, settings)),
        )
    return _COMPILED[key]


def _lanes(s: NutsSettings, data: Any) -> Any:
    return jax.tree_util.tree_map(lambda x: jnp.repeat(x, s.num_chains, axis=0), data)


def _kernels(model: Callable, s: NutsSettings) -> tuple[Callable, Callable]:
    """NumPyro's NUTS kernels: ``init(z, data, key)`` with the settings ``s``, and ``sample(state, data)``.
    The sample kernel takes its settings from an init call in the same trace."""

    def potential_gen(d):
        return partial(potential_energy, model, (d,), {})

    init_kernel, sample_kernel = hmc(potential_fn_gen=potential_gen, algo="NUTS")

    def init(z, d, key):
        return init_kernel(
            z,
            s.num_warmup,
            target_accept_prob=s.target_accept_prob,
            max_tree_depth=s.max_tree_depth,
            model_args=(d,),
            rng_key=key,
        )

    return init, lambda st, d: sample_kernel(st, model_args=(d,))


def _start(model: Callable, s: NutsSettings, key: Array, data: Any, init: dict[str, Array] | None = None):
    """Each lane's (data set x chain) initial NUTS state."""
    batch = jax.tree_util.tree_leaves(data)[0].shape[0]
    lanes = batch * s.num_chains
    keys = jax.random.split(key, (lanes, 2))
    lane_init = None if init is None else jax.tree_util.tree_map(lambda x: x.reshape(lanes, *x.shape[2:]), init)
    init, _ = _kernels(model, s)

    def init_one(k, d, z0):
        return init(_init_params(model, k[0], d) if z0 is None else z0, d, k[1])

    return jax.vmap(init_one)(keys, _lanes(s, data), lane_init)


def segment_length(s: NutsSettings) -> int:
    """Steps per segment: the warm-up and the draws in :data:`SEGMENTS` calls (the last may be short)."""
    return -(-(s.num_warmup + s.num_samples) // SEGMENTS)


def _segment(model: Callable, s: NutsSettings, state, data: Any, first: Array):
    """Steps ``first`` to ``first + segment_length - 1`` of every lane (those past the last step are skipped)."""
    init, sample = _kernels(model, s)
    lane_data = _lanes(s, data)
    jax.vmap(init)(state.z, lane_data, state.rng_key)  # configures the sample kernel; its value is compiled away
    step = jax.vmap(sample)
    total = s.num_warmup + s.num_samples

    def advance(st, i):  # adapts while st.i < num_warmup (NumPyro's kernel), then samples
        st = jax.lax.cond(first + i < total, lambda x: step(x, lane_data), lambda x: x, st)
        return st, (st.z, st.diverging, st.accept_prob, st.num_steps)

    return jax.lax.scan(advance, state, jnp.arange(segment_length(s)))


def _finish(model: Callable, s: NutsSettings, visited, data: Any):
    """The draws ``(draw, lane, ...)`` constrained, with deterministic sites, as ``(batch, chain, draw, ...)``."""
    batch = jax.tree_util.tree_leaves(data)[0].shape[0]
    z, diverging, accept, steps = visited
    constrain = jax.vmap(
        jax.vmap(lambda zz, d: constrain_fn(model, (d,), {}, zz, return_deterministic=True)), (0, None)
    )
    values = constrain(z, _lanes(s, data))

    def to_batch(x):  # (draw, lane, ...) -> (batch, chain, draw, ...)
        x = jnp.moveaxis(x, 0, 1)
        return x.reshape(batch, s.num_chains, *x.shape[1:])

    return jax.tree_util.tree_map(to_batch, (values, diverging, accept, steps))


Progress = Callable[[int, int], None]  # takes (steps done, steps in all) of a fit


def progress_lines(status: Status | None, text: str) -> Progress | None:
    """A :data:`Progress` that gives ``status`` a line at each quarter of a fit's steps:
    ``TEXT: 50% (1,750 of 3,500 steps) ...``."""
    if status is None:
        return None
    said = set()

    def report(done: int, total: int) -> None:
        quarter = 4 * done // total
        if 0 < quarter < 4 and quarter not in said:
            said.add(quarter)
            status(f"{text}: {25 * quarter}% ({done:,} of {total:,} steps) ...")

    return report


def run_nuts(
    key: Array,
    model: Callable,
    data: Any,
    settings: NutsSettings | None = None,
    init: dict[str, Array] | None = None,
    progress: Progress | None = None,
) -> NutsResult:
    """Run NUTS on ``model(data_b)`` for every data set ``b`` of the batched pytree ``data``.

    ``data`` holds arrays with a leading batch axis; ``model`` takes one data set
    (the arrays without that axis) and must not branch on its values. Runs in
    float64 (the caller enables x64). Observed sites should be masked where the
    data are padding. ``init``: the chains' starting points in unconstrained space, arrays
    of shape ``(batch, chain, ...)`` by site; by default each chain starts at the median of
    15 prior draws. ``progress(done, total)`` is called after each of the :data:`SEGMENTS` calls
    of the compiled segment (steps of warm-up and draws).
    """
    return compile_nuts(key, model, data, settings, init)(progress)


def compile_nuts(
    key: Array,
    model: Callable,
    data: Any,
    settings: NutsSettings | None = None,
    init: dict[str, Array] | None = None,
) -> Callable[[Progress | None], NutsResult]:
    """:func:`run_nuts` in two steps: this traces and compiles the programs (in the calling thread: NumPyro's
    handlers are not thread-safe) and returns a function of ``progress`` that runs them, which may be called
    from any thread (several fits then run side by side, one per core)."""
    s = settings or NutsSettings()
    run_start, run_segment, constrained = _executables(model, s, key, data, init)
    state = run_start(key, data, init)
    length = segment_length(s)
    total = s.num_warmup + s.num_samples
    x64 = bool(jax.config.jax_enable_x64)  # thread-local: a worker thread would read NumPy float64 as float32

    def run(progress: Progress | None = None) -> NutsResult:
        with jax.enable_x64(x64):
            return _run(progress)

    def _run(progress: Progress | None) -> NutsResult:
        # Only the compiled programs run here, on NumPy arrays between them: nothing is traced or compiled
        # in this thread (XLA compiling in two threads at once has aborted the process).
        st, kept = state, []
        for i in range(SEGMENTS):
            lo = i * length
            if lo >= total:
                break
            st, visited = run_segment(st, data, np.asarray(lo, np.int32))
            visited = jax.device_get(visited)  # the segment has run (not only been dispatched) before it is reported
            keep = slice(max(s.num_warmup - lo, 0), min(total - lo, length))
            if keep.start < keep.stop:
                kept.append(jax.tree_util.tree_map(lambda x, keep=keep: x[keep], visited))
            if progress is not None:
                progress(min(lo + length, total), total)
        draws = jax.tree_util.tree_map(lambda *parts: np.concatenate(parts), *kept)
        values, diverging, accept, steps = constrained(draws, data)
        return NutsResult(
            samples={k: np.asarray(v) for k, v in values.items()},
            diverging=np.asarray(diverging),
            accept_prob=np.asarray(accept),
            num_steps=np.asarray(steps),
        )

    return run


_EXECUTABLES: dict[tuple, tuple[Callable, Callable, Callable]] = {}


def _executables(model: Callable, s: NutsSettings, key: Array, data: Any, init) -> tuple[Callable, Callable, Callable]:
    """The compiled start, segment and finish programs for these shapes (traced once per process: another fit
    of the same model, settings and shapes, e.g. another group of chains, reuses them)."""
    shapes = jax.tree_util.tree_map(lambda x: (jnp.shape(x), jnp.result_type(x)), (data, init))
    ident = (model, s, jax.tree_util.tree_structure((data, init)), str(jax.tree_util.tree_leaves(shapes)))
    if ident not in _EXECUTABLES:
        start, segment, finish = _programs(model, s)
        lowered = start.lower(key, data, init)
        run_start, state = lowered.compile(), lowered.out_info
        run_segment = segment.lower(state, data, jnp.asarray(0, jnp.int32)).compile()
        sampled = jax.eval_shape(
            lambda st: _draws_of(st, s.num_samples), (state.z, state.diverging, state.accept_prob, state.num_steps)
        )
        _EXECUTABLES[ident] = (run_start, run_segment, finish.lower(sampled, data).compile())
    return _EXECUTABLES[ident]


def _draws_of(visited_one, num_samples: int):
    """The shapes of the kept draws: one step's values repeated ``num_samples`` times."""
    return jax.tree_util.tree_map(lambda x: jnp.broadcast_to(x, (num_samples, *x.shape)), visited_one)


def rhat(x: np.ndarray) -> np.ndarray:
    """ArviZ's rank-normalised split R-hat over ``(chain, draw)`` = the last two axes, for each leading index."""
    from .._arviz import az

    flat = np.asarray(x, dtype=np.float64).reshape(-1, *x.shape[-2:])

    def one(v: np.ndarray) -> float:
        with np.errstate(divide="ignore", invalid="ignore"):  # a chain that never moved: no variance within
            r = float(az.rhat(v))
        if math.isnan(r):  # every draw equal: nothing to mix (1); chains stuck at different values: not mixed
            return 1.0 if np.ptp(v) == 0 else math.inf
        return r

    return np.array([one(v) for v in flat]).reshape(x.shape[:-2])
