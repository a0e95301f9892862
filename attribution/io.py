"""Reading event and paths files into frames, and writing tables whole or not at all."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from attribution.errors import InputError, OutputError
from attribution.files import expand, is_many, row_locator, scan_files

__all__ = [
    "EventColumns",
    "Source",
    "is_paths_frame",
    "read_events",
    "read_frame",
    "read_paths",
    "scan_events",
    "scan_frame",
    "write_json",
    "write_table",
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


# -- files ----------------------------------------------------------------
def _describe(source: Source) -> str:
    if is_many(source):  # a glob, a folder or several files
        return expand(source).describe()
    if isinstance(source, (str, os.PathLike)):
        return f"file '{os.fspath(source)}'"
    return "input frame"


def _suffixes(path: Path) -> list[str]:
    return [s.lower() for s in path.suffixes]


def scan_frame(
    source: Source, *, delimiter: str | None = None, text_columns: tuple[str, ...] = ()
) -> pl.LazyFrame:
    """Any supported source as a LazyFrame (gzip CSV is read eagerly).

    Files: ``.csv``/``.tsv``/``.txt`` (optionally ``.gz``), ``.parquet``/``.pq``,
    ``.ndjson``/``.jsonl``; a glob, a folder or a list of them is one table
    (:mod:`attribution.files`). Frames: polars or pandas. ``text_columns`` of a CSV
    are read as text, not inferred: ids keep leading zeros, and a value column
    whose first rows look like integers still reads ``12.5`` further down (our
    own checks then name any row that is not a number).
    """
    overrides = {c: pl.String for c in text_columns}
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
        if is_many(source):
            return scan_files(expand(source), delimiter=delimiter, text_columns=text_columns)
        raise InputError(
            f"expected a file path or a polars/pandas DataFrame, got {type(source).__name__}"
        )
    if is_many(source):
        return scan_files(expand(source), delimiter=delimiter, text_columns=text_columns)
    path = Path(source)
    if not path.is_file():
        raise InputError(f"file '{path}' does not exist")
    suffixes = _suffixes(path)
    gz = bool(suffixes) and suffixes[-1] == ".gz"
    kind = suffixes[-2] if gz and len(suffixes) > 1 else (suffixes[-1] if suffixes else "")
    try:
        if kind in (".csv", ".tsv", ".txt"):
            sep = delimiter or ("\t" if kind == ".tsv" else ",")
            if gz:  # scan_csv cannot read compressed files; read_csv decompresses
                return pl.read_csv(
                    path, separator=sep, infer_schema_length=10000, schema_overrides=overrides
                ).lazy()
            return pl.scan_csv(
                path, separator=sep, infer_schema_length=10000, schema_overrides=overrides
            )
        if gz:
            raise InputError(f"file '{path}': only CSV files may be gzip-compressed")
        if kind in (".parquet", ".pq"):
            return pl.scan_parquet(path)
        if kind in (".ndjson", ".jsonl"):
            return pl.scan_ndjson(path)
    except pl.exceptions.PolarsError as exc:
        raise InputError(f"file '{path}' cannot be read: {exc}") from exc
    raise InputError(
        f"file '{path}': unknown format '{''.join(suffixes) or '(no extension)'}'; "
        "expected .csv, .csv.gz, .tsv, .parquet or .ndjson/.jsonl"
    )


def read_frame(source: Source, *, delimiter: str | None = None) -> pl.DataFrame:
    """``scan_frame(...).collect()`` with polars' errors turned into ours."""
    try:
        frame = scan_frame(source, delimiter=delimiter).collect()
    except pl.exceptions.PolarsError as exc:
        raise InputError(f"{_describe(source)} cannot be read: {exc}") from exc
    return frame


def is_paths_frame(columns: list[str]) -> bool:
    """Whether columns look like a ChannelAttribution paths table."""
    return all(c in columns for c in PATHS_COLUMNS)


def _require(columns: list[str], wanted: dict[str, str], where: str) -> None:
    for role, name in wanted.items():
        if name not in columns:
            raise InputError(f"{where}: missing {role} column '{name}'; columns found: {columns}")


