"""Wall time and peak memory of the hostile resource cases of issue 12.

- ``markov``: one journey of ``--touches`` random touches (default 100,000)
  over each of ``--channels`` channel counts, at each of ``--orders``: the
  chain of one long journey has as many states as distinct windows, cycles
  everywhere, and used to take minutes to hours per channel count.
- ``shapley``: ``shapley:samples=N`` (default 10,000,000) on journeys that
  each touch all of 60 channels, so every converting set is above
  ``max_exact`` and is sampled; memory used to grow with the samples.

Each figure is the best of ``--repeat`` runs, in seconds, with the peak
resident memory of the process during the stage in MiB (kernel high-water
mark, reset before each stage).

    python benchmarks/bench_hostile.py                       # both, full size
    python benchmarks/bench_hostile.py markov --channels 20 --orders 3
    python benchmarks/bench_hostile.py --quick               # CI pass: tiny sizes, one run
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from attribution.api import run_model
from attribution.arrays import csr_offsets
from attribution.journeys import Journeys
from attribution.models.markov import Markov
from attribution.models.shapley import Shapley
from benchmarks.common import Stage, measure, report


def one_long_journey(touches: int, channels: int, *, seed: int = 0) -> Journeys:
    """One converting journey of ``touches`` uniformly random touches."""
    rng = np.random.default_rng(seed)
    return Journeys(
        channels=tuple(f"c{i:03d}" for i in range(channels)),
        codes=rng.integers(0, channels, touches).astype(np.uint32),
        offsets=np.array([0, touches]),
        conversions=np.ones(1),
        value=np.full(1, 10.0),
        nulls=np.zeros(1),
    )


def wide_journeys(rows: int, channels: int, *, seed: int = 0) -> Journeys:
    """``rows`` journeys that each touch every one of ``channels`` channels (and
    some twice), half of them converting."""
    rng = np.random.default_rng(seed)
    codes = np.concatenate(
        [
            np.concatenate([rng.permutation(channels), rng.integers(0, channels, 10)])
            for _ in range(rows)
        ]
    ).astype(np.uint32)
    conv = (np.arange(rows) % 2).astype(np.float64)
    return Journeys(
        channels=tuple(f"c{i:03d}" for i in range(channels)),
        codes=codes,
        offsets=csr_offsets(np.full(rows, channels + 10)),
        conversions=conv,
        value=conv * 5.0,
        nulls=1.0 - conv,
    )


def run_markov(touches: int, channels: list[int], orders: list[int], repeat: int) -> list[Stage]:
    stages = []
    for n_ch in channels:
        journeys = one_long_journey(touches, n_ch)
        for order in orders:
            model = Markov(order=order)
            name = f"markov:order={order}, {touches:,} touches, {n_ch} channels"
            stage = measure(name, functools.partial(run_model, model, journeys), repeat=repeat)
            stage.name += f" ({len(model.states_) - 3:,} states)"
            stages.append(stage)
    return stages


def run_shapley(samples: int, channels: int, rows: int, repeat: int) -> list[Stage]:
    journeys = wide_journeys(rows, channels)
    model = Shapley(samples=samples)

    def attribute() -> object:
        return run_model(model, journeys)

    name = f"shapley:samples={samples:,}, {rows} journeys of all {channels} channels"
    return [measure(name, attribute, repeat=repeat)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", metavar="markov|shapley", help="default: both")
    parser.add_argument("--touches", type=int, default=100_000)
    parser.add_argument("--channels", type=int, nargs="+", default=[10, 20, 30, 50])
    parser.add_argument("--orders", type=int, nargs="+", default=[3])
    parser.add_argument("--samples", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one run (for CI)")
    args = parser.parse_args(argv)
    cases = args.cases or ["markov", "shapley"]
    unknown = set(cases) - {"markov", "shapley"}
    if unknown:
        parser.error(f"unknown case(s) {sorted(unknown)}; expected markov or shapley")
    if args.quick:
        args.touches, args.channels, args.samples, args.repeat = 2_000, [8], 5_000, 1
    stages: list[Stage] = []
    if "markov" in cases:
        stages += run_markov(args.touches, args.channels, args.orders, args.repeat)
    if "shapley" in cases:
        stages += run_shapley(args.samples, 60, 20, args.repeat)
    print(report(stages))


if __name__ == "__main__":
    main()
