"""NUTS for a batch of independent data sets in one compiled program.

A rolling-origin hindcast fits the same growth model to dozens of data sets
(the history up to each origin). Instead of compiling and running a sampler per
data set, every data set is padded to one shape (with a mask) and
:func:`run_nuts` vmaps NumPyro's functional NUTS kernel
(:func:`numpyro.infer.hmc.hmc` with ``potential_fn_gen``) over
``batch x chains`` lanes: each lane has its own step-size and mass-matrix
adaptation, as if it ran alone, and one XLA program serves the whole batch.
A single fit (the ``crossover`` command) is a batch of one.

The compiled program is cached per (model, shapes, settings), so a second
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

__all__ = ["NutsSettings", "NutsResult", "Status", "compile_nuts", "run_nuts", "rhat", "step", "steps_text"]

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


_COMPILED: dict[tuple, Callable] = {}


def _program(model: Callable, settings: NutsSettings) -> Callable:
    key = (model, settings)
    if key not in _COMPILED:
        _COMPILED[key] = jax.jit(partial(_run, model, settings))
    return _COMPILED[key]


def _run(model: Callable, s: NutsSettings, key: Array, data: Any, init: dict[str, Array] | None = None):
    batch = jax.tree_util.tree_leaves(data)[0].shape[0]
    lanes = batch * s.num_chains
    lane_data = jax.tree_util.tree_map(lambda x: jnp.repeat(x, s.num_chains, axis=0), data)
    keys = jax.random.split(key, (lanes, 2))
    lane_init = None if init is None else jax.tree_util.tree_map(lambda x: x.reshape(lanes, *x.shape[2:]), init)

    def potential_gen(d):
        return partial(potential_energy, model, (d,), {})

    init_kernel, sample_kernel = hmc(potential_fn_gen=potential_gen, algo="NUTS")

    def init_one(k, d, z0):
        z = _init_params(model, k[0], d) if z0 is None else z0
        return init_kernel(
            z,
            s.num_warmup,
            target_accept_prob=s.target_accept_prob,
            max_tree_depth=s.max_tree_depth,
            model_args=(d,),
            rng_key=k[1],
        )

    state = jax.vmap(init_one)(keys, lane_data, lane_init)
    step = jax.vmap(lambda st, d: sample_kernel(st, model_args=(d,)))

    def advance(st, _):
        st = step(st, lane_data)  # adapts while st.i < num_warmup (NumPyro's kernel), then samples
        return st, (st.z, st.diverging, st.accept_prob, st.num_steps)

    # one scan over warm-up and draws: the NUTS kernel is traced and compiled once, not twice
    _, visited = jax.lax.scan(advance, state, None, length=s.num_warmup + s.num_samples)
    z, diverging, accept, steps = jax.tree_util.tree_map(lambda x: x[s.num_warmup :], visited)
    # z: (draw, lane, ...) -> constrained values, with deterministic sites
    constrain = jax.vmap(
        jax.vmap(lambda zz, d: constrain_fn(model, (d,), {}, zz, return_deterministic=True)), (0, None)
    )
    values = constrain(z, lane_data)

    def to_batch(x):  # (draw, lane, ...) -> (batch, chain, draw, ...)
        x = jnp.moveaxis(x, 0, 1)
        return x.reshape(batch, s.num_chains, *x.shape[1:])

    return jax.tree_util.tree_map(to_batch, (values, diverging, accept, steps))


def run_nuts(
    key: Array,
    model: Callable,
    data: Any,
    settings: NutsSettings | None = None,
    init: dict[str, Array] | None = None,
) -> NutsResult:
    """Run NUTS on ``model(data_b)`` for every data set ``b`` of the batched pytree ``data``.

    ``data`` holds arrays with a leading batch axis; ``model`` takes one data set
    (the arrays without that axis) and must not branch on its values. Runs in
    float64 (the caller enables x64). Observed sites should be masked where the
    data are padding. ``init``: the chains' starting points in unconstrained space, arrays
    of shape ``(batch, chain, ...)`` by site; by default each chain starts at the median of
    15 prior draws.
    """
    return compile_nuts(key, model, data, settings, init)()


def compile_nuts(
    key: Array,
    model: Callable,
    data: Any,
    settings: NutsSettings | None = None,
    init: dict[str, Array] | None = None,
) -> Callable[[], NutsResult]:
    """:func:`run_nuts` in two steps: this traces and compiles the program (in the calling thread: NumPyro's
    handlers are not thread-safe) and returns a function that runs it, which may be called from any thread
    (several fits then run side by side, one per core)."""
    compiled = _program(model, settings or NutsSettings()).lower(key, data, init).compile()

    def run() -> NutsResult:
        values, diverging, accept, steps = compiled(key, data, init)
        samples = {k: np.asarray(v) for k, v in values.items()}
        return NutsResult(
            samples=samples,
            diverging=np.asarray(diverging),
            accept_prob=np.asarray(accept),
            num_steps=np.asarray(steps),
        )

    return run


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
