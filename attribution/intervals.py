"""Bootstrap confidence intervals of every model's channel credit.

A replicate is the journeys container with new counts: each customer's
journeys get one Poisson(1) weight (all of a customer's journeys together),
or, on a paths-only input where customers are unknown, each row's conversions
and nulls are redrawn as Poisson counts (the Poisson bootstrap of the
journeys). Every model, plugins included, runs unchanged on each replicate
through :func:`attribution.api.run_model`; models that do not need touch times
run on the distinct paths (reweighted with one ``np.bincount`` per count),
models that do on the journeys themselves (new counts, the same touch
arrays). The
percentile interval of the replicates' credit is the interval. See
``docs/intervals.md``.
"""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from attribution.arrays import distinct_pairs
from attribution.costs import TOTAL
from attribution.errors import AttributionError
from attribution.journeys import Journeys

if TYPE_CHECKING:
    from attribution.api import ModelRun
    from attribution.model import Model

__all__ = [
    "BOUND_COLUMNS",
    "DEFAULT_LEVEL",
    "DEFAULT_REPLICATES",
    "FEW_CONVERSIONS",
    "IntervalError",
    "IntervalSettings",
    "Intervals",
    "bootstrap",
    "compact_table",
    "compute_intervals",
    "cost_intervals",
    "wide_with_bounds",
]

DEFAULT_REPLICATES = 200
DEFAULT_LEVEL = 0.9
FEW_CONVERSIONS = 30.0
"""A channel is flagged when fewer conversions than this touch it (see docs)."""

MEASURES = ("conversions", "value", "share")
COST_MEASURES = ("cpa", "roas", "roi")
BOUND_COLUMNS = tuple(f"{m}_{end}" for m in MEASURES for end in ("lo", "hi"))
"""Columns the credit table gains: ``conversions_lo, conversions_hi, value_lo, ...``."""
COST_BOUND_COLUMNS = tuple(f"{m}_{end}" for m in COST_MEASURES for end in ("lo", "hi"))
FLAGS = ("touched_conversions", "few_conversions")

METHOD = "percentile"

# A pool is worth starting only when the replicates would take longer than this
# in one thread (judged from the first replicate, which always runs in-process).
_POOL_SECONDS = 2.0


class IntervalError(AttributionError):
    """Bootstrap settings that cannot be used (replicates, level, threshold)."""


@dataclass(frozen=True)
class IntervalSettings:
    """How to bootstrap: the arguments of :meth:`AttributionResult.with_intervals`."""

    n: int = DEFAULT_REPLICATES
    level: float = DEFAULT_LEVEL
    seed: int = 0
    workers: int | None = None
    min_conversions: float = FEW_CONVERSIONS

    def check(self) -> None:
        n, level, seed = self.n, self.level, self.seed
        if not (isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 2):
            raise IntervalError(f"intervals: replicates must be an integer >= 2, got {n!r}")
        if not (isinstance(level, (int, float)) and 0 < level < 1):
            raise IntervalError(f"intervals: level must be a number in (0, 1), got {level!r}")
        if not (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0):
            raise IntervalError(f"intervals: seed must be an integer >= 0, got {seed!r}")
        w = self.workers
        if w is not None and not (isinstance(w, int) and not isinstance(w, bool) and w >= 1):
            raise IntervalError(f"intervals: workers must be an integer >= 1, got {w!r}")
        m = self.min_conversions
        if not (isinstance(m, (int, float)) and m >= 0 and math.isfinite(m)):
            raise IntervalError(f"intervals: min_conversions must be a number >= 0, got {m!r}")


