"""Finding where a text file that polars could not read goes wrong: its line and row.

Polars stops at a ragged row, an unclosed quote, a byte that is not UTF-8 or
a broken JSON line, but says neither the line nor the row. These functions
run only after polars has failed, read the file once more with Python's own
csv and json parsers, and stop at the first problem. That is a loop over
lines, which the engine avoids elsewhere; here it costs nothing on good input
and turns a failed read into a line a person can go and fix.

Rows are counted as :mod:`attribution.sources` counts them (1 is the first
row after a CSV header; a blank line is a row), lines as an editor does.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = ["csv_problem", "is_not_parquet", "ndjson_problem"]

Opener = Callable[[], io.BufferedIOBase]


class _NotUtf8(Exception):
    def __init__(self, line: int, byte: int, column: int) -> None:
        super().__init__(line, byte, column)
        self.line, self.byte, self.column = line, byte, column

    def describe(self, row: str) -> str:
        return (
            f"{row} is not UTF-8 text (byte 0x{self.byte:02x} at column {self.column}); "
            "save the file as UTF-8 (for Latin-1: iconv -f latin1 -t utf-8)"
        )


def _lines(raw: io.BufferedIOBase, counter: list[int]) -> Iterator[str]:
    """The lines of ``raw`` as text, counting them in ``counter[0]``; raises
    :class:`_NotUtf8` at the first line that does not decode."""
    for number, line in enumerate(raw, start=1):
        counter[0] = number
        try:
            text = line.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            raise _NotUtf8(number, line[exc.start], exc.start + 1) from None
        yield text


def csv_problem(open_file: Opener, delimiter: str, *, short_at: int | None = None) -> str | None:
    """The first ragged row, unclosed quote or non-UTF-8 line of a CSV file, in words
    (``row 2 (line 3) has 6 fields; the header has 5``), or None when there is none.

    A row with fewer fields than the header is named only when it is row
    ``short_at`` (and the search stops there): polars reads its missing fields
    as empty, which is harmless unless one of them was needed, and then
    :func:`attribution.sources.read_events` asks about that row.
    """
    read_lines = [0]
    with open_file() as raw:
        reader = csv.reader(_lines(raw, read_lines), delimiter=delimiter, strict=True)
        row, start = 0, 0  # the last row read, and the line it ended on
        try:
            header = next(reader, None)
            if header is None:
                return None
            width, start = len(header), reader.line_num
            for row, record in enumerate(reader, start=1):
                if short_at is not None and row == short_at and 0 < len(record) < width:
                    return (
                        f"row {row} (line {start + 1}) has {len(record)} fields; "
                        f"the header has {width}"
                    )
                if short_at is not None and row >= short_at:
                    return None
                if len(record) > width:
                    return (
                        f"row {row} (line {start + 1}) has {len(record)} fields; "
                        f"the header has {width}"
                    )
                start = reader.line_num
            return None
        except _NotUtf8 as exc:
            where = "the header" if start == 0 else f"row {row + 1} (line {exc.line})"
            return exc.describe(where)
        except csv.Error as exc:
            opened = "the header (line 1)" if start == 0 else f"row {row + 1} (line {start + 1})"
            if "field larger than field limit" in str(exc) or "end of data" in str(exc):
                return f"{opened} opens a quoted field that is never closed"
            return f"{opened}: {exc}"


def ndjson_problem(open_file: Opener) -> str | None:
    """The first NDJSON line that is not UTF-8, not JSON or not an object, in words
    (``line 2 is not valid JSON (...)``); ``is empty`` when no line holds anything;
    None when every line is fine."""
    read_lines = [0]
    seen = False
    with open_file() as raw:
        try:
            for text in _lines(raw, read_lines):
                if not text.strip():
                    continue
                seen = True
                try:
                    value = json.loads(text)
                except json.JSONDecodeError as exc:
                    reason = exc.msg.removesuffix(" at")  # "Invalid control character at"
                    return f"line {read_lines[0]} is not valid JSON ({reason}, column {exc.colno})"
                if not isinstance(value, dict):
                    kind = type(value).__name__.replace("list", "array").replace("dict", "object")
                    return f"line {read_lines[0]} is a JSON {kind}, not an object (a record)"
        except _NotUtf8 as exc:
            return exc.describe(f"line {exc.line}")
    if not seen:
        return "is empty (blank lines only); expected one JSON object per line"
    return None


def is_not_parquet(path: Path) -> bool:
    """Whether ``path`` lacks Parquet's magic bytes at its start or its end."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
            fh.seek(-4, 2)
            tail = fh.read(4)
    except OSError:  # shorter than 4 bytes, or unreadable
        return True
    return head not in (b"PAR1", b"PARE") or tail not in (b"PAR1", b"PARE")
