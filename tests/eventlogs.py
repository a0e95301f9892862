"""Seeded random event logs that exercise every rule of the path builder."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import polars as pl

CHANNELS = ("display", "email", "paid_search", "social", "store")
START = int(datetime(2024, 1, 1, tzinfo=timezone.utc).timestamp())


def random_event_log(seed: int, customers: int = 300, events: int = 3000) -> pl.DataFrame:
    """An event log with the awkward cases on purpose.

    Times are whole hours within 120 days, so touches and conversions share
    instants (ties), gaps exceed a 30-day lookback, customers convert several
    times, some conversions have no touch before them (unattributed), repeats
    of a channel are common, and the rows come in random order.
    """
    rng = np.random.default_rng(seed)
    customer = rng.integers(0, customers, events)
    hours = rng.integers(0, 120 * 24, events)
    # Most customers keep to a few days, so that journeys have several touches.
    hours = (customer * 37 % (100 * 24)) + hours % (rng.integers(1, 21 * 24, events))
    is_conversion = rng.random(events) < 0.12
    channel = rng.choice(len(CHANNELS), events, p=[0.3, 0.2, 0.25, 0.2, 0.05])
    value = np.round(rng.lognormal(3.0, 0.8, events), 2)
    # A few conversions worth the same at the same instant: the tie between them.
    twin = rng.random(events) < 0.02
    value[twin] = 10.0
    names = pl.Series(CHANNELS, dtype=pl.String)
    return pl.DataFrame(
        {
            "customer_id": pl.Series(customer).cast(pl.String).str.zfill(4),
            "timestamp": pl.Series((START + hours * 3600) * 1_000_000).cast(
                pl.Datetime("us", "UTC")
            ),
            "channel": names.gather(channel),
            "event": np.where(is_conversion, "conversion", "touch"),
            "value": value,
            "is_conversion": is_conversion,
        }
    ).select(
        customer_id="u" + pl.col("customer_id"),
        timestamp="timestamp",
        channel=pl.when(~pl.col("is_conversion")).then("channel"),
        event="event",
        value=pl.when(pl.col("is_conversion")).then("value"),
    )
