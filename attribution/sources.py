"""Reading event and paths files, and frames, into validated polars frames.

Files are read through one table, :data:`READERS`, from a file's extension to
its reader; a new input format is one entry there.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import io
import os
import re
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from attribution import diagnose
from attribution.errors import InputError
from attribution.files import expand, is_many, row_locator, scan_files

__all__ = [
    "READERS",
    "EventColumns",
    "Source",
    "check_delimiter",
    "collect",
    "data_file",
    "describe",
    "first_failure",
    "first_row",
    "is_paths_frame",
    "polars_message",
    "read_error",
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
    """How error messages name ``source``: ``file '<path>'``, the files of a glob,
    folder or list (:mod:`attribution.files`), or ``input frame``."""
    if is_many(source):  # a glob, a folder or several files
        return expand(source).describe()
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
        if options.gzip:  # scan_csv cannot read compressed files
            data = _gunzip(path)
            tail = data[-_TAIL:]
            lazy = pl.read_csv(
                data, separator=sep, infer_schema_length=10000, schema_overrides=overrides
            ).lazy()
        else:
            tail = _tail(path)
            lazy = pl.scan_csv(
                path, separator=sep, infer_schema_length=10000, schema_overrides=overrides
            )
        return _without_trailing_blank_rows(lazy) if _may_end_blank(tail, sep) else lazy

    return read


def _gunzip(path: Path) -> bytes:
    """The decompressed bytes of ``path``, with a one-line error for a damaged file.

    Python's gzip is used rather than polars' so that a truncated or corrupt
    file is named as such (polars says only "unexpected end of file").
    """
    try:
        with gzip.open(path) as fh:
            data = fh.read()
    except EOFError as exc:
        raise InputError(
            f"file '{path}' is truncated: the gzip data ends before its end-of-stream marker "
            "(an interrupted download or copy?)"
        ) from exc
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise InputError(f"file '{path}' is not valid gzip data: {exc}") from exc
    if not data:
        raise InputError(f"file '{path}' is empty (once decompressed); expected CSV text")
    return data


_TAIL = 4096


def _tail(path: Path) -> bytes:
    with open(path, "rb") as fh:
        fh.seek(max(0, path.stat().st_size - _TAIL))
        return fh.read()


def _may_end_blank(tail: bytes, separator: str) -> bool:
    """Whether the last line of a CSV file (its ``tail``) may be a row with no value:
    the check on every column in :func:`_without_trailing_blank_rows` reads every
    column, so it is only made when the file's last line holds nothing but
    separators, quotes and spaces."""
    lines = tail.split(b"\n")
    if lines and lines[-1] == b"":  # the final line end
        lines.pop()
    if not lines:
        return False
    return not lines[-1].strip(b' \t\r"' + separator.encode())


def _without_trailing_blank_rows(lazy: pl.LazyFrame) -> pl.LazyFrame:
    """Drop the rows after the last one with any value: blank lines at the end of a
    CSV file (which polars reads as rows of nulls). A blank row further up stays,
    and is named by the column checks; row numbers do not move."""
    index = pl.int_range(pl.len())
    filled = ~pl.all_horizontal(pl.all().is_null())
    return lazy.filter(index <= index.filter(filled).max())


def _parquet(path: Path, options: ReadOptions) -> pl.LazyFrame:
    """A Parquet file; timestamps in a fixed-offset zone polars cannot name
    (``+05:30``) are read as UTC instants, which is what Parquet stores.

    Polars turns such a zone into a panic when it builds the schema, so the
    schema is read first with its zone check off, and only files that need it
    are read eagerly (still with the check off) and put into UTC.
    """
    with lenient_time_zones():
        schema = pl.read_parquet_schema(path)
    odd = {
        name: dtype
        for name, dtype in schema.items()
        if isinstance(dtype, pl.Datetime)
        and dtype.time_zone is not None
        and not _known_time_zone(dtype.time_zone)
    }
    if not odd:
        return pl.scan_parquet(path)
    with lenient_time_zones():
        # the stored numbers are UTC instants whatever the zone: relabel, do not shift
        frame = pl.read_parquet(path).with_columns(
            pl.col(name).cast(pl.Int64).cast(pl.Datetime(dtype.time_unit, "UTC"))
            for name, dtype in odd.items()
        )
    return frame.lazy()


@contextlib.contextmanager
def lenient_time_zones() -> Iterator[None]:
    # polars' documented switch; set only around the calls that read a file's
    # schema, so the rest of the process keeps polars' own zone check
    key = "POLARS_IGNORE_TIMEZONE_PARSE_ERROR"
    before = os.environ.get(key)
    os.environ[key] = "1"
    try:
        yield
    finally:
        if before is None:
            del os.environ[key]
        else:
            os.environ[key] = before


@functools.lru_cache(maxsize=64)
def _known_time_zone(zone: str) -> bool:
    try:
        pl.Series([0]).cast(pl.Datetime("us")).dt.replace_time_zone(zone)
    except pl.exceptions.PolarsError:
        return False
    return True


def _ndjson(path: Path, options: ReadOptions) -> pl.LazyFrame:
    return pl.scan_ndjson(path)


def _json_records(path: Path, options: ReadOptions) -> pl.LazyFrame:
    return pl.read_json(path).lazy()


READERS: dict[str, Reader] = {
    ".csv": _csv(","),
    ".txt": _csv(","),
    ".tsv": _csv("\t"),
    ".parquet": _parquet,
    ".pq": _parquet,
    ".ndjson": _ndjson,
    ".jsonl": _ndjson,
    ".json": _json_records,  # an array of records
}
"""Every input file format, by extension (lower case)."""

COMPRESSIBLE = (".csv", ".txt", ".tsv")
"""Extensions whose files may also be gzip-compressed (``.csv.gz``)."""

_DELIMITER_NAMES = {"\\t": "\t", "tab": "\t", "TAB": "\t"}


def check_delimiter(delimiter: str | None) -> str | None:
    """``delimiter`` as the one byte a CSV reader splits on (``\\t`` or ``tab``
    spell a tab), or None for the format's own.

    Raises
    ------
    InputError
        When it is not one single-byte character, or is a quote or a line end.
    """
    if delimiter is None:
        return None
    delimiter = _DELIMITER_NAMES.get(delimiter, delimiter)
    if len(delimiter.encode()) != 1 or delimiter in ('"', "\n", "\r"):
        raise InputError(
            f"expected delimiter to be one single-byte character other than a quote or "
            f"a line end, such as ',' ';' '|' or '\\t'; got {delimiter!r}",
            setting="delimiter",
        )
    return delimiter


def data_file(source: str | os.PathLike[str]) -> Path:
    """``source`` as the path of one readable data file.

    This is the one place that says which paths are inputs: a folder is
    refused here (and only here), so reading folders of files is a change to
    this function.

    Raises
    ------
    InputError
        The path does not exist, or is a folder or something else that is no
        regular file (a FIFO, a device).
    """
    path = Path(source)
    if path.is_dir():
        raise InputError(
            f"file '{path}' is a folder; expected one data file "
            f"({', '.join(READERS)}, CSV also .gz)"
        )
    if not path.exists():
        raise InputError(f"file '{path}' does not exist")
    if not path.is_file():
        raise InputError(
            f"file '{path}' is not a regular file (a pipe or a device?); "
            "expected a data file on disk"
        )
    return path


def _kind(path: Path) -> tuple[str, bool]:
    """The reader's extension for ``path`` and whether it is gzip-compressed."""
    suffixes = [s.lower() for s in path.suffixes]
    gz = bool(suffixes) and suffixes[-1] == ".gz"
    kind = suffixes[-2] if gz and len(suffixes) > 1 else (suffixes[-1] if suffixes else "")
    if kind not in READERS:
        raise InputError(
            f"file '{path}': unknown format '{''.join(suffixes) or '(no extension)'}'; "
            f"expected one of {list(READERS)}, CSV also gzip-compressed (.csv.gz)"
        )
    if gz and kind not in COMPRESSIBLE:
        raise InputError(f"file '{path}': only CSV files may be gzip-compressed")
    return kind, gz


