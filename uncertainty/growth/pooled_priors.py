"""The pooled growth priors shipped with the package, learned from the ``computing`` pool.

``uncertainty/data/pooled_priors.json`` holds, for every model with pooled sites
(:data:`uncertainty.growth.models.POOLED_SITES`), the population fit on the whole computing pool
(:func:`uncertainty.growth.pooled_hindcast.learn_priors`) and the prior each target gets: learned from
the computing technologies *other than the target's own series* (the TOP500 and HPCG leaders share
their machines, so both leave out both), so that a hindcast of a target is never scored with a prior
learned from its own data. A user CSV series gets the prior of the whole pool.

Rebuild the file (about a minute per model on 2 CPU cores) with::

    python -m uncertainty.growth.pooled_priors
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from functools import cache
from importlib import resources

import numpy as np

__all__ = ["LEAVE_OUT", "PRIORS_FILE", "build", "pooled_prior", "main"]

PRIORS_FILE = "pooled_priors.json"
_LEADERS = {"TOP500 #1 (HPL)", "HPCG #1"}
LEAVE_OUT: dict[str, set[str]] = {  # target -> the computing technologies its prior does not learn from
    "hpl": _LEADERS,
    "hpcg": _LEADERS,
    "budget": {"GPU price-performance"},
    "accelerator": {"ML accelerators"},
    "ai-cluster": {"AI supercomputers"},
}
WHOLE_POOL = "*"  # the fold of a series outside the pool (a user CSV)


@cache
def _shipped() -> dict:
    text = resources.files("uncertainty").joinpath("data", PRIORS_FILE).read_text(encoding="utf-8")
    return json.loads(text)


def pooled_prior(model: str, target: str) -> dict[str, np.ndarray]:
    """The shipped pooled prior of ``model`` for ``target`` (a key of :data:`LEAVE_OUT`, else the whole pool's),
    site -> ``(loc, scale)``. :class:`KeyError` for a model without pooled sites."""
    folds = _shipped()["models"][model]["priors"]
    return {site: np.asarray(v, dtype=np.float64) for site, v in folds.get(target, folds[WHOLE_POOL]).items()}


def build(models: tuple[str, ...], seed: int = 0, status=print) -> dict:
    """Learn the pooled priors of ``models`` from the computing pool (NUTS; see the module docstring)."""
    import jax

    from ..choices import GROWTH_MODELS
    from .pool import computing_pool
    from .pooled_hindcast import PoolOptions, learn_priors

    pool = computing_pool()
    options = PoolOptions(pool=("computing",), seed=seed)
    out = {
        "pool": "computing",
        "technologies": [t.name for t in pool],
        "leave_out": {k: sorted(v) for k, v in LEAVE_OUT.items()},
        "settings": {"seed": seed, "max_points": options.max_points, "nuts": list(options.settings())},
        "models": {},
    }
    for model in models:
        start = time.perf_counter()
        key = jax.random.fold_in(jax.random.key(seed), GROWTH_MODELS.index(model))
        priors, population = learn_priors(pool, model, options, key, {**LEAVE_OUT, WHOLE_POOL: set()})
        out["models"][model] = {
            "population": population,
            "priors": {fold: {s: [float(x) for x in v] for s, v in p.items()} for fold, p in priors.items()},
        }
        status(f"{model}: {time.perf_counter() - start:.0f} s, largest R-hat {population['max_rhat']:.3f}")
    return out


def main(argv: list[str] | None = None) -> int:
    from .models import POOLED_SITES

    parser = argparse.ArgumentParser(prog="python -m uncertainty.growth.pooled_priors", description=__doc__)
    parser.add_argument("--model", nargs="+", default=list(POOLED_SITES), choices=list(POOLED_SITES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(resources.files("uncertainty").joinpath("data", PRIORS_FILE)))
    args = parser.parse_args(argv)
    result = build(tuple(args.model), args.seed, status=lambda text: print(text, file=sys.stderr))
    folder = os.path.dirname(os.path.abspath(args.out))
    with tempfile.NamedTemporaryFile("w", dir=folder, delete=False, suffix=".tmp", encoding="utf-8") as f:
        try:
            json.dump(result, f, indent=1)
            f.write("\n")
            f.close()
            os.chmod(f.name, 0o644)
            os.replace(f.name, args.out)
        finally:
            if os.path.exists(f.name):
                os.unlink(f.name)
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
