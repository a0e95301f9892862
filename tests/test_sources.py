"""Reading events and paths: every file format and timestamp shape, and bad input
named by file, column and row."""

from __future__ import annotations

import gzip
import os
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import attribution as at
from attribution.errors import InputError
from attribution.sources import READERS, EventColumns, describe, require_columns
from tests.conftest import paths_of, write_csv

HEADER = "customer_id,timestamp,channel,event,value"


def events(rows):
    return pl.DataFrame(
        rows, schema=["customer_id", "timestamp", "channel", "event", "value"], orient="row"
    )


def build(rows, **kw):
    return at.build_journeys(at.read_events(events(rows)), **kw)


def load(tmp_path, body, name="e.csv", **kw):
    return at.load_journeys(write_csv(tmp_path / name, HEADER + "\n" + body), **kw)


@pytest.mark.parametrize(
    ("body", "pattern"),
    [
        ("u,2024-01-01,a,touch,\n,2024-01-02,a,touch,", r"column 'customer_id' is empty at row 2"),
        ("u,2024-01-01,a,touch,\nu,,a,touch,", r"column 'timestamp' is empty at row 2"),
        (
            "u,2024-01-01,a,touch,\nu,yesterday,a,touch,",
            r"column 'timestamp': cannot read the timestamp at row 2 \('yesterday'\)",
        ),
        ("u,2024-01-01,,touch,", r"column 'channel': the touch at row 1 has no channel"),
        (
            "u,2024-01-01,a,touch,\nu,2024-01-02,,conversion,-5",
            r"column 'value': the conversion at row 2 has value -5.0",
        ),
        (
            "u,2024-01-01,a,touch,\nu,2024-01-02,,conversion,inf",
            r"column 'value': the conversion at row 2 has value inf",
        ),
        (
            "u,2024-01-01,a,touch,\nu,2024-01-02,,conversion,lots",
            r"column 'value': cannot read the value at row 2 \('lots'\)",
        ),
        (
            "u,2024-01-01,a,touch,\nu,2024-01-02,,conversion,",
            r"column 'value': the conversion at row 2 has no value",
        ),
    ],
)
def test_bad_rows_are_named(tmp_path, body, pattern):
    with pytest.raises(InputError, match=pattern) as err:
        load(tmp_path, body)
    assert "e.csv" in str(err.value)


def test_missing_column_lists_the_columns_found(tmp_path):
    path = write_csv(tmp_path / "e.csv", "customer_id,when,channel,event\nu,2024-01-01,a,touch")
    with pytest.raises(InputError, match=r"missing time column 'timestamp'.*'when'"):
        at.load_journeys(path)


def test_conversion_rows_need_no_channel(tmp_path):
    j = load(tmp_path, "u,2024-01-01,a,touch,\nu,2024-01-02,,conversion,3")
    assert j.total_value == 3


def test_empty_input_says_so(tmp_path):
    with pytest.raises(InputError, match="no events"):
        load(tmp_path, "")


