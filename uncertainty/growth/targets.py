"""Compute targets of the crossover: what the brain's FLOP/s is compared with.

A target is a history (the growth models fit it and simulate its future) and a rule that turns the
history's value into practical FLOP/s:
- ``hpcg``: the HPCG leader, modelled as the TOP500 trend times the measured HPCG/HPL ratio (64-bit);
- ``hpl``: the TOP500 leader's HPL Rmax (64-bit, measured);
- ``ai-cluster``: the largest AI supercomputer's 16-bit peak OP/s times a practical fraction;
- ``accelerator``: the fastest ML accelerator chip's 16-bit peak OP/s times a practical fraction;
- ``budget``: the best 32-bit peak FLOP/s per dollar times a budget in dollars, times a practical fraction.

The fraction and the budget are priors of the prior file's ``[target]`` table (defaults below), drawn
once per joint draw: the practical value is ``peak x fraction (x budget)``, so the brain is reached when
``log2 peak >= log2 brain - log2 fraction (- log2 budget)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..choices import TARGET_NAMES

__all__ = ["Target", "TARGETS", "TARGET_NAMES", "DEFAULT_FRACTION", "DEFAULT_BUDGET_USD", "FRACTION_SOURCES"]


@dataclass(frozen=True)
class Target:
    """One compute target: what its history counts and where the history comes from."""

    name: str
    what: str  # the record or leader the history follows
    quantity: str  # unit and precision of the history's values
    source: str  # the dataset, with its licence
    peak: bool  # values are peak rates: the practical fraction applies
    per_dollar: bool = False  # values are per US dollar: the budget applies

    @property
    def counts(self) -> str:
        """What the practical value of the target counts, in words."""
        if self.per_dollar:
            return f"{self.quantity} x budget (USD) x practical fraction"
        return f"{self.quantity} x practical fraction" if self.peak else self.quantity


_EPOCH = "Epoch AI (CC BY 4.0)"
TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target(
            "hpcg",
            "the HPCG leader (the TOP500 leader's trend times the HPCG/HPL ratio)",
            "FLOP/s (64-bit, HPCG)",
            "hpcg-benchmark.org and top500.org lists",
            peak=False,
        ),
        Target("hpl", "the TOP500 leader", "FLOP/s (64-bit, HPL Rmax)", "top500.org lists", peak=False),
        Target(
            "ai-cluster",
            "the largest AI supercomputer in operation (single cluster, confirmed or likely, Epoch's standard set)",
            "OP/s (16-bit peak)",
            f"{_EPOCH}, Data on AI Supercomputers",
            peak=True,
        ),
        Target(
            "accelerator",
            "the fastest ML accelerator chip at its release",
            "OP/s (16-bit tensor peak, one chip)",
            f"{_EPOCH}, Machine Learning Hardware",
            peak=True,
        ),
        Target(
            "budget",
            "the best price-performance at release (GPUs, then priced ML chips)",
            "FLOP/s per USD (32-bit peak)",
            f"{_EPOCH}, Trends in GPU price-performance (Apache-2.0) and Machine Learning Hardware",
            peak=True,
            per_dollar=True,
        ),
    )
}
assert tuple(TARGETS) == TARGET_NAMES  # the names the command line offers (uncertainty.choices)

# The practical fraction of peak: model FLOP utilisation (MFU) of large training runs on 16-bit tensor
# peak: a lognormal with this 90% interval (draws capped at 1).
DEFAULT_FRACTION = (0.2, 0.5)
FRACTION_SOURCES = (
    "Chowdhery et al. 2022 (PaLM), table 3: MFU 46.2% (PaLM 540B), 32.5% (Gopher), 30.2% (MT-NLG), 21.3% (GPT-3)",
    "Dubey et al. 2024 (The Llama 3 Herd of Models), table 4: 38-43% BF16 MFU on 8,192-16,384 H100s",
)
# The budget of the `budget` target when the prior file gives none: a lognormal with this 90% interval,
# one million to one billion US dollars of hardware.
DEFAULT_BUDGET_USD = (1e6, 1e9)
