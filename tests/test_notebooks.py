"""Every notebook runs top to bottom in a fresh kernel, is committed without outputs, and its key numbers
are the engine's: a cell appended by the test prints them from the kernel's variables as JSON."""

import json
import math
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_the_notebooks_exist():
    assert [p.name for p in NOTEBOOKS] == ["01_brain_flops.ipynb", "02_crossover_year.ipynb", "03_compare_priors.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs(path: Path):
    book = nbformat.read(path, as_version=4)
    for cell in book.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: strip outputs before committing"


# Per notebook: code run after its last cell, printing its key numbers (one JSON line), and their checks.
KEY_NUMBERS = {
    "01_brain_flops": """
import json, math
odds = u.choice_odds_table(posterior_run)
post_attrs = posterior_run.posterior.attrs
print(json.dumps({
    "median": float(table.loc["log10 brain FLOP/s", "median"]),
    "mcse_median": float(table.loc["log10 brain FLOP/s", "mcse_median"]),
    "n": int(table.loc["log10 brain FLOP/s", "ess_bulk"] > 0) * N_SAMPLES,
    "posterior_median": math.log10(float(brain.loc["posterior", "median"])),
    "reading_prior": float(brain.loc["prior", "p_per_spike"]),
    "reading_posterior": float(brain.loc["posterior", "p_per_spike"]),
    "posterior_ess": float(post_attrs["ess_bulk" if post_attrs["inference"] == "NUTS" else "ess_importance"]),
    "fast_view_posterior": float(odds["posterior"].iloc[0]),
    "fast_view_prior": float(odds["prior"].iloc[0]),
    "tail_method": nuts.method,
    "tail_rhat": float(nuts.max_rhat),
    "saved": [again.prior.attrs["prior_name"], int(again.prior.attrs["seed"]), int(again.prior.attrs["num_samples"])],
}))
""",
    "02_crossover_year": """
import json
year = u.crossover_summary(run).iloc[0]
print(json.dumps({
    "median": float(year["median"]),
    "q5": float(year["q5"]),
    "q95": float(year["q95"]),
    "mcse_median": float(year["mcse_median"]),
    "p_by_2100": float(year["p_by_2100"]),
    "draws": int(run.posterior.sizes["chain"] * run.posterior.sizes["draw"]),
    "models": sorted(scores["models"]),
    "quick_warned": any("--quick" in w for w in scores["warnings"]),
}))
""",
    "03_compare_priors": """
import json
table = u.compare_table(flops, pooled, "pool")
print(json.dumps({
    "dettmers_median": float(table.loc["dettmers2015", "median"]),
    "dettmers_p_gt_1e18": float(table.loc["dettmers2015", "p_gt_1e18"]),
    "text_median": float(table.loc["dettmers2015-text", "median"]),
    "pool_p_gt_1e18": float(table.loc["pool", "p_gt_1e18"]),
    "members_p_gt_1e18": [float(table.loc[n, "p_gt_1e18"]) for n in uncertain],
    "n": N_SAMPLES,
}))
""",
}


def _check_brain_flops(k: dict) -> None:
    # the default priors at 10^6 draws, seed 0 (docs/article.md): log10 median 19.60, its MCSE 0.0176
    assert abs(k["median"] - 19.60) < 4 * math.hypot(k["mcse_median"], 0.0176) + 0.005, k
    # the posterior given the neuron count, the energy budget in watts and the synapse counts
    # (docs/evidence.md, 10^6 draws): median 1.1e20, between the two readings' modes (a wide tolerance)
    assert abs(k["posterior_median"] - math.log10(1.12e20)) < 0.25, k
    assert (
        k["fast_view_prior"] == pytest.approx(0.5, abs=4 * math.sqrt(0.25 / k["n"])) and k["fast_view_posterior"] < 0.05
    )
    # no item measures the update rate: the readings keep their even odds (within the posterior's ESS)
    assert k["reading_prior"] == pytest.approx(0.5, abs=4 * math.sqrt(0.25 / k["n"]))
    assert k["reading_posterior"] == pytest.approx(0.5, abs=4 * math.sqrt(0.25 / k["posterior_ess"])), k
    assert k["tail_method"] == "NUTS" and k["tail_rhat"] <= 1.01  # the far-off evidence falls back to NUTS
    assert k["saved"] == ["default", 0, 20_000]


def _check_crossover_year(k: dict) -> None:
    assert k["draws"] == 400 and k["q5"] < k["median"] < k["q95"]
    # the default crossover at 10^4 draws (docs/crossover.md): median 2038.9; here 400 draws of short chains
    assert abs(k["median"] - 2038.9) < 5 * k["mcse_median"] + 1.0, k
    assert k["p_by_2100"] > 0.9
    assert k["models"] == ["randomwalk", "walkcycle"] and k["quick_warned"]


def _check_compare(k: dict) -> None:
    assert k["dettmers_median"] == pytest.approx(1.075e21, rel=1e-9)  # the article's point values, exactly
    assert k["text_median"] == pytest.approx(1.00009e21, rel=1e-5)
    assert k["dettmers_p_gt_1e18"] == 1.0
    # the pool of four equally weighted files: the mean of their tail probabilities, within Monte Carlo error
    mean = sum(k["members_p_gt_1e18"]) / 4
    assert abs(k["pool_p_gt_1e18"] - mean) < 4 * math.sqrt(0.25 / k["n"]), k


CHECKS = {"01_brain_flops": _check_brain_flops, "02_crossover_year": _check_crossover_year}
CHECKS["03_compare_priors"] = _check_compare


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
@pytest.mark.slow
def test_notebook_runs_and_shows_the_engines_numbers(path: Path):
    book = nbformat.read(path, as_version=4)
    book.cells.append(nbformat.v4.new_code_cell(KEY_NUMBERS[path.stem]))
    client = NotebookClient(
        book, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()  # raises CellExecutionError, with the cell and traceback, if any cell fails
    errors = [o for c in book.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    figures = [o for c in book.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert figures, "every notebook shows at least one figure"
    printed = "".join(o.get("text", "") for o in book.cells[-1].outputs if o.output_type == "stream")
    CHECKS[path.stem](json.loads(printed.strip().splitlines()[-1]))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_use_the_public_api_only(path: Path):
    """A notebook is the user's view: it reaches the engine through `import uncertainty` alone."""
    book = nbformat.read(path, as_version=4)
    code = "\n".join(c.source for c in book.cells if c.cell_type == "code")
    assert "from uncertainty." not in code and "import uncertainty." not in code
