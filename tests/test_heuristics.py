"""Heuristic models against published worked examples and their own rules."""

from __future__ import annotations

import numpy as np
import pytest

import attribution as at
from attribution.errors import ModelError, NeedsTimesError
from attribution.journeys import Journeys
from attribution.models import PositionBased, TimeDecay


def credit(journeys, spec, measure="conversions"):
    frame = at.attribute(journeys, [spec]).credits
    return dict(zip(frame["channel"], frame[measure], strict=True))


def test_time_decay_touches_15_8_1_days_before_get_1_2_4_sevenths():
    j = Journeys.from_paths([["a", "b", "c"]], [1], days_before=[[15, 8, 1]])
    got = credit(j, "time_decay")
    assert got == pytest.approx({"a": 1 / 7, "b": 2 / 7, "c": 4 / 7})


FIVE = Journeys.from_paths([list("abcde")], [1], [12000], days_before=[[38, 33, 26, 8, 0]])


def test_time_decay_12000_conversion_published_split():
    got = credit(FIVE, "time_decay", "value")
    expected = [175.2, 287.4, 574.9, 3417.0, 7545.4]
    assert [got[c] for c in "abcde"] == pytest.approx(expected, abs=0.05)


def test_position_based_12000_conversion_gives_4800_and_800():
    got = credit(FIVE, "position_based", "value")
    assert [got[c] for c in "abcde"] == pytest.approx([4800, 800, 800, 800, 4800])


def test_linear_12000_conversion_gives_2400_each():
    assert list(credit(FIVE, "linear", "value").values()) == pytest.approx([2400] * 5)


def test_first_and_last_touch_take_the_ends():
    j = Journeys.from_paths([["a", "b", "c"], ["c", "b"]], [1, 2], [10, 30])
    assert credit(j, "first_touch", "value") == {"a": 10, "b": 0, "c": 30}
    assert credit(j, "last_touch", "value") == {"a": 0, "b": 30, "c": 10}


def test_credit_is_per_touch_so_a_repeated_channel_gets_two_shares():
    j = Journeys.from_paths([["a", "b", "a"]], [1])
    assert credit(j, "linear") == pytest.approx({"a": 2 / 3, "b": 1 / 3})


def test_position_based_two_touches_split_first_over_first_plus_last():
    j = Journeys.from_paths([["a", "b"]], [1])
    assert credit(j, "position_based:first=0.3,last=0.5") == pytest.approx({"a": 0.375, "b": 0.625})
    assert credit(j, "position_based:first=0,last=0") == pytest.approx({"a": 0.5, "b": 0.5})


def test_position_based_one_touch_gets_everything():
    j = Journeys.from_paths([["a"]], [1])
    assert credit(j, "position_based") == {"a": 1.0}


def test_position_based_middle_shares_the_rest_equally():
    j = Journeys.from_paths([list("abcd")], [1])
    got = credit(j, "position_based:first=0.5,last=0.3")
    assert [got[c] for c in "abcd"] == pytest.approx([0.5, 0.1, 0.1, 0.3])


def test_position_based_rejects_shares_above_one():
    j = Journeys.from_paths([["a", "b"]], [1])
    with pytest.raises(ModelError, match="at most 1"):
        at.attribute(j, [PositionBased(first=0.7, last=0.5)])


def test_time_decay_half_life_changes_the_split():
    j = Journeys.from_paths([["a", "b"]], [1], days_before=[[2, 0]])
    got = credit(j, "time_decay:half_life_days=2")
    assert got == pytest.approx({"a": 1 / 3, "b": 2 / 3})


def test_time_decay_old_journeys_do_not_underflow():
    j = Journeys.from_paths([["a", "b"]], [1], days_before=[[100_000, 99_993]])
    got = credit(j, "time_decay")
    assert got == pytest.approx({"a": 1 / 3, "b": 2 / 3})


def test_time_decay_needs_times_and_says_so():
    j = Journeys.from_paths([["a", "b"]], [1])
    with pytest.raises(NeedsTimesError, match="needs touch times"):
        at.attribute(j, ["time_decay"])


def test_time_decay_rejects_non_positive_half_life():
    j = Journeys.from_paths([["a"]], [1], days_before=[[0]])
    with pytest.raises(ModelError, match="half_life_days"):
        at.attribute(j, [TimeDecay(half_life_days=0)])


def test_all_models_skip_time_decay_on_paths_without_times():
    j = Journeys.from_paths([["a", "b"]], [1])
    result = at.attribute(j)
    labels = {run.label for run in result.runs}
    assert "time_decay" not in labels and "linear" in labels
    assert result.skipped[0][0] == "time_decay"


def test_same_model_twice_with_different_parameters_runs_side_by_side():
    j = Journeys.from_paths([["a", "b"]], [1], days_before=[[7, 0]])
    result = at.attribute(j, ["time_decay", "time_decay:half_life_days=1", "time_decay"])
    assert [r.label for r in result.runs] == [
        "time_decay",
        "time_decay:half_life_days=1",
        "time_decay#2",
    ]
    wide = result.wide()
    assert wide["time_decay"].to_list() == pytest.approx([1 / 3, 2 / 3])
    assert wide["time_decay:half_life_days=1"][0] == pytest.approx(1 / 129)


def test_share_is_conversions_over_model_total():
    j = Journeys.from_paths([["a", "b"], ["b"]], [1, 1])
    frame = at.attribute(j, ["linear"]).credits
    assert frame["share"].to_list() == pytest.approx([0.25, 0.75])
    assert np.isclose(frame["share"].sum(), 1.0)