@dataclass(frozen=True)
class Intervals:
    """Bootstrap intervals of some models' credit on one set of journeys.

    Attributes
    ----------
    bounds : polars.DataFrame
        ``model, channel`` and :data:`BOUND_COLUMNS`, then
        ``touched_conversions`` (conversions of the journeys that touch the
        channel, the same for every model) and ``few_conversions`` (it is below
        ``settings.min_conversions``). Join it to a credit table on
        ``model, channel``.
    settings : IntervalSettings
    resampled : str
        ``"customers"`` (Poisson weights per customer) or ``"journeys"``
        (Poisson counts per row of a paths-only input).
    units : float
        Customers, or journeys, that were resampled.
    samples : dict of str to ndarray, shape (n, n_channels, 2)
        Each model's replicate credit (conversions, value) per channel in
        the order of ``channels``, rescaled to the model's credited totals;
        NaN in a replicate that credited nothing.
    channels : dict of str to list of str
    degenerate : dict of str to int
        Replicates per model in which nothing was credited (left out).
    """

    bounds: pl.DataFrame
    settings: IntervalSettings
    resampled: str
    units: float
    samples: dict[str, np.ndarray] = field(repr=False)
    channels: dict[str, list[str]] = field(repr=False)
    degenerate: dict[str, int]

    @property
    def few_conversion_channels(self) -> list[str]:
        """Channels whose credit rests on fewer than ``min_conversions`` conversions."""
        few = self.bounds.filter(pl.col("few_conversions"))
        return few["channel"].unique(maintain_order=True).to_list()

    def summary(self) -> dict[str, Any]:
        """What the JSON document and the run summary say about the intervals."""
        s = self.settings
        return {
            "replicates": s.n,
            "level": s.level,
            "seed": s.seed,
            "method": f"{METHOD}, Poisson bootstrap of {self.resampled}",
            "resampled": self.resampled,
            "units": self.units,
            "min_conversions": s.min_conversions,
            "few_conversions": self.few_conversion_channels,
            "degenerate_replicates": {k: v for k, v in self.degenerate.items() if v},
        }

    def summary_line(self) -> str:
        s = self.settings
        line = (
            f"intervals: {s.level:.0%} {METHOD} over {s.n} bootstrap replicates "
            f"of {self.units:,.0f} {self.resampled} (seed {s.seed})"
        )
        few = self.few_conversion_channels
        if few:
            line += (
                f"; fewer than {s.min_conversions:g} conversions touch "
                f"{', '.join(few)}: their credit is flagged few_conversions"
            )
        return line


# -- public entry points ------------------------------------------------------
def bootstrap(
    journeys: Journeys,
    models: Sequence[str | Model] | None = None,
    n: int = DEFAULT_REPLICATES,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
    workers: int | None = None,
    *,
    min_conversions: float = FEW_CONVERSIONS,
) -> pl.DataFrame:
    """The credit table of ``models`` on ``journeys`` with bootstrap intervals.

    Parameters
    ----------
    journeys : Journeys
        Journeys built from events (resampled by customer) or a paths table
        (resampled by journey).
    models : sequence of str or Model, optional
        As for :func:`attribution.attribute`; default every registered model.
    n : int, default 200
        Bootstrap replicates (at least 2; more give steadier bounds).
    level : float, default 0.9
        Coverage of each interval.
    seed : int, default 0
        Seed of the replicates: the same seed gives the same bounds, whatever
        ``workers`` is.
    workers : int, optional
        Threads that run replicates; default: the CPUs this process may use
        when the replicates take long enough to gain from them, else one.
    min_conversions : float, default 30
        Flag channels touched by fewer conversions (``few_conversions``).

    Returns
    -------
    polars.DataFrame
        ``model, channel, conversions, value, share``, then
        ``conversions_lo, conversions_hi, value_lo, value_hi, share_lo,
        share_hi, touched_conversions, few_conversions``.

    References
    ----------
    Efron, B., Tibshirani, R. J. (1993). An Introduction to the Bootstrap.
    Chapman & Hall (ch. 13, the percentile interval).
    Davison, A. C., Hinkley, D. V. (1997). Bootstrap Methods and their
    Application. Cambridge University Press (5.2, the (B + 1) alpha order
    statistics).
    Hanley, J. A., MacGibbon, B. (2006). Creating non-parametric bootstrap
    samples using Poisson frequencies. Computer Methods and Programs in
    Biomedicine 83(1), 57-62.
    Chamandy, N., Muralidharan, O., Najmi, A., Naidu, S. (2012). Estimating
    uncertainty for massive data streams. Google technical report.
    """
    from attribution.api import attribute

    result = attribute(journeys, models)
    settings = IntervalSettings(n, level, seed, workers, min_conversions)
    return result.with_intervals(**vars(settings)).credits


