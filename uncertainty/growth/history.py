"""Compute histories: HPCG and TOP500 (HPL) leaders, record series of AI hardware, user CSVs.

The CSVs in ``uncertainty/data/`` (provenance in its README) hold the leader of
every list; :func:`load_growth_data` turns a series name (``hpcg``, ``hpl``)
or a user CSV with columns ``year,flops`` into the data the growth models fit.
Times are decimal years (a list ``YYYY-MM`` sits at ``YYYY + (MM - 0.5) / 12``),
performance is FLOP/s.
"""

from __future__ import annotations

import bisect
import csv
import math
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

import numpy as np

from ..choices import TARGET_NAMES
from ..errors import DataError
from ..userfiles import MiB, read_user_text

__all__ = [
    "SERIES",
    "SAME_MEASUREMENT",
    "Series",
    "GrowthData",
    "load_growth_data",
    "builtin_series",
    "read_csv_series",
    "MAX_CSV_BYTES",
    "MAX_ROWS",
]

SERIES = TARGET_NAMES  # the built-in targets (uncertainty.growth.targets)
UNITS = {"FLOP/s": 1.0, "GFLOP/s": 1e9, "TFLOP/s": 1e12, "PFLOP/s": 1e15, "EFLOP/s": 1e18}  # of a user CSV
PLAUSIBLE = (1e6, 1e30)  # FLOP/s a fastest computer has had (1e6: the 1960s) or may have this century
_PFLOPS = 1e15
SAME_MEASUREMENT = 0.005  # values of one system within 0.5% are one measurement


@dataclass(frozen=True)
class Series:
    """One benchmark series: a value (FLOP/s) per list, with the list's label and system."""

    name: str
    labels: tuple[str, ...]
    year: np.ndarray  # decimal years
    flops: np.ndarray  # FLOP/s
    systems: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.labels)

    def _take(self, keep) -> Series:
        idx = np.flatnonzero(np.asarray(keep, dtype=bool))
        return replace(
            self,
            labels=tuple(self.labels[i] for i in idx),
            year=self.year[idx],
            flops=self.flops[idx],
            systems=tuple(self.systems[i] for i in idx),
        )

    def until(self, year: int) -> Series:
        """Lists of calendar year ``year`` or earlier."""
        return self._take(np.floor(self.year) <= year)

    def after(self, year: int) -> Series:
        """Lists after calendar year ``year``."""
        return self._take(np.floor(self.year) > year)

    def measurements(self, tolerance: float = SAME_MEASUREMENT) -> Series:
        """Each distinct measurement once, at its first list.

        A leader that stays on top for several lists repeats the same measurement;
        counting it again would treat a step function as independent evidence. A value
        equal to an earlier one, or within ``tolerance`` (relative) of an earlier value of
        the same system, is a repeat: the lists round the same result differently (Tianhe-2's
        HPL 33.86 and 33.863 PF, the K computer's HPCG 0.6027 and 0.603 PF).
        """
        seen: set[float] = set()  # every kept value
        by_system: dict[str, list[float]] = {}  # each system's kept values, sorted
        keep = []
        for value, system in zip(self.flops, self.systems, strict=True):
            value = float(value)
            mine = by_system.setdefault(system, [])
            i = bisect.bisect_left(mine, value)
            # the nearest kept values of the system below and above are the only ones that can be within
            # tolerance (the gap grows faster than the tolerance): O(log n) a row, not O(n)
            near = mine[max(i - 1, 0) : i + 1]
            repeat = value in seen or any(abs(value - v) <= tolerance * max(value, v) for v in near)
            keep.append(not repeat)
            if not repeat:
                seen.add(value)
                mine.insert(i, value)
        return self._take(keep)

    @property
    def log2_flops(self) -> np.ndarray:
        return np.log2(self.flops)


