"""`attribution plot`: a grouped bar chart of credit by channel and model."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
import polars as pl

from attribution.api import LabelledModel
from attribution.cli.options import (
    InputOptions,
    all_inputs,
    attribute_inputs,
    cost_options,
    echo_all,
    echo_err,
    input_options,
    measure_option,
    model_option,
    say_pending,
)
from attribution.compare import Measure
from attribution.costs import COST_COLUMNS, TOTAL
from attribution.plot import (
    CHART_FORMATS,
    chart_format,
    new_figure,
    plot_credits,
    require_matplotlib,
    save_chart,
    style,
)

if TYPE_CHECKING:
    from attribution.compare import Measure


@click.command("plot")
@input_options
@model_option
@cost_options
@measure_option("What the bars show; cost, cpa, roas and roi need --costs.")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False),
    help="Chart file: .png, .svg or .pdf (written whole or not at all).",
)
@click.option("--format", "fmt", type=click.Choice(CHART_FORMATS), help="Default: from -o.")
@click.option("--title", help="Chart title; default: '<measure> by channel and model'.")
@click.option("--width", type=click.FloatRange(min=1), help="Inches; default 9.")
@click.option("--height", type=click.FloatRange(min=1), help="Inches; default: fits the bars.")
@click.option("--dpi", type=click.FloatRange(min=10), default=100, show_default=True)
def command(
    inputs: InputOptions,
    models: list[LabelledModel] | None,
    costs: pl.DataFrame | None,
    measure: Measure,
    output: str,
    fmt: str | None,
    title: str | None,
    width: float | None,
    height: float | None,
    dpi: float,
) -> None:
    """Draw credit by channel and model on INPUT as a grouped bar chart.

    Channels are sorted by their mean over the models, largest at the top.
    Needs matplotlib: pip install 'attribution-engine[plot]'.
    """
    if measure in COST_COLUMNS and costs is None:
        raise click.UsageError(f"--measure {measure} needs costs: add --costs FILE")
    # fail on a missing extra or a bad file name before reading a large input
    require_matplotlib()
    fmt = chart_format(output, fmt)
    outcome = attribute_inputs(inputs, models, costs=costs, totals=False)
    echo_all(outcome.messages(), output=output)
    credits = outcome.credits
    n_channels = credits.filter(credits["channel"] != TOTAL)["channel"].n_unique()
    runs = len(outcome.result.runs)
    with style():  # the report's palette and fonts; rcParams come back after the block
        figure = new_figure(n_channels, runs, width=width, height=height, dpi=dpi)
        ax = plot_credits(credits, measure, ax=figure.add_subplot(), title=title)
        save_chart(ax, output, fmt, inputs=all_inputs())
    say_pending()
    echo_err(f"wrote {output}")
