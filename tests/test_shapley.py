"""Shapley models against published examples, brute-force enumeration and the contract."""

from __future__ import annotations

import itertools
import json
import math
from collections import defaultdict

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner
from hypothesis import given, settings

import attribution as at
from attribution.errors import ModelError
from attribution.journeys import Journeys
from attribution.models.shapley import (
    OrderedShapley,
    Shapley,
    channel_sets,
    shapley_values,
)
from attribution.testing import CHECKS, check_model, example_journeys, shuffle_rows
from attribution.testing.strategies import journeys as journeys_strategy

CLOSED_FORMS = ["subset_conversions", "subset_rates"]


def credit(journeys, spec, measure="conversions"):
    frame = at.attribute(journeys, [spec]).credits
    return dict(zip(frame["channel"], frame[measure], strict=True))


# -- brute force, for the property tests only ------------------------------------
def brute_shapley(players, worth):
    """Shapley values by enumerating every coalition: sum of weighted marginal gains."""
    n = len(players)
    out = {}
    for i in players:
        others = [p for p in players if p != i]
        total = 0.0
        for k in range(n):
            w = math.factorial(k) * math.factorial(n - k - 1) / math.factorial(n)
            for s in itertools.combinations(others, k):
                total += w * (worth(frozenset(s) | {i}) - worth(frozenset(s)))
        out[i] = total
    return out


def rows_of(journeys):
    """(distinct channel set, conversions, value, nulls) of every row, in Python."""
    for r in range(journeys.n_rows):
        codes = journeys.codes[journeys.offsets[r] : journeys.offsets[r + 1]]
        names = frozenset(journeys.channels[c] for c in codes)
        yield names, journeys.conversions[r], journeys.value[r], journeys.nulls[r]


def brute_conversion_rate(journeys):
    conv, val, nul = defaultdict(float), defaultdict(float), defaultdict(float)
    for s, c, v, n in rows_of(journeys):
        conv[s] += c
        val[s] += v
        nul[s] += n
    rate = {s: conv[s] / (conv[s] + nul[s]) if conv[s] + nul[s] > 0 else 0.0 for s in conv}
    out = {c: np.zeros(2) for c in journeys.channels}
    for t in conv:
        if conv[t] == 0 and val[t] == 0:
            continue
        phi = brute_shapley(sorted(t), lambda s: rate.get(s, 0.0))
        total = sum(phi.values())
        for c in t:
            share = phi[c] / total if total != 0 else 1 / len(t)
            out[c] += share * np.array([conv[t], val[t]])
    return out


def as_arrays(got_conv, got_val, expected):
    names = sorted(expected)
    return (
        np.array([got_conv[c] for c in names]),
        np.array([got_val[c] for c in names]),
        np.array([expected[c] for c in names]),
    )


# -- published examples --------------------------------------------------------------
def test_game_solver_gives_the_published_values_77_6_47_6_13_3():
    worth = {
        frozenset({"SE"}): 10,
        frozenset({"SM"}): 5,
        frozenset({"EM"}): 3,
        frozenset({"SE", "SM"}): 20,
        frozenset({"SE", "EM"}): 15,
        frozenset({"SM", "EM"}): 10,
        frozenset({"SE", "SM", "EM"}): 25,
    }
    got = shapley_values(worth)
    assert got == pytest.approx({"SE": 77 / 6, "SM": 47 / 6, "EM": 13 / 3})


def test_game_solver_treats_unlisted_coalitions_as_worth_zero():
    worth = {frozenset("ab"): 6.0, frozenset("abc"): 9.0}
    got = shapley_values(worth, players="abcd")
    expected = brute_shapley(list("abcd"), lambda s: worth.get(s, 0.0))
    assert got == pytest.approx(expected)


def test_default_shapley_a_alone_b_alone_and_together_gives_4_5_and_2_5():
    j = Journeys.from_paths([["A"], ["B"], ["A", "B"]], [2, 1, 4], nulls=[8, 9, 6])
    assert credit(j, "shapley") == pytest.approx({"A": 4.5, "B": 2.5})
    assert credit(j, "shapley", "value") == pytest.approx({"A": 4.5, "B": 2.5})


