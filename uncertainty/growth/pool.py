"""Pools of technology histories for hindcasts across technologies (Farmer & Lafond 2016).

A technology is a series of (year, value) with a direction: a cost falls (the Santa Fe Performance
Curve Database, ``pcdb``: unit prices and costs), a performance rises (FLOP/s, transistors per chip).
Every series is turned into log performance, ``y = log(value)`` for a performance and ``y = -log(value)``
for a cost (natural logs), so progress is a rising ``y`` in every technology.

Pools (copies in ``uncertainty/data/``, provenance in its README):

- ``pcdb``: the 87 files of the performance curve database (rows without a positive number dropped);
- ``computing``: the TOP500 and HPCG leaders, transistors per chip and single-thread performance
  (microprocessor records, Rupp's 50 years of trend data), DRAM and hard-disk price, transistor price
  (pcdb), GPU price-performance, ML accelerators and AI supercomputers (Epoch AI).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from ..errors import DataError

__all__ = ["Technology", "POOLS", "load_pool", "pcdb_pool", "computing_pool", "improving"]

POOLS = ("pcdb", "computing")


@dataclass(frozen=True)
class Technology:
    """One technology's history: decimal years and log performance (natural log; rising is progress)."""

    name: str
    unit: str  # what the raw values were, e.g. "Price (2005 USD/thousand bits)"
    year: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.year)


def _data(*parts: str):
    return resources.files("uncertainty").joinpath("data", *parts)


def _pcdb_file(name: str, text: str) -> Technology | None:
    """A pcdb CSV: the first column the unit cost (its unit in the header), the second the year."""
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        return None
    points = {}
    for row in rows[1:]:
        try:
            value, year = float(row[0]), float(row[1])
        except (ValueError, IndexError):
            continue  # "NA" and empty cells
        if value > 0 and math.isfinite(value) and math.isfinite(year):
            points.setdefault(year, value)  # a repeated year: the first row
    if len(points) < 2:
        return None
    years = np.array(sorted(points))
    return Technology(name, rows[0][0].strip(), years, -np.log([points[t] for t in years]))


def pcdb_pool() -> list[Technology]:
    """Every technology of the performance curve database, in file-name order."""
    folder = _data("pcdb")
    out = []
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".csv"):
            tech = _pcdb_file(entry.name.removesuffix(".csv"), entry.read_text(encoding="utf-8", errors="replace"))
            if tech is not None:
                out.append(tech)
    return out


def _records(name: str, unit: str, years, values) -> Technology:
    """The running record of (year, value) rows: each row that beats every earlier one, at its year."""
    order = np.lexsort((-np.asarray(values, dtype=float), np.asarray(years, dtype=float)))
    best, ty, tv = -math.inf, [], []
    for i in order:
        if values[i] > best:
            best = values[i]
            if ty and years[i] == ty[-1]:
                tv[-1] = math.log(values[i])
            else:
                ty.append(float(years[i]))
                tv.append(math.log(values[i]))
    return Technology(name, unit, np.array(ty), np.array(tv))


def _microprocessor(file: str, column: str, name: str, unit: str) -> Technology:
    rows = list(csv.DictReader(_data("microprocessors", file).read_text(encoding="utf-8").splitlines()))
    rows = [r for r in rows if r.get("year") and r.get(column)]
    years = [float(r["year"]) for r in rows]
    values = [float(r[column]) for r in rows]
    return _records(name, unit, years, values)


def computing_pool() -> list[Technology]:
    """The computing technologies: leaders and records of performance, and falling prices of computing parts."""
    from .history import load_growth_data

    out = []
    for target, name in (
        ("hpl", "TOP500 #1 (HPL)"),
        ("hpcg", "HPCG #1"),
        ("budget", "GPU price-performance"),
        ("accelerator", "ML accelerators"),
        ("ai-cluster", "AI supercomputers"),
    ):
        s = load_growth_data(target).target_series.measurements()
        out.append(Technology(name, target, s.year, np.log(s.flops)))
    out.append(_microprocessor("transistors.csv", "transistors", "Transistors per chip", "thousands per chip"))
    out.append(_microprocessor("specint.csv", "specint", "Single-thread performance", "SPECint x 1000"))
    pcdb = {t.name: t for t in pcdb_pool()}
    for name, label in (
        ("DRAM", "DRAM price"),
        ("Hard_Disk_Drive", "Hard disk price"),
        ("Transistor", "Transistor price"),
    ):
        t = pcdb[name]
        out.append(Technology(label, t.unit, t.year, t.y))
    return out


def _read_user_file(path: Path) -> Technology:
    """A user CSV ``year,value`` (a performance: higher is better) as one technology."""
    from .history import read_csv_series

    s = read_csv_series(path)
    years, first = np.unique(s.year, return_index=True)  # a repeated year: its first row
    return Technology(path.stem, "a user CSV", years, np.log(s.flops[first]))


def load_pool(names: list[str]) -> list[Technology]:
    """``pcdb``, ``computing``, or CSV files ``year,flops`` (one technology each), in the order given; a
    technology with the same data as an earlier one is left out."""
    out: list[Technology] = []
    for name in names:
        if name == "pcdb":
            out += pcdb_pool()
        elif name == "computing":
            out += computing_pool()
        elif name.endswith(".csv") or Path(name).exists():
            out.append(_read_user_file(Path(name)))
        else:
            raise DataError(name, "--pool", f"unknown pool (expected {', '.join(POOLS)} or CSV files 'year,flops')")
    unique, seen, names = [], set(), set()
    for tech in out:  # a technology in two pools (DRAM in pcdb and computing) counts once
        key = (tech.year.tobytes(), tech.y.tobytes())
        if key in seen:
            continue
        seen.add(key)
        name, n = tech.name, 2
        while name in names:  # two different series of one name (a CSV named DRAM.csv beside pcdb's)
            name, n = f"{tech.name} ({n})", n + 1
        names.add(name)
        unique.append(tech if name == tech.name else Technology(name, tech.unit, tech.year, tech.y))
    return unique


def improving(tech: Technology, level: float = 0.10) -> tuple[bool, float]:
    """Farmer & Lafond's filter: whether a one-sided t-test of the mean yearly change of ``y`` rejects
    "no progress" at ``level`` (the change per year, so irregular years count by their length); with the
    p-value. Needs at least three points."""
    from scipy import stats

    dt = np.diff(tech.year)
    dy = np.diff(tech.y)
    ok = dt > 0
    dt, dy = dt[ok], dy[ok]
    if len(dy) < 2:
        return False, 1.0
    rate = dy / dt  # per year
    weights = dt / dt.sum()
    mean = float(np.sum(weights * rate))  # = (y_last - y_first) / span
    var = float(np.sum(dt * (rate - mean) ** 2) / (len(dy) - 1))  # per-year variance of the walk
    se = math.sqrt(var / dt.sum()) if var > 0 else 0.0
    if se == 0.0:
        return mean > 0, 0.0 if mean > 0 else 1.0
    p = float(stats.t.sf(mean / se, len(dy) - 1))
    return p < level, p