def scan_frame(
    source: Source, *, delimiter: str | None = None, text_columns: tuple[str, ...] = ()
) -> pl.LazyFrame:
    """Any supported source as a LazyFrame (gzip CSV and JSON are read eagerly).

    Files: those in :data:`READERS` (``.csv``/``.tsv``/``.txt``, optionally
    ``.gz``, ``.parquet``/``.pq``, ``.ndjson``/``.jsonl``, ``.json``). Frames:
    polars or pandas. ``text_columns`` of a CSV are read as text, not
    inferred: ids keep leading zeros, and a value column whose first rows look
    like integers still reads ``12.5`` further down (our own checks then name
    any row that is not a number). Blank lines at the end of a CSV file are
    ignored.

    The columns are known when this returns: an empty or damaged file, or
    columns with one name, are an error here, before any data is read.

    Raises
    ------
    InputError
        In one line naming the file (and, where it can be found, the line and
        row): a missing file, a folder, an unknown format, an empty file, a
        file that is not what its extension says, a bad delimiter, ragged rows,
        unclosed quotes, bytes that are not UTF-8, repeated column names, or a
        frame column that holds Python objects or mixed types.
    """
    if isinstance(source, (pl.LazyFrame, pl.DataFrame)):
        lazy = source.lazy()
        try:
            schema = lazy.collect_schema()
        except pl.exceptions.PolarsError as exc:
            raise InputError(f"input frame cannot be read: {polars_message(exc)}") from exc
        _check_frame_schema(schema)
        return lazy
    if is_many(source):  # a glob, a folder or a list of files: one table
        delimiter = check_delimiter(delimiter)
        return scan_files(expand(source), delimiter=delimiter, text_columns=text_columns)
    if not isinstance(source, (str, os.PathLike)):
        if type(source).__module__.startswith("pandas"):
            return _from_pandas(source).lazy()
        raise InputError(
            f"expected a file path or a polars/pandas DataFrame, got {type(source).__name__}"
        )
    delimiter = check_delimiter(delimiter)
    path = data_file(source)
    kind, gz = _kind(path)
    options = ReadOptions(delimiter, text_columns, gz)
    try:
        lazy = READERS[kind](path, options)
        names = lazy.collect_schema().names()
    except (pl.exceptions.PolarsError, OSError, pl.exceptions.PanicException) as exc:
        raise read_error(path, exc, delimiter=delimiter) from exc
    # polars decodes a CSV header lossily, and reads an unclosed quote in it to the end
    if any(("\ufffd" in name or "\n" in name) for name in names):
        found = _find_problem(path, delimiter)
        if found is not None:
            raise InputError(f"file '{path}': {found}")
    _check_unique_names(names, f"file '{path}'")
    return lazy


