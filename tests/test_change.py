"""Each channel's credit against a baseline model: differences, percentages, invariants."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings

from attribution.api import attribute
from attribution.change import CHANGE_COLUMNS, baseline_run, credit_change
from attribution.errors import InputError
from attribution.testing.strategies import journeys as journeys_strategy


def test_change_is_the_difference_and_its_share_of_the_baseline(sample_events):
    from attribution.builder import load_journeys

    result = attribute(load_journeys(sample_events), ["linear", "first_touch", "last_touch"])
    change = credit_change(result.credits, "last_touch")
    assert change.columns == list(CHANGE_COLUMNS)
    assert change["model"].unique(maintain_order=True).to_list() == ["linear", "first_touch"]
    row = change.filter((pl.col("model") == "first_touch") & (pl.col("channel") == "display"))
    credits = result.credits
    first = credits.filter((pl.col("model") == "first_touch") & (pl.col("channel") == "display"))
    last = credits.filter((pl.col("model") == "last_touch") & (pl.col("channel") == "display"))
    a, b = first["conversions"].item(), last["conversions"].item()
    assert row["conversions_change"].item() == pytest.approx(a - b)
    assert row["conversions_change_pct"].item() == pytest.approx((a - b) / b)


def test_a_channel_the_baseline_does_not_credit_has_no_percentage():
    credits = pl.DataFrame(
        {
            "model": ["base", "base", "m", "m"],
            "channel": ["a", "b", "a", "b"],
            "conversions": [2.0, 0.0, 1.0, 1.0],
            "value": [20.0, 0.0, 10.0, 10.0],
        }
    )
    change = credit_change(credits, "base").sort("channel")
    assert change["conversions_change"].to_list() == [-1.0, 1.0]
    assert change["conversions_change_pct"].to_list() == [-0.5, None]
    with pytest.raises(InputError, match="baseline model 'nope' is not in the credit table"):
        credit_change(credits, "nope")


@settings(max_examples=30, deadline=None)
@given(j=journeys_strategy())
def test_changes_add_up_to_nothing_and_row_order_does_not_matter(j):
    result = attribute(j, ["linear", "last_touch", "position_based"])
    change = credit_change(result.credits, "last_touch")
    for _, group in change.group_by("model"):
        assert group["conversions_change"].sum() == pytest.approx(0.0, abs=1e-6)
        assert group["value_change"].sum() == pytest.approx(0.0, abs=1e-6)
    shuffled = credit_change(result.credits.reverse(), "last_touch")
    key = ["model", "channel"]
    assert shuffled.sort(key).equals(change.sort(key))


def test_baseline_run_reuses_a_model_already_run_or_runs_it_alone(sample_events):
    from attribution.builder import load_journeys

    result = attribute(load_journeys(sample_events), ["linear", "last_touch"])
    assert baseline_run(result, "last_touch") == ("last_touch", None)
    run, why = baseline_run(result, "first_touch")
    assert why is None and run.label == "first_touch" and run.credits.height == 8
    none, why = baseline_run(result, "not_a_model")
    assert none is None and "unknown model 'not_a_model'" in why
