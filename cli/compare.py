"""`attribution compare`: one measure of every model side by side, with the spread."""

from __future__ import annotations

import click

from attribution.cli.options import (
    cost_options,
    costed_credits,
    emit,
    input_options,
    measure_option,
    model_option,
    output_options,
    render_table,
    run_models,
)
from attribution.compare import compare
from attribution.costs import COST_COLUMNS

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
@output_options
def command(inputs, models, costs, measure, sort, fmt, output) -> None:
    """Compare models on INPUT: channels as rows, one column per model.

    The columns min, max and spread (max - min) show per channel how far the
    models disagree. With --costs a '(total)' row gives the blended figures.
    Every format writes this wide table (json: one record per channel).
    """
    if measure in COST_COLUMNS and costs is None:
        raise click.UsageError(f"--measure {measure} needs costs: add --costs FILE")
    result = run_models(inputs, models)
    credits = result.credits
    if costs is not None:
        credits, _ = costed_credits(result, costs)
    wide = compare(credits, measure, sort=sort)
    emit(
        wide,
        fmt=fmt,
        output=output,
        table=lambda: render_table(wide, digits=_DIGITS.get(measure, 2)),
    )
