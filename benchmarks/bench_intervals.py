"""Bootstrap intervals: do 90% intervals cover 90%, and how long do 200 replicates take?

Coverage: independent event logs of ``--customers`` customers are simulated
from one law (:func:`attribution.simulate.simulate_events`, seeds 1, 2, ...);
each model's ``--level`` interval of each channel's share (and value share)
is checked against that model's share on a very large sample of the same law
(the cached 1M-customer log, seed 0), scaled to the data set's credited
totals. Reported per model: the share of (data set, channel) cells whose
interval holds the large-sample figure, its standard error over data sets,
the lowest channel's coverage, and the mean interval width. Unitless.

Speed: wall time in seconds of ``with_intervals`` (the plan plus every
replicate of every built-in model) on the cached 1M-customer logs over 8 and
over 500 channels, after the point estimates; one run each (they are long),
with the process's CPU time beside it (CPU above wall time is the second core
at work) and the peak resident memory.

    python benchmarks/bench_intervals.py                    # coverage, then speed
    python benchmarks/bench_intervals.py coverage --datasets 100 --customers 2000
    python benchmarks/bench_intervals.py speed --channels 8 500 --workers 1 2
    python benchmarks/bench_intervals.py --quick            # CI pass: tiny, seconds
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import polars as pl

import attribution as at
from attribution.registry import get_registry
from attribution.simulate import SIZES, make_channels, simulate_events
from benchmarks.common import DATA, REPEAT_SHARE, Stage, cached, events_file, measure, report


def builtin_models() -> list[str]:
    """Every model this package registers (plugins left out)."""
    registry = get_registry()
    loaded, _ = registry.load_all()
    return [n for n in loaded if registry.info(n).source == "attribution-engine"]


def events_log(size: str, channels: int, *, seed: int = 0, folder: Path = DATA) -> Path:
    """The cached event log of ``size`` customers over ``channels`` channels."""
    if channels == 8:
        return events_file(size, seed=seed, folder=folder)
    return cached(
        folder / f"events-{size}-{channels}ch-seed{seed}.parquet",
        lambda: simulate_events(
            SIZES[size], channels=make_channels(channels), repeat_share=REPEAT_SHARE, seed=seed
        ),
    )


# -- coverage -----------------------------------------------------------------------
def coverage(
    models: list[str],
    *,
    datasets: int,
    customers: int,
    replicates: int,
    level: float = 0.9,
    truth: at.Journeys | None = None,
) -> pl.DataFrame:
    """Coverage of each model's intervals over ``datasets`` simulated data sets.

    Columns ``model, coverage, coverage_se, worst_channel, value_coverage,
    mean_width`` (coverage of the conversion share; width in share points),
    then diagnostics: ``basic_coverage`` (of the basic bootstrap interval,
    ``2 * estimate - bounds``, which undoes a bias), ``sd_ratio`` (the
    replicates' standard deviation over the estimates' standard deviation
    between data sets, mean over channels; 1 is right) and ``worst_bias``
    (the largest distance, over channels, of the mean estimate from the
    large-sample share, in standard deviations between data sets).
    """
    if truth is None:
        truth = at.load_journeys(events_log("1M", 8))
    large = at.attribute(truth, models).credits.select(
        "model",
        "channel",
        pl.col("share").alias("true_share"),
        (pl.col("value") / pl.col("value").sum().over("model")).alias("true_value_share"),
    )
    cells = []
    for d in range(1, datasets + 1):  # a loop over data sets
        events = simulate_events(customers, repeat_share=REPEAT_SHARE, seed=d)
        journeys = at.load_journeys(events)
        result = at.attribute(journeys, models).with_intervals(replicates, level=level, seed=d)
        intervals = result.intervals
        assert intervals is not None
        spread = pl.concat(
            pl.DataFrame(
                {
                    "model": label,
                    "channel": intervals.channels[label],
                    "boot_sd": np.nanstd(
                        samples[..., 0] / np.nansum(samples[..., 0], axis=1, keepdims=True),
                        axis=0,
                    ),
                }
            )
            for label, samples in intervals.samples.items()
        )
        table = result.credits.join(large, on=["model", "channel"]).join(
            spread, on=["model", "channel"]
        )
        value_total = pl.col("value").sum().over("model")
        basic_lo = 2 * pl.col("share") - pl.col("share_hi")
        basic_hi = 2 * pl.col("share") - pl.col("share_lo")
        cells.append(
            table.select(
                "model",
                "channel",
                pl.lit(d).alias("dataset"),
                "share",
                "true_share",
                "boot_sd",
                pl.col("true_share").is_between("share_lo", "share_hi").alias("hit"),
                pl.col("true_share").is_between(basic_lo, basic_hi).alias("basic_hit"),
                (pl.col("true_value_share") * value_total)
                .is_between("value_lo", "value_hi")
                .alias("value_hit"),
                (pl.col("share_hi") - pl.col("share_lo")).alias("width"),
            )
        )
    hits = pl.concat(cells)
    per_dataset = hits.group_by("model", "dataset").agg(pl.col("hit").mean())
    se = per_dataset.group_by("model").agg(
        (pl.col("hit").std() / np.sqrt(datasets)).alias("coverage_se")
    )
    per_channel = hits.group_by("model", "channel").agg(
        pl.col("hit").mean(),
        (pl.col("boot_sd").mean() / pl.col("share").std()).alias("sd_ratio"),
        (
            (pl.col("share").mean() - pl.col("true_share").first()).abs() / pl.col("share").std()
        ).alias("bias"),
    )
    worst = per_channel.group_by("model").agg(
        pl.col("hit").min().alias("worst_channel"),
        pl.col("sd_ratio").mean(),
        pl.col("bias").max().alias("worst_bias"),
    )
    order = {m: i for i, m in enumerate(models)}
    return (
        hits.group_by("model")
        .agg(
            pl.col("hit").mean().alias("coverage"),
            pl.col("value_hit").mean().alias("value_coverage"),
            pl.col("width").mean().alias("mean_width"),
            pl.col("basic_hit").mean().alias("basic_coverage"),
        )
        .join(se, on="model")
        .join(worst, on="model")
        .select(
            "model",
            "coverage",
            "coverage_se",
            "worst_channel",
            "value_coverage",
            "mean_width",
            "basic_coverage",
            "sd_ratio",
            "worst_bias",
        )
        .sort(pl.col("model").replace_strict(order, return_dtype=pl.Int64))
    )


# -- speed ----------------------------------------------------------------------------
def speed(
    journeys: at.Journeys, models: list[str], *, replicates: int, workers: int | None
) -> tuple[list[Stage], float]:
    """Point estimates, then ``replicates`` replicates; and the CPU seconds of the latter."""
    point = measure("point estimates", lambda: at.attribute(journeys, models), repeat=1)
    result = point.result
    cpu = time.process_time()
    label = f"{replicates} replicates" + (f", {workers} worker(s)" if workers else "")
    boot = measure(label, lambda: result.with_intervals(replicates, workers=workers), repeat=1)
    return [point, boot], time.process_time() - cpu


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", nargs="*", default=["coverage", "speed"])
    parser.add_argument("--datasets", type=int, default=100)
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--level", type=float, default=0.9)
    parser.add_argument("--size", default="1M", choices=sorted(SIZES))
    parser.add_argument("--channels", type=int, nargs="+", default=[8, 500])
    parser.add_argument("--workers", type=int, nargs="+", default=[0], help="0: automatic")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, seconds (CI)")
    args = parser.parse_args(argv)
    models = builtin_models()
    out: dict[str, object] = {}
    with pl.Config(
        tbl_rows=-1,
        tbl_cols=-1,
        tbl_width_chars=200,
        tbl_hide_dataframe_shape=True,
        float_precision=3,
    ):
        if "coverage" in args.what:
            truth = None
            if args.quick:
                args.datasets, args.customers, args.replicates = 2, 400, 10
                truth = at.load_journeys(simulate_events(5_000, repeat_share=REPEAT_SHARE))
            table = coverage(
                models,
                datasets=args.datasets,
                customers=args.customers,
                replicates=args.replicates,
                level=args.level,
                truth=truth,
            )
            print(
                f"\ncoverage of {args.level:.0%} intervals: {args.datasets} data sets of "
                f"{args.customers:,} customers, {args.replicates} replicates each"
            )
            print(table)
            out["coverage"] = table
        if "speed" in args.what:
            for n_channels in [8] if args.quick else args.channels:
                if args.quick:
                    events = simulate_events(
                        2_000, channels=make_channels(n_channels), repeat_share=REPEAT_SHARE
                    )
                    journeys = at.load_journeys(events)
                    replicates = 10
                else:
                    journeys = at.load_journeys(events_log(args.size, n_channels))
                    replicates = args.replicates
                for workers in args.workers:
                    stages, cpu = speed(
                        journeys, models, replicates=replicates, workers=workers or None
                    )
                    print(
                        f"\n{journeys.n_journeys:,.0f} journeys of "
                        f"{journeys.n_customers:,} customers over {n_channels} channels, "
                        f"{journeys.aggregate().n_rows:,} distinct paths, "
                        f"{len(models)} models; CPU time of the replicates: {cpu:.1f} s"
                    )
                    print(report(stages))
                    out[f"speed-{n_channels}-{workers}"] = stages
    return out


if __name__ == "__main__":
    main()
