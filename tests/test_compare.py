"""Models side by side: channels x models for a measure, with min, max and spread."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attribution.api import attribute
from attribution.compare import MEASURES, compare
from attribution.costs import TOTAL, join_costs
from attribution.errors import InputError
from attribution.journeys import Journeys
from attribution.testing.strategies import journeys


@pytest.fixture
def credits():
    # "a > b" converts once worth 10, "b" once worth 20, "c" never.
    # first_touch: a 1, b 1, c 0; last_touch: a 0, b 2, c 0; linear: a 0.5, b 1.5, c 0.
    paths = Journeys.from_paths(
        [["a", "b"], ["b"], ["c"]], conversions=[1, 1, 0], value=[10, 20, 0], nulls=[0, 0, 1]
    )
    return attribute(paths, ["first_touch", "last_touch", "linear"]).credits


def test_conversions_side_by_side_with_min_max_spread(credits):
    wide = compare(credits, "conversions")
    assert wide.columns == [
        "channel",
        "first_touch",
        "last_touch",
        "linear",
        "min",
        "max",
        "spread",
    ]
    assert wide.rows() == [
        ("a", 1.0, 0.0, 0.5, 0.0, 1.0, 1.0),
        ("b", 1.0, 2.0, 1.5, 1.0, 2.0, 1.0),
        ("c", 0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
    ]


def test_share_is_the_default_and_models_can_be_chosen_in_order(credits):
    wide = compare(credits, models=["linear", "first_touch"])
    assert wide.columns[:3] == ["channel", "linear", "first_touch"]
    assert wide["linear"].to_list() == [0.25, 0.75, 0.0]
    assert wide["spread"].to_list() == [0.25, 0.25, 0.0]


def test_sort_by_spread_puts_disagreement_first_and_total_last(credits):
    costed = join_costs(credits, {"a": 5, "b": 10, "c": 1}).table
    wide = compare(costed, "conversions", models=["first_touch", "last_touch"], sort="spread")
    # a: 1 vs 0 (spread 1), b: 1 vs 2 (spread 1), c: 0 vs 0
    assert wide["channel"].to_list() == ["a", "b", "c", TOTAL]
    wide = compare(costed, "roas", models=["first_touch", "linear"], sort="spread")
    # roas a: 10/5 = 2 vs 5/5 = 1 (spread 1); b: 20/10 = 2 vs 25/10 = 2.5 (0.5); c: 0 vs 0
    assert wide["channel"].to_list() == ["a", "b", "c", TOTAL]
    assert wide["spread"].to_list() == pytest.approx([1.0, 0.5, 0.0, 0.0])
    assert wide.filter(pl.col("channel") == TOTAL)["first_touch"].item() == pytest.approx(30 / 16)


def test_null_values_are_ignored_by_min_and_max(credits):
    costed = join_costs(credits, {"a": 0, "b": 10, "c": 1}).table
    wide = compare(costed, "roas")
    a = wide.filter(pl.col("channel") == "a").row(0, named=True)
    assert (a["first_touch"], a["min"], a["max"], a["spread"]) == (None, None, None, None)
    cpa = compare(costed, "cpa").filter(pl.col("channel") == "a").row(0, named=True)
    # cpa of a: 0/1 = 0 (first touch), null (last touch, no conversions), 0/0.5 = 0 (linear)
    assert (cpa["last_touch"], cpa["min"], cpa["max"]) == (None, 0.0, 0.0)


def test_cost_measures_need_costs(credits):
    for measure in ("cost", "cpa", "roas", "roi"):
        with pytest.raises(InputError, match=f"measure '{measure}' needs costs"):
            compare(credits, measure)


def test_bad_arguments_say_what_is_expected(credits):
    with pytest.raises(InputError, match="unknown measure 'clicks'; expected one of"):
        compare(credits, "clicks")
    with pytest.raises(InputError, match=r"model\(s\) \['markov'\] not in the credit table"):
        compare(credits, models=["markov"])
    clash = credits.with_columns(pl.lit("max").alias("model"))
    with pytest.raises(InputError, match=r"clash with the columns"):
        compare(clash)


@settings(max_examples=40, deadline=None)
@given(journeys(max_rows=12), st.sampled_from(["share", "conversions", "value"]))
def test_min_max_bound_every_model(paths, measure):
    result = attribute(paths, ["first_touch", "last_touch", "linear", "position_based"])
    wide = compare(result.credits, measure)
    assert wide["channel"].to_list() == list(paths.channels)
    labels = ["first_touch", "last_touch", "linear", "position_based"]
    if measure == "share" and paths.total_conversions == 0:  # no credit, no shares
        assert wide.select(pl.all().exclude("channel").is_null().all()).row(0) == (True,) * 7
        return
    values = wide.select(labels).to_numpy()
    assert (wide["min"].to_numpy() <= values.min(axis=1) + 1e-12).all()
    assert (wide["max"].to_numpy() >= values.max(axis=1) - 1e-12).all()
    assert (wide["spread"].to_numpy() >= 0).all()
    # the wide table is the long one, rearranged
    assert wide["linear"].to_list() == result.wide(measure)["linear"].to_list()


def test_measures_are_the_ones_the_cli_offers():
    assert set(MEASURES) >= {"share", "conversions", "value", "roas", "roi"}
