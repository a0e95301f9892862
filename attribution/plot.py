"""The engine's charts, for `attribution plot` and the HTML report alike (matplotlib: `[plot]`).

Every chart is drawn here, in one palette and one style (:func:`style`), so a
model has the same colour in a PNG from `plot` as in the report's inline SVG.
"""

from __future__ import annotations

import math
import os
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import polars as pl

from attribution.api import wide_credits
from attribution.compare import Measure, compare
from attribution.costs import TOTAL
from attribution.errors import InputError, OutputError
from attribution.labels import model_title
from attribution.names import escape_mathtext
from attribution.sinks import CHART_OUTPUTS, write_output

if TYPE_CHECKING:  # matplotlib is optional and imported only when a chart is drawn
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "CHART_FORMATS",
    "LABELS",
    "OTHER",
    "PALETTE",
    "CreditBars",
    "chart_format",
    "credit_bars",
    "figure_size",
    "model_color",
    "model_colors",
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


# The built-in models keep one colour each, whatever else a chart shows; a plugin's
# model gets the slot its name hashes to (crc32, the same in every process).
_MODEL_SLOTS = {
    "linear": 0,
    "markov": 1,
    "shapley": 2,
    "time_decay": 3,
    "first_touch": 4,
    "last_touch": 5,
    "position_based": 6,
    "ordered_shapley": 8,
    "data_driven": 9,
}


def _model_name(label: str) -> str:
    """The registry name in a label: ``time_decay`` of ``time_decay:half_life_days=3#2``."""
    return label.partition(":")[0].partition("#")[0].strip()


def model_color(model: int | str) -> str:
    """The colour of a model, from :data:`PALETTE`: by its label or name, the same in
    every chart and every run (an int is a position in the palette, as before).

    A chart of several models calls :func:`model_colors`, which also keeps two models
    of one chart apart.
    """
    if isinstance(model, int):
        return PALETTE[model % len(PALETTE)]
    name = _model_name(model)
    slot = _MODEL_SLOTS.get(name)
    if slot is None:
        slot = zlib.crc32(name.encode("utf-8")) % len(PALETTE)
    return PALETTE[slot]


