"""`attribution run`: credit per channel for one or more models."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click
import polars as pl

from attribution.api import LabelledModel
from attribution.cli.options import (
    InputOptions,
    attribute_inputs,
    baseline_option,
    cost_options,
    currency_option,
    echo_all,
    emit,
    grain_options,
    input_coverage,
    input_options,
    interval_options,
    model_option,
    output_format,
    output_options,
    step,
    write_result,
)
from attribution.intervals import IntervalSettings, compact_table, wide_with_bounds
from attribution.labels import whole_counts
from attribution.run import Run
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
@interval_options
@output_options
@click.option(
    "--details", is_flag=True, help="Add each model's extras (removal effects, ...) to JSON output."
)
@currency_option
@baseline_option
def command(
    inputs: InputOptions,
    grain: Grain | None,
    models: list[LabelledModel] | None,
    costs: pl.DataFrame | None,
    totals: bool,
    intervals: IntervalSettings | None,
    fmt: str | None,
    output: str | None,
    details: bool,
    currency: str | None,
    baseline: str | None,
) -> None:
    """Attribute the conversions of INPUT to channels with one or more models.

    INPUT is an event file (CSV, CSV.GZ, Parquet, NDJSON) or a paths table in
    the ChannelAttribution layout. The credit table is long: model, channel,
    conversions, value, share; the `table` format shows channels as rows and
    models as columns (credited conversions), in blocks that fit the terminal.

    With --costs the credit table gains cost, cpa (cost / conversions), roas
    (value / cost) and roi ((value - cost) / cost) and a '(total)' row per
    model; a division by zero is an empty cell. The `table` format then shows
    the long table.

    With --intervals N each row gains bootstrap bounds (conversions_lo,
    conversions_hi, value_lo, value_hi, share_lo, share_hi; with --costs also
    cpa, roas and roi), touched_conversions and few_conversions (fewer than
    30 conversions touch the channel); the `table` format shows each figure
    as `88.20 [84.01, 92.33]`. See docs/intervals.md.

    The `xlsx` format writes a workbook for planners: what it covers, credit by
    model, each channel's change against --baseline, costs and returns, and
    the KPIs, a sheet each, with totals apart from the tables they total.

    Finer grains (docs/grains.md): --per-conversion gives one row per
    conversion, channel and model; --by day|week|month|quarter adds a period
    column (with dated costs, CPA, ROAS and ROI per period); --dimension COLUMN
    gives credit per channel and value of a touch column; --segment-col COLUMN
    runs every model per segment. The `table` format then shows the long table.
    """
    fmt = output_format(output, fmt)  # fails before the input is read
    if details and fmt != "json":
        raise click.UsageError("--details goes with JSON output: add --format json")
    if grain is not None and intervals is not None:
        raise click.UsageError(
            "--intervals gives the channel totals' bounds; leave out the finer grain "
            "(--per-conversion, --by, --dimension, --segment-col)"
        )
    if grain is not None:
        from attribution.grains import check_costs

        check_costs(grain, costs)  # before the input is read
    outcome: Run
    if grain is None:
        outcome = attribute_inputs(inputs, models, costs=costs, totals=totals, intervals=intervals)
    else:  # the grains need every journey's keys: in memory
        from attribution.grains import run_at

        journeys = inputs.load()
        with step("attributing"):
            outcome = run_at(journeys, models, grain, costs=costs, totals=totals)
    echo_all(outcome.messages(), output=output)

    if fmt == "xlsx":
        write_result(_workbook(outcome, inputs, currency, baseline), fmt, output)
        return

    def table() -> str:
        if intervals is not None:
            labels = [r.label for r in outcome.result.runs]
            credits = outcome.credits
            wide = (
                credits if costs is not None else wide_with_bounds(credits, "conversions", labels)
            )
            return render_table(compact_table(wide))
        if costs is None and grain is None:
            return render_table(outcome.result.wide("conversions"), kind="count")
        return render_table(outcome.credits)

    def json_doc() -> dict[str, Any]:
        doc = outcome.to_dict(details=details)
        doc["summary"] = whole_counts(doc["summary"])  # 120 journeys, not 120.0
        return doc

    emit(outcome.credits, fmt=fmt, output=output, table=table, json_doc=json_doc)


def _workbook(
    outcome: Any, inputs: InputOptions, currency: str | None, baseline: str | None
) -> Any:
    from attribution.change import baseline_run
    from attribution.cli.options import echo_err
    from attribution.kpis import compute_kpis
    from attribution.workbook import run_workbook

    journeys = outcome.result.journeys
    with step("laying out the workbook"):
        base = None
        if baseline is not None:
            base, why = baseline_run(outcome.result, baseline)
            if why is not None:
                echo_err(f"note: no comparison sheet: {why}")
        return run_workbook(
            outcome,
            kpis=compute_kpis(journeys),
            baseline=base,
            coverage=input_coverage(inputs, currency, journeys.has_times),
        )