@dataclass(frozen=True)
class GrowthData:
    """What a growth model fits.

    ``trend``: the series whose log2 FLOP/s follows the growth trend (HPL leaders, or a user
    CSV). ``practical``: for the ``hpcg`` target, the HPCG leaders, modelled as the trend
    times an efficiency ratio; ``None`` when the target is the trend series itself.
    """

    target: str
    trend: Series
    practical: Series | None = None

    @property
    def target_series(self) -> Series:
        return self.practical if self.practical is not None else self.trend

    @property
    def first_year(self) -> float:
        return float(min(s.year.min() for s in self.series))

    @property
    def last_year(self) -> float:
        return float(max(s.year.max() for s in self.series))

    @property
    def series(self) -> tuple[Series, ...]:
        return (self.trend,) if self.practical is None else (self.trend, self.practical)

    def until(self, year: int) -> GrowthData:
        return GrowthData(
            self.target, self.trend.until(year), None if self.practical is None else self.practical.until(year)
        )

    def measurements(self) -> GrowthData:
        prac = None if self.practical is None else self.practical.measurements()
        return GrowthData(self.target, self.trend.measurements(), prac)


YEARS = (1940, 2200)  # the years a row of a user series may carry
# a user CSV is refused unread above MAX_CSV_BYTES and, before any parsing, above MAX_ROWS data rows: the
# benchmark histories have 24 and 66 lists, and the growth fits' cost grows with the rows
MAX_CSV_BYTES = 4 * MiB
MAX_ROWS = 10_000


def _list_year(label: str) -> float:
    year, month = label.split("-")
    return int(year) + (int(month) - 0.5) / 12.0


def _read_rows(filename: str) -> list[dict[str, str]]:
    text = (resources.files("uncertainty") / "data" / filename).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


def builtin_series(name: str) -> Series:
    """The leaders of every list of ``hpcg`` (HPCG result) or ``hpl`` (TOP500 Rmax)."""
    if name == "hpcg":
        rows = [r for r in _read_rows("hpcg_top.csv") if r["rank"] == "1"]
        column = "hpcg_pflops"
    elif name == "hpl":
        rows = _read_rows("top500_top.csv")
        column = "rmax_pflops"
    else:
        raise DataError(name, None, "unknown built-in benchmark (expected hpcg or hpl)")
    return Series(
        name=name,
        labels=tuple(r["list"] for r in rows),
        year=np.array([_list_year(r["list"]) for r in rows]),
        flops=np.array([float(r[column]) * _PFLOPS for r in rows]),
        systems=tuple(r["system"] for r in rows),
    )


def _unit_scale(path: Path, key: str, unit: str) -> float:
    """FLOP/s per unit of ``unit`` (one of :data:`UNITS`), or a one-line error naming ``key``."""
    if unit not in UNITS:
        raise DataError(path, key, f"unknown unit {unit!r} (expected one of {', '.join(UNITS)})")
    return UNITS[unit]


