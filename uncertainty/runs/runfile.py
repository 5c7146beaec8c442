"""The schema of the files the tool writes, checked once when ``report`` or ``plot`` reads one back.

Three kinds of file:

- a kept run: ArviZ ``InferenceData`` (groups ``prior``, ``posterior``, ``posterior_predictive``,
  ``log_likelihood``, ``sample_stats``, ``observed_data``, ``constant_data``), written by
  :func:`uncertainty.runs.io.save_run` and :class:`uncertainty.runs.io.RunWriter`;
- streamed summaries: a ``Dataset`` with ``kind = "summaries"``
  (:func:`uncertainty.runs.streaming.summaries_dataset`);
- a backtest: a ``Dataset`` with ``kind = "backtest"`` (:mod:`uncertainty.growth.hindcast`).

Every attribute and variable the tool writes and reads back is checked for its type, its dimensions,
its range (no NaN or inf where the tool writes none) and its links to the others (an ``evidence`` item
has its draws, a histogram counts every draw). A file that departs from its schema raises
:class:`~uncertainty.errors.RunFileError`: one line naming the group, variable or attribute and what is
wrong, so nothing after the check meets a field it cannot use. Attributes and variables the tool does
not read are left alone. Names shown in tables and figures (variables, coordinate labels, models)
must be one line of printable text; free text (``prior_file``, ``prior_name``, ``series``) is kept as
it is and escaped where it is shown.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import xarray as xr

from ..errors import RunFileError, one_line

__all__ = ["BLOCK", "KINDS", "check_backtest", "check_run", "check_summaries", "dataset_kind"]

KINDS = ("summaries", "backtest")  # the ``kind`` of a file written as a plain Dataset
BLOCK = 1 << 20  # draws read at a time when checking a run's values (a kept run may not fit in memory)

_LOG10_LIMIT = 700.0  # |log10| of any streamed quantity: a share of a class is at least 10^-616

_TEXT = (
    "created_at",
    "arviz_version",
    "uncertainty_version",
    "jax_version",
    "numpyro_version",
    "devices",
    "prior_file",
    "prior_name",
    "prior_text",
    "series",
)
_NAMES = (
    "kind",
    "precision",
    "target",
    "model",
    "growth_priors",
    "inference",
    "nuts_unavailable",
    "scenario_names",
    # a crossover's compute target (uncertainty.growth.targets): shown in its header line by line
    "target_counts",
    "target_quantity",
    "target_what",
    "data_source",
    "fraction_prior",
    "budget_prior",
    "last_label",
    "last_system",
    "first_passage",
)
_INTEGERS = {  # attribute: smallest value (None: any)
    "seed": None,
    "num_samples": 1,
    "chunk_size": 1,
    "num_chains": 1,
    "num_warmup": 0,
    "divergences": 0,
    "processes": 1,
    "whole_periods": 0,
    "num_draws": 4,
    "bins": 1,
    "start": None,
    "quick": 0,
    "growth_draws": 1,
    "draws_per_path": 1,
    "year_base": None,
    "year_blocks": 1,
}
_FINITE = (
    "horizon",
    "t_start",
    "data_until",
    "ess_importance",
    "max_rhat",
    "ess_bulk",
    "bin_width",
    "last_observation",
    "last_value",
    "year_t0",
    "year_horizon",
    "year_bin",
)
_CONDITIONING = ("inference", "pareto_k", "ess_importance", "max_rhat", "ess_bulk", "divergences", "choice_odds")
_LIKELIHOODS = ("normal", "lognormal", "student_t", "uniform", "upper", "lower")
_DERIVED = {  # variables of the draw groups: dims after (chain, draw), what values
    "log10_brain_flops": ((), "finite"),
    "log10_class_flops": (("neuron_class",), "finite"),
    "log10_stage_flops": (("stage",), "finite"),
    "crossover_year": ((), "year"),
    "practical_fraction": ((), "positive"),
    "budget_usd": ((), "positive"),
    "log2_flops_forecast": (("forecast_year",), "finite"),
    "log2_flops_heldout": (("heldout_list",), "finite"),
}


class _Checker:
    """Raises the one-line error of a file, naming where in it the problem is."""

    def __init__(self, path: str | Path):
        self.path = path

    def fail(self, key: str | None, problem: str) -> NoReturn:
        raise RunFileError(self.path, key, problem)

    # -- attributes --------------------------------------------------------------------------------------

    def attrs(self, attrs: dict, where: str) -> None:
        """Every attribute the tool writes and reads back has the type and range it writes."""
        for raw, value in attrs.items():
            name = raw[len("brain_") :] if raw.startswith("brain_") and raw[len("brain_") :] in _CONDITIONING else raw
            key = f"{where}attrs.{raw}"
            if name in _TEXT:
                self.text(key, value)
            elif name in _NAMES:
                self.name(key, value)
            elif name in _INTEGERS:
                self.integer(key, value, _INTEGERS[name])
            elif name in _FINITE:
                self.number(key, value)
            elif name == "pareto_k":  # -inf: equal weights (hard bounds only)
                self.number(key, value, allow_inf=True)
            elif name == "model_comparison":
                self.comparison(key, self.json(key, value))
            elif name == "evidence":
                self.evidence(key, self.json(key, value))
            elif name == "choice_odds":
                self.odds(key, self.json(key, value))

    def text(self, key: str, value: Any) -> str:
        if not isinstance(value, str):
            self.fail(key, f"expected text, got {_describe(value)}")
        return value

    def name(self, key: str, value: Any) -> str:
        """Text shown in a table or figure: one line of printable characters."""
        self.text(key, value)
        if one_line(value) != value:
            self.fail(key, f"expected one line of printable text, got {value!r}")
        return value

    def number(self, key: str, value: Any, allow_inf: bool = False, low: float | None = None) -> float:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
            self.fail(key, f"expected a number, got {_describe(value)}")
        x = float(value)
        if math.isnan(x) or (math.isinf(x) and not allow_inf):
            self.fail(key, f"expected a finite number, got {x}")
        if low is not None and x < low:
            self.fail(key, f"expected a number >= {low:g}, got {x:g}")
        return x

    def integer(self, key: str, value: Any, low: int | None = None) -> int:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            self.fail(key, f"expected a whole number, got {_describe(value)}")
        if low is not None and value < low:
            self.fail(key, f"expected a whole number >= {low}, got {value}")
        return int(value)

    def json(self, key: str, value: Any) -> Any:
        self.text(key, value)
        try:
            return json.loads(value)
        except (ValueError, RecursionError) as exc:
            self.fail(key, f"not valid JSON ({type(exc).__name__})")

    def mapping(self, key: str, value: Any, empty: bool = False) -> dict:
        if not isinstance(value, dict) or (not value and not empty):
            self.fail(key, f"expected a{'' if empty else ' non-empty'} JSON object, got {_describe(value)}")
        for name in value:
            self.name(key, name)
        return value

    def comparison(self, key: str, data: Any) -> None:
        """``model_comparison``: ``{"preferred": model, "rows": {model: {column: number}}, "notes": [text]}``."""
        self.mapping(key, data)
        rows = self.mapping(f"{key}.rows", data.get("rows"))
        if self.name(f"{key}.preferred", data.get("preferred")) not in rows:
            self.fail(f"{key}.preferred", f"{data['preferred']!r} is not one of the rows")
        columns = None
        for model, row in rows.items():
            self.mapping(f"{key}.rows.{model}", row)
            if columns is not None and set(row) != columns:
                self.fail(f"{key}.rows.{model}", "has other columns than the first row")
            columns = set(row)
            for column, v in row.items():
                if not isinstance(v, (bool, np.bool_)):
                    self.number(f"{key}.rows.{model}.{column}", v)
        notes = data.get("notes", [])
        if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
            self.fail(f"{key}.notes", "expected a list of text")

    def evidence(self, key: str, data: Any) -> None:
        """``evidence``: ``{name: {"quantity": text, "kind": likelihood, "lo": number, "hi": number, ...}}``."""
        for name, item in self.mapping(key, data).items():
            where = f"{key}.{name}"
            self.mapping(where, item)
            kind = item.get("kind")
            if kind not in _LIKELIHOODS:
                self.fail(f"{where}.kind", f"expected one of {', '.join(_LIKELIHOODS)}, got {_describe(kind)}")
            self.text(f"{where}.quantity", item.get("quantity"))
            for optional in ("source", "unit"):  # shown in the report's note and the figure's axis: one line
                if optional in item:
                    self.name(f"{where}.{optional}", self.text(f"{where}.{optional}", item[optional]))
            lo = self.number(f"{where}.lo", item.get("lo"))
            if lo <= 0:
                self.fail(f"{where}.lo", f"the quantity is positive; expected lo > 0, got {lo:g}")
            if kind not in ("upper", "lower"):
                hi = self.number(f"{where}.hi", item.get("hi"))
                if hi < lo:
                    self.fail(f"{where}.hi", f"expected hi >= lo ({lo:g}), got {hi:g}")

    def odds(self, key: str, data: Any) -> None:
        """``choice_odds``: ``{site: {"components": [text], "prior": [weight], "posterior": [probability]}}``."""
        for site, odds in self.mapping(key, data).items():
            where = f"{key}.{site}"
            self.mapping(where, odds)
            components = odds.get("components")
            if not isinstance(components, list) or not components:
                self.fail(f"{where}.components", f"expected a non-empty list, got {_describe(components)}")
            for label in components:
                self.name(f"{where}.components", label)
            for part, low_open in (("prior", True), ("posterior", False)):
                values = odds.get(part)
                if not isinstance(values, list) or len(values) != len(components):
                    self.fail(f"{where}.{part}", f"expected a list of {len(components)} numbers (one per component)")
                for v in values:
                    p = self.number(f"{where}.{part}", v)
                    if not (0.0 < p < 1.0 if low_open else 0.0 <= p <= 1.0):
                        self.fail(
                            f"{where}.{part}", f"expected probabilities {'strictly ' * low_open}within 0-1, got {p:g}"
                        )

    # -- variables ---------------------------------------------------------------------------------------

    def variable(self, ds: xr.Dataset, name: str, where: str, dims: tuple[str, ...] | None, kind: str) -> xr.DataArray:
        """``ds[name]`` with ``dims`` (None: any) and values of ``kind``: ``float``, ``integer`` (or
        ``number``, ``count``: integers >= 0, ``text``)."""
        key = f"{where}{name}"
        if name not in ds.variables:
            self.fail(key, "missing")
        da = ds[name]
        if dims is not None and da.dims != dims:
            self.fail(key, f"expected dims {dims}, got {da.dims}")
        self.dtype(key, da, kind)
        return da

    def dtype(self, key: str, da: xr.DataArray, kind: str) -> None:
        codes = {"float": "f", "integer": "iu", "count": "iu", "number": "fiu", "text": "U", "flag": "biu"}[kind]
        if da.dtype.kind not in codes:
            expected = {"count": "integer", "number": "numeric", "flag": "boolean or integer"}.get(kind, kind)
            self.fail(key, f"expected {expected} values, got {_dtype_name(da.dtype)}")
        if kind == "count" and da.size and int(da.values.min()) < 0:
            self.fail(key, "expected counts >= 0, got a negative one")

    def values(self, key: str, da: xr.DataArray, rule: str = "finite") -> None:
        """The values of ``da`` obey ``rule``: ``finite``, ``positive`` (finite, > 0) or ``year`` (finite or
        +inf: a draw that never crosses). Read block by block along ``draw``."""
        bad = total = 0
        for x in _blocks(da):
            x = np.asarray(x, dtype=np.float64)
            ok = np.isfinite(x)
            if rule == "year":
                ok |= x == np.inf
            elif rule == "positive":
                ok &= x > 0
            bad += int(x.size - np.count_nonzero(ok))
            total += x.size
        if not bad:
            return
        what = {"finite": "NaN or inf", "positive": "not a positive finite number", "year": "NaN or -inf"}[rule]
        if bad == total:
            self.fail(
                key, f"has no finite draw (every value is {what})" if rule == "finite" else f"every value is {what}"
            )
        self.fail(key, f"{bad:,} of {total:,} values are {what}")

    def labels(self, ds: xr.Dataset, dim: str, where: str, empty: bool = False) -> list[str]:
        """The text coordinate of ``dim``: one line each, no two alike."""
        key = f"{where}{dim}"
        if dim not in ds.coords:
            self.fail(key, f"has no '{dim}' coordinate")
        da = ds.coords[dim]
        if da.dims != (dim,):
            self.fail(key, f"expected a coordinate along '{dim}', got dims {da.dims}")
        self.dtype(key, da, "text")
        labels = [str(v) for v in da.values]
        for label in labels:
            self.name(key, label)
        if len(set(labels)) != len(labels):
            self.fail(key, "has a label twice")
        if not labels and not empty:
            self.fail(key, "is empty")
        return labels

    def names(self, names: Iterable[Any], where: str) -> None:
        for name in names:
            if not isinstance(name, str) or one_line(name) != name or not name:
                self.fail(where.rstrip("."), f"a variable name is not one line of printable text: {name!r}")


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return f"text {value[:40]!r}"
    if isinstance(value, (bool, np.bool_)):
        return f"a boolean ({value})"
    if isinstance(value, np.ndarray):
        return f"an array of {value.size} {_dtype_name(value.dtype)}"
    if value is None:
        return "nothing"
    return f"{type(value).__name__} {str(value)[:40]}"


def _dtype_name(dtype: np.dtype) -> str:
    word = {"U": "text", "S": "bytes", "O": "objects", "b": "booleans", "f": "floats", "i": "integers", "u": "integers"}
    return f"{word.get(dtype.kind, 'values')} ({dtype})"


def _blocks(da: xr.DataArray) -> Iterable[np.ndarray]:
    """The values of ``da``, a block of :data:`BLOCK` draws at a time when it has a ``draw`` dimension."""
    if "draw" not in da.dims or da.sizes["draw"] <= BLOCK:
        yield da.values
        return
    for start in range(0, da.sizes["draw"], BLOCK):
        yield da.isel(draw=slice(start, start + BLOCK)).values


# -- kept runs ---------------------------------------------------------------------------------------------


def check_run(path: str | Path, idata) -> None:
    """Check a kept run (``InferenceData``) against what the tool writes; raise :class:`RunFileError`."""
    c = _Checker(path)
    groups = list(idata.groups())
    draws = [g for g in ("posterior", "prior") if g in groups and "log10_brain_flops" in idata[g].variables]
    if not draws:
        c.fail(None, "holds no 'log10_brain_flops' in a prior or posterior group; not a run of this tool")
    for group in groups:
        c.attrs(dict(idata[group].attrs), f"{group}.")
        c.names(idata[group].variables, f"{group}.")
    for group in ("prior", "posterior", "posterior_predictive"):
        if group in groups:
            _draw_group(c, idata[group], group)
    main = idata[draws[0]]
    if main["log10_brain_flops"].size < 4:
        c.fail(f"{draws[0]}.log10_brain_flops", "has fewer than 4 draws")
    for group, kind in (("sample_stats", "flag"), ("log_likelihood", "number")):
        if group in groups:
            ds = idata[group]
            for name in ds.data_vars:
                var_kind = "flag" if name == "diverging" else "number"
                c.variable(ds, name, f"{group}.", None, var_kind if kind == "flag" else kind)
                if ds[name].dims[:2] != ("chain", "draw"):
                    c.fail(f"{group}.{name}", f"expected dims ('chain', 'draw', ...), got {ds[name].dims}")
    for group in ("observed_data", "constant_data"):
        if group in groups:
            ds = idata[group]
            for name in ds.data_vars:
                c.variable(ds, name, f"{group}.", None, "number")
                if not name.startswith("evidence_"):  # an evidence bound: hi NaN for a one-sided bound
                    c.values(f"{group}.{name}", ds[name])
    _scenarios(c, main, draws[0])
    _conditioning(c, idata, groups)
    _growth(c, idata, groups)


def _draw_group(c: _Checker, ds: xr.Dataset, group: str) -> None:
    where = f"{group}."
    for name in ds.data_vars:
        da = ds[name]
        key = f"{where}{name}"
        rest, rule = _DERIVED.get(name, (None, "finite"))
        if da.dims[:2] != ("chain", "draw") or (rest is not None and da.dims[2:] != rest):
            dims = ("chain", "draw", *rest) if rest is not None else ("chain", "draw", "...")
            c.fail(key, f"expected dims {dims}, got {da.dims}")
        c.dtype(key, da, "integer" if name == "scenario" else ("float" if rest is not None else "number"))
        for dim in da.dims[2:]:
            if dim in ("neuron_class", "stage", "heldout_list"):
                c.labels(ds, dim, where)
            elif dim == "forecast_year":
                c.dtype(f"{where}{dim}", ds[dim], "float")
                c.values(f"{where}{dim}", ds[dim])
                if ds.sizes[dim] == 0:
                    c.fail(f"{where}{dim}", "is empty")
        c.values(key, da, "positive" if name.startswith("evidence_") else rule)
    if "heldout_year" in ds.variables:
        c.variable(ds, "heldout_year", where, ("heldout_list",), "float")
        c.values(f"{where}heldout_year", ds["heldout_year"])


def _scenarios(c: _Checker, ds: xr.Dataset, group: str) -> None:
    """A run of a file with ``[scenarios]``: each draw's scenario index names one of ``scenario_names``."""
    if "scenario" not in ds.data_vars:
        return
    names = ds.attrs.get("scenario_names")
    if not names:
        c.fail(f"{group}.attrs.scenario_names", "missing (the run has a 'scenario' variable)")
    count = len(str(names).split(","))
    x = ds["scenario"].values
    if x.size and (x.min() < 0 or x.max() >= count):
        c.fail(f"{group}.scenario", f"expected scenario indices 0 to {count - 1}, got {int(x.min())} to {int(x.max())}")


