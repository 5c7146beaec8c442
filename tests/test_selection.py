"""The rule choosing the default growth model on a pool (issue 21): synthetic scores with known answers."""

from uncertainty.growth.selection import choose_on_pool, main


def _pool(cov50, cov90, crps):
    return {"fitted": 10, "pooled": {"cov_50": cov50, "cov_90": cov90, "crps": crps}}


def _hpl(cov90, below):
    return {"coverage": {"50": 0.5, "90": cov90}, "below_median": below}


def test_the_best_crps_among_models_calibrated_on_the_pool_that_hold_on_hpl():
    pool = {
        "fl-randomwalk": {"pooled": {"cov_50": 0.5, "cov_90": 0.9, "crps": 0.1}},  # an anchor, never a candidate
        "a": _pool(0.50, 0.90, 3.0),
        "b": _pool(0.45, 0.88, 2.5),  # better CRPS, but fails on HPL (95% of later values below its median)
        "c": _pool(0.30, 0.70, 1.0),  # best CRPS, not calibrated
    }
    hpl = {"a": _hpl(0.85, 0.60), "b": _hpl(0.85, 0.95), "c": _hpl(0.95, 0.5)}
    best, reason, checks = choose_on_pool(pool, hpl)
    assert best == "a" and "hold on HPL" in reason and set(checks) == {"a", "b", "c"}
    assert checks["b"]["calibrated_on_pool"] and not checks["b"]["holds_on_hpl"]
    assert not checks["c"]["calibrated_on_pool"] and checks["c"]["holds_on_hpl"]
    # a 90% coverage on HPL under 0.80 fails too; then b (calibrated, best CRPS) is the fallback
    best, reason, _ = choose_on_pool(pool, {**hpl, "a": _hpl(0.79, 0.5)})
    assert best == "b" and reason.startswith("no calibrated model holds on HPL")
    # nothing calibrated on the pool: the closest to nominal coverage (d: 0.12 + 0.06 against e: 0.2 + 0.0)
    best, reason, _ = choose_on_pool({"d": _pool(0.38, 0.84, 9.0), "e": _pool(0.5, 0.7, 1.0)}, {})
    assert best == "d" and reason.startswith("no model is calibrated")


def test_selection_command_reads_saved_json(tmp_path, capsys):
    import json

    pool = tmp_path / "pool.json"
    pool.write_text(
        json.dumps({"models": {"walkcycle": _pool(0.5, 0.9, 3.0), "walkcycle+pooled": _pool(0.5, 0.9, 2.0)}})
    )
    base = tmp_path / "hpl.json"
    base.write_text(json.dumps({"priors": "base", "models": {"walkcycle": _hpl(0.9, 0.5)}}))
    pooled = tmp_path / "hpl-pooled.json"
    pooled.write_text(json.dumps({"priors": "pooled", "models": {"walkcycle": _hpl(0.9, 0.9)}}))
    assert main([str(pool), str(base), str(pooled)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1].startswith("chosen: walkcycle (best pooled CRPS")  # the pooled row fails on HPL