def test_subset_rates_published_rates_give_shares_455_205_340():
    rates = {"F": 0.20, "O": 0.10, "L": 0.17, "FO": 0.17, "FL": 0.30, "LO": 0.0, "FLO": 0.06}
    conv = [round(r * 100) for r in rates.values()]
    j = Journeys.from_paths([list(k) for k in rates], conv, nulls=[100 - c for c in conv])
    frame = at.attribute(j, ["shapley:characteristic=subset_rates"]).credits
    shares = dict(zip(frame["channel"], frame["share"], strict=True))
    assert shares == pytest.approx({"F": 0.455, "O": 0.205, "L": 0.340})
    assert frame["conversions"].sum() == pytest.approx(sum(conv))


ZHAO = Journeys.from_paths(
    [["1", "2", "3"], ["1", "2"], ["2", "3"], ["1"], ["3", "1", "2"]],
    [1, 1, 0, 1, 0],
    nulls=[0, 0, 1, 0, 1],
)


@pytest.mark.parametrize("spec", ["shapley:characteristic=subset_conversions", "ordered_shapley"])
def test_subset_conversions_example_gives_11_6_5_6_1_3(spec):
    assert credit(ZHAO, spec) == pytest.approx({"1": 11 / 6, "2": 5 / 6, "3": 1 / 3})


def test_ordered_shapley_splits_a_repeated_channel_over_its_positions():
    j = Journeys.from_paths([["a", "b", "a"], ["b"]], [1, 1], [12, 5])
    result = at.attribute(j, ["ordered_shapley"])
    rows = result.details()["ordered_shapley"]["position_credit"]
    # flat keys: pytest >= 9.2 refuses tuples as approx values inside a dict
    got = {(r["channel"], r["position"], m): r[m] for r in rows for m in ("conversions", "value")}
    expected = {("a", 1): (0.25, 3), ("b", 2): (0.5, 6), ("a", 3): (0.25, 3), ("b", 1): (1, 5)}
    flat = {
        (*k, m): v[i] for k, v in expected.items() for i, m in enumerate(("conversions", "value"))
    }
    assert got == pytest.approx(flat)
    assert credit(j, "ordered_shapley") == pytest.approx({"a": 0.5, "b": 1.5})


