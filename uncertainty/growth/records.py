"""Record series of AI hardware from Epoch AI's datasets (copies in ``uncertainty/data/``, provenance in its
README): the largest AI supercomputer, the fastest ML accelerator, the best price-performance.

A record series keeps, in date order, each row that beats every earlier one: the best available at
each date is then a step function that changes only at these rows, and the growth models fit the steps.
Dates are ISO ``YYYY-MM-DD``, placed at the middle of their day: ``YYYY + (day of year - 0.5) / days in
the year``. Rows without a date or without the value are left out (the README of the data says how many).
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Iterable
from importlib import resources

import numpy as np

from .history import Series

__all__ = [
    "AI_CLUSTER_FILTERS",
    "decimal_year",
    "record_rows",
    "ai_cluster_series",
    "accelerator_series",
    "price_performance_series",
]

Row = dict[str, str]

# the rows of ai_supercomputers.csv that count as one AI supercomputer in operation
AI_CLUSTER_FILTERS = {
    "single_cluster": ("Yes",),  # one connected cluster, not several sites added up
    "certainty": ("Confirmed", "Likely"),  # Epoch's judgement that the system exists as described
    "include_in_standard_analysis": ("TRUE",),  # Epoch's own filter for its trend analyses
}


def decimal_year(date: str) -> float:
    """``YYYY-MM-DD`` as a decimal year at the middle of that day (2025-07-22 -> 2025.5548)."""
    day = dt.date.fromisoformat(date)
    start = dt.date(day.year, 1, 1)
    days = (dt.date(day.year + 1, 1, 1) - start).days
    return day.year + ((day - start).days + 0.5) / days


def _rows(filename: str) -> list[Row]:
    text = (resources.files("uncertainty") / "data" / filename).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


def record_rows(rows: Iterable[Row], date: str, value: Callable[[Row], float | None]) -> list[tuple[Row, float]]:
    """The rows that set a record: in order of ``row[date]`` (rows of one date: the largest value first),
    each whose ``value(row)`` beats every earlier value. Rows with no date, or a value of ``None``, are
    skipped."""
    dated = [(r, value(r)) for r in rows if r.get(date)]
    dated = [(r, v) for r, v in dated if v is not None and v > 0]
    dated.sort(key=lambda rv: (rv[0][date], -rv[1]))
    best, out = 0.0, []
    for row, v in dated:
        if v > best:
            best = v
            out.append((row, v))
    return out


def _number(text: str) -> float | None:
    try:
        return float(text) if text.strip() else None
    except ValueError:
        return None


def _series(name: str, records: list[tuple[Row, float]], date: str, system: str) -> Series:
    return Series(
        name=name,
        labels=tuple(r[date] for r, _ in records),
        year=np.array([decimal_year(r[date]) for r, _ in records]),
        flops=np.array([v for _, v in records]),
        systems=tuple(r[system] for r, _ in records),
    )


def ai_cluster_series() -> Series:
    """The largest AI supercomputer in operation at each date: 16-bit peak OP/s of the whole system
    (``op_s_16bit``) at its ``first_operational`` date, over the rows that pass :data:`AI_CLUSTER_FILTERS`."""
    rows = [r for r in _rows("ai_supercomputers.csv") if all(r[k] in ok for k, ok in AI_CLUSTER_FILTERS.items())]
    records = record_rows(rows, "first_operational", lambda r: _number(r["op_s_16bit"]))
    return _series("ai-cluster", records, "first_operational", "name")


def accelerator_series() -> Series:
    """The fastest ML accelerator chip at each release date: 16-bit tensor peak OP/s per chip
    (``tensor_fp16_bf16_flops`` of ``ml_hardware.csv``)."""
    records = record_rows(_rows("ml_hardware.csv"), "release_date", lambda r: _number(r["tensor_fp16_bf16_flops"]))
    return _series("accelerator", records, "release_date", "name")


def _per_dollar(flops: str, price: str) -> float | None:
    f, p = _number(flops), _number(price)
    return None if f is None or p is None or p <= 0 else f / p


def price_performance_series() -> Series:
    """The best price-performance at each release date: 32-bit peak FLOP/s per US dollar of release price.

    GPUs of ``gpu_price_performance.csv`` (2005-2021, prices in 2020 dollars) and, after its last priced
    release, the priced chips of ``ml_hardware.csv`` (release prices in dollars of the day). 32-bit,
    because it is the one precision priced across the whole span (16-bit tensor units arrive in 2017)."""
    gpus = [r for r in _rows("gpu_price_performance.csv") if r["release_date"] and _number(r["price_usd_2020"])]
    for r in gpus:
        r["name"] = r["product"]
    last = max(r["release_date"] for r in gpus)
    later = [r for r in _rows("ml_hardware.csv") if r["release_date"] > last]
    records = record_rows(
        [*gpus, *later],
        "release_date",
        lambda r: _per_dollar(r["fp32_flops"], r.get("price_usd_2020") or r.get("release_price_usd", "")),
    )
    return _series("budget", records, "release_date", "name")
