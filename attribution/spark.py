"""The path builder on Spark: the polars builder's rules as DataFrame operations.

Events stay on the cluster. Spark sorts each customer's events, splits them
at conversions, applies the lookback window, collapses repeats, keeps the
last touches and counts what is unattributed, all with window functions and
aggregations (no Python function runs on the events). Only the small results
come back to the driver: the paths table (distinct paths with their
conversions, value and nulls), the accounts, and the per-channel credit of
the models that need touch times and have a Spark form (time decay). That is
an :class:`attribution.partition.Reduction`, so every model then runs as it
does after a partitioned build (:func:`attribution.partition.attribute_reduced`).

Needs the ``[spark]`` extra (pyspark 4, Java 17); pyspark is imported only
when a function here is called.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from attribution.api import AttributionResult, ModelSpec
from attribution.builder import journeys_from_paths
from attribution.capabilities import HasHalfLife
from attribution.errors import InputError, ModelError
from attribution.journeys import Unattributed
from attribution.model import Model
from attribution.partition import (
    Reduction,
    attribute_reduced,
    choose_partitioned,
    combine_of,
    split_models,
)
from attribution.sources import TIME_UNITS, EventColumns

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

__all__ = ["attribute_spark", "read_spark_events", "reduce_spark", "spark_session"]

_US_PER_DAY = 86_400e6


def _pyspark() -> Any:
    """pyspark.sql.functions, or a clear error when the extra is not installed."""
    try:
        with warnings.catch_warnings():
            # pyspark warns about the pandas version at import; we do not use pandas.
            warnings.simplefilter("ignore", FutureWarning)
            import pyspark.sql.functions as functions
    except ImportError as exc:
        raise InputError(
            "the Spark engine needs pyspark: pip install 'attribution-engine[spark]'"
        ) from exc
    return functions


def spark_session(master: str | None = None, config: dict[str, str] | None = None) -> SparkSession:
    """A Spark session for the engine: ``master`` if given, else Spark's own
    configuration (``spark-defaults.conf``, ``MASTER``; local mode when none),
    with ``config`` on top.

    Naive timestamps are read as UTC, as the polars reader does. In local
    mode (``master`` ``local...``, or none given and no ``MASTER`` set) the
    driver listens on the loopback interface only, and neither the web UI
    nor the console progress bar is started; so a cluster master set only in
    ``spark-defaults.conf`` must be passed as ``master``.
    """
    _pyspark()
    from pyspark.sql import SparkSession

    settings = {"spark.sql.session.timeZone": "UTC"}
    if (master or os.environ.get("MASTER") or "local").startswith("local"):
        settings |= {
            "spark.driver.host": "127.0.0.1",
            "spark.driver.bindAddress": "127.0.0.1",
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            # a few partitions per core, not Spark's 200 for a cluster
            "spark.sql.shuffle.partitions": str(4 * (os.cpu_count() or 1)),
        }
    builder = SparkSession.builder.appName("attribution-engine")
    if master is not None:
        builder = builder.master(master)
    for key, value in (settings | (config or {})).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def read_spark_events(spark: SparkSession, path: str) -> DataFrame:
    """Any path Spark can read, by its extension: Parquet, CSV (with a header,
    read as text), NDJSON/JSON; a folder is read as Parquet."""
    lower = path.lower().rstrip("/")
    if lower.endswith((".csv", ".csv.gz", ".tsv", ".txt")):
        sep = "\t" if lower.endswith(".tsv") else ","
        return spark.read.option("header", True).option("sep", sep).csv(path)
    if lower.endswith((".ndjson", ".jsonl", ".json")):
        return spark.read.json(path)
    return spark.read.parquet(path)


# -- events -----------------------------------------------------------------
def _time(df: DataFrame, name: str, unit: str | None, where: str) -> Column:
    """Column ``name`` as microseconds since the epoch (null where unreadable)."""
    F = _pyspark()
    from pyspark.sql import types as T

    dtype = df.schema[name].dataType
    col = F.col(name)
    if isinstance(dtype, (T.TimestampType, T.TimestampNTZType)):
        return F.unix_micros(col.cast("timestamp"))
    if isinstance(dtype, T.DateType):
        return F.unix_micros(col.cast("timestamp"))
    if isinstance(dtype, T.NumericType):
        if unit is None:
            raise InputError(
                f"{where}: time column '{name}' holds numbers ({dtype.simpleString()}); "
                f"state their epoch unit with --time-unit ({'|'.join(TIME_UNITS)})"
            )
        if unit not in TIME_UNITS:
            raise InputError(f"unknown time unit '{unit}'; expected one of {list(TIME_UNITS)}")
        per_us = {"s": 1e6, "ms": 1e3, "us": 1.0, "ns": 1e-3}[unit]
        return F.round(col.cast("double") * per_us, 0).cast("long")
    if isinstance(dtype, T.StringType):
        return F.unix_micros(F.trim(col).try_cast("timestamp"))
    raise InputError(f"{where}: time column '{name}' has type {dtype.simpleString()}")


def _normalise(
    df: DataFrame,
    where: str,
    cols: EventColumns,
    *,
    conversion_event: str | None,
    conversions_only: bool = False,
    time_unit: str | None = None,
) -> DataFrame:
    """``customer, t (us), channel, is_conversion, value`` plus ``_bad``: the
    index in :func:`_problems` of why a row cannot be used (null when it can)."""
    F = _pyspark()
    names = df.columns
    need = {"customer": cols.customer, "time": cols.time}
    if not conversions_only:
        need["channel"] = cols.channel
        if conversion_event is not None:
            need["event"] = cols.event
    for role, name in need.items():
        if name not in names:
            raise InputError(f"{where}: missing {role} column '{name}'; columns found: {names}")
    if conversions_only:
        is_conv, channel = F.lit(True), F.lit(None).cast("string")
    else:
        channel = F.trim(F.col(cols.channel).cast("string"))
        is_conv = (
            F.lit(False)
            if conversion_event is None
            else F.coalesce(
                F.trim(F.col(cols.event).cast("string")) == conversion_event, F.lit(False)
            )
        )
    value = F.col(cols.value).try_cast("double") if cols.value in names else F.lit(1.0)
    out = df.select(
        F.col(cols.customer).alias("customer"),
        _time(df, cols.time, time_unit, where).alias("t"),
        channel.alias("channel"),
        is_conv.alias("is_conversion"),
        value.alias("value"),
    )
    bad = F.lit(None).cast("int")
    for code, (mask, _) in reversed(list(enumerate(_problems(cols)))):
        bad = F.when(mask, F.lit(code)).otherwise(bad)
    return out.withColumn("_bad", bad)


def _problems(cols: EventColumns) -> list[tuple[Column, str]]:
    """What makes a normalised event unusable, in the order the polars reader checks."""
    F = _pyspark()
    return [
        (F.col("customer").isNull(), f"column '{cols.customer}' is empty"),
        (F.col("t").isNull(), f"column '{cols.time}' is empty or not a timestamp"),
        (
            ~F.col("is_conversion") & (F.col("channel").isNull() | (F.col("channel") == "")),
            f"column '{cols.channel}': a touch has no channel",
        ),
        (
            F.col("is_conversion")
            & (
                F.col("value").isNull()
                | F.isnan("value")
                | (F.col("value") < 0)
                | (F.abs("value") == float("inf"))
            ),
            f"column '{cols.value}': a conversion's value is not a finite number >= 0",
        ),
    ]


def _cache(stack: ExitStack, frame: DataFrame) -> DataFrame:
    """``frame`` persisted until ``stack`` closes (Spark would recompute it per action)."""
    frame = frame.persist()
    stack.callback(frame.unpersist)
    return frame


def _check(events: DataFrame, where: str, cols: EventColumns) -> int:
    """The number of events; raise on the first kind of unusable row found."""
    F = _pyspark()
    row = events.agg(
        F.count(F.lit(1)).alias("n"),
        F.count("_bad").alias("bad"),
        F.min(
            F.when(F.col("_bad").isNotNull(), F.struct("_bad", F.col("customer").cast("string")))
        ).alias("first"),
    ).first()
    assert row is not None
    if row["bad"]:
        code, customer = row["first"][0], row["first"][1]
        raise InputError(
            f"{where}: {_problems(cols)[code][1]} in {row['bad']} rows "
            f"(one is of customer {customer!r})"
        )
    return int(row["n"])


# -- the rules ----------------------------------------------------------------
def _order_keys() -> list[Column]:
    """THE ORDER OF A CUSTOMER'S EVENTS: the polars builder's sort keys and tie rule.

    By time; at the same instant touches before conversions; remaining ties:
    touches by channel name, conversions by value. This is the one place to
    change when the polars builder's tie rule changes (``build_journeys``).
    """
    F = _pyspark()
    return [
        F.col("t"),
        F.col("is_conversion"),  # False (a touch) sorts before True
        F.when(~F.col("is_conversion"), F.col("channel")),
        F.when(F.col("is_conversion"), F.col("value")),
    ]


def _event_order(*, latest_first: bool = False) -> list[Column]:
    """:func:`_order_keys` ascending (oldest event first) or descending."""
    return [k.desc_nulls_first() if latest_first else k.asc_nulls_last() for k in _order_keys()]


def _touches(
    events: DataFrame,
    *,
    lookback_days: float | None,
    collapse_repeats: bool,
    max_touches: int | None,
) -> DataFrame:
    """Every event with its ``journey`` (per customer), and for touches the
    days to the journey's end; touches outside the rules dropped."""
    F = _pyspark()
    from pyspark.sql import Window

    order = _event_order()
    by_customer = Window.partitionBy("customer").orderBy(*order)
    # A conversion closes the journey of the events since the previous one, so
    # an event's journey is the number of conversions before it.
    before = by_customer.rowsBetween(Window.unboundedPreceding, -1)
    events = events.withColumn(
        "journey", F.coalesce(F.sum(F.col("is_conversion").cast("int")).over(before), F.lit(0))
    )
    # The journey's end: its conversion or, for a null journey, its last touch;
    # both are its latest event.
    journey = Window.partitionBy("customer", "journey")
    events = events.withColumn("end", F.max("t").over(journey)).withColumn(
        "days", (F.col("end") - F.col("t")) / _US_PER_DAY
    )
    touch = ~F.col("is_conversion")
    if lookback_days is not None:
        events = events.filter(~touch | (F.col("days") <= lookback_days))
    if collapse_repeats:
        # As the polars builder (_trim): a kept touch goes when its channel is kept
        # again at the same instant (one of them stays) or at the journey's next
        # kept instant, so the latest of a run stays and ties have no order.
        touches = events.filter(touch).withColumn(
            "_step", F.dense_rank().over(journey.orderBy("t"))
        )
        same = Window.partitionBy("customer", "journey", "t", "channel")
        channel_steps = (
            Window.partitionBy("customer", "journey", "channel").orderBy("_step").rangeBetween(1, 1)
        )
        touches = (
            touches.withColumn("_dup", F.row_number().over(same.orderBy("t")))
            .withColumn("_next", F.count(F.lit(1)).over(channel_steps))
            .filter((F.col("_dup") == 1) & (F.col("_next") == 0))
        )
        events = touches.drop("_step", "_dup", "_next").unionByName(events.filter(~touch))
    if max_touches is not None:
        # the last max_touches kept touches and every touch tied with one of them
        touches = events.filter(touch).withColumn(
            "_from_end", F.row_number().over(journey.orderBy(*_event_order(latest_first=True)))
        )
        touches = touches.withColumn(
            "_cut", F.min(F.when(F.col("_from_end") <= max_touches, F.col("t"))).over(journey)
        )
        events = (
            touches.filter(F.col("t") >= F.col("_cut"))
            .drop("_from_end", "_cut")
            .unionByName(events.filter(~touch))
        )
    return events