def read_frame(source: Source, *, delimiter: str | None = None) -> pl.DataFrame:
    """``scan_frame(...).collect()`` with polars' errors turned into ours."""
    lazy = scan_frame(source, delimiter=delimiter)
    return collect(lazy, source, delimiter=delimiter)


def collect(
    lazy: pl.LazyFrame, source: Source, *, delimiter: str | None = None, streaming: bool = False
) -> pl.DataFrame:
    """``lazy.collect()``, a failure while reading ``source`` made one line that
    names it (see :func:`read_error`). ``streaming`` reads in batches: about half
    the peak memory; its many chunks are joined while nothing else is held."""
    try:
        if streaming:
            return lazy.collect(engine="streaming").rechunk()
        return lazy.collect()
    except (pl.exceptions.PolarsError, OSError, pl.exceptions.PanicException) as exc:
        if isinstance(source, (str, os.PathLike)):
            raise read_error(Path(source), exc, delimiter=check_delimiter(delimiter)) from exc
        raise InputError(f"input frame cannot be read: {polars_message(exc)}") from exc


def read_error(path: Path, exc: BaseException, *, delimiter: str | None = None) -> InputError:
    """The one-line error for a file that polars (or the system) could not read.

    Says what is wrong and where: an empty file, a file that is not what its
    extension says, and for text files the first line (and row) that is
    ragged, has an unclosed quote, is not UTF-8 or not JSON. Polars' own
    message, first line only, when nothing better is found.
    """
    where = f"file '{path}'"
    if isinstance(exc, OSError) and exc.errno is not None:
        return InputError(f"{where} cannot be read: {os.strerror(exc.errno).lower()}")
    try:
        size = path.stat().st_size
    except OSError:
        size = None
    kind, _ = _kind(path)
    if size == 0:
        return InputError(f"{where} is empty (0 bytes); expected {_EXPECTED[kind]}")
    if isinstance(exc, pl.exceptions.NoDataError):  # blank lines only
        return InputError(f"{where} is empty (no header row); expected {_EXPECTED[kind]}")
    if isinstance(exc, pl.exceptions.DuplicateError):  # Parquet and JSON; CSV: see scan_frame
        match = re.search(r"name '(.*)' has more than one", str(exc))
        name = f"'{match.group(1)}'" if match else "name"
        return InputError(f"{where}: column {name} appears more than once; names must be unique")
    found = _find_problem(path, delimiter)
    if found is None and kind in (".parquet", ".pq") and diagnose.is_not_parquet(path):
        found = f"is not a Parquet file ({polars_message(exc)})"
    if found is not None:
        return InputError(f"{where} {found}" if found.startswith("is ") else f"{where}: {found}")
    return InputError(f"{where} cannot be read as {_EXPECTED[kind]}: {polars_message(exc)}")


