"""Transition graphs from edge tables, whichever model made the table.

A model with a transition graph (:class:`~attribution.capabilities.HasTransitions`)
gives it as an edge table; this module checks that table and turns it into a
networkx graph, so that ``attribution transitions`` and the report treat a
plugin's chain exactly like the built-in Markov chain. Node roles come from the
table's ``from_kind`` and ``to_kind`` columns, never from node names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import polars as pl

from attribution.errors import ModelError

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["EDGE_COLUMNS", "KINDS", "check_edge_table", "transition_graph"]

EDGE_COLUMNS = ("from", "to", "count", "probability")
"""The columns every edge table has (the HasTransitions contract)."""

KINDS = ("start", "state", "conversion", "null")
"""Node roles, in the order a graph lists its nodes."""


def check_edge_table(table: Any, owner: str | None = None) -> pl.DataFrame:
    """``table`` if it is an edge table with :data:`EDGE_COLUMNS`, else ModelError.

    Parameters
    ----------
    table : object
        What a model's ``transition_table()`` returned.
    owner : str, optional
        The model's name, for the message.
    """
    what = "the transition table" if owner is None else f"model '{owner}': transition_table()"
    if not isinstance(table, pl.DataFrame):
        raise ModelError(
            f"{what} is a {type(table).__name__}; expected a polars DataFrame with "
            f"columns {', '.join(EDGE_COLUMNS)}"
        )
    missing = [c for c in EDGE_COLUMNS if c not in table.columns]
    if missing:
        raise ModelError(
            f"{what} has no column(s) {missing}; expected {', '.join(EDGE_COLUMNS)}, "
            f"got {table.columns}"
        )
    return table


def transition_graph(edges: pl.DataFrame) -> nx.DiGraph:
    """A networkx DiGraph of an edge table such as ``transition_table()`` gives.

    Parameters
    ----------
    edges : polars.DataFrame
        ``from, to, count, probability`` and optionally ``from_kind, to_kind``
        (node roles: start, state, conversion, null) and ``from_label,
        to_label`` (display text).

    Returns
    -------
    networkx.DiGraph
        One node per distinct ``from`` or ``to``, listed start first, then
        states, conversion and null (nodes of the same role, or all nodes when
        the table gives no roles, in order of first appearance: ``from`` column,
        then ``to``). A node has ``kind`` when the table gives roles and
        ``label`` when it gives labels. Edges carry ``count`` and
        ``probability`` as floats.

    Raises
    ------
    ModelError
        When the table lacks a column or gives one node two roles.
    """
    import networkx as nx

    from attribution.names import xml_text

    check_edge_table(edges)
    nodes = _nodes(edges)
    graph = nx.DiGraph()
    # Names are the user's: what XML cannot hold is escaped, so GraphML and GEXF
    # files of the graph are always well formed.
    for row in nodes.iter_rows(named=True):
        attrs = {k: xml_text(str(row[k])) for k in ("kind", "label") if row.get(k) is not None}
        graph.add_node(xml_text(str(row["node"])), **attrs)
    graph.add_edges_from(
        (xml_text(str(a)), xml_text(str(b)), {"count": float(c), "probability": float(p)})
        for a, b, c, p in edges.select(EDGE_COLUMNS).iter_rows()
    )
    return graph


def _nodes(edges: pl.DataFrame) -> pl.DataFrame:
    """``node`` (and ``kind``, ``label`` where given) once per node, in graph order."""
    sides = []
    for side in ("from", "to"):
        cols = [pl.col(side).alias("node")]
        for attr in ("kind", "label"):
            if f"{side}_{attr}" in edges.columns:
                cols.append(pl.col(f"{side}_{attr}").cast(pl.String).alias(attr))
        sides.append(edges.select(cols))
    both = pl.concat(sides, how="diagonal_relaxed").with_row_index("_seen")
    if "kind" in both.columns:
        roles = both.drop_nulls("kind").group_by("node").agg(pl.col("kind").unique().sort())
        clash = roles.filter(pl.col("kind").list.len() > 1)
        if clash.height:
            node, kinds = clash.row(0)
            raise ModelError(f"the transition table gives node {node!r} two kinds: {kinds}")
        unknown = set(both["kind"].drop_nulls().unique().to_list()) - set(KINDS)
        if unknown:
            raise ModelError(
                f"the transition table has node kind(s) {sorted(unknown)}; expected {list(KINDS)}"
            )
    attrs = [pl.col(c).drop_nulls().first() for c in ("kind", "label") if c in both.columns]
    firsts = both.group_by("node", maintain_order=True).agg(pl.col("_seen").first(), *attrs)
    if "kind" in firsts.columns:
        # A node without a role goes after the roles, in order of appearance.
        rank = pl.col("kind").replace_strict(KINDS, list(range(len(KINDS))), default=len(KINDS))
        firsts = firsts.sort(rank.fill_null(len(KINDS)), "_seen")
    return firsts.drop("_seen")
