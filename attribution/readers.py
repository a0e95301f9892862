"""Readers: what turns an input other than a tidy event table into events for the path builder.

A reader has ``read(source) -> events`` (the frame :func:`attribution.sources.read_events`
returns: ``_row, customer, time, channel, is_conversion, value``),
``touches(source)`` (each touch's ``source, medium, campaign, channel``, for
the channel audit) and ``notes()`` (what the last read found, for stderr).
:func:`attribution.load_journeys` takes one as ``reader=``. Two ship with the
engine: :class:`attribution.ga4.GA4Export` (GA4 BigQuery exports, a touch per
session) and :class:`TaggedEvents` (event files whose channel comes from
source, medium and campaign columns, such as ``utm_source``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import polars as pl

from attribution.channels import FIELDS, Channels, audit, traffic_columns
from attribution.errors import InputError
from attribution.files import describe
from attribution.sources import EventColumns, read_events, scan_frame

__all__ = ["EventReader", "TaggedEvents"]


@runtime_checkable
class EventReader(Protocol):
    """Turns a source into validated events, and reports on its touches."""

    def read(self, source: Any) -> pl.DataFrame: ...

    def touches(self, source: Any) -> pl.DataFrame: ...

    def notes(self) -> list[str]: ...


@dataclass(frozen=True)
class TaggedEvents:
    """Event files (Segment, Snowplow, server logs) whose channel is derived from
    their source, medium and campaign columns by channel rules.

    The derived channel replaces the ``channel`` column (if there is one); every
    other column and option is as for :func:`attribution.sources.read_events`.
    ``conversion_event=None`` reads every row as a touch (conversions from a
    separate file).
    """

    channels: Channels = field(default_factory=Channels)
    columns: EventColumns = field(default_factory=EventColumns)
    conversion_event: str | Sequence[str] | None = "conversion"
    time_unit: str | None = None
    delimiter: str | None = None

    def read(self, source: Any) -> pl.DataFrame:
        return read_events(
            source,
            columns=self.columns,
            conversion_event=self.conversion_event,
            time_unit=self.time_unit,
            delimiter=self.delimiter,
            prepare=self.channels.prepare(into=self.columns.channel),
        )

    def touches(self, source: Any) -> pl.DataFrame:
        """``source, medium, campaign, channel`` of every touch row."""
        ch = self.channels
        cols = self.columns
        raw = scan_frame(
            source,
            delimiter=self.delimiter,
            text_columns=(ch.source, ch.medium, *([ch.campaign] if ch.campaign else [])),
        )
        names = raw.collect_schema().names()
        for role, name in (("source", ch.source), ("medium", ch.medium)):
            if name not in names:
                raise InputError(
                    f"{describe(source)}: missing {role} column '{name}' (--{role}-col); "
                    f"columns found: {names}"
                )
        if self.conversion_event is not None and cols.event in names:
            wanted = (
                [self.conversion_event]
                if isinstance(self.conversion_event, str)
                else list(self.conversion_event)
            )
            is_touch = ~pl.col(cols.event).cast(pl.String).str.strip_chars().is_in(wanted)
            raw = raw.filter(is_touch.fill_null(True))
        campaign = pl.col(ch.campaign) if ch.campaign and ch.campaign in names else None
        filled = raw.select(traffic_columns(pl.col(ch.source), pl.col(ch.medium), campaign))
        try:
            return ch.assign(filled).select(*FIELDS, "channel").collect()
        except pl.exceptions.PolarsError as exc:
            raise InputError(f"{describe(source)} cannot be read: {exc}") from exc

    def audit(self, source: Any) -> pl.DataFrame:
        return audit(self.touches(source))

    def notes(self) -> list[str]:
        return []
