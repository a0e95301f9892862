"""Path building by partitions of customers: bounded memory, the in-memory builder's credit.

The customers are split by a hash of their id into partitions; each partition
is read, built into journeys and reduced on its own to what the models need
(:class:`Reduction`): its distinct paths, and the credit of the models whose
credit adds up across customers. Reductions of disjoint customers add up
(:func:`combine`), and the path-based models then run once on the combined
paths (:func:`attribute_reduced`). The Spark backend (:mod:`attribution.spark`)
produces the same :class:`Reduction`, so both end in the same place.

How a model combines is declared by its class attribute ``combine``:

``"sum"``
    The model runs on each partition's journeys (touch times included) and
    its credit is summed; for models whose credit is a sum over journeys (the
    heuristics, time decay included).
``"paths"`` (the default of a model that declares nothing)
    The model runs once on the combined paths table. Such a model cannot see
    touch times, so one that needs them (``needs_times``) is refused.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
import polars as pl

from attribution.api import (
    AttributionResult,
    ModelRun,
    ModelSpec,
    attribute,
    choose_models,
    run_model,
    summarise,
)
from attribution.arrays import csr_offsets
from attribution.builder import build_journeys, load_journeys
from attribution.errors import InputError, ModelError
from attribution.journeys import Journeys, Unattributed
from attribution.model import Model
from attribution.sources import (
    EventColumns,
    Source,
    is_paths_frame,
    lenient_time_zones,
    read_events,
    scan_events,
    scan_frame,
)

__all__ = [
    "Combine",
    "Reduction",
    "attribute_events",
    "attribute_partitioned",
    "attribute_reduced",
    "combine",
    "combine_of",
    "default_memory_limit",
    "estimate_events",
    "parse_memory",
    "partitions_for",
    "reduce_journeys",
]

Combine = Literal["sum", "paths"]
COMBINES: tuple[Combine, ...] = ("sum", "paths")

# Peak resident memory of building journeys per input event, and what the
# process holds before reading (interpreter, polars, numpy, scipy, the
# models); measured on the benchmark logs (docs/scale.md: 168 bytes an event
# for a partition of 14.7M events). A partition is sized to fit the limit
# with these, with a margin for the parts of a run that are not per event.
BYTES_PER_EVENT = 180
BASELINE_BYTES = 450 * 2**20
_MARGIN = 0.8
# With no limit given: a quarter of the machine's memory, at most this.
_DEFAULT_LIMIT = 4 * 2**30

_UNITS = {"": 1, "B": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}


def combine_of(model: Model | type[Model]) -> Combine:
    """How ``model`` combines across partitions: its ``combine`` attribute, else ``"paths"``."""
    how = getattr(model, "combine", "paths")
    if how not in COMBINES:
        name = getattr(model, "name", "") or type(model).__name__
        raise ModelError(
            f"model '{name}' declares combine = {how!r}; expected one of {list(COMBINES)}"
        )
    return cast(Combine, how)


def parse_memory(text: str) -> int:
    """Bytes in ``4GB``, ``512MiB``, ``2g``, ``1.5 GiB`` or a plain number of bytes.

    Decimal units (kB, MB, GB, TB) count in powers of 1000, binary ones (KiB,
    MiB, GiB, TiB) and single letters (k, m, g, t) in powers of 1024.
    """
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kKmMgGtT]?)(i?)([bB]?)\s*", text)
    if match is None:
        raise InputError(f"cannot read the memory size '{text}'; expected a size such as 4GB")
    number, unit, binary, byte = match.groups()
    unit = unit.upper()
    if binary or (unit and not byte):
        factor = 1024 ** " KMGT".index(unit) if unit else 1
    else:
        factor = _UNITS[unit]
    size = int(float(number) * factor)
    if size <= 0:
        raise InputError(f"memory size '{text}' must be more than 0 bytes")
    return size


def default_memory_limit() -> int:
    """The memory a run plans for when given none: a quarter of RAM, at most 4 GiB."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not a POSIX system
        return _DEFAULT_LIMIT
    return min(_DEFAULT_LIMIT, total // 4)


def estimate_events(source: Source) -> int:
    """About how many events ``source`` holds, cheaply.

    Parquet files and frames know their row count; for text files it is the
    file size over the mean length of the lines in its first MiB.
    """
    if isinstance(source, pl.DataFrame):
        return source.height
    if not isinstance(source, (str, os.PathLike)):
        return 0  # lazy and pandas frames: already in memory, or unknown
    path = Path(source)
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".parquet", ".pq"):
        try:
            with lenient_time_zones():  # a '+05:30' zone must not panic a row count
                return int(pl.scan_parquet(path).select(pl.len()).collect().item())
        except (pl.exceptions.PolarsError, OSError, pl.exceptions.PanicException) as exc:
            raise InputError(f"file '{path}' cannot be read: {exc}") from exc
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(2**20)
    except OSError as exc:
        raise InputError(f"file '{path}' cannot be read: {exc}") from exc
    lines = head.count(b"\n")
    if suffixes and suffixes[-1] == ".gz":
        return size // 10  # compressed text: a guess of ten bytes an event
    return size * max(lines, 1) // max(len(head), 1)


