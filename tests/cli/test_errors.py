"""Every user error is one line: each family of bad input and bad output, through the
real command line, ends with exit status 1, one line on stderr naming the file, and no
traceback. Random garbage and random truncations of good files too."""

from __future__ import annotations

import gzip
import io
import os
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attribution.cli.main import TRACEBACK_VARIABLE, cli

HEADER = "customer_id,timestamp,channel,event,value\n"
GOOD_ROWS = "u1,2024-01-01,a,touch,\nu1,2024-01-02,,conversion,5\n"
RECORDS = [
    {"customer_id": "u1", "timestamp": "2024-01-01", "channel": "a", "event": "touch"},
    {"customer_id": "u1", "timestamp": "2024-01-02", "event": "conversion", "value": 5},
]
NDJSON = "".join(pl.DataFrame(RECORDS).write_ndjson().splitlines(keepends=True))
MANY = "".join(f"u{i},2024-01-01,a,touch,\n" for i in range(12_000))  # past the sniffed rows


def invoke(*args: object) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def assert_one_line(result: Result, *fragments: str) -> str:
    """Exit status 1, exactly one line on stderr, no traceback; returns the line.

    An error only the write itself can find (a full disk) is the only line too:
    the run's summary waits until the output is written.
    """
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 1, result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in result.output and "internal error" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def _parquet(path: Path) -> None:
    pl.DataFrame(RECORDS).write_parquet(path)


def _cut(write: Callable[[Path], None], keep: float) -> Callable[[Path], None]:
    def cut(path: Path) -> None:
        write(path)
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * keep)])

    return cut


