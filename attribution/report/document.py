"""The report document: a finished run rendered as one self-contained HTML page.

:func:`render` runs nothing: no model, no KPI, no cost join. It reads the
attribution result, the KPIs and the costed credit table it is given, and
asks each model what it has (:mod:`attribution.capabilities`), never what it
is called. Each section is one function of the page (:data:`SECTION_RENDERERS`),
so a new section is one function and one row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.resources import files

import polars as pl

from attribution.api import AttributionResult, ModelRun, wide_credits
from attribution.capabilities import HasRemovalEffects, HasTransitions
from attribution.change import credit_change
from attribution.costs import TOTAL, CostedCredits
from attribution.coverage import Coverage, coverage_facts
from attribution.kpis import KPIs
from attribution.labels import (
    HEADLINE_KPIS,
    Kind,
    format_value,
    kind_of,
    kpi_groups,
    label,
    model_summary,
    model_title,
)
from attribution.plot import model_colors
from attribution.report import charts, trend
from attribution.report.graph import (
    MAX_GRAPH_STATES,
    chain_of,
    exits_table,
    graph_svg,
    matrix,
    top_transitions,
)
from attribution.report.tables import e, table

__all__ = ["SECTIONS", "SECTION_RENDERERS", "TOP_CHANNELS", "render"]

TOP_CHANNELS = 12
"""Channels a chart shows by name; the others are one "Other" bar (the tables have all)."""


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
    coverage: Coverage = field(default_factory=Coverage)
    baseline: str | ModelRun | None = None
    notes: dict[str, list[str]] = field(default_factory=dict)

    def note(self, section: str, text: str) -> None:
        self.notes.setdefault(section, []).append(text)

    @property
    def currency(self) -> str | None:
        return self.coverage.currency

    @property
    def labels(self) -> list[str]:
        return [run.label for run in self.result.runs]

    def titles(self) -> dict[str, str]:
        """Each model's label -> its title in words, the header of its column."""
        return {label_: model_title(label_) for label_ in self.labels}


def render(
    result: AttributionResult,
    kpis: KPIs,
    costs: pl.DataFrame | None = None,
    *,
    graph: ModelRun | None = None,
    notes: Mapping[str, Sequence[str]] | None = None,
    title: str = "Attribution report",
    source: str | None = None,
    coverage: Coverage | None = None,
    baseline: str | ModelRun | None = None,
) -> str:
    """The report of a finished run, as one HTML document that needs no network to open.

    Styles, the small sorting script and every chart (inline SVG) are in the
    document; nothing is fetched. It opens with what it covers (the period, the
    lookback window, journeys, customers, conversions and their value, each
    model with one plain sentence on what it credits), then the sections of
    :data:`SECTIONS`: the headline KPIs and the rest grouped, the credit of
    every model side by side, a chart of the models per channel (the top
    :data:`TOP_CHANNELS` channels and one "Other" bar), each channel's change
    against the ``baseline`` model, cost metrics when ``costs`` is given,
    per-channel conversion rates, the path length distribution, the top paths,
    the transition graph of the first run whose model has one
    (:class:`~attribution.capabilities.HasTransitions`), and an appendix of the
    formulas. Without matplotlib (the ``[plot]`` extra) the charts are left out
    and the report says once how to get them.

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
    coverage : Coverage, optional
        The input's period, the lookback window and the currency of values
        (:class:`attribution.coverage.Coverage`); without it the report says
        what the run's summary says, in plain numbers.
    baseline : str or ModelRun, optional
        The model the others are compared with: the label of one of
        ``result``'s runs, or a run of its own (then it is not among the
        models compared). None leaves the comparison out, with a note.
    """
    cov = coverage or Coverage()
    if source and not cov.source:
        cov = Coverage(source, cov.period, cov.lookback_days, cov.currency)
    page = _Page(result, kpis, costs, graph, charts.available(), cov, baseline)
    for section, texts in (notes or {}).items():
        for text in texts:
            page.note(section, text)
    for name, reason in result.skipped:
        page.note("credits", f"skipped {name}: {reason}")
    for error in result.load_errors.values():
        page.note("credits", f"not loaded: {error}")
    return _document(page, title=title)


def _document(page: _Page, *, title: str) -> str:
    from attribution import __version__

    sections = [render_section(page) for _, render_section in SECTION_RENDERERS]
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{e(title)}</title><style>{_static('report.css')}</style></head>",
            "<body>",
            f"<header><h1>{e(title)}</h1>"
            f'<p class="muted">attribution-engine {e(__version__)}</p></header>',
            *[sec for sec in sections if sec],
            f"<script>{_static('report.js')}</script>",
            "</body></html>",
            "",
        ]
    )


