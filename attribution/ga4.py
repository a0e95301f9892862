"""Reading GA4 BigQuery exports (Parquet or NDJSON, a file a day) as events: a touch per session.

GA4 exports one row per event (page views, scrolls, purchases ...), each with
the standard nested columns: ``event_timestamp`` (microseconds),
``event_name``, ``user_pseudo_id`` and ``user_id``, ``event_params`` (a list
of ``{key, value: {string_value, int_value, float_value, double_value}}``),
``collected_traffic_source``, ``ecommerce`` and ``traffic_source``.

Most events are not touches. A touch here is a session, keyed by
(``user_pseudo_id``, ``ga_session_id``), at the time of its first event, with
the session's own source, medium and campaign: those of its first event that
carries any, from the ``source``/``medium``/``campaign`` event parameters or
``collected_traffic_source`` (a ``gclid`` alone is google / cpc, as Google Ads
auto-tagging is). A session with none is direct. ``traffic_source`` is the
user's first acquisition, the same on every event of a user, and is never read
as the session's source. Conversions are events with a conversion name
(``purchase`` by default), worth ``ecommerce.purchase_revenue``, else the
``value`` event parameter, else 1.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import polars as pl

from attribution.channels import FIELDS, Channels, audit, traffic_columns
from attribution.errors import InputError
from attribution.files import JSON_LINES, FileSet, expand, scan_files
from attribution.ga4_arrow import (
    COLLECTED,
    PARAM_KEYS,
    SESSION_ID_FIELDS,
    TEXT_KEYS,
    TRAFFIC,
    VALUE_FIELDS,
    decode,
)

__all__ = ["IDENTITIES", "GA4Export", "read_ga4"]

IDENTITIES = ("user_pseudo_id", "user_id")
"""Which id is a customer: the device's client id, or the signed-in user."""

_VALUE_FIELDS = ("string_value", "int_value", "float_value", "double_value")


def _read_schema(text_numbers: bool) -> dict[str, pl.DataType]:
    """The columns (and struct fields) the reader needs, typed for the file format.

    BigQuery's JSON export writes INT64 values as strings, so NDJSON numbers are
    read as text and cast; Parquet keeps its types. Optional columns a file
    lacks read as null.
    """
    text = pl.String()
    integer = text if text_numbers else pl.Int64()
    real = text if text_numbers else pl.Float64()
    value = pl.Struct(
        # float_value is in the schema but unused by GA4; not reading it saves time
        {"string_value": text, "int_value": integer, "double_value": real}
    )
    return {
        "event_timestamp": integer,
        "event_name": text,
        "event_params": pl.List(pl.Struct({"key": text, "value": value})),
        "user_pseudo_id": text,
        "user_id": text,
        "collected_traffic_source": pl.Struct(dict.fromkeys(COLLECTED.values(), text)),
        "ecommerce": pl.Struct({"purchase_revenue": real}),
    }


