"""Wall time of the Markov model starting from a paths file, on generated tables of named sizes.

Each table is a ChannelAttribution paths CSV (``path, total_conversions,
total_conversion_value, total_null``) made once by the package's simulator and
cached in ``benchmarks/data`` (not timed). Timed, each as the best of
``--repeat`` runs in seconds (peak resident memory in MiB): reading the file
with ``attribution.load_journeys``, the model alone, and their sum.

    python benchmarks/bench_markov.py                     # every table of the issue
    python benchmarks/bench_markov.py 8ch-1M --orders 1 2 3 --repeat 5
    python benchmarks/bench_markov.py 50ch-1M --compare-ca  # also time ChannelAttribution
    python benchmarks/bench_markov.py --quick             # CI pass: tiny tables, one run

``--compare-ca`` needs ``pip install channelattribution`` (never a dependency
of the package): it runs ``ChannelAttribution.markov_model`` in-process with
its default simulation settings on the same table (read into pandas, not
timed) and prints its time and its largest deviation from our exact credit.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

import attribution as at
from attribution.models.markov import Markov
from attribution.simulate import make_channels, simulate_journeys
from benchmarks.common import DATA, Stage, cached, measure, report


@dataclass(frozen=True)
class Table:
    journeys: int
    channels: int
    mean_touches: float  # tuned so the distinct paths come close to the counts
    orders: tuple[int, ...]


TABLES = {
    "8ch-1M": Table(1_000_000, 8, 3.8, (1, 2, 3)),  # ~99k distinct paths
    "8ch-3M": Table(3_000_000, 8, 3.97, (1, 2, 3)),  # ~237k
    "50ch-1M": Table(1_000_000, 50, 5.6, (1,)),  # ~325k
    "500ch-1M": Table(1_000_000, 500, 3.77, (1,)),  # ~539k
}
QUICK = {
    "8ch-10k": Table(10_000, 8, 3.8, (1, 2, 3)),
    "500ch-10k": Table(10_000, 500, 3.77, (1,)),
}


def paths_file(name: str, table: Table, *, folder: Path = DATA, seed: int = 0) -> Path:
    """The table's paths CSV, generated once and cached."""
    return cached(
        folder / f"paths-{name}-seed{seed}.csv",
        lambda: simulate_journeys(
            table.journeys,
            channels=make_channels(table.channels),
            mean_touches=table.mean_touches,
            seed=seed,
        ).to_paths_table(),
    )


def run(
    name: str,
    table: Table,
    *,
    orders: tuple[int, ...] | None = None,
    repeat: int = 3,
    folder: Path = DATA,
) -> list[Stage]:
    path = paths_file(name, table, folder=folder)
    load = measure("load paths file", lambda: at.load_journeys(path), repeat=repeat)
    journeys = load.result
    stages = [load]
    for order in orders or table.orders:
        model = measure(f"markov order {order}", lambda o=order: _fit(journeys, o), repeat=repeat)
        total = Stage(
            f"  file to credit, order {order}",
            load.seconds + model.seconds,
            max(load.peak_mib, model.peak_mib),
        )
        stages += [model, total]
    return stages


def _fit(journeys: at.Journeys, order: int) -> Markov:
    model = Markov(order=order)
    model.attribute(journeys)
    return model


def compare_ca(path: Path, journeys: at.Journeys, orders: tuple[int, ...]) -> list[str]:
    """ChannelAttribution's time and largest deviation from our credit, per order."""
    try:
        import pandas as pd

        with contextlib.redirect_stdout(io.StringIO()):  # it prints a banner on import
            import ChannelAttribution as ca
    except ImportError:
        return ["ChannelAttribution is not installed: pip install channelattribution"]
    frame = pd.read_csv(path)
    lines = []
    for order in orders:
        ours = Markov(order=order)
        credit = ours.attribute(journeys)
        exact = dict(zip(credit["channel"], credit["conversions"], strict=True))
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            out = ca.markov_model(
                frame,
                "path",
                "total_conversions",
                var_value="total_conversion_value",
                var_null="total_null",
                order=order,
                verbose=False,
                flg_pro=False,
            )
        seconds = time.perf_counter() - start
        got = dict(zip(out["channel_name"], out["total_conversions"], strict=True))
        ch = [c for c in exact if exact[c] > 0]
        dev = np.array([abs(got.get(c, 0.0) - exact[c]) / exact[c] for c in ch])
        lines.append(
            f"ChannelAttribution order {order}: {seconds:.2f} s; credit off by "
            f"{np.median(dev):.1%} (median), {dev.max():.1%} (max) over {len(ch)} channels; "
            f"P(conversion) {ours.conversion_probability_:.6f}"
        )
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tables", nargs="*", metavar="TABLE", help=", ".join(TABLES))
    parser.add_argument("--orders", nargs="+", type=int)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--compare-ca", action="store_true")
    parser.add_argument("--quick", action="store_true", help="tiny tables, one run (CI)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.tables) - set(TABLES))
    if unknown:
        parser.error(f"unknown tables {unknown}; expected some of {list(TABLES)}")
    chosen = QUICK if args.quick else {t: TABLES[t] for t in args.tables or TABLES}
    repeat = 1 if args.quick else args.repeat
    for name, table in chosen.items():
        orders = tuple(args.orders) if args.orders else None
        stages = run(name, table, orders=orders, repeat=repeat)
        journeys = stages[0].result
        print(
            f"\n{name}: {table.journeys:,} journeys, {table.channels} channels -> "
            f"{journeys.n_rows:,} distinct paths, {journeys.n_touches:,} touches"
        )
        print(report(stages))
        if args.compare_ca:
            path = paths_file(name, table)
            for line in compare_ca(path, journeys, orders or table.orders):
                print(line)


if __name__ == "__main__":
    main()
