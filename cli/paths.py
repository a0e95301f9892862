"""`attribution paths`: the journeys as a ChannelAttribution paths table."""

from __future__ import annotations

import click

from attribution.cli.options import emit, input_options, output_options, render_table


@click.command("paths")
@input_options
@output_options
def command(inputs, fmt, output) -> None:
    """Write the distinct paths of INPUT with their conversions, value and nulls.

    The layout is ChannelAttribution's (path, total_conversions,
    total_conversion_value, total_null; channels joined by ' > '), so the
    journeys can be fed to other tools. Default format: csv.
    """
    table = inputs.load().to_paths_table()
    emit(
        table,
        fmt=fmt or (None if output else "csv"),
        output=output,
        table=lambda: render_table(table),
    )