def partitions_for(
    source: Source, *, memory_limit: int | None = None, conversions: Source | None = None
) -> int:
    """How many partitions keep a run on ``source`` within ``memory_limit`` bytes.

    1 means in memory. The estimate is :data:`BYTES_PER_EVENT` per event over
    :data:`BASELINE_BYTES`, with a fifth of the limit kept free; ``None``
    plans for :func:`default_memory_limit`.
    """
    limit = default_memory_limit() if memory_limit is None else memory_limit
    events = estimate_events(source) + (0 if conversions is None else estimate_events(conversions))
    room = (limit * _MARGIN) - BASELINE_BYTES
    if room <= 0:
        raise InputError(
            f"a memory limit of {limit / 2**30:.2f} GiB leaves no room for the data: the "
            f"engine itself takes about {BASELINE_BYTES / 2**30:.2f} GiB"
        )
    return max(1, math.ceil(events * BYTES_PER_EVENT / room))


# -- reductions ------------------------------------------------------------
@dataclass(frozen=True)
class Reduction:
    """Journeys reduced to what the models need; reductions of disjoint customers add up.

    Attributes
    ----------
    paths : Journeys
        The distinct paths (:meth:`Journeys.aggregate`) with their conversions,
        value and nulls, and the unattributed conversions; no touch times.
    sums : dict of str to polars.DataFrame
        Credit (``channel, conversions, value``, one row per channel of
        ``paths``) of each ``"sum"`` model, by label.
    customers : int or None
        Customers with at least one journey (None when unknown).
    has_times : bool
        Whether the journeys reduced had touch times.
    """

    paths: Journeys
    sums: dict[str, pl.DataFrame]
    customers: int | None
    has_times: bool

    def summary(self) -> dict[str, Any]:
        """The run summary of the journeys reduced (:func:`attribution.api.summarise`)."""
        return {
            **summarise(self.paths),
            "customers": self.customers,
            "customers_without_journeys": None
            if self.customers is None
            else self.paths.unattributed.customers,
            "has_times": self.has_times,
        }


def reduce_journeys(journeys: Journeys, sum_models: Sequence[tuple[str, Model]] = ()) -> Reduction:
    """Reduce ``journeys`` to their distinct paths and the credit of ``sum_models``."""
    sums = {label: run_model(model, journeys) for label, model in sum_models}
    return Reduction(journeys.aggregate(), sums, journeys.n_customers, journeys.has_times)


