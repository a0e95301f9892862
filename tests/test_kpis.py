"""Omnichannel KPIs: a worked example by hand, brute-force properties and the path
builder's conversion location (the `kpis` command: tests/cli/test_kpis.py)."""

from __future__ import annotations

import dataclasses

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from attribution.builder import load_journeys
from attribution.errors import InputError
from attribution.journeys import Journeys, Unattributed
from attribution.kpis import compute_kpis, read_channel_kinds, weighted_quantile
from attribution.sources import EventColumns
from attribution.testing import strategies
from tests.conftest import write_csv


@pytest.fixture
def worked() -> Journeys:
    """Five journeys of four customers, small enough to work out by hand."""
    j = Journeys.from_paths(
        [["a", "b"], ["a"], ["b"], ["c", "c", "a"], ["c"]],
        conversions=[1, 0, 1, 1, 0],
        value=[10, 0, 20, 30, 0],
        nulls=[0, 1, 0, 0, 1],
        days_before=[[3, 1], [0], [2], [10, 5, 0], [0]],
    )
    return dataclasses.replace(
        j, customer=np.array([0, 0, 1, 2, 3]), unattributed=Unattributed(1.0, 5.0)
    )


def test_worked_example_headline(worked):
    h = compute_kpis(worked).headline
    assert h["customers"] == 4
    assert (h["journeys"], h["converting_journeys"], h["null_journeys"]) == (5, 3, 2)
    assert (h["conversions"], h["unattributed_conversions"]) == (4, 1)
    assert (h["conversion_value"], h["unattributed_value"]) == (65, 5)
    assert h["conversion_rate"] == pytest.approx(3 / 5)
    # a>b and c>c>a touch two distinct channels; b alone does not
    assert h["cross_channel_share"] == pytest.approx(2 / 3)
    # converting lengths 2, 1, 3; first touches 3, 2 and 10 days before conversion
    assert h["touches_per_converting_journey_mean"] == pytest.approx(2.0)
    assert h["touches_per_converting_journey_median"] == 2
    assert h["touches_per_converting_journey_p90"] == 3
    assert h["days_to_conversion_median"] == 3
    assert h["days_to_conversion_p90"] == 10
    assert h["average_order_value"] == pytest.approx(65 / 4)
    assert h["value_per_customer"] == pytest.approx(60 / 4)


def test_worked_example_segments_and_channels(worked):
    k = compute_kpis(worked)
    seg = {r["segment"]: r for r in k.segments.to_dicts()}
    # customers 1 (b) and 3 (c) used one channel; 0 (a, b) and 2 (c, a) several
    assert seg["single_channel"]["customers"] == 2
    assert seg["single_channel"]["value_per_customer"] == pytest.approx(10)
    assert seg["single_channel"]["average_order_value"] == pytest.approx(20)
    assert seg["multi_channel"]["customers"] == 2
    assert seg["multi_channel"]["value_per_customer"] == pytest.approx(20)
    assert seg["all"]["customers"] == 4
    rate = dict(zip(k.channels["channel"], k.channels["conversion_rate"], strict=True))
    assert rate == pytest.approx({"a": 2 / 3, "b": 1.0, "c": 1 / 2})


def test_top_paths_are_the_most_frequent_with_their_rate():
    j = Journeys.from_paths(
        [["a"], ["a"], ["a", "b"], ["b"], ["a"]],
        conversions=[1, 0, 1, 0, 0],
        nulls=[0, 1, 0, 1, 1],
    )
    top = compute_kpis(j, top=2).top_paths
    assert top["path"].to_list() == ["a", "a > b"]
    assert top["journeys"].to_list() == [3, 1]
    assert top["conversion_rate"].to_list() == pytest.approx([1 / 3, 1.0])


def test_paths_input_reports_customer_and_time_kpis_as_unavailable(worked):
    paths = worked.aggregate()
    k = compute_kpis(paths)
    for name in ("customers", "value_per_customer", "days_to_conversion_median"):
        assert k.headline[name] is None
        assert "paths table" in k.unavailable[name]
    assert k.segments.height == 0
    assert k.headline["conversion_rate"] == pytest.approx(3 / 5)
    long = k.long()
    assert long.filter(pl.col("kpi") == "customers")["value"].to_list() == [None]