def model_colors(labels: Sequence[str]) -> dict[str, str]:
    """A colour per model label: each its own :func:`model_color`, unless a model before
    it in ``labels`` has that colour already (``time_decay`` and
    ``time_decay:half_life_days=3``); it then takes the next free one of the palette."""
    taken: dict[str, str] = {}
    used: list[str] = []
    for label in labels:
        start = PALETTE.index(model_color(label))
        for step in range(len(PALETTE)):
            colour = PALETTE[(start + step) % len(PALETTE)]
            if colour not in used:
                break
        else:  # more models than colours: the palette cycles
            colour = PALETTE[start]
        taken[label] = colour
        used.append(colour)
    return taken


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
    mean first). With ``top``, the channels after the first ``top`` are one
    last row, ``Other (n channels)``, and ``other`` is that ``n`` (0 without).
    ``lo`` and ``hi``, when the credit table has ``<measure>_lo`` and
    ``<measure>_hi`` columns (an interval of each credit), are the same shape
    as ``values``; NaN where there is no interval (the "other" row).
    """

    channels: list[str]
    models: list[str]
    values: np.ndarray
    lo: np.ndarray | None = None
    hi: np.ndarray | None = None
    other: int = 0

    def format(self, measure: str) -> Any:
        """How a value of ``measure`` prints (as the bar labels do)."""
        return _value_format(measure, self.values)


OTHER = "Other ({n} channels)"
"""Name of the row that holds the channels after the top ones in a chart."""

_ADDITIVE = ("share", "conversions", "value", "cost")


def _wide_values(
    credits: pl.DataFrame, column: str, labels: Sequence[str], channels: pl.DataFrame
) -> np.ndarray:
    wide = wide_credits(credits, column, labels, channels)
    return wide.select(labels).to_numpy().astype(np.float64).reshape(wide.height, len(labels))


def _other_row(
    credits: pl.DataFrame,
    measure: str,
    labels: Sequence[str],
    folded: list[str],
    values: np.ndarray,
) -> np.ndarray:
    """The measure of the folded channels taken together, per model."""
    if measure in _ADDITIVE:
        seen = np.isfinite(values).any(axis=0)
        return np.where(seen, np.nansum(np.where(np.isfinite(values), values, 0.0), axis=0), np.nan)
    # a ratio of the folded channels is the ratio of their sums, as a '(total)' row is
    sums = (
        credits.filter(pl.col("channel").is_in(folded))
        .group_by("model")
        .agg(
            pl.col("conversions").sum(),
            pl.col("value").sum(),
            pl.when(pl.col("cost").is_not_null().any()).then(pl.col("cost").sum()).alias("cost"),
        )
    )
    by_model = {row["model"]: row for row in sums.iter_rows(named=True)}
    out = np.full(len(labels), np.nan)
    for k, label in enumerate(labels):  # a loop over models
        row = by_model.get(label)
        if row is None or row["cost"] is None:
            continue
        conv, value, cost = float(row["conversions"]), float(row["value"]), float(row["cost"])
        if measure == "cpa" and conv != 0:
            out[k] = cost / conv
        elif measure == "roas" and cost != 0:
            out[k] = value / cost
        elif measure == "roi" and cost != 0:
            out[k] = (value - cost) / cost
    return out


def _shown(text: str) -> str:
    """``text`` (a user's channel or model name, a title) for a label, as written:
    where mathtext is on (outside :func:`style`), a ``$`` would start it."""
    import matplotlib

    return escape_mathtext(text) if matplotlib.rcParams["text.parse_math"] else text


def credit_bars(
    credits: pl.DataFrame | Any,
    measure: Measure = "share",
    *,
    models: Sequence[str] | None = None,
    top: int | None = None,
) -> CreditBars:
    """The channels, models and values of the chart :func:`plot_credits` draws.

    Takes the same ``credits`` (a long credit table, or an AttributionResult),
    ``measure``, ``models`` and ``top``; the ``(total)`` rows of a costed table
    are left out and the channels are sorted by their mean over the models,
    largest first (ties by name); a channel with no value at all comes last.
    With ``top``, the channels after the first ``top`` are added up into one
    last row (for cpa, roas and roi: the ratio of their summed conversions,
    value and cost).
    """
    if hasattr(credits, "credits") and not isinstance(credits, pl.DataFrame):
        credits = credits.credits
    if top is not None and top < 1:
        raise InputError(f"top must be a number of channels >= 1, got {top}")
    wide = compare(credits, measure, models=models)
    # Only a costed table has totals rows; elsewhere "(total)" is a channel's name.
    if "cost" in credits.columns:
        wide = wide.filter(pl.col("channel") != TOTAL)
    # the models' own columns: compare() may add min/max/spread, bounds and `differs`
    labels = [
        c for c in credits["model"].unique(maintain_order=True).to_list() if c in wide.columns
    ]
    if models is not None:
        labels = [m for m in models if m in wide.columns]
    values = wide.select(labels).to_numpy().astype(np.float64).reshape(wide.height, len(labels))
    # largest mean first; all-empty channels last (nanmean of nothing warns, so guard)
    counted = np.isfinite(values).sum(axis=1)
    sums = np.where(np.isfinite(values), values, 0.0).sum(axis=1)
    mean = np.where(counted > 0, sums / np.maximum(counted, 1), -np.inf)
    order = np.lexsort((wide["channel"].to_numpy(), -mean))
    channels = wide["channel"].to_numpy()[order].tolist()
    values = values[order]
    lo = hi = None
    if {f"{measure}_lo", f"{measure}_hi"} <= set(credits.columns):
        frame = pl.DataFrame({"channel": channels}, schema={"channel": pl.String})
        lo = _wide_values(credits, f"{measure}_lo", labels, frame)
        hi = _wide_values(credits, f"{measure}_hi", labels, frame)
    other = 0
    if top is not None and len(channels) > top + 1:  # folding one channel hides nothing
        folded = channels[top:]
        other = len(folded)
        row = _other_row(credits, measure, labels, folded, values[top:])
        channels = [*channels[:top], OTHER.format(n=other)]
        values = np.vstack([values[:top], row[None, :]])
        if lo is not None and hi is not None:
            gap = np.full((1, len(labels)), np.nan)
            lo, hi = np.vstack([lo[:top], gap]), np.vstack([hi[:top], gap])
    return CreditBars(channels, labels, values, lo, hi, other)


def plot_credits(
    credits: pl.DataFrame | Any,
    measure: Measure = "share",
    *,
    models: Sequence[str] | None = None,
    ax: Axes | None = None,
    title: str | None = None,
    bar_labels: bool | Literal["auto"] = "auto",
    top: int | None = None,
) -> Axes:
    """Draw a grouped horizontal bar chart of one measure by channel and model.

    Channels are sorted by their mean over the models, largest at the top;
    each model has its own colour (:func:`model_colors`: by its name, the
    same in every chart and run), named in words in the legend. Where the
    table has ``<measure>_lo`` and ``<measure>_hi`` columns, each bar gets
    that interval as an error bar. Channels a model has no
    value for (a null ROAS, say) get no bar. The ``(total)`` rows of a costed
    table are left out (in a table without costs, ``(total)`` is a channel).

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
    top : int, optional
        Draw the ``top`` channels and one bar per model for all the others
        together ("Other (n channels)", last); default: every channel.

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

    bars_of = credit_bars(credits, measure, models=models, top=top)
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
    colours = model_colors(labels)
    for k, label in enumerate(labels):  # one bar series per model
        offset = (k - (n_models - 1) / 2) * height
        column = values[:, k]
        xerr = None
        if bars_of.lo is not None and bars_of.hi is not None:
            # distances below and above the bar's end; no interval draws no whisker
            below = np.clip(column - bars_of.lo[:, k], 0.0, None)
            above = np.clip(bars_of.hi[:, k] - column, 0.0, None)
            xerr = np.nan_to_num(np.vstack([below, above]), nan=0.0)
        # an empty value (no cost, division by zero) is a zero-width bar labelled n/a,
        # so a missing bar is never mistaken for a small one
        bars = ax.barh(
            ys + offset,
            np.nan_to_num(column, nan=0.0),
            height=height * 0.95,
            label=_shown(model_title(label)),
            color=colours[label],
            xerr=xerr,
            error_kw={"ecolor": _INK, "elinewidth": 0.8, "capsize": 2},
        )
        if label_bars:
            ax.bar_label(
                bars,
                labels=[fmt(v) if math.isfinite(v) else "n/a" for v in column],
                padding=2,
                fontsize=7,
            )
    # names from the data are shown as written: a "$" would start mathtext
    ax.set_yticks(ys, [_shown(str(c)) for c in channels])
    ax.invert_yaxis()  # first channel (largest) at the top
    ax.set_ylim(n_ch - 0.5, -0.5)
    ax.set_xlabel(LABELS[measure])
    ax.set_ylabel("Channel")
    ax.set_title(_shown(title) if title is not None else f"{_TITLES[measure]} by channel and model")
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
    ax.bar(length, converting, width=0.75, color=PALETTE[2], label="Converting")
    ax.bar(
        length, others, width=0.75, bottom=converting, color=NOT_CONVERTING, label="Not converting"
    )
    if len(length) <= 30:  # every length its own tick while they fit
        ax.set_xticks(length, [f"{n:.0f}" for n in length])
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:,.0f}"))
    if len(length):
        ax.set_xlim(length.min() - 0.6, length.max() + 0.6)
    ax.set_xlabel("Touches per journey")
    ax.set_ylabel("Journeys")
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