def read_csv_series(path: str | Path, unit: str | None = None) -> Series:
    """A user series from a CSV with a header ``year,flops`` (decimal year, FLOP/s) and optional columns
    ``unit`` (each row's unit, one of :data:`UNITS`) and ``system`` (so a leader's repeated measurement
    counts once, as in the built-in series); ``unit`` is the unit of a CSV without a unit column
    (default FLOP/s)."""
    path = Path(path)
    text = read_user_text(path, DataError, "a growth CSV", MAX_CSV_BYTES)  # a spreadsheet's byte-order mark dropped
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if len(lines) - 1 > MAX_ROWS:
        raise DataError(path, None, f"has {len(lines) - 1} data rows, over the limit of {MAX_ROWS}")
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None:
        raise DataError(path, None, "is empty; expected a header 'year,flops' and rows")
    header = [h.strip().lower() for h in header]
    if "year" not in header or "flops" not in header:
        raise DataError(path, "header", f"expected columns 'year' and 'flops', got {','.join(header)!r}")
    iy, iflops = header.index("year"), header.index("flops")
    iunit = header.index("unit") if "unit" in header else None
    isystem = header.index("system") if "system" in header else None  # tells a repeat from a new measurement
    if iunit is not None and unit is not None:
        raise DataError(path, "unit", "the CSV has a unit column; drop --unit")
    scale = _unit_scale(path, "--unit", unit or "FLOP/s")
    years, flops, systems = [], [], []
    for n, row in enumerate(reader, start=2):
        if len(row) != len(header):
            raise DataError(path, f"line {n}", f"expected {len(header)} fields, got {len(row)}")
        try:
            y, f = float(row[iy]), float(row[iflops])
        except ValueError:
            raise DataError(path, f"line {n}", f"not a number: {row[iy]!r}, {row[iflops]!r}") from None
        if not (math.isfinite(y) and math.isfinite(f)):
            raise DataError(path, f"line {n}", "values must be finite")
        if f <= 0:
            raise DataError(path, f"line {n}", f"flops must be > 0, got {f:g}")
        given = f
        f *= scale if iunit is None else _unit_scale(path, f"line {n}", row[iunit].strip())
        if not math.isfinite(f):
            raise DataError(path, f"line {n}", f"flops {given:g} in its unit is beyond float64 (1.8e308 FLOP/s)")
        if not YEARS[0] <= y <= YEARS[1]:
            raise DataError(path, f"line {n}", f"year {y:g} is outside {YEARS[0]}-{YEARS[1]} (electronic computers)")
        years.append(y)
        flops.append(f)
        systems.append(row[isystem].strip() if isystem is not None else f"row {n}")
    if len(years) < 3:
        raise DataError(path, None, f"has {len(years)} data rows; a growth fit needs at least 3")
    order = np.argsort(years, kind="stable")
    return Series(
        name=str(path),
        labels=tuple(f"{years[i]:g}" for i in order),
        year=np.asarray(years)[order],
        flops=np.asarray(flops)[order],
        systems=tuple(systems[i] for i in order),
    )


def magnitude_warning(data: GrowthData) -> str | None:
    """A line when a series' values are implausible as FLOP/s of the fastest computers (a CSV in PFLOP/s
    read as FLOP/s, say); ``None`` when they are plausible."""
    low, high = min(float(s.flops.min()) for s in data.series), max(float(s.flops.max()) for s in data.series)
    if PLAUSIBLE[0] <= low and high <= PLAUSIBLE[1]:
        return None
    return (
        f"{data.target}: values from {low:g} to {high:g} FLOP/s are implausible for the fastest computers "
        f"({PLAUSIBLE[0]:g} to {PLAUSIBLE[1]:g}); is the unit right? (--unit {'|'.join(UNITS)}, or a 'unit' column)"
    )


def load_growth_data(series: str, unit: str | None = None) -> GrowthData:
    """``hpcg`` (HPL trend + HPCG efficiency), ``hpl``, a record series of AI hardware (``ai-cluster``,
    ``accelerator``, ``budget``: :mod:`uncertainty.growth.records`), or a path to a ``year,flops`` CSV
    (values in ``unit``, default FLOP/s, or a ``unit`` column)."""
    if unit is not None and series in SERIES:
        raise DataError("--unit", None, f"applies to a CSV series, not the built-in '{series}'")
    if series == "hpcg":
        return GrowthData("hpcg", builtin_series("hpl"), builtin_series("hpcg"))
    if series == "hpl":
        return GrowthData("hpl", builtin_series("hpl"))
    if series in SERIES:
        from . import records

        build = {
            "ai-cluster": records.ai_cluster_series,
            "accelerator": records.accelerator_series,
            "budget": records.price_performance_series,
        }
        return GrowthData(series, build[series]())
    if series.endswith(".csv") or Path(series).exists():
        return GrowthData(series, read_csv_series(series, unit))
    raise DataError(series, None, f"unknown series (expected {', '.join(SERIES)} or a CSV file 'year,flops')")