def _find_problem(path: Path, delimiter: str | None, *, short_at: int | None = None) -> str | None:
    """Where a text file goes wrong, in words (see :mod:`attribution.diagnose`);
    ``short_at``: also whether that CSV row is shorter than the header, and no
    further (:func:`diagnose.csv_problem`)."""
    kind, gz = _kind(path)
    if kind in COMPRESSIBLE:
        sep = delimiter or ("\t" if kind == ".tsv" else ",")
        return diagnose.csv_problem(lambda: _open(path, gz), sep, short_at=short_at)
    if short_at is not None:
        return None
    if kind in (".ndjson", ".jsonl"):
        return diagnose.ndjson_problem(lambda: _open(path, gz))
    return None


_EXPECTED = {
    ".csv": "CSV text with a header row",
    ".txt": "CSV text with a header row",
    ".tsv": "tab-separated text with a header row",
    ".parquet": "a Parquet file",
    ".pq": "a Parquet file",
    ".ndjson": "one JSON object per line",
    ".jsonl": "one JSON object per line",
    ".json": "a JSON array of records",
}


def _open(path: Path, gz: bool) -> io.BufferedIOBase:
    return gzip.open(path) if gz else open(path, "rb")  # the caller closes it


def polars_message(exc: BaseException) -> str:
    """The first line of a polars error: its hints, the query plan and the context
    stack it appends are for polars users, not ours."""
    for line in str(exc).strip().splitlines():
        line = line.strip().removeprefix("Original error:").strip().strip("`").strip()
        if line:
            return line
    return type(exc).__name__


def _check_unique_names(names: list[str], where: str) -> None:
    """Raise on the first column name that polars had to make unique.

    Polars reads a repeated CSV header name ``x`` as ``x_duplicated_0``; the
    first column would then be used silently.
    """
    for name in names:
        match = re.fullmatch(r"(.*)_duplicated_(\d+)", name)
        if match and match.group(1) in names:
            base = match.group(1)
            copies = [n for n in names if re.fullmatch(rf"{re.escape(base)}_duplicated_\d+", n)]
            positions = [names.index(base) + 1, *(names.index(n) + 1 for n in copies)]
            raise InputError(
                f"{where}: column '{base}' appears {len(positions)} times in the header "
                f"(columns {', '.join(map(str, positions))}); column names must be unique"
            )


def _check_frame_schema(schema: pl.Schema) -> None:
    for name, dtype in schema.items():
        if dtype == pl.Object:
            raise InputError(
                f"input frame: column '{name}' holds Python objects (dtype Object); "
                "expected strings, numbers or datetimes: convert it, or drop it"
            )


