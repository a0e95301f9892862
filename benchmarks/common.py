"""Shared benchmark plumbing: seeded data of named sizes, timers and peak memory."""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from attribution.simulate import SIZES, simulate_events

DATA = Path(__file__).resolve().parent / "data"
REPEAT_SHARE = 0.1


def events_file(size: str, *, seed: int = 0, folder: Path = DATA) -> Path:
    """A Parquet event log of ``size`` simulated journeys (generated once, cached).

    ``size`` is a key of :data:`attribution.simulate.SIZES`: that many customers,
    a tenth of whom come back for a second journey, with about 3 touches a
    journey. The path builder makes about ``size`` journeys of them (a null
    first journey merges with the customer's second one, and the 30-day
    lookback empties a few).
    """
    return cached(
        folder / f"events-{size}-seed{seed}.parquet",
        lambda: simulate_events(SIZES[size], repeat_share=REPEAT_SHARE, seed=seed),
    )


def cached(path: Path, make: Callable[[], pl.DataFrame]) -> Path:
    """``path``, written from ``make()`` (CSV or Parquet by extension) unless it exists."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        frame = make()
        tmp = path.with_suffix(".tmp")
        if path.suffix == ".parquet":
            frame.write_parquet(tmp)
        else:
            frame.write_csv(tmp)
        os.replace(tmp, path)
    return path


def _reset_peak() -> bool:
    """Reset this process's peak RSS (Linux); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _peak_mib() -> float:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class Stage:
    name: str
    seconds: float  # best of the repeats
    peak_mib: float  # peak resident memory of the process during the stage
    result: Any = None


def measure(name: str, func: Callable[[], Any], *, repeat: int = 3) -> Stage:
    """Run ``func`` ``repeat`` times; keep the best wall time and the peak RSS."""
    best, result, peak = float("inf"), None, 0.0
    for _ in range(repeat):
        result = None
        gc.collect()
        _reset_peak()
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
        peak = max(peak, _peak_mib())
    return Stage(name, best, peak, result)


def report(stages: list[Stage]) -> str:
    width = max(len(s.name) for s in stages)
    lines = [f"{'stage'.ljust(width)}  wall time (s)  peak RSS (MiB)"]
    for s in stages:
        lines.append(f"{s.name.ljust(width)}  {s.seconds:13.3f}  {s.peak_mib:14.0f}")
    return "\n".join(lines)
