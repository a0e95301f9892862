"""Many files as one input: a glob, a folder (hive-partitioned too) or a list."""

from __future__ import annotations

import gzip

import polars as pl
import pytest

import attribution as at
from attribution.errors import InputError
from attribution.files import expand, is_many, scan_files
from tests.conftest import write_csv

HEADER = "customer_id,timestamp,channel,event,value"
DAY1 = """u,2024-01-01,email,touch,
v,2024-01-01,search,touch,"""
DAY2 = """u,2024-01-02,,conversion,10
v,2024-01-02,display,touch,
v,2024-01-03,,conversion,4"""


def days(folder, fmt="csv"):
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, body in enumerate((DAY1, DAY2), start=1):
        path = write_csv(folder / f"events_2024010{k}.csv", f"{HEADER}\n{body}")
        if fmt != "csv":
            frame = pl.read_csv(path, schema_overrides={"value": pl.Float64})
            path.unlink()
            path = folder / f"events_2024010{k}.{fmt}"
            frame.write_parquet(path) if fmt == "parquet" else frame.write_ndjson(path)
        paths.append(path)
    return paths


def credit(journeys):
    return at.attribute(journeys, "linear").credits.sort("channel")


@pytest.fixture
def whole(tmp_path):
    return at.load_journeys(
        write_csv(tmp_path / "all.csv", f"{HEADER}\n{DAY1}\n{DAY2}"), lookback_days=None
    )


@pytest.mark.parametrize("fmt", ["csv", "parquet", "ndjson"])
def test_a_folder_is_the_concatenation_of_its_files(tmp_path, whole, fmt):
    days(tmp_path / "export", fmt)
    journeys = at.load_journeys(tmp_path / "export", lookback_days=None)
    assert journeys.total_conversions == 2 and journeys.total_value == 14
    assert credit(journeys).equals(credit(whole))


def test_a_glob_and_a_list_of_files_read_the_same(tmp_path, whole):
    paths = days(tmp_path / "export")
    by_glob = at.load_journeys(str(tmp_path / "export" / "events_*.csv"), lookback_days=None)
    by_list = at.load_journeys([str(p) for p in reversed(paths)], lookback_days=None)
    assert credit(by_glob).equals(credit(whole))
    assert credit(by_list).equals(credit(whole))


def test_gzip_and_tsv_files_in_one_folder(tmp_path, whole):
    folder = tmp_path / "export"
    folder.mkdir()
    with gzip.open(folder / "a.csv.gz", "wt") as fh:
        fh.write(f"{HEADER}\n{DAY1}\n")
    write_csv(folder / "b.csv", f"{HEADER}\n{DAY2}")
    assert credit(at.load_journeys(folder, lookback_days=None)).equals(credit(whole))


def test_hive_partitions_become_columns(tmp_path):
    for day, body in (("2024-01-01", DAY1), ("2024-01-02", DAY2)):
        part = tmp_path / "events" / f"day={day}" / "source=web"
        part.mkdir(parents=True)
        pl.read_csv(
            write_csv(tmp_path / "x.csv", f"{HEADER}\n{body}"),
            schema_overrides={"value": pl.Float64},
        ).write_parquet(part / "part-0.parquet")
    (tmp_path / "events" / "_SUCCESS").write_text("")
    (tmp_path / "events" / ".part-0.crc").write_text("")
    files = expand(tmp_path / "events")
    assert [p.name for p in files.paths] == ["part-0.parquet", "part-0.parquet"]
    frame = scan_files(files).collect()
    assert frame["day"].to_list() == ["2024-01-01"] * 2 + ["2024-01-02"] * 3
    assert set(frame["source"]) == {"web"}
    journeys = at.load_journeys(tmp_path / "events", lookback_days=None)
    assert journeys.total_value == 14


def test_a_partition_does_not_hide_a_column_of_the_same_name(tmp_path):
    part = tmp_path / "events" / "channel=web"
    part.mkdir(parents=True)
    write_csv(part / "a.csv", f"{HEADER}\n{DAY1}")
    frame = scan_files(expand(tmp_path / "events")).collect()
    assert frame["channel"].to_list() == ["email", "search"]


def test_parquet_files_may_lack_a_column_the_first_has(tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    pl.DataFrame(
        {"customer_id": ["u"], "timestamp": ["2024-01-01"], "channel": ["a"]}
    ).write_parquet(folder / "a.parquet")
    pl.DataFrame(
        {"customer_id": ["u"], "timestamp": ["2024-01-02"], "event": ["conversion"]}
    ).write_parquet(folder / "b.parquet")
    frame = scan_files(expand(folder)).collect()
    assert frame["channel"].to_list() == ["a", None]


def test_bad_rows_name_the_file_and_its_row(tmp_path):
    folder = tmp_path / "export"
    days(folder)
    write_csv(folder / "events_20240103.csv", f"{HEADER}\nw,2024-01-04,a,touch,\nw,soon,a,touch,")
    with pytest.raises(InputError) as err:
        at.load_journeys(folder)
    message = str(err.value)
    assert message.startswith(f"3 files '{folder}'")
    assert "cannot read the timestamp at row 7 ('soon')" in message
    assert f"(file '{folder / 'events_20240103.csv'}', row 2)" in message


@pytest.mark.parametrize(
    ("make", "pattern"),
    [
        (lambda p: p / "empty", "holds no data files"),
        (lambda p: str(p / "nothing_*.csv"), "no data files match"),
        (lambda p: p / "missing.csv", "does not exist"),
    ],
)
def test_nothing_to_read_says_so(tmp_path, make, pattern):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=pattern):
        at.load_journeys(make(tmp_path))


def test_files_of_different_formats_are_refused(tmp_path):
    paths = days(tmp_path / "a")
    parquet = days(tmp_path / "b", "parquet")
    with pytest.raises(InputError, match=r"different formats: csv .* parquet"):
        at.load_journeys([paths[0], parquet[0]])


def test_one_file_is_not_many(tmp_path, sample_events):
    assert not is_many(sample_events)
    assert is_many(tmp_path) and is_many([sample_events]) and is_many(str(tmp_path / "*.csv"))
    assert not is_many(pl.DataFrame({"a": [1]}))
