"""`attribution transitions`: the Markov chain's transition graph as an edge list or graph file."""

from __future__ import annotations

from pathlib import Path

import click

from attribution.cli.options import all_inputs, echo_err, emit, input_options, render_table, step
from attribution.errors import OutputError
from attribution.sources import format_for

GRAPH_FORMATS = {".graphml": "graphml", ".gexf": "gexf"}
FORMATS = ("csv", "json", "parquet", "table", "graphml", "gexf")


def _order(ctx: click.Context, param: click.Parameter, value: str) -> int | str:
    if value.strip().lower() == "auto":
        return "auto"
    try:
        order = int(value)
    except ValueError:
        raise click.BadParameter(f"expected an integer >= 1 or 'auto', got '{value}'") from None
    if order < 1:
        raise click.BadParameter(f"expected an integer >= 1 or 'auto', got {order}")
    return order


def _write_graph(graph, fmt: str, output: str | None, inputs: tuple[str, ...]) -> None:
    import networkx as nx

    if output is None:
        lines = nx.generate_graphml(graph) if fmt == "graphml" else nx.generate_gexf(graph)
        for line in lines:
            click.echo(line)
        return
    from attribution.sources import _atomic_write

    writer = nx.write_graphml if fmt == "graphml" else nx.write_gexf
    _atomic_write(Path(output), lambda p: writer(graph, p), tuple(Path(i) for i in inputs))
    echo_err(f"wrote {output}")


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
    type=click.Choice(FORMATS),
    help="Output format; default: from the -o extension (.csv .json .parquet .graphml "
    ".gexf), else csv.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    help="Write to this file instead of stdout (written whole or not at all).",
)
def command(inputs, order, fmt, output) -> None:
    """Export the transition graph of the Markov chain of INPUT.

    States are windows of K consecutive channels (consecutive repeats merged),
    plus (start), (conversion) and (null). The edge list has one row per
    observed transition: from, to, count (journeys) and probability. GraphML
    and GEXF files (by extension or --format) hold the same graph for Gephi,
    yEd or networkx, with a `kind` on every node.
    """
    from attribution.models.markov import transition_graph, transition_table

    if fmt is None and output is not None:
        fmt = GRAPH_FORMATS.get(Path(output).suffix.lower())
        if fmt is None:  # fail on an unknown extension before reading a large input
            try:
                format_for(output, None)
            except OutputError as exc:
                raise OutputError(
                    f"{exc}; graphs go to {' or '.join(GRAPH_FORMATS)} files"
                ) from None
    journeys = inputs.load()
    if fmt in ("graphml", "gexf"):
        with step("counting transitions"):
            graph = transition_graph(journeys, order)
        _write_graph(graph, fmt, output, all_inputs())
        return
    if fmt is None and output is None:
        fmt = "csv"
    with step("counting transitions"):
        table = transition_table(journeys, order)
    emit(
        table,
        fmt=fmt,
        output=output,
        table=lambda: render_table(table, digits=4),
    )
