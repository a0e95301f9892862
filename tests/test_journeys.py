"""The columnar Journeys container: aggregation and the paths-table round trip."""

from __future__ import annotations

import pytest

import attribution as at
from tests.conftest import paths_of


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
