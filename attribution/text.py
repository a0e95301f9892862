"""Plain-text renderers for terminals: tables that fit the width, the KPIs and the run summary.

A table never wraps mid-row: when its columns are wider than the terminal
(80 columns when the width is unknown, ``COLUMNS`` when set), the columns
after its leading text columns (the channel, the model) go into blocks that
each repeat those; a text that alone is too wide is cut with an ellipsis.
Numbers read as everywhere else (:mod:`attribution.labels`): counts without
decimals when every one is whole, shares as percentages, money with two
decimals.
"""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import polars as pl

from attribution.kpis import KPIs, format_kpi
from attribution.labels import Kind, column_texts, kind_of

if TYPE_CHECKING:
    from attribution.api import AttributionResult

__all__ = ["render_kpis", "render_table", "summary_text", "terminal_width"]

_MIN_WIDTH = 20
_GAP = "  "


def terminal_width() -> int:
    """The terminal's width in columns: ``COLUMNS`` when set, else the terminal's own,
    else 80 (a pipe or a file)."""
    return shutil.get_terminal_size((80, 24)).columns


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _column_texts(
    frame: pl.DataFrame,
    column: str,
    kind: Kind | None,
    kinds: Mapping[str, Kind],
    digits: int,
) -> tuple[list[str], bool]:
    """A column's cells as text, and whether it is numeric (right-aligned)."""
    col = frame[column]
    if not col.dtype.is_numeric():
        return ["" if v is None else str(v) for v in col.to_list()], False
    chosen: Kind = kinds.get(column) or kind or kind_of(column)
    values = col.to_list()
    if chosen == "number" and not all(v is None or float(v).is_integer() for v in values):
        return ["" if v is None or v != v else f"{v:,.{digits}f}" for v in values], True
    return column_texts(values, chosen), True