class GA4Export:
    """Reads GA4 BigQuery export files as events (a touch per session).

    Parameters
    ----------
    identity : {"user_pseudo_id", "user_id"}
        Who is a customer. ``user_id``: every device (``user_pseudo_id``) that
        ever shows a user_id belongs to that user (the first one it shows), so
        that its sessions before signing in count too; other devices stay
        customers of their own.
    conversion_events : sequence of str
        Event names that are conversions (``purchase``; key events such as
        ``generate_lead``).
    channels : Channels
        How a session's source, medium and campaign name its channel (default:
        GA4's default channel group).

    Attributes
    ----------
    stats_ : dict
        After :meth:`read`: files, events, sessions, direct sessions,
        conversions, and the events left out (no session id, no user id).
    """

    def __init__(
        self,
        *,
        identity: str = "user_pseudo_id",
        conversion_events: Sequence[str] = ("purchase",),
        channels: Channels | None = None,
    ) -> None:
        self.identity = identity
        self.conversion_events = conversion_events
        self.channels = channels

    # -- reading ---------------------------------------------------------------
    def _check(self) -> tuple[list[str], Channels]:
        if self.identity not in IDENTITIES:
            raise InputError(
                f"unknown GA4 identity '{self.identity}'; expected one of {list(IDENTITIES)}"
            )
        names = (
            [self.conversion_events]
            if isinstance(self.conversion_events, str)
            else list(self.conversion_events)
        )
        if not names or not all(isinstance(n, str) and n.strip() for n in names):
            raise InputError(f"conversion event names must be non-empty, got {names!r}")
        channels = self.channels or Channels()
        channels.resolved  # noqa: B018  (a bad rules file fails before the data is read)
        return [n.strip() for n in names], channels

    def scan(self, source: Any) -> tuple[FileSet, pl.LazyFrame]:
        """The export's files and a lazy scan of the columns the reader needs.

        The schema of the first file is checked up front.
        """
        files = expand(source, kinds=JSON_LINES)
        first = files.paths[0]
        try:
            found = scan_files(
                FileSet(os.fspath(first), (first,), files.kind, ({},))
            ).collect_schema()
        except (pl.exceptions.PolarsError, InputError) as exc:
            raise InputError(f"file '{first}' cannot be read as {files.kind}: {exc}") from exc
        self._check_schema(found, first)
        schema = _read_schema(files.kind == "ndjson")
        if files.kind == "parquet":
            lazy = pl.scan_parquet(
                list(files.paths),
                schema=schema,
                missing_columns="insert",
                extra_columns="ignore",
                cast_options=pl.ScanCastOptions(
                    missing_struct_fields="insert", extra_struct_fields="ignore"
                ),
            )
        else:
            lazy = scan_files(files, schema=schema)
        return files, lazy

    def _check_schema(self, schema: pl.Schema, path: os.PathLike | str) -> None:
        need = ["event_timestamp", "event_name", "event_params", "user_pseudo_id"]
        if self.identity == "user_id":
            need.append("user_id")
        missing = [c for c in need if c not in schema]
        if missing:
            raise InputError(
                f"file '{os.fspath(path)}' is not a GA4 export: missing column(s) "
                f"{', '.join(missing)}; columns found: {schema.names()}"
            )
        params = schema["event_params"]
        inner = params.inner if isinstance(params, pl.List) else None
        fields = {f.name: f.dtype for f in inner.fields} if isinstance(inner, pl.Struct) else {}
        value = fields.get("value")
        if "key" not in fields or not isinstance(value, pl.Struct):
            raise InputError(
                f"file '{os.fspath(path)}' is not a GA4 export: column 'event_params' is "
                f"{params}; expected a list of {{key, value: {{{', '.join(_VALUE_FIELDS)}}}}}"
            )

    def read(self, source: Any) -> pl.DataFrame:
        """Events for :func:`attribution.build_journeys`: ``_row, customer, time,
        channel, is_conversion, value``, one touch per session and one row per
        conversion event, sorted by customer and time (``_row`` is a
        conversion's row in the files; null for a touch, which stands for a
        session's rows).

        Raises
        ------
        InputError
            When a file is not a GA4 export (naming what is missing), or an event
            has no timestamp, or a conversion a negative or non-finite value
            (naming the file and row).
        """
        sessions, convs = self._read(source)
        time = pl.col("ts").cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
        touches = sessions.select(
            pl.lit(None, dtype=pl.UInt32).alias("_row"),  # a session is many rows
            "customer",
            time.alias("time"),
            pl.col("channel").cast(pl.String),
            is_conversion=pl.lit(False),
            value=pl.lit(None, dtype=pl.Float64),
        )
        rows = convs.select(
            "_row",
            "customer",
            time.alias("time"),
            channel=pl.lit(None, dtype=pl.String),
            is_conversion=pl.lit(True),
            value="value",
        )
        # sorted, so that the output does not depend on the order of the files;
        # the path builder's own sort is then fast too
        return pl.concat([touches, rows]).sort("customer", "time", "is_conversion", "channel")

    def touches(self, source: Any) -> pl.DataFrame:
        """The sessions with their traffic and channel: ``customer, time, source,
        medium, campaign, channel`` (for :func:`attribution.channels.audit`)."""
        sessions, _ = self._read(source)
        return sessions.select(
            "customer",
            pl.col("ts").cast(pl.Datetime("us")).dt.replace_time_zone("UTC").alias("time"),
            "source",
            "medium",
            "campaign",
            "channel",
        )

    def _read(self, source: Any) -> tuple[pl.DataFrame, pl.DataFrame]:
        """The sessions (with traffic and channel) and the conversions; sets ``stats_``."""
        conversions, channels = self._check()
        files, events = self.scan(source)
        sessions, traffic, convs, checks, stats = _collect(
            events, conversions, self.identity, files
        )
        _raise_on(checks, files)
        # gaps filled and rules run once per distinct traffic (and once for none:
        # direct), then joined back by its code
        none = pl.DataFrame({c: [None] for c in traffic.columns}, schema=traffic.schema)
        labelled = (
            pl.concat([traffic, none])
            .select("traffic", *traffic_columns(*(pl.col(f) for f in FIELDS)))
            .with_columns(channels.label().alias("channel"))
        )
        sessions = sessions.join(labelled, on="traffic", how="left", nulls_equal=True).drop(
            "traffic"
        )
        direct = (pl.col("source") == "(direct)") & (pl.col("medium") == "(none)")
        self.stats_ = {
            "files": len(files.paths),
            **stats,
            "direct_sessions": sessions.filter(direct).height,
        }
        return sessions, convs

    def audit(self, source: Any) -> pl.DataFrame:
        """:func:`attribution.channels.audit` of the export's sessions."""
        return audit(self.touches(source))

    def notes(self) -> list[str]:
        """What the last read found and left out, for the CLI's stderr."""
        s = getattr(self, "stats_", None)
        if not s:
            return []
        share = s["direct_sessions"] / s["sessions"] if s["sessions"] else 0.0
        notes = [
            f"GA4 export: {s['files']} files, {s['events']:,} events, "
            f"{s['sessions']:,} sessions ({share:.0%} direct), {s['conversions']:,} conversions"
        ]
        if s["no_session"]:
            notes.append(f"{s['no_session']:,} events without a ga_session_id are not touches")
        if s["no_user"]:
            notes.append(
                f"{s['no_user']:,} events without a {self.identity} belong to no customer "
                "(their conversions count as unattributed)"
            )
        return notes

    def __repr__(self) -> str:
        return (
            f"GA4Export(identity={self.identity!r}, "
            f"conversion_events={self.conversion_events!r}, channels={self.channels!r})"
        )