def _from_pandas(frame: Any) -> pl.DataFrame:
    """A pandas frame as polars, its problems named by column."""
    columns = list(frame.columns)
    repeated = sorted({str(c) for c in columns if columns.count(c) > 1})
    if repeated:
        raise InputError(
            f"input frame: column '{repeated[0]}' appears {columns.count(repeated[0])} times; "
            "column names must be unique"
        )
    try:
        converted = pl.from_pandas(frame)
    except ImportError as exc:  # pandas' Arrow-backed strings need pyarrow
        raise InputError(
            f"converting a pandas DataFrame needs pyarrow: {exc}. "
            "Install it with: pip install 'attribution-engine[pandas]'"
        ) from exc
    except Exception as exc:  # pyarrow's ArrowInvalid/ArrowTypeError, polars' errors
        for name in columns:  # the loop is over columns, to name the one that fails
            try:
                pl.from_pandas(frame[[name]])
            except Exception as column_exc:
                raise InputError(
                    f"input frame: column '{name}' (pandas dtype {frame[name].dtype}) cannot be "
                    f"converted: {polars_message(column_exc)}; give it one type, e.g. "
                    f"frame['{name}'].astype(str)"
                ) from exc
        raise InputError(f"input frame cannot be converted: {polars_message(exc)}") from exc
    _check_frame_schema(converted.schema)
    return converted


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


def _at(frame: pl.DataFrame, column: str, row: int) -> Any:
    """The value of ``column`` at source row ``row`` (rows may be a subset, as in a partition)."""
    return frame.filter(pl.col("_row") == row)[column][0]


def first_failure(frame: pl.DataFrame, masks: list[pl.Expr]) -> tuple[int, int] | None:
    """The first row of ``frame`` (smallest ``_row``) where any of ``masks`` holds,
    and the index of the first mask that holds there; None when no row breaks any.

    One pass over the frame for every check, so that with several bad rows of
    several kinds the error names the row that comes first in the file, not the
    first row of the first kind checked.
    """
    if not masks:
        return None
    firsts = frame.select(
        pl.col("_row").filter(mask.fill_null(False)).min().alias(str(i))
        for i, mask in enumerate(masks)
    ).row(0)
    hits = [(int(row), i) for i, row in enumerate(firsts) if row is not None]
    return min(hits) if hits else None


# -- timestamps -----------------------------------------------------------
# Times must lie in years 1 to 9999 (UTC), the range of ISO-8601 and Python's
# datetime. Outside it, conversions are clipped to just past it, so the range
# check of _validate names the row, and no arithmetic on times can overflow.
MIN_US = -62_135_596_800_000_000  # 0001-01-01T00:00:00Z in microseconds
MAX_US = 253_402_300_799_999_999  # 9999-12-31T23:59:59.999999Z
_US_DAY = 86_400_000_000
_MARGIN = 1e9  # well past the range, even after float rounding


def _from_epoch_us(us: pl.Expr) -> pl.Expr:
    return us.clip(MIN_US - 1, MAX_US + 1).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")


