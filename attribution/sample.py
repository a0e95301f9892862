"""The example data shipped in sample_data/ and written by `attribution sample-data`."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from attribution.simulate import DEFAULT_CHANNELS, simulate_events
from attribution.sinks import atomic_write

__all__ = ["SAMPLE_SPEND", "channel_effects", "sample_costs", "write_sample_data"]

SAMPLE_SPEND = {
    "display": 3000,
    "social": 2500,
    "affiliate": 1200,
    "organic_search": 800,
    "paid_search": 4500,
    "email": 600,
    "direct": 400,
    "store": 1500,
}
"""Made-up spend per channel for the default 2,000 sample customers."""


def channel_effects() -> pl.DataFrame:
    """The simulated channels: ``channel, reach, lift, stage`` (see ChannelEffect)."""
    return pl.DataFrame(
        {
            "channel": [c.name for c in DEFAULT_CHANNELS],
            "reach": [c.reach for c in DEFAULT_CHANNELS],
            "lift": [c.lift for c in DEFAULT_CHANNELS],
            "stage": [c.stage for c in DEFAULT_CHANNELS],
        }
    )


def sample_costs(customers: int = 2000) -> pl.DataFrame:
    """``channel, cost``: :data:`SAMPLE_SPEND` scaled to ``customers`` (whole units)."""
    scale = customers / 2000
    return pl.DataFrame(
        {
            "channel": list(SAMPLE_SPEND),
            "cost": [round(cost * scale) for cost in SAMPLE_SPEND.values()],
        }
    )


def write_sample_data(directory: Path, *, customers: int = 2000, seed: int = 0) -> list[Path]:
    """Write ``events.csv``, ``costs.csv`` and ``channel_effects.csv`` into ``directory``.

    ``events.csv`` schema: ``customer_id`` (str), ``timestamp`` (ISO-8601,
    UTC), ``channel`` (str, empty on conversions), ``event`` (``touch`` or
    ``conversion``), ``value`` (conversion value, empty on touches).
    """
    directory.mkdir(parents=True, exist_ok=True)
    events = simulate_events(customers, seed=seed).with_columns(
        pl.col("timestamp").dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    written = []
    files = (
        ("events.csv", events),
        ("costs.csv", sample_costs(customers)),
        ("channel_effects.csv", channel_effects()),
    )
    for name, frame in files:
        path = directory / name
        atomic_write(path, frame.write_csv)
        written.append(path)
    return written