def compute_intervals(
    journeys: Journeys, runs: Sequence[ModelRun], settings: IntervalSettings
) -> Intervals:
    """Bootstrap intervals of the finished ``runs`` on ``journeys``.

    The point estimates are the runs' own credits; each replicate runs a copy
    of each run's model (so the fitted models keep their state). Used by
    :meth:`AttributionResult.with_intervals`; see :func:`bootstrap` for the
    parameters and the method.
    """
    settings.check()
    models = [run.model for run in runs]
    plan = _Plan(
        journeys,
        paths=any(not m.needs_times for m in models),
        times=any(m.needs_times for m in models),
    )
    channels = [run.credits["channel"].to_list() for run in runs]
    draws = _run_replicates(plan, models, channels, settings)

    alpha = (1.0 - settings.level) / 2
    touched = _touched_conversions(journeys)
    frames, samples, degenerate = [], {}, {}
    for k, run in enumerate(runs):
        point = run.credits
        conv = point["conversions"].to_numpy()
        value = point["value"].to_numpy()
        rescaled = _rescale(draws[:, k, : len(channels[k])], conv.sum(), value.sum())
        samples[run.label] = rescaled
        degenerate[run.label] = int(np.isnan(rescaled[:, 0, 0]).sum()) if len(conv) else 0
        lo_c, hi_c = _percentile(rescaled[..., 0], alpha, conv)
        lo_v, hi_v = _percentile(rescaled[..., 1], alpha, value)
        total = float(conv.sum())
        frames.append(
            pl.DataFrame(
                {
                    "model": pl.Series([run.label] * len(conv), dtype=pl.String),
                    "channel": pl.Series(channels[k], dtype=pl.String),
                    "conversions_lo": lo_c,
                    "conversions_hi": hi_c,
                    "value_lo": lo_v,
                    "value_hi": hi_v,
                    "share_lo": _share(lo_c, total),
                    "share_hi": _share(hi_c, total),
                },
                schema_overrides=dict.fromkeys(BOUND_COLUMNS, pl.Float64),
            )
        )
    bounds = (
        pl.concat(frames)
        .fill_nan(None)
        .join(touched, on="channel", how="left", maintain_order="left")
        .with_columns(pl.col("touched_conversions").fill_null(0.0))
        .with_columns(few_conversions=pl.col("touched_conversions") < settings.min_conversions)
    )
    return Intervals(
        bounds=bounds,
        settings=settings,
        resampled=plan.resampled,
        units=plan.n_units,
        samples=samples,
        channels={run.label: channels[k] for k, run in enumerate(runs)},
        degenerate=degenerate,
    )


