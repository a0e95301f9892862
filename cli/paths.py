"""`attribution paths`: the journeys as a ChannelAttribution paths table."""

from __future__ import annotations

import click

from attribution.api import summarise
from attribution.cli.options import (
    InputOptions,
    echo_all,
    emit,
    input_options,
    output_format,
    output_options,
)
from attribution.text import render_table, summary_text


@click.command("paths")
@input_options
@output_options
def command(inputs: InputOptions, fmt: str | None, output: str | None) -> None:
    """Write the distinct paths of INPUT with their conversions, value and nulls.

    The layout is ChannelAttribution's (path, total_conversions,
    total_conversion_value, total_null; channels joined by ' > '), so the
    journeys can be fed to other tools. Default format: csv. Conversions with
    no touch in their window have no path: the summary on stderr counts them.
    """
    fmt = output_format(output, fmt, default="csv")  # fails before the input is read
    journeys = inputs.load()
    table = journeys.to_paths_table()
    # The layout has no row for a conversion without a path, nor a way to mark
    # touches at one instant: say what the table leaves out.
    messages = [summary_text(summarise(journeys))]
    lost = journeys.unattributed
    if lost.conversions:
        messages.append(
            f"note: {lost.conversions:,.0f} unattributed conversions (worth {lost.value:,.2f}) "
            "have no touch in their window, so no path: the table leaves them out"
        )
    if journeys.has_ties:
        messages.append(
            "note: touches at the same instant are listed by channel name; "
            "the paths table cannot mark them as tied"
        )
    echo_all(messages, output=output)
    emit(table, fmt=fmt, output=output, table=lambda: render_table(table))