def _conditioning(c: _Checker, idata, groups: list[str]) -> None:
    """A run conditioned on ``[evidence]``: its diagnostics, its items and their draws in both groups."""
    if "posterior" not in groups:
        return
    attrs = idata.posterior.attrs
    if not {"pareto_k", "evidence", "choice_odds"} & set(attrs):
        return
    for name in ("inference", "pareto_k", "ess_importance", "evidence"):
        if name not in attrs:
            c.fail(f"posterior.attrs.{name}", "missing (the run is conditioned on evidence)")
    if attrs["inference"] not in ("PSIS", "NUTS"):
        c.fail("posterior.attrs.inference", f"expected PSIS or NUTS, got {attrs['inference']!r}")
    if attrs["inference"] == "NUTS":
        for name in ("max_rhat", "ess_bulk", "divergences"):
            if name not in attrs:
                c.fail(f"posterior.attrs.{name}", "missing (the posterior was drawn by NUTS)")
    if "prior" not in groups:
        c.fail("prior", "missing (a run conditioned on evidence keeps its prior draws)")
    for item in json.loads(attrs["evidence"]):
        for group in ("prior", "posterior"):
            if f"evidence_{item}" not in idata[group].data_vars:
                c.fail(f"{group}.evidence_{item}", "missing (the draws of an evidence item)")


