"""The report's sections of a run at a finer grain: credit and ROAS over time, segments compared.

They render what :func:`attribution.grains.attribute_at` (or
:func:`attribution.grains.run_at`) computed, a
:class:`~attribution.grains.GrainResult`; a plain run gets neither section.
They run nothing: the costed table per period comes with the result.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from attribution.costs import TOTAL
from attribution.grains import GrainResult
from attribution.labels import kind_of
from attribution.plot import model_color, style
from attribution.report.charts import inline_svg
from attribution.report.tables import e, table

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from attribution.report.document import _Page

__all__ = ["SECTION_IDS", "sections"]

SECTION_IDS = ("trend", "segments")
"""Ids of the sections drawn here, in order (each only when the run has its grain)."""


def sections(page: _Page) -> str:
    """The trend and segment sections of the page's run, or nothing for a plain run."""
    result = page.result
    if not isinstance(result, GrainResult):
        return ""
    parts = [_trend(page, result), _segments(page, result)]
    return "\n".join(p for p in parts if p)


def _section(ident: str, heading: str, body: str, page: _Page) -> str:
    notes = "".join(f'<p class="note">{e(n)}</p>' for n in page.notes.get(ident, []))
    return f'<section id="{ident}"><h2>{e(heading)}</h2>{body}{notes}</section>'


def _by(frame: pl.DataFrame, keys: list[str], measures: list[str]) -> pl.DataFrame:
    return frame.group_by(keys, maintain_order=True).agg(pl.col(measures).sum()).sort(keys)


def _trend(page: _Page, result: GrainResult) -> str:
    credits = result.grain_credits
    if "period" not in credits.columns or credits.height == 0:
        return ""
    totals = _by(credits, ["model", "period", "channel"], ["conversions", "value"])
    labels = totals["model"].unique(maintain_order=True).to_list()
    first = labels[0]
    how = (
        "each period's journeys fitted on their own"
        if result.grain.refit_per_period
        else "one fit on all journeys, its credit split by the period of each conversion"
    )
    body = (
        f'<p class="muted">Credited conversions per {e(result.grain.by)} '
        f"({e(result.grain.timezone)}), {e(how)}. The chart shows {e(first)}; "
        "every model's numbers are in the tables.</p>"
    )
    roas = None
    if result.costed is not None and "period" in result.costed.columns:
        roas = result.costed.filter(pl.col("channel") != TOTAL)
    if page.charts:
        body += _lines(totals.filter(pl.col("model") == first), "conversions", first)
        if roas is not None:
            body += _lines(roas.filter(pl.col("model") == first), "roas", first)
    for label in labels:  # a loop over models, one table each
        wide = _wide(totals.filter(pl.col("model") == label), "conversions")
        body += f"<details><summary>{e(label)}: conversions</summary>"
        body += f"{table(wide, kind=kind_of('conversions'))}</details>"
        if roas is not None:
            wide = _wide(roas.filter(pl.col("model") == label), "roas")
            body += (
                f"<details><summary>{e(label)}: ROAS</summary>{table(wide, kind=kind_of('roas'))}"
            )
            body += "</details>"
    return _section("trend", "Credit over time", body, page)


def _wide(frame: pl.DataFrame, measure: str) -> pl.DataFrame:
    """Periods as rows, channels as columns."""
    return frame.pivot(on="channel", index="period", values=measure, sort_columns=True).sort(
        "period"
    )


def _lines(frame: pl.DataFrame, measure: str, label: str) -> str:
    """One line per channel of ``measure`` over the periods."""
    from matplotlib.ticker import FuncFormatter

    wide = _wide(frame, measure)
    # a channel without a value in any period (no cost: no ROAS) has no line to draw
    channels = [c for c in wide.columns if c != "period" and wide[c].null_count() < wide.height]
    periods = wide["period"].to_list()
    caption = f"{'ROAS' if measure == 'roas' else 'Credited conversions'} per period, {label}"
    with style():
        figure = _figure()
        ax = figure.add_subplot()
        x = np.arange(len(periods))
        for k, channel in enumerate(channels):  # a loop over channels
            y = wide[channel].cast(pl.Float64).to_numpy()
            ax.plot(x, y, marker="o", markersize=3, label=channel, color=model_color(k))
        step = max(1, len(periods) // 12)
        ax.set_xticks(x[::step], [str(p) for p in periods[::step]], rotation=30, ha="right")
        ax.set_ylabel("ROAS: credited value / cost" if measure == "roas" else "conversions")
        if measure == "roas":
            ax.axhline(1.0, color="0.2", linewidth=0.9, linestyle="--", label="break-even (1)")
        else:
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.grid(axis="y", alpha=0.3)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
        return inline_svg(figure, f"trend-{measure}", caption, {})


def _figure() -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(9.0, 3.6), layout="constrained")


def _segments(page: _Page, result: GrainResult) -> str:
    credits = result.grain_credits
    if "segment" not in credits.columns or credits.height == 0:
        return ""
    totals = _by(
        credits.with_columns(pl.col("segment").fill_null("(none)")),
        ["model", "segment", "channel"],
        ["conversions", "value"],
    ).with_columns(
        share=pl.col("conversions") / pl.col("conversions").sum().over("model", "segment")
    )
    first = totals["model"][0]
    body = (
        '<p class="muted">Every model fitted on each segment\'s journeys on its own; '
        "share of each segment's credited conversions per channel"
        f"{f' (the chart shows {e(first)})' if page.charts else ''}.</p>"
    )
    if page.charts:
        from attribution.plot import plot_credits

        # segments stand where models stand in the model chart: one bar colour each
        bars = totals.filter(pl.col("model") == first).with_columns(model=pl.col("segment"))
        n_ch, n_seg = bars["channel"].n_unique(), bars["segment"].n_unique()
        with style():
            figure = _figure()
            figure.set_size_inches(9.0, round(1.4 + n_ch * max(0.4, 0.1 * n_seg + 0.2), 2))
            ax = plot_credits(bars, "share", ax=figure.add_subplot(), title="")
            legend = ax.get_legend()
            if legend is not None:
                legend.set_title("segment")
            caption = f"Share of credited conversions per channel and segment, {first}"
            body += inline_svg(figure, "segments", caption, {})
    for label in totals["model"].unique(maintain_order=True).to_list():  # a loop over models
        wide = (
            totals.filter(pl.col("model") == label)
            .pivot(on="segment", index="channel", values="share", sort_columns=True)
            .sort("channel")
        )
        body += f"<h3>{e(label)}</h3>{table(wide, kind='share')}"
    return _section("segments", "Segments compared", body, page)
