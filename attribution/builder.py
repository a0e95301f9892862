"""The path builder: validated events in, columnar journeys out."""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from attribution.arrays import csr_offsets, distinct
from attribution.errors import InputError
from attribution.journeys import JourneyKeys, Journeys, Unattributed
from attribution.sources import (
    MAX_US,
    MIN_US,
    EventColumns,
    Source,
    describe,
    is_paths_frame,
    read_events,
    read_paths,
    scan_frame,
)

if TYPE_CHECKING:
    from attribution.readers import EventReader

__all__ = ["build_journeys", "journeys_from_paths", "load_journeys"]

_US_PER_DAY = 86_400e6


def build_journeys(
    events: pl.DataFrame,
    *,
    conversions: pl.DataFrame | None = None,
    lookback_days: float | None = 30.0,
    collapse_repeats: bool = False,
    max_touches: int | None = None,
) -> Journeys:
    """Split validated events (from :func:`read_events`) into journeys.

    Rules (DESIGN.md): events are sorted by customer and time, touches before a
    conversion at the same instant (remaining ties by channel name, so the
    input's row order never matters). Each conversion closes a journey of the
    customer's touches since the previous conversion that lie at most
    ``lookback_days`` before it (``None``: no limit). The touches after a
    customer's last conversion form one null journey, its window counting back
    from its last touch. A conversion left with no touch is *unattributed*:
    counted in ``Journeys.unattributed``, never dropped.

    Parameters
    ----------
    events, conversions : DataFrame
        Frames as returned by :func:`attribution.sources.read_events`; ``conversions``
        holds extra conversion rows from a separate source.
    lookback_days : float or None
        Window length in days; touches exactly at the limit are kept.
    collapse_repeats : bool
        Merge consecutive touches of one channel into one (the latest is kept,
        with its time).
    max_touches : int or None
        Keep only the last ``max_touches`` touches of each journey.
    """
    if lookback_days is not None and not (lookback_days >= 0 and math.isfinite(lookback_days)):
        raise InputError(f"lookback must be a number of days >= 0 or none, got {lookback_days}")
    if max_touches is not None and max_touches < 1:
        raise InputError(f"max touches must be at least 1, got {max_touches}")
    if conversions is not None:
        if events.schema["customer"] != conversions.schema["customer"]:
            events = events.with_columns(pl.col("customer").cast(pl.String))
            conversions = conversions.with_columns(pl.col("customer").cast(pl.String))
        events = pl.concat([events, conversions.select(events.columns)], how="vertical")

    _check_arithmetic(events)
    channels = tuple(
        events.lazy()
        .filter(~pl.col("is_conversion"))
        .select(pl.col("channel").unique().sort())
        .collect()["channel"]
        .to_list()
    )
    if events.height == 0:
        return Journeys.empty(channels)

    # where each conversion happened, only when read (EventColumns.conversion_channel)
    location_col = ["conversion_channel"] if "conversion_channel" in events.columns else []
    # the finer grains' columns (issue 17), only when read (EventColumns.conversion_id, ...)
    grain_cols = [c for c in _GRAIN_COLUMNS if c in events.columns]
    keyed = events.select(
        "customer",
        "is_conversion",
        "value",
        *location_col,
        *grain_cols,
        # Fewer sort keys sort faster: time and "touch before conversion" in
        # one integer, and one tie-breaker (channel code for touches, value
        # for conversions at the same instant).
        _order=pl.col("time").dt.epoch("us") * 2 + pl.col("is_conversion").cast(pl.Int64),
        code=pl.col("channel").cast(pl.Enum(channels)).to_physical().cast(pl.UInt32),
    ).with_columns(
        _tie=pl.when(pl.col("is_conversion"))
        .then(pl.col("value"))
        .otherwise(pl.col("code").cast(pl.Float64))
    )
    # One contiguous chunk per column (read_events gives that already; a frame
    # made otherwise may have hundreds): the sort and gathers run a third faster.
    keyed = keyed.rechunk()
    # Sort the keys once and gather only what is needed: sorting the whole
    # frame would move its string columns, which costs more than the sort.
    order_keys = ["customer", "_order", "_tie", *location_col]
    order = keyed.select(pl.arg_sort_by(order_keys, nulls_last=True)).to_series()
    sorted_customer = keyed["customer"].gather(order)
    new_customer = (sorted_customer != sorted_customer.shift()).fill_null(True).to_numpy()
    idx = order.to_numpy()
    is_conv = keyed["is_conversion"].to_numpy()[idx]
    time = keyed["_order"].to_numpy()[idx] // 2
    n = len(is_conv)

    # A journey is a run of rows that starts at a new customer or right after
    # a conversion; its last row is its conversion or, for a null journey, its
    # last touch.
    starts = new_customer.copy()
    starts[1:] |= is_conv[:-1]
    journey_of_row = np.cumsum(starts) - 1
    first_row = np.flatnonzero(starts)
    last_row = np.append(first_row[1:], n) - 1
    converted = is_conv[last_row]
    end_time = time[last_row]
    customer = (np.cumsum(new_customer) - 1)[first_row]

    touch = np.flatnonzero(~is_conv)
    t_journey = journey_of_row[touch]
    days = (end_time[t_journey] - time[touch]) / _US_PER_DAY
    codes = keyed["code"].to_numpy()[idx[touch]]
    # Touches of one journey at one instant: no order among them is real (the
    # sort put them by channel code), so they are one "instant" and tied.
    new_instant = np.ones(len(touch), dtype=bool)
    new_instant[1:] = (t_journey[1:] != t_journey[:-1]) | (time[touch][1:] != time[touch][:-1])
    instant = np.cumsum(new_instant) - 1

    keep = np.ones(len(touch), dtype=bool)
    if lookback_days is not None:
        keep &= days <= lookback_days
    _trim(t_journey, codes, keep, len(first_row), collapse_repeats, max_touches, instant)

    t_journey, days, codes, instant = t_journey[keep], days[keep], codes[keep], instant[keep]
    tie = np.zeros(len(codes), dtype=bool)
    tie[1:] = instant[1:] == instant[:-1]
    lengths = np.bincount(t_journey, minlength=len(first_row))
    has_touch = lengths > 0
    values = keyed["value"].to_numpy()[idx[last_row]]
    lost = converted & ~has_touch
    rows = np.flatnonzero(has_touch)
    unattributed = Unattributed(
        conversions=float(lost.sum()),
        value=float(values[lost].sum()),
        customers=int(new_customer.sum()) - len(distinct(customer[rows])),
    )

    conv = converted[rows].astype(np.float64)
    location = None
    if location_col:
        where = keyed["conversion_channel"].to_numpy()[idx[last_row[rows]]].astype(object)
        where[~converted[rows] | (where == "")] = None
        location = where
    keys = _grain_keys(
        keyed,
        idx,
        sorted_customer,
        new_customer,
        last_row,
        rows,
        lost,
        end_time,
        values,
        touch[keep],
        converted,
    )
    return Journeys(
        channels=channels,
        codes=codes.astype(np.uint32),
        offsets=csr_offsets(lengths[rows]),
        conversions=conv,
        value=np.where(converted[rows], values[rows], 0.0).astype(np.float64),
        nulls=1.0 - conv,
        days_before=days.astype(np.float64),
        customer=customer[rows].astype(np.int64),
        unattributed=unattributed,
        conversion_channel=location,
        keys=keys,
        tie=tie if tie.any() else None,
    )


