"""Wall time of the ``data_driven`` model (fit and credit) on simulated journeys.

For each channel count: simulate the journeys once (not timed), then time
``data_driven`` with its defaults (cross-validated penalty, Shapley credit)
on them, and report the stages of one run: grouping into distinct rows, the
fits (the cross-validation and the final one) and the Shapley credit. Each
total is the best of ``--repeat`` runs, in seconds, with the process's peak
resident memory in MiB.

    python benchmarks/bench_data_driven.py                # 1M journeys, 8 and 50 channels
    python benchmarks/bench_data_driven.py 100k --channels 8 --repeat 1
    python benchmarks/bench_data_driven.py --quick        # CI pass: 10k journeys, one run
    python benchmarks/bench_data_driven.py 1M --crossfit  # cross-fitted credit

Since SciPy 1.15, L-BFGS-B calls BLAS on small vectors, and a multi-threaded
OpenBLAS can then spend most of the fit waking its threads on a busy machine;
``OPENBLAS_NUM_THREADS=1`` in the environment avoids that (the figures in
``docs/data-driven.md`` say which setting they were measured with).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from attribution.api import run_model
from attribution.models.data_driven import DataDriven
from attribution.simulate import SIZES, make_channels, simulate_journeys
from benchmarks.common import Stage, measure, report


class _Timed(DataDriven):
    """``data_driven`` that records how long its stages take."""

    def attribute(self, journeys):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        out = super().attribute(journeys)
        self.total_seconds_ = time.perf_counter() - start
        return out

    def _prepare(self, journeys, **kwargs):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        super()._prepare(journeys, **kwargs)
        self.prepare_seconds_ = time.perf_counter() - start

    def _fit(self, design, conversions, nulls):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        fit = super()._fit(design, conversions, nulls)
        self.fit_seconds_ = time.perf_counter() - start
        return fit


def run(
    n_journeys: int, n_channels: int, *, repeat: int = 3, seed: int = 0, crossfit: bool = False
) -> list[Stage]:
    journeys = simulate_journeys(n_journeys, channels=make_channels(n_channels), seed=seed)
    model = _Timed(crossfit=crossfit)
    label = f"data_driven{':crossfit=true' if crossfit else ''}, {n_channels} channels"
    stage = measure(label, lambda: run_model(model, journeys), repeat=repeat)
    d = model.details()
    fit = model.fit_seconds_
    group = model.prepare_seconds_ - fit
    credit = model.total_seconds_ - model.prepare_seconds_
    print(
        f"\n{n_journeys:,} journeys over {n_channels} channels: {journeys.n_touches:,} touches, "
        f"{journeys.total_conversions:,.0f} conversions, {d['distinct_rows']:,} distinct rows, "
        f"{d['features']:,} features; penalty {d['cross_validation']['penalty']:g} chosen on "
        f"{d['cross_validation']['journeys']:,.0f} journeys; "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}"
    )
    print(
        f"last run: distinct rows and design {group:.2f} s, fits {fit:.2f} s, "
        f"Shapley credit{' (and the fold fits)' if crossfit else ''} {credit:.2f} s, "
        f"in all {model.total_seconds_:.2f} s"
    )
    print(report([stage]))
    return [stage]


def main(argv: list[str] | None = None) -> list[Stage]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("size", nargs="?", default="1M", choices=sorted(SIZES))
    parser.add_argument("--channels", type=int, nargs="+", default=[8, 50])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="10k journeys, one run (CI)")
    parser.add_argument("--crossfit", action="store_true", help="data_driven:crossfit=true")
    args = parser.parse_args(argv)
    n = SIZES["10k"] if args.quick else SIZES[args.size]
    repeat = 1 if args.quick else args.repeat
    stages: list[Stage] = []
    for n_channels in args.channels:  # a loop over channel counts
        stages += run(n, n_channels, repeat=repeat, crossfit=args.crossfit)
    return stages


if __name__ == "__main__":
    main()