def _growth(c: _Checker, idata, groups: list[str]) -> None:
    """A crossover run's growth fit: the forecast's and the held-out lists' draws beside their data."""
    if "posterior_predictive" not in groups:
        return
    pred = idata.posterior_predictive
    obs = idata.observed_data if "observed_data" in groups else xr.Dataset()
    if "log2_flops_forecast" in pred.data_vars:
        for name in ("trend_obs", "trend_year"):
            c.variable(obs, name, "observed_data.", ("trend_list",), "float")
        if obs.sizes["trend_list"] == 0:
            c.fail("observed_data.trend_list", "is empty")
        if "practical_obs" in obs.data_vars or "practical_year" in obs.data_vars:
            for name in ("practical_obs", "practical_year"):
                c.variable(obs, name, "observed_data.", ("practical_list",), "float")
    if "log2_flops_heldout" in pred.data_vars:
        c.variable(pred, "heldout_year", "posterior_predictive.", ("heldout_list",), "float")
        c.variable(obs, "heldout_log2_flops", "observed_data.", ("heldout_list",), "float")
        held = c.labels(obs, "heldout_list", "observed_data.")
        if held != [str(v) for v in pred["heldout_list"].values]:
            c.fail("observed_data.heldout_list", "differs from the held-out lists of the posterior_predictive group")