def _journeys(events: DataFrame) -> DataFrame:
    """One row per journey: ``customer, path (array of channels), converted, value``."""
    F = _pyspark()

    touch = ~F.col("is_conversion")
    # sort_array compares structs field by field, so a struct of the sort keys
    # puts the touches in the window's order without another sort of the events.
    keyed = F.struct(
        *[k.alias(f"_k{i}") for i, k in enumerate(_order_keys())], F.col("channel").alias("ch")
    )
    return (
        events.groupBy("customer", "journey")
        .agg(
            F.sort_array(F.collect_list(F.when(touch, keyed))).alias("_touches"),
            F.max(F.col("is_conversion").cast("int")).alias("converted"),
            F.max(F.when(F.col("is_conversion"), F.col("value"))).alias("value"),
        )
        .select(
            "customer",
            F.col("_touches").getField("ch").alias("path"),
            # touch i is tied with touch i - 1 when both happened at one instant
            # (the polars builder's tie groups; a higher-order function, no UDF)
            F.expr("transform(_touches._k0, (t, i) -> i > 0 AND t = _touches._k0[i - 1])").alias(
                "ties"
            ),
            "converted",
            F.coalesce("value", F.lit(0.0)).alias("value"),
        )
    )


# -- credit that needs touch times, on Spark ----------------------------------
def _time_decay_weight(model: HasHalfLife) -> Callable[[], Column]:
    F = _pyspark()
    from pyspark.sql import Window

    def weight() -> Column:
        journey = Window.partitionBy("customer", "journey")
        # As TimeDecay.weights: shifted by the journey's most recent touch.
        raw = F.pow(
            F.lit(2.0), -(F.col("days") - F.min("days").over(journey)) / model.half_life_days
        )
        return raw / F.sum(raw).over(journey)

    return weight


