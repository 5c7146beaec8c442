"""Test setup: JAX pinned to the CPU before it is imported; shared fixtures."""

import os

os.environ["JAX_PLATFORMS"] = "cpu"
os.environ["UNCERTAINTY_NO_CACHE"] = "1"  # no test writes a compilation cache into the user's home

import textwrap  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from uncertainty.brain.priors import parse_priors  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PRIORS = ROOT / "priors"


@pytest.fixture
def fit_cache(tmp_path, monkeypatch):
    """The growth-fit cache on, in this test's own folder (the suite runs with ``UNCERTAINTY_NO_CACHE``): a test
    that runs two commands on one fit fits it once. JAX's compilation cache stays off."""
    from uncertainty import warmstart

    folder = tmp_path / "fits"
    folder.mkdir()
    monkeypatch.setattr(warmstart, "_FITS", folder)
    return folder


def readings_text(count: str = "1e10", step_weight: int = 1) -> str:
    """A one-class prior file with the two readings of the LNP update rate as scenarios: ``per_spike`` (the
    update rate is the firing rate, weight 1) and ``per_step`` (its own prior, 50-1000 Hz, ``step_weight``);
    the firing rate lognormal 0.1-10 Hz. Its tests add an evidence item that reads ``firing_rate``."""
    return f"""\
[defaults]
shared = ["rate", "firing_rate"]
rate = {{ lognormal = [50, 1000] }}
firing_rate = {{ lognormal = [0.1, 10] }}
time_steps = 3
filter_steps = 3
soma_steps = 3
synapses = 1000
outputs = 100
branches = 3
dendrites = 4

[classes.cell]
count = {count}

[scenarios]
per_spike = {{ weight = 1, "defaults.rate" = {{ same_as = "firing_rate" }} }}
per_step = {{ weight = {step_weight} }}
"""


def one_class_text(**fields: str) -> str:
    """A valid one-class prior file; keyword arguments replace field values (TOML text)."""
    values = {
        "count": "1e9",
        "rate": "10",
        "synapses": "1000",
        "time_steps": "5",
        "branches": "3",
        "dendrites": "4",
        "filter_steps": "5",
        "soma_steps": "5",
        "outputs": "100",
    }
    values.update(fields)
    body = "\n".join(f"{k} = {v}" for k, v in values.items())
    return "[classes.cell]\n" + body + "\n"


@pytest.fixture
def tiny_spec():
    """Two classes, a few stochastic fields, all five stages."""
    return parse_priors(
        textwrap.dedent(
            """
            [defaults]
            rate = { choice = [{ lognormal = [50, 1000] }, { lognormal = [0.1, 2] }] }
            synapses = 1000
            time_steps = { uniform = [2.4, 6] }
            branches = 3
            dendrites = { lognormal = [3, 30] }
            filter_steps = 5
            soma_steps = 5
            outputs = 1000
            [classes.a]
            count = { lognormal = [1e9, 2e9] }
            [classes.b]
            count = 1e8
            synapses = { loguniform = [1e4, 1e5] }
            """
        ),
        "tiny.toml",
    )
