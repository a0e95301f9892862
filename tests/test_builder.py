"""The path builder's rules and the conversion accounts, by example and by property
(reading the input: test_sources.py)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import attribution as at
from tests.conftest import paths_of, write_csv


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


event_rows = st.lists(
    st.tuples(
        st.integers(0, 4),  # customer
        st.integers(0, 60 * 24 * 90),  # minutes
        st.sampled_from(["a", "b", "c", "d", None]),  # channel, None = conversion
        st.floats(0, 500, allow_nan=False),
    ),
    min_size=1,
    max_size=40,
)


def _frame(rows):
    return pl.DataFrame(
        {
            "customer_id": [f"u{r[0]}" for r in rows],
            "timestamp": [r[1] * 60_000_000 for r in rows],
            "channel": [r[2] for r in rows],
            "event": ["conversion" if r[2] is None else "touch" for r in rows],
            "value": [r[3] if r[2] is None else None for r in rows],
        }
    ).with_columns(pl.col("timestamp").cast(pl.Datetime("us")))


@settings(max_examples=80, deadline=None)
@given(
    rows=event_rows,
    lookback=st.sampled_from([None, 1.0, 7.0, 30.0]),
    collapse=st.booleans(),
    max_touches=st.sampled_from([None, 1, 3]),
)
def test_builder_keeps_every_conversion(rows, lookback, collapse, max_touches):
    frame = _frame(rows)
    j = at.build_journeys(
        at.read_events(frame),
        lookback_days=lookback,
        collapse_repeats=collapse,
        max_touches=max_touches,
    )
    n_conv = sum(r[2] is None for r in rows)
    value = sum(r[3] for r in rows if r[2] is None)
    assert j.total_conversions + j.unattributed.conversions == n_conv
    assert j.total_value + j.unattributed.value == pytest.approx(value)
    assert (j.lengths >= 1).all()
    if j.has_times and lookback is not None and j.n_touches:
        assert j.days_before.max() <= lookback


@settings(max_examples=60, deadline=None)
@given(rows=event_rows, seed=st.integers(0, 1000))
def test_builder_ignores_input_row_order(rows, seed):
    frame = _frame(rows)
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=seed)
    a = at.build_journeys(at.read_events(frame))
    b = at.build_journeys(at.read_events(shuffled))
    assert np.array_equal(a.codes, b.codes) and np.array_equal(a.offsets, b.offsets)
    assert np.array_equal(a.value, b.value) and np.array_equal(a.days_before, b.days_before)
