"""The engine's charts, for `attribution plot` and the HTML report alike (matplotlib: `[plot]`).

Every chart is drawn here, in one palette and one style (:func:`style`), so a
model has the same colour in a PNG from `plot` as in the report's inline SVG.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import polars as pl

from attribution.compare import Measure, compare
from attribution.costs import TOTAL
from attribution.errors import OutputError
from attribution.sinks import CHART_OUTPUTS, write_output

if TYPE_CHECKING:  # matplotlib is optional and imported only when a chart is drawn
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "CHART_FORMATS",
    "LABELS",
    "PALETTE",
    "CreditBars",
    "chart_format",
    "credit_bars",
    "figure_size",
    "model_color",
    "new_figure",
    "plot_credits",
    "plot_path_lengths",
    "require_matplotlib",
    "save_chart",
    "style",
]

CHART_FORMATS = CHART_OUTPUTS  # png, svg, pdf: the chart rows of sinks.OUTPUT_FORMATS

PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#000000",
    "#882255",
    "#999933",
)
"""Colours of the models, in the order they are given: the colour-blind-safe palette of
Okabe & Ito (2008), then wine and olive from Paul Tol's, so that the ten models a
default run may have get ten colours; it cycles beyond."""

NOT_CONVERTING = "#b8c2cc"
"""Colour of the journeys that did not convert (path lengths), and of the null state."""

_INK, _MUTED = "#1b1f24", "#5b6470"

_STYLE: dict[str, Any] = {
    # text stays text in SVG: selectable, searchable, small, and in the page's own font
    "svg.fonttype": "none",
    # clip-path and marker ids from a fixed salt, so the same chart gives the same bytes
    "svg.hashsalt": "attribution-engine",
    "font.family": "sans-serif",
    # DejaVu Sans ships with matplotlib, so text is measured the same everywhere;
    # a browser without it falls back to the next names, then to any sans-serif
    "font.sans-serif": ["DejaVu Sans", "Helvetica", "Arial"],
    "font.size": 9.0,
    # channel and model names are data: a "$" in one must not start mathtext
    "text.parse_math": False,
    "text.color": _INK,
    "axes.labelcolor": _INK,
    "axes.edgecolor": _MUTED,
    "axes.titlesize": 11.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "xtick.color": _MUTED,
    "ytick.color": _MUTED,
    "xtick.labelcolor": _INK,
    "ytick.labelcolor": _INK,
    "legend.frameon": False,
}

LABELS = {
    "share": "Share of credited conversions",
    "conversions": "Credited conversions",
    "value": "Credited conversion value",
    "cost": "Cost",
    "cpa": "CPA: cost per credited conversion",
    "roas": "ROAS: credited value / cost",
    "roi": "ROI: (credited value − cost) / cost",
}
"""Axis label of each measure."""

_TITLES = {
    "share": "Share of conversions",
    "conversions": "Conversions",
    "value": "Conversion value",
    "cost": "Cost",
    "cpa": "CPA",
    "roas": "ROAS",
    "roi": "ROI",
}

_MISSING = (
    "charts need matplotlib, which is not installed; "
    "install the plot extra: pip install 'attribution-engine[plot]'"
)

# bar labels beyond this many bars would overlap and say nothing
_MAX_LABELLED_BARS = 60


def require_matplotlib() -> Any:
    """The matplotlib module, or an OutputError naming the extra to install."""
    try:
        import matplotlib
    except ImportError as exc:
        raise OutputError(_MISSING) from exc
    return matplotlib


def model_color(index: int) -> str:
    """The colour of the ``index``-th model (from 0), the same in every chart."""
    return PALETTE[index % len(PALETTE)]


@contextmanager
def style() -> Iterator[None]:
    """The engine's chart style (palette, fonts, SVG text as text) inside a ``with`` block.

    It goes through :func:`matplotlib.rc_context`, so the settings in force
    before the block come back after it; figures are drawn and saved inside.
    """
    matplotlib = require_matplotlib()
    rc = {**_STYLE, "axes.prop_cycle": matplotlib.cycler(color=list(PALETTE))}
    with matplotlib.rc_context(rc):
        yield


def figure_size(n_channels: int, n_models: int) -> tuple[float, float]:
    """Width and height in inches that give every bar room for its label."""
    group = max(0.45, 0.18 * n_models + 0.25)
    return 9.0, round(1.6 + max(n_channels, 1) * group, 2)


def new_figure(
    n_channels: int,
    n_models: int,
    *,
    width: float | None = None,
    height: float | None = None,
    dpi: float = 100.0,
) -> Figure:
    """A figure that is not registered with pyplot, so it needs no GUI backend.

    Saving it picks the renderer from the file format (Agg for PNG), whatever
    backend pyplot would use; no global matplotlib state is touched.
    """
    require_matplotlib()
    from matplotlib.figure import Figure

    auto_w, auto_h = figure_size(n_channels, n_models)
    return Figure(figsize=(width or auto_w, height or auto_h), dpi=dpi, layout="constrained")


@dataclass(frozen=True)
class CreditBars:
    """What :func:`plot_credits` draws: one measure by channel (rows) and model (columns).

    ``values[i, k]`` is channel ``channels[i]`` under model ``models[k]``, NaN
    where the model has no value; channels are in drawing order (largest
    mean first).
    """

    channels: list[str]
    models: list[str]
    values: np.ndarray

    def format(self, measure: str) -> Any:
        """How a value of ``measure`` prints (as the bar labels do)."""
        return _value_format(measure, self.values)


def credit_bars(
    credits: pl.DataFrame | Any, measure: Measure = "share", *, models: Sequence[str] | None = None
) -> CreditBars:
    """The channels, models and values of the chart :func:`plot_credits` draws.

    Takes the same ``credits`` (a long credit table, or an AttributionResult),
    ``measure`` and ``models``; the ``(total)`` rows of a costed table are left
    out and the channels are sorted by their mean over the models, largest
    first (ties by name); a channel with no value at all comes last.
    """
    if hasattr(credits, "credits") and not isinstance(credits, pl.DataFrame):
        credits = credits.credits
    wide = compare(credits, measure, models=models)
    wide = wide.filter(pl.col("channel") != TOTAL)
    labels = [c for c in wide.columns if c not in ("channel", "min", "max", "spread")]
    values = wide.select(labels).to_numpy().astype(np.float64).reshape(wide.height, len(labels))
    # largest mean first; all-empty channels last (nanmean of nothing warns, so guard)
    counted = np.isfinite(values).sum(axis=1)
    sums = np.where(np.isfinite(values), values, 0.0).sum(axis=1)
    mean = np.where(counted > 0, sums / np.maximum(counted, 1), -np.inf)
    order = np.lexsort((wide["channel"].to_numpy(), -mean))
    return CreditBars(wide["channel"].to_numpy()[order].tolist(), labels, values[order])


def plot_credits(
    credits: pl.DataFrame | Any,
    measure: Measure = "share",
    *,
    models: Sequence[str] | None = None,
    ax: Axes | None = None,
    title: str | None = None,
    bar_labels: bool | Literal["auto"] = "auto",
) -> Axes:
    """Draw a grouped horizontal bar chart of one measure by channel and model.

    Channels are sorted by their mean over the models, largest at the top;
    each model has one colour (:data:`PALETTE`, in the order of the models),
    named in the legend. Channels a model has no
    value for (a null ROAS, say) get no bar. The ``(total)`` rows of a costed
    table are left out.

    Parameters
    ----------
    credits : polars.DataFrame or AttributionResult
        A long credit table (``model, channel, <measure>``), with costs joined
        (:func:`attribution.costs.join_costs`) for ``cost, cpa, roas, roi``.
    measure : str, default "share"
        One of ``share, conversions, value, cost, cpa, roas, roi``.
    models : sequence of str, optional
        Model labels to draw, in this order; default: all.
    ax : matplotlib Axes, optional
        Where to draw. Default: a new pyplot figure sized to the data.
    title : str, optional
        Default: ``"<Measure> by channel and model"``.
    bar_labels : bool or "auto", default "auto"
        Write each bar's value at its end; "auto" does so up to 60 bars.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    OutputError
        When matplotlib is not installed (naming the extra to install).
    InputError
        An unknown measure or model, or a cost measure without costs.
    """
    require_matplotlib()
    from matplotlib.ticker import FuncFormatter, PercentFormatter

    bars_of = credit_bars(credits, measure, models=models)
    channels, labels, values = bars_of.channels, bars_of.models, bars_of.values
    n_ch, n_models = len(channels), len(labels)

    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=figure_size(n_ch, n_models), layout="constrained")

    group = 0.8  # of the unit space per channel; the rest separates channels
    height = group / max(n_models, 1)
    ys = np.arange(n_ch)
    label_bars = bar_labels is True or (
        bar_labels == "auto" and n_ch * n_models <= _MAX_LABELLED_BARS
    )
    fmt = bars_of.format(measure)
    for k, label in enumerate(labels):  # one bar series per model
        offset = (k - (n_models - 1) / 2) * height
        column = values[:, k]
        # an empty value (no cost, division by zero) is a zero-width bar labelled n/a,
        # so a missing bar is never mistaken for a small one
        bars = ax.barh(
            ys + offset,
            np.nan_to_num(column, nan=0.0),
            height=height * 0.95,
            label=label,
            color=model_color(k),
        )
        if label_bars:
            ax.bar_label(
                bars,
                labels=[fmt(v) if math.isfinite(v) else "n/a" for v in column],
                padding=2,
                fontsize=7,
            )
    ax.set_yticks(ys, channels)
    ax.invert_yaxis()  # first channel (largest) at the top
    ax.set_ylim(n_ch - 0.5, -0.5)
    ax.set_xlabel(LABELS[measure])
    ax.set_ylabel("channel")
    ax.set_title(title if title is not None else f"{_TITLES[measure]} by channel and model")
    if measure in ("share", "roi"):
        ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    elif measure in ("conversions", "value", "cost", "cpa"):
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:,.0f}"))
    if measure == "roi" or np.nanmin(values, initial=0.0) < 0:
        ax.axvline(0.0, color="0.3", linewidth=0.8)
    if measure == "roas":  # a ROAS of 1 pays back the cost and no more
        ax.axvline(
            1.0, color="0.2", linewidth=0.9, linestyle="--", zorder=3, label="break-even (1)"
        )
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    ax.spines[["top", "right"]].set_visible(False)
    if label_bars:  # room at the bar ends for their labels, on the negative side too
        low, high = ax.get_xlim()
        pad = 0.08 * (high - low)
        ax.set_xlim(low - pad if low < 0 else low, high + pad)
    if n_models:
        ax.legend(title="model", loc="best", fontsize=8, title_fontsize=8, frameon=False)
    return ax


def plot_path_lengths(
    path_lengths: pl.DataFrame | Any, *, ax: Axes | None = None, title: str | None = None
) -> Axes:
    """Draw journeys by their number of touches, converting ones stacked under the others.

    Parameters
    ----------
    path_lengths : polars.DataFrame or KPIs
        ``length, journeys, converting_journeys`` (:attr:`attribution.kpis.KPIs.path_lengths`).
    ax : matplotlib Axes, optional
        Where to draw. Default: a new pyplot figure.
    title : str, optional
        Default: ``"Journeys by number of touches"``.

    Returns
    -------
    matplotlib.axes.Axes
        The converting columns come first in ``ax.containers``, then the others.

    Raises
    ------
    OutputError
        When matplotlib is not installed (naming the extra to install).
    """
    require_matplotlib()
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    if hasattr(path_lengths, "path_lengths") and not isinstance(path_lengths, pl.DataFrame):
        path_lengths = path_lengths.path_lengths
    length = path_lengths["length"].to_numpy().astype(np.float64)
    converting = path_lengths["converting_journeys"].to_numpy().astype(np.float64)
    others = path_lengths["journeys"].to_numpy().astype(np.float64) - converting
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(9.0, 3.6), layout="constrained")
    ax.bar(length, converting, width=0.75, color=PALETTE[2], label="converting")
    ax.bar(
        length, others, width=0.75, bottom=converting, color=NOT_CONVERTING, label="not converting"
    )
    if len(length) <= 30:  # every length its own tick while they fit
        ax.set_xticks(length, [f"{n:.0f}" for n in length])
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:,.0f}"))
    if len(length):
        ax.set_xlim(length.min() - 0.6, length.max() + 0.6)
    ax.set_xlabel("touches per journey")
    ax.set_ylabel("journeys")
    ax.set_title(title if title is not None else "Journeys by number of touches")
    ax.grid(axis="y", alpha=0.6)
    ax.set_axisbelow(True)
    ax.legend(loc="upper right", fontsize=8)
    return ax


def _value_format(measure: str, values: np.ndarray) -> Any:
    """How bar labels print a value: percent for shares and ROI, else by magnitude."""
    if measure in ("share", "roi"):
        return lambda v: f"{v:.1%}"
    finite = values[np.isfinite(values)]
    big = finite.size and np.abs(finite).max() >= 100
    return (lambda v: f"{v:,.0f}") if big else (lambda v: f"{v:,.2f}")


def chart_format(output: str | os.PathLike[str], fmt: str | None = None) -> str:
    """``fmt``, else the format named by the extension of ``output``: png, svg or pdf."""
    fmt = fmt or Path(output).suffix.lower().lstrip(".")
    if fmt not in CHART_FORMATS:
        raise OutputError(
            f"cannot draw a chart as '{fmt or '(no extension)'}' ('{output}'); "
            f"expected one of {list(CHART_FORMATS)}"
        )
    return fmt


def save_chart(
    ax: Axes,
    output: str | os.PathLike[str],
    fmt: str | None = None,
    *,
    inputs: tuple[str | os.PathLike[str], ...] = (),
) -> None:
    """Save the figure of ``ax`` as png, svg or pdf (``fmt``, else from the extension).

    Written whole or not at all; refuses to overwrite any of ``inputs``.
    """
    fmt = chart_format(output, fmt)
    from matplotlib.figure import Figure

    # an axes in a subfigure is saved with the whole figure, the only thing that saves
    figure = ax.figure if isinstance(ax.figure, Figure) else ax.figure.figure
    write_output(figure, output, fmt, inputs=inputs)
