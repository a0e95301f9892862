"""The report's charts: the engine's own charts (:mod:`attribution.plot`) as inline SVG.

They are drawn by the same functions, palette and style as `attribution plot`,
saved as SVG with text kept as text, and fitted into the page: ids made unique
per chart, a title for screen readers, and a hover title on every bar.
"""

from __future__ import annotations

import html
import io
import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

import polars as pl

from attribution.errors import OutputError
from attribution.labels import model_title
from attribution.plot import (
    credit_bars,
    plot_credits,
    plot_path_lengths,
    require_matplotlib,
    style,
)

if TYPE_CHECKING:  # matplotlib is the optional [plot] extra
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from attribution.api import AttributionResult

__all__ = ["MISSING", "available", "model_chart", "path_length_chart"]

MISSING = (
    "Charts need matplotlib, which is not installed: pip install 'attribution-engine[plot]'. "
    "The tables hold the same numbers."
)
"""The one note a report without the ``[plot]`` extra carries in place of its charts."""

# no date, no creator: the same run gives the same bytes
_NO_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}


def available() -> bool:
    """Whether charts can be drawn (matplotlib, the ``[plot]`` extra, is installed)."""
    try:
        require_matplotlib()
    except OutputError:
        return False
    return True


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    # not registered with pyplot: no GUI backend, no global figure list
    return Figure(figsize=(width, height), layout="constrained")


def _tag_bars(ax: Axes, tips: list[list[str]]) -> dict[str, str]:
    """Give bar ``i`` of bar series ``k`` an id, and return id -> its hover text."""
    from matplotlib.container import BarContainer

    out = {}
    # error bars are containers too; only the bars get a title
    series = [c for c in ax.containers if isinstance(c, BarContainer)]
    for k, container in enumerate(series):
        for i, bar in enumerate(container):
            gid = f"bar-{k}-{i}"
            bar.set_gid(gid)
            out[gid] = tips[k][i]
    return out


def inline_svg(figure: Figure, name: str, caption: str, tips: Mapping[str, str]) -> str:
    """``figure`` as an ``<svg class="chart">`` element to put in an HTML page.

    Every id gets the prefix ``name-`` so that two charts in one page do not
    share one; the element with id ``key`` of ``tips`` becomes a
    ``class="bar"`` group titled with its value.
    """
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata=_NO_METADATA)
    text = buffer.getvalue()
    text = text[text.index("<svg") :]  # no XML declaration or DOCTYPE inside HTML
    # its one rule (round joins) is in report.css; a <style> here would apply page-wide
    text = re.sub(r'<style type="text/css">.*?</style>', "", text, count=1, flags=re.S)
    # matplotlib writes one element a line, path data over several lines, an id on every
    # group and a no-op rotation on every text; none of it shows, all of it weighs
    text = re.sub(r">\s+<", "><", re.sub(r"\s*\n\s*", " ", text))
    text = text.replace(" <defs></defs>", "").replace("<defs></defs>", "")
    text = re.sub(r' transform="rotate\(-0 [^"]*\)"', "", text)
    # coordinates to a hundredth of a point, inside tags only: the texts are data
    text = re.sub(r"<[^>]+>", lambda m: re.sub(r"(\d\.\d\d)\d+", r"\1", m[0]), text)
    wanted = set(re.findall(r'#([^")\s]+)', text)) | set(tips)
    text = re.sub(r' id="([^"]+)"', lambda m: m[0] if m[1] in wanted else "", text)
    text = re.sub(r'\bid="', f'id="{name}-', text)
    text = re.sub(r"url\(#", f"url(#{name}-", text)
    text = re.sub(r'href="#', f'href="#{name}-', text)
    for gid, tip in tips.items():
        text = text.replace(
            f'<g id="{name}-{gid}">',
            f'<g id="{name}-{gid}" class="bar"><title>{html.escape(tip)}</title>',
            1,
        )
    label = html.escape(caption, quote=True)
    head, rest = text.split(">", 1)
    # in a box that scrolls sideways on a phone, where the chart keeps a readable width
    return (
        f'<div class="scroll chart-box"><svg class="chart" '
        f'data-chart="{html.escape(name, quote=True)}" role="img" '
        f'aria-label="{label}"{head[len("<svg") :]}><title>{label}</title>{rest.strip()}</div>'
    )


def model_chart(result: AttributionResult, *, top: int | None = None) -> str:
    """Share of credited conversions per channel, one bar per model (as `plot` draws it).

    With ``top``, the channels after the first ``top`` are one "Other" bar per model.
    """
    bars = credit_bars(result.credits, "share", top=top)
    fmt = bars.format("share")
    n_ch, n_models = len(bars.channels), len(bars.models)
    caption = "Share of credited conversions per channel, one bar per model"
    with style():
        figure = _figure(9.0, round(1.4 + n_ch * max(0.4, 0.1 * n_models + 0.2), 2))
        ax = plot_credits(result.credits, "share", ax=figure.add_subplot(), title="", top=top)
        legend = ax.get_legend()
        if legend is not None:  # above the bars, where it covers none of them
            legend.remove()
            figure.legend(
                *ax.get_legend_handles_labels(),
                loc="outside upper left",
                ncols=min(n_models, 5),
                fontsize=9,
                frameon=False,
            )
        tips = [
            [
                f"{channel}, {model_title(model)}: {fmt(v) if math.isfinite(v) else 'n/a'}"
                for channel, v in zip(bars.channels, bars.values[:, k], strict=True)
            ]
            for k, model in enumerate(bars.models)
        ]
        return inline_svg(figure, "models", caption, _tag_bars(ax, tips))


def path_length_chart(path_lengths: pl.DataFrame) -> str:
    """Journeys by number of touches, converting ones at the bottom of each column."""
    lengths = path_lengths["length"].to_list()
    converting = path_lengths["converting_journeys"].to_list()
    journeys = path_lengths["journeys"].to_list()
    tips = [
        [f"{n} touches, converting: {c:,.0f}" for n, c in zip(lengths, converting, strict=True)],
        [
            f"{n} touches, not converting: {j - c:,.0f}"
            for n, j, c in zip(lengths, journeys, converting, strict=True)
        ],
    ]
    with style():
        figure = _figure(9.0, 3.4)
        ax = plot_path_lengths(path_lengths, ax=figure.add_subplot(), title="")
        return inline_svg(
            figure, "path-lengths", "Journeys by number of touches", _tag_bars(ax, tips)
        )
