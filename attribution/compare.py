"""Models side by side: channels as rows, one column per model, and the spread between them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import polars as pl

from attribution.api import wide_credits
from attribution.costs import COST_COLUMNS, TOTAL
from attribution.errors import InputError

__all__ = ["MEASURES", "SPREAD_COLUMNS", "compare"]

MEASURES = ("share", "conversions", "value", "cost", "cpa", "roas", "roi")
"""Measures of a credit table; the last four need costs (see attribution.costs)."""

SPREAD_COLUMNS = ("min", "max", "spread")

Measure = Literal["share", "conversions", "value", "cost", "cpa", "roas", "roi"]


def compare(
    credits: pl.DataFrame,
    measure: Measure = "share",
    *,
    models: Sequence[str] | None = None,
    sort: Literal["channel", "spread"] = "channel",
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

    Returns
    -------
    polars.DataFrame
        ``channel``, one float64 column per model, then ``min``, ``max`` and
        ``spread = max - min`` over the models (nulls ignored; null when no
        model has a value for the channel).

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
    wide = wide_credits(credits, measure, labels)
    if labels:
        low, high = pl.min_horizontal(labels), pl.max_horizontal(labels)
    else:
        low = high = pl.lit(None, dtype=pl.Float64)
    wide = wide.with_columns(low.alias("min"), high.alias("max"), (high - low).alias("spread"))
    is_total = pl.col("channel") == TOTAL
    if sort == "spread":
        wide = wide.sort(is_total, pl.col("spread"), descending=[False, True], nulls_last=True)
    else:
        wide = wide.sort(is_total, maintain_order=True)
    return wide
