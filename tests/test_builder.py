"""The path builder's rules, input formats and the conversion accounts."""

from __future__ import annotations

import gzip
from datetime import datetime, timezone

import numpy as np
import polars as pl
import pytest

import attribution as at
from attribution.io import EventColumns
from tests.conftest import write_csv


def paths_of(j: at.Journeys) -> list[tuple[list[str], float, float]]:
    out = []
    for r in range(j.n_rows):
        codes = j.codes[j.offsets[r] : j.offsets[r + 1]]
        out.append(([j.channels[c] for c in codes], j.conversions[r], j.value[r]))
    return out


def events(rows):
    return pl.DataFrame(
        rows, schema=["customer_id", "timestamp", "channel", "event", "value"], orient="row"
    )


def build(rows, **kw):
    return at.build_journeys(at.read_events(events(rows)), **kw)


def test_each_conversion_closes_a_journey_and_the_rest_is_null():
    j = build(
        [
            ("u", "2024-01-01", "a", "touch", None),
            ("u", "2024-01-02", "b", "touch", None),
            ("u", "2024-01-03", None, "conversion", 10.0),
            ("u", "2024-01-04", "c", "touch", None),
            ("u", "2024-01-05", None, "conversion", 5.0),
            ("u", "2024-01-06", "d", "touch", None),
            ("u", "2024-01-07", "a", "touch", None),
        ]
    )
    assert paths_of(j) == [(["a", "b"], 1, 10), (["c"], 1, 5), (["d", "a"], 0, 0)]
    assert j.nulls.tolist() == [0, 0, 1]
    assert j.days_before.tolist() == [2, 1, 1, 1, 0]


def test_touch_at_the_same_instant_as_the_conversion_comes_before_it():
    j = build(
        [
            ("u", "2024-01-01T10:00:00", None, "conversion", 1.0),
            ("u", "2024-01-01T10:00:00", "a", "touch", None),
        ]
    )
    assert paths_of(j) == [(["a"], 1, 1)]


def test_lookback_drops_old_touches_and_counts_unattributed():
    j = build(
        [
            ("u", "2024-01-01", "a", "touch", None),
            ("u", "2024-01-10", "b", "touch", None),
            ("u", "2024-01-31", None, "conversion", 3.0),
            ("v", "2024-01-01", "a", "touch", None),
            ("v", "2024-03-01", None, "conversion", 7.0),
        ],
        lookback_days=21,
    )
    assert paths_of(j) == [(["b"], 1, 3)]
    assert j.unattributed == at.journeys.Unattributed(1.0, 7.0, customers=1)  # v: no journey


def test_lookback_limit_is_inclusive_and_none_means_no_limit():
    rows = [("u", "2024-01-01", "a", "touch", None), ("u", "2024-01-31", None, "conversion", 1.0)]
    assert build(rows, lookback_days=30).n_rows == 1
    assert build(rows, lookback_days=29.9).n_rows == 0
    assert build(rows, lookback_days=None).n_rows == 1


def test_null_journey_window_counts_back_from_its_last_touch():
    j = build(
        [("u", "2024-01-01", "a", "touch", None), ("u", "2024-03-01", "b", "touch", None)],
        lookback_days=30,
    )
    assert paths_of(j) == [(["b"], 0, 0)]


def test_conversion_without_any_touch_is_unattributed_not_dropped():
    j = build(
        [
            ("u", "2024-01-01", None, "conversion", 4.0),
            ("u", "2024-01-02", "a", "touch", None),
            ("u", "2024-01-03", None, "conversion", 6.0),
            ("u", "2024-01-03", None, "conversion", 2.0),  # second one, same instant
        ]
    )
    assert j.total_conversions == 1 and j.total_value in (6.0, 2.0)
    assert j.unattributed.conversions == 2
    assert j.total_value + j.unattributed.value == 12.0


def test_collapse_repeats_keeps_the_latest_touch_of_a_run():
    j = build(
        [
            ("u", "2024-01-01", "a", "touch", None),
            ("u", "2024-01-02", "a", "touch", None),
            ("u", "2024-01-03", "b", "touch", None),
            ("u", "2024-01-04", "a", "touch", None),
            ("u", "2024-01-05", None, "conversion", 1.0),
        ],
        collapse_repeats=True,
    )
    assert paths_of(j) == [(["a", "b", "a"], 1, 1)]
    assert j.days_before.tolist() == [3, 2, 1]


def test_max_touches_keeps_the_last_n():
    j = build(
        [("u", f"2024-01-0{d}", c, "touch", None) for d, c in zip(range(1, 5), "abcd", strict=True)]
        + [("u", "2024-01-09", None, "conversion", 1.0)],
        max_touches=2,
    )
    assert paths_of(j) == [(["c", "d"], 1, 1)]


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
    with pytest.raises(at.InputError, match="--time-unit"):
        at.load_journeys(frame)


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


def test_conversions_from_a_separate_file(tmp_path):
    touches = write_csv(
        tmp_path / "t.csv",
        """customer_id,timestamp,channel
        1,2024-01-01,a
        1,2024-01-02,b
        2,2024-01-01,c""",
    )
    conv = write_csv(
        tmp_path / "c.csv",
        """customer_id,timestamp,value
        1,2024-01-03,10
        2,2024-01-05,4""",
    )
    j = at.load_journeys(touches, conversions=conv)
    assert paths_of(j) == [(["a", "b"], 1, 10), (["c"], 1, 4)]


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


def test_paths_table_round_trips_through_to_paths_table(sample_events, tmp_path):
    j = at.load_journeys(sample_events)
    out = tmp_path / "p.csv"
    j.to_paths_table().write_csv(out)
    back = at.load_journeys(out)
    assert back.total_conversions == j.total_conversions
    assert back.total_value == pytest.approx(j.total_value)
    assert back.total_nulls == j.total_nulls
    a = at.attribute(j.drop_times(), ["linear"]).credits
    b = at.attribute(back, ["linear"]).credits
    assert a["conversions"].to_list() == pytest.approx(b["conversions"].to_list())


def test_aggregate_sums_identical_paths():
    j = at.Journeys.from_paths([["a", "b"], ["b"], ["a", "b"]], [1, 0, 0], [5, 0, 0], [0, 1, 1])
    agg = j.aggregate()
    assert paths_of(agg) == [(["b"], 0, 0), (["a", "b"], 1, 5)]
    assert agg.nulls.tolist() == [1, 1]


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
