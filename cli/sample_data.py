"""`attribution sample-data`: write example data with known channel effects."""

from __future__ import annotations

from pathlib import Path

import click

from attribution.sample import write_sample_data


@click.command("sample-data")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--customers", default=2000, show_default=True, type=click.IntRange(min=1))
@click.option("--seed", default=0, show_default=True, type=int)
def command(directory: str, customers: int, seed: int) -> None:
    """Write example files into DIRECTORY (created if missing).

    events.csv is an event log (customer_id, timestamp, channel, event, value);
    costs.csv made-up spend per channel (channel, cost) for --costs;
    channel_effects.csv gives each channel's true conversion lift, so you can
    see which models recover it. The defaults reproduce sample_data/.
    """
    for path in write_sample_data(Path(directory), customers=customers, seed=seed):
        click.echo(str(path))
