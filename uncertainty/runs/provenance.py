"""Provenance of a run: what produced it (prior file, seed, versions, devices), as attributes every saved
run carries. Light: no ArviZ or xarray, so a streamed run records its provenance without importing them."""

from __future__ import annotations

import datetime as _dt
import os
from typing import Any

from ..brain.priors import PriorSpec

__all__ = ["run_attrs", "storable"]


def storable(text: str) -> str:
    """``text`` as valid UTF-8 (netCDF attributes must be): bytes of a file name that were not UTF-8
    (held as surrogates by Python) become ``\\xff`` escapes."""
    return os.fsencode(text).decode("utf-8", "backslashreplace") if isinstance(text, str) else text


def run_attrs(spec: PriorSpec, *, seed: int, num_samples: int, **extra: Any) -> dict[str, Any]:
    """Provenance attributes of a run."""
    from importlib.metadata import version

    import jax

    from .._version import __version__

    attrs = {
        "created_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "uncertainty_version": __version__,
        "jax_version": jax.__version__,
        "numpyro_version": version("numpyro"),  # without importing NumPyro (warm runs never do)
        "devices": ", ".join(str(d) for d in jax.devices()),
        "prior_file": storable(spec.path),
        "prior_name": storable(spec.name),
        "prior_text": spec.text,
        "seed": int(seed),
        "num_samples": int(num_samples),
    }
    attrs.update({k: v for k, v in extra.items() if v is not None})
    return attrs
