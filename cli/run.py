"""`attribution run`: credit per channel for one or more models."""

from __future__ import annotations

import click

from attribution.cli.options import (
    add_intervals,
    cost_options,
    costed_credits,
    emit,
    input_options,
    interval_options,
    model_option,
    output_options,
    render_table,
    run_models,
)
from attribution.intervals import compact_table, cost_intervals, wide_with_bounds
from attribution.io import format_for


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
def command(inputs, models, costs, totals, intervals, fmt, output, details) -> None:
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
    if details and format_for(output, fmt) != "json":
        raise click.UsageError("--details goes with JSON output: add --format json")
    result = add_intervals(run_models(inputs, models), intervals)
    credits = result.credits
    uncosted: list[str] = []
    if costs is not None:
        credits, uncosted = costed_credits(result, costs, totals=totals)
        if intervals is not None:
            credits = cost_intervals(credits)

    def table() -> str:
        if intervals is not None:
            labels = [run.label for run in result.runs]
            wide = (
                credits if costs is not None else wide_with_bounds(credits, "conversions", labels)
            )
            return render_table(compact_table(wide))
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