def test_ropo_shares_by_hand():
    j = Journeys.from_paths(
        [["web", "ad"], ["ad"], ["shop"], ["shop", "web"], ["web"]],
        conversions=[1, 1, 1, 1, 1],
    )
    j = dataclasses.replace(
        j, conversion_channel=np.array(["shop", "shop", "web", "online", "nowhere"], dtype=object)
    )
    kinds = {"web": "online", "ad": "online", "shop": "offline"}
    h = compute_kpis(j, channel_kinds=kinds).headline
    # offline conversions: rows 0 and 1, both with an online touch
    assert h["offline_conversions"] == 2
    assert h["ropo_share"] == pytest.approx(1.0)
    # online conversions: row 2 (shop only: offline touch) and row 3 (shop > web)
    assert h["online_conversions"] == 2
    assert h["ropo_reverse_share"] == pytest.approx(1.0)
    assert h["unknown_location_conversions"] == 1
    kinds["ad"] = "offline"
    h = compute_kpis(j, channel_kinds=kinds).headline
    assert h["ropo_share"] == pytest.approx(0.5)  # row 1 now has only an offline touch


def test_ropo_is_unavailable_without_kinds_or_locations(worked):
    k = compute_kpis(worked)
    assert k.headline["ropo_share"] is None and "--channel-kinds" in k.unavailable["ropo_share"]
    k = compute_kpis(worked, channel_kinds={"a": "online"})
    assert "--conversion-channel-col" in k.unavailable["ropo_share"]


def test_long_table_is_tidy(worked):
    long = compute_kpis(worked).long()
    assert long.columns == ["kpi", "segment", "value"]
    assert long.select("kpi", "segment").is_duplicated().sum() == 0
    value = long.filter((pl.col("kpi") == "channel_conversion_rate") & (pl.col("segment") == "b"))
    assert value["value"].item() == pytest.approx(1.0)


def test_empty_journeys_give_no_rates():
    k = compute_kpis(Journeys.empty(("a",)))
    assert k.headline["journeys"] == 0
    assert k.headline["conversion_rate"] is None
    assert k.top_paths.height == 0 and k.path_lengths.height == 0


# -- properties ---------------------------------------------------------------------
@given(
    st.lists(st.tuples(st.integers(0, 30), st.integers(0, 4)), min_size=1, max_size=30),
    st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.9, 1.0]),
)
def test_weighted_quantile_is_inverted_cdf_of_the_repeated_values(pairs, q):
    x = np.array([p[0] for p in pairs], dtype=float)
    w = np.array([p[1] for p in pairs])
    got = weighted_quantile(x, w.astype(float), q)
    if w.sum() == 0:
        assert got is None
    else:
        assert got == np.quantile(np.repeat(x, w), q, method="inverted_cdf")


def _brute_force(j: Journeys) -> dict:
    """The same KPIs with plain Python loops over journeys (fine in a test)."""
    rows = [
        [j.channels[c] for c in j.codes[j.offsets[i] : j.offsets[i + 1]]] for i in range(j.n_rows)
    ]
    conv, nulls = j.conversions.tolist(), j.nulls.tolist()
    total = sum(conv)
    cross = sum(c for r, c in zip(rows, conv, strict=True) if len(set(r)) >= 2)
    rate = {}
    for ch in j.channels:
        touched = [i for i, r in enumerate(rows) if ch in r]
        n = sum(conv[i] + nulls[i] for i in touched)
        rate[ch] = sum(conv[i] for i in touched) / n if n else None
    length = sum(len(r) * c for r, c in zip(rows, conv, strict=True))
    return {
        "cross": cross / total if total else None,
        "rate": rate,
        "mean_length": length / total if total else None,
    }


@settings(max_examples=60, deadline=None)
@given(strategies.journeys(weighted=True, with_times=False))
def test_kpis_match_a_brute_force_count(j):
    k = compute_kpis(j)
    expected = _brute_force(j)
    assert k.headline["cross_channel_share"] == pytest.approx(expected["cross"])
    assert k.headline["touches_per_converting_journey_mean"] == pytest.approx(
        expected["mean_length"]
    )
    got = dict(zip(k.channels["channel"], k.channels["conversion_rate"], strict=True))
    assert got == pytest.approx(expected["rate"])


