"""End-to-end runs at scale: `attribution run` as a whole process, in memory, in
partitions and on Spark, with wall time and peak memory.

Each case runs the CLI in a fresh process (``attribution run INPUT ...``,
output to a file in a temporary folder) and reports its wall
time, its CPU time and its peak resident memory (the kernel's accounting of
that child, ``wait4``; a Spark run's JVM is not counted). The
event logs come from the package's simulator, generated once into
``benchmarks/data/`` (30M customers in chunks of 3M, so that generating them
fits in memory). ``--limit-as`` also runs each case under ``prlimit --as``
(an address-space ceiling), where the kernel refuses memory past the limit.

    python benchmarks/bench_scale.py 1M                   # every built-in model, 1M
    python benchmarks/bench_scale.py 1M --markov-only     # one-model Markov run
    python benchmarks/bench_scale.py 10M                  # auto: partitions chosen by size
    python benchmarks/bench_scale.py 30M --memory-limit 4GB
    python benchmarks/bench_scale.py 1M --engine spark
    python benchmarks/bench_scale.py --against-ca /tmp/ca/bin/python  # Markov vs CA
    python benchmarks/bench_scale.py --quick              # CI pass: 10k, one run
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import polars as pl

from attribution.simulate import SIZES, simulate_events
from benchmarks.common import DATA, REPEAT_SHARE, cached, events_file

BUILTIN = [
    "first_touch",
    "last_touch",
    "linear",
    "time_decay",
    "position_based",
    "markov",
    "shapley",
    "ordered_shapley",
]
CHUNK = 3_000_000  # customers simulated at a time for the largest logs


def large_events_file(customers: int, *, seed: int = 0, folder: Path = DATA) -> Path:
    """An event log of ``customers`` simulated customers, made in chunks of 3M.

    Chunk ``k`` is ``simulate_events(3M, seed=seed + k)`` with its customer ids
    prefixed by ``k``, so the chunks never share a customer; they are written
    one by one and joined into one Parquet file by a streaming copy.
    """
    path = folder / f"events-{customers // 1_000_000}M-chunked-seed{seed}.parquet"
    if path.exists():
        return path
    parts = []
    for k in range(-(-customers // CHUNK)):  # a loop over chunks
        n = min(CHUNK, customers - k * CHUNK)

        def make(n: int = n, k: int = k) -> pl.DataFrame:
            frame = simulate_events(n, repeat_share=REPEAT_SHARE, seed=seed + k)
            return frame.with_columns(
                customer_id=pl.format("C{}-{}", pl.lit(k), pl.col("customer_id").str.slice(1))
            )

        parts.append(cached(folder / f"chunk-{customers}-{k}-seed{seed}.parquet", make))
    tmp = path.with_suffix(".tmp")
    pl.scan_parquet(parts).sink_parquet(tmp)
    os.replace(tmp, path)
    for part in parts:
        part.unlink()
    return path


def input_file(size: str) -> Path:
    if size in SIZES:
        return events_file(size)
    if size.endswith("M"):
        return large_events_file(int(size[:-1]) * 1_000_000)
    raise SystemExit(f"unknown size {size}; expected one of {sorted(SIZES)} or NM")


@dataclass
class Run:
    seconds: float  # wall time
    cpu: float  # user + system CPU time of the process
    peak_mib: float  # its peak resident set (ru_maxrss)
    status: int
    stderr: str


def whole_process(command: list[str]) -> Run:
    """Run ``command`` to its end: wall time, and CPU time and peak memory from
    the kernel's accounting of exactly that child (``wait4``)."""
    with tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err, env=_env())
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        text = err.read().strip()
    cpu = usage.ru_utime + usage.ru_stime
    return Run(seconds, cpu, usage.ru_maxrss / 1024, proc.returncode, text)


def run_cli(args: list[str], *, limit_as: int | None = None) -> Run:
    """``attribution run ARGS`` in a fresh process (output to a temporary file)."""
    command = [sys.executable, "-c", "from attribution.cli.main import cli; cli()", "run", *args]
    if limit_as is not None:
        command = ["prlimit", f"--as={limit_as}", *command]
    with tempfile.TemporaryDirectory() as folder:
        return whole_process([*command, "-o", str(Path(folder) / "credit.csv")])