# -- plain datasets ------------------------------------------------------------------------------------------


def dataset_kind(path: str | Path, ds: xr.Dataset) -> str | None:
    """The kind of a file read as a plain ``Dataset``: ``summaries``, ``backtest``, or None for a kept run
    (its root group holds nothing); a root with variables but no known kind is refused."""
    kind = ds.attrs.get("kind")
    if kind in KINDS:
        return kind
    if kind is None and not ds.variables:
        return None
    if kind is None:
        _Checker(path).fail("kind", f"missing: not a file of this tool (expected kind {' or '.join(KINDS)})")
    _Checker(path).fail("kind", f"expected {' or '.join(KINDS)}, got {_describe(kind)}")
    return None


def check_summaries(path: str | Path, ds: xr.Dataset) -> None:
    """Check streamed summaries (``kind = "summaries"``) against what the tool writes."""
    from .streaming import BIN_WIDTH, COMPLEMENT

    c = _Checker(path)
    c.attrs(dict(ds.attrs), "")
    c.names(ds.variables, "")
    for name in ("num_draws", "bins", "bin_width"):
        if name not in ds.attrs:
            c.fail(f"attrs.{name}", "missing")
    n = int(ds.attrs["num_draws"])
    if abs(float(ds.attrs["bin_width"]) - BIN_WIDTH) > 1e-12:
        c.fail(
            "attrs.bin_width", f"expected {BIN_WIDTH:g} (the width this version bins with), got {ds.attrs['bin_width']}"
        )
    labels = c.labels(ds, "quantity", "")
    if labels[0] != "log10 brain FLOP/s":
        c.fail("quantity", f"expected 'log10 brain FLOP/s' first, got {labels[0]!r}")
    for label in labels[1:]:
        if not label.removeprefix(COMPLEMENT).startswith("share of "):
            c.fail("quantity", f"expected a share ('share of ...' or '1 - share of ...'), got {label!r}")
    c.labels(ds, "parameter", "", empty=True)
    floats = ("mean_log", "m2_log", "mean_lin", "m2_lin", "minimum", "maximum", "lo", "offset")
    for name in floats:
        c.values(name, c.variable(ds, name, "", ("quantity",), "float"))
    for name in ("under", "over"):
        c.variable(ds, name, "", ("quantity",), "count")
    counts = c.variable(ds, "counts", "", ("quantity", "bin"), "count")
    for name in ("low_sum", "high_sum", "cut_lo", "cut_hi"):
        c.values(name, c.variable(ds, name, "", ("parameter",), "float"))
    for name in ("low_n", "high_n"):
        if c.variable(ds, name, "", ("parameter",), "count").values.max(initial=0) > n:
            c.fail(name, f"counts more than the {n:,} draws")
    bins = int(ds.attrs["bins"])
    if counts.sizes["bin"] != bins:
        c.fail("attrs.bins", f"says {bins} bins; counts has {counts.sizes['bin']}")
    v = {name: ds[name].values for name in (*floats, "under", "over")}
    if (v["m2_log"] < 0).any() or (v["m2_lin"] < 0).any() or (v["mean_lin"] < 0).any():
        c.fail("m2_log", "a sum of squares or a linear mean is negative")
    top = v["lo"] + bins * BIN_WIDTH
    for name, x in (("lo", v["lo"]), ("lo", top), ("offset", v["offset"]), ("minimum", v["minimum"])):
        if (np.abs(x) > _LOG10_LIMIT).any() or (name != "minimum" and (x > math.log10(np.finfo(float).max)).any()):
            c.fail(name, f"a log10 value beyond float64's range ({float(np.max(np.abs(x))):g})")
    if (np.abs(v["maximum"]) > _LOG10_LIMIT).any() or (v["minimum"] > v["maximum"]).any():
        c.fail("maximum", "a maximum is below its minimum or beyond float64's range")
    if (np.abs(v["mean_log"]) > _LOG10_LIMIT).any():
        c.fail("mean_log", "a mean beyond float64's range")
    drawn = counts.values.sum(axis=1) + v["under"] + v["over"]
    if (drawn != n).any():
        c.fail("counts", f"the histograms count {int(drawn[drawn != n][0]):,} draws; attrs.num_draws says {n:,}")
    if (ds["cut_lo"].values > ds["cut_hi"].values).any():
        c.fail("cut_lo", "a lower cut point is above its upper one")
    if "year_hist" in ds.variables:
        _check_year_counts(c, ds, n)


