"""A run of a prior file in one call: draws, the posterior when the file has ``[evidence]``, packaged as
ArviZ ``InferenceData`` with its provenance. What ``uncertainty sample --keep-draws`` does, for Python."""

from __future__ import annotations

from typing import Any

from ..brain.engine import sample_brain
from ..brain.evidence import condition, diagnosis_of, reliable_nuts, reliable_weights
from ..brain.priors import PriorSpec
from .io import brain_inference_data, run_attrs

__all__ = ["sample_run", "evidence_warning"]


def sample_run(
    spec: PriorSpec,
    num_samples: int,
    seed: int = 0,
    *,
    inference: str = "auto",
    keep_parameters: bool = True,
    attrs: dict[str, Any] | None = None,
    **draw_options: Any,
):
    """``num_samples`` draws of ``spec`` (seeded) as ``InferenceData``: the prior draws in ``prior``, and
    for a file with ``[evidence]`` the posterior (``inference``: ``auto``, ``psis`` or ``nuts``) in
    ``posterior`` with the evidence checks (:func:`evidence_warning` says when it is not to be trusted).
    ``draw_options`` go to :func:`uncertainty.brain.engine.sample_brain` (``chunk_size``, ``precision``,
    ``progress``); ``attrs`` replaces the default provenance attributes."""
    draws = sample_brain(spec, num_samples, seed, **draw_options)
    conditioned = condition(spec, draws, seed, inference=inference) if spec.evidence else None
    if attrs is None:
        attrs = run_attrs(spec, seed=seed, num_samples=num_samples)
    return brain_inference_data(draws, spec, attrs, keep_parameters=keep_parameters, conditioned=conditioned)


def evidence_warning(idata) -> str | None:
    """The diagnosis of a run's posterior when it is not to be trusted (Pareto k-hat or ESS of the weights,
    or R-hat/ESS of NUTS); ``None`` for a reliable posterior or a run without ``[evidence]``."""
    if "posterior" not in idata.groups() or "pareto_k" not in idata.posterior.attrs:
        return None
    attrs = idata.posterior.attrs
    if attrs.get("inference") == "NUTS":
        ok = reliable_nuts(float(attrs["max_rhat"]), float(attrs["ess_bulk"]))
    else:
        ok = reliable_weights(float(attrs["pareto_k"]), float(attrs["ess_importance"]))
    return None if ok else diagnosis_of(attrs)
