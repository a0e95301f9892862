"""`attribution run`: credit per channel for one or more models."""

from __future__ import annotations

import click

from attribution.api import AttributionResult, attribute
from attribution.cli.options import (
    echo_err,
    emit,
    input_options,
    model_option,
    output_options,
    render_table,
    step,
)
from attribution.spec import make_model


def summary_line(result: AttributionResult) -> str:
    s = result.summary
    customers = f"{s['customers']:,} customers, " if s["customers"] is not None else ""
    return (
        f"{customers}{s['journeys']:,.0f} journeys ({s['converting_journeys']:,.0f} converting), "
        f"{s['conversions']:,.0f} conversions worth {s['conversion_value']:,.2f}: "
        f"{s['attributed_conversions']:,.0f} attributed, "
        f"{s['unattributed_conversions']:,.0f} unattributed "
        f"(worth {s['unattributed_value']:,.2f})"
    )


@click.command("run")
@input_options
@model_option
@output_options
@click.option(
    "--details", is_flag=True, help="Add each model's extras (removal effects, ...) to JSON output."
)
def command(inputs, models, fmt, output, details) -> None:
    """Attribute the conversions of INPUT to channels with one or more models.

    INPUT is an event file (CSV, CSV.GZ, Parquet, NDJSON) or a paths table in
    the ChannelAttribution layout. The credit table is long: model, channel,
    conversions, value, share; the `table` format shows channels as rows and
    models as columns (credited conversions).
    """
    if details and (fmt or "") != "json" and not (output or "").lower().endswith(".json"):
        raise click.UsageError("--details goes with JSON output: add --format json")
    for spec in models:  # fail on a bad spec before reading a large input
        make_model(spec)
    journeys = inputs.load()
    with step("attributing"):
        result = attribute(journeys, list(models) if models else None)
    echo_err(summary_line(result))
    for name, reason in result.skipped:
        echo_err(f"skipped {name}: {reason}")
    for error in result.load_errors.values():
        echo_err(f"not loaded: {error}")
    emit(
        result.credits,
        fmt=fmt,
        output=output,
        inputs=inputs.files,
        table=lambda: render_table(result.wide("conversions")),
        json_doc=lambda: result.to_dict(details=details),
    )
