"""`attribution report`: one self-contained HTML file with KPIs, credits and charts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import click
import polars as pl

from attribution.api import LabelledModel
from attribution.cli.options import (
    InputOptions,
    all_inputs,
    baseline_option,
    cost_options,
    currency_option,
    echo_err,
    grain_options,
    input_coverage,
    input_options,
    interval_options,
    kpi_options,
    model_option,
    step,
)
from attribution.intervals import IntervalSettings
from attribution.report import write_report

if TYPE_CHECKING:
    from attribution.grains import Grain


@click.command("report")
@input_options
@grain_options
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
@currency_option
@baseline_option
@interval_options
@click.option("--title", default="Attribution report", show_default=True)
def command(
    inputs: InputOptions,
    kinds: Mapping[str, str] | None,
    top: int,
    models: list[LabelledModel] | None,
    output: str,
    costs: pl.DataFrame | None,
    currency: str | None,
    baseline: str | None,
    intervals: IntervalSettings | None,
    title: str,
    grain: Grain | None,
) -> None:
    """Write an HTML report of INPUT to -o FILE: what it covers, the KPIs, every
    model's credit side by side, a chart comparing the models per channel, each
    channel's change against the --baseline model, the path length distribution,
    the top paths, the Markov transition graph and the formulas.

    The file is self-contained (styles and SVG charts inline, no network needed
    to open it), so it can be sent as it is. Takes the same input options as
    `run`. The charts need matplotlib (pip install 'attribution-engine[plot]');
    without it the report has the tables and the transition graph, and says so.
    """
    if grain is not None and (grain.per_conversion or grain.dimension):
        raise click.UsageError(
            "the report shows credit by period (--by) and segment: "
            "leave out --per-conversion and --dimension"
        )
    journeys = inputs.load()  # the -m specs were parsed and checked before this
    with step("writing the report"):
        coverage = input_coverage(inputs, currency, journeys.has_times)
        write_report(
            output,
            journeys,
            models,
            inputs=all_inputs(),
            costs=costs,
            channel_kinds=kinds,
            top=top,
            title=title,
            coverage=coverage,
            baseline=baseline,
            grain=grain,
            intervals=intervals,
        )
    echo_err(f"wrote {output}")