# -- brute force on random small inputs -----------------------------------------------
@settings(max_examples=60, deadline=None)
@given(journeys_strategy(max_channels=6, max_rows=20, weighted=True))
def test_conversion_rate_equals_brute_force_per_channel_set(journeys):
    expected = brute_conversion_rate(journeys)
    frame = at.attribute(journeys, ["shapley"]).credits
    got = {c: (a, b) for c, a, b in frame.select("channel", "conversions", "value").iter_rows()}
    for c, (conv, val) in expected.items():
        assert got[c] == pytest.approx((conv, val), rel=1e-9, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(journeys_strategy(max_channels=6, max_rows=20, weighted=True))
def test_subset_conversions_is_the_shapley_value_of_the_subset_game(journeys):
    rows = list(rows_of(journeys))

    def worth(s):  # conversions of the journeys whose channels all lie in s
        return sum(c for t, c, _, _ in rows if t <= s)

    expected = brute_shapley(list(journeys.channels), worth)
    got = credit(journeys, "shapley:characteristic=subset_conversions")
    assert got == pytest.approx(expected, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(journeys_strategy(max_channels=6, max_rows=20, weighted=True))
def test_subset_rates_is_the_shapley_value_of_the_rate_dividend_game_scaled(journeys):
    conv, nul = defaultdict(float), defaultdict(float)
    for t, c, _, n in rows_of(journeys):
        conv[t] += c
        nul[t] += n
    rate = {t: conv[t] / (conv[t] + nul[t]) if conv[t] + nul[t] else 0.0 for t in conv}

    def worth(s):  # Harsanyi dividends are the exact-set rates
        return sum(r for t, r in rate.items() if t <= s)

    phi = brute_shapley(list(journeys.channels), worth)
    total = sum(phi.values())
    got = credit(journeys, "shapley:characteristic=subset_rates")
    if total > 0:
        expected = {c: journeys.total_conversions * p / total for c, p in phi.items()}
        assert got == pytest.approx(expected, abs=1e-9)
    else:
        assert sum(got.values()) == pytest.approx(journeys.total_conversions)


@settings(max_examples=40, deadline=None)
@given(journeys_strategy(max_channels=6, max_rows=20, weighted=True))
def test_seen_subset_pairs_are_exactly_the_converting_sets_inside_converting_sets(journeys):
    model = Shapley()
    at.attribute(journeys, [model])
    converting = defaultdict(float)
    for t, c, _, _ in rows_of(journeys):
        converting[t] += c
    seen = [t for t, c in converting.items() if c > 0]
    assert model.subset_pairs_ == sum(u <= t for t in seen for u in seen)


@pytest.mark.parametrize("characteristic", CLOSED_FORMS)
@settings(max_examples=40, deadline=None)
@given(journeys=journeys_strategy(max_channels=6, max_rows=25, weighted=True))
def test_closed_forms_never_give_negative_credit(characteristic, journeys):
    frame = at.attribute(journeys, [f"shapley:characteristic={characteristic}"]).credits
    assert (frame["conversions"] >= -1e-12).all() and (frame["value"] >= -1e-9).all()
    assert frame["conversions"].sum() == pytest.approx(journeys.total_conversions)


@settings(max_examples=30, deadline=None)
@given(journeys_strategy(max_channels=6, max_rows=20, weighted=True))
def test_more_than_63_channels_use_the_exact_trie_encoding_with_the_same_credit(journeys):
    wide = journeys.with_channels(journeys.channels + tuple(f"z{i:03d}" for i in range(70)))
    assert wide.n_channels > 63
    for spec in ["shapley", "shapley:characteristic=subset_rates", "ordered_shapley"]:
        a, b = credit(journeys, spec), credit(wide, spec)
        assert {c: b[c] for c in a} == pytest.approx(a, abs=1e-9)
    assert channel_sets(wide).n_sets == channel_sets(journeys).n_sets


@pytest.mark.parametrize("dense_limit", [0, 1 << 24], ids=["sorted", "counted"])
def test_trie_and_bitmask_group_the_same_rows_together(monkeypatch, dense_limit):
    import attribution.models.shapley as module

    monkeypatch.setattr(module, "_DENSE_PAIRS", dense_limit)  # both ways to count touches
    j = example_journeys(n=300, n_channels=6)
    for spec in ["shapley", "ordered_shapley"]:
        wide = j.with_channels(j.channels + tuple(f"z{i:03d}" for i in range(64)))
        a, b = credit(j, spec), credit(wide, spec)
        assert {c: b[c] for c in a} == pytest.approx(a, abs=1e-9)
    wide = j.with_channels(j.channels + tuple(f"z{i:03d}" for i in range(64)))
    a, b = channel_sets(j).row_set, channel_sets(wide).row_set
    # The same partition of the rows, whatever the set numbering.
    assert len(set(zip(a.tolist(), b.tolist(), strict=True))) == len(set(a.tolist()))


# -- the contract -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "model",
    [
        Shapley(),
        Shapley(characteristic="subset_conversions"),
        OrderedShapley(),
        Shapley(max_exact=2, samples=300, seed=3),  # most sets sampled
    ],
    ids=repr,
)
def test_shapley_models_pass_the_conformance_suite(model):
    check_model(model)


def test_subset_rates_passes_the_conformance_suite_but_the_one_channel_rule():
    rules = [r for r in CHECKS if r != "one_channel_journeys"]
    check_model(Shapley(characteristic="subset_rates"), rules=rules)


def test_subset_rates_weighs_channels_by_rate_not_volume_so_single_channels_lose_credit():
    # Zhao et al.'s closed form shares the total by rates: a channel with one
    # converting journey out of one outweighs one with 10 out of 100.
    j = Journeys.from_paths([["a"], ["b"]], [1, 10], nulls=[0, 90])
    assert credit(j, "shapley:characteristic=subset_rates") == pytest.approx(
        {"a": 11 / 1.1, "b": 1.1 / 1.1}
    )


def test_conversion_rate_gives_negative_credit_to_a_channel_that_lowers_the_rate():
    j = Journeys.from_paths([["a"], ["a", "b"]], [5, 1], nulls=[5, 9])
    got = credit(j, "shapley")
    # In {a, b}: v(a) = .5, v(ab) = .1, so phi_a = .5 / 2 + .1 / 2 = .3 and
    # phi_b = 0 / 2 + (.1 - .5) / 2 = -.2; {a, b}'s one conversion is shared 3 : -2.
    assert got == pytest.approx({"a": 5 + 3, "b": -2})
    assert Shapley.allows_negative


def test_value_without_conversions_is_shared_equally():
    j = Journeys.from_paths([["a", "b"], ["a"]], [0, 1], [10, 4], nulls=[3, 1])
    assert credit(j, "shapley", "value") == pytest.approx({"a": 9, "b": 5})


# -- sampling ---------------------------------------------------------------------------------
def big_sets(seed=0):
    """Journeys whose converting sets have 5 to 9 channels, over 12 channels."""
    rng = np.random.default_rng(seed)
    n = 400
    lengths = rng.integers(1, 10, n)
    codes = np.concatenate([rng.choice(12, k, replace=False) for k in lengths]).astype(np.uint32)
    conv = (rng.random(n) < 0.3 + 0.05 * lengths).astype(float)
    return Journeys(
        tuple(f"ch{i:02d}" for i in range(12)),
        codes,
        np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        conv,
        conv * rng.uniform(1, 50, n),
        1 - conv,
    )


def test_sets_above_max_exact_are_sampled_reproducibly_and_reported():
    j = big_sets()
    sampled = Shapley(max_exact=4, samples=400, seed=7)
    a = sampled.attribute(j)
    details = sampled.details()
    sizes = channel_sets(j).sizes
    sets = channel_sets(j)
    large = (sizes > 4) & (sets.conversions > 0)
    assert details["sampled_sets"] == int(large.sum())
    assert details["sampled_conversions"] == pytest.approx(sets.conversions[large].sum())
    assert details["samples"] == 400
    assert set(details["standard_error"]) <= set(j.channels) and details["standard_error"]
    assert a.equals(Shapley(max_exact=4, samples=400, seed=7).attribute(j))
    assert a.equals(Shapley(max_exact=4, samples=400, seed=7).attribute(shuffle_rows(j, 2)))
    assert not a.equals(Shapley(max_exact=4, samples=400, seed=8).attribute(j))


def test_sampled_credit_is_within_its_standard_error_of_the_exact_credit():
    j = big_sets(1)
    exact = Shapley().attribute(j)["conversions"].to_numpy()
    model = Shapley(max_exact=3, samples=2000, seed=1)
    got = model.attribute(j)["conversions"].to_numpy()
    se = np.array([model.standard_error_[c]["conversions"] for c in j.channels])
    assert (se > 0).all()
    assert np.all(np.abs(got - exact) < 5 * se)  # 5 SE: fails by chance about 1 in 10^6
    assert got.sum() == pytest.approx(j.total_conversions)


def test_a_twenty_channel_journey_is_exact_when_max_exact_allows():
    names = [f"c{i:02d}" for i in range(20)]
    j = Journeys.from_paths([names, names[:1], names[:2]], [1, 1, 1], nulls=[0, 3, 1])
    model = Shapley(max_exact=20)
    got = credit(j, model)
    assert model.details()["sampled_sets"] == 0
    # The 20-channel game: v(c00) = .25, v(c00, c01) = .5, v(all) = 1, else 0. Expected
    # marginal gains over random orders, by hand: c00 gains .25 when first, .5 right
    # after c01 alone, 1 when last; c01 gains .25 right after c00 alone, 1 when last;
    # any other channel gains 1 when last and loses .25 or .5 right after {c00} or
    # {c00, c01}.
    n = 20
    big = {
        "c00": 0.25 / n + 0.5 / (n * 19) + 1 / n,
        "c01": 0.25 / (n * 19) + 1 / n,
        "c19": 1 / n - 0.25 / (n * 19) - 0.5 * 2 / (n * 19 * 18),
    }
    # The {c00, c01} game gives .375 and .125 of its worth .5; {c00} is c00's alone.
    assert got["c00"] == pytest.approx(1 + 0.75 + big["c00"])
    assert got["c01"] == pytest.approx(0.25 + big["c01"])
    assert got["c19"] == pytest.approx(big["c19"])


# -- parameters, details, CLI ----------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"characteristic": "rates"}, "characteristic must be one of"),
        ({"max_exact": 0}, "max_exact must be an integer >= 1"),
        ({"samples": 1}, "samples must be an integer >= 2"),
        ({"seed": -1}, "seed must be an integer >= 0"),
        ({"max_exact": 2.5}, "max_exact must be an integer"),
    ],
)
def test_bad_parameters_are_refused_when_the_model_runs(kwargs, message):
    model = Shapley(**kwargs)  # stored unchanged, not checked yet
    assert model.get_params()[next(iter(kwargs))] == next(iter(kwargs.values()))
    with pytest.raises(ModelError, match=message):
        model.attribute(example_journeys())