def _first_row(frame: pl.DataFrame, mask: pl.Expr) -> int | None:
    hit = frame.lazy().filter(mask).select(pl.col("_row").min()).collect().item()
    return None if hit is None else int(hit)


# -- timestamps -----------------------------------------------------------
def _time_expr(
    dtype: pl.DataType, name: str, unit: str | None, where: str, sample: pl.Series | None = None
) -> pl.Expr:
    """An expression turning column ``name`` into Datetime('us', 'UTC').

    Text is parsed in the format that reads ``sample`` (the first rows).
    """
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
                f"state their epoch unit with --time-unit ({'|'.join(TIME_UNITS)})"
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
        found = None if sample is None else _sniff_format(sample)
        if found is None:
            return _any_format(col.str.strip_chars())
        # One parse in the format of the first rows (stripped only if they need
        # it); rows it does not read are parsed again by _validate, only those.
        padded = sample is not None and bool((sample != sample.str.strip_chars()).any())
        return _parse_as(col.str.strip_chars() if padded else col, *found)
    raise InputError(f"{where}: time column '{name}' has type {dtype}; expected times")


def _parse_as(text: pl.Expr, fmt: str, zoned: bool) -> pl.Expr:
    # no cache: timestamps are mostly distinct, and the cache costs more than it saves
    parsed = text.str.to_datetime(fmt, strict=False, time_unit="us", cache=False)
    return parsed.dt.convert_time_zone("UTC") if zoned else parsed.dt.replace_time_zone("UTC")


def _any_format(text: pl.Expr) -> pl.Expr:
    """Every accepted format tried in order, first match wins."""
    return pl.coalesce(
        [_parse_as(text, f, True) for f in _ZONED_FORMATS]
        + [_parse_as(text, f, False) for f in _NAIVE_FORMATS]
    )


def _sniff_format(sample: pl.Series) -> tuple[str, bool] | None:
    """The accepted format that reads most of ``sample`` (the first one on ties)."""
    values = sample.drop_nulls().str.strip_chars().to_frame("t")
    if values.height == 0:
        return None
    best, read = None, 0
    for fmt, zoned in [(f, True) for f in _ZONED_FORMATS] + [(f, False) for f in _NAIVE_FORMATS]:
        n = values.select(_parse_as(pl.col("t"), fmt, zoned).is_not_null().sum()).item()
        if n > read:
            best, read = (fmt, zoned), n
        if n == values.height:
            break
    return best


# -- events ---------------------------------------------------------------
def _normalise(
    lazy: pl.LazyFrame,
    where: str,
    cols: EventColumns,
    *,
    conversion_event: str | Sequence[str] | None,
    all_conversions: bool,
    time_unit: str | None,
) -> pl.LazyFrame:
    """Select and rename to ``_row, customer, time, channel, is_conversion, value``.

    A conversion row's channel is ignored (set to null): exports put a source
    on every event; where a conversion happened is ``conversion_channel``.
    """
    schema = lazy.collect_schema()
    names = schema.names()
    need = {"customer": cols.customer, "time": cols.time}
    if not all_conversions:
        need["channel"] = cols.channel
        if conversion_event is not None:
            need["event"] = cols.event
    _require(names, need, where)
    if all_conversions:
        is_conv = pl.lit(True)
        channel = pl.lit(None, dtype=pl.String)
    else:
        channel = pl.col(cols.channel).cast(pl.String).str.strip_chars()
        if conversion_event is None:  # conversions come from another file
            is_conv = pl.lit(False)
        else:
            names_ = [conversion_event] if isinstance(conversion_event, str) else conversion_event
            is_conv = (
                pl.col(cols.event).cast(pl.String).str.strip_chars().is_in(list(names_))
            ).fill_null(False)
            channel = pl.when(is_conv).then(pl.lit(None, dtype=pl.String)).otherwise(channel)
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
            _require(names, {"conversion channel": cols.conversion_channel}, where)
            location = pl.col(cols.conversion_channel).cast(pl.String).str.strip_chars()
        extra.append(location.alias("conversion_channel"))
    sample = None
    if schema[cols.time] == pl.String:
        try:
            sample = lazy.select(cols.time).head(1000).collect().to_series()
        except pl.exceptions.PolarsError as exc:
            raise InputError(f"{where} cannot be read: {exc}") from exc
    return lazy.with_row_index("_row", offset=1).select(
        pl.col("_row"),
        pl.col(cols.customer).alias("customer"),
        pl.col(cols.time).alias("_raw_time"),
        _time_expr(schema[cols.time], cols.time, time_unit, where, sample).alias("time"),
        channel.alias("channel"),
        is_conv.alias("is_conversion"),
        value.alias("value"),
        raw_value.alias("_raw_value"),
        *extra,
    )