# -- costs, tables --------------------------------------------------------------
def cost_intervals(costed: pl.DataFrame) -> pl.DataFrame:
    """Add ``cpa_lo, cpa_hi, roas_lo, roas_hi, roi_lo, roi_hi`` to a costed credit table.

    ``costed`` is a credit table with intervals joined with costs
    (:func:`attribution.costs.join_costs`). Cost is fixed, so each bound is
    the credit's bound put through the measure: ``cpa_lo = cost /
    conversions_hi``, ``cpa_hi = cost / conversions_lo``, ``roas = value /
    cost`` and ``roi = (value - cost) / cost`` bound for bound. The bounds are
    order statistics of the replicates and these maps are monotone, so this is
    exactly the percentile interval of the replicates' CPA, ROAS and ROI.
    As in ``join_costs`` a division by zero gives null (a CPA with
    ``conversions_lo = 0`` has no upper bound). A ``(total)`` row's
    conversions and value are the model's fixed totals, and a channel that
    has cost but no journey is credited nothing in any replicate, so the
    bounds of both equal their figures (such a channel is flagged
    ``few_conversions``: no conversion touches it).
    """
    missing = [c for c in ("cost", *BOUND_COLUMNS, *FLAGS) if c not in costed.columns]
    if missing:
        raise IntervalError(
            f"credit table: missing column(s) {missing}; join intervals and costs first"
        )
    total = pl.col("channel") == TOTAL
    # Rows join_costs added (the totals, and channels the journeys never touch)
    # are the rows without the bootstrap's touched_conversions, always filled.
    added = pl.col("touched_conversions").is_null()
    fixed = [
        pl.when(added).then(pl.col(m)).otherwise(pl.col(f"{m}_{end}")).alias(f"{m}_{end}")
        for m in MEASURES
        for end in ("lo", "hi")
    ]
    out = costed.with_columns(fixed).with_columns(
        pl.when(~total)
        .then(pl.col("touched_conversions").fill_null(0.0))
        .alias("touched_conversions"),
        pl.when(total)
        .then(False)
        .otherwise(pl.col("few_conversions").fill_null(True))
        .alias("few_conversions"),
    )
    cost = pl.col("cost")

    def per(num: pl.Expr, den: pl.Expr) -> pl.Expr:
        return pl.when(den > 0).then(num / den)

    conv_lo, conv_hi = pl.col("conversions_lo"), pl.col("conversions_hi")
    val_lo, val_hi = pl.col("value_lo"), pl.col("value_hi")
    bounds = [
        per(cost, conv_hi).alias("cpa_lo"),
        per(cost, conv_lo).alias("cpa_hi"),
        per(val_lo, cost).alias("roas_lo"),
        per(val_hi, cost).alias("roas_hi"),
        per(val_lo - cost, cost).alias("roi_lo"),
        per(val_hi - cost, cost).alias("roi_hi"),
    ]
    return out.with_columns(bounds).cast(dict.fromkeys(COST_BOUND_COLUMNS, pl.Float64))