def _spark_weight(model: Model) -> Callable[[], Column] | None:
    """The per-touch weight of a model that needs touch times, as a Spark column,
    for the models that declare their weights (:class:`~attribution.capabilities.HasHalfLife`)."""
    if isinstance(model, HasHalfLife):  # a capability, never a model's name or class
        model.validate_params()  # a bad half_life_days fails before any Spark job
        return _time_decay_weight(model)
    return None


def _spark_sums(
    events: DataFrame, models: Sequence[tuple[str, Model]], channels: tuple[str, ...]
) -> dict[str, pl.DataFrame]:
    """Credit per channel of each model, summed on Spark over converting journeys."""
    F = _pyspark()
    from pyspark.sql import Window

    if not models:
        return {}
    journey = Window.partitionBy("customer", "journey")
    touches = events.withColumn(
        "_conv", F.max(F.col("is_conversion").cast("double")).over(journey)
    ).withColumn("_value", F.max(F.when(F.col("is_conversion"), F.col("value"))).over(journey))
    touches = touches.filter(~F.col("is_conversion") & (F.col("_conv") > 0))
    sums = []
    for k, (_, model) in enumerate(models):  # a loop over models
        weight = _spark_weight(model)
        assert weight is not None
        touches = touches.withColumn(f"_w{k}", weight())
        sums += [
            F.sum(F.col(f"_w{k}") * F.col("_conv")).alias(f"c{k}"),
            F.sum(F.col(f"_w{k}") * F.col("_value")).alias(f"v{k}"),
        ]
    rows = touches.groupBy("channel").agg(*sums).collect()
    index = {c: i for i, c in enumerate(channels)}
    out = {}
    for k, (label, _) in enumerate(models):
        conv, val = np.zeros(len(channels)), np.zeros(len(channels))
        for r in rows:  # a loop over channels
            conv[index[r["channel"]]] = r[f"c{k}"] or 0.0
            val[index[r["channel"]]] = r[f"v{k}"] or 0.0
        out[label] = pl.DataFrame(
            {
                "channel": pl.Series(list(channels), dtype=pl.String),
                "conversions": conv,
                "value": val,
            }
        )
    return out


