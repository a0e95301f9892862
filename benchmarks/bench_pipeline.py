"""Path building and the heuristic models on generated event logs of named sizes.

Measures, each as the best of three runs: reading and validating a Parquet
event log, building journeys, and running all five heuristic models together.
Peak memory is the process's peak resident set during the stage (the
high-water mark is reset before each stage).

    python benchmarks/bench_pipeline.py 1M          # the issue's size
    python benchmarks/bench_pipeline.py 100k 1M --repeat 5
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import attribution as at
from benchmarks.common import SIZES, Stage, events_file, measure, report

HEURISTICS = ["first_touch", "last_touch", "linear", "time_decay", "position_based"]


def run(size: str, *, repeat: int = 3, folder: Path | None = None) -> list[Stage]:
    path = events_file(size) if folder is None else events_file(size, folder=folder)
    read = measure("read + validate events", lambda: at.read_events(path), repeat=repeat)
    events = read.result
    build = measure("build journeys", lambda: at.build_journeys(events), repeat=repeat)
    journeys = build.result
    # A fresh copy per repeat: Journeys caches derived arrays (the converting
    # rows, positions), and the first model of a real run pays for them.
    models = measure(
        "5 heuristic models",
        lambda: at.attribute(dataclasses.replace(journeys), HEURISTICS),
        repeat=repeat,
    )
    total = Stage(
        "total (read to credit)",
        read.seconds + build.seconds + models.seconds,
        max(read.peak_mib, build.peak_mib, models.peak_mib),
    )
    return [read, build, models, total]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", default=["1M"], choices=sorted(SIZES))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    for size in args.sizes:
        stages = run(size, repeat=args.repeat)
        events = stages[0].result
        journeys = stages[1].result
        print(
            f"\n{size}: {events.height:,} events -> {journeys.n_rows:,} journeys, "
            f"{journeys.n_touches:,} touches, {journeys.total_conversions:,.0f} conversions"
        )
        print(report(stages))


if __name__ == "__main__":
    main()