def _section(ident: str, heading: str, body: str, page: _Page) -> str:
    notes = "".join(f'<p class="note">{e(n)}</p>' for n in page.notes.get(ident, []))
    return f'<section id="{ident}"><h2>{e(heading)}</h2>{body}{notes}</section>'


def _money(page: _Page, value: float | None) -> str:
    return format_value(value, "money", currency=page.currency)


def _kpi_text(page: _Page, name: str, value: float | None) -> str:
    kind = kind_of(name)
    return _money(page, value) if kind == "money" else format_value(value, kind)


# -- the sections, in order -------------------------------------------------------------
def _section_overview(page: _Page) -> str:
    facts = coverage_facts(page.result.summary, page.coverage)
    rows = "".join(f"<div><dt>{e(k)}</dt><dd>{e(v)}</dd></div>" for k, v in facts)
    body = f'<dl class="facts">{rows}</dl>'
    colours = model_colors(page.labels)
    items = []
    for run in page.result.runs:
        name = model_title(run.label)
        spec = "" if name == run.label else f' <code class="muted">{e(run.label)}</code>'
        items.append(
            f'<li><span class="swatch" style="background:{colours[run.label]}"></span>'
            f"<b>{e(name)}</b>{spec}: {e(model_summary(run.model))}</li>"
        )
    if items:
        body += f'<h3>Models</h3><ul class="models">{"".join(items)}</ul>'
    else:
        body += "<p>No model ran.</p>"
    return _section("overview", "What this report covers", body, page)


def _section_kpis(page: _Page) -> str:
    k = page.kpis
    cards = []
    for name in HEADLINE_KPIS:
        value = k.headline.get(name)
        if value is None:  # listed once in the footnote, not as an empty tile
            continue
        cards.append(
            f'<div class="card" data-kpi="{e(name)}"><div class="v">'
            f'{e(_kpi_text(page, name, value))}</div><div class="k">{e(label(name))}</div></div>'
        )
    body = f'<div class="cards">{"".join(cards)}</div>'
    groups = []
    for group, names in kpi_groups(k.headline):
        shown = [n for n in names if k.headline.get(n) is not None]
        if not shown:
            continue
        rows = "".join(
            f'<tr data-kpi="{e(n)}"><td>{e(label(n))}</td>'
            f"<td>{e(_kpi_text(page, n, k.headline[n]))}</td></tr>"
            for n in shown
        )
        groups.append(
            f'<div><h3>{e(group)}</h3><table class="kpis"><tbody>{rows}</tbody></table></div>'
        )
    if groups:
        body += f'<div class="tables">{"".join(groups)}</div>'
    if k.segments.height:
        segments = k.segments.with_columns(
            pl.col("segment").replace_strict(
                {s: label(s) for s in k.segments["segment"].to_list()}, return_dtype=pl.String
            )
        )
        body += "<h3>Customers who used one channel against several</h3>" + table(
            segments, currency=page.currency
        )
    by_reason: dict[str, list[str]] = {}
    for name, reason in k.unavailable.items():
        by_reason.setdefault(reason, []).append(
            label(name) if name != "segments" else "Customer segments"
        )
    if by_reason:
        items = "".join(
            f"<li>{e(', '.join(names))}: {e(reason)}.</li>" for reason, names in by_reason.items()
        )
        body += (
            '<div class="footnote" id="kpis-unavailable"><p>Not available from this input:</p>'
            f"<ul>{items}</ul></div>"
        )
    for note in k.notes:
        page.note("kpis", note)
    return _section("kpis", "Journey KPIs", body, page)


def _section_credits(page: _Page) -> str:
    result = page.result
    if not result.runs:
        return _section("credits", "Credit by model", "<p>No model ran.</p>", page)
    titles = page.titles()

    def block(measure: str) -> str:
        wide = result.wide(measure)
        return table(wide, kind=kind_of(measure), headers=titles, currency=page.currency)

    tables = [
        f"<div><h3>{e(heading)}</h3>{block(measure)}</div>"
        for measure, heading in (
            ("conversions", "Conversions"),
            ("value", f"Conversion value{f' ({page.currency})' if page.currency else ''}"),
            ("share", "Share of conversions"),
        )
    ]
    body = (
        '<p class="muted">Every channel as a row, every model as a column; '
        "click a header to sort.</p>"
        f'<div class="tables">{"".join(tables)}</div>'
    )
    return _section("credits", "Credit by model", body, page)