def test_spec_strings_parse_every_parameter():
    model = at.spec.make_model(
        "shapley:characteristic=subset_rates,max_exact=12,samples=50,seed=4,base_rate=estimate"
    )
    assert model.get_params() == {
        "characteristic": "subset_rates",
        "max_exact": 12,
        "samples": 50,
        "seed": 4,
        "base_rate": "estimate",
    }
    assert at.spec.make_model("shapley:base_rate=0.02").base_rate == 0.02
    with pytest.raises(ModelError, match="characteristic"):
        at.spec.make_model("shapley:characteristic=nope")


def test_run_details_show_the_sampling_accounts_as_json(tmp_path):
    from attribution.cli.main import cli

    paths = tmp_path / "paths.csv"
    paths.write_text(
        "path,total_conversions,total_conversion_value,total_null\n"
        "a > b > c,3,30,7\na,1,10,9\na > b,2,20,2\nb,1,5,4\n"
    )
    result = CliRunner().invoke(
        cli,
        [
            "run",
            str(paths),
            "-m",
            "shapley:max_exact=2,samples=100",
            "-m",
            "ordered_shapley",
            "--format",
            "json",
            "--details",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    details = doc["details"]["shapley:max_exact=2,samples=100"]
    assert details["sampled_conversions"] == 3
    assert details["sampled_sets"] == 1
    assert set(details["standard_error"]) == {"a", "b", "c"}
    positions = doc["details"]["ordered_shapley"]["position_credit"]
    assert sum(p["conversions"] for p in positions) == pytest.approx(7)


# -- the simulator's truth and the benchmarks ----------------------------------------------
def test_true_incremental_credit_is_the_shapley_value_of_the_noisy_or_game():
    from attribution.simulate import DEFAULT_CHANNELS, true_incremental_credit

    names = ["display", "social", "affiliate", "email", "direct", "store"]
    j = Journeys.from_paths([names, ["store", "email"], ["display"]], [1, 0, 2], nulls=[0, 3, 1])
    lift = {c.name: c.lift for c in DEFAULT_CHANNELS}
    b = 0.02

    def p(s):
        return 1 - (1 - b) * math.prod(1 - lift[c] for c in s) if s else b

    expected = defaultdict(float)
    removal = defaultdict(float)
    for t, conv, _, nulls in rows_of(j):
        for c, v in brute_shapley(sorted(t), lambda s: p(s) - b).items():
            expected[c] += (conv + nulls) * v
            removal[c] += (conv + nulls) * (p(t) - p(t - {c}))
    truth = true_incremental_credit(j)
    got = dict(zip(truth["channel"], truth["caused"], strict=True))
    assert got == pytest.approx(dict(expected), rel=1e-12)
    got = dict(zip(truth["channel"], truth["removal"], strict=True))
    assert got == pytest.approx(dict(removal), rel=1e-12)
    assert truth["share"].sum() == pytest.approx(1.0)


def test_truth_benchmark_quick_pass_reports_every_model_on_both_truths():
    from benchmarks import truth

    table = truth.main(["--quick"])
    assert set(table["law"]) == set(truth.QUICK_LAWS)
    assert {"shapley", "ordered_shapley", "shapley:base_rate=estimate"} <= set(table["model"])
    assert ((table["tvd_shapley"] >= 0) & (table["tvd_shapley"] <= 1)).all()
    assert ((table["tvd_removal"] >= 0) & (table["tvd_removal"] <= 1)).all()
    # Even on 10k journeys the default shapley beats every rule-based model.
    noisy = table.filter(pl.col("law") == "noisy_or")
    best = noisy.sort("tvd_shapley")["model"].to_list()
    assert best.index("shapley") < best.index("last_touch") < best.index("first_touch")


def test_shapley_benchmark_quick_pass_runs():
    from benchmarks import bench_shapley

    stages = bench_shapley.main(["--quick", "--channels", "8", "70"])
    assert len(stages) == 2 * (1 + 2 * len(bench_shapley.MODELS))
    assert all(s.seconds > 0 for s in stages)


def test_sampling_is_reported_on_stderr_and_in_json(tmp_path):
    import json

    from click.testing import CliRunner

    from attribution.cli.main import cli
    from tests.conftest import ROOT

    events = str(ROOT / "sample_data" / "events.csv")
    spec = "shapley:max_exact=2,samples=200"
    result = CliRunner().invoke(cli, ["run", events, "-m", spec, "--format", "json"])
    doc = json.loads(result.stdout)
    (note,) = doc["notes"]
    assert note.startswith(f"{spec}: ") and "sampled Shapley value" in note
    assert f"note: {note}" in result.stderr
    exact = CliRunner().invoke(cli, ["run", events, "-m", "shapley", "--format", "json"])
    assert "notes" not in json.loads(exact.stdout) and "note:" not in exact.stderr


def test_sets_of_many_channels_stay_exact_when_their_hashes_collide(monkeypatch):
    import attribution.models.shapley as shapley

    rng = np.random.default_rng(1)
    names = [f"ch{i:03d}" for i in range(90)]
    paths = [list(rng.choice(names, rng.integers(1, 6))) for _ in range(400)]
    conv = rng.integers(0, 2, len(paths)).astype(float)
    j = at.Journeys.from_paths(paths, conv, nulls=1 - conv)
    want = shapley.channel_sets(j)
    # Every set hashing alike forces the exact fallback (bitmasks of 64-bit words).
    monkeypatch.setattr(shapley, "_zobrist", lambda n: np.zeros(n, dtype=np.uint64))
    got = shapley.channel_sets(j)
    assert got.n_sets == want.n_sets == len({frozenset(p) for p in paths})

    def members(sets):
        return sorted(
            (tuple(sets.codes[sets.offsets[k] : sets.offsets[k + 1]]), sets.conversions[k])
            for k in range(sets.n_sets)
        )

    assert members(got) == members(want)

    def set_of_row(sets, r):
        k = sets.row_set[r]
        return tuple(sets.codes[sets.offsets[k] : sets.offsets[k + 1]])

    assert all(set_of_row(got, r) == set_of_row(want, r) for r in range(j.n_rows))
