"""`attribution run`: credit per channel for one or more models."""

from __future__ import annotations

from typing import Any

import click
import polars as pl

from attribution.api import LabelledModel
from attribution.cli.options import (
    InputOptions,
    cost_options,
    echo_all,
    emit,
    input_options,
    interval_options,
    model_option,
    output_format,
    output_options,
    step,
)
from attribution.intervals import IntervalSettings, compact_table, wide_with_bounds
from attribution.run import run
from attribution.text import render_table


@click.command("run")
@input_options
@model_option
@cost_options
@click.option(
    "--totals/--no-totals",
    default=True,
    show_default=True,
    help="With --costs: a '(total)' row per model with the blended CPA, ROAS and ROI.",
)
@interval_options
@output_options
@click.option(
    "--details", is_flag=True, help="Add each model's extras (removal effects, ...) to JSON output."
)
def command(
    inputs: InputOptions,
    models: list[LabelledModel] | None,
    costs: pl.DataFrame | None,
    totals: bool,
    intervals: IntervalSettings | None,
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

    With --intervals N each row gains bootstrap bounds (conversions_lo,
    conversions_hi, value_lo, value_hi, share_lo, share_hi; with --costs also
    cpa, roas and roi), touched_conversions and few_conversions (fewer than
    30 conversions touch the channel); the `table` format shows each figure
    as `88.20 [84.01, 92.33]`. See docs/intervals.md.
    """
    fmt = output_format(output, fmt)  # fails before the input is read
    if details and fmt != "json":
        raise click.UsageError("--details goes with JSON output: add --format json")
    journeys = inputs.load()
    with step("attributing"):
        outcome = run(journeys, models, costs=costs, totals=totals, intervals=intervals)
    echo_all(outcome.messages())

    def table() -> str:
        if intervals is not None:
            labels = [r.label for r in outcome.result.runs]
            credits = outcome.credits
            wide = (
                credits if costs is not None else wide_with_bounds(credits, "conversions", labels)
            )
            return render_table(compact_table(wide))
        if costs is None:
            return render_table(outcome.result.wide("conversions"))
        return render_table(outcome.credits)

    def json_doc() -> dict[str, Any]:
        return outcome.to_dict(details=details)

    emit(outcome.credits, fmt=fmt, output=output, table=table, json_doc=json_doc)