def combine(reductions: Iterable[Reduction]) -> Reduction:
    """One reduction of the customers of all ``reductions`` (disjoint sets of customers).

    The paths of all are recoded onto the union of their channels and merged
    (a path seen in several partitions becomes one row); the credit of each
    model is summed per channel.
    """
    parts = list(reductions)
    if not parts:
        return Reduction(Journeys.empty(has_times=False), {}, 0, True)
    channels = tuple(sorted({c for r in parts for c in r.paths.channels}))
    paths = [r.paths.with_channels(channels) for r in parts]
    lost = Unattributed(
        conversions=sum(p.unattributed.conversions for p in paths),
        value=sum(p.unattributed.value for p in paths),
        customers=sum(p.unattributed.customers for p in paths),
    )
    tied = any(p.tie is not None for p in paths)
    merged = Journeys(
        channels=channels,
        codes=np.concatenate([p.codes for p in paths]).astype(np.uint32),
        tie=np.concatenate(
            [p.tie if p.tie is not None else np.zeros(p.n_touches, dtype=bool) for p in paths]
        )
        if tied
        else None,
        offsets=csr_offsets(np.concatenate([p.lengths for p in paths])),
        conversions=np.concatenate([p.conversions for p in paths]),
        value=np.concatenate([p.value for p in paths]),
        nulls=np.concatenate([p.nulls for p in paths]),
        unattributed=lost,
    ).aggregate()
    frame = pl.DataFrame({"channel": pl.Series(list(channels), dtype=pl.String)})
    sums = {}
    for label in parts[0].sums:  # a loop over models
        total = (
            pl.concat([r.sums[label] for r in parts])
            .group_by("channel")
            .agg(pl.col("conversions", "value").sum())
        )
        sums[label] = frame.join(total, on="channel", how="left", maintain_order="left").select(
            "channel", pl.col("conversions", "value").fill_null(0.0)
        )
    counts = [r.customers for r in parts]
    customers = None if any(c is None for c in counts) else sum(cast(list[int], counts))
    return Reduction(merged, sums, customers, all(r.has_times for r in parts))


def split_models(
    chosen: Sequence[tuple[str, Model]],
) -> tuple[list[tuple[str, Model]], list[tuple[str, Model]]]:
    """``chosen`` as the models summed over partitions and those run on the paths.

    Raises :class:`~attribution.errors.ModelError` for a model that needs touch
    times but would run on the combined paths.
    """
    summed: list[tuple[str, Model]] = []
    on_paths: list[tuple[str, Model]] = []
    for label, model in chosen:
        how = combine_of(model)
        if how == "paths" and (model.needs_times or model.uses_times):
            raise ModelError(refusal(model))
        (summed if how == "sum" else on_paths).append((label, model))
    return summed, on_paths


def refusal(model: Model | type[Model]) -> str:
    """Why a model that needs touch times cannot run on combined paths."""
    return (
        f"model '{model.name}' needs touch times (or reads them when given) but would run "
        "on the combined paths of a "
        "partitioned run (it does not declare combine = 'sum'); run it in memory "
        "(raise --memory-limit) or declare how it combines"
    )


def attribute_reduced(
    reduction: Reduction,
    chosen: Sequence[tuple[str, Model]],
    skipped: Sequence[tuple[str, str]] = (),
    load_errors: dict[str, str] | None = None,
) -> AttributionResult:
    """The result of ``chosen`` (labelled models) on a reduction: the summed
    credit of the ``"sum"`` models, and the others run on its paths."""
    runs = []
    for label, model in chosen:  # a loop over models
        if label in reduction.sums:
            runs.append(ModelRun(label, model, reduction.sums[label]))
        else:
            runs.append(ModelRun(label, model, run_model(model, reduction.paths)))
    return AttributionResult(
        reduction.paths,
        runs,
        list(skipped),
        dict(load_errors or {}),
        input_summary=reduction.summary(),
    )


def choose_partitioned(
    models: Sequence[ModelSpec] | None,
) -> tuple[list[tuple[str, Model]], list[tuple[str, str]], dict[str, str]]:
    """:func:`attribution.api.choose_models` for an event input built in partitions:
    with every model, one that needs times but cannot be summed is skipped."""
    chosen, skipped, errors = choose_models(models, has_times=True)
    if models is None:
        keep = []
        for label, model in chosen:
            if (model.needs_times or model.uses_times) and combine_of(model) == "paths":
                skipped.append((label, refusal(model)))
            else:
                keep.append((label, model))
        chosen = keep
    split_models(chosen)  # refuse before reading anything
    return chosen, skipped, errors


# -- the partitioned builder -------------------------------------------------
def partition_of(n: int, k: int, *, as_text: bool = False) -> pl.Expr:
    """True for the events of partition ``k`` of ``n``: a hash of the customer id.

    ``as_text`` hashes the id as text, for sources whose ids differ in type.
    """
    customer = pl.col("customer").cast(pl.String) if as_text else pl.col("customer")
    return (customer.hash(seed=0) % n) == k


