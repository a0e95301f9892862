"""`attribution channels`: which channel each source / medium / campaign gets, and how often."""

from __future__ import annotations

import click
import polars as pl

from attribution.channels import Channels, audit
from attribution.cli.options import InputOptions, emit, input_options, output_options, step
from attribution.readers import TaggedEvents
from attribution.text import render_table


@click.command("channels")
@input_options
@output_options
def command(inputs: InputOptions, fmt: str | None, output: str | None) -> None:
    """Audit the channel rules on INPUT: every distinct source, medium and campaign,
    the channel it gets, its touches and their share, biggest first.

    With --from ga4 the touches are sessions. Event files need their traffic
    columns (--source-col, --medium-col, --campaign-col; default source, medium,
    campaign). Look for what lands in Unassigned, then fix a copy of the rules
    (--channel-rules FILE; the format is in docs/inputs.md).
    """
    reader = inputs.reader
    if reader is None:  # plain event files: their source and medium columns, GA4's rules
        reader = TaggedEvents(
            channels=Channels(),
            columns=inputs.columns,
            conversion_event=inputs.conversion_event,
            time_unit=inputs.time_unit,
            delimiter=inputs.delimiter,
        )
    with step(f"reading the traffic of {inputs.label}"):
        table = audit(reader.touches(inputs.source))

    def text() -> str:
        shown = table.with_columns(
            pl.format("{}%", (pl.col("share") * 100).round(1)).alias("share")
        )
        return render_table(shown)

    emit(table, fmt=fmt, output=output, table=text)
