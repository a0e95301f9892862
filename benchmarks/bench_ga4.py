"""Inputs as analysts have them: a GA4 export into journeys; a CSV event log against Parquet.

Measures, each as the best of ``--repeat`` runs (wall seconds, with the
process's peak resident memory during the stage):

1. a generated GA4 BigQuery export (``attribution.testing.ga4``; 1M users,
   about 10M events, 90 daily Parquet files) into journeys with
   ``load_journeys(folder, reader=GA4Export())``, and its two halves: the
   export into events (a touch per session) and the events into journeys;
   then once more with the CPU time, and once by polars' scan alone (the path
   without pyarrow);
2. the 1M-customer event log of ``bench_pipeline`` (3.4M events) into
   journeys from Parquet and from CSV, and the CSV read with every timestamp
   format tried on every row (the parse before issue 11), for comparison.

The data is generated once and cached in ``benchmarks/data/``; generation is
not timed.

    python benchmarks/bench_ga4.py                   # the issue's sizes
    python benchmarks/bench_ga4.py --users 100000 --days 30
    python benchmarks/bench_ga4.py --quick           # CI pass: 2,000 users, 3 days, one run
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import polars as pl

import attribution as at
from attribution import ga4
from attribution import sources as events_io
from attribution.ga4 import GA4Export
from attribution.testing.ga4 import simulate_ga4
from benchmarks.common import DATA, Stage, cached, events_file, measure, report


def ga4_export(
    users: int, *, days: int = 90, seed: int = 0, folder: Path = DATA, sessions: float = 2.3
) -> Path:
    """A folder of ``days`` daily GA4 Parquet files for ``users`` users (generated once)."""
    return cached_folder(
        folder / f"ga4-{users}u-{days}d-seed{seed}",
        lambda out: simulate_ga4(users, days=days, sessions_per_user=sessions, seed=seed).write(
            out
        ),
    )


def cached_folder(path: Path, make: Callable[[Path], object]) -> Path:
    """``path``, filled by ``make(folder)`` unless it exists (written aside, then renamed)."""
    if not path.exists():
        tmp = path.with_name(path.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        make(tmp)
        os.replace(tmp, path)
    return path


def csv_events(size: str, *, folder: Path = DATA) -> Path:
    """The Parquet event log of ``size`` as CSV (written once)."""
    parquet = events_file(size, folder=folder)
    return cached(parquet.with_suffix(".csv"), lambda: pl.read_parquet(parquet))


def run_ga4(export: Path, *, repeat: int) -> list[Stage]:
    reader = GA4Export()
    read = measure("GA4 export -> events", lambda: reader.read(export), repeat=repeat)
    events: pl.DataFrame = read.result
    build = measure("events -> journeys", lambda: at.build_journeys(events), repeat=repeat)
    read.result = (events.height, dict(reader.stats_))  # the frame itself is not kept
    events = events.clear()
    whole = measure(
        "GA4 export -> journeys (load_journeys)",
        lambda: at.load_journeys(export, reader=GA4Export()),
        repeat=repeat,
    )
    return [read, build, whole]


def cpu_and_wall(func: Callable[[], object]) -> tuple[float, float]:
    """CPU seconds (user + system, all threads) and wall seconds of one call: on a
    shared machine the CPU time says more than the wall time."""
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    func()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def run_csv(size: str, *, repeat: int, folder: Path = DATA) -> list[Stage]:
    parquet = events_file(size, folder=folder)
    csv = csv_events(size, folder=folder)
    stages = [
        measure("Parquet events -> journeys", lambda: at.load_journeys(parquet), repeat=repeat),
        measure("CSV events -> journeys", lambda: at.load_journeys(csv), repeat=repeat),
    ]
    with mock.patch.object(events_io, "_sniff_format", lambda sample: None):
        stages.append(
            measure(
                "CSV, every format on every row (old)",
                lambda: at.load_journeys(csv),
                repeat=repeat,
            )
        )
    return stages


def run(
    *,
    users: int = 1_000_000,
    days: int = 90,
    size: str = "1M",
    repeat: int = 2,
    folder: Path = DATA,
) -> list[Stage]:
    export = ga4_export(users, days=days, folder=folder)
    return run_ga4(export, repeat=repeat) + run_csv(size, repeat=repeat, folder=folder)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--size", default="1M", help="event log size for CSV vs Parquet")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="2,000 users, 3 days, 10k log")
    args = parser.parse_args(argv)
    if args.quick:
        args.users, args.days, args.size, args.repeat = 2000, 3, "10k", 1
    stages = run(users=args.users, days=args.days, size=args.size, repeat=args.repeat)
    n_events, stats = stages[0].result
    journeys = stages[2].result
    print(
        f"\nGA4 export: {stats['files']} files, {stats['events']:,} events, "
        f"{stats['sessions']:,} sessions, {stats['conversions']:,} conversions -> "
        f"{n_events:,} events -> {journeys.n_rows:,} journeys, {journeys.n_touches:,} touches"
    )
    csv_journeys = stages[4].result
    print(f"event log {args.size}: {csv_journeys.n_touches:,} touches")
    print(report(stages))
    print(f"CSV / Parquet: {stages[4].seconds / stages[3].seconds:.2f}")
    export = ga4_export(args.users, days=args.days)
    cpu, wall = cpu_and_wall(lambda: at.load_journeys(export, reader=GA4Export()))
    print(f"one more GA4 export -> journeys: {wall:.2f} s wall, {cpu:.2f} s CPU (user + system)")
    for name, path in (("Parquet", events_file(args.size)), ("CSV", csv_events(args.size))):
        cpu, wall = cpu_and_wall(lambda p=path: at.load_journeys(p))
        print(f"one more {name} events -> journeys: {wall:.2f} s wall, {cpu:.2f} s CPU")
    with mock.patch.object(ga4, "decode", lambda *args: None):
        cpu, wall = cpu_and_wall(lambda: at.load_journeys(export, reader=GA4Export()))
    print(f"GA4 export -> journeys by polars' scan alone: {wall:.2f} s wall, {cpu:.2f} s CPU")
    print(f"load average when done: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
