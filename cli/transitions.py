"""`attribution transitions`: a model's transition graph as an edge list or graph file."""

from __future__ import annotations

import click

from attribution.api import run_model
from attribution.capabilities import HasTransitions
from attribution.cli.options import (
    InputOptions,
    emit,
    input_options,
    output_format,
    step,
    write_result,
)
from attribution.errors import ModelError, OutputError
from attribution.graph import EDGE_COLUMNS, check_edge_table, transition_graph
from attribution.model import Model
from attribution.registry import get_registry
from attribution.sinks import GRAPH_OUTPUTS, OUTPUT_FORMATS
from attribution.spec import make_model, parse_spec
from attribution.text import render_table


def _order(ctx: click.Context, param: click.Parameter, value: str | None) -> int | str | None:
    if value is None:
        return None
    if value.strip().lower() == "auto":
        return "auto"
    try:
        order = int(value)
    except ValueError:
        raise click.BadParameter(f"expected an integer >= 1 or 'auto', got '{value}'") from None
    if order < 1:
        raise click.BadParameter(f"expected an integer >= 1 or 'auto', got {order}")
    return order


def _with_transitions(spec: str, order: int | str | None) -> Model:
    """The model of ``spec`` (``--order`` setting its ``order``), checked to have a
    transition graph before any input is read."""
    name, params = parse_spec(spec)
    if order is not None:
        cls = get_registry().get(name)
        if "order" not in {p.name for p in cls.params()}:
            raise click.UsageError(f"--order: model '{name}' has no parameter 'order'")
        if "order" in params and params["order"] != str(order):
            raise click.UsageError(
                f"--order {order} and -m {spec} both set the order; give one of them"
            )
        params["order"] = str(order)
        spec = name + ":" + ",".join(f"{k}={v}" for k, v in params.items())
    model = make_model(spec)
    if not isinstance(model, HasTransitions):
        raise _no_transitions(name)
    model.validate_params()  # a bad parameter fails before a large input is read
    return model


def _no_transitions(name: str) -> ModelError:
    loaded, _ = get_registry().load_all()
    able = [n for n, c in loaded.items() if callable(getattr(c, "transition_table", None))]
    return ModelError(
        f"model '{name}' has no transition graph (it has no transition_table() method); "
        f"models that have one: {', '.join(able) or 'none'}"
    )


@click.command("transitions")
@input_options
@click.option(
    "-m",
    "--model",
    "spec",
    default="markov",
    show_default=True,
    metavar="NAME[:key=value,...]",
    help="The model whose transition graph to export: any registered model that has one "
    "(a transition_table() method), such as markov or a plugin's Markov variant.",
)
@click.option(
    "--order",
    default=None,
    metavar="K|auto",
    callback=_order,
    help="Chain order, short for -m NAME:order=K; 'auto' picks it by cross-validated "
    "log-loss. Default: the model's own (1 for markov).",
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
    inputs: InputOptions,
    spec: str,
    order: int | str | None,
    fmt: str | None,
    output: str | None,
) -> None:
    """Export the transition graph of a model fitted to INPUT (the Markov chain by default).

    For markov, states are windows of K consecutive channels (consecutive
    repeats merged), plus (start), (conversion) and (null). The edge list has
    one row per observed transition: from, to, count (journeys) and
    probability. GraphML and GEXF files (by extension or --format) hold the
    same graph for Gephi, yEd or networkx, with a `kind` on every node
    (start, state, conversion, null) when the model gives node kinds.
    """
    model = _with_transitions(spec, order)
    try:  # fail on an unknown extension before reading a large input
        fmt = output_format(output, fmt, allowed=GRAPH_OUTPUTS, default="csv")
    except OutputError as exc:
        graphs = [e for f in OUTPUT_FORMATS.values() if f.takes == "graph" for e in f.extensions]
        raise OutputError(
            f"{exc}; graphs go to {' or '.join(graphs)} files", setting=exc.setting
        ) from None
    journeys = inputs.load()
    with step("counting transitions"):
        run_model(model, journeys)
        if not isinstance(model, HasTransitions):  # checked above; narrows the type
            raise _no_transitions(model.name)
        table = check_edge_table(model.transition_table(), model.name)
    if OUTPUT_FORMATS[fmt].takes == "graph":
        write_result(transition_graph(table), fmt, output)
        return
    # The contract's columns, and the roles and labels where the model gives them
    # (node identities are unique; labels are for people and may coincide).
    extra = [c for c in ("from_kind", "to_kind", "from_label", "to_label") if c in table.columns]
    edges = table.select(*EDGE_COLUMNS, *extra)
    emit(
        edges,
        fmt=fmt,
        output=output,
        table=lambda: render_table(edges, digits=4),
    )
