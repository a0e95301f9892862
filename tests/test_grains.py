"""Credit at finer grains: per conversion, per period, per dimension value, per segment.

Sums at every grain equal the plain run's (hypothesis), a hand-made example
per grain, each model's per-conversion split on a fixture where it is known,
costs per period, the command line and the report's sections.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import attribution as at
from attribution.capabilities import PerConversion, RowCredit
from attribution.costs import TOTAL, join_costs, read_costs
from attribution.errors import InputError, ModelError
from attribution.grains import (
    Grain,
    GrainResult,
    attribute_at,
    periods_of,
    run_at,
    split_in_proportion,
)
from attribution.journeys import JourneyKeys, Journeys
from attribution.kpis import compute_kpis
from attribution.model import Model, credit_frame
from attribution.report import render
from attribution.sources import EventColumns
from attribution.testing import strategies
from tests.cli import invoke
from tests.conftest import write_csv

HEURISTICS = ["first_touch", "last_touch", "linear", "time_decay", "position_based"]
EXACT = [*HEURISTICS, "shapley", "shapley:characteristic=subset_conversions", "ordered_shapley"]
SPLIT = ["markov", "markov:order=2", "shapley:characteristic=subset_rates"]
ALL = [*EXACT, *SPLIT]
DAY_US = 86_400_000_000
T0 = 1_767_225_600_000_000  # 2026-01-01T00:00Z in microseconds


def events(text: str, tmp_path, name: str = "e.csv"):
    return write_csv(tmp_path / name, text)


def load(path, **columns: str) -> Journeys:
    return at.load_journeys(path, columns=EventColumns(**columns), lookback_days=None)


def by_channel(frame: pl.DataFrame, *keys: str) -> dict[tuple, tuple[float, float]]:
    grouped = frame.group_by("model", *keys, "channel").agg(pl.col("conversions", "value").sum())
    return {tuple(r[: len(keys) + 2]): (r[-2], r[-1]) for r in grouped.iter_rows()}


def plain(result: at.AttributionResult) -> dict[tuple, tuple[float, float]]:
    return {
        (r["model"], r["channel"]): (r["conversions"], r["value"])
        for r in result.credits.iter_rows(named=True)
    }


# -- hypothesis: every grain adds up ------------------------------------------------
@st.composite
def keyed_journeys(draw: st.DrawFn) -> Journeys:
    """Random journeys with the keys the builder would give: times over a year,
    customers, a segment per row and a dimension value per touch."""
    j = draw(strategies.journeys(max_rows=20, max_channels=4, max_length=5))
    n, t = j.n_rows, j.n_touches
    days = draw(st.lists(st.integers(0, 364), min_size=n, max_size=n))
    segment = draw(st.lists(st.integers(-1, 2), min_size=n, max_size=n))
    dimension = draw(st.lists(st.integers(-1, 2), min_size=t, max_size=t))
    keys = JourneyKeys(
        end_time=T0 + np.array(days, dtype=np.int64) * DAY_US + 3_600_000_000,
        customer_ids=pl.Series([f"u{i}" for i in range(n)]),
        segment=np.array(segment, dtype=np.int32),
        segment_labels=("s0", "s1", "s2"),
        dimension=np.array(dimension, dtype=np.int32),
        dimension_labels=("d0", "d1", "d2"),
        dimension_name="campaign",
    )
    return dataclasses.replace(j, customer=np.arange(n, dtype=np.int64), keys=keys)


def assert_split_matches(result: GrainResult, frame: pl.DataFrame, *keys: str) -> None:
    """Exact models add up to the plain totals; split models differ by their reported gaps."""
    want = plain(result)
    got = by_channel(frame, *keys) if not keys else None
    if got is None:
        got = {k: v for k, v in by_channel(frame.drop(*keys).with_columns(), *()).items()}
    gaps = {
        (r["model"], r["channel"]): (r["conversions_gap"], r["value_gap"])
        for r in result.gaps.iter_rows(named=True)
    }
    total = max(result.journeys.total_conversions, 1.0)
    total_value = max(result.journeys.total_value, 1.0)
    for (model, channel), (conv, value) in want.items():
        g_conv, g_val = got.get((model, channel), (0.0, 0.0))
        d_conv, d_val = gaps.get((model, channel), (0.0, 0.0))
        assert g_conv == pytest.approx(conv + d_conv, abs=1e-7 * total), (model, channel)
        assert g_val == pytest.approx(value + d_val, abs=1e-7 * total_value), (model, channel)
        if model in EXACT:
            assert d_conv == 0 and d_val == 0


def assert_each_conversion_adds_up(frame: pl.DataFrame, journeys: Journeys) -> None:
    per = frame.group_by("model", "customer").agg(pl.col("conversions", "value").sum())
    ids = journeys.keys.customer_ids
    want = pl.DataFrame(
        {
            "customer": ids.gather(pl.Series(journeys.customer, dtype=pl.Int64)),
            "c": journeys.conversions,
            "v": journeys.value,
        }
    ).filter((pl.col("c") != 0) | (pl.col("v") != 0))
    joined = per.join(want, on="customer", how="full", coalesce=True)
    assert joined["model"].null_count() == 0 and joined["c"].null_count() == 0
    assert np.allclose(joined["conversions"], joined["c"], atol=1e-9)
    assert np.allclose(joined["value"], joined["v"], atol=1e-7)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(keyed_journeys())
def test_per_conversion_credit_adds_up_to_each_conversion_and_to_the_plain_totals(j):
    result = attribute_at(j, ALL, per_conversion=True)
    frame = result.grain_credits
    assert frame.columns == ["model", "customer", "time", "channel", "conversions", "value"]
    assert_each_conversion_adds_up(frame, j)
    assert_split_matches(result, frame)
    assert set(result.splits) == set(SPLIT)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(keyed_journeys(), st.sampled_from(["day", "week", "month", "quarter"]))
def test_every_period_adds_up_to_its_conversions_and_the_periods_to_the_plain_run(j, by):
    result = attribute_at(j, ALL, by=by, timezone="Europe/Paris")
    frame = result.grain_credits
    accounts = dict(zip(result.accounts["period"], result.accounts["conversions"], strict=True))
    per_period = frame.group_by("model", "period").agg(pl.col("conversions").sum())
    for model, period, conv in per_period.iter_rows():
        assert conv == pytest.approx(accounts[period], abs=1e-9), (model, period)
    assert result.accounts["conversions"].sum() == pytest.approx(j.total_conversions)
    assert_split_matches(result, frame.drop("period"))
    # refitting per period: every period still adds up to its conversions
    refit = attribute_at(j, ALL, by=by, refit_per_period=True).grain_credits
    accounts = dict(zip(result.accounts["period"], result.accounts["conversions"], strict=True))
    for model, period, conv in (
        refit.group_by("model", "period").agg(pl.col("conversions").sum()).iter_rows()
    ):
        assert conv == pytest.approx(accounts.get(period, 0.0), abs=1e-9), (model, period)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(keyed_journeys())
def test_dimension_credit_keeps_every_models_channel_totals(j):
    result = attribute_at(j, ALL, dimension=True)
    frame = result.grain_credits
    assert frame.columns == ["model", "channel", "campaign", "conversions", "value", "share"]
    assert_split_matches(result, frame.drop("campaign"))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(keyed_journeys())
def test_every_segment_adds_up_and_additive_models_keep_their_totals(j):
    result = attribute_at(j, ALL, segment=True)
    frame = result.grain_credits
    accounts = dict(zip(result.accounts["segment"], result.accounts["conversions"], strict=True))
    for model, segment, conv in (
        frame.group_by("model", "segment").agg(pl.col("conversions").sum()).iter_rows()
    ):
        assert conv == pytest.approx(accounts[segment], abs=1e-9), (model, segment)
    # rule-based models add up across customers: per segment or not, the same totals
    got = by_channel(frame.filter(pl.col("model").is_in(HEURISTICS)).drop("segment"))
    for key, (conv, value) in plain(result).items():
        if key[0] in HEURISTICS:  # (segments without conversions have no rows)
            assert got.get(key, (0.0, 0.0))[0] == pytest.approx(conv, abs=1e-9)
            assert got.get(key, (0.0, 0.0))[1] == pytest.approx(value, abs=1e-6)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(keyed_journeys(), st.randoms(use_true_random=False))
def test_grains_do_not_depend_on_row_order(j, rnd):
    order = np.array(rnd.sample(range(j.n_rows), j.n_rows))
    shuffled = j.select(order)
    grain = Grain(by="month", dimension=True, segment=True)
    key = ["model", "segment", "period", "channel", "campaign"]
    a = attribute_at(j, EXACT, grain).grain_credits.sort(key, nulls_last=True)
    b = attribute_at(shuffled, EXACT, grain).grain_credits.sort(key, nulls_last=True)
    assert a.select(key).equals(b.select(key))
    assert np.allclose(a["conversions"], b["conversions"], atol=1e-9)


# -- per conversion: hand-made ---------------------------------------------------
ORDERS = """customer_id,timestamp,channel,event,value,order_id
u1,2026-01-01T10:00:00Z,email,touch,,
u1,2026-01-02T10:00:00Z,seo,touch,,
u1,2026-01-03T10:00:00Z,ads,touch,,
u1,2026-01-04T10:00:00Z,,conversion,30,A-1
u1,2026-01-05T10:00:00Z,seo,touch,,
u1,2026-01-06T10:00:00Z,,conversion,10,A-2
u2,2026-01-05T10:00:00Z,ads,touch,,
u2,2026-01-09T10:00:00Z,ads,touch,,
"""


def test_per_conversion_rows_carry_the_order_id_and_split_each_order(tmp_path):
    j = load(events(ORDERS, tmp_path), conversion_id="order_id")
    frame = attribute_at(j, ["linear", "last_touch"], per_conversion=True).grain_credits
    assert frame.columns == ["model", "conversion_id", "channel", "conversions", "value"]
    rows = {(m, o, c): (x, v) for m, o, c, x, v in frame.iter_rows()}
    third = 1 / 3
    assert rows[("linear", "A-1", "ads")] == pytest.approx((third, 10.0))
    assert rows[("linear", "A-1", "email")] == pytest.approx((third, 10.0))
    assert rows[("linear", "A-1", "seo")] == pytest.approx((third, 10.0))
    assert rows[("linear", "A-2", "seo")] == (1.0, 10.0)
    # every channel of the journey is listed, with zero where the model gives none
    assert rows[("last_touch", "A-1", "email")] == (0.0, 0.0)
    assert rows[("last_touch", "A-1", "ads")] == (1.0, 30.0)
    assert frame.height == 8  # (3 + 1 channels) x 2 models; u2 never converted


def test_per_conversion_without_an_id_names_customer_and_time_in_the_time_zone(tmp_path):
    j = load(events(ORDERS, tmp_path))
    frame = attribute_at(
        j, ["first_touch"], per_conversion=True, timezone="Europe/Paris"
    ).grain_credits
    assert frame.columns == ["model", "customer", "time", "channel", "conversions", "value"]
    first = frame.filter(pl.col("conversions") == 1).sort("time")
    assert first["customer"].to_list() == ["u1", "u1"]
    assert first["channel"].to_list() == ["email", "seo"]
    assert [t.isoformat() for t in first["time"]] == [
        "2026-01-04T11:00:00+01:00",
        "2026-01-06T11:00:00+01:00",
    ]


def test_a_conversion_without_an_id_is_an_error_naming_its_row(tmp_path):
    text = ORDERS.replace("30,A-1", "30,")
    with pytest.raises(InputError, match=r"column 'order_id': the conversion at row 4 has no id"):
        load(events(text, tmp_path), conversion_id="order_id")


# -- each model's per-conversion split on a fixture where it is known ----------------
def row_split(model: str, j: Journeys) -> dict[tuple[int, str], float]:
    frame = attribute_at(j, [model], per_conversion=True).grain_credits
    return {(r, c): x for _, r, c, x, _ in frame.iter_rows()}


def test_rule_based_splits_of_one_journey():
    j = Journeys.from_paths([["a", "b", "c", "b"]], [1], [100], days_before=[[6.0, 4.0, 2.0, 0.0]])
    assert row_split("first_touch", j) == {(0, "a"): 1.0, (0, "b"): 0.0, (0, "c"): 0.0}
    assert row_split("last_touch", j) == {(0, "a"): 0.0, (0, "b"): 1.0, (0, "c"): 0.0}
    assert row_split("linear", j) == pytest.approx({(0, "a"): 0.25, (0, "b"): 0.5, (0, "c"): 0.25})
    # U-shape: 40% first, 40% last, 20% over the two in between
    assert row_split("position_based", j) == pytest.approx(
        {(0, "a"): 0.4, (0, "b"): 0.5, (0, "c"): 0.1}
    )
    # half-life 2 days: weights 1/8, 1/4, 1/2, 1 over 15/8
    w = np.array([1 / 8, 1 / 4, 1 / 2, 1]) / (15 / 8)
    assert row_split("time_decay:half_life_days=2", j) == pytest.approx(
        {(0, "a"): w[0], (0, "b"): w[1] + w[3], (0, "c"): w[2]}
    )
    # Zhao et al.: 1 / (touches of the channel x distinct channels), per touch
    assert row_split("ordered_shapley", j) == pytest.approx(
        {(0, "a"): 1 / 3, (0, "b"): 1 / 3, (0, "c"): 1 / 3}
    )
    assert row_split("shapley:characteristic=subset_conversions", j) == pytest.approx(
        {(0, "a"): 1 / 3, (0, "b"): 1 / 3, (0, "c"): 1 / 3}
    )


def test_shapley_splits_a_journey_by_the_shapley_values_of_its_sets_game():
    # rates: {a} 1/2, {b} 1/4, {a, b} 3/4
    j = Journeys.from_paths([["a"], ["b"], ["a", "b"]], [1, 1, 3], [1, 1, 3], [1, 3, 1])
    phi_a = 0.5 * 0.5 + 0.5 * (0.75 - 0.25)
    phi_b = 0.5 * 0.25 + 0.5 * (0.75 - 0.5)
    got = row_split("shapley", j)
    assert got[(0, "a")] == 1.0 and got[(1, "b")] == 1.0
    assert got[(2, "a")] == pytest.approx(3 * phi_a / 0.75)
    assert got[(2, "b")] == pytest.approx(3 * phi_b / 0.75)


def test_markov_split_of_a_mixed_journey_is_what_its_totals_leave_over():
    # Single-channel journeys can only credit their channel, so when a split with
    # Markov's totals exists, the a > b journeys get what the totals leave them.
    j = Journeys.from_paths(
        [["a"], ["b"], ["a", "b"], ["b", "a"]], [2, 1, 3, 1], [20, 10, 30, 10], [2, 4, 1, 2]
    )
    result = attribute_at(j, ["markov"], per_conversion=True)
    totals = {c: x for _, c, x, _, _ in result.credits.iter_rows()}
    got = row_split("markov", j)
    assert got[(0, "a")] == 2 and got[(1, "b")] == 1
    mixed_a = (totals["a"] - 2) / 4  # per conversion of the 4 mixed ones
    assert got[(2, "a")] == pytest.approx(3 * mixed_a)
    assert got[(3, "a")] == pytest.approx(mixed_a)
    assert got[(2, "b")] == pytest.approx(3 * (1 - mixed_a))
    assert result.gaps["conversions_gap"].abs().max() < 1e-9
    assert "removal effect" in result.split_notes()[0]


def test_markov_split_reports_its_gap_where_no_split_reaches_the_model_totals():
    # c alone converts 3 journeys, yet Markov gives c 7 x (3/7) / (11/7) = 21/11 < 3
    j = Journeys.from_paths([["c"], ["a", "b"]], [3, 4], [30, 40], [1, 0])
    result = attribute_at(j, ["markov"], per_conversion=True)
    gaps = {r["channel"]: r["conversions_gap"] for r in result.gaps.iter_rows(named=True)}
    assert gaps == pytest.approx({"a": -6 / 11, "b": -6 / 11, "c": 12 / 11})
    got = row_split("markov", j)
    assert got == pytest.approx({(0, "c"): 3.0, (1, "a"): 2.0, (1, "b"): 2.0})
    assert "1.09 conversions" in result.split_notes()[0]


def test_split_in_proportion_keeps_both_margins_and_the_proportional_form():
    j = Journeys.from_paths([["a", "b"], ["b", "c"], ["a", "c"]], [1, 1, 1], [2, 2, 2])
    target = np.array([1.2, 0.9, 0.9])
    rc = split_in_proportion(
        j, np.array([1.0, 1.0, 1.0]), np.array([1.0, 1.0, 1.0]), target, 2 * target, split="t"
    )
    x = np.zeros((3, 3))
    x[rc.row, rc.code] = rc.conversions
    assert x.sum(axis=1) == pytest.approx([1, 1, 1])
    assert x.sum(axis=0) == pytest.approx(target)
    # proportional form: x[r, c] = b[c] / sum of b over the row's channels
    b = x[0, 0] / x[0, 1]  # b_a / b_b
    assert x[2, 0] / x[2, 2] == pytest.approx(b * x[1, 1] / x[1, 2])
    assert rc.value == pytest.approx(2 * rc.conversions)


# -- per period: hand-made ----------------------------------------------------------
MONTHS = """customer_id,timestamp,channel,event,value
u1,2026-01-30T10:00:00Z,email,touch,
u1,2026-01-31T23:30:00Z,,conversion,10
u2,2026-02-10T10:00:00Z,ads,touch,
u2,2026-02-11T10:00:00Z,,conversion,20
u3,2026-03-30T10:00:00Z,ads,touch,
u3,2026-03-31T10:00:00Z,email,touch,
u3,2026-03-31T12:00:00Z,,conversion,40
u4,2026-03-01T10:00:00Z,ads,touch,
"""


def test_periods_follow_the_time_zones_calendar(tmp_path):
    j = load(events(MONTHS, tmp_path))
    utc = attribute_at(j, ["linear"], by="month").grain_credits
    paris = attribute_at(j, ["linear"], by="month", timezone="Europe/Paris").grain_credits

    def email(frame):
        rows = frame.filter(pl.col("channel") == "email", pl.col("conversions") > 0)
        return dict(zip(rows["period"], rows["conversions"], strict=True))

    # 23:30 UTC on January 31st is already February 1st in Paris
    assert email(utc) == {date(2026, 1, 1): 1.0, date(2026, 3, 1): 0.5}
    assert email(paris) == {date(2026, 2, 1): 1.0, date(2026, 3, 1): 0.5}
    assert paris.filter(pl.col("period") == date(2026, 2, 1))["conversions"].sum() == 2.0
    # every channel in every period with conversions, share within the period
    assert paris.height == 2 * 2 and utc.height == 3 * 2
    assert paris.group_by("period").agg(pl.col("share").sum())["share"].to_list() == [1.0, 1.0]


def test_weeks_start_on_monday_and_quarters_on_their_first_month():
    t = np.array([T0 + 4 * DAY_US, T0 + 5 * DAY_US, T0 + 100 * DAY_US])  # Mon 5th, Tue 6th
    codes, labels = periods_of(t, "week")
    assert labels.to_list() == [date(2026, 1, 5), date(2026, 4, 6)] and codes.tolist() == [0, 0, 1]
    _, labels = periods_of(t, "quarter")
    assert labels.to_list() == [date(2026, 1, 1), date(2026, 4, 1)]
    _, labels = periods_of(np.array([T0 - 1]), "day", "Asia/Tokyo")
    assert labels.to_list() == [date(2026, 1, 1)]  # 23:59 UTC is 08:59 in Tokyo


def test_refit_per_period_fits_each_months_journeys_on_their_own(tmp_path):
    j = load(events(MONTHS, tmp_path))
    refit = attribute_at(j, ["markov"], by="month", refit_per_period=True).grain_credits
    march = refit.filter(pl.col("period") == date(2026, 3, 1))
    alone = at.attribute(j.select(np.flatnonzero(j.keys.end_time >= T0 + 59 * DAY_US)), ["markov"])
    assert dict(zip(march["channel"], march["conversions"], strict=True)) == pytest.approx(
        dict(zip(alone.credits["channel"], alone.credits["conversions"], strict=True))
    )


def test_accounts_per_period_count_unattributed_conversions(tmp_path):
    text = MONTHS + "u9,2026-02-20T10:00:00Z,,conversion,7\n"
    j = load(events(text, tmp_path))
    accounts = attribute_at(j, ["linear"], by="month").accounts
    feb = accounts.filter(pl.col("period") == date(2026, 2, 1)).row(0, named=True)
    assert feb["unattributed_conversions"] == 1 and feb["unattributed_value"] == 7
    assert feb["conversions"] == 2 and feb["attributed_conversions"] == 1


# -- dimension: hand-made -----------------------------------------------------------
CAMPAIGNS = """customer_id,timestamp,channel,event,value,campaign
u1,2026-01-01T10:00:00Z,email,touch,,spring
u1,2026-01-02T10:00:00Z,email,touch,,autumn
u1,2026-01-03T10:00:00Z,seo,touch,,
u1,2026-01-04T10:00:00Z,,conversion,30,
u2,2026-01-05T10:00:00Z,seo,touch,,brand
u2,2026-01-06T10:00:00Z,,conversion,60,
"""


def test_dimension_credit_goes_to_each_touchs_own_value(tmp_path):
    j = load(events(CAMPAIGNS, tmp_path), dimension="campaign")
    result = attribute_at(j, ["linear", "shapley"], dimension=True)
    frame = result.grain_credits
    rows = {(m, c, d): (x, v) for m, c, d, x, v, _ in frame.iter_rows()}
    assert rows[("linear", "email", "spring")] == pytest.approx((1 / 3, 10.0))
    assert rows[("linear", "email", "autumn")] == pytest.approx((1 / 3, 10.0))
    assert rows[("linear", "seo", None)] == pytest.approx((1 / 3, 10.0))
    assert rows[("linear", "seo", "brand")] == (1.0, 60.0)
    # a model that credits channels shares a channel's credit among its touches
    shapley_email = (
        rows[("shapley", "email", "spring")][0] + rows[("shapley", "email", "autumn")][0]
    )
    assert rows[("shapley", "email", "spring")][0] == pytest.approx(shapley_email / 2)
    got, want = by_channel(frame.drop("campaign")), plain(result)
    assert got.keys() == want.keys()
    for key, (conv, value) in want.items():
        assert got[key] == pytest.approx((conv, value)), key


# -- segments: hand-made ------------------------------------------------------------
DEVICES = """customer_id,timestamp,channel,event,value,device
u1,2026-01-01T10:00:00Z,email,touch,,
u1,2026-01-02T10:00:00Z,,conversion,10,mobile
u1,2026-01-03T10:00:00Z,ads,touch,,
u1,2026-01-04T10:00:00Z,,conversion,10,
u2,2026-01-01T10:00:00Z,ads,touch,,
u2,2026-01-02T10:00:00Z,,conversion,20,
u2,2026-01-03T10:00:00Z,ads,touch,,desktop
u3,2026-01-01T10:00:00Z,seo,touch,,
u3,2026-01-02T10:00:00Z,,conversion,5,
"""


def test_segments_take_the_latest_value_then_the_first_after_and_run_alone(tmp_path):
    j = load(events(DEVICES, tmp_path), segment="device")
    result = attribute_at(j, ["last_touch"], segment=True)
    frame = result.grain_credits.filter(pl.col("conversions") > 0)
    rows = {(s, c): x for _, s, c, x, _, _ in frame.iter_rows()}
    # u1's second conversion keeps the mobile of its first (latest at or before it);
    # u2's only value comes later (a customer attribute); u3 has none
    assert rows == {
        ("mobile", "email"): 1,
        ("mobile", "ads"): 1,
        ("desktop", "ads"): 1,
        (None, "seo"): 1,
    }
    accounts = {r["segment"]: r["conversions"] for r in result.accounts.iter_rows(named=True)}
    assert accounts == {None: 1.0, "desktop": 1.0, "mobile": 2.0}


def test_segment_column_may_be_in_the_conversions_file(tmp_path):
    touches = events(
        "customer_id,timestamp,channel\nu1,2026-01-01T10:00:00Z,email\nu2,2026-01-01T10:00:00Z,ads\n",
        tmp_path,
    )
    conv = events(
        "customer_id,timestamp,value,device\nu1,2026-01-02T10:00:00Z,5,mobile\n"
        "u2,2026-01-02T10:00:00Z,5,desktop\n",
        tmp_path,
        "c.csv",
    )
    j = at.load_journeys(touches, conversions=conv, columns=EventColumns(segment="device"))
    assert j.keys.segment_labels == ("desktop", "mobile")
    with pytest.raises(InputError, match="missing segment column 'country'"):
        at.load_journeys(touches, conversions=conv, columns=EventColumns(segment="country"))


# -- the capability ---------------------------------------------------------------------
class Opaque(Model):
    """A plugin without the per-conversion capability."""

    name = "opaque"
    description = "Everything to the first channel; no attribute_rows."

    def attribute(self, journeys: Journeys) -> pl.DataFrame:
        conv = np.zeros(journeys.n_channels)
        val = np.zeros(journeys.n_channels)
        if journeys.n_channels:
            conv[0], val[0] = journeys.total_conversions, journeys.total_value
        return credit_frame(journeys, conv, val)


def test_models_say_whether_they_split_per_conversion():
    reg = at.get_registry()
    for name in ("first_touch", "time_decay", "markov", "shapley", "ordered_shapley"):
        assert isinstance(reg.get(name)(), PerConversion), name
    assert not isinstance(Opaque(), PerConversion)


def test_a_model_without_the_capability_gets_a_clear_error_or_is_skipped(sample_events):
    j = at.load_journeys(sample_events)
    with pytest.raises(ModelError, match=r"model 'opaque' cannot split its credit per conversion"):
        attribute_at(j, [Opaque(), "linear"], per_conversion=True)
    with pytest.raises(ModelError, match="refit_per_period"):
        attribute_at(j, [Opaque()], by="month")
    # refitting per period or per segment needs no split
    refit = attribute_at(j, [Opaque()], by="month", refit_per_period=True)
    assert refit.grain_credits["conversions"].sum() == pytest.approx(j.total_conversions)
    at.register_model(Opaque)
    run = attribute_at(j, None, per_conversion=True)
    assert ("opaque", run.skipped[-1][1]) == run.skipped[-1] and "attribute_rows" in run.skipped[
        -1
    ][1]
    assert "opaque" not in run.grain_credits["model"].unique().to_list()


class Broken(Opaque):
    name = "broken"

    def attribute_rows(self, journeys: Journeys) -> RowCredit:
        rows = np.flatnonzero(journeys.conversions > 0)
        half = np.full(len(rows), 0.5)
        return RowCredit(rows, journeys.codes[journeys.offsets[rows]], half, half)


def test_a_split_that_does_not_add_up_to_its_conversion_is_refused():
    j = Journeys.from_paths([["a"], ["b"]], [1, 1])
    with pytest.raises(ModelError, match=r"model 'broken'.* adding up to 0\.5 conversions"):
        attribute_at(j, [Broken()], per_conversion=True)


def test_grain_settings_are_checked():
    j = Journeys.from_paths([["a"]], [1])
    with pytest.raises(InputError, match="unknown time zone 'Mars/Base'"):
        Grain(by="day", timezone="Mars/Base").check()
    with pytest.raises(InputError, match="refit_per_period needs"):
        Grain(refit_per_period=True).check()
    with pytest.raises(InputError, match="needs the time of each conversion"):
        attribute_at(j, ["linear"], by="month")  # a paths table has no times
    with pytest.raises(InputError, match="segment column"):
        attribute_at(j, ["linear"], segment=True)
    # a paths table still has credit per row
    frame = attribute_at(j, ["linear"], per_conversion=True).grain_credits
    assert frame.columns == ["model", "journey", "channel", "conversions", "value"]


def test_journey_keys_survive_select_and_not_aggregate(tmp_path):
    j = load(events(CAMPAIGNS, tmp_path), dimension="campaign")
    picked = j.select(np.array([1, 0]))
    assert picked.keys.end_time.tolist() == j.keys.end_time[[1, 0]].tolist()
    # labels autumn, brand, spring: u2's brand, then u1's spring, autumn and none
    assert picked.keys.dimension.tolist() == [1, 2, 0, -1]
    assert j.aggregate().keys is None and j.drop_times().keys is None


# -- costs per period ------------------------------------------------------------------
def test_dated_costs_give_cpa_roas_and_roi_per_period(tmp_path):
    j = load(events(MONTHS, tmp_path))
    costs = pl.DataFrame(
        {
            "channel": ["email", "email", "ads", "ads"],
            "date": ["2026-01-10", "2026-01-20", "2026-02", "2026-Q1"],
            "cost": [2.0, 3.0, 10.0, 40.0],
        }
    )
    run = run_at(j, ["last_touch"], Grain(by="month"), costs=costs)
    table = run.credits
    cell = {(r["period"], r["channel"]): r for r in table.iter_rows(named=True)}
    jan = cell[(date(2026, 1, 1), "email")]
    assert (jan["cost"], jan["cpa"], jan["roas"]) == (5.0, 5.0, 2.0)
    feb = cell[(date(2026, 2, 1), "ads")]
    assert (feb["cost"], feb["roas"], feb["roi"]) == (10.0, 2.0, 1.0)
    # 2026-Q1 is dated January 1st, so January's ads cost 40 and credited nothing
    assert cell[(date(2026, 1, 1), "ads")]["cost"] == 40.0
    assert cell[(date(2026, 1, 1), "ads")]["cpa"] is None
    assert cell[(date(2026, 3, 1), TOTAL)]["conversions"] == 1
    assert run.grained.costed is not None
    # undated costs cannot be per period; dated ones add up for a plain table
    with pytest.raises(InputError, match="no date"):
        run_at(j, ["linear"], Grain(by="month"), costs={"email": 1.0})
    plain_costed = join_costs(at.attribute(j, ["linear"]).credits, costs).table
    assert plain_costed.filter(pl.col("channel") == "ads")["cost"].item() == 50.0


def test_bad_cost_dates_name_their_row(tmp_path):
    path = tmp_path / "costs.csv"
    path.write_text("channel,period,cost\na,2026-01,1\nb,soon,2\n")
    with pytest.raises(InputError, match=r"column 'period' at row 2 is not a date"):
        read_costs(path)


def test_costs_do_not_join_credit_per_conversion(tmp_path):
    j = load(events(MONTHS, tmp_path))
    with pytest.raises(InputError, match="not per conversion"):
        run_at(j, ["linear"], Grain(per_conversion=True), costs={"email": 1.0})


# -- the command line -------------------------------------------------------------------
def test_cli_per_conversion_writes_one_row_per_conversion_channel_and_model(tmp_path):
    path = events(ORDERS, tmp_path)
    out = tmp_path / "credit.parquet"
    result = invoke(
        "run", path, "--per-conversion", "--conversion-id-col", "order_id",
        "-m", "linear", "-m", "markov", "-o", out,
    )  # fmt: skip
    frame = pl.read_parquet(out)
    assert frame.columns == ["model", "conversion_id", "channel", "conversions", "value"]
    sums = frame.group_by("model", "conversion_id").agg(pl.col("conversions", "value").sum())
    sums = sums.sort("model", "conversion_id")
    assert sums.select("model", "conversion_id").rows() == [
        ("linear", "A-1"),
        ("linear", "A-2"),
        ("markov", "A-1"),
        ("markov", "A-2"),
    ]
    assert sums["conversions"].to_list() == pytest.approx([1, 1, 1, 1])
    assert sums["value"].to_list() == pytest.approx([30, 10, 30, 10])
    assert "note: markov: credit per conversion is each journey's share" in result.stderr


def test_cli_by_month_in_paris_with_dated_costs(tmp_path):
    path = events(MONTHS, tmp_path)
    costs = tmp_path / "costs.csv"
    costs.write_text("channel,date,cost\nemail,2026-02-03,4\nads,2026-02-15,10\n")
    result = invoke(
        "run", path, "--by", "month", "--timezone", "Europe/Paris", "-m", "linear",
        "--costs", costs, "--format", "json",
    )  # fmt: skip
    doc = json.loads(result.stdout)
    feb = [r for r in doc["credits"] if r["period"] == "2026-02-01"]
    assert {r["channel"]: r["roas"] for r in feb} == {"ads": 2.0, "email": 2.5, TOTAL: 30 / 14}
    assert [a["period"] for a in doc["accounts"]] == ["2026-02-01", "2026-03-01"]
    assert doc["grain"]["by"] == "month" and doc["grain"]["timezone"] == "Europe/Paris"


def test_cli_dimension_and_segment_tables(tmp_path):
    path = events(CAMPAIGNS, tmp_path)
    out = invoke("run", path, "--dimension", "campaign", "-m", "linear", "--format", "csv").stdout
    frame = pl.read_csv(out.encode())
    assert frame.columns == ["model", "channel", "campaign", "conversions", "value", "share"]
    assert frame["conversions"].sum() == pytest.approx(2.0)
    path = events(DEVICES, tmp_path, "d.csv")
    text = invoke("run", path, "--segment-col", "device", "-m", "linear").stdout
    assert text.splitlines()[0].split() == [
        "model", "segment", "channel", "conversions", "value", "share"
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--refit-per-period"], "--refit-per-period goes with --by"),
        (["--conversion-id-col", "order_id"], "--conversion-id-col goes with --per-conversion"),
        (["--timezone", "Europe/Paris"], "--timezone goes with --by or --per-conversion"),
    ],
)
def test_cli_grain_usage_errors(sample_events, args, message):
    from click.testing import CliRunner

    from attribution.cli.main import cli

    result = CliRunner().invoke(cli, ["run", str(sample_events), *args])
    assert result.exit_code == 2 and message in result.stderr


def test_cli_grain_errors_are_one_line_before_the_input_is_read(tmp_path):
    from click.testing import CliRunner

    from attribution.cli.main import cli

    missing = str(tmp_path / "nowhere.csv")  # never read: the settings fail first
    costs = tmp_path / "costs.csv"
    costs.write_text("channel,cost\na,1\n")
    for args, message in (
        (["--by", "day", "--timezone", "Mars/Base"], "unknown time zone 'Mars/Base'"),
        (["--by", "month", "--costs", str(costs)], "the costs have no date"),
        (["--per-conversion", "--costs", str(costs)], "not per conversion"),
    ):
        result = CliRunner().invoke(cli, ["run", missing, *args])
        assert result.exit_code == 1, result.output
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


# -- the report --------------------------------------------------------------------------
def test_report_draws_the_trend_and_compares_segments(tmp_path):
    path = events(DEVICES.replace("2026-01-04", "2026-02-04"), tmp_path)
    j = load(path, segment="device")
    costs = {"channel": ["ads", "email"], "date": ["2026-01-01", "2026-02-01"], "cost": [4.0, 2.0]}
    run = run_at(j, ["linear", "markov"], Grain(by="month"), costs=pl.DataFrame(costs))
    page = render(run.result, compute_kpis(j))
    assert 'id="trend"' in page and 'data-chart="trend-conversions"' in page
    assert 'data-chart="trend-roas"' in page and "linear: ROAS" in page
    page = render(attribute_at(j, ["linear"], segment=True), compute_kpis(j))
    assert 'id="segments"' in page and 'data-chart="segments"' in page and "desktop" in page
    plain_page = render(at.attribute(j, ["linear"]), compute_kpis(j))
    assert 'id="trend"' not in plain_page and 'id="segments"' not in plain_page


# -- the benchmark's quick pass ----------------------------------------------------------
def test_grains_benchmark_runs_on_the_smallest_size(tmp_path):
    from benchmarks import bench_grains

    stages = bench_grains.run("10k", repeat=1, folder=tmp_path)
    journeys, credits, per_conversion, by_month = (s.result for s in stages[:4])
    assert credits["conversions"].sum() == pytest.approx(per_conversion["conversions"].sum())
    assert per_conversion["conversions"].sum() == pytest.approx(
        journeys.total_conversions * len(bench_grains.MODELS)
    )
    assert by_month["period"].n_unique() >= 12  # conversions over a year
    assert all(s.seconds > 0 and s.cpu_seconds > 0 for s in stages)


def test_cli_report_by_month_draws_the_trend(tmp_path):
    path = events(MONTHS, tmp_path)
    costs = tmp_path / "costs.csv"
    costs.write_text("channel,date,cost\nemail,2026-02-03,4\nads,2026-02-15,10\n")
    out = tmp_path / "report.html"
    invoke("report", path, "-m", "linear", "--by", "month", "--costs", costs, "-o", out)
    page = out.read_text()
    assert 'id="trend"' in page and "linear: ROAS" in page
    assert 'id="costs"' in page  # the per-channel cost section still has its table
