"""`attribution kpis`: the omnichannel KPIs of the journeys."""

from __future__ import annotations

import click
import polars as pl

from attribution.cli.options import (
    echo_err,
    emit,
    input_options,
    kpi_options,
    output_options,
    render_table,
)
from attribution.kpis import KPIs, compute_kpis, format_kpi


def _pretty(frame: pl.DataFrame) -> pl.DataFrame:
    """Numbers as right-aligned text: rates in percent, whole counts without decimals."""
    out = {}
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


@click.command("kpis")
@input_options
@kpi_options
@output_options
def command(inputs, kinds, top, fmt, output) -> None:
    """Omnichannel KPIs of INPUT: conversion rates, cross-channel share, touches
    and days to conversion, order value by customer segment, ROPO, top paths.

    Takes the same input options as `run`. The csv/json/parquet output is a long
    table kpi, segment, value (unavailable KPIs have an empty value); JSON adds
    the tables behind it and the reasons. Formulas: docs/kpis.md.
    """
    kpis = compute_kpis(inputs.load(), channel_kinds=kinds, top=top)
    for note in kpis.notes:
        echo_err(f"note: {note}")
    emit(
        kpis.long(),
        fmt=fmt,
        output=output,
        table=lambda: render_kpis(kpis),
        json_doc=kpis.to_dict,
    )