# -- grain keys (issue 17) ------------------------------------------------------
_GRAIN_COLUMNS = ("conversion_id", "segment", "dimension")


def _grain_keys(
    keyed: pl.DataFrame,
    idx: np.ndarray,
    sorted_customer: pl.Series,
    new_customer: np.ndarray,
    last_row: np.ndarray,
    rows: np.ndarray,
    lost: np.ndarray,
    end_time: np.ndarray,
    values: np.ndarray,
    kept_touch: np.ndarray,
    converted: np.ndarray,
) -> JourneyKeys:
    """The keys of the finer grains, from the sorted events (``idx`` sorts ``keyed``).

    ``last_row`` is each candidate journey's last sorted row, ``rows`` the
    candidates that kept a touch, ``lost`` the unattributed ones, and
    ``kept_touch`` the sorted rows of the touches kept, journey after journey.
    """
    conversion_id = None
    if "conversion_id" in keyed.columns:
        ids = keyed["conversion_id"].gather(idx[last_row[rows]])
        conversion_id = (
            pl.DataFrame({"id": ids, "converted": converted[rows]})
            .select(pl.when("converted").then("id").alias("conversion_id"))
            .to_series()
        )
    segment = lost_segment = None
    segment_labels: tuple[str, ...] = ()
    if "segment" in keyed.columns:
        at = _segment_rows(keyed["segment"].is_not_null().to_numpy()[idx], new_customer, last_row)
        chosen = keyed["segment"].gather(idx[np.maximum(at, 0)])
        chosen = pl.select(pl.when(pl.Series(at >= 0)).then(chosen)).to_series()
        codes, segment_labels = _coded(chosen)
        segment, lost_segment = codes[rows], codes[lost]
    dimension = None
    dimension_labels: tuple[str, ...] = ()
    if "dimension" in keyed.columns:
        dimension, dimension_labels = _coded(keyed["dimension"].gather(idx[kept_touch]))
    return JourneyKeys(
        end_time=end_time[rows].astype(np.int64),
        customer_ids=sorted_customer.filter(pl.Series(new_customer)),
        conversion_id=conversion_id,
        segment=segment,
        segment_labels=segment_labels,
        dimension=dimension,
        dimension_labels=dimension_labels,
        lost_time=end_time[lost].astype(np.int64),
        lost_value=values[lost].astype(np.float64),
        lost_segment=lost_segment,
    )


