"""What a run covers beyond its journeys: the input's period, the lookback window, the currency.

Journeys keep no calendar dates (only days before each conversion), so the
period is read from the events themselves by :func:`input_period`, a lazy scan
of the time column; renderers for people (the report, the workbook) open with
it (:func:`coverage_facts`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl

from attribution.errors import InputError
from attribution.labels import format_value
from attribution.sources import EventColumns, Source, is_paths_frame, scan_events, scan_frame

__all__ = ["Coverage", "Period", "coverage_facts", "input_period"]


@dataclass(frozen=True)
class Period:
    """First and last event of the input, and first and last conversion (UTC)."""

    first_event: datetime
    last_event: datetime
    first_conversion: datetime | None = None
    last_conversion: datetime | None = None


@dataclass(frozen=True)
class Coverage:
    """What a report or workbook says it covers, besides the run's own summary.

    Attributes
    ----------
    source : str, optional
        The input's name.
    period : Period, optional
        None when unknown (a paths table has no dates).
    lookback_days : float, optional
        The lookback window in days; ``math.inf`` for no limit, None when not told.
    currency : str, optional
        The currency of conversion values and costs (``EUR``); None shows plain numbers.
    """

    source: str | None = None
    period: Period | None = None
    lookback_days: float | None = None
    currency: str | None = None


def input_period(
    source: Source,
    *,
    conversions: Source | None = None,
    columns: EventColumns | None = None,
    conversion_event: str | Sequence[str] = "conversion",
    time_unit: str | None = None,
    delimiter: str | None = None,
) -> Period | None:
    """The period an events input spans; None for a paths table, which has no dates.

    Reads only what it needs lazily (the time and event columns); the input
    was checked when its journeys were built, so a file that cannot be read
    here gives None rather than a second error.
    """
    cols = columns or EventColumns()
    try:
        names = scan_frame(source, delimiter=delimiter).collect_schema().names()
        if is_paths_frame(names) and cols.channel not in names:
            return None
        frames = [
            scan_events(
                source,
                columns=cols,
                conversion_event=None if conversions is not None else conversion_event,
                time_unit=time_unit,
                delimiter=delimiter,
            )
        ]
        if conversions is not None:
            frames.append(
                scan_events(
                    conversions,
                    columns=cols,
                    time_unit=time_unit,
                    delimiter=delimiter,
                    conversions_only=True,
                )
            )
        spans = [
            frame.select(
                pl.col("time").min().alias("first"),
                pl.col("time").max().alias("last"),
                pl.col("time").filter(pl.col("is_conversion")).min().alias("first_conversion"),
                pl.col("time").filter(pl.col("is_conversion")).max().alias("last_conversion"),
            )
            for frame in frames
        ]
        row = pl.concat(pl.collect_all(spans)).select(
            pl.col("first").min(),
            pl.col("last").max(),
            pl.col("first_conversion").min(),
            pl.col("last_conversion").max(),
        )
    except (pl.exceptions.PolarsError, InputError, OSError):
        return None
    first, last, first_conv, last_conv = row.row(0)
    if first is None or last is None:
        return None
    return Period(first, last, first_conv, last_conv)


def _date(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d}"


def _span(a: datetime, b: datetime) -> str:
    return _date(a) if _date(a) == _date(b) else f"{_date(a)} to {_date(b)}"


def coverage_facts(summary: Mapping[str, Any], coverage: Coverage | None) -> list[tuple[str, str]]:
    """What a run covers as ``(what, text)`` pairs, in the order a report opens with them.

    ``summary`` is the run summary (:func:`attribution.api.summarise`).
    """
    cov = coverage or Coverage()
    facts: list[tuple[str, str]] = []
    if cov.source:
        facts.append(("Input", cov.source))
    if cov.period is not None:
        p = cov.period
        text = _span(p.first_event, p.last_event)
        if p.first_conversion is not None and p.last_conversion is not None:
            text += f" (conversions {_span(p.first_conversion, p.last_conversion)})"
        facts.append(("Period", text))
    elif not summary.get("has_times", True):
        facts.append(("Period", "not in the input (a paths table has no dates)"))
    if cov.lookback_days is not None and summary.get("has_times", True):  # paths: no window
        days = cov.lookback_days
        facts.append(
            (
                "Lookback window",
                "no limit: every touch since the previous conversion"
                if math.isinf(days)
                else f"{format_value(days, 'count')} days before each conversion",
            )
        )
    count = lambda name: format_value(summary.get(name), "count")  # noqa: E731
    facts.append(
        (
            "Journeys",
            f"{count('journeys')} ({count('converting_journeys')} converting, "
            f"{count('null_journeys')} without a conversion)",
        )
    )
    customers = summary.get("customers")
    facts.append(
        (
            "Customers",
            count("customers") if customers is not None else "not in the input (paths table)",
        )
    )
    facts.append(
        (
            "Conversions",
            f"{count('conversions')} ({count('attributed_conversions')} attributed to a "
            f"channel, {count('unattributed_conversions')} with no touch in their window)",
        )
    )
    facts.append(
        (
            "Conversion value",
            format_value(summary.get("conversion_value"), "money", currency=cov.currency),
        )
    )
    return facts