def wide_with_bounds(
    credits: pl.DataFrame,
    measure: str,
    labels: Sequence[str],
    channels: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """One measure as ``channel`` plus ``<label>, <label>_lo, <label>_hi`` per model,
    then ``few_conversions`` (per channel) when ``credits`` has it.

    Without ``<measure>_lo`` columns in ``credits`` only the ``<label>``
    columns come out. Rows as in :func:`attribution.api.wide_credits`.
    """
    from attribution.api import wide_credits

    wide = wide_credits(credits, measure, labels, channels)
    lo, hi = f"{measure}_lo", f"{measure}_hi"
    if lo in credits.columns and hi in credits.columns:
        rows = wide.select("channel")
        bounds = {
            suffix: wide_credits(credits, column, labels, rows)
            for suffix, column in (("_lo", lo), ("_hi", hi))
        }
        wide = wide.select(
            "channel",
            *[
                c
                for label in labels
                for c in (
                    pl.col(label),
                    pl.lit(bounds["_lo"][label]).alias(f"{label}_lo"),
                    pl.lit(bounds["_hi"][label]).alias(f"{label}_hi"),
                )
            ],
        )
    if "few_conversions" in credits.columns:
        flags = credits.group_by("channel").agg(pl.col("few_conversions").fill_null(False).any())
        wide = wide.join(flags, on="channel", how="left", maintain_order="left").with_columns(
            pl.col("few_conversions").fill_null(False)
        )
    return wide


def compact_table(frame: pl.DataFrame, digits: int = 2, *, percent: bool = False) -> pl.DataFrame:
    """Every column ``X`` with ``X_lo`` and ``X_hi`` beside it as one text column
    ``"88.20 [84.01, 92.33]"`` (the bounds dropped); for the terminal table.
    With ``percent`` the figures are shares, printed as ``"20.7% [18.1%, 22.9%]"``.

    Each such column is right-aligned text, so that it lines up however the
    table renderer aligns text. Other columns are kept as they are; a
    ``few_conversions`` column becomes ``"few"`` or empty.
    """
    cols = frame.columns
    paired = [c for c in cols if f"{c}_lo" in cols and f"{c}_hi" in cols]
    drop = {f"{c}_{end}" for c in paired for end in ("lo", "hi")}

    scale, unit = (100.0, "%") if percent else (1.0, "")

    def num(v: float) -> str:
        return f"{v * scale:,.{digits}f}{unit}"

    def cell(x: float | None, lo: float | None, hi: float | None) -> str:
        if x is None or x != x:
            return ""
        if lo is None or hi is None:
            return num(x)
        return f"{num(x)} [{num(lo)}, {num(hi)}]"

    out: dict[str, pl.Series] = {}
    for c in cols:
        if c in drop:
            continue
        if c in paired:
            texts = [
                cell(*v)
                for v in zip(
                    frame[c].to_list(),
                    frame[f"{c}_lo"].to_list(),
                    frame[f"{c}_hi"].to_list(),
                    strict=True,
                )
            ]  # a loop over table rows (channels x models), for display only
            width = max((len(t) for t in texts), default=0)
            out[c] = pl.Series(c, [t.rjust(width) for t in texts], dtype=pl.String)
        elif c == "few_conversions":
            out[c] = frame[c].map_elements(lambda f: "few" if f else "", return_dtype=pl.String)
        else:
            out[c] = frame[c]
    return pl.DataFrame(list(out.values()))


# -- the replicates -------------------------------------------------------------
def _poisson1(rng: np.random.Generator, size: int) -> np.ndarray:
    """``size`` Poisson(1) draws as float64, by inverting the CDF.

    Several times faster than ``rng.poisson(1.0, size)``: three comparisons
    decide the 92% of draws that are 0, 1 or 2, a binary search the rest.
    """
    u = rng.random(size)
    out = (u > _POISSON1_CDF[0]).astype(np.float64)
    out += u > _POISSON1_CDF[1]
    tail = np.flatnonzero(u > _POISSON1_CDF[2])
    out[tail] = np.searchsorted(_POISSON1_CDF, u[tail], side="right")
    return out


def _poisson1_cdf() -> np.ndarray:
    k = np.arange(30)
    pmf = np.exp(-1.0) / np.cumprod(np.maximum(k, 1)).astype(np.float64)
    return np.cumsum(pmf)


_POISSON1_CDF = _poisson1_cdf()


class _Plan:
    """What a replicate reweights: the journeys' counts, split by what they need.

    Rows with conversions (or value) and rows with nulls are indexed once, with
    the resampling unit and the distinct path of each, so that a replicate is a
    handful of gathers and bincounts over those rows.
    """

    def __init__(self, journeys: Journeys, *, paths: bool, times: bool) -> None:
        conv, value, nulls = journeys.conversions, journeys.value, journeys.nulls
        self.n_rows = journeys.n_rows
        self.ci = np.flatnonzero((conv != 0) | (value != 0))
        self.ni = np.flatnonzero(nulls != 0)
        self.conv, self.value, self.nulls = conv[self.ci], value[self.ci], nulls[self.ni]
        self.unit_c: np.ndarray | None = None
        self.unit_n: np.ndarray | None = None
        if journeys.customer is not None:
            units = np.unique(journeys.customer, return_inverse=True)[1].astype(np.int64)
            self.resampled = "customers"
            self.n_units = float(units.max() + 1) if len(units) else 0.0
            self.unit_c, self.unit_n = units[self.ci], units[self.ni]
        else:
            self.resampled = "journeys"
            self.n_units = journeys.n_journeys
        self.paths: _Base | None = None
        self.path_c = self.path_n = np.zeros(0, dtype=np.int64)
        if paths:
            distinct_paths, path_of_row = _distinct_paths(journeys)
            self.paths = _Base(distinct_paths)
            self.path_c, self.path_n = path_of_row[self.ci], path_of_row[self.ni]
        # Models that need times see the journeys; those that do not, the paths.
        self.journeys: _Base | None = _Base(journeys) if times else None

    def draw(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Weights of the converting rows and of the null rows in one replicate."""
        if self.unit_c is not None and self.unit_n is not None:
            w = _poisson1(rng, int(self.n_units))
            return w[self.unit_c], w[self.unit_n]
        # Summing Poisson(1) weights over a row's c journeys is one Poisson(c) draw.
        kc, kn = rng.poisson(self.conv), rng.poisson(self.nulls)
        wc = np.divide(kc, self.conv, out=np.ones(len(kc)), where=self.conv != 0)
        return wc, kn / self.nulls

    def on_paths(self, wc: np.ndarray, wn: np.ndarray) -> Journeys:
        paths = self.paths
        assert paths is not None
        p = paths.journeys.n_rows
        conv = np.bincount(self.path_c, self.conv * wc, minlength=p)
        value = np.bincount(self.path_c, self.value * wc, minlength=p)
        nulls = np.bincount(self.path_n, self.nulls * wn, minlength=p)
        return paths.with_counts(conv, value, nulls)

    def on_journeys(self, wc: np.ndarray, wn: np.ndarray) -> Journeys:
        journeys = self.journeys
        assert journeys is not None
        conv, value, nulls = (np.zeros(self.n_rows) for _ in range(3))
        conv[self.ci], value[self.ci] = self.conv * wc, self.value * wc
        nulls[self.ni] = self.nulls * wn
        return journeys.with_counts(conv, value, nulls)


# Derived arrays of a Journeys that depend on its offsets alone: a replicate
# shares the offsets, so it shares these too instead of recomputing them.
_STRUCTURE = ("lengths", "row_of_touch", "position")


def _sharing_structure(rep: Journeys, base: Journeys) -> Journeys:
    for name in _STRUCTURE:  # what cached_property would store, put there ahead of time
        rep.__dict__[name] = getattr(base, name)
    return rep


class _Base:
    """Journeys (or distinct paths) that replicates give new counts to.

    A customer drawn zero times keeps its rows, with zero counts: the model
    contract weighs rows by their counts, so such a row counts for nothing
    (every built-in model gives the same credit with and without them, which
    tests/test_intervals.py checks), and no row is copied.
    """

    def __init__(self, journeys: Journeys) -> None:
        self.journeys = journeys
        self.conv_rows = np.flatnonzero(journeys.conversions > 0)
        self.converting = journeys.select(self.conv_rows)
        for name in _STRUCTURE:  # computed here, once, before any thread reads them
            getattr(journeys, name)
            getattr(self.converting, name)

    def with_counts(self, conv: np.ndarray, value: np.ndarray, nulls: np.ndarray) -> Journeys:
        """The replicate: the same rows and touches with these counts."""
        base = self.journeys
        rep = _sharing_structure(replace(base, conversions=conv, value=value, nulls=nulls), base)
        # Journeys.converting, which most models ask for first: the replicate's
        # converting rows are among the base's, so they are picked from those
        # rather than from every row (the same rows, in the same order).
        r = self.conv_rows
        sub = replace(self.converting, conversions=conv[r], value=value[r], nulls=nulls[r])
        sub = _sharing_structure(sub, self.converting)
        keep = sub.conversions > 0
        rep.__dict__["converting"] = sub if bool(keep.all()) else sub.select(keep)
        return rep


def _distinct_paths(journeys: Journeys) -> tuple[Journeys, np.ndarray]:
    """The distinct paths (:meth:`Journeys.aggregate`, ties kept) and the path of every row."""
    return journeys.aggregate_rows()


def _replicate(
    plan: _Plan,
    models: Sequence[Model],
    channels: Sequence[list[str]],
    rng: np.random.Generator,
    out: np.ndarray,
) -> None:
    """One replicate: every model's credit (conversions, value) into ``out``,
    shape (n_models, max channels, 2); NaN where nothing was credited."""
    from attribution.api import run_model

    wc, wn = plan.draw(rng)
    on_paths = on_journeys = None
    for k, model in enumerate(models):
        if model.needs_times:
            if on_journeys is None:
                on_journeys = plan.on_journeys(wc, wn)
            data = on_journeys
        else:
            if on_paths is None:
                on_paths = plan.on_paths(wc, wn)
            data = on_paths
        # A copy per replicate: fitting writes learned state into the model.
        credits = run_model(copy.copy(model), data)
        names = credits["channel"].to_list()
        conv = credits["conversions"].to_numpy()
        value = credits["value"].to_numpy()
        want = channels[k]
        row = out[k, : len(want)]
        row[:] = 0.0
        if names == want:
            row[:, 0], row[:, 1] = conv, value
        else:  # a model free to order its rows: match them by name
            where = {c: i for i, c in enumerate(want)}
            for name, c, v in zip(names, conv, value, strict=True):  # a loop over channels
                if name in where:
                    row[where[name]] = (c, v)
        # Shares of everything the model credited (rows matched or not): the
        # replicate is rescaled to the point estimate's totals afterwards.
        for j, total in enumerate((conv.sum(), value.sum())):
            row[:, j] = row[:, j] / total if total != 0 else np.nan


def _run_replicates(
    plan: _Plan,
    models: Sequence[Model],
    channels: Sequence[list[str]],
    settings: IntervalSettings,
) -> np.ndarray:
    """Credit shares of every replicate: shape (n, n_models, max channels, 2).

    Replicate ``b`` draws from its own generator, spawned from ``seed``, so the
    result does not depend on how replicates are shared among workers.
    """
    width = max((len(c) for c in channels), default=0)
    out = np.zeros((settings.n, len(models), width, 2))
    seeds = np.random.SeedSequence(settings.seed).spawn(settings.n)

    def run(b: int) -> None:
        _replicate(plan, models, channels, np.random.default_rng(seeds[b]), out[b])

    start = time.perf_counter()
    run(0)
    first = time.perf_counter() - start
    workers = settings.workers
    if workers is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        workers = max(cpus or 1, 1) if first * (settings.n - 1) > _POOL_SECONDS else 1
    rest = range(1, settings.n)
    if workers == 1:
        for b in rest:
            run(b)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(run, rest))
    return out


def _rescale(shares: np.ndarray, conv_total: float, value_total: float) -> np.ndarray:
    """Replicate shares of the credit as conversions and value of the point totals.

    Each replicate's credit is scaled to the observed totals, so the interval
    says how sure the split of the conversions is, not how many conversions
    another sample would have had.
    """
    out = shares.copy()
    for j, total in enumerate((conv_total, value_total)):
        # A model that credited nothing has nothing to split, in any replicate.
        out[..., j] = 0.0 if total == 0 else out[..., j] * total
    return out


def _percentile(
    samples: np.ndarray, alpha: float, point: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bounds of each column, widened to contain the point estimate;
    NaN where no replicate counts.

    The bounds are the k-th smallest and the k-th largest of the B replicates,
    ``k = floor((B + 1) * alpha)`` (at least 1): order statistics, so any
    monotone function of the credit (CPA, ROAS, ROI) has as bounds the
    function of these, and the rule is the same from either end, so a
    decreasing function (CPA) picks the same replicates too.
    """
    if samples.shape[1] == 0:
        return np.zeros(0), np.zeros(0)
    kept = samples[~np.isnan(samples[:, 0])]
    b = len(kept)
    if b == 0:
        nan = np.full(samples.shape[1], np.nan)
        return nan, nan.copy()
    # The epsilon keeps (1 - 0.9) / 2 = 0.04999... from losing an order statistic.
    k = min(max(math.floor((b + 1) * alpha + 1e-9), 1), b)
    ordered = np.sort(kept, axis=0)
    return np.minimum(ordered[k - 1], point), np.maximum(ordered[b - k], point)


def _share(conversions: np.ndarray, total: float) -> np.ndarray:
    """Conversions over the model's credited total; NaN (null) when it credited none."""
    return conversions / total if total != 0 else np.full_like(conversions, np.nan)


def _touched_conversions(journeys: Journeys) -> pl.DataFrame:
    """``channel, touched_conversions``: conversions of the journeys that touch it."""
    converting = journeys.converting
    row, code = distinct_pairs(converting.row_of_touch, converting.codes, converting.n_channels)
    touched = np.bincount(code, converting.conversions[row], minlength=journeys.n_channels)
    return pl.DataFrame(
        {
            "channel": pl.Series(list(journeys.channels), dtype=pl.String),
            "touched_conversions": touched.astype(np.float64),
        }
    )