def _segment_rows(valid: np.ndarray, new_customer: np.ndarray, last_row: np.ndarray) -> np.ndarray:
    """Sorted row whose segment each journey takes, -1 for none.

    A journey takes the latest value among its customer's rows up to its last
    row (its conversion, where a conversion attribute is), else the customer's
    first value after it (a customer attribute written on a later row only).
    """
    n = len(valid)
    at = np.arange(n)
    latest = np.maximum.accumulate(np.where(valid, at, -1))
    first_after = np.minimum.accumulate(np.where(valid, at, n)[::-1])[::-1]
    start = np.maximum.accumulate(np.where(new_customer, at, 0))
    next_start = np.minimum.accumulate(np.where(new_customer, at, n)[::-1])[::-1]
    end = np.append(next_start[1:], n)  # where the row's customer ends (exclusive)
    before, after = latest[last_row], first_after[last_row]
    return np.where(before >= start[last_row], before, np.where(after < end[last_row], after, -1))


def _coded(values: pl.Series) -> tuple[np.ndarray, tuple[str, ...]]:
    """Codes (int32, -1 for null) into the sorted distinct labels of text ``values``."""
    labels = tuple(values.drop_nulls().unique().sort().to_list())
    codes = values.cast(pl.Enum(labels)).to_physical().cast(pl.Int32).fill_null(-1)
    return codes.to_numpy().astype(np.int32), labels


def _check_arithmetic(events: pl.DataFrame) -> None:
    """Refuse times outside years 1 to 9999 (the sort key doubles them, and
    must not wrap around) and conversion values whose total is no number.

    :func:`attribution.sources.read_events` refuses both already, naming the file;
    this guards frames built some other way, and the events and conversions
    of two files together.
    """
    if events.height == 0:
        return
    epoch = events["time"].dt.epoch("us")
    bad = (epoch < MIN_US) | (epoch > MAX_US)
    if bool(bad.any()):
        at = _row_of(events, int(bad.arg_true()[0]))
        raise InputError(f"column 'time': the time at {at} is outside years 1 to 9999")
    is_conv = events["is_conversion"].to_numpy()
    with np.errstate(over="ignore"):
        total = np.cumsum(events["value"].to_numpy()[is_conv])
    if len(total) and not np.isfinite(total[-1]):
        at = _row_of(events, int(np.flatnonzero(is_conv)[np.argmin(np.isfinite(total))]))
        raise InputError(
            "column 'value': the conversion values add up past the largest number "
            f"(1.8e308) at {at}; scale them down"
        )


