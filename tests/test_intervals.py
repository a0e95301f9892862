"""Bootstrap intervals: known spreads, determinism, containment, coverage, CLI."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner
from scipy import stats

import attribution as at
from attribution.cli.main import cli
from attribution.compare import compare
from attribution.costs import join_costs
from attribution.intervals import (
    BOUND_COLUMNS,
    IntervalError,
    IntervalSettings,
    _Plan,
    bootstrap,
    compact_table,
    compute_intervals,
    cost_intervals,
)
from attribution.journeys import Journeys
from attribution.models import Model, credit_frame
from attribution.simulate import simulate_journeys


def with_customers(journeys: Journeys, customer: list[int]) -> Journeys:
    return replace(journeys, customer=np.asarray(customer, dtype=np.int64))


def one_channel() -> Journeys:
    j = Journeys.from_paths(
        [["a"], ["a", "a"], ["a"], ["a", "a", "a"]],
        conversions=[1, 1, 0, 1],
        value=[10.0, 25.0, 0.0, 7.5],
        nulls=[0, 0, 1, 0],
        days_before=[[1.0], [3.0, 0.5], [2.0], [9.0, 4.0, 0.0]],
    )
    return with_customers(j, [0, 1, 2, 2])


def two_channels(k: int, n: int) -> Journeys:
    """Paths table: ``k`` conversions on path a, ``n - k`` on path b."""
    return Journeys.from_paths([["a"], ["b"]], conversions=[k, n - k])


# -- known spreads -------------------------------------------------------------
def test_one_channel_gives_every_model_zero_width():
    j = one_channel()
    credits = at.attribute(j, None, intervals=40, seed=3).credits
    assert set(credits["model"]) >= {"linear", "time_decay", "markov", "shapley"}
    for m in ("conversions", "value", "share"):
        assert credits[f"{m}_lo"].to_list() == pytest.approx(credits[m].to_list(), rel=1e-12)
        assert credits[f"{m}_hi"].to_list() == pytest.approx(credits[m].to_list(), rel=1e-12)
    assert credits["share"].to_list() == pytest.approx([1.0] * credits.height)


def test_two_channels_spread_is_binomial():
    k, n, level = 300, 1000, 0.9
    result = at.attribute(two_channels(k, n), ["last_touch"]).with_intervals(
        1000, level=level, seed=11
    )
    share_a = result.intervals.samples["last_touch"][:, 0, 0] / n
    p = k / n
    sd = np.sqrt(p * (1 - p) / n)  # the binomial spread of a share of n conversions
    assert share_a.std() == pytest.approx(sd, rel=0.1)
    row = result.credits.filter(pl.col("channel") == "a").row(0, named=True)
    lo, hi = stats.binom.ppf([(1 - level) / 2, (1 + level) / 2], n, p) / n
    assert row["share_lo"] == pytest.approx(lo, abs=0.004)
    assert row["share_hi"] == pytest.approx(hi, abs=0.004)
    assert row["conversions_lo"] == pytest.approx(row["share_lo"] * n)


def test_a_customers_journeys_are_resampled_together():
    # Every customer has one journey ending on a and one on b: however the
    # customers are drawn, a and b keep equal credit. Resampling journeys
    # one by one would spread it.
    paths = [["a"], ["b"]] * 50
    j = Journeys.from_paths(paths, conversions=[1] * 100)
    together = with_customers(j, np.repeat(np.arange(50), 2).tolist())
    credits = at.attribute(together, ["last_touch"], intervals=50).credits
    assert credits["share_lo"].to_list() == pytest.approx([0.5, 0.5])
    assert credits["share_hi"].to_list() == pytest.approx([0.5, 0.5])
    apart = at.attribute(j, ["last_touch"], intervals=50).credits  # a paths table
    assert (apart["share_hi"] - apart["share_lo"] > 0.05).all()


def test_what_is_resampled_is_reported():
    events = at.attribute(one_channel(), ["linear"], intervals=5).intervals
    paths = at.attribute(two_channels(3, 10), ["linear"], intervals=5).intervals
    assert (events.resampled, events.units) == ("customers", 3)
    assert (paths.resampled, paths.units) == ("journeys", 10)
    assert "Poisson bootstrap of customers" in events.summary()["method"]


# -- determinism and containment -----------------------------------------------
@pytest.fixture(scope="module")
def small() -> Journeys:
    return simulate_journeys(3000, seed=5)


MODELS = ["first_touch", "linear", "time_decay", "markov", "shapley", "ordered_shapley"]


def test_same_seed_same_bounds_whatever_the_workers(small):
    result = at.attribute(small, MODELS)
    one = result.with_intervals(12, seed=7, workers=1).credits
    two = result.with_intervals(12, seed=7, workers=2).credits
    assert one.equals(two)
    other = result.with_intervals(12, seed=8, workers=1).credits
    assert not one.select(BOUND_COLUMNS).equals(other.select(BOUND_COLUMNS))


def test_intervals_contain_the_point_estimate(small):
    credits = bootstrap(small, MODELS, n=20, seed=1)
    for m in ("conversions", "value", "share"):
        assert (credits[f"{m}_lo"] <= credits[m] + 1e-9).all()
        assert (credits[m] <= credits[f"{m}_hi"] + 1e-9).all()
    assert (credits["conversions_hi"] > credits["conversions_lo"]).any()


def test_replicates_leave_the_fitted_models_alone(small):
    result = at.attribute(small, ["markov"])
    before = dict(result.runs[0].model.removal_effects_)
    result.with_intervals(5)
    assert result.runs[0].model.removal_effects_ == before


def test_paths_and_journeys_replicates_agree(small):
    # Models that do not need times run on reweighted distinct paths, the
    # others on the reweighted journeys: the same replicate either way.
    plan = _Plan(small, paths=True, times=True)
    wc, wn = plan.draw(np.random.default_rng(0))
    on_paths, on_journeys = plan.on_paths(wc, wn), plan.on_journeys(wc, wn)
    assert on_paths.n_rows < on_journeys.n_rows
    for name in ("linear", "markov", "shapley"):
        a = at.attribute(on_paths, [name]).credits
        b = at.attribute(on_journeys, [name]).credits
        assert a["conversions"].to_list() == pytest.approx(b["conversions"].to_list(), rel=1e-9)
        assert a["value"].to_list() == pytest.approx(b["value"].to_list(), rel=1e-9)


def test_a_plugin_model_gets_intervals_without_code_of_its_own(small):
    class LastOnly(Model):
        name = "last_only"

        def attribute(self, journeys):
            last = journeys.codes[journeys.offsets[1:] - 1]
            n = journeys.n_channels
            return credit_frame(
                journeys,
                np.bincount(last, journeys.conversions, minlength=n),
                np.bincount(last, journeys.value, minlength=n),
            )

    mine = bootstrap(small, [LastOnly()], n=15, seed=2)
    builtin = bootstrap(small, ["last_touch"], n=15, seed=2)
    assert mine.select(BOUND_COLUMNS).equals(builtin.select(BOUND_COLUMNS))


def test_replicates_that_credit_nothing_are_left_out_and_counted():
    # Two conversions: a replicate draws none of them with probability e^-2.
    j = Journeys.from_paths([["a"], ["b", "a"]], conversions=[1, 1], nulls=[0, 3])
    result = at.attribute(j, ["linear"], intervals=60, seed=1)
    left_out = result.intervals.summary()["degenerate_replicates"]["linear"]
    assert 0 < left_out < 30
    credits = result.credits
    assert credits["conversions_lo"].is_not_null().all()
    empty = at.attribute(Journeys.empty(("a", "b")), ["linear"], intervals=5).credits
    assert empty["conversions_hi"].to_list() == [0.0, 0.0]
    assert empty["share_lo"].is_null().all()


# -- few conversions -------------------------------------------------------------
def test_channels_touched_by_few_conversions_are_flagged():
    j = Journeys.from_paths(
        [["a"], ["b", "a"], ["rare", "a"]], conversions=[40, 10, 5], nulls=[100, 20, 3]
    )
    result = at.attribute(j, ["linear", "markov"], intervals=10)
    credits = result.credits
    touched = dict(zip(credits["channel"], credits["touched_conversions"], strict=False))
    assert touched == {"a": 55.0, "b": 10.0, "rare": 5.0}
    flagged = credits.filter(pl.col("few_conversions"))["channel"].unique().sort().to_list()
    assert flagged == ["b", "rare"]
    assert result.intervals.summary()["few_conversions"] == ["b", "rare"]
    assert "b, rare" in result.intervals.summary_line()
    stricter = at.attribute(j, ["linear"]).with_intervals(10, min_conversions=6).credits
    assert stricter.filter(pl.col("few_conversions"))["channel"].to_list() == ["rare"]


# -- costs and compare -------------------------------------------------------------
def test_cost_bounds_are_the_replicates_own_percentiles(small):
    result = at.attribute(small, ["linear"]).with_intervals(40, seed=4)
    costs = {c: 100.0 * (i + 1) for i, c in enumerate(small.channels)}
    costed = cost_intervals(join_costs(result.credits, costs).table)
    samples = result.intervals.samples["linear"]
    for i, channel in enumerate(small.channels):
        row = costed.filter(pl.col("channel") == channel).row(0, named=True)
        cpa = costs[channel] / samples[:, i, 0]
        roi = (samples[:, i, 1] - costs[channel]) / costs[channel]
        for name, draws in (("cpa", cpa), ("roi", roi)):
            ordered = np.sort(draws)  # 40 replicates: k = floor(41 * 0.05) = 2
            lo, hi = ordered[1], ordered[-2]
            assert row[f"{name}_lo"] == pytest.approx(min(lo, row[name]), rel=1e-12)
            assert row[f"{name}_hi"] == pytest.approx(max(hi, row[name]), rel=1e-12)
    total = costed.filter(pl.col("channel") == "(total)").row(0, named=True)
    assert total["cpa_lo"] == total["cpa"] == total["cpa_hi"]


def test_a_costed_channel_without_journeys_has_fixed_bounds_and_is_flagged(small):
    credits = at.attribute(small, ["linear"], intervals=10).credits
    joined = join_costs(credits, {"email": 50.0, "tv": 500.0})
    assert joined.uncosted and "tv" not in joined.uncosted  # the others have no cost
    costed = cost_intervals(joined.table)
    tv = costed.filter(pl.col("channel") == "tv").row(0, named=True)
    assert (tv["conversions_lo"], tv["conversions_hi"], tv["share_hi"]) == (0.0, 0.0, 0.0)
    assert tv["few_conversions"] is True and tv["touched_conversions"] == 0.0
    assert tv["cpa_hi"] is None and tv["roas_hi"] == 0.0
    total = costed.filter(pl.col("channel") == "(total)").row(0, named=True)
    assert total["few_conversions"] is False and total["touched_conversions"] is None


def bounds_frame(rows: list[tuple[str, str, float, float, float]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows, schema=["model", "channel", "share", "share_lo", "share_hi"], orient="row"
    )


def test_compare_marks_models_whose_intervals_miss_the_baselines():
    credits = bounds_frame(
        [
            ("base", "x", 0.5, 0.4, 0.6),
            ("near", "x", 0.62, 0.59, 0.7),  # overlaps
            ("far", "x", 0.8, 0.7, 0.9),  # does not
            ("base", "y", 0.5, 0.4, 0.6),
            ("near", "y", 0.3, 0.2, 0.38),  # does not, from below
            ("far", "y", 0.2, 0.1, 0.4),  # touches at 0.4
        ]
    )
    wide = compare(credits, "share")
    assert wide["differs"].to_list() == ["far", "near"]
    assert wide.columns[:4] == ["channel", "base", "base_lo", "base_hi"]
    assert compare(credits, "share", baseline="far")["differs"].to_list() == ["base", ""]
    with pytest.raises(at.InputError, match="baseline model 'nope'"):
        compare(credits, "share", baseline="nope")


def test_compact_table_writes_each_bound_beside_its_figure():
    frame = bounds_frame([("m", "x", 0.5, 0.25, 0.75)]).with_columns(few_conversions=True)
    table = compact_table(frame, digits=2)
    assert table.columns == ["model", "channel", "share", "few_conversions"]
    assert table.row(0) == ("m", "x", "0.50 [0.25, 0.75]", "few")


# -- settings ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (IntervalSettings(n=1), "replicates must be an integer >= 2"),
        (IntervalSettings(level=1.0), "level must be a number in"),
        (IntervalSettings(seed=-1), "seed must be"),
        (IntervalSettings(workers=0), "workers must be"),
    ],
)
def test_unusable_settings_are_refused(settings, message):
    result = at.attribute(two_channels(3, 10), ["linear"])
    with pytest.raises(IntervalError, match=message):
        compute_intervals(result.journeys, result.runs, settings)


# -- coverage, small scale -----------------------------------------------------------
def test_ninety_percent_intervals_cover_about_ninety_percent():
    # Independent data sets from one law; each interval should hold the
    # model's share on a very large sample of that law in about 90% of cases.
    truth = at.attribute(simulate_journeys(200_000, seed=10_000), ["linear"]).credits
    true_share = truth["share"].to_numpy()
    hits = []
    for seed in range(24):
        credits = bootstrap(simulate_journeys(2_000, seed=seed), ["linear"], n=60, seed=seed)
        lo, hi = credits["share_lo"].to_numpy(), credits["share_hi"].to_numpy()
        hits.append((lo <= true_share) & (true_share <= hi))
    coverage = float(np.mean(hits))
    assert 0.8 <= coverage <= 0.97, coverage


# -- command line --------------------------------------------------------------------
def test_run_with_intervals_writes_plain_bound_columns(sample_events, tmp_path):
    out = tmp_path / "credits.csv"
    args = ["run", str(sample_events), "-m", "linear", "--intervals", "10", "-o", str(out)]
    res = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "intervals: 90% percentile over 10 bootstrap replicates" in res.stderr
    frame = pl.read_csv(out)
    assert set(BOUND_COLUMNS) | {"few_conversions"} <= set(frame.columns)
    assert (frame["conversions_lo"] <= frame["conversions"]).all()


def test_run_parquet_has_the_bounds_as_float_columns(sample_events, tmp_path):
    out = tmp_path / "credits.parquet"
    args = ["run", str(sample_events), "-m", "markov", "--intervals", "5", "-o", str(out)]
    res = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    frame = pl.read_parquet(out)
    assert all(frame.schema[c] == pl.Float64 for c in BOUND_COLUMNS)
    assert frame.schema["few_conversions"] == pl.Boolean


def test_run_table_shows_bounds_beside_the_credit(sample_events):
    args = ["run", str(sample_events), "-m", "linear", "--intervals", "10", "--level", "0.8"]
    res = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    line = next(x for x in res.stdout.splitlines() if x.startswith("paid_search"))
    found = re.fullmatch(r"paid_search\s+([\d.,]+) \[([\d.,]+), ([\d.,]+)\]", line.strip())
    assert found, line
    figure, lo, hi = (float(v.replace(",", "")) for v in found.groups())
    assert lo < figure < hi


def test_run_json_with_costs_has_cost_bounds_and_the_summary(sample_events):
    costs = sample_events.parent / "costs.csv"
    args = ["run", str(sample_events), "-m", "linear", "--intervals", "10", "--seed", "4"]
    args += ["--costs", str(costs), "--format", "json"]
    res = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["summary"]["intervals"]["seed"] == 4
    row = doc["credits"][0]
    assert row["cpa_lo"] <= row["cpa"] <= row["cpa_hi"]


def test_compare_with_intervals_lists_the_models_that_differ(sample_events):
    args = ["compare", str(sample_events), "-m", "first_touch", "-m", "linear"]
    args += ["--intervals", "20", "--format", "csv"]
    res = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    wide = pl.read_csv(res.stdout.encode())
    assert {"first_touch_lo", "linear_hi", "differs", "few_conversions"} <= set(wide.columns)
    # first touch puts display and social far above linear: no overlap there
    differs = dict(zip(wide["channel"], wide["differs"].fill_null(""), strict=True))
    assert differs["display"] == "linear"


def test_baseline_needs_intervals(sample_events):
    args = ["compare", str(sample_events), "--baseline", "linear"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 2
    assert "--baseline goes with --intervals" in res.output


def test_a_replicates_converting_rows_are_what_select_gives(small):
    plan = _Plan(small, paths=True, times=True)
    wc, wn = plan.draw(np.random.default_rng(5))
    for rep in (plan.on_paths(wc, wn), plan.on_journeys(wc, wn)):
        fast = rep.converting  # filled in ahead by the replicate
        slow = rep.select(rep.conversions > 0)
        for name in ("codes", "offsets", "conversions", "value", "nulls", "position"):
            assert np.array_equal(getattr(fast, name), getattr(slow, name)), name
        assert (fast.days_before is None) == (slow.days_before is None)
        if fast.days_before is not None:
            assert np.array_equal(fast.days_before, slow.days_before)
            assert np.array_equal(fast.customer, slow.customer)


def test_zero_count_rows_leave_every_builtin_model_unchanged(small):
    # A replicate keeps the rows of customers drawn zero times, with zero
    # counts; dropping those rows instead must not change any model's credit.
    plan = _Plan(small, paths=True, times=True)
    wc, wn = plan.draw(np.random.default_rng(3))
    rep = plan.on_journeys(wc, wn)
    dropped = rep.select((rep.conversions != 0) | (rep.nulls != 0))
    assert dropped.n_rows < rep.n_rows
    kept, without = at.attribute(rep, None).credits, at.attribute(dropped, None).credits
    assert kept["model"].n_unique() >= 8
    for m in ("conversions", "value"):
        assert kept[m].to_list() == pytest.approx(without[m].to_list(), rel=1e-9, abs=1e-9)


def test_the_benchmark_runs_quickly():
    from benchmarks import bench_intervals

    out = bench_intervals.main(["--quick"])
    table = out["coverage"]
    assert set(table["model"]) == set(bench_intervals.builtin_models())
    assert table["coverage"].is_between(0, 1).all()
    assert out["speed-8-0"][1].seconds > 0
