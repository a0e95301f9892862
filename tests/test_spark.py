"""The Spark path builder gives the polars builder's credit (Spark local mode).

Skipped when pyspark (the [spark] extra) or Java is missing. One local Spark
session serves the whole module; the logs are small so that it stays quick.
"""

from __future__ import annotations

import os
import shutil
import warnings

import pytest

if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("the Spark tests need Java", allow_module_level=True)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)  # pyspark's note about pandas 3
    pyspark = pytest.importorskip("pyspark")

import polars as pl
from click.testing import CliRunner

import attribution as at
from attribution.cli.main import cli
from attribution.errors import InputError, ModelError
from attribution.spark import attribute_spark, reduce_spark
from tests.eventlogs import random_event_log
from tests.test_partition import BUILTIN, _NeedsTimes, assert_same_result, in_memory


@pytest.fixture(scope="module")
def spark():
    from attribution.spark import spark_session

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    session = spark_session("local[2]", {"spark.sql.shuffle.partitions": "2"})
    yield session
    session.stop()


def spark_frame(spark, frame: pl.DataFrame, tmp_path, name: str = "events"):
    path = tmp_path / f"{name}.parquet"
    frame.write_parquet(path)
    return spark.read.parquet(str(path))


def test_sample_data_gives_the_polars_credit(spark, sample_events):
    want = at.attribute(at.load_journeys(sample_events), BUILTIN)
    got = attribute_spark(str(sample_events), BUILTIN, spark=spark)
    assert_same_result(got, want)


@pytest.mark.parametrize(
    "seed, options",
    [
        (0, {}),
        (1, {"lookback_days": 2.5, "collapse_repeats": True}),
        (2, {"lookback_days": None, "max_touches": 3, "collapse_repeats": True}),
    ],
    ids=["default", "short-lookback-collapse", "no-lookback-max-touches"],
)
def test_random_logs_give_the_polars_credit_and_accounts(spark, tmp_path, seed, options):
    events = random_event_log(seed)
    want = in_memory(events, **options)
    got = attribute_spark(spark_frame(spark, events, tmp_path), BUILTIN, **options)
    assert want.summary["unattributed_conversions"] > 0
    assert_same_result(got, want)


def test_paths_table_and_sums_come_back_as_a_reduction(spark, tmp_path):
    from attribution.models.heuristics import TimeDecay

    events = random_event_log(3)
    journeys = at.build_journeys(at.read_events(events))
    reduction = reduce_spark(
        spark_frame(spark, events, tmp_path), models=[("time_decay", TimeDecay())]
    )
    got, want = reduction.paths.to_paths_table(), journeys.to_paths_table()
    assert got.drop("total_conversion_value").equals(want.drop("total_conversion_value"))
    assert reduction.paths.unattributed.conversions == journeys.unattributed.conversions
    assert reduction.customers == journeys.n_customers
    credit = at.attribute(journeys, ["time_decay"]).runs[0].credits
    assert reduction.sums["time_decay"]["channel"].to_list() == credit["channel"].to_list()
    assert reduction.sums["time_decay"]["value"].to_list() == pytest.approx(
        credit["value"].to_list(), rel=1e-9
    )


def test_separate_conversions_with_other_id_types(spark, tmp_path):
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
    want = at.attribute(at.load_journeys(touches, conversions=conversions), ["linear", "markov"])
    got = attribute_spark(
        spark_frame(spark, touches, tmp_path),
        ["linear", "markov"],
        conversions=spark_frame(spark, conversions, tmp_path, "conversions"),
    )
    assert_same_result(got, want)


def test_unusable_rows_are_reported(spark, tmp_path):
    events = random_event_log(4).with_columns(
        value=pl.when(pl.int_range(pl.len()) == 7).then(-1.0).otherwise("value"),
        event=pl.when(pl.int_range(pl.len()) == 7).then(pl.lit("conversion")).otherwise("event"),
    )
    with pytest.raises(InputError, match=r"column 'value'.*not a finite number >= 0 in 1 rows"):
        reduce_spark(spark_frame(spark, events, tmp_path))


def test_model_that_needs_times_without_a_spark_form_is_refused(spark, tmp_path):
    with pytest.raises(ModelError, match="needs touch times"):
        attribute_spark(spark_frame(spark, random_event_log(5), tmp_path), [_NeedsTimes()])


def test_cli_engine_spark_gives_the_polars_output(spark, tmp_path):
    path = tmp_path / "events.csv"
    random_event_log(6).with_columns(
        pl.col("timestamp").dt.to_string("%Y-%m-%dT%H:%M:%SZ")
    ).write_csv(path)
    runner = CliRunner()
    args = [
        "run",
        str(path),
        "-m",
        "linear",
        "-m",
        "time_decay",
        "-m",
        "shapley",
        "--format",
        "csv",
    ]
    want = runner.invoke(cli, args, catch_exceptions=False)
    got = runner.invoke(
        cli, [*args, "--engine", "spark", "--spark-master", "local[1]"], catch_exceptions=False
    )
    assert got.exit_code == 0, got.output
    a = pl.read_csv(got.stdout.encode())
    b = pl.read_csv(want.stdout.encode())
    assert a.select("model", "channel").equals(b.select("model", "channel"))
    assert (a["conversions"] - b["conversions"]).abs().max() < 1e-9
