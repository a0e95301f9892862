"""Models side by side: channels as rows, one column per model, and the spread between them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import polars as pl

from attribution.api import wide_credits
from attribution.costs import COST_COLUMNS, TOTAL
from attribution.errors import InputError

__all__ = ["DIFFERS", "MEASURES", "SPREAD_COLUMNS", "compare"]

MEASURES = ("share", "conversions", "value", "cost", "cpa", "roas", "roi")
"""Measures of a credit table; the last four need costs (see attribution.costs)."""

SPREAD_COLUMNS = ("min", "max", "spread")

DIFFERS = "differs"
"""With intervals: the column listing, per channel, the models whose interval
does not overlap the baseline model's."""

_ROUNDING = 1e-9

Measure = Literal["share", "conversions", "value", "cost", "cpa", "roas", "roi"]


def compare(
    credits: pl.DataFrame,
    measure: Measure = "share",
    *,
    models: Sequence[str] | None = None,
    sort: Literal["channel", "spread"] = "channel",
    baseline: str | None = None,
) -> pl.DataFrame:
    """One measure of a long credit table as channels x models, with min, max and spread.

    Parameters
    ----------
    credits : polars.DataFrame
        A long credit table (``model, channel, <measure>``), such as
        :attr:`AttributionResult.credits` or the output of
        :func:`attribution.costs.join_costs` (needed for ``cost``, ``cpa``,
        ``roas`` and ``roi``).
    measure : str, default "share"
        One of :data:`MEASURES`.
    models : sequence of str, optional
        Model labels to show, in this order; default: all, in order of first
        appearance.
    sort : {"channel", "spread"}, default "channel"
        Keep the channels in the credit table's order, or put the ones the
        models disagree on most first. A ``(total)`` row stays last.
    baseline : str, optional
        With intervals (``<measure>_lo`` and ``<measure>_hi`` columns, see
        :mod:`attribution.intervals`): the model the others are held against;
        default the first model.

    Returns
    -------
    polars.DataFrame
        ``channel``, one float64 column per model, then ``min``, ``max`` and
        ``spread = max - min`` over the models (nulls ignored; null when no
        model has a value for the channel). With intervals, each model column
        is followed by ``<model>_lo`` and ``<model>_hi``, and ``differs``
        lists (comma-separated) the models whose interval does not overlap
        the baseline's; ``few_conversions`` follows when the credits have it.

    Raises
    ------
    InputError
        An unknown measure, a cost measure without cost columns, an unknown
        model, or a model labelled like one of the spread columns.
    """
    if measure not in MEASURES:
        raise InputError(f"unknown measure '{measure}'; expected one of {list(MEASURES)}")
    if sort not in ("channel", "spread"):
        raise InputError(f"unknown sort '{sort}'; expected 'channel' or 'spread'")
    if measure not in credits.columns:
        if measure in COST_COLUMNS:
            raise InputError(
                f"measure '{measure}' needs costs: join them first (attribution.costs.join_costs)"
            )
        raise InputError(f"credit table: no column '{measure}'; columns found: {credits.columns}")
    present = credits["model"].unique(maintain_order=True).to_list()
    if models is None:
        labels = present
    else:
        labels = list(models)
        unknown = [m for m in labels if m not in present]
        if unknown:
            raise InputError(f"model(s) {unknown} not in the credit table; it has {present}")
    clash = [m for m in labels if m in ("channel", *SPREAD_COLUMNS)]
    if clash:
        raise InputError(
            f"model label(s) {clash} clash with the columns channel, min, max, spread; "
            "rename the model"
        )
    bounded = f"{measure}_lo" in credits.columns and f"{measure}_hi" in credits.columns
    if bounded:
        from attribution.intervals import wide_with_bounds

        taken = {*SPREAD_COLUMNS, DIFFERS, "few_conversions"}
        clash = [m for m in labels if m in taken or f"{m}_lo" in labels or f"{m}_hi" in labels]
        if clash:
            raise InputError(f"model label(s) {clash} clash with the interval columns; rename")
        if baseline is None:
            baseline = labels[0] if labels else None
        elif baseline not in labels:
            raise InputError(f"baseline model '{baseline}' is not among the models {labels}")
        wide = wide_with_bounds(credits, measure, labels)
    else:
        wide = wide_credits(credits, measure, labels)
    if labels:
        low, high = pl.min_horizontal(labels), pl.max_horizontal(labels)
    else:
        low = high = pl.lit(None, dtype=pl.Float64)
    wide = wide.with_columns(low.alias("min"), high.alias("max"), (high - low).alias("spread"))
    if bounded:
        wide = _differs(wide, labels, baseline)
    is_total = pl.col("channel") == TOTAL
    if sort == "spread":
        wide = wide.sort(is_total, pl.col("spread"), descending=[False, True], nulls_last=True)
    else:
        wide = wide.sort(is_total, maintain_order=True)
    return wide


def _differs(wide: pl.DataFrame, labels: Sequence[str], baseline: str | None) -> pl.DataFrame:
    """Add ``differs``: the models whose interval misses the baseline's, per channel."""
    if baseline is None:
        return wide.with_columns(pl.lit("").alias(DIFFERS))
    b_lo, b_hi = pl.col(f"{baseline}_lo"), pl.col(f"{baseline}_hi")

    def above(a: pl.Expr, b: pl.Expr) -> pl.Expr:
        # Beyond rounding: models' totals agree only to the last digits.
        return (a - b) > _ROUNDING * (a.abs() + b.abs())

    apart = [
        pl.when(above(pl.col(f"{m}_lo"), b_hi) | above(b_lo, pl.col(f"{m}_hi"))).then(pl.lit(m))
        for m in labels
        if m != baseline
    ]
    if not apart:
        return wide.with_columns(pl.lit("").alias(DIFFERS))
    differs = pl.concat_list(apart).list.drop_nulls().list.join(", ")
    order = [c for c in wide.columns if c != "few_conversions"]
    order += [DIFFERS] + (["few_conversions"] if "few_conversions" in wide.columns else [])
    return wide.with_columns(differs.alias(DIFFERS)).select(order)
