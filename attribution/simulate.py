"""A seeded journey simulator whose channels have known effects.

Used for the sample data, the benchmarks and the "which model recovers the
truth" checks. Each customer is touched by channels drawn by their reach,
ordered along the funnel by each channel's stage. A journey converts with the
noisy-OR probability ``1 - (1 - base_rate) * prod(1 - lift[c])`` over its
distinct channels, so every channel's incremental effect is known.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
import polars as pl

from attribution.arrays import csr_offsets, distinct_pairs
from attribution.journeys import Journeys

__all__ = [
    "DEFAULT_CHANNELS",
    "SIZES",
    "ChannelEffect",
    "make_channels",
    "simulate_events",
    "simulate_journeys",
    "true_incremental_credit",
]


@dataclass(frozen=True)
class ChannelEffect:
    """A simulated channel.

    Attributes
    ----------
    name : str
    reach : float
        Relative frequency of its touches.
    lift : float
        Its noisy-OR conversion lift in [0, 1): the probability that a journey
        it touches converts because of it.
    stage : float
        Funnel position in [0, 1]; touches are ordered by stage plus noise, so
        low-stage channels tend to come first.
    """

    name: str
    reach: float
    lift: float
    stage: float


DEFAULT_CHANNELS: tuple[ChannelEffect, ...] = (
    ChannelEffect("display", reach=0.22, lift=0.010, stage=0.10),
    ChannelEffect("social", reach=0.20, lift=0.020, stage=0.20),
    ChannelEffect("affiliate", reach=0.08, lift=0.030, stage=0.50),
    ChannelEffect("organic_search", reach=0.14, lift=0.050, stage=0.55),
    ChannelEffect("paid_search", reach=0.16, lift=0.080, stage=0.60),
    ChannelEffect("email", reach=0.10, lift=0.060, stage=0.75),
    ChannelEffect("direct", reach=0.07, lift=0.040, stage=0.90),
    ChannelEffect("store", reach=0.03, lift=0.150, stage=0.95),
)

SIZES = {"10k": 10_000, "100k": 100_000, "1M": 1_000_000, "3M": 3_000_000, "10M": 10_000_000}
"""Named journey counts for benchmarks."""


def make_channels(n: int, *, seed: int = 0) -> tuple[ChannelEffect, ...]:
    """``n`` synthetic channels (``ch000`` ...) with skewed reach and random lifts."""
    if n <= len(DEFAULT_CHANNELS):
        return DEFAULT_CHANNELS[:n]
    rng = np.random.default_rng(seed)
    reach = rng.pareto(1.2, n) + 0.05
    lift = rng.uniform(0.0, 0.08, n)
    stage = rng.uniform(0, 1, n)
    width = len(str(n - 1))
    return tuple(
        ChannelEffect(f"ch{i:0{width}d}", float(reach[i]), float(lift[i]), float(stage[i]))
        for i in range(n)
    )


def simulate_journeys(
    n_journeys: int,
    *,
    channels: tuple[ChannelEffect, ...] = DEFAULT_CHANNELS,
    mean_touches: float = 3.0,
    max_touches: int = 30,
    base_rate: float = 0.02,
    seed: int = 0,
) -> Journeys:
    """``n_journeys`` simulated journeys with touch times (one per row).

    Touches per journey are ``1 + Poisson(mean_touches - 1)`` (capped at
    ``max_touches``); gaps between touches are exponential with a mean of two
    days, and the conversion or end follows the last touch within a day.
    ``customer`` is the journey index (one journey per customer).
    """
    rng = np.random.default_rng(seed)
    n_ch = len(channels)
    reach = np.array([c.reach for c in channels], dtype=np.float64)
    lift = np.array([c.lift for c in channels], dtype=np.float64)
    stage = np.array([c.stage for c in channels], dtype=np.float64)

    lengths = np.minimum(1 + rng.poisson(max(mean_touches - 1, 0), n_journeys), max_touches)
    n_touch = int(lengths.sum())
    row = np.repeat(np.arange(n_journeys), lengths)
    codes = rng.choice(n_ch, size=n_touch, p=reach / reach.sum()).astype(np.uint32)
    # Order each journey's touches along the funnel: sort by (row, stage + noise).
    key = stage[codes] + rng.normal(0, 0.25, n_touch)
    order = np.lexsort((key, row))
    codes = codes[order]

    # Gaps: touch i happens gap_i days before touch i+1; the last one lag days
    # before the conversion (or the journey's end).
    gaps = rng.exponential(2.0, n_touch)
    lag = rng.exponential(0.5, n_journeys)
    offsets = csr_offsets(lengths)
    # days_before[t] = lag[row] + sum of gaps of the later touches of its journey
    rev_cum = np.cumsum(gaps[::-1])[::-1]  # sum of gaps from t to the end of the array
    end_of_row = offsets[1:]
    after = np.append(rev_cum, 0.0)[np.repeat(end_of_row, lengths)]
    days = rev_cum - after - gaps + np.repeat(lag, lengths)
    days = np.maximum(days, 0.0)

    # Noisy-OR over distinct channels.
    pair_row, pair_code = distinct_pairs(row, codes, n_ch)
    log_keep = np.bincount(pair_row, weights=np.log1p(-lift[pair_code]), minlength=n_journeys)
    p = 1 - (1 - base_rate) * np.exp(log_keep)
    converted = rng.random(n_journeys) < p
    value = np.where(converted, np.round(rng.lognormal(4.0, 0.6, n_journeys), 2), 0.0)
    conv = converted.astype(np.float64)
    return Journeys(
        channels=tuple(c.name for c in channels),
        codes=codes,
        offsets=offsets,
        conversions=conv,
        value=value,
        nulls=1.0 - conv,
        days_before=days,
        customer=np.arange(n_journeys, dtype=np.int64),
    )


def simulate_events(
    n_customers: int,
    *,
    channels: tuple[ChannelEffect, ...] = DEFAULT_CHANNELS,
    mean_touches: float = 3.0,
    base_rate: float = 0.02,
    repeat_share: float = 0.1,
    start: datetime = datetime(2026, 1, 1, tzinfo=timezone.utc),
    seed: int = 0,
) -> pl.DataFrame:
    """An event log (``customer_id, timestamp, channel, event, value``).

    About ``repeat_share`` of the customers come back for a second journey
    after the first ends, so some customers convert more than once. Timestamps
    are UTC datetimes; conversion rows have ``event == "conversion"`` and a
    value, touch rows ``event == "touch"`` and a channel.
    """
    rng = np.random.default_rng(seed + 1)
    n_second = round(n_customers * repeat_share)
    n_journeys = n_customers + n_second
    j = simulate_journeys(
        n_journeys, channels=channels, mean_touches=mean_touches, base_rate=base_rate, seed=seed
    )
    # Journey -> customer: the first n_customers journeys are first journeys, the
    # rest second journeys of random customers, starting after the first ends.
    customer = np.concatenate(
        [np.arange(n_customers), rng.choice(n_customers, n_second, replace=False)]
    )
    assert j.days_before is not None  # simulated journeys always have touch times
    span = np.maximum.reduceat(j.days_before, j.offsets[:-1])  # first touch to end, days
    first_start = rng.uniform(0, 90, n_customers)
    end = np.empty(n_journeys)
    end[:n_customers] = first_start + span[:n_customers]
    # second journey starts 1..30 days after the first one's end
    end[n_customers:] = (
        end[customer[n_customers:]] + rng.uniform(1, 30, n_second) + span[n_customers:]
    )

    t0 = int(start.timestamp() * 1e6)
    row = j.row_of_touch
    # whole seconds: readable sample files; the journeys keep their exact days
    touch_time = t0 + np.round((end[row] - j.days_before) * 86_400).astype(np.int64) * 1_000_000
    conv_rows = np.flatnonzero(j.conversions > 0)
    names = np.array(j.channels, dtype=object)
    width = len(str(n_customers))
    touches = pl.DataFrame(
        {
            "cid": customer[row],
            "timestamp": touch_time,
            "channel": pl.Series(names[j.codes], dtype=pl.String),
            "event": "touch",
            "value": None,
        },
        schema_overrides={"value": pl.Float64},
    )
    conversions = pl.DataFrame(
        {
            "cid": customer[conv_rows],
            "timestamp": t0 + np.round(end[conv_rows] * 86_400).astype(np.int64) * 1_000_000,
            "channel": pl.Series([None] * len(conv_rows), dtype=pl.String),
            "event": "conversion",
            "value": j.value[conv_rows],
        }
    )
    return (
        pl.concat([touches, conversions])
        .sort("cid", "timestamp", "event", descending=[False, False, True])
        .select(
            customer_id=pl.format("C{}", pl.col("cid").cast(pl.String).str.zfill(width)),
            timestamp=pl.col("timestamp").cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
            channel="channel",
            event="event",
            value="value",
        )
    )


def true_incremental_credit(
    journeys: Journeys,
    *,
    channels: tuple[ChannelEffect, ...] = DEFAULT_CHANNELS,
    base_rate: float = 0.02,
) -> pl.DataFrame:
    """The conversions each channel truly causes in simulated journeys.

    A journey with distinct channels T converts with probability
    ``p(T) = 1 - (1 - base_rate) * prod(1 - lift[c])``; the channels cause
    ``p(T) - base_rate`` of it in expectation. ``caused`` shares that among
    the channels of T by the Shapley value of the true game
    ``S -> p(S) - base_rate`` (S a subset of T), which for this noisy-OR is
    ``(1 - base_rate) * lift[c] * integral over t in [0, 1] of
    prod over the other channels c' of T of (1 - t * lift[c'])``, computed
    exactly by Gauss-Legendre quadrature. ``removal`` is the expected
    conversions lost when the channel is removed from every journey,
    ``p(T) - p(T without c)`` summed over journeys. Both count every journey
    a row stands for (conversions plus nulls), converting or not, and leave
    out the ``base_rate`` conversions that no channel causes. ``share`` and
    ``removal_share`` are each column over its total.

    ``channels`` and ``base_rate`` must be those the journeys were simulated
    with (matched by name).
    """
    lift_of = {c.name: c.lift for c in channels}
    missing = [c for c in journeys.channels if c not in lift_of]
    if missing:
        raise ValueError(f"channels {missing} of the journeys are not among the simulated ones")
    lift = np.array([lift_of[c] for c in journeys.channels], dtype=np.float64)
    row, code = distinct_pairs(journeys.row_of_touch, journeys.codes, journeys.n_channels)
    weight = (journeys.conversions + journeys.nulls)[row] * (1 - base_rate)
    lp = lift[code]
    longest = int(np.bincount(row).max()) if len(row) else 1
    # The integrand is a polynomial of degree |T| - 1 in t: exact with this many nodes.
    nodes, weights = np.polynomial.legendre.leggauss(longest // 2 + 1)
    integral = np.zeros(len(row))
    for x, w in zip((nodes + 1) / 2, weights / 2, strict=True):  # a loop over nodes
        keep = np.log1p(-x * lp)
        others = np.bincount(row, weights=keep, minlength=journeys.n_rows)[row] - keep
        integral += w * np.exp(others)
    keep = np.log1p(-lp)
    others = np.bincount(row, weights=keep, minlength=journeys.n_rows)[row] - keep
    caused = np.bincount(code, weights=weight * lp * integral, minlength=journeys.n_channels)
    removal = np.bincount(code, weights=weight * lp * np.exp(others), minlength=journeys.n_channels)
    return pl.DataFrame(
        {
            "channel": pl.Series(list(journeys.channels), dtype=pl.String),
            "caused": caused,
            "removal": removal,
            "share": caused / caused.sum() if caused.sum() > 0 else caused,
            "removal_share": removal / removal.sum() if removal.sum() > 0 else removal,
        }
    )
