"""A self-contained HTML report: KPIs, the models' credit side by side, charts, the Markov graph."""

from __future__ import annotations

import html
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from attribution.api import AttributionResult, ModelSpec, attribute, run_model, wide_credits
from attribution.errors import AttributionError
from attribution.journeys import Journeys
from attribution.kpis import KPIs, compute_kpis, format_kpi
from attribution.models.base import Model
from attribution.sinks import write_output
from attribution.sources import Source

__all__ = ["SECTIONS", "render_report", "write_report"]

SECTIONS = (
    "kpis",
    "credits",
    "model-chart",
    "costs",
    "channels",
    "path-lengths",
    "top-paths",
    "markov",
)
"""Ids of the report's sections, in order (``costs`` only with costs, ``markov`` may be a note)."""

# Colour-blind-safe categorical palette (Okabe & Ito, 2008), cycled for many models.
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#000000",
)
MIN_EDGE_PROBABILITY = 0.1
"""Transitions less likely than this are left out of the Markov graph (kept in its table)."""
MAX_GRAPH_STATES = 30
"""Chains with more states (many channels, or higher orders) get a table of their most likely
transitions instead of a graph and a matrix nobody could read."""

_CSS = """
:root { --fg: #1b1f24; --muted: #5b6470; --line: #d8dde3; --bg: #ffffff; --soft: #f4f6f8; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
  background: var(--bg); margin: 0 auto; max-width: 1120px; padding: 24px; }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 19px; margin: 0 0 10px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
section { border-top: 1px solid var(--line); padding: 20px 0; }
.muted, .note { color: var(--muted); } .note { font-size: 13px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 10px; }
.card { background: var(--soft); border-radius: 6px; padding: 10px 12px; }
.card .v { font-size: 20px; font-weight: 600; } .card .k { color: var(--muted); font-size: 12px; }
.card.na .v { color: var(--muted); font-weight: 400; font-size: 15px; }
.tables { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; margin: 4px 0; }
th, td { padding: 3px 10px; border-bottom: 1px solid var(--line); text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: var(--soft); cursor: pointer; user-select: none; font-weight: 600; }
td.heat { min-width: 52px; }
svg.chart { width: 100%; height: auto; max-width: 900px; display: block; }
svg text { font: 12px system-ui, sans-serif; fill: var(--fg); }
svg .axis text { fill: var(--muted); font-size: 11px; } svg .grid line { stroke: #e6e9ed; }
.legend span { display: inline-block; margin-right: 14px; font-size: 13px; }
.legend i { display: inline-block; width: 11px; height: 11px; margin-right: 5px;
  border-radius: 2px; }
@media print { th { cursor: auto; } section { break-inside: avoid; } }
"""

# Sortable tables (click a header) and a count of charts the browser laid out,
# which the headless-browser test reads back from the rendered DOM.
_SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th, col) {
    th.addEventListener("click", function () {
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      var dir = th.dataset.dir === "asc" ? -1 : 1; th.dataset.dir = dir > 0 ? "asc" : "desc";
      rows.sort(function (a, b) {
        var x = a.cells[col].dataset.v, y = b.cells[col].dataset.v;
        if (x !== undefined && y !== undefined) { return dir * (parseFloat(x) - parseFloat(y)); }
        return dir * a.cells[col].textContent.localeCompare(b.cells[col].textContent);
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
document.body.dataset.chartsRendered = Array.prototype.filter.call(
  document.querySelectorAll("svg.chart"), function (svg) {
    var box = svg.getBoundingClientRect();
    return box.width > 0 && box.height > 0 && svg.querySelector("rect, path, circle") !== null;
  }).length;
"""


@dataclass
class _Parts:
    """What the report is made of, gathered before any HTML is written."""

    result: AttributionResult
    kpis: KPIs
    costs: pl.DataFrame | None = None
    transitions: pl.DataFrame | None = None
    removal_effects: dict[str, float] | None = None
    markov_label: str | None = None
    notes: dict[str, list[str]] = field(default_factory=dict)

    def note(self, section: str, text: str) -> None:
        self.notes.setdefault(section, []).append(text)


# -- public API -------------------------------------------------------------------
def render_report(
    journeys: Journeys,
    models: Sequence[ModelSpec] | None = None,
    *,
    costs: Source | Mapping[str, float] | None = None,
    channel_kinds: Mapping[str, str] | None = None,
    top: int = 10,
    title: str = "Attribution report",
    source: str | None = None,
) -> str:
    """The report as one HTML document that needs no network to open.

    Styles, the small sorting script and every chart (inline SVG) are in the
    file; nothing is fetched. Sections (ids in :data:`SECTIONS`): the KPIs
    (:func:`attribution.kpis.compute_kpis`), the credit table of every model
    side by side, a chart comparing the models per channel, cost metrics when
    ``costs`` is given, per-channel conversion rates, the path length
    distribution, the top paths, and the Markov transition graph when a
    ``markov`` model is registered (a note says why when it is not).

    Parameters
    ----------
    journeys : Journeys
        The input, from events or a paths table.
    models : sequence of spec or Model, optional
        As for :func:`attribution.attribute`; ``None`` runs every registered model.
    costs : path, DataFrame or mapping, optional
        Spend per channel (see :func:`attribution.costs.read_costs`).
    channel_kinds : mapping, optional
        ``{channel: 'online'|'offline'}`` for the ROPO KPIs.
    top : int
        How many of the most frequent paths to list.
    title, source : str
        Heading of the report, and the input's name shown under it.
    """
    parts = _Parts(
        result=attribute(journeys, list(models) if models is not None else None),
        kpis=compute_kpis(journeys, channel_kinds=channel_kinds, top=top),
    )
    for name, reason in parts.result.skipped:
        parts.note("credits", f"skipped {name}: {reason}")
    for error in parts.result.load_errors.values():
        parts.note("credits", f"not loaded: {error}")
    if costs is not None:
        _add_costs(parts, costs)
    _add_markov(parts, journeys, explicit=models is not None)
    return _document(parts, title=title, source=source)


def write_report(
    output: str | os.PathLike,
    journeys: Journeys,
    models: Sequence[ModelSpec] | None = None,
    *,
    inputs: tuple[str | os.PathLike, ...] = (),
    **options: Any,
) -> None:
    """Write :func:`render_report` to ``output``, whole or not at all.

    ``inputs`` are files the report must never overwrite; ``options`` go to
    :func:`render_report`.
    """
    write_output(render_report(journeys, models, **options), output, "html", inputs=inputs)


# -- gathering --------------------------------------------------------------------
def _add_costs(parts: _Parts, costs: Source | Mapping[str, float]) -> None:
    from attribution.costs import join_costs

    costed = join_costs(parts.result.credits, costs)
    parts.costs = costed.table
    warning = costed.warning()
    if warning is not None:
        parts.note("costs", warning)


def _add_markov(parts: _Parts, journeys: Journeys, *, explicit: bool) -> None:
    """The transition table of the Markov run, running the model for it if need be."""
    run = next((r for r in parts.result.runs if r.model.name == "markov"), None)
    model: Model | None = run.model if run else None
    if run is not None:
        parts.markov_label = run.label
    else:
        error = parts.result.load_errors.get("markov")
        if error is None and explicit:
            # The models asked for leave Markov out; run it with its defaults for the graph.
            from attribution.registry import get_registry

            try:
                model = get_registry().get("markov")()
                run_model(model, journeys)
                parts.markov_label = "markov (default parameters, for this graph)"
            except AttributionError as exc:
                error = str(exc)
            except Exception as exc:  # a plugin's own bug must not sink the whole report
                error = f"the markov model failed: {type(exc).__name__}: {exc}"
        if model is None or error is not None:
            parts.note("markov", f"Markov transition graph omitted: {error or 'no markov model'}")
            return
    table = getattr(model, "transition_table", None)
    if not callable(table):
        parts.note("markov", "Markov transition graph omitted: the model has no transition_table()")
        return
    try:
        frame = table()
    except Exception as exc:  # same reason as above
        parts.note("markov", f"Markov transition graph omitted: {type(exc).__name__}: {exc}")
        return
    wanted = {"from", "to", "probability"}
    if not isinstance(frame, pl.DataFrame) or not wanted <= set(frame.columns):
        parts.note("markov", "Markov transition graph omitted: unexpected transition_table()")
        return
    parts.transitions = frame
    effects = getattr(model, "removal_effects_", None)
    if isinstance(effects, Mapping):
        parts.removal_effects = {str(k): float(v) for k, v in effects.items()}


# -- HTML -------------------------------------------------------------------------
def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _document(parts: _Parts, *, title: str, source: str | None) -> str:
    from attribution import __version__

    s = parts.result.summary
    sub = [f"source: {_e(source)}"] if source else []
    sub.append(
        f"{format_kpi('journeys', s['journeys'])} journeys, "
        f"{format_kpi('conversions', s['conversions'])} conversions, "
        f"{len(parts.result.runs)} model(s); attribution-engine {_e(__version__)}"
    )
    sections = [
        _section_kpis(parts),
        _section_credits(parts),
        _section_model_chart(parts),
        _section_costs(parts),
        _section_channels(parts),
        _section_path_lengths(parts),
        _section_top_paths(parts),
        _section_markov(parts),
    ]
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{_e(title)}</title><style>{_CSS}</style></head>",
            "<body>",
            f'<header><h1>{_e(title)}</h1><p class="muted">{" · ".join(sub)}</p></header>',
            *[sec for sec in sections if sec],
            f"<script>{_SCRIPT}</script>",
            "</body></html>",
            "",
        ]
    )


def _section(ident: str, heading: str, body: str, parts: _Parts) -> str:
    notes = "".join(f'<p class="note">{_e(n)}</p>' for n in parts.notes.get(ident, []))
    return f'<section id="{ident}"><h2>{_e(heading)}</h2>{body}{notes}</section>'


_LABELS = {
    "cross_channel_share": "Cross-channel share of conversions",
    "touches_per_converting_journey_mean": "Touches per converting journey, mean",
    "touches_per_converting_journey_median": "Touches per converting journey, median",
    "touches_per_converting_journey_p90": "Touches per converting journey, 90th pct",
    "days_to_conversion_median": "Days from first touch to conversion, median",
    "days_to_conversion_p90": "Days from first touch to conversion, 90th pct",
    "ropo_share": "ROPO: offline conversions with an online touch",
    "ropo_reverse_share": "Reverse ROPO: online conversions with an offline touch",
    "unknown_location_conversions": "Conversions of unknown location",
}


def _label(name: str) -> str:
    return _LABELS.get(name) or name.replace("_", " ").capitalize()


def _section_kpis(parts: _Parts) -> str:
    k = parts.kpis
    cards = []
    for name, value in k.headline.items():
        reason = k.unavailable.get(name)
        cls = "card na" if value is None else "card"
        tip = f' title="{_e(reason)}"' if reason else ""
        shown = "unavailable" if value is None else format_kpi(name, value)
        cards.append(
            f'<div class="{cls}" data-kpi="{_e(name)}"{tip}><div class="v">{_e(shown)}</div>'
            f'<div class="k">{_e(_label(name))}</div></div>'
        )
    body = f'<div class="cards">{"".join(cards)}</div>'
    if k.segments.height:
        body += "<h3>Customers who used one channel against several</h3>" + _table(k.segments)
    reasons = sorted(set(k.unavailable.values()))
    for note in [*(f"unavailable: {r}" for r in reasons), *k.notes]:
        parts.note("kpis", note)
    body += '<p class="note">Formulas: docs/kpis.md in the attribution-engine sources.</p>'
    return _section("kpis", "Journey KPIs", body, parts)


def _section_credits(parts: _Parts) -> str:
    result = parts.result
    if not result.runs:
        return _section("credits", "Credit by model", "<p>No model ran.</p>", parts)
    tables = [
        f"<div><h3>{title}</h3>{_table(result.wide(measure), kind=measure)}</div>"
        for measure, title in (
            ("conversions", "Conversions"),
            ("value", "Conversion value"),
            ("share", "Share of conversions"),
        )
    ]
    body = (
        '<p class="muted">Channels as rows, models as columns; click a header to sort.</p>'
        f'<div class="tables">{"".join(tables)}</div>'
    )
    return _section("credits", "Credit by model", body, parts)


def _section_model_chart(parts: _Parts) -> str:
    result = parts.result
    if not result.runs:
        return ""
    wide = result.wide("share")
    series = [(r.label, wide[r.label].fill_null(0.0).to_list()) for r in result.runs]
    chart = _grouped_bars(
        wide["channel"].to_list(),
        series,
        fmt=lambda v: f"{100 * v:.1f}%",
        name="models",
        caption="Share of credited conversions per channel, one bar per model",
    )
    return _section("model-chart", "Models compared per channel", chart, parts)


def _section_costs(parts: _Parts) -> str:
    if parts.costs is None:
        if "costs" in parts.notes:
            return _section("costs", "Cost, CPA, ROAS and ROI", "", parts)
        return ""
    frame = parts.costs
    labels = frame["model"].unique(maintain_order=True).to_list()
    cost = frame.select("channel", "cost").unique("channel", maintain_order=True)
    tables = []
    for measure, title in (("cpa", "Cost per acquisition"), ("roas", "ROAS"), ("roi", "ROI")):
        wide = wide_credits(frame, measure, labels, cost)
        tables.append(f"<div><h3>{title}</h3>{_table(wide, kind=measure)}</div>")
    body = (
        '<p class="muted">cpa = cost / conversions, roas = value / cost, '
        "roi = (value - cost) / cost; empty where the channel has no cost.</p>"
        f'<div class="tables">{"".join(tables)}</div>'
    )
    return _section("costs", "Cost, CPA, ROAS and ROI", body, parts)


def _section_channels(parts: _Parts) -> str:
    channels = parts.kpis.channels
    if channels["kind"].null_count() == channels.height:
        channels = channels.drop("kind")
    body = (
        '<p class="muted">Journeys that touched each channel at least once, and the share '
        "of them that converted.</p>" + _table(channels)
    )
    return _section("channels", "Conversion rate by channel", body, parts)


def _section_path_lengths(parts: _Parts) -> str:
    lengths = parts.kpis.path_lengths
    if lengths.height == 0:
        return _section("path-lengths", "Path length", "<p>No journeys.</p>", parts)
    conv = lengths["converting_journeys"].to_list()
    nulls = [a - b for a, b in zip(lengths["journeys"].to_list(), conv, strict=True)]
    chart = _stacked_columns(
        [str(n) for n in lengths["length"].to_list()],
        [("converting", conv, PALETTE[2]), ("not converting", nulls, "#b8c2cc")],
        name="path-lengths",
        caption="Journeys by number of touches",
    )
    return _section("path-lengths", "Path length distribution", chart, parts)


def _section_top_paths(parts: _Parts) -> str:
    body = _table(parts.kpis.top_paths) if parts.kpis.top_paths.height else "<p>No paths.</p>"
    return _section("top-paths", "Most frequent paths", body, parts)


def _section_markov(parts: _Parts) -> str:
    if parts.transitions is None:
        return _section("markov", "Markov transition graph", "", parts)
    frame = parts.transitions.with_columns(
        pl.col("from").cast(pl.String), pl.col("to").cast(pl.String)
    )
    n_states = len(set(frame["from"].to_list()) | set(frame["to"].to_list()))
    if n_states > MAX_GRAPH_STATES:
        top = frame.sort("probability", descending=True).head(50)
        body = (
            f'<p class="muted">The chain of {_e(parts.markov_label)} has {n_states} states, '
            "too many to draw; its 50 most likely transitions:</p>" + _table(top)
        )
        return _section("markov", "Markov transitions", body, parts)
    body = (
        f'<p class="muted">Transition probabilities of {_e(parts.markov_label)}; edges below '
        f"{MIN_EDGE_PROBABILITY:.0%} are left out of the graph (all are in the matrix). "
        "Hover an edge for its probability.</p>" + _markov_graph(frame)
    )
    body += "<h3>Transition matrix</h3>" + _matrix(frame)
    if parts.removal_effects:
        effects = pl.DataFrame(
            {
                "channel": list(parts.removal_effects),
                "removal_effect": list(parts.removal_effects.values()),
            }
        )
        body += "<h3>Removal effects</h3>" + _table(effects, kind="share")
    return _section("markov", "Markov transition graph", body, parts)


# -- tables -----------------------------------------------------------------------
def _cell_text(column: str, value: Any, kind: str | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if not isinstance(value, (int, float)):
        return str(value)
    name = column
    if kind in ("share", "roi"):
        name = "_share"
    elif kind in ("value", "cpa", "roas", "conversions"):
        name = "average_"  # always two decimals: fractional credit next to whole credit
    return format_kpi(name, float(value))


def _table(frame: pl.DataFrame, *, kind: str | None = None) -> str:
    """A sortable HTML table; numbers keep their raw value in ``data-v`` for sorting."""
    head = "".join(f"<th>{_e(c)}</th>" for c in frame.columns)
    numeric = [dt.is_numeric() for dt in frame.dtypes]
    rows = []
    for row in frame.iter_rows():
        cells = []
        for col, value, is_num in zip(frame.columns, row, numeric, strict=True):
            text = _e(_cell_text(col, value, kind if col != "cost" else "value"))
            if is_num and value is not None and not (isinstance(value, float) and value != value):
                cells.append(f'<td data-v="{float(value)!r}">{text}</td>')
            else:
                cells.append(f"<td>{text}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<table class="sortable"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _matrix(frame: pl.DataFrame) -> str:
    """The transition matrix with each cell shaded by its probability."""
    states = _ordered_states(frame)
    starts = [s for s in states if s in set(frame["from"].to_list())]
    ends = [s for s in states if s in set(frame["to"].to_list())]
    prob = {(a, b): p for a, b, p in frame.select("from", "to", "probability").iter_rows()}
    head = "<th>from \\ to</th>" + "".join(f"<th>{_e(s)}</th>" for s in ends)
    rows = []
    for a in starts:
        cells = []
        for b in ends:
            p = prob.get((a, b))
            if p is None:
                cells.append('<td class="heat"></td>')
            else:
                shade = f"rgba(0,114,178,{0.08 + 0.8 * max(0.0, min(1.0, p)):.3f})"
                color = "#fff" if p > 0.55 else "inherit"
                cells.append(
                    f'<td class="heat" data-v="{p!r}" style="background:{shade};color:{color}">'
                    f"{100 * p:.1f}%</td>"
                )
        rows.append(f"<tr><td>{_e(a)}</td>{''.join(cells)}</tr>")
    return (
        f'<table class="sortable matrix"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


# -- charts (inline SVG) ------------------------------------------------------------
def _nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick values covering ``[lo, hi]``."""
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks = []
    t = start
    while t <= hi + step * 1e-9:
        ticks.append(round(t, 12))
        t += step
    if ticks[-1] < hi:
        ticks.append(ticks[-1] + step)
    return ticks


def _legend(items: Sequence[tuple[str, str]]) -> str:
    spans = "".join(f'<span><i style="background:{c}"></i>{_e(label)}</span>' for label, c in items)
    return f'<div class="legend">{spans}</div>'


def _grouped_bars(
    categories: list[str],
    series: list[tuple[str, list[float]]],
    *,
    fmt: Callable[[float], str],
    name: str,
    caption: str,
) -> str:
    """Horizontal bars: one group per category, one bar per series."""
    bar, gap, left, width, top = 12, 10, 150, 860, 24
    group = bar * len(series) + gap
    height = top + group * len(categories) + 24
    values = [v for _, vs in series for v in vs] or [0.0]
    ticks = _nice_ticks(min(0.0, min(values)), max(0.0, max(values)))
    lo, hi = ticks[0], ticks[-1]
    plot = width - left - 20

    def x(v: float) -> float:
        return left + (v - lo) / (hi - lo) * plot

    out = [_svg_open(name, width, height, caption), '<g class="grid axis">']
    for t in ticks:
        out.append(
            f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{top - 6}" y2="{height - 20}"/>'
            f'<text x="{x(t):.1f}" y="{height - 6}" text-anchor="middle">{_e(fmt(t))}</text>'
        )
    out.append("</g>")
    for i, cat in enumerate(categories):
        y0 = top + i * group
        out.append(
            f'<text x="{left - 8}" y="{y0 + (group - gap) / 2 + 4:.1f}" '
            f'text-anchor="end">{_e(cat)}</text>'
        )
        for k, (label, vs) in enumerate(series):
            v = vs[i]
            x0, x1 = sorted((x(0.0), x(v)))
            out.append(
                f'<rect x="{x0:.1f}" y="{y0 + k * bar}" width="{max(x1 - x0, 0.5):.1f}" '
                f'height="{bar - 2}" fill="{PALETTE[k % len(PALETTE)]}">'
                f"<title>{_e(cat)}, {_e(label)}: {_e(fmt(v))}</title></rect>"
            )
    out.append(
        f'<line x1="{x(0):.1f}" x2="{x(0):.1f}" y1="{top - 6}" y2="{height - 20}" '
        'stroke="#5b6470"/>'
    )
    out.append("</svg>")
    legend = _legend([(label, PALETTE[k % len(PALETTE)]) for k, (label, _) in enumerate(series)])
    return legend + "".join(out)


def _svg_open(name: str, width: float, height: float, caption: str) -> str:
    """The opening tag of a chart, titled for screen readers and the tests."""
    return (
        f'<svg class="chart" data-chart="{_e(name)}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{_e(caption)}"><title>{_e(caption)}</title>'
    )


def _stacked_columns(
    labels: list[str],
    stacks: list[tuple[str, list[float], str]],
    *,
    name: str,
    caption: str,
) -> str:
    """Vertical columns, one per label, with the stacks on top of each other."""
    width, height, left, bottom, top = 860, 300, 60, 40, 12
    totals = [sum(s[1][i] for s in stacks) for i in range(len(labels))]
    ticks = _nice_ticks(0.0, max(totals, default=0.0))
    hi = ticks[-1]
    plot_h, plot_w = height - top - bottom, width - left - 20
    step = plot_w / max(len(labels), 1)
    col = max(min(step * 0.75, 60), 2)

    def y(v: float) -> float:
        return top + plot_h - v / hi * plot_h

    out = [_svg_open(name, width, height, caption), '<g class="grid axis">']
    for t in ticks:
        out.append(
            f'<line x1="{left}" x2="{width - 20}" y1="{y(t):.1f}" y2="{y(t):.1f}"/>'
            f'<text x="{left - 6}" y="{y(t) + 4:.1f}" text-anchor="end">{t:,.0f}</text>'
        )
    out.append("</g>")
    every = max(1, math.ceil(len(labels) / 30))  # keep axis labels legible for long paths
    for i, label in enumerate(labels):
        cx = left + (i + 0.5) * step
        base = 0.0
        for stack_label, values, color in stacks:
            v = values[i]
            if v > 0:
                out.append(
                    f'<rect x="{cx - col / 2:.1f}" y="{y(base + v):.1f}" width="{col:.1f}" '
                    f'height="{y(base) - y(base + v):.1f}" fill="{color}"><title>'
                    f"{_e(label)} touches, {_e(stack_label)}: {v:,.0f}</title></rect>"
                )
            base += v
        if i % every == 0:
            out.append(
                f'<text class="axis" x="{cx:.1f}" y="{height - bottom + 16}" '
                f'text-anchor="middle">{_e(label)}</text>'
            )
    out.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 4}" text-anchor="middle">'
        "touches per journey</text></svg>"
    )
    return _legend([(s[0], s[2]) for s in stacks]) + "".join(out)


def _kind_of_state(state: str) -> str:
    """start, conversion, null or channel, from the state's name."""
    s = state.lower().strip("()<>[] ")
    if s in ("start", "begin"):
        return "start"
    if s in ("conversion", "conv", "converted", "success"):
        return "conversion"
    if s in ("null", "no conversion", "exit", "failure", "drop"):
        return "null"
    return "channel"


def _ordered_states(frame: pl.DataFrame) -> list[str]:
    names = set(frame["from"].to_list()) | set(frame["to"].to_list())
    rank = {"start": 0, "channel": 1, "conversion": 2, "null": 3}
    return sorted(names, key=lambda s: (rank[_kind_of_state(s)], s))


def _markov_graph(frame: pl.DataFrame) -> str:
    """Start on the left, channels on a circle, conversion and null on the right."""
    width, height = 860, 560
    cx, cy, radius, node = width / 2, height / 2, 200, 20
    states = _ordered_states(frame)
    channels = [s for s in states if _kind_of_state(s) == "channel"]
    pos: dict[str, tuple[float, float]] = {}
    for i, s in enumerate(channels):
        angle = -math.pi / 2 + 2 * math.pi * i / max(len(channels), 1)
        pos[s] = (cx + radius * math.cos(angle), cy + radius * math.sin(angle))
    fixed = {
        "start": (50.0, cy),
        "conversion": (width - 50.0, cy - 110),
        "null": (width - 50.0, cy + 110),
    }
    for s in states:
        if s not in pos:
            pos[s] = fixed[_kind_of_state(s)]
    colors = {
        "start": "#5b6470",
        "conversion": PALETTE[2],
        "null": "#b8c2cc",
        "channel": PALETTE[0],
    }
    out = [
        f'<svg class="chart" data-chart="markov" viewBox="0 0 {width} {height}" role="img" '
        'aria-label="Markov transition graph"><title>Markov transition graph</title>',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="9" '
        'markerHeight="9" markerUnits="userSpaceOnUse" orient="auto-start-reverse">'
        '<path d="M0,0L10,5L0,10z" fill="#33485c"/></marker></defs>',
    ]
    edges = frame.filter(pl.col("probability") >= MIN_EDGE_PROBABILITY).sort("probability")
    has_count = "count" in frame.columns
    for row in edges.iter_rows(named=True):
        a, b, p = row["from"], row["to"], float(row["probability"])
        tip = f"{a} → {b}: {100 * p:.1f}%"
        if has_count and row.get("count") is not None:
            tip += f" ({row['count']:,.0f} transitions)"
        width_px = 0.6 + 6 * p
        style = f'fill="none" stroke="#33485c" stroke-opacity="{0.25 + 0.7 * p:.2f}" '
        style += f'stroke-width="{width_px:.2f}" marker-end="url(#arrow)"'
        (x1, y1), (x2, y2) = pos[a], pos[b]
        if a == b:  # a self-loop, drawn outside the circle of channels
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
        out.append(f'<path d="{d}" {style}><title>{_e(tip)}</title></path>')
    for s in states:
        x, y = pos[s]
        kind = _kind_of_state(s)
        out.append(
            f'<g class="node" data-state="{_e(s)}"><circle cx="{x:.1f}" cy="{y:.1f}" r="{node}" '
            f'fill="{colors[kind]}" stroke="#fff" stroke-width="2"><title>{_e(s)}</title></circle>'
        )
        if kind == "channel":
            dx, dy = x - cx, y - cy
            norm = math.hypot(dx, dy) or 1.0
            tx, ty = x + dx / norm * (node + 14), y + dy / norm * (node + 14) + 4
            anchor = "start" if dx > 5 else ("end" if dx < -5 else "middle")
        else:
            tx, ty, anchor = x, y + node + 16, "middle"
        out.append(f'<text x="{tx:.1f}" y="{ty:.1f}" text-anchor="{anchor}">{_e(s)}</text></g>')
    out.append("</svg>")
    return "".join(out)


def _toward(x: float, y: float, tx: float, ty: float, distance: float) -> tuple[float, float]:
    """The point ``distance`` from ``(x, y)`` in the direction of ``(tx, ty)``."""
    dx, dy = tx - x, ty - y
    norm = math.hypot(dx, dy) or 1.0
    return x + dx / norm * distance, y + dy / norm * distance