def attribute_partitioned(
    source: Source,
    models: Sequence[ModelSpec] | None = None,
    *,
    partitions: int | None = None,
    memory_limit: int | None = None,
    conversions: Source | None = None,
    columns: EventColumns | None = None,
    conversion_event: str = "conversion",
    time_unit: str | None = None,
    delimiter: str | None = None,
    lookback_days: float | None = 30.0,
    collapse_repeats: bool = False,
    max_touches: int | None = None,
) -> AttributionResult:
    """Run ``models`` on an event source, building its journeys partition by partition.

    Each partition (a hash of the customer id) is read, validated, built with
    the rules of :func:`attribution.builder.build_journeys` and reduced; the
    result is that of :func:`attribution.attribute` on the whole input, with
    the combined paths as its journeys. ``partitions`` defaults to
    :func:`partitions_for` the ``memory_limit``. A bad row is reported from
    the first partition that has one, so it may not be the file's first.

    The remaining parameters are those of :func:`attribution.load_journeys`.
    """
    chosen, skipped, errors = choose_partitioned(models)
    summed, _ = split_models(chosen)
    n = partitions or partitions_for(source, memory_limit=memory_limit, conversions=conversions)
    if n < 1:
        raise InputError(f"partitions must be at least 1, got {n}")
    cols = columns or EventColumns()
    as_text = False
    if conversions is not None:
        kinds = [
            scan_events(s, columns=cols, delimiter=delimiter, **how).collect_schema()["customer"]
            for s, how in (
                (source, {"conversion_event": None}),
                (conversions, {"conversions_only": True}),
            )
        ]
        # build_journeys compares ids as text when the two differ in type; so does the hash
        as_text = kinds[0] != kinds[1]

    reductions = []
    events = 0
    for k in range(n):  # a loop over partitions
        rows = partition_of(n, k, as_text=as_text) if n > 1 else None
        part = read_events(
            source,
            columns=cols,
            conversion_event=None if conversions is not None else conversion_event,
            time_unit=time_unit,
            delimiter=delimiter,
            rows=rows,
        )
        extra = None
        if conversions is not None:
            extra = read_events(
                conversions,
                columns=cols,
                time_unit=time_unit,
                delimiter=delimiter,
                conversions_only=True,
                rows=rows,
            )
        events += part.height + (0 if extra is None else extra.height)
        journeys = build_journeys(
            part,
            conversions=extra,
            lookback_days=lookback_days,
            collapse_repeats=collapse_repeats,
            max_touches=max_touches,
        )
        del part, extra
        reductions.append(reduce_journeys(journeys, summed))
        del journeys
    if events == 0:
        where = os.fspath(source) if isinstance(source, (str, os.PathLike)) else "input frame"
        raise InputError(f"{where} has no events (it has a header but no rows)")
    return attribute_reduced(combine(reductions), chosen, skipped, errors)


def attribute_events(
    source: Source,
    models: Sequence[ModelSpec] | None = None,
    *,
    memory_limit: int | None = None,
    conversions: Source | None = None,
    columns: EventColumns | None = None,
    conversion_event: str = "conversion",
    time_unit: str | None = None,
    delimiter: str | None = None,
    path_sep: str = ">",
    lookback_days: float | None = 30.0,
    collapse_repeats: bool = False,
    max_touches: int | None = None,
) -> AttributionResult:
    """Run ``models`` on a source, in memory or in partitions as its size asks.

    A paths table, or events that fit ``memory_limit`` (:func:`partitions_for`),
    go through :func:`attribution.load_journeys` and :func:`attribution.attribute`;
    larger event inputs through :func:`attribute_partitioned`. The credit is
    the same either way.
    """
    cols = columns or EventColumns()
    names = scan_frame(source, delimiter=delimiter).collect_schema().names()
    paths = is_paths_frame(names) and cols.channel not in names
    options: dict[str, Any] = dict(
        conversions=conversions,
        columns=cols,
        conversion_event=conversion_event,
        time_unit=time_unit,
        delimiter=delimiter,
        lookback_days=lookback_days,
        collapse_repeats=collapse_repeats,
        max_touches=max_touches,
    )
    n = 1 if paths else partitions_for(source, memory_limit=memory_limit, conversions=conversions)
    if n > 1:
        return attribute_partitioned(source, models, partitions=n, **options)
    journeys = load_journeys(source, path_sep=path_sep, **options)
    return attribute(journeys, models)