# ChannelAttribution as a whole process: start, import, read the table, one call.
_CA_SCRIPT = """
import contextlib, io, sys
import pandas as pd
with contextlib.redirect_stdout(io.StringIO()):
    import ChannelAttribution as ca
    frame = pd.read_csv(sys.argv[1])
    ca.markov_model(frame, "path", "total_conversions", var_value="total_conversion_value",
                    var_null="total_null", order=1, verbose=False, flg_pro=False)
"""


def markov_against_ca(python: str, *, repeat: int) -> None:
    """`attribution run PATHS -m markov` against ChannelAttribution's whole process
    on the same 1M-journey, 8-channel paths table, interleaved, best of ``repeat``."""
    from benchmarks.bench_markov import TABLES, paths_file

    table = paths_file("8ch-1M", TABLES["8ch-1M"])
    ours, theirs = [], []
    for _ in range(repeat):
        ours.append(run_cli([str(table), "-m", "markov"]))
        theirs.append(whole_process([python, "-c", _CA_SCRIPT, str(table)]))
        if theirs[-1].status != 0:
            raise SystemExit(f"ChannelAttribution failed: {theirs[-1].stderr}")
    for name, runs in (("attribution run -m markov", ours), ("ChannelAttribution", theirs)):
        wall = ", ".join(f"{r.seconds:.2f}" for r in runs)
        cpu = ", ".join(f"{r.cpu:.2f}" for r in runs)
        print(f"{name}: wall {wall} s; CPU {cpu} s")
    ratio = min(r.seconds for r in ours) / min(r.seconds for r in theirs)
    print(f"best wall time, ours / ChannelAttribution: {ratio:.2f}")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    return env


def compile_package() -> None:
    """Byte-compile the engine's own modules, as ``pip install`` does.

    An editable install (or ``PYTHONDONTWRITEBYTECODE``, set on the project's
    machines) leaves no ``.pyc`` files, so every timed process would compile
    the engine's modules from source (some 60 ms) while the libraries it is
    timed against, installed from wheels, are compiled already.
    """
    import compileall

    import attribution
    import attribution.cli
    import attribution.models

    for package in (attribution, attribution.models, attribution.cli):
        compileall.compile_dir(Path(package.__file__).parent, quiet=1)


def main(argv: list[str] | None = None) -> list[Run]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("size", nargs="?", default="1M")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--memory-limit", help="passed to attribution run")
    parser.add_argument("--engine", default="polars", choices=["polars", "spark"])
    parser.add_argument("--markov-only", action="store_true", help="one model: markov")
    parser.add_argument("--limit-as", help="also run under prlimit --as=BYTES")
    parser.add_argument("--quick", action="store_true", help="10k customers, one run (CI)")
    parser.add_argument(
        "--against-ca",
        metavar="PYTHON",
        help="time a one-model Markov run against ChannelAttribution run by this interpreter",
    )
    args = parser.parse_args(argv)
    compile_package()
    if args.against_ca:
        markov_against_ca(args.against_ca, repeat=args.repeat)
        return []
    size = "10k" if args.quick else args.size
    repeat = 1 if args.quick else args.repeat
    path = input_file(size)
    models = ["markov"] if args.markov_only else BUILTIN
    cli_args = [str(path), *[a for m in models for a in ("-m", m)]]
    if args.memory_limit:
        cli_args += ["--memory-limit", args.memory_limit]
    if args.engine == "spark":
        cli_args += ["--engine", "spark"]
    limit = None
    if args.limit_as:
        from attribution.partition import parse_memory

        limit = parse_memory(args.limit_as)
    runs = []
    for _ in range(repeat):
        run = run_cli(cli_args, limit_as=limit)
        if run.status != 0:
            raise SystemExit(f"attribution run failed ({run.status}): {run.stderr}")
        runs.append(run)
    best = min(runs, key=lambda r: r.seconds)
    print(f"{size} ({path.name}): attribution run {' '.join(cli_args[1:])}")
    print(f"  {runs[-1].stderr.splitlines()[0] if runs[-1].stderr else ''}")
    print(
        f"  wall time best of {repeat}: {best.seconds:.2f} s "
        f"(all: {', '.join(f'{r.seconds:.2f}' for r in runs)}); "
        f"CPU time {best.cpu:.2f} s; "
        f"peak RSS (largest of the runs): {max(r.peak_mib for r in runs):,.0f} MiB"
        + (f"; under prlimit --as={limit}" if limit else "")
    )
    return runs


if __name__ == "__main__":
    main()
