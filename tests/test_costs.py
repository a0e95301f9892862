"""Spend joined to credit: CPA, ROAS, ROI, the totals row, and the costs reader."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attribution.api import attribute
from attribution.costs import (
    COST_COLUMNS,
    TOTAL,
    join_costs,
    read_costs,
    uncosted_channels,
)
from attribution.errors import InputError
from attribution.journeys import Journeys


def row(table: pl.DataFrame, model: str, channel: str) -> dict:
    rows = table.filter((pl.col("model") == model) & (pl.col("channel") == channel)).to_dicts()
    assert len(rows) == 1, rows
    return rows[0]


# Worked by hand. Journeys: "search" alone converts twice worth 50 each; "social > search"
# converts once worth 60. Last touch gives search 3 conversions worth 160, social none.
# Linear gives search 2 + 0.5 = 2.5 worth 130 and social 0.5 worth 30.
# Costs: search 80, social 60.
#   last_touch search: cpa 80/3 = 26.667, roas 160/80 = 2, roi (160-80)/80 = 1
#   last_touch social: cpa null (0 conversions), roas 0/60 = 0, roi -1
#   linear search:     cpa 80/2.5 = 32, roas 130/80 = 1.625, roi 0.625
#   linear social:     cpa 60/0.5 = 120, roas 30/60 = 0.5, roi -0.5
#   totals (either):   cost 140, cpa 140/3 = 46.667, roas 160/140 = 8/7, roi 20/140 = 1/7
@pytest.fixture
def worked():
    journeys = Journeys.from_paths(
        [["search"], ["social", "search"]], conversions=[2, 1], value=[100, 60]
    )
    result = attribute(journeys, ["last_touch", "linear"])
    return join_costs(result.credits, {"search": 80, "social": 60}).table


def test_worked_example_cpa_roas_roi_exact(worked):
    assert row(worked, "last_touch", "search") == pytest.approx(
        {
            "model": "last_touch",
            "channel": "search",
            "conversions": 3.0,
            "value": 160.0,
            "share": 1.0,
            "cost": 80.0,
            "cpa": 80 / 3,
            "roas": 2.0,
            "roi": 1.0,
        }
    )
    social = row(worked, "last_touch", "social")
    assert (social["cpa"], social["roas"], social["roi"]) == (None, 0.0, -1.0)
    assert row(worked, "linear", "search")["cpa"] == pytest.approx(32.0)
    assert row(worked, "linear", "search")["roas"] == pytest.approx(1.625)
    assert row(worked, "linear", "search")["roi"] == pytest.approx(0.625)
    linear_social = row(worked, "linear", "social")
    assert (linear_social["cpa"], linear_social["roas"], linear_social["roi"]) == pytest.approx(
        (120.0, 0.5, -0.5)
    )


def test_totals_row_per_model_is_last_and_blended(worked):
    assert worked["channel"].to_list() == ["search", "social", TOTAL] * 2
    assert worked["model"].to_list() == ["last_touch"] * 3 + ["linear"] * 3
    for model in ("last_touch", "linear"):
        total = row(worked, model, TOTAL)
        assert (total["conversions"], total["value"], total["cost"]) == (3.0, 160.0, 140.0)
        assert total["share"] == pytest.approx(1.0)
        assert total["cpa"] == pytest.approx(140 / 3)
        assert total["roas"] == pytest.approx(8 / 7)
        assert total["roi"] == pytest.approx(1 / 7)


def test_no_totals_leaves_channels_only(worked):
    credits = worked.filter(pl.col("channel") != TOTAL).drop(COST_COLUMNS)
    plain = join_costs(credits, {"search": 80, "social": 60}, totals=False).table
    assert TOTAL not in plain["channel"].to_list()
    assert plain.height == 4


def test_channel_with_cost_but_no_credit_gets_zero_credit():
    credits = attribute(Journeys.from_paths([["a"]], conversions=[2]), ["linear"]).credits
    table = join_costs(credits, {"a": 10, "tv": 500}).table
    tv = row(table, "linear", "tv")
    assert (tv["conversions"], tv["value"], tv["share"], tv["cost"]) == (0.0, 0.0, 0.0, 500.0)
    assert (tv["cpa"], tv["roas"], tv["roi"]) == (None, 0.0, -1.0)
    assert row(table, "linear", TOTAL)["cost"] == 510.0


def test_channel_with_credit_but_no_cost_is_empty_and_named():
    credits = attribute(
        Journeys.from_paths([["a", "b"], ["c"]], conversions=[1, 1], value=[10, 30]), ["linear"]
    ).credits
    costed = join_costs(credits, {"a": 5})
    assert costed.uncosted == ["b", "c"]
    assert "no cost for channel(s) ['b', 'c']" in costed.warning()
    table = costed.table
    for channel in ("b", "c"):
        metrics = row(table, "linear", channel)
        assert [metrics[c] for c in COST_COLUMNS] == [None] * 4
    # blended: all credited conversions and value over the known cost
    total = row(table, "linear", TOTAL)
    assert (total["cost"], total["cpa"], total["roas"]) == (5.0, 2.5, 8.0)
    assert uncosted_channels(credits, read_costs({"a": 5})) == ["b", "c"]


def test_zero_cost_and_zero_conversions_give_null_never_inf():
    credits = pl.DataFrame(
        {
            "model": ["m", "m", "m"],
            "channel": ["free", "dud", "both"],
            "conversions": [2.0, 0.0, 0.0],
            "value": [40.0, 0.0, 0.0],
            "share": [1.0, 0.0, 0.0],
        }
    )
    table = join_costs(credits, {"free": 0, "dud": 30, "both": 0}).table
    free, dud, both = (row(table, "m", c) for c in ("free", "dud", "both"))
    assert (free["cpa"], free["roas"], free["roi"]) == (0.0, None, None)
    assert (dud["cpa"], dud["roas"], dud["roi"]) == (None, 0.0, -1.0)
    assert (both["cpa"], both["roas"], both["roi"]) == (None, None, None)
    finite = table.select((pl.col(pl.Float64).is_finite() | pl.col(pl.Float64).is_null()).all())
    assert all(finite.row(0))


def test_model_that_credits_nothing_keeps_share_null():
    credits = pl.DataFrame(
        {
            "model": ["m"],
            "channel": ["a"],
            "conversions": [0.0],
            "value": [0.0],
            "share": [None],
        },
        schema_overrides={"share": pl.Float64},
    )
    table = join_costs(credits, {"a": 1, "b": 2}).table
    assert table["share"].to_list() == [None, None, None]
    assert table["cost"].to_list() == [1.0, 2.0, 3.0]


def test_empty_credit_table_gives_empty_costed_table():
    empty = attribute(Journeys.from_paths([["a"]], conversions=[1]), ["linear"]).credits.clear()
    table = join_costs(empty, {"a": 1}).table
    assert table.height == 0
    assert table.columns == [*empty.columns, *COST_COLUMNS]


def test_credit_table_errors_name_what_is_wrong(worked):
    with pytest.raises(InputError, match=r"missing column\(s\) \['value'\]"):
        join_costs(worked.select("model", "channel", "conversions"), {"a": 1})
    with pytest.raises(InputError, match="already has cost column"):
        join_costs(worked, {"a": 1})


# -- reading --------------------------------------------------------------
def test_read_costs_csv_parquet_json_and_renamed_columns(tmp_path):
    frame = pl.DataFrame({"Channel": ["a", " b ", "a"], "Spend": [1.5, 2, 3]})
    frame.write_csv(tmp_path / "c.csv")
    frame.write_parquet(tmp_path / "c.parquet")
    frame.write_json(tmp_path / "c.json")
    frame.write_ndjson(tmp_path / "c.ndjson")
    for name in ("c.csv", "c.parquet", "c.json", "c.ndjson"):
        costs = read_costs(tmp_path / name, channel_col="Channel", cost_col="Spend")
        # repeated channels (spend per week, per campaign) add up; names are stripped
        assert costs.to_dict(as_series=False) == {"channel": ["a", "b"], "cost": [4.5, 2.0]}
        assert costs.schema == pl.Schema({"channel": pl.String, "cost": pl.Float64})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "channel,spend\na,1",
            r"missing cost column 'cost'; columns found: \['channel', 'spend'\]",
        ),
        ("channel,cost\na,1\nb,-2", r"column 'cost' at row 2 is -2; expected a finite number >= 0"),
        ("channel,cost\na,1\nb,lots", r"column 'cost' at row 2 is 'lots'"),
        ("channel,cost\na,1\nb,", r"column 'cost' is empty at row 2"),
        ("channel,cost\n,1", r"column 'channel' is empty at row 1"),
        ("channel,cost\n(total),1", r"reserved for the totals row"),
        ("channel,cost", r"the costs have no rows"),
    ],
)
def test_read_costs_errors_name_file_column_and_row(tmp_path, text, message):
    path = tmp_path / "costs.csv"
    path.write_text(text if "\n" not in text else text + "\n")
    with pytest.raises(InputError, match=message) as err:
        read_costs(path)
    assert "costs.csv" in str(err.value)


def test_read_costs_missing_file(tmp_path):
    for name in ("nope.csv", "nope.json"):
        with pytest.raises(InputError, match="does not exist"):
            read_costs(tmp_path / name)


# -- invariants -----------------------------------------------------------
channel_names = st.sampled_from(["a", "b", "c", "d", "e"])
money = st.one_of(st.just(0.0), st.floats(0.01, 1e6, allow_nan=False))


@st.composite
def credit_tables(draw):
    models = draw(st.lists(st.sampled_from(["m1", "m2", "m3"]), min_size=1, unique=True))
    channels = draw(st.lists(channel_names, min_size=1, unique=True))
    rows = [
        (m, c, draw(money), draw(money))  # conversions, value (zero often)
        for m in models
        for c in channels
    ]
    return pl.DataFrame(
        rows, schema=["model", "channel", "conversions", "value"], orient="row"
    ), draw(st.dictionaries(channel_names, money, min_size=1))


@settings(max_examples=60, deadline=None)
@given(credit_tables())
def test_metrics_follow_their_formulas_and_are_never_inf_or_nan(case):
    credits, costs = case
    table = join_costs(credits, costs).table
    models = credits["model"].unique().to_list()
    channels = set(credits["channel"]) | set(costs)
    assert table.height == len(models) * (len(channels) + 1)
    for r in table.filter(pl.col("channel") != TOTAL).iter_rows(named=True):
        cost = costs.get(r["channel"])
        assert r["cost"] == cost
        if cost is None:
            assert (r["cpa"], r["roas"], r["roi"]) == (None, None, None)
            continue
        conv, value = r["conversions"], r["value"]
        assert r["cpa"] == (None if conv == 0 else pytest.approx(cost / conv))
        assert r["roas"] == (None if cost == 0 else pytest.approx(value / cost))
        assert r["roi"] == (None if cost == 0 else pytest.approx((value - cost) / cost))
    for model in models:
        total = row(table, model, TOTAL)
        assert total["cost"] == pytest.approx(sum(costs.values()))
        assert total["conversions"] == pytest.approx(
            credits.filter(pl.col("model") == model)["conversions"].sum()
        )
    for column in ("cost", *COST_COLUMNS):
        assert table[column].is_nan().sum() == 0
        assert table[column].is_infinite().sum() == 0


def test_sample_costs_cover_every_sample_channel(sample_events):
    costs = read_costs(sample_events.parent / "costs.csv")
    effects = pl.read_csv(sample_events.parent / "channel_effects.csv")
    assert sorted(costs["channel"]) == sorted(effects["channel"])
    assert (costs["cost"] > 0).all()