def _check_year_counts(c: _Checker, ds: xr.Dataset, n: int) -> None:
    """A streamed crossover's counts of the crossover year and its growth fit's draws, as
    :func:`uncertainty.runs.streamed_crossover.crossover_dataset` writes them."""
    from .streamed_crossover import BIN, YEAR_COUNTS

    for name in ("year_t0", "year_horizon", "year_base", "year_blocks", "year_bin"):
        if name not in ds.attrs:
            c.fail(f"attrs.{name}", "missing")
    if abs(float(ds.attrs["year_bin"]) - BIN) > 1e-12:
        c.fail("attrs.year_bin", f"expected {BIN:g} (the width this version bins with), got {ds.attrs['year_bin']}")
    if list(c.labels(ds, "year_count", "")) != list(YEAR_COUNTS):
        c.fail("year_count", f"expected {', '.join(YEAR_COUNTS)}")
    hist = c.variable(ds, "year_hist", "", ("year_bin",), "count").values
    rows = c.variable(ds, "year_batch_counts", "", ("batch", "year_count"), "count").values
    medians = c.variable(ds, "year_batch_medians", "", ("batch",), "float").values
    if np.isnan(medians).any():
        c.fail("year_batch_medians", "holds NaN")
    t0, horizon, base = float(ds.attrs["year_t0"]), float(ds.attrs["year_horizon"]), int(ds.attrs["year_base"])
    if not (math.isfinite(t0) and t0 < horizon) or base != math.floor(t0 / BIN):
        c.fail("attrs.year_t0", "the last observation, the horizon and the first bin do not agree")
    bins = math.ceil(horizon / BIN) - base + 1
    if len(hist) != bins:
        c.fail("year_hist", f"has {len(hist)} bins; the last observation and the horizon give {bins}")
    total, already, never = rows[:, 0].sum(), rows[:, 1].sum(), rows[:, 2].sum()
    if total != n:
        c.fail("year_batch_counts", f"counts {int(total):,} draws; attrs.num_draws says {n:,}")
    if hist.sum() + already + never != total:
        c.fail("year_hist", "the crossings, the draws already crossed and those never crossed are not every draw")
    by = rows[:, 3:]
    if (rows[:, 1] > by[:, 0]).any() or (np.diff(by, axis=1) < 0).any() or (by[:, -1] > rows[:, 0]).any():
        c.fail("year_batch_counts", "a batch's draws crossed by a year are fewer than by an earlier one")
    if not 1 <= int(ds.attrs["year_blocks"]) <= max(len(rows), 1):
        c.fail("attrs.year_blocks", f"expected 1 to {len(rows)} (one block per batch at most)")
    fitted = [str(k) for k in ds.data_vars if str(k).startswith("fit_")]
    if not fitted:
        c.fail("fit_", "missing: the growth fit's draws")
    for name in fitted:
        da = c.variable(ds, name, "", ("fit_chain", "fit_draw"), "number")
        c.values(name, da)