@settings(max_examples=40, deadline=None)
@given(strategies.journeys(weighted=True), st.randoms(use_true_random=False))
def test_kpis_do_not_depend_on_row_order_or_aggregation(j, rnd):
    order = np.array(rnd.sample(range(j.n_rows), j.n_rows), dtype=np.int64)
    base = compute_kpis(j)
    shuffled = compute_kpis(j.select(order))
    assert shuffled.headline == pytest.approx(base.headline, nan_ok=True)
    # sums in another order may differ in the last bits
    assert_frame_equal(shuffled.channels, base.channels, check_exact=False)
    assert_frame_equal(shuffled.top_paths, base.top_paths, check_exact=False)
    aggregated = compute_kpis(j.aggregate()).headline
    for name in ("conversion_rate", "cross_channel_share", "touches_per_converting_journey_p90"):
        assert aggregated[name] == pytest.approx(base.headline[name])


@settings(max_examples=40, deadline=None)
@given(strategies.journeys(), st.data())
def test_customer_segments_add_up(j, data):
    customers = data.draw(
        st.lists(st.integers(0, 5), min_size=j.n_rows, max_size=j.n_rows), label="customer"
    )
    j = dataclasses.replace(j, customer=np.array(customers, dtype=np.int64))
    seg = {r["segment"]: r for r in compute_kpis(j).segments.to_dicts()}
    for col in ("customers", "conversions", "value"):
        both = seg["single_channel"][col] + seg["multi_channel"][col]
        assert both == pytest.approx(seg["all"][col])
    assert seg["all"]["customers"] == len(set(customers))


# -- the path builder keeps where each conversion happened ---------------------------
def test_builder_reads_the_conversion_location(tmp_path):
    path = write_csv(
        tmp_path / "e.csv",
        """customer_id,timestamp,channel,event,value,location
        u,2024-01-01,web,touch,,
        u,2024-01-02,,conversion,10,store
        u,2024-01-03,web,touch,,
        v,2024-01-01,ad,touch,,
        v,2024-01-02,,conversion,4,web
        w,2024-01-01,ad,touch,,""",
    )
    j = load_journeys(path, columns=EventColumns(conversion_channel="location"))
    assert j.conversion_channel.tolist() == ["store", None, "web", None]
    assert j.select(np.array([2, 0])).conversion_channel.tolist() == ["web", "store"]
    assert j.aggregate().conversion_channel is None
    assert load_journeys(path).conversion_channel is None


def test_builder_reads_the_location_from_a_separate_conversions_file(tmp_path):
    touches = write_csv(
        tmp_path / "t.csv",
        """customer_id,timestamp,channel
        u,2024-01-01,web""",
    )
    conversions = write_csv(
        tmp_path / "c.csv",
        """customer_id,timestamp,value,location
        u,2024-01-02,10,store""",
    )
    j = load_journeys(
        touches, conversions=conversions, columns=EventColumns(conversion_channel="location")
    )
    assert j.conversion_channel.tolist() == ["store"]


def test_builder_names_a_missing_location_column(tmp_path, sample_events):
    with pytest.raises(InputError, match="conversion channel column 'where'"):
        load_journeys(sample_events, columns=EventColumns(conversion_channel="where"))


def test_channel_kinds_file_is_checked(tmp_path):
    good = write_csv(tmp_path / "k.csv", "channel,kind\nweb, Online\nstore,offline")
    assert read_channel_kinds(good) == {"web": "online", "store": "offline"}
    bad = write_csv(tmp_path / "b.csv", "channel,kind\nweb,online\nstore,shop")
    with pytest.raises(InputError, match=r"row 2 .*'store'.*'shop'"):
        read_channel_kinds(bad)
    clash = write_csv(tmp_path / "c.csv", "channel,kind\nweb,online\nweb,offline")
    with pytest.raises(InputError, match="'web' is given both kinds"):
        read_channel_kinds(clash)
    with pytest.raises(InputError, match="missing column"):
        read_channel_kinds(write_csv(tmp_path / "m.csv", "channel,type\nweb,online"))