def _row_of(events: pl.DataFrame, index: int) -> str:
    """``row N``: the input's own row of event ``index`` when known."""
    return f"row {events['_row'][index]}" if "_row" in events.columns else f"event {index + 1}"


def journeys_from_paths(
    paths: pl.DataFrame, *, collapse_repeats: bool = False, max_touches: int | None = None
) -> Journeys:
    """Journeys (without touch times) from :func:`attribution.sources.read_paths`' frame."""
    if max_touches is not None and max_touches < 1:
        raise InputError(f"max touches must be at least 1, got {max_touches}")
    paths = paths.filter((pl.col("conversions") > 0) | (pl.col("nulls") > 0))
    exploded = paths.select(pl.col("channels").list.len().alias("n"), "channels")
    channels = tuple(exploded["channels"].explode().drop_nulls().unique().sort().to_list())
    flat = exploded["channels"].explode()
    codes = flat.cast(pl.Enum(channels)).to_physical().to_numpy().astype(np.uint32)
    lengths = exploded["n"].to_numpy().astype(np.int64)
    journeys = Journeys(
        channels=channels,
        codes=codes,
        offsets=csr_offsets(lengths),
        conversions=paths["conversions"].to_numpy().astype(np.float64),
        value=paths["value"].to_numpy().astype(np.float64),
        nulls=paths["nulls"].to_numpy().astype(np.float64),
    )
    if collapse_repeats or max_touches is not None:
        journeys = _trim_paths(journeys, collapse_repeats, max_touches)
    return journeys


def _trim(
    group: np.ndarray,
    codes: np.ndarray,
    keep: np.ndarray,
    n_groups: int,
    collapse: bool,
    max_touches: int | None,
    instant: np.ndarray | None = None,
) -> None:
    """Narrow ``keep`` in place over touches sorted by ``group`` (journey or path).

    ``instant`` numbers the touches' instants, ascending (touches at one
    instant are tied and have no order; by default every touch is its own).
    ``collapse`` drops a kept touch whose channel is kept again at the same
    instant or at the group's next kept instant (so the latest of a run stays;
    without ties: a touch followed by one of the same channel).
    ``max_touches`` keeps the last ``max_touches`` kept touches of each group
    and every touch tied with one of them, so that which of some tied touches
    stay never depends on how they were ordered.
    """
    if instant is None:
        instant = np.arange(len(codes), dtype=np.int64)
    if collapse:
        kept = np.flatnonzero(keep)
        g, c = group[kept], codes[kept].astype(np.int64)
        # instants among the kept touches, numbered without gaps
        step = np.cumsum(np.r_[True, instant[kept][1:] != instant[kept][:-1]]) - 1
        n = int(codes.max()) + 1 if len(codes) else 1
        key = step * n + c  # sorted: steps ascend, codes ascend within a step
        order = np.argsort(key, kind="stable")
        sorted_key = key[order]
        later = (step + 1) * n + c
        at = np.minimum(np.searchsorted(sorted_key, later), max(len(key) - 1, 0))
        again_next = (sorted_key[at] == later) & (g[order[at]] == g)
        again_here = np.zeros(len(kept), dtype=bool)
        again_here[:-1] = (step[:-1] == step[1:]) & (c[:-1] == c[1:])
        if len(kept):
            keep[kept[again_next | again_here]] = False
    if max_touches is not None:
        kept = np.flatnonzero(keep)
        per_group = np.bincount(group[kept], minlength=n_groups)
        # rank from the end: kept touches after this one in the same group
        rank_in = np.arange(len(kept)) - csr_offsets(per_group)[:-1].repeat(per_group)
        from_end = per_group[group[kept]] - 1 - rank_in
        # the instant of each group's max_touches-th last touch, and all after it
        first_kept = np.full(n_groups, np.iinfo(np.int64).min, dtype=np.int64)
        last = from_end == max_touches - 1
        first_kept[group[kept[last]]] = instant[kept[last]]
        keep[kept[instant[kept] < first_kept[group[kept]]]] = False


