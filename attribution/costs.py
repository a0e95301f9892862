"""Spend per channel joined to a credit table: cost, CPA, ROAS and ROI per model and channel.

Costs with a ``date`` or ``period`` column join a credit table per period
(:mod:`attribution.grains`): CPA, ROAS and ROI per model, period and channel.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from attribution.errors import InputError
from attribution.sources import Source, describe, first_row, read_frame, require_columns

__all__ = [
    "COST_COLUMNS",
    "TOTAL",
    "CostedCredits",
    "join_costs",
    "read_costs",
    "uncosted_channels",
]

TOTAL = "(total)"
"""Channel name of the per-model totals row that :func:`join_costs` appends."""

COST_COLUMNS = ("cost", "cpa", "roas", "roi")
PERIOD_COLUMNS = ("period", "date")
"""Names of a costs column that dates the spend, tried in this order (issue 17)."""

_KEY = ("model", "channel")
_NEEDED = ("model", "channel", "conversions", "value")


@dataclass(frozen=True)
class CostedCredits:
    """What :func:`join_costs` returns: the costed credit table, and the
    channels of the credits that the costs do not mention."""

    table: pl.DataFrame
    uncosted: list[str]

    def warning(self) -> str | None:
        """One line naming the channels without cost, or None when every channel has one."""
        if not self.uncosted:
            return None
        return (
            f"no cost for channel(s) {self.uncosted}: their cost, cpa, roas and roi are empty, "
            f"and the '{TOTAL}' rows count them as costing nothing"
        )


def read_costs(
    source: Source | Mapping[str, float],
    *,
    channel_col: str = "channel",
    cost_col: str = "cost",
) -> pl.DataFrame:
    """Read spend per channel as a frame ``channel (str), cost (float64)``, with a
    ``period`` (date) column between them when the costs are dated.

    Parameters
    ----------
    source : path, DataFrame or mapping
        A CSV (also ``.csv.gz``), Parquet, JSON (an array of records) or NDJSON
        file, a polars or pandas DataFrame, or a ``{channel: cost}`` mapping.
    channel_col, cost_col : str
        Names of the channel and cost columns in ``source``.

    Returns
    -------
    polars.DataFrame
        One row per channel, in order of first appearance. Several rows of one
        channel (spend per week or campaign, say) are added up. Spaces around
        channel names are stripped, as in event files. When ``source`` has a
        ``period`` or ``date`` column (a date, or text like ``2026-03-31``,
        ``2026-03`` or ``2026-Q1``), ``period`` is each row's date and rows are
        added up per channel and date; :func:`join_costs` puts the dates in
        the credit table's periods.

    Raises
    ------
    InputError
        A column is missing, the file is empty, or a row has no channel or a
        cost that is not a finite number >= 0 (naming the column and row).
    """
    if isinstance(source, Mapping):
        source = pl.DataFrame(
            {channel_col: list(source.keys()), cost_col: list(source.values())},
            schema={channel_col: pl.String, cost_col: pl.Float64},
        )
    where = describe(source)
    frame = read_frame(source)
    require_columns(frame.columns, {"channel": channel_col, "cost": cost_col}, where)
    if frame.height == 0:
        raise InputError(f"{where}: the costs have no rows; expected one row per channel")
    dtype = frame.schema[cost_col]
    if not (dtype.is_numeric() or dtype in (pl.String, pl.Null)):
        raise InputError(f"{where}: cost column '{cost_col}' has type {dtype}; expected numbers")
    period_col = next((c for c in PERIOD_COLUMNS if c in frame.columns), None)
    dated = [] if period_col is None else [_dates(frame, period_col, where)]
    frame = frame.with_row_index("_row", offset=1).select(
        pl.col("_row"),
        pl.col(channel_col).cast(pl.String).str.strip_chars().alias("channel"),
        *dated,
        pl.col(cost_col).alias("_raw"),
        pl.col(cost_col).cast(pl.Float64, strict=False).alias("cost"),
    )
    row = first_row(frame, pl.col("channel").is_null() | (pl.col("channel") == ""))
    if row is not None:
        raise InputError(f"{where}: column '{channel_col}' is empty at row {row}")
    row = first_row(frame, pl.col("_raw").is_null())
    if row is not None:
        raise InputError(
            f"{where}: column '{cost_col}' is empty at row {row}; "
            "give 0 for a channel that cost nothing, or leave the channel out"
        )
    row = first_row(
        frame, pl.col("cost").is_null() | ~pl.col("cost").is_finite() | (pl.col("cost") < 0)
    )
    if row is not None:
        raw = frame.filter(pl.col("_row") == row)["_raw"].item()
        raise InputError(
            f"{where}: column '{cost_col}' at row {row} is {raw!r}; expected a finite number >= 0"
        )
    if (frame["channel"] == TOTAL).any():
        raise InputError(f"{where}: '{TOTAL}' is reserved for the totals row, not a channel")
    if period_col is not None:
        row = first_row(frame, pl.col("period").is_null())
        if row is not None:
            raise InputError(
                f"{where}: column '{period_col}' at row {row} is not a date; expected a date "
                "like 2026-03-31, a month like 2026-03 or a quarter like 2026-Q1"
            )
        by = ["channel", "period"]
        return frame.group_by(by, maintain_order=True).agg(pl.col("cost").sum())
    return frame.group_by("channel", maintain_order=True).agg(pl.col("cost").sum())


def _dates(frame: pl.DataFrame, name: str, where: str) -> pl.Expr:
    """Column ``name`` as dates (``period``): dates, datetimes (their own calendar day)
    or text: a day, a month (its first day) or a quarter (its first day)."""
    dtype = frame.schema[name]
    col = pl.col(name)
    if dtype == pl.Date:
        return col.alias("period")
    if isinstance(dtype, pl.Datetime):
        return col.dt.date().alias("period")
    if dtype not in (pl.String, pl.Null):
        raise InputError(f"{where}: period column '{name}' has type {dtype}; expected dates")
    text = col.cast(pl.String).str.strip_chars()
    quarter = text.str.extract(r"^(\d{4})-?[Qq]([1-4])$", 1)
    number = text.str.extract(r"^(\d{4})-?[Qq]([1-4])$", 2).cast(pl.Int32, strict=False)
    return pl.coalesce(
        text.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False),
        (text + "-01").str.to_date("%Y-%m-%d", strict=False),
        pl.date(quarter.cast(pl.Int32, strict=False), number * 3 - 2, 1),
    ).alias("period")


def uncosted_channels(credits: pl.DataFrame, costs: pl.DataFrame) -> list[str]:
    """Channels of ``credits`` (other than the totals row) that ``costs`` lacks, sorted."""
    have = set(costs["channel"].to_list())
    return sorted(set(credits["channel"].to_list()) - have - {TOTAL})


def join_costs(
    credits: pl.DataFrame,
    costs: pl.DataFrame | Source | Mapping[str, float],
    *,
    totals: bool = True,
    by: str | None = None,
) -> CostedCredits:
    """Add ``cost, cpa, roas, roi`` to a long credit table, per model and channel
    (and per period, for a credit table with a ``period`` column).

    Parameters
    ----------
    credits : polars.DataFrame
        The long credit table (:attr:`AttributionResult.credits`): at least
        ``model, channel, conversions, value``; other columns (``share``) are
        kept. With a ``period`` column (credit by period,
        :func:`attribution.grains.attribute_at`) the costs must be dated.
    costs : DataFrame, path or mapping
        Spend per channel: a frame or file with ``channel`` and ``cost``
        columns, or a ``{channel: cost}`` mapping (see :func:`read_costs`).
        Dated costs joined to a table without periods are added up per channel.
    totals : bool, default True
        Append one row per model (and period) with channel ``"(total)"`` (:data:`TOTAL`).
    by : {"day", "week", "month", "quarter"}, optional
        The periods of a credit table with a ``period`` column: each cost's
        date is put in its period (weeks start on Monday).

    Returns
    -------
    CostedCredits
        ``table``: ``credits``' columns plus ``cost, cpa, roas, roi`` (float64); per model
        (and period, in order) every channel of the credits or the costs, sorted by
        name, then the totals row. A channel that has cost but no credit gets zero credit
        (share 0). ``cpa = cost / conversions``, ``roas = value / cost``,
        ``roi = (value - cost) / cost``; a division by zero, or a channel
        without cost, gives null, never inf or NaN.

        The totals row adds up every channel of the model: its conversions and
        value are all the credited ones and its cost is the sum of the known
        costs (channels without cost add nothing), so its cpa, roas and roi
        are the blended figures a planner quotes. Its cost is null when no
        channel has one.

        ``uncosted``: the channels of ``credits`` that have no cost, sorted
        (:meth:`CostedCredits.warning` says what that means for the table).

    Raises
    ------
    InputError
        When ``credits`` lacks a needed column, or already has cost columns, or
        is per period while the costs are not dated (or ``by`` is missing).
    """
    costs = read_costs(costs)  # validates a frame too, and adds up repeated channels
    missing = [c for c in _NEEDED if c not in credits.columns]
    if missing:
        raise InputError(
            f"credit table: missing column(s) {missing}; expected {list(_NEEDED)}, "
            f"found {credits.columns}"
        )
    clash = [c for c in COST_COLUMNS if c in credits.columns]
    if clash:
        raise InputError(f"credit table already has cost column(s) {clash}")
    if (credits["channel"] == TOTAL).any():
        raise InputError(f"credit table: '{TOTAL}' is reserved for the totals row, not a channel")
    per_period = "period" in credits.columns
    costs = _costs_per(costs, per_period, by)
    schema = pl.Schema({**credits.schema, **dict.fromkeys(COST_COLUMNS, pl.Float64())})
    uncosted = uncosted_channels(credits, costs)
    if credits.height == 0:
        return CostedCredits(pl.DataFrame(schema=schema), uncosted)

    group = ["model", "period"] if per_period else ["model"]
    extra = [c for c in credits.columns if c not in _NEEDED and c not in group]
    models = credits.select(pl.col("model").unique(maintain_order=True))
    units = models
    if per_period:
        periods = (
            pl.concat([credits.select("period"), costs.select("period")]).unique().sort("period")
        )
        units = models.join(periods, how="cross")
    channels = (
        pl.concat([credits.select("channel"), costs.select("channel")]).unique().sort("channel")
    )
    # Every model gets every channel: one with cost but no credit shows as zero credit.
    grid = units.join(channels, how="cross").with_row_index("_order")
    out = (
        grid.join(credits, on=[*group, "channel"], how="left")
        .join(costs, on=[c for c in costs.columns if c != "cost"], how="left")
        .sort("_order")
        .drop("_order")
    )
    uncredited = pl.col("conversions").is_null()
    fills = [pl.col("conversions").fill_null(0.0), pl.col("value").fill_null(0.0)]
    if "share" in extra:
        # zero share, unless the model credited nothing at all (then share is null throughout)
        credited = pl.col("conversions").sum().over(group) != 0
        fills.append(
            pl.when(uncredited & credited).then(0.0).otherwise(pl.col("share")).alias("share")
        )
    out = out.with_columns(fills)
    if totals:
        total = out.group_by(group, maintain_order=True).agg(
            pl.lit(TOTAL).alias("channel"),
            pl.col("conversions").sum(),
            pl.col("value").sum(),
            _sum_or_null("cost"),
            *[_sum_or_null(c) if c == "share" else pl.lit(None).alias(c) for c in extra],
        )
        out = pl.concat([out, total.select(out.columns).cast(out.schema)])
        # models in their order of first appearance, each with its totals row last
        order = {m: i for i, m in enumerate(models["model"].to_list())}
        out = out.sort(
            pl.col("model").replace_strict(order, return_dtype=pl.Int64),
            *group[1:],
            pl.col("channel") == TOTAL,
            maintain_order=True,
        )
    return CostedCredits(out.select(*credits.columns, *_metrics()).cast(schema), uncosted)


def _costs_per(costs: pl.DataFrame, per_period: bool, by: str | None) -> pl.DataFrame:
    """The costs at the credit table's grain: per channel and period, or per channel."""
    dated = "period" in costs.columns
    if not per_period:
        if not dated:
            return costs
        return costs.group_by("channel", maintain_order=True).agg(pl.col("cost").sum())
    if not dated:
        raise InputError(
            "the credit table is per period, but the costs have no date: add a "
            f"{' or '.join(repr(c) for c in PERIOD_COLUMNS)} column to them for CPA, ROAS "
            "and ROI per period"
        )
    if by is None:
        raise InputError("a credit table per period joins costs given its periods: set by")
    from attribution.grains import period_start  # grains joins costs: imported when used

    return (
        costs.with_columns(period_start(pl.col("period"), by))
        .group_by("channel", "period", maintain_order=True)
        .agg(pl.col("cost").sum())
    )


def _sum_or_null(name: str) -> pl.Expr:
    """The sum, or null when every value is null (rather than a made-up zero)."""
    col = pl.col(name)
    return pl.when(col.is_not_null().any()).then(col.sum()).alias(name)


def _metrics() -> list[pl.Expr]:
    """cost, cpa, roas and roi; null wherever the divisor is zero or the cost unknown."""
    cost, conv, value = pl.col("cost"), pl.col("conversions"), pl.col("value")
    return [
        cost,
        pl.when(conv != 0).then(cost / conv).alias("cpa"),
        pl.when(cost != 0).then(value / cost).alias("roas"),
        pl.when(cost != 0).then((value - cost) / cost).alias("roi"),
    ]
