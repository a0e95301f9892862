"""`attribution paths`: the journeys as a ChannelAttribution paths table."""

from __future__ import annotations

import click

from attribution.cli.options import InputOptions, emit, input_options, output_format, output_options
from attribution.text import render_table


@click.command("paths")
@input_options
@output_options
def command(inputs: InputOptions, fmt: str | None, output: str | None) -> None:
    """Write the distinct paths of INPUT with their conversions, value and nulls.

    The layout is ChannelAttribution's (path, total_conversions,
    total_conversion_value, total_null; channels joined by ' > '), so the
    journeys can be fed to other tools. Default format: csv.
    """
    fmt = output_format(output, fmt, default="csv")  # fails before the input is read
    table = inputs.load().to_paths_table()
    emit(table, fmt=fmt, output=output, table=lambda: render_table(table))
