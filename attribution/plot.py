"""A grouped bar chart of credit by channel and model (matplotlib: the `[plot]` extra)."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import polars as pl

from attribution.compare import Measure, compare
from attribution.costs import TOTAL
from attribution.errors import OutputError
from attribution.io import _atomic_write
from attribution.text import escape_mathtext

if TYPE_CHECKING:  # matplotlib is optional and imported only when a chart is drawn
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "CHART_FORMATS",
    "LABELS",
    "chart_format",
    "figure_size",
    "new_figure",
    "plot_credits",
    "require_matplotlib",
    "save_chart",
]

CHART_FORMATS = ("png", "svg", "pdf")

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
    each model has one colour, named in the legend. Channels a model has no
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

    if hasattr(credits, "credits") and not isinstance(credits, pl.DataFrame):
        credits = credits.credits
    wide = compare(credits, measure, models=models)
    # Only a costed table has totals rows; elsewhere "(total)" is a channel's name.
    if "cost" in credits.columns:
        wide = wide.filter(pl.col("channel") != TOTAL)
    labels = [c for c in wide.columns if c not in ("channel", "min", "max", "spread")]
    values = wide.select(labels).to_numpy().astype(np.float64).reshape(wide.height, len(labels))
    # largest mean first; all-empty channels last (nanmean of nothing warns, so guard)
    counted = np.isfinite(values).sum(axis=1)
    sums = np.where(np.isfinite(values), values, 0.0).sum(axis=1)
    mean = np.where(counted > 0, sums / np.maximum(counted, 1), -np.inf)
    order = np.lexsort((wide["channel"].to_numpy(), -mean))
    channels = wide["channel"].to_numpy()[order]
    values = values[order]
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
    fmt = _value_format(measure, values)
    for k, label in enumerate(labels):  # one bar series per model
        offset = (k - (n_models - 1) / 2) * height
        column = values[:, k]
        # an empty value (no cost, division by zero) is a zero-width bar labelled n/a,
        # so a missing bar is never mistaken for a small one
        bars = ax.barh(
            ys + offset,
            np.nan_to_num(column, nan=0.0),
            height=height * 0.95,
            label=escape_mathtext(label),
        )
        if label_bars:
            ax.bar_label(
                bars,
                labels=[fmt(v) if math.isfinite(v) else "n/a" for v in column],
                padding=2,
                fontsize=7,
            )
    # names from the data are shown as written: a "$" would start mathtext
    ax.set_yticks(ys, [escape_mathtext(str(c)) for c in channels])
    ax.invert_yaxis()  # first channel (largest) at the top
    ax.set_ylim(n_ch - 0.5, -0.5)
    ax.set_xlabel(LABELS[measure])
    ax.set_ylabel("channel")
    ax.set_title(
        escape_mathtext(title) if title is not None else f"{_TITLES[measure]} by channel and model"
    )
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


def _value_format(measure: str, values: np.ndarray) -> Any:
    """How bar labels print a value: percent for shares and ROI, else by magnitude."""
    if measure in ("share", "roi"):
        return lambda v: f"{v:.1%}"
    finite = values[np.isfinite(values)]
    big = finite.size and np.abs(finite).max() >= 100
    return (lambda v: f"{v:,.0f}") if big else (lambda v: f"{v:,.2f}")


def chart_format(output: str | os.PathLike, fmt: str | None = None) -> str:
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
    output: str | os.PathLike,
    fmt: str | None = None,
    *,
    inputs: tuple[str | os.PathLike, ...] = (),
) -> None:
    """Save the figure of ``ax`` as png, svg or pdf (``fmt``, else from the extension).

    Written whole or not at all; refuses to overwrite any of ``inputs``.
    """
    fmt = chart_format(output, fmt)
    figure = ax.figure
    # the temporary file has no telling extension, so the format is given explicitly
    _atomic_write(
        Path(output), lambda p: figure.savefig(p, format=fmt), tuple(Path(i) for i in inputs)
    )
