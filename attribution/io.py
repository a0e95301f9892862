"""Reading event and paths files into frames, and writing tables whole or not at all."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from attribution.errors import InputError, OutputError
from attribution.text import spreadsheet_safe

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
    ``.ndjson``/``.jsonl``. Frames: polars or pandas. ``text_columns`` of a CSV
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
        raise InputError(
            f"expected a file path or a polars/pandas DataFrame, got {type(source).__name__}"
        )
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
# Times must lie in years 1 to 9999 (UTC), the range of ISO-8601 and Python's
# datetime. Outside it, conversions are clipped to just past it, so the range
# check of _validate names the row, and no arithmetic on times can overflow.
_MIN_US = -62_135_596_800_000_000  # 0001-01-01T00:00:00Z in microseconds
_MAX_US = 253_402_300_799_999_999  # 9999-12-31T23:59:59.999999Z
_US_DAY = 86_400_000_000
_MARGIN = 1e9  # well past the range, even after float rounding


def _from_epoch_us(us: pl.Expr) -> pl.Expr:
    return us.clip(_MIN_US - 1, _MAX_US + 1).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")


def _time_expr(dtype: pl.DataType, name: str, unit: str | None, where: str) -> pl.Expr:
    """An expression turning column ``name`` into Datetime('us', 'UTC')."""
    col = pl.col(name)
    if isinstance(dtype, pl.Datetime):
        # Through the epoch integer: a cast of a far-out millisecond time to
        # microseconds would overflow (polars panics). Zoned or naive, the
        # epoch counts from 1970 UTC.
        epoch = col.dt.epoch(dtype.time_unit)
        if dtype.time_unit == "ms":
            epoch = epoch.clip(_MIN_US // 1000 - 1, _MAX_US // 1000 + 1) * 1000
        elif dtype.time_unit == "ns":
            epoch = epoch // 1000
        return _from_epoch_us(epoch)
    if dtype == pl.Date:
        days = col.cast(pl.Int32).cast(pl.Int64)
        return _from_epoch_us(days.clip(_MIN_US // _US_DAY - 1, _MAX_US // _US_DAY + 1) * _US_DAY)
    if dtype.is_numeric():
        if unit is None:
            raise InputError(
                f"{where}: time column '{name}' holds numbers ({dtype}); "
                f"state their epoch unit with --time-unit ({'|'.join(TIME_UNITS)})"
            )
        if unit not in TIME_UNITS:
            raise InputError(f"unknown time unit '{unit}'; expected one of {list(TIME_UNITS)}")
        per_us = {"s": 1e6, "ms": 1e3, "us": 1.0, "ns": 1e-3}[unit]
        # Clipped before the integer cast, which would wrap around (a touch in
        # year 160413 once came before a 2024 conversion); NaN is unreadable.
        us = (col.cast(pl.Float64) * per_us).fill_nan(None)
        return _from_epoch_us(us.clip(_MIN_US - _MARGIN, _MAX_US + _MARGIN).round(0).cast(pl.Int64))
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
    _require(names, need, where)
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
            _require(names, {"conversion channel": cols.conversion_channel}, where)
            location = pl.col(cols.conversion_channel).cast(pl.String).str.strip_chars()
        extra.append(location.alias("conversion_channel"))
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


def _raw_time(frame: pl.DataFrame, row: int) -> str:
    """The input's time at ``row`` as text; a datetime too far out for Python
    (or polars' formatting) is shown as its epoch number."""
    raw = frame["_raw_time"]
    at = row - frame["_row"][0]
    if isinstance(raw.dtype, pl.Datetime):
        return f"{raw.dt.epoch(raw.dtype.time_unit)[at]} {raw.dtype.time_unit} since 1970"
    if raw.dtype == pl.Date:
        return f"{raw.cast(pl.Int32)[at]} days since 1970"
    return repr(raw[at])


def _validate(frame: pl.DataFrame, where: str, cols: EventColumns) -> pl.DataFrame:
    """Raise on the first offending row of each kind; return the clean frame."""
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
            (pl.col("time").dt.epoch("us") < _MIN_US) | (pl.col("time").dt.epoch("us") > _MAX_US),
            lambda r: (
                f"column '{cols.time}': the time at row {r} "
                f"({_raw_time(frame, r)}) is outside years 1 to 9999"
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
        (
            # every total of the values must stay a number: inf credit, NaN shares otherwise
            pl.col("is_conversion")
            & ~pl.when("is_conversion").then("value").otherwise(0.0).cum_sum().is_finite(),
            lambda r: (
                f"column '{cols.value}': the conversion values add up past the largest "
                f"number (1.8e308) at row {r}; scale them down"
            ),
        ),
    ]
    for mask, message in checks:
        row = _first_row(frame, mask)
        if row is not None:
            raise InputError(f"{where}: {message(row)}")
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
    text = (cols.customer, cols.channel, cols.event, cols.value)
    lazy = scan_frame(source, delimiter=delimiter, text_columns=text)
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
    where = _describe(source)
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
        row = _first_row(frame, ~pl.col(alias).cum_sum().is_finite())
        if row is not None:
            raise InputError(
                f"{where}: column '{source_col}' adds up past the largest number (1.8e308) "
                f"at row {row}; scale it down"
            )
    frame = frame.with_columns(
        channels=pl.col("path").str.split(path_sep).list.eval(pl.element().str.strip_chars())
    )
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

    In CSV, a text cell starting with ``=``, ``+``, ``-``, ``@``, tab or CR gets
    a leading ``'`` (:func:`attribution.text.spreadsheet_safe`).

    For json, ``json_payload`` (when given) builds the document instead of the
    plain list of records.
    """
    path = Path(output)
    ins = tuple(Path(p) for p in inputs)
    if fmt == "csv":  # text cells a spreadsheet would run as formulas get a leading '
        _atomic_write(path, lambda p: spreadsheet_safe(frame).write_csv(p), ins)
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