def _validate(
    frame: pl.DataFrame,
    where: str,
    cols: EventColumns,
    locate: Callable[[int], str] | None = None,
) -> pl.DataFrame:
    """Raise on the first offending row of each kind; return the clean frame.

    ``locate`` names the file and row of a many-file input's row.
    """
    frame = _reparse_times(frame)
    checks: list[tuple[pl.Expr, Callable[[int], str]]] = [
        (
            pl.col("customer").is_null(),
            lambda r: f"column '{cols.customer}' is empty at row {r}",
        ),
        (
            pl.col("_raw_time").is_null(),
            lambda r: f"column '{cols.time}' is empty at row {r}",
        ),
        (
            pl.col("time").is_null(),
            lambda r: (
                f"column '{cols.time}': cannot read the timestamp at row {r} "
                f"({frame['_raw_time'][r - frame['_row'][0]]!r}); expected ISO-8601 "
                "like 2024-05-01T13:45:00Z, a datetime, or epoch numbers with --time-unit"
            ),
        ),
        (
            ~pl.col("is_conversion") & (pl.col("channel").is_null() | (pl.col("channel") == "")),
            lambda r: f"column '{cols.channel}': the touch at row {r} has no channel",
        ),
        (
            pl.col("is_conversion") & pl.col("_raw_value").is_null(),
            lambda r: f"column '{cols.value}': the conversion at row {r} has no value",
        ),
        (
            pl.col("is_conversion") & pl.col("value").is_null(),
            lambda r: (
                f"column '{cols.value}': cannot read the value at row {r} "
                f"({frame['_raw_value'][r - frame['_row'][0]]!r}) as a number"
            ),
        ),
        (
            pl.col("is_conversion") & (~pl.col("value").is_finite() | (pl.col("value") < 0)),
            lambda r: (
                f"column '{cols.value}': the conversion at row {r} has value "
                f"{frame['value'][r - frame['_row'][0]]}; expected a finite number >= 0"
            ),
        ),
    ]
    for mask, message in checks:
        row = _first_row(frame, mask)
        if row is not None:
            raise InputError(f"{where}: {message(row)}{locate(row) if locate else ''}")
    return frame.drop("_raw_time", "_raw_value")


def _reparse_times(frame: pl.DataFrame) -> pl.DataFrame:
    """Text times the first rows' format did not read, tried in every format."""
    if frame.schema["_raw_time"] != pl.String:
        return frame
    missed = (frame["time"].is_null() & frame["_raw_time"].is_not_null()).arg_true()
    if len(missed) == 0:
        return frame
    again = frame.select(
        _any_format(pl.col("_raw_time").gather(missed).str.strip_chars())
    ).to_series()
    return frame.with_columns(frame["time"].clone().scatter(missed, again))