def test_missing_file_and_unknown_format(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        at.load_journeys(tmp_path / "nope.csv")
    (tmp_path / "x.xlsx").write_text("")
    with pytest.raises(InputError, match=r"unknown format '\.xlsx'"):
        at.load_journeys(tmp_path / "x.xlsx")


def test_bad_paths_table_rows_are_named(tmp_path):
    path = write_csv(tmp_path / "p.csv", "path,total_conversions\na>b,1\na>>b,2")
    with pytest.raises(InputError, match="column 'path' at row 2 has an empty path or channel"):
        at.load_journeys(path)
    path = write_csv(tmp_path / "q.csv", "path,total_conversions\na>b,-1")
    with pytest.raises(InputError, match="column 'total_conversions' at row 1"):
        at.load_journeys(path)


def test_missing_value_column_makes_every_conversion_worth_one():
    frame = events(
        [("u", "2024-01-01", "a", "touch", None), ("u", "2024-01-02", None, "conversion", 9.0)]
    ).drop("value")
    j = at.load_journeys(frame)
    assert j.total_value == 1.0


def test_timestamps_with_and_without_zones_are_compared_in_utc():
    # 12:00+02:00 is 10:00 UTC, so it comes before the 11:00 (naive = UTC) touch.
    j = build(
        [
            ("u", "2024-01-01T11:00:00", "late", "touch", None),
            ("u", "2024-01-01T12:00:00+02:00", "early", "touch", None),
            ("u", "2024-01-01T12:00:00Z", None, "conversion", 1.0),
        ]
    )
    assert paths_of(j)[0][0] == ["early", "late"]


def test_epoch_numbers_with_a_unit():
    base = int(datetime(2024, 1, 1, tzinfo=timezone.utc).timestamp())
    frame = pl.DataFrame(
        {
            "customer_id": [1, 1],
            "timestamp": [base * 1000, (base + 86400) * 1000],
            "channel": ["a", None],
            "event": ["touch", "conversion"],
            "value": [None, 2.0],
        }
    )
    j = at.load_journeys(frame, time_unit="ms")
    assert j.days_before.tolist() == [1.0]
    with pytest.raises(at.InputError, match="state their epoch unit with time_unit") as err:
        at.load_journeys(frame)
    assert err.value.setting == "time_unit"


def test_datetime_columns_and_renamed_columns():
    frame = pl.DataFrame(
        {
            "uid": ["x", "x"],
            "ts": [datetime(2024, 1, 1), datetime(2024, 1, 3)],
            "src": ["a", None],
            "kind": ["view", "purchase"],
            "revenue": [None, 5.0],
        }
    )
    cols = EventColumns(customer="uid", time="ts", channel="src", event="kind", value="revenue")
    j = at.load_journeys(frame, columns=cols, conversion_event="purchase")
    assert paths_of(j) == [(["a"], 1, 5)]


@pytest.mark.parametrize("fmt", ["csv", "csv.gz", "parquet", "ndjson"])
def test_every_file_format_gives_the_same_journeys(tmp_path, fmt, sample_events):
    frame = pl.read_csv(sample_events)
    path = tmp_path / f"events.{fmt}"
    if fmt == "csv":
        frame.write_csv(path)
    elif fmt == "csv.gz":
        path.write_bytes(gzip.compress(frame.write_csv().encode()))
    elif fmt == "parquet":
        frame.write_parquet(path)
    else:
        frame.write_ndjson(path)
    j = at.load_journeys(path)
    ref = at.load_journeys(sample_events)
    assert np.array_equal(j.codes, ref.codes) and np.array_equal(j.value, ref.value)


def test_pandas_frames_are_accepted():
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    frame = pd.DataFrame(
        {
            "customer_id": ["u", "u"],
            "timestamp": ["2024-01-01", "2024-01-02"],
            "channel": ["a", None],
            "event": ["touch", "conversion"],
            "value": [None, 3.0],
        }
    )
    assert paths_of(at.load_journeys(frame)) == [(["a"], 1, 3)]


def test_paths_table_is_detected_and_read(tmp_path):
    path = write_csv(
        tmp_path / "paths.csv",
        """path;total_conversions;total_conversion_value;total_null
        a > b;2;20;1
        b;0;0;3""",
    )
    j = at.load_journeys(path, delimiter=";")
    assert not j.has_times
    assert paths_of(j) == [(["a", "b"], 2, 20), (["b"], 0, 0)]
    assert j.nulls.tolist() == [1, 3]


def test_csv_columns_are_not_inferred_from_the_first_rows_only(tmp_path):
    # The first 10,000 rows look like integer ids and integer values; later
    # rows have a text id, an id with a leading zero and a decimal value.
    rows = []
    for i in range(1, 5001):
        rows += [f"{i},2024-01-01,a,touch,", f"{i},2024-01-02,,conversion,12"]
    rows += ["A17,2024-01-01,b,touch,", "A17,2024-01-02,,conversion,12.5"]
    rows += ["07,2024-01-01,b,touch,", "07,2024-01-03,,conversion,1"]  # not customer 7
    text = "customer_id,timestamp,channel,event,value\n" + "\n".join(rows)
    path = write_csv(tmp_path / "e.csv", text)
    j = at.load_journeys(path)
    assert j.total_conversions == 5002 and j.total_value == 5000 * 12 + 12.5 + 1
    assert j.n_rows == 5002


def test_every_reader_of_the_table_reads_the_same_events(tmp_path, sample_events):
    frame = pl.read_csv(sample_events).head(200)
    writers = {
        ".csv": frame.write_csv,
        ".txt": frame.write_csv,
        ".tsv": lambda p: frame.write_csv(p, separator="\t"),
        ".parquet": frame.write_parquet,
        ".pq": frame.write_parquet,
        ".ndjson": frame.write_ndjson,
        ".jsonl": frame.write_ndjson,
        ".json": frame.write_json,  # an array of records
    }
    assert set(writers) == set(READERS)  # a new reader gets a case here
    expected = at.read_events(frame)
    for ext, write in writers.items():
        path = tmp_path / f"events{ext}"
        write(path)
        got = at.read_events(path)
        assert got["customer"].cast(pl.String).equals(expected["customer"].cast(pl.String)), ext
        assert got["time"].equals(expected["time"]) and got["value"].equals(expected["value"])


def test_only_csv_may_be_gzip_compressed(tmp_path):
    (tmp_path / "e.parquet.gz").write_bytes(gzip.compress(b"x"))
    with pytest.raises(InputError, match="only CSV files may be gzip-compressed"):
        at.read_events(tmp_path / "e.parquet.gz")


def test_the_time_unit_error_names_the_setting_not_a_flag():
    frame = pl.DataFrame({"customer_id": [1], "timestamp": [1_700_000_000], "channel": ["a"]})
    with pytest.raises(InputError) as err:
        at.read_events(frame, conversion_event=None)
    assert err.value.setting == "time_unit" and "--" not in str(err.value)
    assert describe(frame) == "input frame" and describe(Path("e.csv")) == "file 'e.csv'"


def test_require_columns_names_the_role_and_lists_what_was_found():
    with pytest.raises(InputError, match=r"x: missing cost column 'cost'; columns found: \['c'\]"):
        require_columns(["c"], {"channel": "c", "cost": "cost"}, "x")


# -- frames in the Python API -------------------------------------------------------
class _Thing:
    pass


def _pandas_cases():
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    base = {
        "customer_id": ["u", "u"],
        "timestamp": ["2024-01-01", "2024-01-02"],
        "channel": ["a", None],
        "event": ["touch", "conversion"],
        "value": [None, 3.0],
    }
    twice = pd.DataFrame(base)
    twice.columns = ["customer_id", "timestamp", "channel", "channel", "value"]
    return [
        (twice, r"input frame: column 'channel' appears 2 times; column names must be unique"),
        (
            pd.DataFrame({**base, "customer_id": pd.Series([1, "u"], dtype=object)}),
            r"input frame: column 'customer_id' \(pandas dtype object\) cannot be converted: "
            r".*; give it one type, e\.g\. frame\['customer_id'\]\.astype\(str\)",
        ),
        (
            pd.DataFrame({**base, "channel": pd.Series([_Thing(), _Thing()], dtype=object)}),
            r"input frame: column 'channel' \(pandas dtype object\) cannot be converted",
        ),
    ]


def test_bad_pandas_frames_raise_our_error_naming_the_column():
    for frame, pattern in _pandas_cases():
        with pytest.raises(InputError, match=pattern) as err:
            at.load_journeys(frame)
        assert "\n" not in str(err.value)


@pytest.mark.parametrize("lazy", [False, True])
def test_polars_frames_of_python_objects_raise_our_error_naming_the_column(lazy):
    frame = events([("u", "2024-01-01", "a", "touch", None)]).with_columns(
        pl.Series("channel", [_Thing()], dtype=pl.Object)
    )
    with pytest.raises(InputError, match=r"input frame: column 'channel' holds Python objects"):
        at.load_journeys(frame.lazy() if lazy else frame)


# -- delimiters, folders, files ------------------------------------------------------
def test_a_delimiter_is_one_byte_and_tab_may_be_spelt_out(tmp_path):
    from attribution.sources import check_delimiter

    assert check_delimiter(None) is None and check_delimiter(";") == ";"
    assert check_delimiter("\\t") == check_delimiter("tab") == check_delimiter("\t") == "\t"
    for bad in ("ab", "", "§", '"', "\n"):
        with pytest.raises(InputError, match="one single-byte character") as err:
            check_delimiter(bad)
        assert err.value.setting == "delimiter" and "--" not in str(err.value)
    path = write_csv(tmp_path / "e.csv", HEADER + "\nu,2024-01-01,a,touch,")
    with pytest.raises(InputError, match="expected delimiter to be"):
        at.load_journeys(path, delimiter=";;")


def test_a_folder_is_one_file_only_to_data_file_and_else_its_files(tmp_path):
    from attribution.sources import data_file

    (tmp_path / "daily").mkdir()
    with pytest.raises(InputError, match=r"file '.*daily' is a folder; expected one data file"):
        data_file(tmp_path / "daily")
    # the readers take a folder as its data files (issue 11); this one has none
    for call in (at.read_events, at.load_journeys):
        with pytest.raises(InputError, match=r"folder '.*daily' holds no data files"):
            call(tmp_path / "daily")


def test_a_fifo_as_input_is_refused_not_waited_on(tmp_path):
    fifo = tmp_path / "e.csv"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="is not a regular file"):
        at.read_events(fifo)