def _section_model_chart(page: _Page) -> str:
    if not page.result.runs:
        return ""
    heading = "Models compared per channel"
    if not page.charts:  # said here once, where the first chart would be
        return _section("model-chart", heading, f'<p class="note">{e(charts.MISSING)}</p>', page)
    body = charts.model_chart(page.result, top=TOP_CHANNELS)
    n = page.result.journeys.n_channels
    if n > TOP_CHANNELS + 1:
        body = (
            f'<p class="muted">The {TOP_CHANNELS} channels with most credit, and the other '
            f"{n - TOP_CHANNELS} as one bar; the tables above list every channel.</p>" + body
        )
    return _section("model-chart", heading, body, page)


def _baseline_credits(page: _Page) -> tuple[str, pl.DataFrame | str] | None:
    """The baseline's label and what :func:`credit_change` takes for it, or None."""
    base = page.baseline
    if base is None:
        return None
    if isinstance(base, ModelRun):
        return base.label, base.credits
    if base in page.labels:
        return base, base
    return None


def _section_comparison(page: _Page) -> str:
    heading = "Against the baseline"
    found = _baseline_credits(page)
    if found is None:
        if page.baseline is not None:
            page.note("comparison", f"baseline model '{page.baseline}' did not run")
        elif "comparison" not in page.notes:
            page.note("comparison", "no baseline model was given")
        return _section("comparison", heading, "", page)
    base_label, base = found
    change = credit_change(page.result.credits, base)
    models = change["model"].unique(maintain_order=True).to_list()
    if not models:
        page.note("comparison", f"only the baseline model ({model_title(base_label)}) ran")
        return _section("comparison", heading, "", page)
    channels = change.select("channel", "baseline_conversions").unique(
        "channel", maintain_order=True
    )
    titles = {m: model_title(m) for m in models}
    pct = wide_credits(change, "conversions_change_pct", models, channels)
    diff = wide_credits(change, "conversions_change", models, channels)
    # the biggest channels of the baseline first, as a planner reads it
    pct, diff = (
        f.with_row_index("_i")
        .sort("baseline_conversions", "_i", descending=[True, False])
        .drop("_i")
        for f in (pct, diff)
    )
    base_name = model_title(base_label)
    counts: dict[str, Kind] = {"baseline_conversions": "count"}
    headers = {**titles, "baseline_conversions": f"{base_name} (baseline), conversions"}
    body = (
        f'<p class="muted">Each channel\'s credited conversions under every model against '
        f"{e(base_name)}: the change in percent of the baseline's credit (empty where the "
        "baseline gives the channel none), and in conversions. Positive: the model credits "
        "the channel more than the baseline does.</p>"
        '<div class="tables">'
        f"<div><h3>Change, %</h3>{table(pct, kind='change', kinds=counts, headers=headers)}</div>"
        f"<div><h3>Change in conversions</h3>{table(diff, kind='count', headers=headers)}</div>"
        "</div>"
    )
    return _section("comparison", heading, body, page)


def _section_costs(page: _Page) -> str:
    heading = "Cost, CPA, ROAS and ROI"
    if page.costs is None:
        if "costs" in page.notes:
            return _section("costs", heading, "", page)
        return ""
    frame = page.costs
    uncosted = frame.filter(pl.col("cost").is_null() & (pl.col("channel") != TOTAL))
    if uncosted.height:
        channels = sorted(uncosted["channel"].unique().to_list())
        page.note("costs", str(CostedCredits(frame, channels).warning()))
    labels = frame["model"].unique(maintain_order=True).to_list()
    cost = frame.select("channel", "cost").unique("channel", maintain_order=True)
    # the totals row reads as what it is, and stays last
    total_name = "Total (blended)"
    headers = {label_: model_title(label_) for label_ in labels}
    tables = []
    money: dict[str, Kind] = {"cost": "money"}
    for measure, title_ in (
        ("cpa", "Cost per conversion (CPA)"),
        ("roas", "Return on ad spend (ROAS)"),
        ("roi", "Return on investment (ROI)"),
    ):
        wide = wide_credits(frame, measure, labels, cost).with_columns(
            pl.col("channel").replace(TOTAL, total_name)
        )
        if page.currency and measure == "cpa":
            title_ += f" ({page.currency})"
        tables.append(
            f"<div><h3>{e(title_)}</h3>"
            + table(
                wide, kind=kind_of(measure), kinds=money, headers=headers, currency=page.currency
            )
            + "</div>"
        )
    body = (
        '<p class="muted">CPA = cost / credited conversions, ROAS = credited value / cost, '
        "ROI = (credited value - cost) / cost; empty where the channel has no cost. "
        f"{total_name}: every channel of the model together.</p>"
        f'<div class="tables">{"".join(tables)}</div>'
    )
    return _section("costs", heading, body, page)


def _section_channels(page: _Page) -> str:
    channels = page.kpis.channels
    if channels["kind"].null_count() == channels.height:
        channels = channels.drop("kind")
    channels = channels.sort("journeys", "channel", descending=[True, False])
    body = (
        '<p class="muted">Journeys that touched each channel at least once, and the share '
        "of them that converted.</p>" + table(channels)
    )
    return _section("channels", "Conversion rate by channel", body, page)