def _time_expr(
    dtype: pl.DataType, name: str, unit: str | None, where: str, sample: pl.Series | None = None
) -> pl.Expr:
    """An expression turning column ``name`` into Datetime('us', 'UTC').

    Text is parsed in the format that reads ``sample`` (the first rows).
    """
    col = pl.col(name)
    if isinstance(dtype, pl.Datetime):
        # Through the epoch integer: a cast of a far-out millisecond time to
        # microseconds would overflow (polars panics). Zoned or naive, the
        # epoch counts from 1970 UTC.
        epoch = col.dt.epoch(dtype.time_unit)
        if dtype.time_unit == "ms":
            epoch = epoch.clip(MIN_US // 1000 - 1, MAX_US // 1000 + 1) * 1000
        elif dtype.time_unit == "ns":
            epoch = epoch // 1000
        return _from_epoch_us(epoch)
    if dtype == pl.Date:
        days = col.cast(pl.Int32).cast(pl.Int64)
        return _from_epoch_us(days.clip(MIN_US // _US_DAY - 1, MAX_US // _US_DAY + 1) * _US_DAY)
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
        # Clipped before the integer cast, which would wrap around (a touch in
        # year 160413 once came before a 2024 conversion); NaN is unreadable.
        us = (col.cast(pl.Float64) * per_us).fill_nan(None)
        return _from_epoch_us(us.clip(MIN_US - _MARGIN, MAX_US + _MARGIN).round(0).cast(pl.Int64))
    if dtype == pl.String:
        found = None if sample is None else _sniff_format(sample)
        if found is None:
            return _any_format(col.str.strip_chars())
        # One parse in the format of the first rows (stripped only if they need
        # it); rows it does not read are parsed again by _validate, only those.
        padded = sample is not None and bool((sample != sample.str.strip_chars()).any())
        fixed = None if padded or sample is None else _fixed_width(col, sample, *found)
        return (
            fixed
            if fixed is not None
            else _parse_as(col.str.strip_chars() if padded else col, *found)
        )
    raise InputError(f"{where}: time column '{name}' has type {dtype}; expected times")


def _parse_as(text: pl.Expr, fmt: str, zoned: bool) -> pl.Expr:
    # no cache: timestamps are mostly distinct, and the cache costs more than it saves
    parsed = text.str.to_datetime(fmt, strict=False, time_unit="us", cache=False)
    return parsed.dt.convert_time_zone("UTC") if zoned else parsed.dt.replace_time_zone("UTC")


_ZONE = re.compile(r"(Z|[+-]\d\d(?::?\d\d)?)$")


def _fixed_width(text: pl.Expr, sample: pl.Series, fmt: str, zoned: bool) -> pl.Expr | None:
    """A faster parse of ``fmt`` when the sample's times all have one width and zone.

    polars parses ``%Y-%m-%dT%H:%M:%S`` alone several times faster than with
    ``%.f`` and ``%z``; so rows of exactly the sample's shape (checked by a
    regular expression) are read as those first 19 characters, plus the
    fraction's digits, less the zone's constant offset. Other rows come back
    null, and are parsed again in every format (:func:`_reparse_times`), as
    any row the format misses. None when the sample is not of one shape.
    """
    if not fmt.startswith(("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f")):
        return None
    values = sample.drop_nulls()
    widths = values.str.len_bytes().unique()
    if values.is_empty() or widths.len() != 1:
        return None
    first = str(values[0])
    zone = ""
    if zoned:
        match = _ZONE.search(first)
        if match is None or not bool(values.str.ends_with(match.group(1)).all()):
            return None
        zone = match.group(1)
    digits = len(first) - 19 - len(zone) - 1  # after the '.'
    if not (digits == -1 or 1 <= digits <= 6):
        return None
    sep = fmt[8]  # 'T' or ' '
    fraction = "" if digits < 0 else rf"\.\d{{{digits}}}"
    shape = rf"^\d{{4}}-\d\d-\d\d{sep}\d\d:\d\d:\d\d{fraction}{re.escape(zone)}$"
    if not bool(values.str.contains(shape).all()):
        return None
    offset = 0
    if zone not in ("", "Z"):
        sign = -1 if zone[0] == "-" else 1
        hours, minutes = int(zone[1:3]), int(zone[-2:]) if len(zone) > 3 else 0
        offset = sign * (hours * 60 + minutes)
    base = text.str.slice(0, 19).str.to_datetime(
        f"%Y-%m-%d{sep}%H:%M:%S", strict=False, time_unit="us", cache=False
    )
    if digits > 0:
        micros = text.str.slice(20, digits).str.to_integer(strict=False) * 10 ** (6 - digits)
        base = base + pl.duration(microseconds=micros)
    if offset:
        base = base - pl.duration(minutes=offset)
    return pl.when(text.str.contains(shape)).then(base).dt.replace_time_zone("UTC")


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
    require_columns(names, need, where)
    if all_conversions:
        is_conv = pl.lit(True)
        channel = pl.lit(None, dtype=pl.String)
    else:
        channel = pl.col(cols.channel).cast(pl.String).str.strip_chars()
        if conversion_event is None:  # conversions come from another file
            is_conv = pl.lit(False)
        else:
            events = [conversion_event] if isinstance(conversion_event, str) else conversion_event
            is_conv = (
                pl.col(cols.event).cast(pl.String).str.strip_chars().is_in(list(events))
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
            require_columns(names, {"conversion channel": cols.conversion_channel}, where)
            location = pl.col(cols.conversion_channel).cast(pl.String).str.strip_chars()
        extra.append(location.alias("conversion_channel"))
    extra += _grain_columns(names, cols, where, conversion_event, all_conversions)
    sample = None
    if schema[cols.time] == pl.String:  # the first rows tell the timestamps' format
        try:
            sample = lazy.select(cols.time).head(1000).collect().to_series()
        except (pl.exceptions.PolarsError, OSError, pl.exceptions.PanicException):
            sample = None  # the full read fails too, and names the file and row
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


def _grain_columns(
    names: list[str],
    cols: EventColumns,
    where: str,
    conversion_event: str | Sequence[str] | None,
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


def _raw_time(frame: pl.DataFrame, row: int) -> str:
    """The input's time at ``row`` as text; a datetime too far out for Python
    (or polars' formatting) is shown as its epoch number."""
    raw = frame.filter(pl.col("_row") == row)["_raw_time"]
    if isinstance(raw.dtype, pl.Datetime):
        return f"{raw.dt.epoch(raw.dtype.time_unit)[0]} {raw.dtype.time_unit} since 1970"
    if raw.dtype == pl.Date:
        return f"{raw.cast(pl.Int32)[0]} days since 1970"
    return repr(raw[0])


def _validate(
    frame: pl.DataFrame,
    where: str,
    cols: EventColumns,
    locate: Callable[[int], str] | None = None,
) -> pl.DataFrame:
    """Raise on the first offending row; return the clean frame.

    ``locate`` names the file and row of a many-file input's row.
    """
    frame = _reparse_times(frame)
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
                f"({_at(frame, '_raw_time', r)!r}); expected ISO-8601 "
                "like 2024-05-01T13:45:00Z, a datetime, or epoch numbers with time_unit"
            ),
            "time_unit",
        ),
        (
            (pl.col("time").dt.epoch("us") < MIN_US) | (pl.col("time").dt.epoch("us") > MAX_US),
            lambda r: (
                f"column '{cols.time}': the time at row {r} "
                f"({_raw_time(frame, r)}) is outside years 1 to 9999"
            ),
            None,
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
                f"({_at(frame, '_raw_value', r)!r}) as a number"
            ),
            None,
        ),
        (
            pl.col("is_conversion") & (~pl.col("value").is_finite() | (pl.col("value") < 0)),
            lambda r: (
                f"column '{cols.value}': the conversion at row {r} has value "
                f"{_at(frame, 'value', r)}; expected a finite number >= 0"
            ),
            None,
        ),
        (
            # every total of the values must stay a number: inf credit, NaN shares otherwise
            pl.col("is_conversion")
            & ~pl.when("is_conversion").then("value").otherwise(0.0).cum_sum().is_finite(),
            lambda r: (
                f"column '{cols.value}': the conversion values add up past the largest "
                f"number (1.8e308) at row {r}; scale them down"
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
    failure = first_failure(frame, [mask for mask, _, _ in checks])
    if failure is not None:
        row, check = failure
        _, message, setting = checks[check]
        where_row = locate(row) if locate else ""
        raise InputError(f"{where}: {message(row)}{where_row}", setting=setting, row=row)
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
    grain = tuple(c for c in (cols.conversion_id, cols.segment, cols.dimension) if c)
    text = (cols.customer, cols.channel, cols.event, cols.value, *grain)
    lazy = scan_frame(source, delimiter=delimiter, text_columns=text)
    if prepare is not None:
        try:
            lazy = prepare(lazy)
        except InputError as exc:
            raise InputError(f"{describe(source)}: {exc}") from exc
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
    conversion_event: str | Sequence[str] | None = "conversion",
    time_unit: str | None = None,
    delimiter: str | None = None,
    conversions_only: bool = False,
    prepare: Callable[[pl.LazyFrame], pl.LazyFrame] | None = None,
    rows: pl.Expr | None = None,
) -> pl.DataFrame:
    """Read and validate events; see :func:`scan_events` for the columns.

    The input's schema: one row per event with a customer id, a timestamp
    (datetime, ISO-8601 string with or without zone, or epoch number with
    ``time_unit``), a channel (touches), an event name (``conversion_event``
    marks conversions) and an optional conversion value (missing: worth 1).
    ``rows``, an expression over those columns, keeps only the events it is
    true for (a partition of the customers); the rest is neither kept nor checked.

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
        prepare=prepare,
    )
    if rows is not None:
        lazy = lazy.filter(rows)
    # A partition is read in batches (about half the peak memory); a whole input
    # that fits is read at once, which also reads frames the streaming engine
    # cannot (a Parquet zone relabelled to UTC in memory).
    frame = collect(lazy, source, delimiter=delimiter, streaming=rows is not None)
    try:
        return _validate(frame, where, cols, row_locator(source))
    except InputError as exc:
        ragged = None if exc.row is None else _short_row(source, delimiter, exc.row)
        if ragged is not None:  # the row that lost the field, not the field
            raise InputError(ragged) from exc
        raise


def _short_row(source: Source, delimiter: str | None, row: int) -> str | None:
    """``file 'x.csv': row 2 (line 3) has 3 fields; the header has 5`` when
    ``row`` (1-based, of the whole scan), where a check failed, is a CSV row
    shorter than its header, else None.

    Asked only once a check has failed, so that good input is read once: a
    short row is read with its missing fields empty, which only matters when
    a needed one is among them, and then the short row is what to fix.
    """
    if is_many(source):
        path, row = expand(source).locate(row)
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
    else:
        return None
    found = _find_problem(Path(path), delimiter, short_at=row)
    return None if found is None else f"file '{path}': {found}"


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
    # only a path with a backslash can hold an escape: most tables skip that work
    escaped = bool(frame.select(pl.col("path").str.contains("\\", literal=True).any()).item())
    frame = frame.with_columns(channels=_split_path(pl.col("path"), path_sep, escaped=escaped))
    # (rows that break the rule, the column named when one does)
    checks: list[tuple[pl.Expr, str]] = [
        (
            pl.col(alias).is_null() | ~pl.col(alias).is_finite() | (pl.col(alias) < 0),
            col if col in names else "total_conversions",
        )
        for col, alias in numeric.items()
    ]
    empty = pl.col("path").is_null() | pl.col("channels").list.eval(pl.element() == "").list.any()
    checks.append((empty, "path"))
    failure = first_failure(frame, [mask for mask, _ in checks])
    if failure is not None:
        row, check = failure
        column = checks[check][1]
        what = (
            f"has an empty path or channel (separator '{path_sep}')"
            if column == "path"
            else "is not a finite number >= 0"
        )
        raise InputError(f"{where}: column '{column}' at row {row} {what}")
    for col, alias in numeric.items():  # totals must stay numbers: no inf credit
        past = first_row(frame, ~pl.col(alias).cum_sum().is_finite())
        if past is not None:
            raise InputError(
                f"{where}: column '{col if col in names else 'total_conversions'}' adds up "
                f"past the largest number (1.8e308) at row {past}; scale it down"
            )
    return frame.select("_row", "channels", "conversions", "value", "nulls")


def _split_path(path: pl.Expr, sep: str, *, escaped: bool = True) -> pl.Expr:
    """Channels of a path, split at every separator not escaped by a backslash.

    ``\\>`` is a separator inside a channel name and ``\\\\`` a backslash (what
    :meth:`attribution.journeys.Journeys.to_paths_table` writes); spaces around
    each channel are stripped. ``escaped=False`` says no path holds a backslash.
    """
    if not escaped:
        return path.str.split(sep).list.eval(pl.element().str.strip_chars())
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
