"""A growth fit does not depend on the unit of its data: every prior that touches the level is centred on
the data (``Normal(y_last, 10)``, the Kalman models' initial state at ``y[0]``), and slopes and volatilities
are in doublings, so the log density of data in another unit (log2 FLOP/s shifted by ``c``) at parameters
with their level shifted by ``c`` is the same number."""

import jax
import numpy as np
import pytest
from numpyro import handlers
from numpyro.infer.util import log_density

from uncertainty.growth.models import GROWTH_MODELS, MODELS_BY_NAME, pad_fit_data

SHIFT = 10 * np.log2(10.0)  # 10^10: PFLOP/s read as kFLOP/s, say
LEVEL_SITES = ("level",)  # the latent sites in log2 FLOP/s (the rest are slopes, volatilities, times)


@pytest.mark.parametrize("name", GROWTH_MODELS)
@pytest.mark.slow
def test_the_log_density_is_unit_equivariant(name):
    rng = np.random.default_rng(0)
    t = np.sort(1993 + 30 * rng.random(12))
    y = 35 + 1.1 * (t - 1993) + rng.normal(0, 0.5, 12)
    knots = np.arange(1994.0, 2023.0)
    model = MODELS_BY_NAME[name].model
    with jax.enable_x64(True):
        one = pad_fit_data(t, y, 14, knots)
        other = pad_fit_data(t, y + SHIFT, 14, knots)
        trace = handlers.trace(handlers.seed(model, jax.random.key(1))).get_trace(one)
        params = {k: s["value"] for k, s in trace.items() if s["type"] == "sample" and not s["is_observed"]}
        shifted = {k: v + SHIFT if k in LEVEL_SITES else v for k, v in params.items()}
        a, _ = log_density(model, (one,), {}, params)
        b, _ = log_density(model, (other,), {}, shifted)
    assert np.isfinite(float(a))
    np.testing.assert_allclose(float(b), float(a), rtol=1e-9, atol=1e-8)
