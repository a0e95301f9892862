"""`attribution run`: credit per channel for one or more models."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click
import polars as pl

from attribution.api import LabelledModel
from attribution.cli.options import (
    InputOptions,
    cost_options,
    echo_all,
    emit,
    grain_options,
    input_options,
    model_option,
    output_format,
    output_options,
    step,
)
from attribution.run import Run, run
from attribution.text import render_table

if TYPE_CHECKING:
    from attribution.grains import Grain


@click.command("run")
@input_options
@grain_options
@model_option
@cost_options
@click.option(
    "--totals/--no-totals",
    default=True,
    show_default=True,
    help="With --costs: a '(total)' row per model with the blended CPA, ROAS and ROI.",
)
@output_options
@click.option(
    "--details", is_flag=True, help="Add each model's extras (removal effects, ...) to JSON output."
)
def command(
    inputs: InputOptions,
    grain: Grain | None,
    models: list[LabelledModel] | None,
    costs: pl.DataFrame | None,
    totals: bool,
    fmt: str | None,
    output: str | None,
    details: bool,
) -> None:
    """Attribute the conversions of INPUT to channels with one or more models.

    INPUT is an event file (CSV, CSV.GZ, Parquet, NDJSON) or a paths table in
    the ChannelAttribution layout. The credit table is long: model, channel,
    conversions, value, share; the `table` format shows channels as rows and
    models as columns (credited conversions).

    With --costs the credit table gains cost, cpa (cost / conversions), roas
    (value / cost) and roi ((value - cost) / cost) and a '(total)' row per
    model; a division by zero is an empty cell. The `table` format then shows
    the long table.

    Finer grains (docs/grains.md): --per-conversion gives one row per
    conversion, channel and model; --by day|week|month|quarter adds a period
    column (with dated costs, CPA, ROAS and ROI per period); --dimension COLUMN
    gives credit per channel and value of a touch column; --segment-col COLUMN
    runs every model per segment. The `table` format then shows the long table.
    """
    fmt = output_format(output, fmt)  # fails before the input is read
    if details and fmt != "json":
        raise click.UsageError("--details goes with JSON output: add --format json")
    if grain is not None:
        from attribution.grains import check_costs

        check_costs(grain, costs)  # before the input is read
    journeys = inputs.load()
    with step("attributing"):
        outcome: Run
        if grain is None:
            outcome = run(journeys, models, costs=costs, totals=totals)
        else:
            from attribution.grains import run_at

            outcome = run_at(journeys, models, grain, costs=costs, totals=totals)
    echo_all(outcome.messages())

    def table() -> str:
        if costs is None and grain is None:
            return render_table(outcome.result.wide("conversions"))
        return render_table(outcome.credits)

    def json_doc() -> dict[str, Any]:
        return outcome.to_dict(details=details)

    emit(outcome.credits, fmt=fmt, output=output, table=table, json_doc=json_doc)