def _duplicate_parquet(path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = [pa.array(["u1"]), pa.array(["2024-01-01"]), pa.array(["a"]), pa.array(["x"])]
    pq.write_table(
        pa.table(columns, names=["customer_id", "timestamp", "channel", "channel"]), path
    )


def _text(text: str, encoding: str = "utf-8") -> Callable[[Path], None]:
    return lambda path: path.write_bytes(text.encode(encoding))


def _gzip_cut(path: Path) -> None:
    data = gzip.compress((HEADER + MANY + GOOD_ROWS).encode())
    path.write_bytes(data[: len(data) // 2])


# (file name, how to write it, what the one line must say besides the file's name)
BAD_FILES: list[tuple[str, Callable[[Path], None], str]] = [
    ("empty.csv", _text(""), "is empty (0 bytes)"),
    ("empty.ndjson", _text(""), "is empty (0 bytes)"),
    ("blank.ndjson", _text("\n\n \n"), "is empty (blank lines only)"),
    ("empty.parquet", _text(""), "is empty (0 bytes)"),
    ("text.parquet", _text(HEADER + GOOD_ROWS), "is not a Parquet file"),
    ("cut.parquet", _cut(_parquet, 0.6), "is not a Parquet file"),
    ("broken.ndjson", _text(NDJSON + '{"customer_id": "u1", "ti\n'), "line 3 is not valid JSON"),
    ("array.ndjson", _text(NDJSON + "[1, 2]\n"), "line 3 is a JSON array, not an object"),
    ("latin1.ndjson", _text(NDJSON + '{"channel": "café"}\n', "latin-1"), "line 3 is not UTF-8"),
    ("cut.csv.gz", _gzip_cut, "is truncated"),
    ("plain.csv.gz", _text(HEADER + GOOD_ROWS), "is not valid gzip data"),
    ("empty.csv.gz", lambda p: p.write_bytes(gzip.compress(b"")), "is empty"),
    (
        "latin1.csv",
        _text(HEADER + "u2,2024-01-01,café,touch,\n" + GOOD_ROWS, "latin-1"),
        "row 1 (line 2) is not UTF-8 text (byte 0xe9",
    ),
    (
        "latin1-late.csv",
        _text(HEADER + MANY + "u2,2024-01-01,café,touch,\n", "latin-1"),
        "row 12001 (line 12002) is not UTF-8",
    ),
    ("latin1-header.csv", _text("customer_id,café\nu,1\n", "latin-1"), "the header is not UTF-8"),
    (
        "ragged.csv",
        _text(HEADER + "u2,2024-01-01,b,touch,,extra\n" + GOOD_ROWS),
        "row 1 (line 2) has 6 fields; the header has 5",
    ),
    (
        "ragged-late.csv",
        _text(HEADER + MANY + "u2,2024-01-01,b,touch,,extra\n" + GOOD_ROWS),
        "row 12001 (line 12002) has 6 fields",
    ),
    (
        "short.csv",  # the short row lost its channel and event
        _text(HEADER + GOOD_ROWS + "u2,2024-01-01\n" + GOOD_ROWS),
        "row 3 (line 4) has 2 fields; the header has 5",
    ),
    (
        "short-conversion.csv",  # a conversion that lost its value
        _text(HEADER + MANY + "u2,2024-01-03,a,conversion\n"),
        "row 12001 (line 12002) has 4 fields; the header has 5",
    ),
    (
        "short-many.csv",  # a harmless short row before: the failing row is named
        _text(HEADER + "u1,2024-01-01,a,touch\n" + "u2,2024-01-01,,touch,\n"),
        "the touch at row 2 has no channel",
    ),
    (
        "quote.csv",
        _text(HEADER + GOOD_ROWS + 'u2,2024-01-01,"b,touch,\n' + GOOD_ROWS),
        "row 3 (line 4) opens a quoted field that is never closed",
    ),
    (
        "ragged.tsv",
        _text(HEADER.replace(",", "\t") + "u\t2024-01-01\ta\ttouch\t\tx\n"),
        "row 1 (line 2) has 6 fields",
    ),
    (
        "twice.csv",
        _text("customer_id,timestamp,channel,channel,event,value\nu1,2024-01-01,a,b,touch,\n"),
        "column 'channel' appears 2 times in the header (columns 3, 4)",
    ),
    ("twice.parquet", _duplicate_parquet, "column 'channel' appears more than once"),
    ("nameless.csv", _text(",,,,\n" + GOOD_ROWS), "column '' appears 5 times in the header"),
    ("blank.csv", _text("\n\n"), "is empty (no header row)"),
    (
        "quote-header.csv",
        _text('"customer_id,timestamp,channel,event,value\n' + GOOD_ROWS),
        "the header (line 1) opens a quoted field that is never closed",
    ),
    (
        "several.csv",  # row 3 has the first kind of fault checked, row 2 a later kind
        _text(HEADER + "u1,2024-01-01,a,touch,\nu1,yesterday,a,touch,\n,2024-01-01,a,touch,\n"),
        "cannot read the timestamp at row 2",
    ),
    (
        "several-paths.csv",
        _text("path,total_conversions\na>b,1\na>>b,2\nc,-1\n"),
        "column 'path' at row 2 has an empty path",
    ),
    ("events.xml", _text("<events/>"), "unknown format '.xml'"),
]


@pytest.mark.parametrize(("name", "write", "says"), BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_every_bad_input_file_is_one_line_naming_it(tmp_path, name, write, says):
    path = tmp_path / name
    write(path)
    assert_one_line(invoke("run", path, "-m", "first_touch"), f"'{path}'", says)


def test_a_short_row_missing_only_what_it_need_not_have_is_read(tmp_path):
    # polars reads the missing trailing value of a touch as empty: nothing is lost
    path = tmp_path / "short-touch.csv"
    path.write_text(HEADER + "u1,2024-01-01,a,touch\n" + "u1,2024-01-02,,conversion,5\n")
    result = invoke("run", path, "-m", "first_touch", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    assert "a,1" in result.stdout.replace(".0", "")


def test_a_short_row_in_one_of_many_files_names_that_file(tmp_path):
    (tmp_path / "day1.csv").write_text(HEADER + GOOD_ROWS)
    (tmp_path / "day2.csv").write_text(HEADER + "u3,2024-01-01,a,touch,\nu3,2024-01-02\n")
    assert_one_line(
        invoke("run", tmp_path, "-m", "first_touch"),
        f"'{tmp_path / 'day2.csv'}'",
        "row 2 (line 3) has 2 fields",
    )


def test_a_folder_without_data_files_is_one_line_saying_so(tmp_path):
    # a folder of daily files is an input (issue 11); one with none is an error
    folder = tmp_path / "daily.csv"
    folder.mkdir()
    (folder / "notes.md").write_text("not data\n")
    assert_one_line(invoke("run", folder), f"folder '{folder}' holds no data files")


def test_a_missing_file_is_one_line(tmp_path, sample_events):
    assert_one_line(invoke("run", tmp_path / "nope.csv"), "does not exist")
    touches = tmp_path / "touches.csv"
    touches.write_text(HEADER + "u1,2024-01-01,a,touch,\n")
    for option in ("--conversions", "--costs"):
        result = invoke("run", touches, option, tmp_path / "nope.csv")
        assert_one_line(result, f"file '{tmp_path / 'nope.csv'}' does not exist")
    result = invoke("kpis", sample_events, "--channel-kinds", tmp_path)
    # a folder is read as its files (issue 11): here one without a kind column
    assert_one_line(result, f"file '{tmp_path}': missing column(s) ['kind']")


def test_every_input_option_names_its_own_file(tmp_path, sample_events):
    touches = tmp_path / "touches.csv"
    touches.write_text(HEADER + "u1,2024-01-01,a,touch,\n")
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    for option in ("--conversions", "--costs"):
        result = invoke("run", touches, "-m", "linear", option, empty)
        assert_one_line(result, f"'{empty}' is empty")
    twice = tmp_path / "kinds.csv"
    twice.write_text("channel,kind,kind\nweb,online,online\n")
    result = invoke("kpis", sample_events, "--channel-kinds", twice)
    assert_one_line(result, f"'{twice}'", "appears 2 times")


@pytest.mark.parametrize("delimiter", ["ab", ";;", "§", '"'])
def test_a_bad_delimiter_names_the_option(sample_events, delimiter):
    result = invoke("run", sample_events, "--delimiter", delimiter)
    assert_one_line(result, "expected --delimiter to be one single-byte character")


def test_a_typed_backslash_t_is_a_tab(tmp_path):
    path = tmp_path / "e.txt"
    path.write_text((HEADER + GOOD_ROWS).replace(",", "\t"))
    result = invoke("run", path, "-m", "linear", "--delimiter", "\\t", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    assert pl.read_csv(io.StringIO(result.stdout))["conversions"].to_list() == [1.0]


@pytest.mark.parametrize("value", ["-3", "nan", "soon"])
def test_a_bad_lookback_names_the_option(sample_events, value):
    result = invoke("run", sample_events, "--lookback", value)
    assert result.exit_code == 2  # a usage error, as click gives them
    assert "Invalid value for '--lookback'" in result.stderr and value in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("blank", ["\n", "\n\n\n", "\r\n", ",,,,\n"])
def test_trailing_blank_lines_are_not_an_error(tmp_path, blank):
    clean = tmp_path / "clean.csv"
    clean.write_text(HEADER + GOOD_ROWS)
    padded = tmp_path / "padded.csv"
    padded.write_text(HEADER + GOOD_ROWS + blank)
    for path in (padded, Path(f"{padded}.gz")):
        if path.suffix == ".gz":
            path.write_bytes(gzip.compress(padded.read_bytes()))
        result = invoke("run", path, "-m", "first_touch", "--format", "csv")
        assert result.exit_code == 0, result.stderr
        assert result.stdout == invoke("run", clean, "-m", "first_touch", "--format", "csv").stdout


@pytest.mark.parametrize("zone", ["+05:30", "+01:00", "-08:00", "Asia/Kolkata"])
def test_parquet_times_in_a_fixed_offset_zone_are_read_in_utc(tmp_path, zone):
    import pyarrow as pa
    import pyarrow.parquet as pq

    instants = [
        datetime(2024, 1, 1, 12, tzinfo=timezone.utc),
        datetime(2024, 1, 2, tzinfo=timezone.utc),
    ]
    table = pa.table(
        {
            "customer_id": ["u1", "u1"],
            "timestamp": pa.array(instants, type=pa.timestamp("us", tz=zone)),
            "channel": ["a", None],
            "event": ["touch", "conversion"],
            "value": [None, 5.0],
        }
    )
    path = tmp_path / "zoned.parquet"
    pq.write_table(table, path)
    result = invoke("run", path, "-m", "first_touch", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    assert pl.read_csv(io.StringIO(result.stdout))["value"].to_list() == [5.0]

    from attribution.sources import read_events

    times = read_events(path)["time"]
    assert times.dtype == pl.Datetime("us", "UTC")
    assert times.to_list() == instants
    assert os.environ.get("POLARS_IGNORE_TIMEZONE_PARSE_ERROR") is None  # not left switched off


# -- outputs -------------------------------------------------------------------
def test_a_format_and_an_extension_that_disagree_are_one_line(tmp_path, sample_events):
    out = tmp_path / "credit.csv"
    result = invoke("run", sample_events, "-m", "linear", "--format", "parquet", "-o", out)
    assert_one_line(result, f"'{out}' is named like a csv file", "--format")
    assert not out.exists()


def test_a_fifo_nobody_reads_is_one_line_not_a_hang(tmp_path, sample_events):
    fifo = tmp_path / "credit.csv"
    os.mkfifo(fifo)
    result = invoke("run", sample_events, "-m", "linear", "-o", fifo)
    says = f"'{fifo}': it is a named pipe (FIFO) that nobody reads from"
    assert_one_line(result, says)
    assert not fifo.is_file() and fifo.is_fifo()


def test_a_missing_output_folder_is_one_line(tmp_path, sample_events):
    out = tmp_path / "nope" / "credit.csv"
    assert_one_line(invoke("run", sample_events, "-m", "linear", "-o", out), "does not exist")


def test_a_full_disk_is_one_line_and_leaves_no_temporary_file(tmp_path, sample_events, monkeypatch):
    import errno

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", full)
    out = tmp_path / "credit.parquet"
    result = invoke("run", sample_events, "-m", "linear", "-o", out)
    assert_one_line(result, f"cannot write '{out}': no space left on the device")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["run", "compare", "plot"])
def test_a_failed_write_is_the_only_line_and_a_good_one_comes_after_the_summary(
    tmp_path, sample_events, monkeypatch, command
):
    import errno

    suffix = ".svg" if command == "plot" else ".csv"
    if command == "plot":
        pytest.importorskip("matplotlib")
    out = tmp_path / f"credit{suffix}"
    result = invoke(command, sample_events, "-m", "linear", "-o", out)
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.strip().splitlines()
    assert " customers, " in lines[0] and lines[-1] == f"wrote {out}", result.stderr

    def denied(*args, **kwargs):
        raise OSError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(os, "replace", denied)
    out.unlink()
    assert_one_line(invoke(command, sample_events, "-m", "linear", "-o", out), "permission")
    assert list(tmp_path.iterdir()) == []


def test_dash_is_stdout(sample_events):
    result = invoke("run", sample_events, "-m", "linear", "--format", "csv", "-o", "-")
    assert result.exit_code == 0
    assert pl.read_csv(io.StringIO(result.stdout))["model"].unique().to_list() == ["linear"]
    assert "wrote" not in result.stderr and not Path("-").exists()


# -- the safety net ----------------------------------------------------------------
def test_an_unforeseen_error_is_one_line_that_says_it_is_a_bug(sample_events, monkeypatch):
    import attribution.cli.run as run_command

    def broken(*args, **kwargs):
        raise KeyError("surprise\nsecond line")

    monkeypatch.setattr(run_command, "attribute_inputs", broken)
    monkeypatch.delenv(TRACEBACK_VARIABLE, raising=False)
    result = invoke("run", sample_events, "-m", "linear")
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: internal error (KeyError: ")
    assert "this is a bug" in lines[0] and f"{TRACEBACK_VARIABLE}=1" in lines[0]
    # and the traceback is there for whoever reports it
    monkeypatch.setenv(TRACEBACK_VARIABLE, "1")
    with pytest.raises(KeyError, match="surprise"):
        invoke("run", sample_events, "-m", "linear")


# -- garbage and truncation ------------------------------------------------------------
def _good_file(kind: str) -> bytes:
    frame = pl.DataFrame(RECORDS * 20)
    if kind == ".parquet":
        buffer = io.BytesIO()
        frame.write_parquet(buffer)
        return buffer.getvalue()
    if kind == ".ndjson":
        return frame.write_ndjson().encode()
    text = frame.write_csv().encode()
    return gzip.compress(text, mtime=0) if kind == ".csv.gz" else text


KINDS = [".csv", ".csv.gz", ".parquet", ".ndjson"]
GOOD = {kind: _good_file(kind) for kind in KINDS}
FAST = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _ends_cleanly(tmp_path: Path, kind: str, data: bytes) -> None:
    path = tmp_path / f"input{kind}"
    path.write_bytes(data)
    result = invoke("run", path, "-m", "first_touch", "--format", "csv")
    if result.exit_code != 0:
        assert_one_line(result, str(path))


@FAST
@given(kind=st.sampled_from(KINDS), data=st.binary(max_size=300))
def test_random_bytes_are_read_or_refused_in_one_line(tmp_path, kind, data):
    _ends_cleanly(tmp_path, kind, data)


@FAST
@given(kind=st.sampled_from(KINDS), keep=st.floats(0, 1))
def test_a_good_file_cut_anywhere_is_read_or_refused_in_one_line(tmp_path, kind, keep):
    data = GOOD[kind]
    _ends_cleanly(tmp_path, kind, data[: int(len(data) * keep)])


@FAST
@given(
    kind=st.sampled_from(KINDS),
    at=st.floats(0, 1),
    junk=st.binary(min_size=1, max_size=8),
)
def test_a_good_file_with_junk_inside_is_read_or_refused_in_one_line(tmp_path, kind, at, junk):
    data = GOOD[kind]
    cut = int(len(data) * at)
    _ends_cleanly(tmp_path, kind, data[:cut] + junk + data[cut + len(junk) :])
