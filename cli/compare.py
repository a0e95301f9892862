"""`attribution compare`: one measure of every model side by side, with the spread."""

from __future__ import annotations

import click

from attribution.cli.options import (
    add_intervals,
    cost_options,
    costed_credits,
    emit,
    input_options,
    interval_options,
    measure_option,
    model_option,
    output_options,
    render_table,
    run_models,
)
from attribution.compare import compare
from attribution.costs import COST_COLUMNS
from attribution.intervals import compact_table, cost_intervals

# decimals in the text table: ratios need more than money does
_DIGITS = {"share": 3, "roas": 3, "roi": 3}


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
def command(inputs, models, costs, measure, sort, intervals, baseline, fmt, output) -> None:
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
    result = add_intervals(run_models(inputs, models), intervals)
    credits = result.credits
    if costs is not None:
        credits, _ = costed_credits(result, costs)
        if intervals is not None:
            credits = cost_intervals(credits)
    wide = compare(credits, measure, sort=sort, baseline=baseline)
    digits = _DIGITS.get(measure, 2)
    emit(
        wide,
        fmt=fmt,
        output=output,
        table=lambda: render_table(
            compact_table(wide, digits) if intervals is not None else wide, digits=digits
        ),
    )
