"""Bad input gets one clear error naming the file, the column and the row."""

from __future__ import annotations

import pytest

import attribution as at
from attribution.errors import InputError
from tests.conftest import write_csv

HEADER = "customer_id,timestamp,channel,event,value"


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
