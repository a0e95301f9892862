"""The transition graph of a model with a Markov chain, drawn as inline SVG by our own code.

The graph is drawn here rather than by matplotlib so that the report shows it
without the ``[plot]`` extra, and so that each edge and node carries its
probability as a hover title, which matplotlib's SVG output cannot.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import polars as pl

from attribution.plot import PALETTE
from attribution.report.tables import e, heat_matrix, table

__all__ = [
    "KINDS",
    "MAX_GRAPH_STATES",
    "MIN_EDGE_PROBABILITY",
    "Chain",
    "chain_of",
    "graph_svg",
    "matrix",
    "top_transitions",
]

KINDS = ("start", "state", "conversion", "null")
"""Roles of a node, in the order the matrix and the layout list them."""

MIN_EDGE_PROBABILITY = 0.1
"""Transitions less likely than this are left out of the graph (kept in its matrix)."""

MAX_GRAPH_STATES = 30
"""Chains with more states (many channels, or higher orders) get a table of their most likely
transitions instead of a graph and a matrix nobody could read."""

_COLORS = {"start": "#5b6470", "state": PALETTE[0], "conversion": PALETTE[2], "null": "#b8c2cc"}


@dataclass(frozen=True)
class Chain:
    """A transition table ready to draw.

    Attributes
    ----------
    edges : DataFrame
        ``from, to, probability`` (strings, float) and ``count`` when the
        model gave it.
    kinds : dict
        Node id -> role, one of :data:`KINDS`.
    labels : dict
        Node id -> the text shown for it.
    """

    edges: pl.DataFrame
    kinds: dict[str, str]
    labels: dict[str, str]

    @property
    def nodes(self) -> list[str]:
        """Every node: start first, then states, conversion, null; by label within a role."""
        rank = {k: i for i, k in enumerate(KINDS)}
        return sorted(self.kinds, key=lambda n: (rank[self.kinds[n]], self.labels[n], n))


def _kind_from_name(state: str) -> str:
    """A node's role guessed from its name, for tables without ``from_kind``/``to_kind``."""
    s = state.lower().strip("()<>[] ")
    if s in ("start", "begin"):
        return "start"
    if s in ("conversion", "conv", "converted", "success"):
        return "conversion"
    if s in ("null", "no conversion", "exit", "failure", "drop"):
        return "null"
    return "state"


def chain_of(frame: object) -> Chain | None:
    """The :class:`Chain` of a ``transition_table()`` result; None when it is not one.

    Roles come from ``from_kind``/``to_kind`` and display text from
    ``from_label``/``to_label`` when the table has them (see
    :class:`attribution.capabilities.HasTransitions`); otherwise the role is
    read from the node's name (``(start)``, ``(conversion)``, ``(null)``).
    """
    if not isinstance(frame, pl.DataFrame) or not {"from", "to", "probability"} <= set(
        frame.columns
    ):
        return None
    kinds: dict[str, str] = {}
    labels: dict[str, str] = {}
    for end in ("from", "to"):
        has_kind, has_label = f"{end}_kind" in frame.columns, f"{end}_label" in frame.columns
        nodes = frame.select(
            pl.col(end).cast(pl.String).alias("id"),
            (pl.col(f"{end}_kind") if has_kind else pl.lit(None)).cast(pl.String).alias("kind"),
            (pl.col(f"{end}_label") if has_label else pl.lit(None)).cast(pl.String).alias("label"),
        ).unique("id", maintain_order=True)
        for node, kind, label in nodes.iter_rows():  # a loop over states
            if node in kinds:
                continue
            if not has_kind:
                kind = _kind_from_name(node)
            kinds[node] = kind if kind in KINDS else "state"
            labels[node] = label if label is not None else node
    columns = [c for c in ("from", "to", "count", "probability") if c in frame.columns]
    edges = frame.select(columns).with_columns(
        pl.col("from").cast(pl.String),
        pl.col("to").cast(pl.String),
        pl.col("probability").cast(pl.Float64),
    )
    return Chain(edges, kinds, labels)


def matrix(chain: Chain) -> str:
    """The transition matrix, rows the states left, columns the states entered."""
    sources = set(chain.edges["from"].to_list())
    targets = set(chain.edges["to"].to_list())
    cells = {(a, b): p for a, b, p in chain.edges.select("from", "to", "probability").iter_rows()}
    nodes = chain.nodes
    return heat_matrix(
        [n for n in nodes if n in sources],
        [n for n in nodes if n in targets],
        cells,
        corner="from \\ to",
        labels=chain.labels,
    )


def top_transitions(chain: Chain, n: int = 50) -> str:
    """A table of the ``n`` most likely transitions, for chains too large to draw."""
    shown = pl.DataFrame(
        {"id": list(chain.labels), "label": list(chain.labels.values())},
        schema={"id": pl.String, "label": pl.String},
    )
    top = chain.edges.sort("probability", "from", "to", descending=[True, False, False]).head(n)
    for end in ("from", "to"):  # display text in place of node ids
        top = top.join(shown, left_on=end, right_on="id", how="left", maintain_order="left")
        top = top.with_columns(pl.col("label").alias(end)).drop("label")
    return table(top)