def _trim_paths(j: Journeys, collapse: bool, max_touches: int | None) -> Journeys:
    row = j.row_of_touch
    keep = np.ones(j.n_touches, dtype=bool)
    _trim(row, j.codes, keep, j.n_rows, collapse, max_touches)
    lengths = np.bincount(row[keep], minlength=j.n_rows)
    return Journeys(
        channels=j.channels,
        codes=j.codes[keep],
        offsets=csr_offsets(lengths),
        conversions=j.conversions,
        value=j.value,
        nulls=j.nulls,
        unattributed=j.unattributed,
    )


def load_journeys(
    source: Source,
    *,
    conversions: Source | None = None,
    columns: EventColumns | None = None,
    conversion_event: str | Sequence[str] = "conversion",
    time_unit: str | None = None,
    delimiter: str | None = None,
    path_sep: str = ">",
    lookback_days: float | None = 30.0,
    collapse_repeats: bool = False,
    max_touches: int | None = None,
    reader: EventReader | None = None,
) -> Journeys:
    """Read a file or frame of events, or a paths table, and build journeys.

    A source whose columns include ``path`` and ``total_conversions`` is read as a
    ChannelAttribution paths table (no touch times); anything else as events
    (see :func:`attribution.sources.read_events` for the schema). A source may be a
    glob, a folder or a list of files. ``reader`` reads the source instead
    (a GA4 export: :class:`attribution.ga4.GA4Export`; events whose channel comes
    from their traffic: :class:`attribution.readers.TaggedEvents`); the column
    and conversion options are then the reader's. This is what the CLI's
    commands call.
    """
    cols = columns or EventColumns()
    if reader is not None:
        events = reader.read(source)
        names = events.columns
    else:
        names = scan_frame(source, delimiter=delimiter).collect_schema().names()
        if is_paths_frame(names) and cols.channel not in names:
            if conversions is not None:
                raise InputError(
                    "a separate conversions file goes with events, not with a paths table"
                )
            frame = read_paths(source, path_sep=path_sep, delimiter=delimiter)
            return journeys_from_paths(
                frame, collapse_repeats=collapse_repeats, max_touches=max_touches
            )
        events = read_events(
            source,
            columns=cols,
            conversion_event=None if conversions is not None else conversion_event,
            time_unit=time_unit,
            delimiter=delimiter,
        )
    return _build_read(
        events,
        source,
        names,
        conversions,
        cols,
        time_unit=time_unit,
        delimiter=delimiter,
        lookback_days=lookback_days,
        collapse_repeats=collapse_repeats,
        max_touches=max_touches,
    )


def _build_read(
    events: pl.DataFrame,
    source: Source,
    names: list[str],
    conversions: Source | None,
    cols: EventColumns,
    *,
    time_unit: str | None,
    delimiter: str | None,
    lookback_days: float | None,
    collapse_repeats: bool,
    max_touches: int | None,
) -> Journeys:
    """Journeys of events read from ``source`` (whose columns are ``names``), plus a
    separate conversions file."""
    extra = None
    if conversions is not None and cols.segment is not None:  # issue 17: in one of the two
        other = scan_frame(conversions, delimiter=delimiter).collect_schema().names()
        if cols.segment not in names and cols.segment not in other:
            raise InputError(
                f"{describe(source)} and {describe(conversions)}: missing segment column "
                f"'{cols.segment}' (it may be in either); columns found: {names}, {other}"
            )
    if conversions is not None:
        extra = read_events(
            conversions,
            columns=cols,
            time_unit=time_unit,
            delimiter=delimiter,
            conversions_only=True,
        )
    if events.height == 0 and (extra is None or extra.height == 0):
        if isinstance(source, (str, os.PathLike)):
            where = os.fspath(source)
        else:
            where = "the input files" if isinstance(source, (list, tuple)) else "input frame"
        raise InputError(f"{where} has no events (it has a header but no rows)")
    journeys = build_journeys(
        events,
        conversions=extra,
        lookback_days=lookback_days,
        collapse_repeats=collapse_repeats,
        max_touches=max_touches,
    )
    if journeys.keys is None:
        return journeys
    named = dataclasses.replace(  # the grain columns' input names, for output and messages
        journeys.keys,
        conversion_id_name=cols.conversion_id,
        segment_name=cols.segment,
        dimension_name=cols.dimension,
    )
    return dataclasses.replace(journeys, keys=named)