def check_backtest(path: str | Path, ds: xr.Dataset) -> None:
    """Check a saved hindcast (``kind = "backtest"``) against what ``uncertainty backtest --out`` writes."""
    c = _Checker(path)
    c.attrs(dict(ds.attrs), "")
    c.names(ds.variables, "")
    if "quick" in ds.attrs and int(ds.attrs["quick"]) not in (0, 1):
        c.fail("attrs.quick", f"expected 0 or 1, got {ds.attrs['quick']}")
    fitted = c.labels(ds, "fitted_model", "")
    c.labels(ds, "origin_list", "")
    for name in ("model", "origin", "target"):
        for label in c.variable(ds, name, "", ("pair",), "text").values:
            c.name(name, str(label))
    if ds.sizes["pair"] == 0:
        c.fail("pair", "is empty: the backtest scored nothing")
    for name, low, high in (("horizon", 0.0, None), ("pit", 0.0, 1.0), ("crps", 0.0, None), ("log_score", None, None)):
        x = c.variable(ds, name, "", ("pair",), "float")
        c.values(name, x)
        if (low is not None and (x.values < low).any()) or (high is not None and (x.values > high).any()):
            c.fail(name, f"expected values from {low:g}{f' to {high:g}' if high is not None else ' up'}")
    c.values("max_rhat", c.variable(ds, "max_rhat", "", ("fitted_model", "origin_list"), "float"))
    c.variable(ds, "divergences", "", ("fitted_model", "origin_list"), "count")
    models = {str(m) for m in ds["model"].values}
    if models - set(fitted):
        c.fail("model", f"names a model that is not fitted: {sorted(models - set(fitted))[0]!r}")
    if set(fitted) - models:
        c.fail("fitted_model", f"{sorted(set(fitted) - models)[0]!r} has no scored pair")