def _section_path_lengths(page: _Page) -> str:
    heading = "Path length distribution"
    lengths = page.kpis.path_lengths
    if lengths.height == 0:
        return _section("path-lengths", heading, "<p>No journeys.</p>", page)
    if page.charts:
        body = charts.path_length_chart(lengths)
    else:  # the numbers the chart would show
        body = table(lengths)
    return _section("path-lengths", heading, body, page)


def _section_top_paths(page: _Page) -> str:
    paths = page.kpis.top_paths
    body = table(paths, currency=page.currency) if paths.height else "<p>No paths.</p>"
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
    name = e(model_title(run.label))
    if len(chain.kinds) > MAX_GRAPH_STATES:
        body = (
            f'<p class="muted">The Markov chain of the {name} model has {len(chain.kinds)} '
            "states, too many to "
            "draw. For every state: how often a journey starts there, and how likely the next "
            "step is a conversion or the end of the journey without one.</p>"
            + exits_table(chain)
            + "<h3>The 50 most likely transitions</h3>"
            + top_transitions(chain)
        )
        return _section("markov", "Markov transitions", body, page)
    body = (
        f'<p class="muted">The Markov chain of the {name} model: for every state, the share '
        "of journeys that "
        "start there (left), and the probability that its next step is a conversion or the end "
        "of the journey without one (right); every one of these is drawn and printed. Moves "
        "between channels are in the matrix below it.</p>"
        + f'<div class="scroll graph-box">{graph_svg(chain)}</div>'
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
        ).sort("removal_effect", "channel", descending=[True, False])
        body += "<h3>Removal effects</h3>" + table(frame)
    return _section("markov", heading, body, page)


_FORMULAS = (
    (
        "Share of conversions",
        "a channel's credited conversions / all the model's credited conversions",
    ),
    (
        "Change against the baseline",
        "(the model's credit - the baseline's credit) / the baseline's credit, per channel",
    ),
    ("Conversion rate", "converting journeys / journeys"),
    (
        "Channel conversion rate",
        "converting journeys that touched the channel / journeys that touched it",
    ),
    (
        "Conversions after several channels",
        "conversions whose journey touched two or more distinct channels / conversions",
    ),
    ("Average order value", "conversion value / conversions"),
    ("Value per customer", "attributed conversion value / customers"),
    (
        "Touches per conversion",
        "touches of a converting journey; median and 90th percentile by the inverted "
        "cumulative distribution (always a value that occurs)",
    ),
    ("Days to conversion", "days from a journey's first touch in its window to its conversion"),
    ("CPA", "cost / credited conversions"),
    ("ROAS", "credited value / cost"),
    ("ROI", "(credited value - cost) / cost"),
    (
        "Removal effect (Markov)",
        "1 - P(conversion without the channel) / P(conversion), where removing a channel "
        "sends every transition into it to the end without conversion; credit = "
        "conversions x removal effect / the sum of all removal effects",
    ),
    (
        "Offline conversions researched online (ROPO)",
        "offline conversions whose journey had an online touch / offline conversions",
    ),
)


def _section_formulas(page: _Page) -> str:
    rows = "".join(f"<div><dt>{e(k)}</dt><dd>{e(v)}</dd></div>" for k, v in _FORMULAS)
    body = (
        '<p class="muted">A journey is a customer\'s touches up to a conversion (within the '
        "lookback window), or after the last conversion, to none. Credited conversions and "
        "value are what a model gives a channel; they add up to the attributed conversions.</p>"
        f'<dl class="formulas">{rows}</dl>'
    )
    return _section("formulas", "Appendix: formulas", body, page)


SECTION_RENDERERS: list[tuple[str, Callable[[_Page], str]]] = [
    ("overview", _section_overview),
    ("kpis", _section_kpis),
    ("credits", _section_credits),
    ("model-chart", _section_model_chart),
    ("comparison", _section_comparison),
    ("costs", _section_costs),
    ("trend", trend.sections),  # only for a run at a finer grain: trend, segments
    ("channels", _section_channels),
    ("path-lengths", _section_path_lengths),
    ("top-paths", _section_top_paths),
    ("markov", _section_markov),
    ("formulas", _section_formulas),
]
"""The page's sections in order: ``(id, function of the page returning its HTML or "")``.
A new section (a trend over periods, say) is one function and one row here."""

SECTIONS = tuple(ident for ident, _ in SECTION_RENDERERS if ident != "trend")
"""Ids of the report's sections, in order (``costs`` only with costs; ``comparison`` and
``markov`` may be a note)."""
