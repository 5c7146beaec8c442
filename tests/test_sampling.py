"""Sampling against analytic quantiles; tolerances from the Monte Carlo error of a quantile.

For N iid draws the q-quantile has standard error sqrt(q (1 - q) / N) / f(x_q); every
check allows 5 standard errors (a false alarm about once in 1.7 million per check).
"""

import math

import numpy as np
import pytest
from scipy import stats

from uncertainty.brain.distributions import interval_z, lognormal_params, normal_params
from uncertainty.brain.engine import sample_brain
from uncertainty.brain.priors import parse_priors

from conftest import one_class_text

N = 200_000
QS = np.array([0.05, 0.25, 0.5, 0.75, 0.95])


def assert_quantiles(draws: np.ndarray, dist, qs=QS, k: float = 5.0):
    """Empirical quantiles of ``draws`` within k standard errors of ``dist``'s (a scipy frozen dist)."""
    expected = dist.ppf(qs)
    se = np.sqrt(qs * (1 - qs) / draws.size) / dist.pdf(expected)
    got = np.quantile(draws, qs)
    assert np.all(np.abs(got - expected) <= k * se), (got, expected, se)


def draw(field_value: str, n: int = N, seed: int = 1, **other):
    spec = parse_priors(one_class_text(rate=field_value, **other), "t.toml")
    return spec, sample_brain(spec, n, seed)


def test_interval_helpers():
    assert interval_z(0.9) == pytest.approx(1.6448536269514722)
    mu, sigma = lognormal_params(0.1, 200)
    assert mu == pytest.approx((math.log(0.1) + math.log(200)) / 2)
    assert sigma == pytest.approx((math.log(200) - math.log(0.1)) / (2 * 1.6448536269514722))
    assert normal_params(150, 250, 0.8) == pytest.approx((200, 50 / 1.2815515655446004))


@pytest.mark.parametrize("ci", [0.9, 0.8, 0.5])
def test_lognormal_prior_quantiles(ci):
    spec, d = draw(f"{{ lognormal = [0.1, 200], ci = {ci} }}")
    mu, sigma = lognormal_params(0.1, 200, ci)
    assert_quantiles(np.log(d["cell_rate"]), stats.norm(mu, sigma))
    # the interval's ends are the (1 -+ ci)/2 quantiles
    assert_quantiles(
        d["cell_rate"], stats.lognorm(s=sigma, scale=math.exp(mu)), qs=np.array([(1 - ci) / 2, (1 + ci) / 2])
    )


def test_brain_flops_quantiles_follow_the_rate_prior():
    # only the rate is uncertain, so log10 brain FLOP/s = log10(rate) + log10(N * neuron cost)
    spec, d = draw("{ lognormal = [0.1, 200] }")
    per_update = 2 * 1000 * 5 * 3 * 4 * 5 + 4 * 5 + 2 * 4 * 5 * 5 + 2 * 5 + 2 * 100 * 5
    const = math.log10(1e9 * per_update)
    mu, sigma = lognormal_params(0.1, 200)
    ln10 = math.log(10)
    assert_quantiles(d["log10_brain_flops"], stats.norm(const + mu / ln10, sigma / ln10))


def test_truncated_lognormal():
    spec, d = draw("{ lognormal = [0.1, 200], min = 1, max = 100 }")
    mu, sigma = lognormal_params(0.1, 200)
    a, b = (math.log(1) - mu) / sigma, (math.log(100) - mu) / sigma
    x = d["cell_rate"]
    assert x.min() >= 1 and x.max() <= 100
    assert_quantiles(np.log(x), stats.truncnorm(a, b, loc=mu, scale=sigma))


def test_truncated_normal():
    spec, d = draw("{ normal = [-5, 25], min = 0.5 }")
    mean, sd = normal_params(-5, 25)
    assert_quantiles(d["cell_rate"], stats.truncnorm((0.5 - mean) / sd, np.inf, loc=mean, scale=sd))


def test_uniform_and_loguniform():
    _, d = draw("{ uniform = [50, 1000] }")
    assert_quantiles(d["cell_rate"], stats.uniform(50, 950), qs=np.array([0.1, 0.5, 0.9]))
    _, d = draw("{ loguniform = [0.1, 1000] }")
    assert_quantiles(np.log10(d["cell_rate"]), stats.uniform(-1, 4), qs=np.array([0.1, 0.5, 0.9]))
    _, d = draw("{ uniform = [50, 1000], max = 200 }")
    assert d["cell_rate"].max() <= 200
    assert_quantiles(d["cell_rate"], stats.uniform(50, 150), qs=np.array([0.1, 0.5, 0.9]))


def test_choice_weights_and_components():
    spec, d = draw("{ choice = [{ lognormal = [50, 1000] }, { lognormal = [0.1, 2] }, 200], weights = [2, 1, 1] }")
    x = d["cell_rate"]
    # the components barely overlap: P(lognormal[0.1,2] > 10) and P(lognormal[50,1000] < 10) are < 1e-5
    point = x == 200
    high = (x > 10) & ~point
    for frac, w in ((high.mean(), 0.5), ((x < 10).mean(), 0.25), (point.mean(), 0.25)):
        assert abs(frac - w) <= 5 * math.sqrt(w * (1 - w) / x.size)
    mu, sigma = lognormal_params(0.1, 2)
    assert_quantiles(np.log(x[x < 10]), stats.norm(mu, sigma))