def read_ga4(
    source: Any,
    *,
    identity: str = "user_pseudo_id",
    conversion_events: Sequence[str] = ("purchase",),
    channels: Channels | None = None,
) -> pl.DataFrame:
    """``GA4Export(...).read(source)``: a GA4 export as events for build_journeys.

    ``source`` is a file, a folder, a glob (``export/events_*.parquet``) or a
    list of them.
    """
    return GA4Export(
        identity=identity, conversion_events=conversion_events, channels=channels
    ).read(source)


# -- the columns of one event ----------------------------------------------------


def _number(value: str, cast: pl.DataType) -> pl.Expr:
    """A number from a parameter's value struct (column ``value``), whichever field holds it."""
    v = pl.col(value)
    fields = SESSION_ID_FIELDS if cast == pl.Int64 else VALUE_FIELDS
    return pl.coalesce([v.struct.field(f).cast(cast, strict=False) for f in fields])


def _scan_events(lazy: pl.LazyFrame, identity: str, conversions: list[str]) -> pl.LazyFrame:
    """The events of a polars scan: ``_row, pseudo, [user_id], ts, conversion,
    sid, value`` and the :data:`attribution.ga4_arrow.TRAFFIC` strings (the
    nested columns are read once and dropped here).

    ``value`` is the purchase revenue, else the ``value`` parameter (null when
    the event has neither). ``user_id`` only for ``identity="user_id"``.
    """
    # the wanted parameters as a map from key to value: one lookup per key (faster
    # than filtering the list for each; a repeated key keeps its last value)
    key = pl.element().struct.field("key")
    params = pl.col("event_params").list.filter(key.is_in(PARAM_KEYS)).list.to_map()
    collected = pl.col("collected_traffic_source")
    revenue = pl.col("ecommerce").struct.field("purchase_revenue").cast(pl.Float64, strict=False)
    # user_id is read only when it identifies customers
    user_id = [pl.col("user_id")] if identity == "user_id" else []
    return (
        lazy.with_row_index("_row", offset=1)
        .with_columns(_params=params)
        .with_columns(**{f"_{k}": pl.col("_params").map.get(k) for k in PARAM_KEYS})
        .select(
            "_row",
            pl.col("user_pseudo_id").alias("pseudo"),
            *user_id,
            ts=pl.col("event_timestamp").cast(pl.Int64, strict=False),
            conversion=pl.col("event_name").is_in(conversions).fill_null(False),
            sid=_number("_ga_session_id", pl.Int64()),
            value=pl.coalesce(revenue, _number("_value", pl.Float64())),
            **{f"p_{k}": pl.col(f"_{k}").struct.field("string_value") for k in TEXT_KEYS},
            **{c: collected.struct.field(f) for c, f in COLLECTED.items()},
        )
    )


def _traffic() -> dict[str, pl.Expr]:
    """``source, medium, campaign`` from the :data:`attribution.ga4_arrow.TRAFFIC`
    columns: the event parameters', else ``collected_traffic_source``'s; a click
    id alone is google / cpc (Google Ads auto-tagging)."""

    def text(key: str) -> pl.Expr:
        return pl.coalesce(pl.col(f"p_{key}"), pl.col(f"c_{key}"))

    source, medium = text("source"), text("medium")
    auto = text("gclid").is_not_null() & source.is_null() & medium.is_null()
    return {
        "source": pl.when(auto).then(pl.lit("google")).otherwise(source),
        "medium": pl.when(auto).then(pl.lit("cpc")).otherwise(medium),
        "campaign": text("campaign"),
    }


def _decoded(
    lazy: pl.LazyFrame, conversions: list[str], identity: str, files: FileSet
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The events (``traffic`` a code, null for none) and the distinct traffic
    (``traffic, source, medium, campaign``): by pyarrow's leaf reader for
    Parquet when it is installed, else by polars' scan."""
    found = decode(files.paths, conversions, identity) if files.kind == "parquet" else None
    if found is not None:
        events, raw = found
        return events, raw.select("traffic", **_traffic())
    try:
        scanned = _scan_events(lazy, identity, conversions).collect(engine="streaming")
    except pl.exceptions.PolarsError as exc:
        raise InputError(f"{files.describe()} cannot be read: {exc}") from exc
    fields = list(FIELDS)
    scanned = scanned.with_columns(**_traffic()).drop(TRAFFIC)
    traffic = (
        scanned.select(fields)
        .unique()
        .sort(fields, nulls_last=True)
        .with_row_index("traffic")
        .with_columns(pl.col("traffic").cast(pl.Int64))
    )
    events = scanned.join(traffic, on=fields, how="left", nulls_equal=True).drop(fields)
    return events, traffic


_LAST = 2**63 - 1  # the order of an event that names no traffic


def _carries() -> pl.Expr:
    """Whether a traffic names any source, medium or campaign."""
    return pl.any_horizontal(pl.col(f).is_not_null() & (pl.col(f) != "") for f in FIELDS)


def _first_traffic(events: pl.DataFrame, traffic: pl.DataFrame) -> tuple[pl.Expr, pl.DataFrame]:
    """The order in which a session's events carrying traffic name it, and the
    traffic that counts (``traffic, _tie``): by time, events at one instant by a
    hash of their traffic strings (so that the choice does not depend on the row
    order)."""
    bounds = events.select(first=pl.col("ts").min(), span=pl.col("ts").max() - pl.col("ts").min())
    first, span = bounds.row(0)
    # as many low bits for the tie as the time span leaves free in an Int64
    bits = max(0, min(16, 62 - max(int(span or 0), 1).bit_length()))
    hashes = [pl.col(f).hash(seed=k) for k, f in enumerate(FIELDS)]
    tie = ((hashes[0] + hashes[1] + hashes[2]) % (1 << bits)).cast(pl.Int64)
    ties = traffic.filter(_carries()).select("traffic", _tie=tie)
    return (pl.col("ts") - (first or 0)) * (1 << bits) + pl.col("_tie"), ties


def _collect(
    lazy: pl.LazyFrame, conversions: list[str], identity: str, files: FileSet
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, dict[str, Any], dict[str, int]]:
    """Sessions (``traffic`` a code into the traffic table, null for none),
    the traffic table, conversions, the first bad rows and the counts, in one
    pass over the files."""
    events, traffic = _decoded(lazy, conversions, identity, files)
    is_conversion = pl.col("conversion")
    keys = ("pseudo", "sid")
    # One pass over every event, on integers: the session's start is its first
    # event; its traffic that of its first event carrying any (page views
    # repeating it, a later campaign), the others ordered last and their traffic
    # dropped, so that a session with none has null. No string is grouped.
    order, ties = _first_traffic(events, traffic)
    tie = pl.col("traffic").replace_strict(
        ties["traffic"], ties["_tie"], default=None, return_dtype=pl.Int64
    )
    named = pl.col("_tie").is_not_null()
    sessions = (
        events.select(*keys, "ts", "traffic", _tie=tie)
        .group_by(keys)
        .agg(
            pl.col("ts").min(),
            pl.when(named)
            .then(pl.col("traffic"))
            .min_by(pl.when(named).then(order).otherwise(pl.lit(_LAST))),
        )
        .filter(pl.all_horizontal(pl.col("sid", "pseudo", "ts").is_not_null()))
        .with_columns(pl.col("pseudo").cast(pl.String))
    )
    convs = events.filter(is_conversion).select(
        "_row",
        pl.col("pseudo").cast(pl.String),
        *([pl.col("user_id").cast(pl.String)] if identity == "user_id" else []),
        "ts",
        value=pl.col("value").fill_null(1.0),
    )
    checks = events.select(
        no_time=pl.col("_row").filter(pl.col("ts").is_null()).min(),
        events=pl.len(),
        no_session=(pl.col("sid").is_null() & ~is_conversion).sum(),
        no_user=pl.col("pseudo").is_null().sum(),
    ).row(0, named=True)
    ids = None
    if identity == "user_id":
        # a device belongs to the first user_id it shows
        ids = (
            events.filter(pl.col("user_id").is_not_null() & pl.col("pseudo").is_not_null())
            .select("pseudo", "ts", pl.col("user_id").cast(pl.String))
            .group_by("pseudo")
            .agg(pl.col("user_id").min_by(pl.struct("ts", "user_id")).alias("stitched"))
            .with_columns(pl.col("pseudo").cast(pl.String))
        )
    del events
    if ids is not None:
        sessions = sessions.join(ids, on="pseudo", how="left").with_columns(
            customer=pl.coalesce("stitched", "pseudo")
        )
        convs = convs.join(ids, on="pseudo", how="left").with_columns(
            customer=pl.coalesce("stitched", "user_id", "pseudo")
        )
    else:
        sessions = sessions.with_columns(customer=pl.col("pseudo"))
        convs = convs.with_columns(customer=pl.col("pseudo"))
    # A conversion of nobody is a customer of its own: it has no touch, so it is
    # reported unattributed rather than dropped.
    convs = convs.with_columns(
        customer=pl.coalesce("customer", pl.format("(no {}) row {}", pl.lit(identity), "_row"))
    )
    bad_value = convs.filter(~pl.col("value").is_finite() | (pl.col("value") < 0))
    stats = {
        "events": int(checks["events"]),
        "sessions": sessions.height,
        "conversions": convs.height,
        "no_session": int(checks["no_session"]),
        "no_user": int(checks["no_user"]),
    }
    found = {
        "no_time": checks["no_time"],
        "bad_value": bad_value["_row"].min() if bad_value.height else None,
    }
    return sessions, traffic, convs, found, stats


def _raise_on(checks: dict[str, Any], files: FileSet) -> None:
    """The first event without a timestamp, or conversion with a bad value."""
    if checks["no_time"] is not None:
        path, row = files.locate(int(checks["no_time"]))
        raise InputError(
            f"file '{path}': column 'event_timestamp' is empty or not a number at row {row}"
        )
    if checks["bad_value"] is not None:
        path, row = files.locate(int(checks["bad_value"]))
        raise InputError(
            f"file '{path}': the conversion at row {row} has a value that is negative or not "
            "finite (ecommerce.purchase_revenue or the value event parameter)"
        )
