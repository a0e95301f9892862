"""`attribution compare`: one measure of every model side by side, with the spread."""

from __future__ import annotations

from typing import Literal

import click
import polars as pl

from attribution.api import LabelledModel
from attribution.cli.options import (
    InputOptions,
    attribute_inputs,
    cost_options,
    echo_all,
    emit,
    input_options,
    interval_options,
    measure_option,
    model_option,
    output_format,
    output_options,
    write_result,
)
from attribution.compare import Measure, compare
from attribution.costs import COST_COLUMNS
from attribution.intervals import IntervalSettings, compact_table
from attribution.labels import kind_of
from attribution.text import render_table


@click.command("compare")
@input_options
@model_option
@cost_options
@measure_option("What to compare; cost, cpa, roas and roi need --costs.")
@click.option(
    "--sort",
    type=click.Choice(["channel", "spread"]),
    default="channel",
    show_default=True,
    help="Row order: by channel, or largest disagreement between models first.",
)
@interval_options
@click.option(
    "--baseline",
    metavar="MODEL",
    help="With --intervals: the model whose intervals the others are held against "
    "(default: the first).",
)
@output_options
def command(
    inputs: InputOptions,
    models: list[LabelledModel] | None,
    costs: pl.DataFrame | None,
    measure: Measure,
    sort: Literal["channel", "spread"],
    intervals: IntervalSettings | None,
    baseline: str | None,
    fmt: str | None,
    output: str | None,
) -> None:
    """Compare models on INPUT: channels as rows, one column per model.

    The columns min, max and spread (max - min) show per channel how far the
    models disagree. With --costs a '(total)' row gives the blended figures.
    Every format writes this wide table (json: one record per channel).

    With --intervals N each model column is followed by <model>_lo and
    <model>_hi, and `differs` lists the models whose interval does not
    overlap the baseline model's; `few_conversions` flags channels that
    fewer than 30 conversions touch.
    """
    if measure in COST_COLUMNS and costs is None:
        raise click.UsageError(f"--measure {measure} needs costs: add --costs FILE")
    if baseline is not None and intervals is None:
        raise click.UsageError("--baseline goes with --intervals N")
    fmt = output_format(output, fmt)  # fails before the input is read
    outcome = attribute_inputs(inputs, models, costs=costs, intervals=intervals)
    echo_all(outcome.messages(), output=output)
    wide = compare(outcome.credits, measure, sort=sort, baseline=baseline)
    kind = kind_of(measure)  # every model's column and the spread read as the measure does
    if fmt == "xlsx":
        from attribution.compare import SPREAD_COLUMNS
        from attribution.labels import model_title
        from attribution.workbook import Sheet, Workbook

        numeric = {c: kind for c in wide.columns if c != "channel"}
        titles = {c: model_title(c) for c in numeric if c not in SPREAD_COLUMNS}
        sheet = Sheet(f"Compare {measure}", wide, kinds=numeric, headers=titles)
        write_result(Workbook((sheet,)), fmt, output)
        return
    if intervals is not None:  # each cell "88.20 [84.01, 92.33]"
        percent = kind == "share"  # shares read as percentages, as without intervals
        compact = compact_table(wide, 1 if percent else 2, percent=percent)
        emit(wide, fmt=fmt, output=output, table=lambda: render_table(compact, kind=kind))
        return
    emit(wide, fmt=fmt, output=output, table=lambda: render_table(wide, kind=kind))
