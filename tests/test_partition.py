"""Partitioned path building gives the in-memory builder's credit and accounts."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

import attribution as at
from attribution.cli.main import cli
from attribution.errors import InputError, ModelError
from attribution.models import Model, TouchWeightModel, credit_frame
from attribution.partition import (
    BASELINE_BYTES,
    BYTES_PER_EVENT,
    Reduction,
    attribute_partitioned,
    combine,
    combine_of,
    estimate_events,
    parse_memory,
    partition_of,
    partitions_for,
    reduce_journeys,
)
from tests.eventlogs import random_event_log

BUILTIN = [
    "first_touch",
    "last_touch",
    "linear",
    "time_decay",
    "position_based",
    "markov",
    "markov:order=2",
    "shapley",
    "ordered_shapley",
]


def in_memory(events, models=BUILTIN, **options):
    journeys = at.build_journeys(at.read_events(events), **options)
    return at.attribute(journeys, models)


def assert_same_result(got: at.AttributionResult, want: at.AttributionResult) -> None:
    a, b = got.credits, want.credits
    assert a["model"].to_list() == b["model"].to_list()
    assert a["channel"].to_list() == b["channel"].to_list()
    for col in ("conversions", "value", "share"):
        np.testing.assert_allclose(a[col].to_numpy(), b[col].to_numpy(), rtol=1e-9, atol=1e-9)
    s, t = got.summary, want.summary
    for key in s.keys() | t.keys():
        if isinstance(t[key], float) and "value" in key:
            assert s[key] == pytest.approx(t[key], rel=1e-12), key
        else:  # counts, which must be exact
            assert s[key] == t[key], key


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"lookback_days": None},
        {"lookback_days": 2.5, "collapse_repeats": True},
        {"max_touches": 3, "collapse_repeats": True},
    ],
    ids=["default", "no-lookback", "short-lookback-collapse", "max-touches"],
)
def test_many_partitions_give_the_in_memory_credit_and_accounts(seed, options):
    events = random_event_log(seed)
    want = in_memory(events, **options)
    assert want.summary["unattributed_conversions"] > 0  # the log has some, on purpose
    got = attribute_partitioned(events, BUILTIN, partitions=13, **options)
    assert_same_result(got, want)


def test_every_registered_model_runs_partitioned_like_in_memory():
    events = random_event_log(3)
    got = attribute_partitioned(events, partitions=4)
    # a model that reads touch times when there are some cannot run on the combined
    # paths and give its in-memory answer: it is skipped, with the reason
    skipped = {name for name, _ in got.skipped}
    assert "data_driven" in skipped and "markov" not in skipped
    assert_same_result(got, in_memory(events, [run.label for run in got.runs]))


def test_partitions_cover_every_customer_once():
    events = at.read_events(random_event_log(4))
    seen = [events.filter(partition_of(5, k))["customer"].unique() for k in range(5)]
    assert sum(len(s) for s in seen) == events["customer"].n_unique()
    assert pl.concat(seen).n_unique() == events["customer"].n_unique()


def test_paths_of_partitions_combine_to_the_paths_of_all():
    events = at.read_events(random_event_log(5))
    whole = at.build_journeys(events).aggregate()
    parts = [
        reduce_journeys(at.build_journeys(events.filter(partition_of(3, k)))) for k in range(3)
    ]
    combined = combine(parts)
    got, want = combined.paths.to_paths_table(), whole.to_paths_table()
    assert got.drop("total_conversion_value").equals(want.drop("total_conversion_value"))
    np.testing.assert_allclose(got["total_conversion_value"], want["total_conversion_value"])
    assert combined.paths.unattributed == whole.unattributed
    assert combined.customers == at.build_journeys(events).n_customers


def test_combine_of_nothing_is_empty():
    empty = combine([])
    assert isinstance(empty, Reduction) and empty.paths.n_rows == 0


def test_separate_conversions_with_other_id_types(tmp_path):
    touches = pl.DataFrame(
        {
            "customer_id": [1, 1, 2, 3],
            "timestamp": ["2024-01-01", "2024-01-02", "2024-01-01", "2024-01-03"],
            "channel": ["a", "b", "b", "a"],
        }
    )
    conversions = pl.DataFrame(
        {"customer_id": ["1", "2", "4"], "timestamp": ["2024-01-03"] * 3, "value": [5.0, 7.0, 1.0]}
    )
    journeys = at.load_journeys(touches, conversions=conversions)
    want = at.attribute(journeys, ["linear", "markov"])
    got = attribute_partitioned(
        touches, ["linear", "markov"], partitions=3, conversions=conversions
    )
    assert_same_result(got, want)
    assert got.summary["unattributed_conversions"] == 1


# -- how models combine ------------------------------------------------------
class _Undeclared(Model):
    name = "undeclared"

    def attribute(self, journeys):
        last = journeys.codes[journeys.offsets[1:] - 1]
        n = journeys.n_channels
        return credit_frame(
            journeys,
            np.bincount(last, journeys.conversions, minlength=n),
            np.bincount(last, journeys.value, minlength=n),
        )


class _NeedsTimes(_Undeclared):
    name = "needs_times_undeclared"
    needs_times = True


class _Summed(TouchWeightModel):
    name = "summed_decay"
    needs_times = True
    combine = "sum"

    def weights(self, journeys):
        raw = 1.0 / (1.0 + journeys.days_before)
        return raw / np.repeat(np.add.reduceat(raw, journeys.offsets[:-1]), journeys.lengths)


def test_builtin_models_declare_how_they_combine():
    registry = at.get_registry()
    how = {name: combine_of(registry.get(name)) for name in registry.names()}
    assert how == {
        "first_touch": "sum",
        "last_touch": "sum",
        "linear": "sum",
        "time_decay": "sum",
        "position_based": "sum",
        "markov": "paths",
        "shapley": "paths",
        "ordered_shapley": "paths",
        "data_driven": "paths",
    }


def test_undeclared_model_runs_on_the_combined_paths():
    assert combine_of(_Undeclared) == "paths"
    events = random_event_log(6)
    want = in_memory(events, [_Undeclared()])
    assert_same_result(attribute_partitioned(events, [_Undeclared()], partitions=5), want)


def test_undeclared_model_that_needs_times_is_refused_before_reading():
    with pytest.raises(ModelError, match=r"needs_times_undeclared.*needs touch times.*combine"):
        attribute_partitioned("no-such-file.csv", [_NeedsTimes()], partitions=2)


def test_undeclared_model_that_needs_times_is_skipped_when_running_every_model():
    at.register_model(_NeedsTimes)
    result = attribute_partitioned(random_event_log(7), partitions=2)
    assert "needs_times_undeclared" not in {run.label for run in result.runs}
    # data_driven, which reads touch times when given, is skipped the same way
    assert [name for name, _ in result.skipped] == ["data_driven", "needs_times_undeclared"]


def test_plugin_that_declares_sum_runs_per_partition_with_times():
    events = random_event_log(8)
    want = in_memory(events, [_Summed()])
    assert_same_result(attribute_partitioned(events, [_Summed()], partitions=6), want)


def test_unknown_combine_declaration_is_an_error():
    class Odd(_Undeclared):
        combine = "average"

    with pytest.raises(ModelError, match="combine = 'average'"):
        combine_of(Odd)


# -- input -----------------------------------------------------------------
def test_bad_row_in_a_partition_is_named_with_its_value(tmp_path):
    events = random_event_log(9).with_columns(pl.col("timestamp").dt.to_string())
    events = events.with_columns(
        timestamp=pl.when(pl.int_range(pl.len()) == 1234)
        .then(pl.lit("yesterday"))
        .otherwise(pl.col("timestamp"))
    )
    path = tmp_path / "events.csv"
    events.write_csv(path)
    with pytest.raises(InputError, match=r"row 1235 \('yesterday'\)"):
        attribute_partitioned(path, ["linear"], partitions=4)


def test_input_without_events_is_an_error(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("customer_id,timestamp,channel,event,value\n")
    with pytest.raises(InputError, match="has no events"):
        attribute_partitioned(path, ["linear"], partitions=3)


@pytest.mark.parametrize(
    "text, size",
    [("4GB", 4 * 10**9), ("4GiB", 4 * 2**30), ("2g", 2 * 2**30), ("1.5 MB", 1_500_000), ("7", 7)],
)
def test_memory_sizes_are_read(text, size):
    assert parse_memory(text) == size


@pytest.mark.parametrize("text", ["", "lots", "4XB", "0GB", "-1GB"])
def test_unreadable_memory_size_is_an_error(text):
    with pytest.raises(InputError, match="memory size"):
        parse_memory(text)


def limit_for(partitions: int, events: int) -> int:
    """A memory limit that :func:`partitions_for` splits ``events`` into ``partitions`` for."""
    room = events * BYTES_PER_EVENT / (partitions - 0.5)
    return int((BASELINE_BYTES + room) / 0.8)


def test_partitions_grow_as_the_limit_shrinks(tmp_path):
    path = tmp_path / "events.parquet"
    random_event_log(0, events=20_000).write_parquet(path)
    counts = [partitions_for(path, memory_limit=limit_for(n, 20_000)) for n in (1, 2, 7)]
    assert counts == [1, 2, 7]
    assert partitions_for(path, memory_limit=parse_memory("64GB")) == 1
    with pytest.raises(InputError, match="leaves no room"):
        partitions_for(path, memory_limit=parse_memory("100MB"))


def test_text_files_are_counted_by_their_line_length(tmp_path):
    path = tmp_path / "events.csv"
    random_event_log(0, events=5_000).write_csv(path)
    assert estimate_events(path) == pytest.approx(5_001, rel=0.02)


# -- the CLI ---------------------------------------------------------------
def run_json(*args):
    result = CliRunner().invoke(cli, ["run", *args, "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_cli_memory_limit_gives_the_same_output(tmp_path):
    path = tmp_path / "events.parquet"
    random_event_log(10, customers=2000, events=20_000).write_parquet(path)
    want = run_json(str(path))
    limit = limit_for(3, 20_000)
    assert partitions_for(path, memory_limit=limit) == 3
    got = run_json(str(path), "--memory-limit", str(limit))
    assert_same_dict(got["summary"], want["summary"])
    # data_driven reads touch times: skipped in partitions, run in memory
    kept = {c["model"] for c in got["credits"]}
    assert kept == {c["model"] for c in want["credits"]} - {"data_driven"}
    same = [c for c in want["credits"] if c["model"] in kept]
    assert len(got["credits"]) == len(same)
    for a, b in zip(got["credits"], same, strict=True):
        assert_same_dict(a, b)


def assert_same_dict(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key, value in b.items():
        if isinstance(value, float):
            assert a[key] == pytest.approx(value, rel=1e-9, abs=1e-9), key
        else:
            assert a[key] == value, key


def test_cli_rejects_an_unreadable_memory_limit(sample_events):
    result = CliRunner().invoke(cli, ["run", str(sample_events), "--memory-limit", "lots"])
    assert result.exit_code == 2 and "memory size" in result.output


# -- aggregation, which every partition does ------------------------------------
@pytest.mark.parametrize("n_channels, max_length", [(1, 5), (3, 40), (600, 12)])
def test_aggregate_groups_exactly_and_sorts_by_length_then_codes(n_channels, max_length):
    # 600 channels and 12 touches overflow int64 keys, so the keys are re-ranked on the way.
    rng = np.random.default_rng(n_channels)
    templates = [
        list(rng.integers(0, n_channels, rng.integers(1, max_length + 1))) for _ in range(300)
    ]
    paths = [templates[i] for i in rng.integers(0, len(templates), 3000)]
    names = [f"c{i:03d}" for i in range(n_channels)]
    conv = rng.integers(0, 2, len(paths)).astype(float)
    j = at.Journeys.from_paths([[names[c] for c in p] for p in paths], conv, nulls=1 - conv)
    want: dict[tuple, list[float]] = {}
    for p, c in zip(paths, conv, strict=True):
        totals = want.setdefault(tuple(names[k] for k in p), [0.0, 0.0])
        totals[0] += c
        totals[1] += 1 - c
    agg = j.aggregate()
    got = {}
    for r in range(agg.n_rows):
        path = tuple(agg.channels[k] for k in agg.codes[agg.offsets[r] : agg.offsets[r + 1]])
        got[path] = [agg.conversions[r], agg.nulls[r]]
    assert got == want
    order = sorted(got, key=lambda p: (len(p), p))
    assert list(got) == order


@pytest.mark.parametrize(
    "command, option",
    [("kpis", ["--memory-limit", "4GB"]), ("paths", ["--engine", "spark"])],
)
def test_commands_that_keep_every_journey_refuse_scale_options(sample_events, command, option):
    result = CliRunner().invoke(cli, [command, str(sample_events), *option])
    assert result.exit_code == 2 and "goes with run, compare and plot" in result.output