def scan_events(
    source: Source,
    *,
    columns: EventColumns | None = None,
    conversion_event: str | Sequence[str] | None = "conversion",
    time_unit: str | None = None,
    delimiter: str | None = None,
    conversions_only: bool = False,
    prepare: Callable[[pl.LazyFrame], pl.LazyFrame] | None = None,
) -> pl.LazyFrame:
    """Events as a lazy frame of ``_row, customer, time, channel, is_conversion, value``.

    ``time`` is Datetime in UTC; ``_row`` is the 1-based row of the source.
    Nothing is validated until collected; use :func:`read_events` for that.
    ``conversion_event=None`` reads every row as a touch (conversions then come
    from a separate source); ``conversions_only=True`` reads every row as a
    conversion (the separate conversions source: customer, time, value).
    Several conversion event names may be given. ``prepare`` changes the raw
    table first (say, derives the channel column from source and medium:
    :meth:`attribution.channels.Channels.prepare`).
    """
    cols = columns or EventColumns()
    text = (cols.customer, cols.channel, cols.event, cols.value)
    lazy = scan_frame(source, delimiter=delimiter, text_columns=text)
    if prepare is not None:
        try:
            lazy = prepare(lazy)
        except InputError as exc:
            raise InputError(f"{_describe(source)}: {exc}") from exc
    return _normalise(
        lazy,
        _describe(source),
        cols,
        conversion_event=conversion_event,
        all_conversions=conversions_only,
        time_unit=time_unit,
    )