# -- the first bad row, blank lines -------------------------------------------------
@pytest.mark.parametrize(
    ("rows", "pattern"),
    [
        # one fault per row, of kinds checked in the opposite order to the rows
        (
            "u,2024-01-01,a,touch,\nu,2024-01-02,,conversion,-1\nu,yesterday,a,touch,\n"
            ",2024-01-01,a,touch,",
            r"column 'value': the conversion at row 2 has value -1\.0",
        ),
        (
            "u,2024-01-01,,touch,\n,2024-01-01,a,touch,",
            r"column 'channel': the touch at row 1 has no channel",
        ),
        # two faults in one row: the first kind checked is named
        (",never,a,touch,", r"column 'customer_id' is empty at row 1"),
    ],
)
def test_the_first_bad_row_is_named_whatever_its_fault(tmp_path, rows, pattern):
    with pytest.raises(InputError, match=pattern):
        load(tmp_path, rows)


def test_the_first_bad_row_of_a_paths_table_is_named_whatever_its_fault(tmp_path):
    path = write_csv(
        tmp_path / "p.csv", "path,total_conversions,total_null\na>b,1,0\nc,1,-2\n>a,1,0"
    )
    with pytest.raises(InputError, match=r"column 'total_null' at row 2 is not a finite"):
        at.load_journeys(path)


