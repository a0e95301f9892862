"""Plain-text renderers for terminals: aligned tables, the KPIs and the run summary."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from attribution.kpis import KPIs, format_kpi

if TYPE_CHECKING:
    from attribution.api import AttributionResult

__all__ = ["render_kpis", "render_table", "summary_text"]


def render_table(frame: pl.DataFrame, digits: int = 2) -> str:
    """A plain aligned text table: numbers right-aligned with ``digits`` decimals."""
    cells = [list(frame.columns)]
    numeric = [dt.is_numeric() for dt in frame.dtypes]
    for row in frame.iter_rows():
        cells.append(
            [
                ""
                if v is None or (isinstance(v, float) and v != v)
                else (f"{v:,.{digits}f}" if isinstance(v, float) else str(v))
                for v in row
            ]
        )
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    lines = []
    for k, r in enumerate(cells):
        parts = [
            c.rjust(w) if numeric[i] else c.ljust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        lines.append("  ".join(parts).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _pretty(frame: pl.DataFrame) -> pl.DataFrame:
    """Numbers as right-aligned text: rates in percent, whole counts without decimals."""
    out: dict[str, pl.Series | list[str]] = {}
    for name in frame.columns:
        col = frame[name]
        if not col.dtype.is_numeric():
            out[name] = col.fill_null("")
            continue
        values = col.to_list()
        whole = all(v is None or float(v).is_integer() for v in values)
        text = ["" if v is None else format_kpi(name if not whole else "count", v) for v in values]
        width = max([len(t) for t in text] + [len(name)])
        out[name] = [t.rjust(width) for t in text]
    return pl.DataFrame(out, schema=dict.fromkeys(frame.columns, pl.String))


def render_kpis(kpis: KPIs) -> str:
    """The KPIs as text: headline, customer segments, channels, top paths."""
    head = pl.DataFrame(
        {
            "kpi": list(kpis.headline),
            "value": [format_kpi(k, v) for k, v in kpis.headline.items()],
        }
    )
    parts = [render_table(head)]
    if kpis.segments.height:
        parts.append(render_table(_pretty(kpis.segments)))
    channels = kpis.channels
    if channels["kind"].null_count() == channels.height:
        channels = channels.drop("kind")
    parts.append(render_table(_pretty(channels)))
    if kpis.top_paths.height:
        parts.append(render_table(_pretty(kpis.top_paths)))
    reasons = sorted({f"unavailable: {why}" for why in kpis.unavailable.values()})
    tail = "\n".join([*reasons, *(f"note: {n}" for n in kpis.notes)])
    return "\n\n".join([*parts, tail]).rstrip()


def summary_text(result: AttributionResult) -> str:
    """The run summary in one line: customers, journeys, conversions and their value,
    attributed and unattributed."""
    s = result.summary
    customers = f"{s['customers']:,} customers, " if s["customers"] is not None else ""
    return (
        f"{customers}{s['journeys']:,.0f} journeys ({s['converting_journeys']:,.0f} converting), "
        f"{s['conversions']:,.0f} conversions worth {s['conversion_value']:,.2f}: "
        f"{s['attributed_conversions']:,.0f} attributed, "
        f"{s['unattributed_conversions']:,.0f} unattributed "
        f"(worth {s['unattributed_value']:,.2f})"
    )