def read_events(
    source: Source,
    *,
    columns: EventColumns | None = None,
    conversion_event: str | Sequence[str] | None = "conversion",
    time_unit: str | None = None,
    delimiter: str | None = None,
    conversions_only: bool = False,
    prepare: Callable[[pl.LazyFrame], pl.LazyFrame] | None = None,
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
    where = _describe(source)
    lazy = scan_events(
        source,
        columns=cols,
        conversion_event=conversion_event,
        time_unit=time_unit,
        delimiter=delimiter,
        conversions_only=conversions_only,
        prepare=prepare,
    )
    try:
        frame = lazy.select(pl.all()).collect()
    except pl.exceptions.PolarsError as exc:
        raise InputError(f"{where} cannot be read: {exc}") from exc
    return _validate(frame, where, cols, row_locator(source))


# -- paths ----------------------------------------------------------------
def read_paths(
    source: Source, *, path_sep: str = ">", delimiter: str | None = None
) -> pl.DataFrame:
    """A ChannelAttribution paths table as ``channels (list[str]), conversions,
    value, nulls``.

    ``total_conversion_value`` defaults to the conversions, ``total_null`` to 0.
    Spaces around channel names are stripped; empty path rows are an error.
    """
    where = _describe(source)
    frame = read_frame(source, delimiter=delimiter)
    names = frame.columns
    _require(names, {"path": "path", "conversions": "total_conversions"}, where)
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
        row = _first_row(
            frame, pl.col(alias).is_null() | ~pl.col(alias).is_finite() | (pl.col(alias) < 0)
        )
        if row is not None:
            raise InputError(
                f"{where}: column '{source_col}' at row {row} is not a finite number >= 0"
            )
    frame = frame.with_columns(channels=_split_path(pl.col("path"), path_sep))
    row = _first_row(
        frame,
        pl.col("path").is_null() | pl.col("channels").list.eval(pl.element() == "").list.any(),
    )
    if row is not None:
        raise InputError(
            f"{where}: column 'path' at row {row} has an empty path or channel "
            f"(separator '{path_sep}')"
        )
    return frame.select("_row", "channels", "conversions", "value", "nulls")


def _split_path(path: pl.Expr, sep: str) -> pl.Expr:
    """Channels of a path, split at every separator not escaped by a backslash.

    ``\\>`` is a separator inside a channel name and ``\\\\`` a backslash (what
    :meth:`attribution.journeys.Journeys.to_paths_table` writes); spaces around
    each channel are stripped.
    """
    token = sep.strip() or sep
    # escapes become characters no channel name holds, then go back after the split
    held = path.str.replace_all("\\\\", "\x00", literal=True).str.replace_all(
        "\\" + token, "\x01", literal=True
    )
    return held.str.split(sep).list.eval(
        pl.element()
        .str.strip_chars()
        .str.replace_all("\x01", token, literal=True)
        .str.replace_all("\x00", "\\", literal=True)
    )


# -- writing --------------------------------------------------------------
def _atomic_write(path: Path, write: Callable[[Path], None], inputs: tuple[Path, ...]) -> None:
    """Write through a temporary file in the same folder, then rename over ``path``."""
    target = path.resolve()
    for src in inputs:
        if src.exists() and src.resolve() == target:
            raise OutputError(f"refusing to overwrite the input file '{path}'")
    folder = target.parent
    if not folder.is_dir():
        raise OutputError(f"cannot write '{path}': folder '{folder}' does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        write(Path(tmp))
        # mkstemp makes the file private (0600); give it the mode a plain open would
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


FORMATS = ("table", "csv", "json", "parquet", "xlsx")
_EXTENSIONS = {
    ".csv": "csv",
    ".json": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".xlsx": "xlsx",  # needs the [xlsx] extra (xlsxwriter)
}


def format_for(output: str | os.PathLike | None, fmt: str | None) -> str:
    """The format to write: the one asked for, else the output's extension, else table."""
    if fmt:
        return fmt
    if output is None:
        return "table"
    ext = Path(output).suffix.lower()
    if ext not in _EXTENSIONS:
        raise OutputError(
            f"cannot tell the format of '{output}' from its extension; "
            f"use --format ({'|'.join(f for f in FORMATS if f != 'table')}) "
            f"or one of {sorted(_EXTENSIONS)}"
        )
    return _EXTENSIONS[ext]


def write_table(
    frame: pl.DataFrame,
    output: str | os.PathLike,
    fmt: str,
    *,
    inputs: tuple[str | os.PathLike, ...] = (),
    json_payload: Callable[[], Any] | None = None,
) -> None:
    """Write ``frame`` as csv, parquet or json, whole or not at all.

    For json, ``json_payload`` (when given) builds the document instead of the
    plain list of records.
    """
    path = Path(output)
    ins = tuple(Path(p) for p in inputs)
    if fmt == "csv":
        _atomic_write(path, lambda p: frame.write_csv(p), ins)
    elif fmt == "parquet":
        _atomic_write(path, lambda p: frame.write_parquet(p), ins)
    elif fmt == "json":
        doc = json_payload() if json_payload else frame.to_dicts()
        write_json(doc, path, inputs=inputs)
    elif fmt == "xlsx":
        _atomic_write(path, lambda p: _write_xlsx(frame, p), ins)
    else:
        raise OutputError(
            f"cannot write format '{fmt}' to a file; expected csv, json, parquet or xlsx"
        )


def _write_xlsx(frame: pl.DataFrame, path: Path) -> None:
    """One worksheet with a header row; nulls are empty cells, numbers stay numbers."""
    try:
        import xlsxwriter  # noqa: F401  (polars' write_excel needs it)
    except ImportError as exc:
        raise OutputError(
            "xlsx output needs xlsxwriter, which is not installed; "
            "install the xlsx extra: pip install 'attribution-engine[xlsx]'"
        ) from exc
    # float_precision only sets the cells' display format; the stored values are exact
    frame.write_excel(path, worksheet="data", autofit=True, float_precision=4)


def write_json(doc: Any, output: str | os.PathLike, *, inputs: tuple = ()) -> None:
    """Write a JSON document atomically (floats that are NaN become null)."""

    def dump(p: Path) -> None:
        with open(p, "w", encoding="utf-8") as fh:
            json.dump(_jsonable(doc), fh, indent=2)
            fh.write("\n")

    _atomic_write(Path(output), dump, tuple(Path(i) for i in inputs))


def _jsonable(doc: Any) -> Any:
    if isinstance(doc, float) and doc != doc:  # NaN
        return None
    if isinstance(doc, float) and doc in (float("inf"), float("-inf")):
        return None
    if isinstance(doc, dict):
        return {k: _jsonable(v) for k, v in doc.items()}
    if isinstance(doc, (list, tuple)):
        return [_jsonable(v) for v in doc]
    if hasattr(doc, "item"):  # numpy scalar
        return _jsonable(doc.item())
    return doc


def dumps(doc: Any) -> str:
    """JSON text of ``doc`` as written by :func:`write_json`."""
    return json.dumps(_jsonable(doc), indent=2)
