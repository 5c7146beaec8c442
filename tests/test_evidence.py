"""[evidence]: PSIS conditioning of the prior draws, against a closed-form posterior; bad evidence."""

from __future__ import annotations

import math

import numpy as np
import pytest

from uncertainty.brain.engine import sample_brain
from uncertainty.brain.evidence import condition, reliable
from uncertainty.brain.priors import parse_priors
from uncertainty.cli import main
from uncertainty.errors import PriorError

Z90 = 1.6448536269514722
PRODUCT = """\
[classes.syn]
method = "expression"
flops_per_second = "a * b"
a = { lognormal = [1e14, 1e15] }
b = { lognormal = [1, 100] }
"""


def _evidence(quantity: str, observed: str, name: str = "product") -> str:
    return f'[evidence.{name}]\nquantity = "{quantity}"\nobserved = {observed}\nsource = "test"\n'


def test_conjugate_lognormal_evidence_on_a_product():
    """log10(a b) ~ Normal(15.5, v0) a priori; a lognormal measurement of a b with 90% interval
    [1e15, 1e16] is a Gaussian likelihood of log10(a b) with mean 15.5 and sd 0.5 / 1.645: the posterior
    is normal with precision 1/v0 + 1/s2 (closed form), matched within Monte Carlo error."""
    spec = parse_priors(PRODUCT + _evidence("sum(a * b)", "{ lognormal = [1e15, 1e16] }"))
    n = 200_000
    c = condition(spec, sample_brain(spec, n, seed=0), seed=1)
    assert reliable(c) and c.k_hat < 0.5
    v0, s2 = (0.5 / Z90) ** 2 + (1.0 / Z90) ** 2, (0.5 / Z90) ** 2
    vp = 1 / (1 / v0 + 1 / s2)
    mp = vp * (15.5 / v0 + 15.5 / s2)
    x = c.draws["log10_brain_flops"]
    se = math.sqrt(vp / c.ess)
    assert abs(x.mean() - mp) < 5 * se
    assert abs(x.std() / math.sqrt(vp) - 1) < 0.02
    # an off-centre measurement moves the posterior mean to the precision-weighted average
    spec = parse_priors(PRODUCT + _evidence("sum(a * b)", "{ lognormal = [1e16, 1e17] }"))
    c = condition(spec, sample_brain(spec, n, seed=0), seed=1)
    mp = vp * (15.5 / v0 + 16.5 / s2)
    assert abs(c.draws["log10_brain_flops"].mean() - mp) < 5 * math.sqrt(vp / c.ess)


def test_hard_bounds_cut_the_prior():
    spec = parse_priors(PRODUCT + _evidence("sum(b)", "{ upper = 10 }", "b"))
    c = condition(spec, sample_brain(spec, 50_000, seed=2), seed=3)
    assert c.draws["syn_b"].max() <= 10.0
    assert abs(c.ess / 50_000 - 0.5) < 0.02  # the bound is the prior median of b: half the draws survive


def test_a_file_without_evidence_is_unchanged():
    spec = parse_priors(PRODUCT)
    a, b = sample_brain(spec, 1000, seed=4), sample_brain(parse_priors(PRODUCT), 1000, seed=4)
    np.testing.assert_array_equal(a["log10_brain_flops"], b["log10_brain_flops"])
    assert not spec.evidence


def test_evidence_that_every_draw_contradicts_is_an_error():
    spec = parse_priors(PRODUCT + _evidence("sum(a * b)", "{ lower = 1e30 }"))
    with pytest.raises(PriorError, match="every prior draw contradicts it"):
        condition(spec, sample_brain(spec, 1000, seed=0))


def test_far_off_evidence_is_reported_unreliable(tmp_path, capsys):
    path = tmp_path / "far.toml"
    path.write_text(PRODUCT + _evidence("sum(a * b)", "{ lognormal = [1e19, 1.1e19] }"))
    assert main(["sample", str(path), "-n", "20000", "-q"]) == 0
    captured = capsys.readouterr()
    assert "unreliable" in captured.err and "k-hat" in captured.err
    assert "UNRELIABLE" in captured.out


def test_cli_sample_report_shows_prior_posterior_and_checks(tmp_path, capsys):
    path = tmp_path / "ev.toml"
    path.write_text(PRODUCT + _evidence("sum(a * b)", "{ lognormal = [1e15, 1e16] }"))
    out = tmp_path / "run.nc"
    assert main(["sample", str(path), "-n", "20000", "-q", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["report", str(out)]) == 0
    text = capsys.readouterr().out
    assert "prior vs posterior" in text and "evidence:" in text and "Pareto k-hat" in text
    from uncertainty.output.io import load_run

    idata = load_run(out)
    assert {"prior", "posterior"} <= set(idata.groups())


@pytest.mark.parametrize(
    ("evidence", "key", "problem"),
    [
        (_evidence("sum(c)", "{ normal = [1, 2] }"), "evidence.product.quantity", "unknown name 'c'"),
        (_evidence("a * b", "{ normal = [1, 2] }"), "evidence.product.quantity", "reduce the fields"),
        (_evidence("", "{ normal = [1, 2] }"), "evidence.product.quantity", "is empty"),
        (_evidence("sum(a.real)", "{ normal = [1, 2] }"), "evidence.product.quantity", "is not allowed"),
        (_evidence("sum(a)", "{ normal = [2, 1] }"), "evidence.product.observed.normal", "lo > hi"),
        (_evidence("sum(a)", "{ lognormal = [-1, 2] }"), "evidence.product.observed.lognormal", "must be > 0"),
        (_evidence("sum(a)", "{ upper = -3 }"), "evidence.product.observed.upper", "must be > 0"),
        (_evidence("sum(a)", "{ cauchy = [1, 2] }"), "evidence.product.observed", "unknown key 'cauchy'"),
        (_evidence("sum(a)", "{ normal = [1, 2], upper = 3 }"), "evidence.product.observed", "exactly one"),
        (_evidence("sum(a)", "3"), "evidence.product.observed", "must be a table"),
        ("[evidence.product]\nobserved = { normal = [1, 2] }\n", "evidence.product", "missing 'quantity'"),
        ('[evidence.product]\nquantity = "sum(a)"\n', "evidence.product", "missing 'observed'"),
        (_evidence("sum(a)", "{ normal = [1, 2] }") + 'unit = "W"\n', "evidence.product", "unknown key 'unit'"),
    ],
)
def test_bad_evidence(evidence, key, problem):
    with pytest.raises(PriorError) as exc:
        parse_priors(PRODUCT + evidence, "ev.toml")
    message = str(exc.value)
    assert "ev.toml" in message and key in message and problem in message and "\n" not in message


def test_duplicate_evidence_name_is_malformed_toml():
    text = PRODUCT + _evidence("sum(a)", "{ normal = [1, 2] }") + _evidence("sum(b)", "{ normal = [1, 2] }")
    with pytest.raises(PriorError, match="malformed TOML"):
        parse_priors(text, "ev.toml")
