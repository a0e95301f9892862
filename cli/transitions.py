"""`attribution transitions`: the Markov chain's transition graph as an edge list or graph file."""

from __future__ import annotations

from typing import Literal

import click

from attribution.cli.options import (
    InputOptions,
    emit,
    input_options,
    output_format,
    step,
    write_result,
)
from attribution.errors import OutputError
from attribution.sinks import GRAPH_OUTPUTS, OUTPUT_FORMATS
from attribution.text import render_table


def _order(ctx: click.Context, param: click.Parameter, value: str) -> int | Literal["auto"]:
    if value.strip().lower() == "auto":
        return "auto"
    try:
        order = int(value)
    except ValueError:
        raise click.BadParameter(f"expected an integer >= 1 or 'auto', got '{value}'") from None
    if order < 1:
        raise click.BadParameter(f"expected an integer >= 1 or 'auto', got {order}")
    return order


@click.command("transitions")
@input_options
@click.option(
    "--order",
    default="1",
    show_default=True,
    metavar="K|auto",
    callback=_order,
    help="Markov chain order; 'auto' picks it by cross-validated log-loss.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(GRAPH_OUTPUTS),
    help="Output format; default: from the -o extension (.csv .json .parquet .graphml "
    ".gexf), else csv.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    help="Write to this file instead of stdout (written whole or not at all).",
)
def command(
    inputs: InputOptions, order: int | Literal["auto"], fmt: str | None, output: str | None
) -> None:
    """Export the transition graph of the Markov chain of INPUT.

    States are windows of K consecutive channels (consecutive repeats merged),
    plus (start), (conversion) and (null). The edge list has one row per
    observed transition: from, to, count (journeys) and probability. GraphML
    and GEXF files (by extension or --format) hold the same graph for Gephi,
    yEd or networkx, with a `kind` on every node.
    """
    from attribution.models.markov import transition_graph, transition_table

    try:  # fail on an unknown extension before reading a large input
        fmt = output_format(output, fmt, allowed=GRAPH_OUTPUTS, default="csv")
    except OutputError as exc:
        graphs = [e for f in OUTPUT_FORMATS.values() if f.takes == "graph" for e in f.extensions]
        raise OutputError(
            f"{exc}; graphs go to {' or '.join(graphs)} files", setting=exc.setting
        ) from None
    journeys = inputs.load()
    if OUTPUT_FORMATS[fmt].takes == "graph":
        with step("counting transitions"):
            graph = transition_graph(journeys, order)
        write_result(graph, fmt, output)
        return
    with step("counting transitions"):
        table = transition_table(journeys, order)
    emit(
        table,
        fmt=fmt,
        output=output,
        table=lambda: render_table(table, digits=4),
    )
