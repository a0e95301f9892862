"""The report's HTML tables: sortable frames and a shaded matrix, every text escaped."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from attribution.kpis import format_kpi

__all__ = ["e", "heat_matrix", "table"]


def e(text: Any) -> str:
    """``text`` escaped for HTML text and attribute values (quotes too)."""
    return html.escape(str(text), quote=True)


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _cell_text(column: str, value: Any, kind: str | None) -> str:
    if _empty(value):
        return ""
    if not isinstance(value, (int, float)):
        return str(value)
    name = column
    if kind in ("share", "roi"):
        name = "_share"
    elif kind in ("value", "cpa", "roas", "conversions"):
        name = "average_"  # always two decimals: fractional credit next to whole credit
    return format_kpi(name, float(value))


def table(frame: pl.DataFrame, *, kind: str | None = None) -> str:
    """A sortable HTML table; numbers keep their raw value in ``data-v`` for sorting.

    ``kind`` (``share``, ``roi``, ``value``, ``cpa``, ``roas``, ``conversions``)
    says how the numbers read: shares as percents, the others with two
    decimals; a ``cost`` column always reads as money. Without it each number
    is formatted as the KPI of its column's name.
    """
    head = "".join(f"<th>{e(c)}</th>" for c in frame.columns)
    numeric = [dt.is_numeric() for dt in frame.dtypes]
    rows = []
    for row in frame.iter_rows():  # a loop over a displayed table's rows (channels, paths)
        cells = []
        for col, value, is_num in zip(frame.columns, row, numeric, strict=True):
            text = e(_cell_text(col, value, kind if col != "cost" else "value"))
            if is_num and not _empty(value):
                cells.append(f'<td data-v="{float(value)!r}">{text}</td>')
            else:
                cells.append(f"<td>{text}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<table class="sortable"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def heat_matrix(
    rows: Sequence[str],
    columns: Sequence[str],
    cells: Mapping[tuple[str, str], float],
    *,
    corner: str,
    labels: Mapping[str, str] | None = None,
    rgb: tuple[int, int, int] = (0, 114, 178),
) -> str:
    """A matrix of probabilities (0 to 1), each cell shaded by its value.

    ``cells`` maps ``(row, column)`` to a probability; missing pairs are
    empty cells. ``labels`` gives the text shown for a row or column id.
    """
    shown = labels or {}
    head = f"<th>{e(corner)}</th>" + "".join(f"<th>{e(shown.get(c, c))}</th>" for c in columns)
    r, g, b = rgb
    body = []
    for a in rows:
        out = []
        for col in columns:
            p = cells.get((a, col))
            if p is None:
                out.append('<td class="heat"></td>')
                continue
            shade = f"rgba({r},{g},{b},{0.08 + 0.8 * max(0.0, min(1.0, p)):.3f})"
            color = "#fff" if p > 0.55 else "inherit"  # dark cells need light text
            out.append(
                f'<td class="heat" data-v="{p!r}" style="background:{shade};color:{color}">'
                f"{100 * p:.1f}%</td>"
            )
        body.append(f"<tr><td>{e(shown.get(a, a))}</td>{''.join(out)}</tr>")
    return (
        f'<table class="sortable matrix"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )
