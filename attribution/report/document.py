"""The report document: a finished run rendered as one self-contained HTML page.

:func:`render` runs nothing: no model, no KPI, no cost join. It reads the
attribution result, the KPIs and the costed credit table it is given, and
asks each model what it has (:mod:`attribution.capabilities`), never what it
is called.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib.resources import files

import polars as pl

from attribution.api import AttributionResult, ModelRun, wide_credits
from attribution.capabilities import HasRemovalEffects, HasTransitions
from attribution.costs import TOTAL, CostedCredits
from attribution.kpis import KPIs, format_kpi
from attribution.report import charts, trend
from attribution.report.graph import (
    MAX_GRAPH_STATES,
    MIN_EDGE_PROBABILITY,
    chain_of,
    graph_svg,
    matrix,
    top_transitions,
)
from attribution.report.tables import e, table

__all__ = ["SECTIONS", "render"]

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


def _static(name: str) -> str:
    return files("attribution.report").joinpath("static").joinpath(name).read_text(encoding="utf-8")


@dataclass
class _Page:
    """What one page is made of, and the notes its sections gather while rendering."""

    result: AttributionResult
    kpis: KPIs
    costs: pl.DataFrame | None
    graph: ModelRun | None
    charts: bool
    notes: dict[str, list[str]] = field(default_factory=dict)

    def note(self, section: str, text: str) -> None:
        self.notes.setdefault(section, []).append(text)


def render(
    result: AttributionResult,
    kpis: KPIs,
    costs: pl.DataFrame | None = None,
    *,
    graph: ModelRun | None = None,
    notes: Mapping[str, Sequence[str]] | None = None,
    title: str = "Attribution report",
    source: str | None = None,
) -> str:
    """The report of a finished run, as one HTML document that needs no network to open.

    Styles, the small sorting script and every chart (inline SVG) are in the
    document; nothing is fetched. Sections (ids in :data:`SECTIONS`): the
    KPIs, the credit table of every model side by side, a chart comparing the
    models per channel, cost metrics when ``costs`` is given, per-channel
    conversion rates, the path length distribution, the top paths, and the
    transition graph of the first run whose model has one
    (:class:`~attribution.capabilities.HasTransitions`; a note says why when
    none has). Without matplotlib (the ``[plot]`` extra) the two charts are
    left out and the report says once how to get them.

    Parameters
    ----------
    result : AttributionResult
        The models' run (:func:`attribution.attribute`).
    kpis : KPIs
        The journeys' KPIs (:func:`attribution.kpis.compute_kpis`).
    costs : DataFrame, optional
        ``result.credits`` with costs joined (:func:`attribution.costs.join_costs`);
        channels without a cost are named in a note.
    graph : ModelRun, optional
        A fitted model to draw the transition graph from when no run of
        ``result`` has one (the CLI runs Markov with its defaults for this).
    notes : mapping of section id to texts, optional
        The caller's notes, shown at the end of their section.
    title, source : str
        Heading of the report, and the input's name shown under it.
    """
    page = _Page(result, kpis, costs, graph, charts=charts.available())
    for section, texts in (notes or {}).items():
        for text in texts:
            page.note(section, text)
    for name, reason in result.skipped:
        page.note("credits", f"skipped {name}: {reason}")
    for error in result.load_errors.values():
        page.note("credits", f"not loaded: {error}")
    return _document(page, title=title, source=source)


def _document(page: _Page, *, title: str, source: str | None) -> str:
    from attribution import __version__

    s = page.result.summary
    sub = [f"source: {e(source)}"] if source else []
    sub.append(
        f"{format_kpi('journeys', s['journeys'])} journeys, "
        f"{format_kpi('conversions', s['conversions'])} conversions, "
        f"{len(page.result.runs)} model(s); attribution-engine {e(__version__)}"
    )
    sections = [
        _section_kpis(page),
        _section_credits(page),
        _section_model_chart(page),
        _section_costs(page),
        trend.sections(page),  # a run at a finer grain (issue 17): trend, segments
        _section_channels(page),
        _section_path_lengths(page),
        _section_top_paths(page),
        _section_markov(page),
    ]
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{e(title)}</title><style>{_static('report.css')}</style></head>",
            "<body>",
            f'<header><h1>{e(title)}</h1><p class="muted">{" · ".join(sub)}</p></header>',
            *[sec for sec in sections if sec],
            f"<script>{_static('report.js')}</script>",
            "</body></html>",
            "",
        ]
    )


def _section(ident: str, heading: str, body: str, page: _Page) -> str:
    notes = "".join(f'<p class="note">{e(n)}</p>' for n in page.notes.get(ident, []))
    return f'<section id="{ident}"><h2>{e(heading)}</h2>{body}{notes}</section>'


def _label(name: str) -> str:
    return _LABELS.get(name) or name.replace("_", " ").capitalize()


def _section_kpis(page: _Page) -> str:
    k = page.kpis
    cards = []
    for name, value in k.headline.items():
        reason = k.unavailable.get(name)
        cls = "card na" if value is None else "card"
        tip = f' title="{e(reason)}"' if reason else ""
        shown = "unavailable" if value is None else format_kpi(name, value)
        cards.append(
            f'<div class="{cls}" data-kpi="{e(name)}"{tip}><div class="v">{e(shown)}</div>'
            f'<div class="k">{e(_label(name))}</div></div>'
        )
    body = f'<div class="cards">{"".join(cards)}</div>'
    if k.segments.height:
        body += "<h3>Customers who used one channel against several</h3>" + table(k.segments)
    reasons = sorted(set(k.unavailable.values()))
    for note in [*(f"unavailable: {r}" for r in reasons), *k.notes]:
        page.note("kpis", note)
    body += '<p class="note">Formulas: docs/kpis.md in the attribution-engine sources.</p>'
    return _section("kpis", "Journey KPIs", body, page)


def _section_credits(page: _Page) -> str:
    result = page.result
    if not result.runs:
        return _section("credits", "Credit by model", "<p>No model ran.</p>", page)
    tables = [
        f"<div><h3>{heading}</h3>{table(result.wide(measure), kind=measure)}</div>"
        for measure, heading in (
            ("conversions", "Conversions"),
            ("value", "Conversion value"),
            ("share", "Share of conversions"),
        )
    ]
    body = (
        '<p class="muted">Channels as rows, models as columns; click a header to sort.</p>'
        f'<div class="tables">{"".join(tables)}</div>'
    )
    return _section("credits", "Credit by model", body, page)


def _section_model_chart(page: _Page) -> str:
    if not page.result.runs:
        return ""
    if not page.charts:  # said here once, where the first chart would be
        return _section(
            "model-chart",
            "Models compared per channel",
            f'<p class="note">{e(charts.MISSING)}</p>',
            page,
        )
    body = charts.model_chart(page.result)
    return _section("model-chart", "Models compared per channel", body, page)


def _section_costs(page: _Page) -> str:
    if page.costs is None:
        if "costs" in page.notes:
            return _section("costs", "Cost, CPA, ROAS and ROI", "", page)
        return ""
    frame = page.costs
    uncosted = frame.filter(pl.col("cost").is_null() & (pl.col("channel") != TOTAL))
    if uncosted.height:
        channels = sorted(uncosted["channel"].unique().to_list())
        page.note("costs", str(CostedCredits(frame, channels).warning()))
    labels = frame["model"].unique(maintain_order=True).to_list()
    cost = frame.select("channel", "cost").unique("channel", maintain_order=True)
    tables = []
    for measure, heading in (("cpa", "Cost per acquisition"), ("roas", "ROAS"), ("roi", "ROI")):
        wide = wide_credits(frame, measure, labels, cost)
        tables.append(f"<div><h3>{heading}</h3>{table(wide, kind=measure)}</div>")
    body = (
        '<p class="muted">cpa = cost / conversions, roas = value / cost, '
        "roi = (value - cost) / cost; empty where the channel has no cost.</p>"
        f'<div class="tables">{"".join(tables)}</div>'
    )
    return _section("costs", "Cost, CPA, ROAS and ROI", body, page)


def _section_channels(page: _Page) -> str:
    channels = page.kpis.channels
    if channels["kind"].null_count() == channels.height:
        channels = channels.drop("kind")
    body = (
        '<p class="muted">Journeys that touched each channel at least once, and the share '
        "of them that converted.</p>" + table(channels)
    )
    return _section("channels", "Conversion rate by channel", body, page)


def _section_path_lengths(page: _Page) -> str:
    lengths = page.kpis.path_lengths
    if lengths.height == 0:
        return _section("path-lengths", "Path length distribution", "<p>No journeys.</p>", page)
    if page.charts:
        body = charts.path_length_chart(lengths)
    else:  # the numbers the chart would show
        body = table(lengths)
    return _section("path-lengths", "Path length distribution", body, page)


def _section_top_paths(page: _Page) -> str:
    body = table(page.kpis.top_paths) if page.kpis.top_paths.height else "<p>No paths.</p>"
    return _section("top-paths", "Most frequent paths", body, page)


def _section_markov(page: _Page) -> str:
    heading = "Markov transition graph"
    run = next((r for r in page.result.runs if isinstance(r.model, HasTransitions)), page.graph)
    if run is None or not isinstance(run.model, HasTransitions):
        if "markov" not in page.notes:  # the caller did not say why
            page.note("markov", f"{heading} omitted: no model with a transition graph ran")
        return _section("markov", heading, "", page)
    try:
        frame = run.model.transition_table()
    except Exception as exc:  # a plugin's own bug must not sink the whole report
        page.note("markov", f"{heading} omitted: {type(exc).__name__}: {exc}")
        return _section("markov", heading, "", page)
    chain = chain_of(frame)
    if chain is None:
        page.note("markov", f"{heading} omitted: unexpected transition_table()")
        return _section("markov", heading, "", page)
    if len(chain.kinds) > MAX_GRAPH_STATES:
        body = (
            f'<p class="muted">The chain of {e(run.label)} has {len(chain.kinds)} states, '
            "too many to draw; its 50 most likely transitions:</p>" + top_transitions(chain)
        )
        return _section("markov", "Markov transitions", body, page)
    body = (
        f'<p class="muted">Transition probabilities of {e(run.label)}; edges below '
        f"{MIN_EDGE_PROBABILITY:.0%} are left out of the graph (all are in the matrix). "
        "Hover an edge for its probability.</p>" + graph_svg(chain)
    )
    body += "<h3>Transition matrix</h3>" + matrix(chain)
    effects = run.model.removal_effects_ if isinstance(run.model, HasRemovalEffects) else None
    if isinstance(effects, Mapping) and effects:  # the protocol checks presence, not shape
        frame = pl.DataFrame(
            {
                "channel": [str(c) for c in effects],
                "removal_effect": [float(v) for v in effects.values()],
            },
            schema={"channel": pl.String, "removal_effect": pl.Float64},
        )
        body += "<h3>Removal effects</h3>" + table(frame, kind="share")
    return _section("markov", heading, body, page)