def _spark_models(
    chosen: Sequence[tuple[str, Model]], skipped: list[tuple[str, str]] | None = None
) -> tuple[list[tuple[str, Model]], list[tuple[str, Model]]]:
    """The models summed on Spark (they need times and have a Spark form), and
    ``chosen`` without the models that need times but have none: refused, or
    with ``skipped`` given, listed there."""
    on_spark, kept = [], []
    for label, model in chosen:
        if model.needs_times or model.uses_times:
            if combine_of(model) != "sum" or _spark_weight(model) is None:
                reason = (
                    f"model '{model.name}' needs touch times, which stay on Spark with "
                    "--engine spark, and has no Spark form (time_decay has one); run it "
                    "with the polars engine"
                )
                if skipped is None:
                    raise ModelError(reason)
                skipped.append((label, reason))
                continue
            on_spark.append((label, model))
        kept.append((label, model))
    return on_spark, kept


# -- the reduction -------------------------------------------------------------
def reduce_spark(
    events: DataFrame,
    *,
    conversions: DataFrame | None = None,
    columns: EventColumns | None = None,
    conversion_event: str = "conversion",
    time_unit: str | None = None,
    lookback_days: float | None = 30.0,
    collapse_repeats: bool = False,
    max_touches: int | None = None,
    models: Sequence[tuple[str, Model]] = (),
    where: str = "Spark DataFrame",
) -> Reduction:
    """Build the journeys of a Spark DataFrame of events and reduce them.

    ``events`` has the columns of :func:`attribution.read_events` (names in
    ``columns``); ``conversions`` optionally holds conversions from another
    source. The rules are those of :func:`attribution.build_journeys`. The
    result holds the paths table (``result.paths.to_paths_table()``), the
    accounts, and the per-channel credit of ``models`` (labelled; those that
    need touch times and have a Spark form, i.e. ``time_decay``).
    """
    if lookback_days is not None and not (lookback_days >= 0 and math.isfinite(lookback_days)):
        raise InputError(f"lookback must be a number of days >= 0 or none, got {lookback_days}")
    if max_touches is not None and max_touches < 1:
        raise InputError(f"max touches must be at least 1, got {max_touches}")
    F = _pyspark()
    cols = columns or EventColumns()
    frame = _normalise(
        events,
        where,
        cols,
        conversion_event=None if conversions is not None else conversion_event,
        time_unit=time_unit,
    )
    if conversions is not None:
        extra = _normalise(
            conversions,
            where,
            cols,
            conversion_event=None,
            conversions_only=True,
            time_unit=time_unit,
        )
        if frame.schema["customer"].dataType != extra.schema["customer"].dataType:
            frame = frame.withColumn("customer", F.col("customer").cast("string"))
            extra = extra.withColumn("customer", F.col("customer").cast("string"))
        frame = frame.unionByName(extra)
    with ExitStack() as cached:
        # Read and checked once, then used by every step below.
        frame = _cache(cached, frame)
        if _check(frame, where, cols) == 0:
            raise InputError(f"{where} has no events")
        touches = frame.filter(~F.col("is_conversion"))
        channels = tuple(
            sorted(r["channel"] for r in touches.select("channel").distinct().collect())
        )
        events_kept = _cache(
            cached,
            _touches(
                frame.drop("_bad"),
                lookback_days=lookback_days,
                collapse_repeats=collapse_repeats,
                max_touches=max_touches,
            ),
        )
        journeys = _cache(cached, _journeys(events_kept))
        has_touch = F.size("path") > 0
        totals = journeys.agg(
            F.sum(F.when(~has_touch, F.col("converted"))).alias("lost"),
            F.sum(F.when(~has_touch & (F.col("converted") > 0), F.col("value"))).alias(
                "lost_value"
            ),
            F.countDistinct(F.when(has_touch, F.col("customer"))).alias("customers"),
            F.countDistinct(F.col("customer")).alias("all_customers"),
        ).first()
        table = (
            journeys.filter(has_touch)
            .groupBy("path", "ties")
            .agg(
                F.sum("converted").cast("double").alias("conversions"),
                F.sum(F.when(F.col("converted") > 0, F.col("value"))).alias("value"),
                F.sum(1 - F.col("converted")).cast("double").alias("nulls"),
            )
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # pyspark on pandas 3
            paths = pl.from_arrow(table.toArrow())
        sums = _spark_sums(events_kept, models, channels)
    assert totals is not None and isinstance(paths, pl.DataFrame)
    paths = paths.select(
        pl.col("path").alias("channels"),
        pl.col("ties"),
        pl.col("conversions"),
        pl.col("value").fill_null(0.0),
        pl.col("nulls"),
    ).filter((pl.col("conversions") > 0) | (pl.col("nulls") > 0))
    journeys_of_paths = journeys_from_paths(paths.drop("ties"))
    tie = paths["ties"].explode().to_numpy().astype(bool)
    if tie.any():  # rows in the same order: journeys_from_paths keeps them
        journeys_of_paths = replace(journeys_of_paths, tie=tie)
    journeys_of_paths = journeys_of_paths.with_channels(channels)
    lost = Unattributed(
        conversions=float(totals["lost"] or 0),
        value=float(totals["lost_value"] or 0.0),
        customers=int(totals["all_customers"] or 0) - int(totals["customers"] or 0),
    )
    return Reduction(
        replace(journeys_of_paths.aggregate(), unattributed=lost),
        sums,
        int(totals["customers"]),
        True,
    )


def attribute_spark(
    source: str | DataFrame,
    models: Sequence[ModelSpec] | None = None,
    *,
    master: str | None = None,
    spark: SparkSession | None = None,
    conversions: str | DataFrame | None = None,
    columns: EventColumns | None = None,
    conversion_event: str = "conversion",
    time_unit: str | None = None,
    lookback_days: float | None = 30.0,
    collapse_repeats: bool = False,
    max_touches: int | None = None,
) -> AttributionResult:
    """Run ``models`` on events built into journeys on Spark.

    ``source`` (and ``conversions``) is a Spark DataFrame or a path Spark
    reads (:func:`read_spark_events`). A session is made with
    :func:`spark_session` (``master``) unless ``spark`` is given or ``source``
    is a DataFrame, and stopped at the end if no session was active before. The result is that of
    :func:`attribution.attribute` on the same events built in memory.
    """
    chosen, skipped, errors = choose_partitioned(models)
    split_models(chosen)
    on_spark, chosen = _spark_models(chosen, skipped if models is None else None)
    session = spark if spark is not None or isinstance(source, str) else source.sparkSession
    made = False
    if session is None:
        from pyspark.sql import SparkSession

        made = SparkSession.getActiveSession() is None
        session = spark_session(master)
    try:
        where = f"file '{source}'" if isinstance(source, str) else "Spark DataFrame"
        events = read_spark_events(session, source) if isinstance(source, str) else source
        extra = (
            read_spark_events(session, conversions) if isinstance(conversions, str) else conversions
        )
        reduction = reduce_spark(
            events,
            conversions=extra,
            columns=columns,
            conversion_event=conversion_event,
            time_unit=time_unit,
            lookback_days=lookback_days,
            collapse_repeats=collapse_repeats,
            max_touches=max_touches,
            models=on_spark,
            where=where,
        )
    finally:
        if made:  # a session of its own, not one the caller was using
            session.stop()
    return attribute_reduced(reduction, chosen, skipped, errors)
