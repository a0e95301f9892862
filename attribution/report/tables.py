"""The report's HTML tables: sortable frames and a shaded matrix, every text escaped.

Headers are the engine's names in words (:mod:`attribution.labels`) and numbers
read by their kind (counts without decimals when whole, shares in percent,
money with two decimals); the raw value stays in ``data-v`` for sorting.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from attribution.labels import LABELS, Kind, column_texts, kind_of, label

__all__ = ["e", "heat_matrix", "table"]


def e(text: Any) -> str:
    """``text`` escaped for HTML text and attribute values (quotes too)."""
    return html.escape(str(text), quote=True)


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def header_text(column: str, kind: Kind, currency: str | None) -> str:
    """A column's header: the engine's name in words, the currency after money."""
    text = label(column)
    return f"{text} ({currency})" if currency and kind == "money" else text


def table(
    frame: pl.DataFrame,
    *,
    kind: Kind | None = None,
    kinds: Mapping[str, Kind] | None = None,
    headers: Mapping[str, str] | None = None,
    currency: str | None = None,
    caption: str | None = None,
) -> str:
    """A sortable HTML table, in a box that scrolls sideways on a narrow screen.

    Each numeric column reads by its kind: ``kinds[column]``, else ``kind`` (the
    kind of every numeric column of a wide table, whose columns are models),
    else the kind of the column's name in :data:`attribution.labels.KINDS`.
    Headers are ``headers[column]``, else the column's name in words (a name the
    engine does not know, like a model label, as it is). Money columns say
    ``currency`` in their header. A ``change`` cell is marked up or down.
    """
    shown = headers or {}
    own = kinds or {}
    numeric = [dt.is_numeric() for dt in frame.dtypes]
    col_kinds: list[Kind] = []
    for col, is_num in zip(frame.columns, numeric, strict=True):
        if not is_num:
            col_kinds.append("text")
        else:
            col_kinds.append(own.get(col) or kind or kind_of(col))
    head = "".join(
        f"<th>{e(shown[c] if c in shown else _default_header(c, k, currency))}</th>"
        for c, k in zip(frame.columns, col_kinds, strict=True)
    )
    texts = [
        column_texts(frame[c].to_list(), k) if n else None
        for c, k, n in zip(frame.columns, col_kinds, numeric, strict=True)
    ]
    rows = []
    for i, row in enumerate(frame.iter_rows()):  # a loop over a shown table's rows (channels)
        cells = []
        for j, value in enumerate(row):
            column_text = texts[j]
            if column_text is None or _empty(value):
                text = "" if _empty(value) else str(value)
                cells.append(f"<td>{e(text)}</td>")
                continue
            cls = ""
            if col_kinds[j] == "change" and float(value) != 0:
                cls = ' class="up"' if float(value) > 0 else ' class="down"'
            cells.append(f'<td data-v="{float(value)!r}"{cls}>{e(column_text[i])}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    cap = f"<caption>{e(caption)}</caption>" if caption else ""
    return (
        f'<div class="scroll"><table class="sortable">{cap}<thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _default_header(column: str, kind: Kind, currency: str | None) -> str:
    if column in LABELS:
        return header_text(column, kind, currency)
    return column  # data (a model's label, a channel): as it is spelt


def heat_matrix(
    rows: Sequence[str],
    columns: Sequence[str],
    cells: Mapping[tuple[str, str], float],
    *,
    corner: str,
    labels: Mapping[str, str] | None = None,
    rgb: tuple[int, int, int] = (0, 114, 178),
) -> str:
    """A matrix of probabilities (0 to 1), each cell shaded by its value and printed.

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
        f'<div class="scroll"><table class="sortable matrix"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )
