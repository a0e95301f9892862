"""Reading event and paths files, and frames, into validated polars frames.

Files are read through one table, :data:`READERS`, from a file's extension to
its reader; a new input format is one entry there.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from attribution.errors import InputError

__all__ = [
    "READERS",
    "EventColumns",
    "Source",
    "describe",
    "first_row",
    "is_paths_frame",
    "read_events",
    "read_frame",
    "read_paths",
    "require_columns",
    "scan_events",
    "scan_frame",
]

Source = str | os.PathLike | pl.DataFrame | pl.LazyFrame | Any
"""A file path, a polars DataFrame or LazyFrame, or a pandas DataFrame."""

TIME_UNITS = ("s", "ms", "us", "ns")
PATHS_COLUMNS = ("path", "total_conversions")

# Every ISO-8601 shape we accept; zoned ones are converted to UTC, naive ones
# are taken as UTC. Tried in order, first match wins (pl.coalesce).
_ZONED_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M%#z")
_NAIVE_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
)


@dataclass(frozen=True)
class EventColumns:
    """Names of the event columns in the input (all changeable)."""

    customer: str = "customer_id"
    time: str = "timestamp"
    channel: str = "channel"
    event: str = "event"
    value: str = "value"
    # Optional: where each conversion happened (store, web, ...), for the ROPO KPIs.
    conversion_channel: str | None = None
    # Optional columns of the finer grains (attribution.grains), read only when named:
    # each conversion's id (a transaction id), a customer or conversion attribute
    # (device, country, new vs returning) and a per-touch attribute (campaign).
    conversion_id: str | None = None
    segment: str | None = None
    dimension: str | None = None


# -- files ----------------------------------------------------------------
def describe(source: Source) -> str:
    """How error messages name ``source``: ``file '<path>'`` or ``input frame``."""
    if isinstance(source, (str, os.PathLike)):
        return f"file '{os.fspath(source)}'"
    return "input frame"


@dataclass(frozen=True)
class ReadOptions:
    """What a reader is asked for besides the path."""

    delimiter: str | None = None
    text_columns: tuple[str, ...] = ()  # CSV columns read as text, not inferred
    gzip: bool = False  # the file ends in .gz (only readers in COMPRESSIBLE see this)


Reader = Callable[[Path, ReadOptions], pl.LazyFrame]


def _csv(separator: str) -> Reader:
    def read(path: Path, options: ReadOptions) -> pl.LazyFrame:
        sep = options.delimiter or separator
        overrides = dict.fromkeys(options.text_columns, pl.String)
        if options.gzip:  # scan_csv cannot read compressed files; read_csv decompresses
            return pl.read_csv(
                path, separator=sep, infer_schema_length=10000, schema_overrides=overrides
            ).lazy()
        return pl.scan_csv(
            path, separator=sep, infer_schema_length=10000, schema_overrides=overrides
        )

    return read


def _json_records(path: Path, options: ReadOptions) -> pl.LazyFrame:
    try:
        return pl.read_json(path).lazy()
    except pl.exceptions.PolarsError as exc:
        raise InputError(
            f"{describe(path)} cannot be read as a JSON array of records: {exc}"
        ) from exc


READERS: dict[str, Reader] = {
    ".csv": _csv(","),
    ".txt": _csv(","),
    ".tsv": _csv("\t"),
    ".parquet": lambda path, options: pl.scan_parquet(path),
    ".pq": lambda path, options: pl.scan_parquet(path),
    ".ndjson": lambda path, options: pl.scan_ndjson(path),
    ".jsonl": lambda path, options: pl.scan_ndjson(path),
    ".json": _json_records,  # an array of records
}
"""Every input file format, by extension (lower case)."""

COMPRESSIBLE = (".csv", ".txt", ".tsv")
"""Extensions whose files may also be gzip-compressed (``.csv.gz``)."""


def scan_frame(
    source: Source, *, delimiter: str | None = None, text_columns: tuple[str, ...] = ()
) -> pl.LazyFrame:
    """Any supported source as a LazyFrame (gzip CSV and JSON are read eagerly).

    Files: those in :data:`READERS` (``.csv``/``.tsv``/``.txt``, optionally
    ``.gz``, ``.parquet``/``.pq``, ``.ndjson``/``.jsonl``, ``.json``). Frames:
    polars or pandas. ``text_columns`` of a CSV are read as text, not
    inferred: ids keep leading zeros, and a value column whose first rows look
    like integers still reads ``12.5`` further down (our own checks then name
    any row that is not a number).
    """
    if isinstance(source, pl.LazyFrame):
        return source
    if isinstance(source, pl.DataFrame):
        return source.lazy()
    if not isinstance(source, (str, os.PathLike)):
        if type(source).__module__.startswith("pandas"):
            try:
                return pl.from_pandas(source).lazy()
            except ImportError as exc:  # pandas' Arrow-backed strings need pyarrow
                raise InputError(
                    f"converting a pandas DataFrame needs pyarrow: {exc}. "
                    "Install it with: pip install 'attribution-engine[pandas]'"
                ) from exc
        raise InputError(
            f"expected a file path or a polars/pandas DataFrame, got {type(source).__name__}"
        )
    path = Path(source)
    if not path.is_file():
        raise InputError(f"file '{path}' does not exist")
    suffixes = [s.lower() for s in path.suffixes]
    gz = bool(suffixes) and suffixes[-1] == ".gz"
    kind = suffixes[-2] if gz and len(suffixes) > 1 else (suffixes[-1] if suffixes else "")
    reader = READERS.get(kind)
    if reader is None:
        raise InputError(
            f"file '{path}': unknown format '{''.join(suffixes) or '(no extension)'}'; "
            f"expected one of {list(READERS)}, CSV also gzip-compressed (.csv.gz)"
        )
    if gz and kind not in COMPRESSIBLE:
        raise InputError(f"file '{path}': only CSV files may be gzip-compressed")
    try:
        return reader(path, ReadOptions(delimiter, text_columns, gz))
    except pl.exceptions.PolarsError as exc:
        raise InputError(f"file '{path}' cannot be read: {exc}") from exc


def read_frame(source: Source, *, delimiter: str | None = None) -> pl.DataFrame:
    """``scan_frame(...).collect()`` with polars' errors turned into ours."""
    try:
        frame = scan_frame(source, delimiter=delimiter).collect()
    except pl.exceptions.PolarsError as exc:
        raise InputError(f"{describe(source)} cannot be read: {exc}") from exc
    return frame


def is_paths_frame(columns: list[str]) -> bool:
    """Whether columns look like a ChannelAttribution paths table."""
    return all(c in columns for c in PATHS_COLUMNS)


def require_columns(columns: list[str], wanted: dict[str, str], where: str) -> None:
    """Raise naming the first column of ``wanted`` (role -> name) not in ``columns``."""
    for role, name in wanted.items():
        if name not in columns:
            raise InputError(f"{where}: missing {role} column '{name}'; columns found: {columns}")


def first_row(frame: pl.DataFrame, mask: pl.Expr) -> int | None:
    """The smallest ``_row`` of ``frame`` where ``mask`` holds, or None."""
    hit = frame.lazy().filter(mask).select(pl.col("_row").min()).collect().item()
    return None if hit is None else int(hit)


# -- timestamps -----------------------------------------------------------
def _time_expr(dtype: pl.DataType, name: str, unit: str | None, where: str) -> pl.Expr:
    """An expression turning column ``name`` into Datetime('us', 'UTC')."""
    col = pl.col(name)
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is None:
            return col.dt.cast_time_unit("us").dt.replace_time_zone("UTC")
        return col.dt.cast_time_unit("us").dt.convert_time_zone("UTC")
    if dtype == pl.Date:
        return col.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    if dtype.is_numeric():
        if unit is None:
            raise InputError(
                f"{where}: time column '{name}' holds numbers ({dtype}); "
                f"state their epoch unit with time_unit ({'|'.join(TIME_UNITS)})",
                setting="time_unit",
            )
        if unit not in TIME_UNITS:
            raise InputError(f"unknown time unit '{unit}'; expected one of {list(TIME_UNITS)}")
        per_us = {"s": 1e6, "ms": 1e3, "us": 1.0, "ns": 1e-3}[unit]
        return (
            (col.cast(pl.Float64) * per_us)
            .round(0)
            .cast(pl.Int64)
            .cast(pl.Datetime("us"))
            .dt.replace_time_zone("UTC")
        )
    if dtype == pl.String:
        text = col.str.strip_chars()
        tries = [
            text.str.to_datetime(f, strict=False, time_unit="us").dt.convert_time_zone("UTC")
            for f in _ZONED_FORMATS
        ] + [
            text.str.to_datetime(f, strict=False, time_unit="us").dt.replace_time_zone("UTC")
            for f in _NAIVE_FORMATS
        ]
        return pl.coalesce(tries)
    raise InputError(f"{where}: time column '{name}' has type {dtype}; expected times")


# -- events ---------------------------------------------------------------
def _normalise(
    lazy: pl.LazyFrame,
    where: str,
    cols: EventColumns,
    *,
    conversion_event: str | None,
    all_conversions: bool,
    time_unit: str | None,
) -> pl.LazyFrame:
    """Select and rename to ``_row, customer, time, channel, is_conversion, value``."""
    schema = lazy.collect_schema()
    names = schema.names()
    need = {"customer": cols.customer, "time": cols.time}
    if not all_conversions:
        need["channel"] = cols.channel
        if conversion_event is not None:
            need["event"] = cols.event
    require_columns(names, need, where)
    if all_conversions:
        is_conv = pl.lit(True)
        channel = pl.lit(None, dtype=pl.String)
    else:
        channel = pl.col(cols.channel).cast(pl.String).str.strip_chars()
        if conversion_event is None:  # conversions come from another file
            is_conv = pl.lit(False)
        else:
            is_conv = (
                pl.col(cols.event).cast(pl.String).str.strip_chars() == conversion_event
            ).fill_null(False)
    if cols.value in names:
        if not schema[cols.value].is_numeric() and schema[cols.value] not in (pl.String, pl.Null):
            raise InputError(
                f"{where}: value column '{cols.value}' has type {schema[cols.value]}; "
                "expected numbers"
            )
        value = pl.col(cols.value).cast(pl.Float64, strict=False)
        raw_value = pl.col(cols.value)
    else:
        value = pl.lit(1.0)
        raw_value = pl.lit(1.0)
    extra = []
    if cols.conversion_channel is not None:
        if not all_conversions and conversion_event is None:  # touches only: no conversion here
            location = pl.lit(None, dtype=pl.String)
        else:
            require_columns(names, {"conversion channel": cols.conversion_channel}, where)
            location = pl.col(cols.conversion_channel).cast(pl.String).str.strip_chars()
        extra.append(location.alias("conversion_channel"))
    extra += _grain_columns(names, cols, where, conversion_event, all_conversions)
    return lazy.with_row_index("_row", offset=1).select(
        pl.col("_row"),
        pl.col(cols.customer).alias("customer"),
        pl.col(cols.time).alias("_raw_time"),
        _time_expr(schema[cols.time], cols.time, time_unit, where).alias("time"),
        channel.alias("channel"),
        is_conv.alias("is_conversion"),
        value.alias("value"),
        raw_value.alias("_raw_value"),
        *extra,
    )


def _grain_columns(
    names: list[str],
    cols: EventColumns,
    where: str,
    conversion_event: str | None,
    all_conversions: bool,
) -> list[pl.Expr]:
    """The optional grain columns as ``conversion_id``, ``segment``, ``dimension`` (text,
    stripped, empty as null).

    A conversion id belongs to conversions, a dimension value to touches: a
    file of touches only needs no id column, a file of conversions only no
    dimension column. A segment may be on either kind of row; with a separate
    conversions file it must be in at least one of the two (checked by the
    caller that reads both).
    """
    has_touches = not all_conversions
    has_conversions = all_conversions or conversion_event is not None

    def text(name: str) -> pl.Expr:
        value = pl.col(name).cast(pl.String).str.strip_chars()
        return pl.when(value != "").then(value)

    out = []
    wanted = (
        ("conversion_id", cols.conversion_id, has_conversions),
        ("dimension", cols.dimension, has_touches),
        ("segment", cols.segment, has_touches and has_conversions),
    )
    for alias, name, required in wanted:
        if name is None:
            continue
        if name in names:
            out.append(text(name).alias(alias))
            continue
        if required:
            require_columns(names, {alias.replace("_", " "): name}, where)
        out.append(pl.lit(None, dtype=pl.String).alias(alias))
    return out


def _validate(frame: pl.DataFrame, where: str, cols: EventColumns) -> pl.DataFrame:
    """Raise on the first offending row of each kind; return the clean frame."""
    # (rows that break the rule, the message naming the first one, the setting it points at)
    checks: list[tuple[pl.Expr, Callable[[int], str], str | None]] = [
        (
            pl.col("customer").is_null(),
            lambda r: f"column '{cols.customer}' is empty at row {r}",
            None,
        ),
        (
            pl.col("_raw_time").is_null(),
            lambda r: f"column '{cols.time}' is empty at row {r}",
            None,
        ),
        (
            pl.col("time").is_null(),
            lambda r: (
                f"column '{cols.time}': cannot read the timestamp at row {r} "
                f"({frame['_raw_time'][r - frame['_row'][0]]!r}); expected ISO-8601 "
                "like 2024-05-01T13:45:00Z, a datetime, or epoch numbers with time_unit"
            ),
            "time_unit",
        ),
        (
            ~pl.col("is_conversion") & (pl.col("channel").is_null() | (pl.col("channel") == "")),
            lambda r: f"column '{cols.channel}': the touch at row {r} has no channel",
            None,
        ),
        (
            pl.col("is_conversion") & pl.col("_raw_value").is_null(),
            lambda r: f"column '{cols.value}': the conversion at row {r} has no value",
            None,
        ),
        (
            pl.col("is_conversion") & pl.col("value").is_null(),
            lambda r: (
                f"column '{cols.value}': cannot read the value at row {r} "
                f"({frame['_raw_value'][r - frame['_row'][0]]!r}) as a number"
            ),
            None,
        ),
        (
            pl.col("is_conversion") & (~pl.col("value").is_finite() | (pl.col("value") < 0)),
            lambda r: (
                f"column '{cols.value}': the conversion at row {r} has value "
                f"{frame['value'][r - frame['_row'][0]]}; expected a finite number >= 0"
            ),
            None,
        ),
    ]
    if "conversion_id" in frame.columns:
        checks.append(
            (
                pl.col("is_conversion") & pl.col("conversion_id").is_null(),
                lambda r: f"column '{cols.conversion_id}': the conversion at row {r} has no id",
                None,
            )
        )
    for mask, message, setting in checks:
        row = first_row(frame, mask)
        if row is not None:
            raise InputError(f"{where}: {message(row)}", setting=setting)
    return frame.drop("_raw_time", "_raw_value")


def scan_events(
    source: Source,
    *,
    columns: EventColumns | None = None,
    conversion_event: str | None = "conversion",
    time_unit: str | None = None,
    delimiter: str | None = None,
    conversions_only: bool = False,
) -> pl.LazyFrame:
    """Events as a lazy frame of ``_row, customer, time, channel, is_conversion, value``.

    ``time`` is Datetime in UTC; ``_row`` is the 1-based row of the source.
    Nothing is validated until collected; use :func:`read_events` for that.
    ``conversion_event=None`` reads every row as a touch (conversions then come
    from a separate source); ``conversions_only=True`` reads every row as a
    conversion (the separate conversions source: customer, time, value).
    """
    cols = columns or EventColumns()
    grain = tuple(c for c in (cols.conversion_id, cols.segment, cols.dimension) if c)
    text = (cols.customer, cols.channel, cols.event, cols.value, *grain)
    lazy = scan_frame(source, delimiter=delimiter, text_columns=text)
    return _normalise(
        lazy,
        describe(source),
        cols,
        conversion_event=conversion_event,
        all_conversions=conversions_only,
        time_unit=time_unit,
    )


def read_events(
    source: Source,
    *,
    columns: EventColumns | None = None,
    conversion_event: str | None = "conversion",
    time_unit: str | None = None,
    delimiter: str | None = None,
    conversions_only: bool = False,
) -> pl.DataFrame:
    """Read and validate events; see :func:`scan_events` for the columns.

    The input's schema: one row per event with a customer id, a timestamp
    (datetime, ISO-8601 string with or without zone, or epoch number with
    ``time_unit``), a channel (touches), an event name (``conversion_event``
    marks conversions) and an optional conversion value (missing: worth 1).

    Raises
    ------
    InputError
        Naming the file, the column and the first offending row.
    """
    cols = columns or EventColumns()
    where = describe(source)
    lazy = scan_events(
        source,
        columns=cols,
        conversion_event=conversion_event,
        time_unit=time_unit,
        delimiter=delimiter,
        conversions_only=conversions_only,
    )
    try:
        frame = lazy.select(pl.all()).collect()
    except pl.exceptions.PolarsError as exc:
        raise InputError(f"{where} cannot be read: {exc}") from exc
    return _validate(frame, where, cols)


# -- paths ----------------------------------------------------------------
def read_paths(
    source: Source, *, path_sep: str = ">", delimiter: str | None = None
) -> pl.DataFrame:
    """A ChannelAttribution paths table as ``channels (list[str]), conversions,
    value, nulls``.

    ``total_conversion_value`` defaults to the conversions, ``total_null`` to 0.
    Spaces around channel names are stripped; empty path rows are an error.
    """
    where = describe(source)
    frame = read_frame(source, delimiter=delimiter)
    names = frame.columns
    require_columns(names, {"path": "path", "conversions": "total_conversions"}, where)
    numeric = {
        "total_conversions": "conversions",
        "total_conversion_value": "value",
        "total_null": "nulls",
    }
    frame = frame.with_row_index("_row", offset=1)
    out = [pl.col("_row"), pl.col("path").cast(pl.String)]
    for col, alias in numeric.items():
        if col in names:
            out.append(pl.col(col).cast(pl.Float64, strict=False).alias(alias))
        elif alias == "value":
            out.append(pl.col("total_conversions").cast(pl.Float64, strict=False).alias(alias))
        else:
            out.append(pl.lit(0.0).alias(alias))
    frame = frame.select(out)
    for col, alias in numeric.items():
        source_col = col if col in names else "total_conversions"
        row = first_row(
            frame, pl.col(alias).is_null() | ~pl.col(alias).is_finite() | (pl.col(alias) < 0)
        )
        if row is not None:
            raise InputError(
                f"{where}: column '{source_col}' at row {row} is not a finite number >= 0"
            )
    frame = frame.with_columns(
        channels=pl.col("path").str.split(path_sep).list.eval(pl.element().str.strip_chars())
    )
    row = first_row(
        frame,
        pl.col("path").is_null() | pl.col("channels").list.eval(pl.element() == "").list.any(),
    )
    if row is not None:
        raise InputError(
            f"{where}: column 'path' at row {row} has an empty path or channel "
            f"(separator '{path_sep}')"
        )
    return frame.select("_row", "channels", "conversions", "value", "nulls")
