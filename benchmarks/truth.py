"""How far each built-in model's channel shares are from the simulator's true effects.

Simulates journeys with known channel lifts (noisy-OR conversion, see
:mod:`attribution.simulate`), runs every registered model on them, and
reports the total variation distance (half the sum of absolute differences,
0 = identical, 1 = disjoint) between each model's conversion shares and the
true incremental shares of :func:`attribution.simulate.true_incremental_credit`:
``caused`` (the Shapley split of the conversions the channels cause) and
``removal`` (conversions lost when a channel is removed). Unitless; lower is
closer. Seeded, so the table is reproducible.

    python benchmarks/truth.py                      # 1M journeys, the 8 default channels
    python benchmarks/truth.py 100k --channels 500 --seeds 0 1 2
    python benchmarks/truth.py 10k --quick          # CI pass: small and fast
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import polars as pl

import attribution as at
from attribution.registry import get_registry
from attribution.simulate import SIZES, make_channels, simulate_journeys, true_incremental_credit

VARIANTS = ["shapley:characteristic=subset_conversions", "shapley:characteristic=subset_rates"]


def builtin_specs() -> list[str]:
    """Every model this package registers (plugins left out), plus the Shapley variants."""
    registry = get_registry()
    loaded, _ = registry.load_all()
    own = [n for n in loaded if registry.info(n).source == "attribution-engine"]
    return own + [v for v in VARIANTS if "shapley" in own]


def distances(n_journeys: int, *, n_channels: int = 8, seed: int = 0) -> pl.DataFrame:
    """Total variation distance of every registered model's shares from the truth.

    Columns ``model, tvd_caused, tvd_removal``, closest first.
    """
    channels = make_channels(n_channels)
    journeys = simulate_journeys(n_journeys, channels=channels, seed=seed)
    truth = true_incremental_credit(journeys, channels=channels).select(
        "channel", pl.col("share").alias("caused"), pl.col("removal_share").alias("removal")
    )
    result = at.attribute(journeys, builtin_specs())
    shares = result.credits.join(truth, on="channel").with_columns(pl.col("share").fill_null(0.0))
    return (
        shares.group_by("model", maintain_order=True)
        .agg(
            tvd_caused=(pl.col("share") - pl.col("caused")).abs().sum() / 2,
            tvd_removal=(pl.col("share") - pl.col("removal")).abs().sum() / 2,
        )
        .sort("tvd_caused")
    )


def main(argv: list[str] | None = None) -> pl.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("size", nargs="?", default="1M", choices=sorted(SIZES))
    parser.add_argument("--channels", type=int, default=8, help="simulated channels")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--quick", action="store_true", help="10k journeys (CI)")
    args = parser.parse_args(argv)
    n = SIZES["10k"] if args.quick else SIZES[args.size]
    tables = [distances(n, n_channels=args.channels, seed=s) for s in args.seeds]
    table = (
        pl.concat(tables)
        .group_by("model")
        .agg(
            pl.col("tvd_caused").mean(),
            pl.col("tvd_caused").max().alias("tvd_caused_worst"),
            pl.col("tvd_removal").mean(),
        )
        .sort("tvd_caused")
    )
    print(
        f"{n:,} journeys, {args.channels} channels, seeds {args.seeds}: total variation "
        "distance of conversion shares from the true incremental shares (mean over seeds)"
    )
    with pl.Config(
        tbl_rows=-1, tbl_hide_dataframe_shape=True, float_precision=4, fmt_str_lengths=60
    ):
        print(table)
    assert np.isfinite(table["tvd_caused"].to_numpy()).all()
    return table


if __name__ == "__main__":
    main()