def test_first_failure_takes_the_smallest_row_then_the_first_check():
    from attribution.sources import first_failure

    frame = pl.DataFrame({"_row": [1, 2, 3], "x": [0, 5, -1], "y": [None, "b", None]})
    checks = [pl.col("x") < 0, pl.col("y").is_null(), pl.col("x") > 4]
    assert first_failure(frame, checks) == (1, 1)
    assert first_failure(frame, [checks[0], checks[2]]) == (2, 1)
    assert first_failure(frame, [pl.col("x") > 9]) is None
    assert first_failure(frame, []) is None


def test_blank_lines_at_the_end_are_ignored_and_rows_keep_their_numbers(tmp_path):
    from attribution.sources import read_frame

    body = "u,2024-01-01,a,touch,\nu,2024-01-02,,conversion,3\n"
    path = tmp_path / "e.csv"
    # a blank line up top is still a row (and an error, naming it); the ones at the end are not
    path.write_text(HEADER + "\n\n" + body + "\n\n")
    with pytest.raises(InputError, match=r"column 'customer_id' is empty at row 1"):
        at.read_events(path)
    assert read_frame(path).height == 3  # the blank first row, and the two events
    path.write_text(HEADER + "\n" + body + "u,2024-01-03,,conversion,x\n\n\n")
    with pytest.raises(InputError, match=r"cannot read the value at row 3 \('x'\)"):
        at.read_events(path)
    # a space is a value: that row is not blank, so the blank row before it stays
    path.write_text(HEADER + "\n" + body + "\n \n")
    with pytest.raises(InputError, match=r"column 'customer_id' is empty at row 3"):
        at.read_events(path)
    path.write_text(HEADER + "\n\n\n")
    assert read_frame(path).height == 0


# -- reading errors, one line each --------------------------------------------------
def test_polars_messages_lose_their_hints_and_plans():
    from attribution.sources import polars_message

    exc = pl.exceptions.ComputeError(
        "found more fields than defined in 'Schema'\n\n"
        "Consider setting 'truncate_ragged_lines=True'."
    )
    assert polars_message(exc) == "found more fields than defined in 'Schema'"
    assert polars_message(pl.exceptions.ComputeError("")) == "ComputeError"
    wrapped = pl.exceptions.ComputeError("\nOriginal error: ```invalid csv file\n\nField x```")
    assert polars_message(wrapped) == "invalid csv file"


def test_rows_and_lines_are_told_apart_when_a_quoted_field_spans_lines(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text(HEADER + '\nu,2024-01-01,"two\nlines",touch,\nu,2024-01-02,b,touch,,extra\n')
    with pytest.raises(InputError, match=r"row 2 \(line 4\) has 6 fields; the header has 5"):
        at.read_events(path)


def test_a_damaged_file_is_named_by_every_reader(tmp_path):
    from attribution.costs import read_costs
    from attribution.kpis import read_channel_kinds

    readers = {
        "events.csv": (
            at.read_events,
            HEADER + "\nu,2024-01-01,a,touch,\nu,2024-01-01,café,touch,",
        ),
        "paths.csv": (at.read_paths, "path,total_conversions\na,1\ncafé,1"),
        "costs.csv": (read_costs, "channel,cost\na,1\ncafé,1"),
        "kinds.csv": (read_channel_kinds, "channel,kind\na,online\ncafé,online"),
    }
    for name, (read, text) in readers.items():
        path = tmp_path / name
        path.write_bytes(text.encode("latin-1"))
        with pytest.raises(InputError, match=rf"{name}': row 2 \(line 3\) is not UTF-8"):
            read(path)


def test_an_unreadable_file_says_so(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root reads every file")
    path = write_csv(tmp_path / "e.csv", HEADER + "u,2024-01-01,a,touch,")
    path.chmod(0)
    with pytest.raises(InputError, match="cannot be read: permission denied"):
        at.read_events(path)
