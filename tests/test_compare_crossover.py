"""compare --crossover: several prior files against one growth fit, the same years as `crossover` gives."""

import numpy as np
import pytest

from uncertainty.brain.priors import load_priors
from uncertainty.cli import main
from uncertainty.runs.forecast import ForecastOptions, crossover_years, forecast

from conftest import PRIORS


@pytest.mark.slow
def test_crossover_years_equal_the_crossover_run_of_each_file():
    # 4 chains x 100 draws after 200 warm-up steps: the settings `compare --crossover -n 400 --warmup 200` uses
    # (below), so both tests run one compiled NUTS program (compiling it costs far more than sampling)
    options = ForecastOptions(num_samples=400, num_warmup=200, num_chains=4, compare=False)
    specs = {name: load_priors(PRIORS / f"{name}.toml") for name in ("carlsmith2020-mechanistic", "dettmers2015")}
    years = crossover_years(specs, 3, options)
    one = forecast(specs["dettmers2015"], 3, options)
    np.testing.assert_array_equal(years["dettmers2015"], one.posterior["crossover_year"].values.ravel())
    # the synapse count is 6 decades below the LNP preset: it crosses earlier in every draw
    assert np.all(years["carlsmith2020-mechanistic"] <= years["dettmers2015"])


@pytest.mark.slow
def test_cli_compare_crossover_columns(capsys):
    files = [str(PRIORS / "carlsmith2020-mechanistic.toml"), str(PRIORS / "dettmers2015.toml")]
    args = ["compare", *files, "--crossover", "-n", "400", "--warmup", "200", "--pool", "1,1", "--format", "csv"]
    assert main(args) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[0]
    assert "median_year" in header and "p_by_2050" in header
    with pytest.raises(SystemExit) as exc:  # argparse: one line, exit 2
        main(["compare", *files, "--crossover", "--model", "scenario"])
    assert exc.value.code == 2 and "invalid choice" in capsys.readouterr().err
