"""`attribution report`: one self-contained HTML file with KPIs, credits and charts."""

from __future__ import annotations

import click

from attribution.cli.options import (
    all_inputs,
    cost_options,
    echo_err,
    input_options,
    kpi_options,
    model_option,
    step,
)
from attribution.report import write_report
from attribution.spec import make_model


@click.command("report")
@input_options
@model_option
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False),
    help="The HTML file to write (whole or not at all).",
)
@cost_options
@kpi_options
@click.option("--title", default="Attribution report", show_default=True)
def command(inputs, kinds, top, models, output, costs, title) -> None:
    """Write an HTML report of INPUT to -o FILE: the KPIs, every model's credit
    side by side, a chart comparing the models per channel, the path length
    distribution, the top paths and the Markov transition graph.

    The file is self-contained (styles and SVG charts inline, no network needed
    to open it), so it can be sent as it is. Takes the same input options as
    `run`.
    """
    for spec in models:  # fail on a bad spec before reading a large input
        make_model(spec)
    journeys = inputs.load()
    with step("writing the report"):
        write_report(
            output,
            journeys,
            list(models) if models else None,
            inputs=all_inputs(),
            costs=costs,
            channel_kinds=kinds,
            top=top,
            title=title,
            source=inputs.label,
        )
    echo_err(f"wrote {output}")
