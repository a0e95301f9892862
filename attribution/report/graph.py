"""The transition graph of a model with a Markov chain, drawn as inline SVG by our own code.

The graph is drawn here rather than by matplotlib so that the report shows it
without the ``[plot]`` extra, and so that each edge and node carries its
probability as a hover title, which matplotlib's SVG output cannot; every
probability is printed too, so that it reads on paper.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from attribution.plot import PALETTE
from attribution.report.tables import e, heat_matrix, table

__all__ = [
    "KINDS",
    "MAX_GRAPH_STATES",
    "Chain",
    "chain_of",
    "exits_table",
    "graph_svg",
    "matrix",
    "top_transitions",
]

KINDS = ("start", "state", "conversion", "null")
"""Roles of a node, in the order the matrix and the layout list them."""

MAX_GRAPH_STATES = 30
"""Chains with more states (many channels, or higher orders) get a table of every state's
entry and exit probabilities and of their most likely transitions, instead of a graph and a
matrix nobody could read."""

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


def _exit_probabilities(chain: Chain) -> pl.DataFrame:
    """Per state: P(a journey starts there), P(next is a conversion), P(next is the null end)."""
    kind = {n: k for n, k in chain.kinds.items()}
    edges = chain.edges.with_columns(
        pl.col("from").replace_strict(kind, default="state").alias("_from_kind"),
        pl.col("to").replace_strict(kind, default="state").alias("_to_kind"),
    )
    states = [n for n in chain.nodes if chain.kinds[n] == "state"]
    frame = pl.DataFrame({"id": states}, schema={"id": pl.String})

    def summed(mask: pl.Expr, key: str, name: str) -> pl.DataFrame:
        return (
            edges.filter(mask)
            .group_by(key)
            .agg(pl.col("probability").sum().alias(name))
            .rename({key: "id"})
        )

    starts = chain.edges.filter(
        pl.col("from").is_in([n for n, k in chain.kinds.items() if k == "start"])
    )
    # a share of journeys: several start nodes (rare) are one start together
    n_starts = max(1, starts["from"].n_unique())
    for part in (
        summed(pl.col("_from_kind") == "start", "to", "start_probability").with_columns(
            pl.col("start_probability") / n_starts
        ),
        summed(pl.col("_to_kind") == "conversion", "from", "conversion_probability"),
        summed(pl.col("_to_kind") == "null", "from", "null_probability"),
    ):
        frame = frame.join(part, on="id", how="left", maintain_order="left")
    return frame.with_columns(
        pl.col("start_probability", "conversion_probability", "null_probability").fill_null(0.0)
    )


def exits_table(chain: Chain) -> str:
    """Every state's entry and exit probabilities as a table (the large chains' graph)."""
    frame = _exit_probabilities(chain)
    shown = frame.with_columns(
        pl.col("id").replace_strict(chain.labels, default=None).alias("state")
    ).sort("conversion_probability", "state", descending=[True, False])
    return table(
        shown.select("state", "start_probability", "conversion_probability", "null_probability"),
        headers={"state": "State"},
    )


_NAME_CHARS = 24  # a longer state name is cut, with its whole text in the hover title


def _short(text: str) -> str:
    return text if len(text) <= _NAME_CHARS else text[: _NAME_CHARS - 1] + "…"


def _curve(sx: float, sy: float, ex: float, ey: float, out: float, back: float) -> str:
    """A cubic path from (sx, sy) to (ex, ey), leaving and arriving level."""
    return f"M{sx:.1f},{sy:.1f} C{sx + out:.1f},{sy:.1f} {ex - back:.1f},{ey:.1f} {ex:.1f},{ey:.1f}"


def graph_svg(chain: Chain) -> str:
    """The chain as an SVG funnel: start -> every state -> conversion or null, all printed.

    Every state is one row, most likely to convert first. An edge from the
    start to each state carries the share of journeys that start there; two
    edges from each state, to the conversion and to the null end, carry the
    probability that the next step is that one. Every one of those edges is
    drawn, however small, with its probability written next to it, so the
    graph reads the same on paper as on screen (each edge also has a hover
    title). Transitions between states are in the matrix (:func:`matrix`).
    """
    probs = _exit_probabilities(chain)
    probs = probs.with_columns(
        pl.col("id").replace_strict(chain.labels, default=None).alias("_label")
    ).sort("conversion_probability", "_label", descending=[True, False])
    states = probs["id"].to_list()
    row_h, top = 34.0, 40.0
    width = 860.0
    height = max(260.0, top * 2 + row_h * max(len(states), 1))
    ends = {
        k: [n for n in chain.nodes if chain.kinds[n] == k] for k in ("start", "conversion", "null")
    }
    pos: dict[str, tuple[float, float]] = {}
    for i, s in enumerate(states):
        pos[s] = (300.0, top + row_h * (i + 0.5))
    span = height - 2 * top
    for kind, (x, share) in {
        "start": (50.0, 0.5),
        "conversion": (810.0, 0.28),
        "null": (810.0, 0.72),
    }.items():
        same = ends[kind]
        for i, n in enumerate(same):  # several nodes of one role stack around its place
            pos[n] = (x, top + span * share + (i - (len(same) - 1) / 2) * 60)
    node = 10.0
    colors = {**_COLORS, "conversion_text": "#006b4f", "null_text": "#4a525c"}
    out = [
        f'<svg class="chart graph" data-chart="markov" viewBox="0 0 {width:.0f} {height:.0f}" '
        'role="img" aria-label="Markov transition graph"><title>Markov transition graph</title>',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" '
        'markerHeight="8" markerUnits="userSpaceOnUse" orient="auto-start-reverse">'
        '<path d="M0,0L10,5L0,10z" fill="#33485c"/></marker></defs>',
    ]
    has_count = "count" in chain.edges.columns
    kinds = chain.kinds
    wanted = chain.edges.filter(
        (pl.col("from").replace_strict(kinds, default="state") == "start")
        & (pl.col("to").replace_strict(kinds, default="state") == "state")
        | (pl.col("from").replace_strict(kinds, default="state") == "state")
        & pl.col("to").replace_strict(kinds, default="state").is_in(["conversion", "null"])
    )
    exit_slot: dict[str, int] = {}
    # conversions first, then null: the two printed figures keep one order in every row
    wanted = wanted.with_columns(
        (pl.col("to").replace_strict(kinds, default="state") == "null").alias("_later")
    ).sort("from", "_later", "to")
    for row in wanted.iter_rows(named=True):  # a loop over drawn edges (two or three a state)
        a, b, p = row["from"], row["to"], float(row["probability"])
        tip = f"{chain.labels[a]} → {chain.labels[b]}: {100 * p:.1f}%"
        if has_count and row["count"] is not None:
            tip += f" ({row['count']:,.0f} transitions)"
        (x1, y1), (x2, y2) = pos[a], pos[b]
        to_kind = kinds[b]
        stroke = {"conversion": PALETTE[2], "null": "#8a96a3"}.get(to_kind, "#33485c")
        style_ = (
            f'fill="none" stroke="{stroke}" stroke-opacity="{0.35 + 0.6 * p:.2f}" '
            f'stroke-width="{0.8 + 5 * p:.2f}"'
        )
        if kinds[a] == "start":
            sx, sy, ex, ey = x1 + 20, y1, x2 - node - 2, y2
            d = _curve(sx, sy, ex, ey, 120, 110)
            text = (
                f'<text class="p" x="{ex - 6:.1f}" y="{ey - 5:.1f}" text-anchor="end">'
                f"{100 * p:.1f}%</text>"
            )
        else:
            slot = exit_slot.get(a, 0)
            exit_slot[a] = slot + 1
            word = "converts" if to_kind == "conversion" else "leaves"
            ty = y1 - 3 + 13 * slot
            sx, sy = 560.0, y1 - 4 + 9 * slot
            ex, ey = x2 - 22, y2
            d = _curve(sx, sy, ex, ey, 110, 80)
            text = (
                f'<text class="p" x="470" y="{ty:.1f}" fill="{colors[to_kind + "_text"]}">'
                f"{word} {100 * p:.1f}%</text>"
            )
        out.append(
            f'<g class="edge" data-from="{e(a)}" data-to="{e(b)}" data-p="{p!r}">'
            f'<path d="{d}" {style_} marker-end="url(#arrow)"><title>{e(tip)}</title></path>'
            f"{text}</g>"
        )
    for n in chain.nodes:
        if n not in pos:
            continue  # a node of no drawn edge (a state with no start and no exit is still a row)
        x, y = pos[n]
        kind, name = chain.kinds[n], chain.labels[n]
        r = node if kind == "state" else 20.0
        out.append(
            f'<g class="node" data-state="{e(n)}" data-kind="{kind}">'
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.0f}" fill="{_COLORS[kind]}" '
            f'stroke="#fff" stroke-width="2"><title>{e(name)}</title></circle>'
        )
        if kind == "state":  # the name right of its node, before the printed exits
            tx, ty, anchor = x + node + 6, y + 4, "start"
        else:
            tx, ty, anchor = x, y + 20 + 15, "middle"
        out.append(
            f'<text x="{tx:.1f}" y="{ty:.1f}" text-anchor="{anchor}">{e(_short(name))}</text></g>'
        )
    out.append("</svg>")
    return "".join(out)