def test_same_seed_same_draws_other_seed_other_draws(tiny_spec):
    a = sample_brain(tiny_spec, 5000, seed=7, chunk_size=1024)
    b = sample_brain(tiny_spec, 5000, seed=7, chunk_size=1024)
    c = sample_brain(tiny_spec, 5000, seed=8, chunk_size=1024)
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert not np.array_equal(a["log10_brain_flops"], c["log10_brain_flops"])


def test_chunks_are_prefix_stable(tiny_spec):
    # block b depends only on fold_in(key(seed), b): a longer run extends a shorter one
    short = sample_brain(tiny_spec, 2000, seed=3, chunk_size=1024)
    longer = sample_brain(tiny_spec, 3500, seed=3, chunk_size=1024)
    np.testing.assert_array_equal(longer["log10_brain_flops"][:2000], short["log10_brain_flops"])
    assert longer["log10_brain_flops"].shape == (3500,)
    assert len(np.unique(longer["log10_brain_flops"])) == 3500  # blocks are not repeats of each other


@pytest.mark.slow
def test_the_chunk_size_changes_no_draw(tiny_spec):
    """Draws come in blocks of BLOCK_SIZE keys, so one chunk of 8192, eight of 1024 or the default chunk
    (a run shorter than it is one chunk of the blocks it needs) give the same draws, and a short run is
    a prefix of a long one."""
    from uncertainty.brain.engine import BLOCK_SIZE

    assert BLOCK_SIZE == 1024
    runs = [sample_brain(tiny_spec, 7000, seed=5, chunk_size=c) for c in (1024, 3 * 1024, 8192, None)]
    short = sample_brain(tiny_spec, 1500, seed=5)
    for other in runs[1:]:
        assert other.keys() == runs[0].keys()
        for name, value in runs[0].items():
            if name.startswith("log10_"):  # derived sums: XLA may vectorise a longer chunk differently
                np.testing.assert_allclose(other[name], value, rtol=1e-14, atol=0)
            else:
                np.testing.assert_array_equal(other[name], value)
    for name, value in short.items():
        np.testing.assert_allclose(value, runs[0][name][:1500], rtol=1e-14, atol=0)


def test_chunk_size_must_be_whole_blocks(tiny_spec):
    with pytest.raises(ValueError, match="multiple of 1024"):
        sample_brain(tiny_spec, 100, chunk_size=1000)


def test_default_chunk_size_follows_the_device(monkeypatch, tiny_spec):
    """A CPU takes the fixed default; an accelerator as many whole blocks as fit in a tenth of its memory
    (at most 2**22 draws); one that does not report its memory takes the CPU default."""
    import jax

    from uncertainty.brain import engine

    class Fake:
        def __init__(self, platform, memory):
            self.platform, self.memory = platform, memory

        def memory_stats(self):
            return None if self.memory is None else {"bytes_limit": self.memory}

    assert engine.default_chunk_size(tiny_spec) == engine.DEFAULT_CHUNK_SIZE == 32768
    per_draw = engine.bytes_per_draw(tiny_spec)
    for memory, expected in (
        (80 * 2**30, 1 << 22),  # a large GPU: the cap
        (10 * 1024 * per_draw * 37 + 5, 37 * 1024),  # room for 37 blocks and a little
        (10 * per_draw, 1024),  # less than one block: one block
        (None, 32768),
    ):
        monkeypatch.setattr(jax, "local_devices", lambda memory=memory: [Fake("gpu", memory)])
        assert engine.default_chunk_size(tiny_spec) == expected


def test_shapes_and_precision(tiny_spec):
    d = sample_brain(tiny_spec, 100, seed=0)
    assert d["log10_class_flops"].shape == (100, 2)
    assert d["log10_stage_flops"].shape == (100, 5)
    assert d["log10_brain_flops"].dtype == np.float64
    assert {"a_count", "a_rate", "b_synapses", "a_dendrites"} <= d.keys()
    assert "b_count" not in d  # fixed values are not sample sites
    d32 = sample_brain(tiny_spec, 100, seed=0, precision="float32")
    assert d32["log10_brain_flops"].dtype == np.float32
    with pytest.raises(ValueError):
        sample_brain(tiny_spec, 0)


SHARED = """
[defaults]
shared = ["rate"]
rate = { choice = [{ lognormal = [50, 1000] }, { lognormal = [0.1, 2] }] }
synapses = 1000
time_steps = 5
branches = 3
dendrites = 4
filter_steps = 5
soma_steps = 5
outputs = 100
[classes.cell]
count = 1e9
[classes.other]
count = 1e8
[classes.own]
count = 1e7
rate = { lognormal = [1, 10] }
"""


def test_shared_default_is_one_draw_for_every_class():
    spec = parse_priors(SHARED, "shared.toml")
    assert spec.shared == ("rate",)
    d = sample_brain(spec, 20_000, seed=4)
    # one site for the classes that take the default, its own site for the class that overrides it
    assert "shared_rate" in d and "own_rate" in d and "cell_rate" not in d and "other_rate" not in d
    # the whole brain is in one view or the other: the views keep their even odds
    low = (d["shared_rate"] < 10).mean()
    assert abs(low - 0.5) <= 5 * math.sqrt(0.25 / 20_000)
    # cell and other differ only in count (x10), so their FLOP/s differ by exactly one decade in every draw
    np.testing.assert_allclose(d["log10_class_flops"][:, 0] - d["log10_class_flops"][:, 1], 1.0, atol=1e-9)
