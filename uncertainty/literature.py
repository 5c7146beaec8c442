"""Other published whole-brain estimates, in FLOP/s, for comparison (SPEC section 9)."""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["Estimate", "ESTIMATES"]


class Estimate(NamedTuple):
    label: str
    flops: float  # FLOP/s (or operations/s as published)
    source: str


ESTIMATES: tuple[Estimate, ...] = (
    Estimate(
        "Carlsmith 2020",
        1e15,
        "J. Carlsmith (2020), 'How much computational power does it take to match the human brain?'",
    ),
    Estimate("Merkle 1989", 1e16, "R. Merkle (1989), 'Energy limits to the computational power of the human brain'"),
    Estimate(
        "S&B spiking",
        1e18,
        "A. Sandberg & N. Bostrom (2008), 'Whole Brain Emulation: A Roadmap', spiking neural network level",
    ),
    Estimate("Dettmers 2015", 1.075e21, "T. Dettmers (2015), 'The Brain vs Deep Learning Part I'"),
    Estimate("S&B electrophys.", 1e22, "Sandberg & Bostrom (2008), electrophysiology level"),
    Estimate("S&B metabolome", 1e25, "Sandberg & Bostrom (2008), metabolome level"),
)
