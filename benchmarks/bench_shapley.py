"""Wall time of the Shapley models on simulated journeys over 8 and over 500 channels.

For each channel count: simulate the journeys once (not timed), time the
aggregation into distinct paths, then time each model on the journeys and on
the aggregated paths. Each figure is the best of ``--repeat`` runs, in
seconds, with the process's peak resident memory during the stage in MiB.

    python benchmarks/bench_shapley.py                 # 1M journeys, 8 and 500 channels
    python benchmarks/bench_shapley.py 100k --channels 8 --repeat 5
    python benchmarks/bench_shapley.py --table 500ch-1M  # the 539k-path table of bench_markov
    python benchmarks/bench_shapley.py --quick         # CI pass: 10k journeys, one run
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from attribution.api import run_model
from attribution.models.shapley import OrderedShapley, Shapley
from attribution.simulate import SIZES, make_channels, simulate_journeys
from benchmarks.common import Stage, measure, report

MODELS = {
    "shapley": Shapley(),
    "shapley:characteristic=subset_conversions": Shapley(characteristic="subset_conversions"),
    "shapley:characteristic=subset_rates": Shapley(characteristic="subset_rates"),
    "ordered_shapley": OrderedShapley(),
}


def run(n_journeys: int, n_channels: int, *, repeat: int = 3, seed: int = 0) -> list[Stage]:
    journeys = simulate_journeys(n_journeys, channels=make_channels(n_channels), seed=seed)
    agg = measure("aggregate to distinct paths", journeys.aggregate, repeat=repeat)
    paths = agg.result
    stages = [agg]
    for data, where in ((journeys, "journeys"), (paths, "paths")):
        for label, model in MODELS.items():
            stages.append(
                measure(
                    f"{label} on {where}", lambda m=model, d=data: run_model(m, d), repeat=repeat
                )
            )
    print(
        f"\n{n_journeys:,} journeys over {n_channels} channels: {journeys.n_touches:,} touches, "
        f"{paths.n_rows:,} distinct paths, {journeys.total_conversions:,.0f} conversions; "
        f"shapley: {MODELS['shapley'].details()['sets']:,} channel sets, "
        f"{MODELS['shapley'].details()['subset_pairs']:,} (set, seen subset) pairs"
    )
    print(report(stages))
    return stages


def run_table(name: str, *, repeat: int = 3) -> list[Stage]:
    """The ``shapley`` model on one of bench_markov's paths tables (read, not timed)."""
    import attribution as at
    from benchmarks.bench_markov import TABLES, paths_file

    paths = at.load_journeys(paths_file(name, TABLES[name]))
    model = Shapley()
    stage = measure(
        f"shapley on the {name} paths table", lambda: run_model(model, paths), repeat=repeat
    )
    details = model.details()
    print(
        f"\n{name}: {paths.n_rows:,} distinct paths over {paths.n_channels} channels; "
        f"{details['sets']:,} channel sets, {details['subset_pairs']:,} (set, seen subset) pairs"
    )
    print(report([stage]))
    return [stage]


def main(argv: list[str] | None = None) -> list[Stage]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("size", nargs="?", default="1M", choices=sorted(SIZES))
    parser.add_argument("--channels", type=int, nargs="+", default=[8, 500])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="10k journeys, one run (CI)")
    parser.add_argument("--table", help="instead: shapley on a bench_markov paths table")
    args = parser.parse_args(argv)
    if args.table:
        return run_table(args.table, repeat=args.repeat)
    n = SIZES["10k"] if args.quick else SIZES[args.size]
    repeat = 1 if args.quick else args.repeat
    stages: list[Stage] = []
    for n_channels in args.channels:
        stages += run(n, n_channels, repeat=repeat)
    return stages


if __name__ == "__main__":
    main()