def render_table(
    frame: pl.DataFrame,
    digits: int = 2,
    *,
    width: int | None = None,
    kind: Kind | None = None,
    kinds: Mapping[str, Kind] | None = None,
) -> str:
    """A plain aligned text table that fits ``width`` columns.

    Parameters
    ----------
    frame : DataFrame
        Text columns are left-aligned, numbers right-aligned.
    digits : int
        Decimals of a number the engine does not know the kind of, when not whole.
    width : int, optional
        The width to fit; default :func:`terminal_width`. ``0`` for no limit.
    kind, kinds : Kind, mapping of column to Kind
        How numbers read (:data:`attribution.labels.Kind`): ``kinds[column]``,
        else ``kind`` (every numeric column of a wide table, whose columns are
        models), else the kind of the column's name.
    """
    limit = terminal_width() if width is None else width
    if limit:
        limit = max(limit, _MIN_WIDTH)
    columns = frame.columns
    body: list[list[str]] = []
    numeric: list[bool] = []
    for column in columns:  # a loop over columns
        texts, is_num = _column_texts(frame, column, kind, kinds or {}, digits)
        body.append(texts)
        numeric.append(is_num)
    cells = [[column, *texts] for column, texts in zip(columns, body, strict=True)]
    widths = [max(len(t) for t in col) for col in cells]
    keys = 0
    while keys < len(columns) and not numeric[keys]:
        keys += 1
    # an all-text table (the model list) keeps its first column as the key
    keys = min(keys, max(len(columns) - 1, 0)) if any(numeric) else min(len(columns), 1)
    total = sum(widths) + len(_GAP) * (len(widths) - 1)
    if not limit or total <= limit or not columns:
        return _block(cells, widths, numeric, list(range(len(columns))))
    # leading text columns repeat in every block; cut them when they alone leave no room
    rest = list(range(keys, len(columns)))
    # the room the widest other column needs beside them (text can wrap into half)
    need = [widths[i] if numeric[i] else min(widths[i], limit // 2) for i in rest]
    room = limit - (max(need, default=0) + len(_GAP) if rest else 0)
    key_width = sum(widths[:keys]) + len(_GAP) * max(keys - 1, 0)
    if keys and key_width > room:
        excess = key_width - max(room, 8 * keys)
        for i in sorted(range(keys), key=lambda i: -widths[i]):  # the widest gives first
            give = min(excess, max(widths[i] - 8, 0))
            widths[i] -= give
            excess -= give
            cells[i] = [_cut(t, widths[i]) for t in cells[i]]
        key_width = sum(widths[:keys]) + len(_GAP) * max(keys - 1, 0)
    blocks: list[list[int]] = []
    current: list[int] = []
    used = key_width
    for i in rest:
        needed = widths[i] + (len(_GAP) if used or current else 0)
        if current and used + needed > limit:
            blocks.append(current)
            current, used = [], key_width
            needed = widths[i] + (len(_GAP) if used else 0)
        if used + needed > limit:  # one column wider than the room left
            widths[i] = max(limit - used - (len(_GAP) if used else 0), 4)
            if numeric[i]:  # a number cannot be read in pieces
                cells[i] = [_cut(t, widths[i]) for t in cells[i]]
            else:  # text wraps onto more lines of its row, nothing lost
                head = _cut(cells[i][0], widths[i])
                cells[i] = [head, *(_wrap(t, widths[i]) for t in cells[i][1:])]
            needed = widths[i] + (len(_GAP) if used else 0)
        current.append(i)
        used += needed
    if current:
        blocks.append(current)
    return "\n\n".join(_block(cells, widths, numeric, [*range(keys), *block]) for block in blocks)


def _wrap(text: str, width: int) -> str:
    """``text`` in lines of at most ``width`` characters, broken at spaces where it can."""
    return "\n".join(textwrap.wrap(text, width, break_on_hyphens=False)) or text


def _block(cells: list[list[str]], widths: list[int], numeric: list[bool], shown: list[int]) -> str:
    lines = []
    rows = len(cells[0]) if cells else 0
    for k in range(rows):
        pieces = [cells[i][k].split("\n") for i in shown]  # a wrapped cell spans lines
        for line in range(max(len(p) for p in pieces) if pieces else 0):
            parts = []
            for i, piece in zip(shown, pieces, strict=True):
                text = piece[line] if line < len(piece) else ""
                parts.append(text.rjust(widths[i]) if numeric[i] else text.ljust(widths[i]))
            lines.append(_GAP.join(parts).rstrip())
        if k == 0:
            lines.append(_GAP.join("-" * widths[i] for i in shown))
    return "\n".join(lines)


def render_kpis(kpis: KPIs, *, width: int | None = None) -> str:
    """The KPIs as text: headline, customer segments, channels, top paths."""
    head = pl.DataFrame(
        {
            "kpi": list(kpis.headline),
            "value": [format_kpi(k, v) for k, v in kpis.headline.items()],
        }
    )
    parts = [render_table(head, width=width)]
    if kpis.segments.height:
        parts.append(render_table(kpis.segments, width=width))
    channels = kpis.channels
    if channels["kind"].null_count() == channels.height:
        channels = channels.drop("kind")
    parts.append(render_table(channels, width=width))
    if kpis.top_paths.height:
        parts.append(render_table(kpis.top_paths, width=width))
    reasons = sorted({f"unavailable: {why}" for why in kpis.unavailable.values()})
    tail = "\n".join([*reasons, *(f"note: {n}" for n in kpis.notes)])
    return "\n\n".join([*parts, tail]).rstrip()


def summary_text(result: AttributionResult | dict[str, Any]) -> str:
    """The run summary in one line: customers, journeys, conversions and their value,
    attributed and unattributed, and how many journeys hold tied touches."""
    s = result if isinstance(result, dict) else result.summary
    customers = ""
    if s["customers"] is not None:
        customers = f"{s['customers']:,} customers"
        if s.get("customers_without_journeys"):
            customers += f" (and {s['customers_without_journeys']:,} with no journey)"
        customers += ", "
    tied = ""
    if s.get("tied_journeys"):
        tied = (
            f"; {s['tied_journeys']:,.0f} journeys have touches at the same instant "
            "(tied touches share their positions)"
        )
    return (
        f"{customers}{s['journeys']:,.0f} journeys ({s['converting_journeys']:,.0f} converting), "
        f"{s['conversions']:,.0f} conversions worth {s['conversion_value']:,.2f}: "
        f"{s['attributed_conversions']:,.0f} attributed, "
        f"{s['unattributed_conversions']:,.0f} unattributed "
        f"(worth {s['unattributed_value']:,.2f}){tied}"
    )