def _toward(x: float, y: float, tx: float, ty: float, distance: float) -> tuple[float, float]:
    """The point ``distance`` from ``(x, y)`` in the direction of ``(tx, ty)``."""
    dx, dy = tx - x, ty - y
    norm = math.hypot(dx, dy) or 1.0
    return x + dx / norm * distance, y + dy / norm * distance


def _layout(
    chain: Chain, width: float, height: float, radius: float
) -> dict[str, tuple[float, float]]:
    """States on a circle; start on the left, conversion top right, null bottom right."""
    cx, cy = width / 2, height / 2
    nodes = chain.nodes
    states = [n for n in nodes if chain.kinds[n] == "state"]
    pos: dict[str, tuple[float, float]] = {}
    for i, s in enumerate(states):
        angle = -math.pi / 2 + 2 * math.pi * i / max(len(states), 1)
        pos[s] = (cx + radius * math.cos(angle), cy + radius * math.sin(angle))
    anchors = {
        "start": (50.0, cy),
        "conversion": (width - 50.0, cy - 110),
        "null": (width - 50.0, cy + 110),
    }
    for kind, (x, y) in anchors.items():
        same = [n for n in nodes if chain.kinds[n] == kind]
        for i, n in enumerate(same):  # several nodes of one role stack around its anchor
            pos[n] = (x, y + (i - (len(same) - 1) / 2) * 56)
    return pos


def graph_svg(chain: Chain) -> str:
    """The chain as an SVG graph; edges below :data:`MIN_EDGE_PROBABILITY` are left out."""
    width, height = 860, 560
    cx, cy, radius, node = width / 2, height / 2, 200, 20
    pos = _layout(chain, width, height, radius)
    out = [
        f'<svg class="chart graph" data-chart="markov" viewBox="0 0 {width} {height}" '
        'role="img" aria-label="Markov transition graph"><title>Markov transition graph</title>',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="9" '
        'markerHeight="9" markerUnits="userSpaceOnUse" orient="auto-start-reverse">'
        '<path d="M0,0L10,5L0,10z" fill="#33485c"/></marker></defs>',
    ]
    edges = chain.edges.filter(pl.col("probability") >= MIN_EDGE_PROBABILITY).sort(
        "probability", "from", "to"
    )
    has_count = "count" in edges.columns
    for row in edges.iter_rows(named=True):  # a loop over drawn edges (states squared at most)
        a, b, p = row["from"], row["to"], float(row["probability"])
        tip = f"{chain.labels[a]} → {chain.labels[b]}: {100 * p:.1f}%"
        if has_count and row["count"] is not None:
            tip += f" ({row['count']:,.0f} transitions)"
        style = (
            f'fill="none" stroke="#33485c" stroke-opacity="{0.25 + 0.7 * p:.2f}" '
            f'stroke-width="{0.6 + 6 * p:.2f}" marker-end="url(#arrow)"'
        )
        (x1, y1), (x2, y2) = pos[a], pos[b]
        if a == b:  # a self-loop, drawn outside the circle of states
            dx, dy = x1 - cx, y1 - cy
            norm = math.hypot(dx, dy) or 1.0
            ux, uy = dx / norm, dy / norm
            px, py = -uy, ux
            sx, sy = x1 + node * (ux + 0.5 * px), y1 + node * (uy + 0.5 * py)
            ex, ey = x1 + node * (ux - 0.5 * px), y1 + node * (uy - 0.5 * py)
            c1 = (sx + 45 * ux + 25 * px, sy + 45 * uy + 25 * py)
            c2 = (ex + 45 * ux - 25 * px, ey + 45 * uy - 25 * py)
            d = (
                f"M{sx:.1f},{sy:.1f} C{c1[0]:.1f},{c1[1]:.1f} "
                f"{c2[0]:.1f},{c2[1]:.1f} {ex:.1f},{ey:.1f}"
            )
        else:
            dx, dy = x2 - x1, y2 - y1
            # bend every edge to its left, so that a->b and b->a do not overlap
            mx, my = (x1 + x2) / 2 - dy * 0.15, (y1 + y2) / 2 + dx * 0.15
            sx, sy = _toward(x1, y1, mx, my, node)
            ex, ey = _toward(x2, y2, mx, my, node + 2)
            d = f"M{sx:.1f},{sy:.1f} Q{mx:.1f},{my:.1f} {ex:.1f},{ey:.1f}"
        out.append(f'<path d="{d}" {style}><title>{e(tip)}</title></path>')
    for n in chain.nodes:
        x, y = pos[n]
        kind, label = chain.kinds[n], chain.labels[n]
        out.append(
            f'<g class="node" data-state="{e(n)}" data-kind="{kind}">'
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{node}" fill="{_COLORS[kind]}" '
            f'stroke="#fff" stroke-width="2"><title>{e(label)}</title></circle>'
        )
        if kind == "state":  # the label outside the circle, away from its centre
            dx, dy = x - cx, y - cy
            norm = math.hypot(dx, dy) or 1.0
            tx, ty = x + dx / norm * (node + 14), y + dy / norm * (node + 14) + 4
            anchor = "start" if dx > 5 else ("end" if dx < -5 else "middle")
        else:
            tx, ty, anchor = x, y + node + 16, "middle"
        out.append(f'<text x="{tx:.1f}" y="{ty:.1f}" text-anchor="{anchor}">{e(label)}</text></g>')
    out.append("</svg>")
    return "".join(out)
