"""`attribution run`: credit per channel for one or more models."""

from __future__ import annotations

import click

from attribution.cli.options import (
    cost_options,
    costed_credits,
    emit,
    input_options,
    model_option,
    output_options,
    render_table,
    run_models,
)
from attribution.sources import format_for


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
@output_options
@click.option(
    "--details", is_flag=True, help="Add each model's extras (removal effects, ...) to JSON output."
)
def command(inputs, models, costs, totals, fmt, output, details) -> None:
    """Attribute the conversions of INPUT to channels with one or more models.

    INPUT is an event file (CSV, CSV.GZ, Parquet, NDJSON) or a paths table in
    the ChannelAttribution layout. The credit table is long: model, channel,
    conversions, value, share; the `table` format shows channels as rows and
    models as columns (credited conversions).

    With --costs the credit table gains cost, cpa (cost / conversions), roas
    (value / cost) and roi ((value - cost) / cost) and a '(total)' row per
    model; a division by zero is an empty cell. The `table` format then shows
    the long table.
    """
    if details and format_for(output, fmt) != "json":
        raise click.UsageError("--details goes with JSON output: add --format json")
    result = run_models(inputs, models)
    credits = result.credits
    uncosted: list[str] = []
    if costs is not None:
        credits, uncosted = costed_credits(result, costs, totals=totals)

    def table() -> str:
        if costs is None:
            return render_table(result.wide("conversions"))
        return render_table(credits)

    def json_doc() -> dict:
        doc = result.to_dict(details=details, credits=credits)
        if costs is not None:
            doc["uncosted_channels"] = uncosted
        return doc

    emit(
        credits,
        fmt=fmt,
        output=output,
        table=table,
        json_doc=json_doc,
    )
