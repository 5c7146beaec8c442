"""The public API answers as the command line does: a file with [evidence] gives its posterior."""

import numpy as np
import pytest

import uncertainty as u

from conftest import PRIORS


@pytest.mark.slow
def test_sample_run_of_a_file_with_evidence_is_its_posterior():
    spec = u.load_priors(PRIORS / "default-evidence.toml")
    run = u.sample_run(spec, 5000, seed=0)
    assert {"prior", "posterior", "observed_data"} <= set(run.groups())
    prior = np.median(run.prior["log10_brain_flops"].values)
    posterior = np.median(run.posterior["log10_brain_flops"].values)
    assert abs(posterior - prior) > 0.5  # the energy budget moves the median by more than half a decade
    sections = u.report_sections(run)
    assert sections[0].title == "brain FLOP/s (posterior)"
    assert sections[0].table.loc["log10 brain FLOP/s", "median"] == np.median(run.posterior["log10_brain_flops"])
    assert u.evidence_warning(run) is None and u.evidence_tables(run) is not None


def test_sample_run_without_evidence_is_the_prior():
    spec = u.load_priors(PRIORS / "default.toml")
    run = u.sample_run(spec, 2000, seed=3)
    assert set(run.groups()) >= {"prior"} and "posterior" not in run.groups()
    draws = u.sample_brain(spec, 2000, seed=3)
    np.testing.assert_array_equal(run.prior["log10_brain_flops"].values[0], draws["log10_brain_flops"])
    assert u.evidence_warning(run) is None


def test_the_type_checking_imports_are_the_exports():
    """`uncertainty/__init__.py` names each public name twice (the lazy map, and eager imports for type
    checkers): both say the same thing."""
    import ast
    from pathlib import Path

    tree = ast.parse(Path(u.__file__).read_text())
    guard = next(n for n in tree.body if isinstance(n, ast.If) and getattr(n.test, "id", "") == "TYPE_CHECKING")
    eager = {a.asname: "." * n.level + n.module for n in guard.body for a in n.names}
    assert eager == u._EXPORTS
