"""Report tables as text: one :class:`Section` per table, rendered as a terminal table, Markdown, JSON
or CSV. Light (NumPy and pandas only), so a streamed run prints its tables without importing ArviZ."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..choices import FORMATS
from ..errors import one_line
from ..quantities import HDI_PROB

__all__ = [
    "BRAIN_COLUMNS",
    "INTERVALS_NOTE",
    "FORMATS",
    "Section",
    "render",
    "format_summary",
    "sensitivity_section",
    "tail_section",
]

INTERVALS_NOTE = (
    f"hdi {HDI_PROB:.0%}: the shortest interval holding {HDI_PROB:.0%} of the draws, in decades for brain FLOP/s "
    "(10^ that of log10 brain FLOP/s: the shortest in FLOP/s would hug the low end of draws spread over decades), "
    "in its own units for a share (within [0, 1]); 5%-95%: the equal-tailed one; the two part when the draws are "
    "skewed or multimodal, so say which you quote"
)


BRAIN_COLUMNS = ["mean", "sd", "median", "q5", "q95", "hdi_lo", "hdi_hi", "mcse_mean", "mcse_median", "ess_bulk"]
_HEADERS = {
    "q5": "5%",
    "q95": "95%",
    "hdi_lo": f"hdi {HDI_PROB:.0%} lo",
    "hdi_hi": f"hdi {HDI_PROB:.0%} hi",
    "mcse_mean": "mcse mean",
    "mcse_median": "mcse median",
    "ess_bulk": "ess bulk",
    "ess_tail": "ess tail",
    "r_hat": "r_hat",
}


# -- rendering -----------------------------------------------------------------------


def _g4(v: float) -> str:
    return "nan" if np.isnan(v) else ("never" if np.isinf(v) else f"{v:.4g}")


def _year(v: float) -> str:
    """A year; ``inf`` a quantile among draws that never cross ("never"), ``-inf`` one among draws the target
    had already reached by its last observation ("already")."""
    return "nan" if np.isnan(v) else ("never" if v == np.inf else "already" if v == -np.inf else f"{v:.1f}")


def _prob(v: float) -> str:
    return "nan" if np.isnan(v) else f"{v:.3f}"


@dataclass
class Section:
    """One table of a report: a DataFrame plus how to label and format it."""

    title: str
    table: pd.DataFrame
    index_name: str = "quantity"
    formats: dict[str, Callable[[float], str]] = field(default_factory=dict)
    note: str = ""

    def cells(self) -> tuple[list[str], list[list[str]]]:
        head = [self.index_name] + [_HEADERS.get(c, c.replace("_", " ")) for c in self.table.columns]
        rows = [[str(i)] + [self._cell(c, v) for c, v in row.items()] for i, row in self.table.iterrows()]
        return head, rows

    def _cell(self, column: str, value: Any) -> str:
        if isinstance(value, str):  # a label column (a model's name, a verdict): shown as it is
            return one_line(value)
        return self.formats.get(column, _g4)(float(value))


def sensitivity_section(table: pd.DataFrame, cuts: str = "") -> Section:
    """The top 10 of a sensitivity table (kept or streamed draws); ``cuts`` says where the tails' cut
    points came from, when not from all the draws."""
    note = (
        f"mean log10 brain FLOP/s when the parameter is in its lowest (low) or highest (high) 10%{cuts};"
        " swing = high - low, in decades"
    )
    return Section("sensitivity (top 10)", table.head(10), index_name="parameter", note=note)


def tail_section(rows: dict[int, tuple[float, float]], how: str) -> Section:
    """P(brain FLOP/s > 10^k) with its Monte Carlo standard error, ``rows = {k: (p, mcse)}``; ``how``
    says where the numbers come from."""
    table = pd.DataFrame.from_dict(
        {f"P(> 1e{k})": {"p": p, "mcse": m} for k, (p, m) in rows.items()}, orient="index", columns=["p", "mcse"]
    )
    return Section(
        "tail probabilities",
        table,
        index_name="brain FLOP/s",
        formats={"p": lambda v: f"{v:.4f}", "mcse": lambda v: f"{v:.2g}"},
        note=f"P(brain FLOP/s > threshold), {how}",
    )


def render(sections: list[Section], fmt: str = "table", header: dict[str, Any] | None = None) -> str:
    """Render report sections as a terminal table, Markdown, JSON or CSV."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    if fmt == "json":
        tables = {
            s.title: {
                "rows": [
                    {
                        s.index_name: str(i),
                        **{k: _year_json(v) if s.formats.get(k) is _year else _json_float(v) for k, v in row.items()},
                    }
                    for i, row in s.table.iterrows()
                ],
                **({"note": s.note} if s.note else {}),
            }
            for s in sections
        }
        return json.dumps({**(header or {}), "hdi_prob": HDI_PROB, "tables": tables}, indent=2, default=_json_default)
    if fmt == "csv":  # one tidy table: the section in `table`, its row label in `row`, every column once
        frames = []
        for s in sections:
            frame = s.table.reset_index(drop=True)
            frame.insert(0, "row", [str(i) for i in s.table.index])
            frame.insert(0, "table", s.title)
            frames.append(frame)
        return pd.concat(frames, ignore_index=True, sort=False).to_csv(index=False, float_format="%.10g").rstrip("\n")
    markdown = fmt == "markdown"
    lines = []
    if header:  # in Markdown a list, so that every line renders as its own line; values from files escaped
        lines += [one_line(f"- {k}: {v}" if markdown else f"{k}: {v}") for k, v in header.items()]
    for s in sections:
        head, rows = s.cells()
        if lines:
            lines.append("")
        if len(sections) > 1:
            lines += [f"## {s.title}", ""] if markdown else [f"{s.title}:"]
        if markdown:
            lines.append("| " + " | ".join(head) + " |")
            lines.append("|" + "|".join([":---"] + ["---:"] * (len(head) - 1)) + "|")
            lines += ["| " + " | ".join(r) + " |" for r in rows]
        else:
            widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]
            for r in [head] + rows:
                cells = [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)]
                lines.append("  ".join(cells))
        if s.note and markdown:  # a paragraph per line of the note: a line right under a table is a table row
            for line in s.note.splitlines():
                lines += ["", line]
        elif s.note:
            lines.append(s.note)
    return "\n".join(lines)


def format_summary(table: pd.DataFrame, fmt: str = "table", header: dict[str, Any] | None = None) -> str:
    """Render the brain-FLOP/s :func:`summary` alone."""
    return render([Section("brain FLOP/s", table)], fmt, header)


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.generic, np.ndarray)):  # attributes read back from netCDF are NumPy values
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _year_json(v: Any) -> float | str | None:
    """A year column in JSON: "never" and "already" as the table shows them (JSON has no infinities)."""
    if isinstance(v, (int, float, np.floating)) and np.isinf(v):
        return "never" if v > 0 else "already"
    return _json_float(v)


def _json_float(v: Any) -> float | str | None:
    if isinstance(v, str):
        return v
    v = float(v)
    return v if np.isfinite(v) else None
