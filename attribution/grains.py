"""Credit at finer grains: per conversion, per period, per touch dimension and per segment.

A plain run gives each model's channel totals. :func:`attribute_at` gives the
same models' credit one row per conversion (to join back to orders), by the
day, week, month or quarter of the conversions, per value of a touch
attribute (a campaign) and per segment of customers or conversions, in any
combination. Every grain's credit adds up: each conversion's credit to that
conversion, each period's and each segment's to its conversions, and the
channel totals to the plain run's. ``docs/grains.md`` has the rules.

Models that split their credit below the journeys they were fitted on
(per conversion, per period without refitting, per dimension value) need the
:class:`~attribution.capabilities.PerConversion` capability.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import numpy as np
import polars as pl

from attribution.api import (
    AttributionResult,
    ModelRun,
    ModelSpec,
    attribute,
    parse_models,
    run_model,
)
from attribution.arrays import csr_offsets, ranges
from attribution.capabilities import PerConversion, RowCredit
from attribution.costs import CostedCredits, join_costs, read_costs
from attribution.errors import InputError, ModelError
from attribution.journeys import Journeys
from attribution.model import Model
from attribution.run import Run
from attribution.sources import Source

__all__ = [
    "PERIODS",
    "Grain",
    "GrainResult",
    "GrainRun",
    "attribute_at",
    "check_costs",
    "period_start",
    "periods_of",
    "run_at",
    "split_in_proportion",
]

Period = Literal["day", "week", "month", "quarter"]
PERIODS: tuple[str, ...] = ("day", "week", "month", "quarter")
_EVERY = {"day": "1d", "week": "1w", "month": "1mo", "quarter": "1q"}
# Columns of the grain tables; a dimension column may not take one of these names.
_RESERVED = (
    "model",
    "conversion_id",
    "customer",
    "time",
    "journey",
    "segment",
    "period",
    "channel",
    "conversions",
    "value",
    "share",
)
# Proportional fitting: relative tolerance on channel totals, and its step limit.
_FIT_TOL = 1e-12
_FIT_STEPS = 2000


# -- the grain ----------------------------------------------------------------
@dataclass(frozen=True)
class Grain:
    """The finer grain a run's credit is given at. Fields combine freely.

    Attributes
    ----------
    per_conversion : bool
        One row per conversion, channel and model, with the conversion's
        identity: its id (``EventColumns.conversion_id``) when the input has
        one, else its customer and time.
    by : {"day", "week", "month", "quarter"} or None
        Group conversions by the period they happened in; weeks start on Monday.
    timezone : str
        IANA time zone whose calendar ``by`` follows (and the per-conversion
        times are shown in). Default UTC.
    refit_per_period : bool
        Fit every model on each period's journeys (null journeys by their last
        touch) instead of fitting once on all journeys and splitting the credit
        by the period of the conversions.
    dimension : bool
        Credit per channel and value of the touch dimension the journeys carry
        (``EventColumns.dimension``, a campaign say): each touch's own value.
    segment : bool
        Run every model on each segment's journeys (``EventColumns.segment``).
    """

    per_conversion: bool = False
    by: Period | None = None
    timezone: str = "UTC"
    refit_per_period: bool = False
    dimension: bool = False
    segment: bool = False

    @property
    def is_plain(self) -> bool:
        """Whether this is the plain grain (channel totals per model)."""
        return not (self.per_conversion or self.by or self.dimension or self.segment)

    @property
    def splits(self) -> bool:
        """Whether credit is split below the journeys a model is fitted on, which takes
        the :class:`~attribution.capabilities.PerConversion` capability."""
        return (
            self.per_conversion
            or self.dimension
            or (self.by is not None and not self.refit_per_period)
        )

    def check(self, journeys: Journeys | None = None) -> None:
        """Raise :class:`InputError` on a setting that cannot work (on ``journeys``)."""
        if self.by is not None and self.by not in PERIODS:
            raise InputError(f"by must be one of {list(PERIODS)}, got '{self.by}'", setting="by")
        try:
            pl.Series([0], dtype=pl.Int64).cast(pl.Datetime("us", "UTC")).dt.convert_time_zone(
                self.timezone
            )
        except (pl.exceptions.PolarsError, ValueError, TypeError):
            raise InputError(
                f"unknown time zone '{self.timezone}'; expected an IANA name like Europe/Paris",
                setting="timezone",
            ) from None
        if self.refit_per_period and self.by is None:
            raise InputError(
                "refit_per_period needs a period to refit on: set by", setting="refit_per_period"
            )
        if journeys is None:
            return
        keys = journeys.keys
        if self.by is not None and (keys is None or keys.end_time is None):
            raise InputError(
                "credit by period needs the time of each conversion; the input has none "
                "(a paths table): give events with timestamps",
                setting="by",
            )
        if self.segment and (keys is None or keys.segment is None):
            raise InputError(
                "credit per segment needs journeys read with a segment column "
                "(EventColumns(segment=COLUMN))",
                setting="segment",
            )
        if self.dimension:
            if keys is None or keys.dimension is None:
                raise InputError(
                    "credit per dimension needs journeys read with a dimension column "
                    "(EventColumns(dimension=COLUMN))",
                    setting="dimension",
                )
            name = keys.dimension_name or "dimension"
            if name in _RESERVED and name != "dimension":
                raise InputError(
                    f"dimension column '{name}' has the name of a credit table column; "
                    "rename it in the input",
                    setting="dimension",
                )


# -- periods ------------------------------------------------------------------
def periods_of(time_us: np.ndarray, by: str, timezone: str = "UTC") -> tuple[np.ndarray, pl.Series]:
    """The period of each time (microseconds since the epoch, UTC) in ``timezone``'s calendar.

    Returns
    -------
    (ndarray of int64, polars.Series of Date)
        Each time's code, and the first day of each period seen, sorted
        (``codes`` index it).
    """
    if len(time_us) == 0:
        return np.zeros(0, dtype=np.int64), pl.Series("period", [], dtype=pl.Date)
    # Every zone's offset is a whole number of quarter hours, so times of one
    # quarter hour share a period: truncate the distinct quarter hours only.
    quarter = 900_000_000
    slot = np.floor_divide(np.asarray(time_us, dtype=np.int64), quarter)
    lo = int(slot.min())
    span = int(slot.max()) - lo + 1
    if span <= 4 * len(slot) + 1024:  # a dense table, no sort
        seen = np.zeros(span, dtype=bool)
        seen[slot - lo] = True
        distinct_slots = np.flatnonzero(seen) + lo
        slot_code = (np.cumsum(seen) - 1)[slot - lo]
    else:
        distinct_slots, slot_code = np.unique(slot, return_inverse=True)
    days = (
        pl.Series(distinct_slots * quarter, dtype=pl.Int64)
        .cast(pl.Datetime("us", "UTC"))
        .dt.convert_time_zone(timezone)
        .dt.truncate(_EVERY[by])
        .dt.date()
        .cast(pl.Int32)
        .to_numpy()
    )
    # days are ascending with the slots, so their distinct values come in order
    new = np.ones(len(days), dtype=bool)
    new[1:] = days[1:] != days[:-1]
    rank = np.cumsum(new) - 1
    labels = pl.Series("period", days[new], dtype=pl.Int32).cast(pl.Date)
    return rank[slot_code].astype(np.int64), labels


def period_start(dates: pl.Expr, by: str) -> pl.Expr:
    """Dates (a Date expression) as the first day of their period."""
    if by not in PERIODS:
        raise InputError(f"by must be one of {list(PERIODS)}, got '{by}'", setting="by")
    return dates.dt.truncate(_EVERY[by])


# -- splitting credit in proportion to channel weights ------------------------------
def split_in_proportion(
    journeys: Journeys,
    weights: np.ndarray,
    value_weights: np.ndarray,
    conversions: np.ndarray,
    value: np.ndarray,
    *,
    split: str,
) -> RowCredit:
    """Each converting journey's credit shared among its distinct channels by channel weights,
    rescaled per channel so that the channel totals are ``conversions`` and ``value``.

    For models whose channel totals are a formula over all journeys (Markov's
    removal effects): journey ``r`` gives channel ``c`` of its distinct
    channels the share ``b[c] * weights[c] / sum over its channels of
    b[c'] * weights[c']`` of its conversions, where one factor ``b[c]`` per
    channel is fitted (iterative proportional fitting) so that the channel
    totals come to ``conversions``. Each journey's shares add up to 1. Of all
    splits with both margins it is the one closest (Kullback-Leibler) to the
    plain proportional split. When no split can reach the totals (a channel's
    total larger than the conversions of the journeys it is in), fitting
    stops at the closest it gets and the engine reports the gap. Value is
    split the same way with ``value_weights``, to ``value``. A journey whose
    channels all weigh 0 is shared equally.

    Parameters
    ----------
    journeys : Journeys
    weights, value_weights : ndarray, shape (n_channels,)
        Non-negative weight of each channel (a removal effect).
    conversions, value : ndarray, shape (n_channels,)
        The channel totals to reach (the model's credit).
    split : str
        How the model describes this split to users (:attr:`RowCredit.split`).
    """
    n_ch = journeys.n_channels
    pairs = journeys.channel_pairs
    if len(pairs.rows) == 0 or n_ch == 0:
        empty = np.zeros(0)
        return RowCredit(
            empty.astype(np.int64), empty.astype(np.uint32), empty, empty.copy(), split=split
        )
    pair_row, pair_code = pairs.row, pairs.code
    # a row's pairs are contiguous, sorted by code: the row's distinct channel set
    starts = np.flatnonzero(np.r_[True, pair_row[1:] != pair_row[:-1]])
    sizes = np.diff(np.r_[starts, len(pair_row)])
    if n_ch <= 63:
        bits = np.left_shift(np.uint64(1), pair_code.astype(np.uint64))
        masks = np.bitwise_or.reduceat(bits, starts)
        _, first, set_of_row = np.unique(masks, return_index=True, return_inverse=True)
    else:  # wide channel lists: every journey is its own set
        first = np.arange(len(starts))
        set_of_row = np.arange(len(starts))
    set_size = sizes[first]
    set_offsets = csr_offsets(set_size)
    entry_code = pair_code[ranges(starts[first], set_size)].astype(np.int64)
    entry_set = np.repeat(np.arange(len(first)), set_size)
    row_of_set = pair_row[starts]  # the journey row of each row-group, in order
    mass = np.bincount(set_of_row, journeys.conversions[row_of_set], minlength=len(first))
    value_mass = np.bincount(set_of_row, journeys.value[row_of_set], minlength=len(first))
    share = _fit(entry_set, entry_code, np.asarray(weights, float), mass, conversions, n_ch)
    if value_mass.sum() > 0:
        value_share = _fit(
            entry_set, entry_code, np.asarray(value_weights, float), value_mass, value, n_ch
        )
    else:
        value_share = share
    # pair k of a row is entry k of its set (both list the row's channels by code)
    rank = np.arange(len(pair_row)) - np.repeat(starts, sizes)
    entry = np.repeat(set_offsets[:-1][set_of_row], sizes) + rank
    return RowCredit(
        pair_row.astype(np.int64),
        pair_code.astype(np.uint32),
        share[entry] * journeys.conversions[pair_row],
        value_share[entry] * journeys.value[pair_row],
        split=split,
    )


def _fit(
    entry_set: np.ndarray,
    entry_code: np.ndarray,
    weights: np.ndarray,
    mass: np.ndarray,
    target: np.ndarray,
    n_channels: int,
) -> np.ndarray:
    """Shares of each set's entries (adding up to 1 per set), proportional to
    ``weights[code] * b[code]`` with ``b`` fitted so that ``sum(mass * share)``
    per channel comes as close to ``target`` as it can (a loop over steps)."""
    n_sets = len(mass)
    seed = weights[entry_code]
    size = np.bincount(entry_set, minlength=n_sets).astype(np.float64)
    seed_sum = np.bincount(entry_set, seed, minlength=n_sets)

    def normalised(w: np.ndarray) -> np.ndarray:
        total = np.bincount(entry_set, w, minlength=n_sets)
        # A set whose channels all weigh 0 (or were fitted down to 0) keeps the
        # plain weights, or an equal split: each journey's shares add up to 1.
        fallback = np.where(
            seed_sum[entry_set] > 0,
            seed / np.where(seed_sum > 0, seed_sum, 1.0)[entry_set],
            1.0 / size[entry_set],
        )
        ok = total[entry_set] > 0
        return np.where(ok, w / np.where(total > 0, total, 1.0)[entry_set], fallback)

    b = np.ones(n_channels)
    scale = max(float(np.abs(target).sum()), 1e-300)
    share = normalised(seed)
    for _ in range(_FIT_STEPS):
        got = np.bincount(entry_code, share * mass[entry_set], minlength=n_channels)
        if np.abs(got - target).max() <= _FIT_TOL * scale:
            break
        ratio = np.divide(target, got, out=np.ones(n_channels), where=got > 0)
        b *= ratio
        top = b.max()
        if not np.isfinite(top) or top <= 0:
            break
        b = np.clip(b / top, 1e-300, None) * (b > 0)  # scale-free: keep it bounded
        share = normalised(seed * b[entry_code])
    return share


# -- cells: where one set of journeys' credit lands -------------------------------
@dataclass(frozen=True)
class _Cells:
    """The output cells of one unit's journeys, shared by every model run on them.

    ``pair_*`` are the distinct (row, channel) pairs of the converting rows,
    sorted; a cell is a pair (per conversion), a (period, channel) of every
    channel, or with a dimension a distinct (group, channel, value) of touches.
    ``group`` of a cell is its row (per conversion), its period code, or 0.
    """

    n_channels: int
    rows: np.ndarray  # converting rows
    touches: np.ndarray  # their touches, row after row
    pair_local_row: np.ndarray  # each pair's row, numbered among the converting rows
    slot: np.ndarray  # touch -> its index among converting touches, -1 for others
    pair_row: np.ndarray
    pair_code: np.ndarray
    pair_key: np.ndarray
    pair_touches: np.ndarray
    pair_of_slot: np.ndarray
    cell_of_pair: np.ndarray | None  # without a dimension
    cell_of_slot: np.ndarray | None  # with a dimension
    cell_group: np.ndarray
    cell_code: np.ndarray
    cell_dim: np.ndarray | None

    @property
    def n_cells(self) -> int:
        return len(self.cell_code)

    @classmethod
    def of(
        cls,
        journeys: Journeys,
        group_of_row: np.ndarray | None,
        n_groups: int,
        dimension: np.ndarray | None,
    ) -> _Cells:
        """Cells of ``journeys``; ``group_of_row`` None means one group per row
        (per conversion), ``dimension`` the touches' dimension codes (or None)."""
        n_ch = max(journeys.n_channels, 1)
        pairs = journeys.channel_pairs
        rows, touches = pairs.rows, pairs.touches
        slot = np.full(journeys.n_touches, -1, dtype=np.int64)
        slot[touches] = np.arange(len(touches))
        pair_row, pair_code = pairs.row, pairs.code
        pair_touches, pair_of_slot = pairs.count, pairs.pair_of_touch
        pair_key = pair_row * n_ch + pair_code
        cell_of_pair = cell_of_slot = cell_dim = None
        if dimension is None:
            if group_of_row is None:  # per conversion: a cell per pair (cell_of_pair None)
                cell_group, cell_code = pair_row, pair_code
            else:  # every channel of every group
                cell_of_pair = group_of_row[pair_row] * n_ch + pair_code
                grid = np.arange(n_groups * n_ch)
                cell_group, cell_code = grid // n_ch, grid % n_ch
        else:
            n_dim = int(dimension.max(initial=-1)) + 2  # code + 1, 0 for none
            t_row, t_code = pair_row[pair_of_slot], pair_code[pair_of_slot]
            group = t_row if group_of_row is None else group_of_row[t_row]
            key = (group * n_ch + t_code) * n_dim + dimension[touches].astype(np.int64) + 1
            uniq, inverse = np.unique(key, return_inverse=True)
            cell_of_slot = inverse.astype(np.int64)
            cell_dim = uniq % n_dim - 1
            cell_code = (uniq // n_dim) % n_ch
            cell_group = uniq // n_dim // n_ch
        first = np.ones(len(pair_row), dtype=bool)
        first[1:] = pair_row[1:] != pair_row[:-1]
        return cls(
            n_ch,
            rows,
            touches,
            np.cumsum(first) - 1,
            slot,
            pair_row,
            pair_code,
            pair_key,
            pair_touches,
            pair_of_slot,
            cell_of_pair,
            cell_of_slot,
            cell_group.astype(np.int64),
            cell_code.astype(np.int64),
            None if cell_dim is None else cell_dim.astype(np.int64),
        )

    def credit(
        self, credit: RowCredit, journeys: Journeys, label: str
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """A model's row credit as (cell conversions, cell value, per-channel
        conversions, per-channel value), checked against the contract."""
        n_pairs = len(self.pair_row)
        conv: np.ndarray = np.asarray(credit.conversions, dtype=np.float64)
        val: np.ndarray = np.asarray(credit.value, dtype=np.float64)
        touch_conv: np.ndarray | None = None
        touch_val: np.ndarray | None = None
        pair_conv: np.ndarray
        pair_val: np.ndarray
        cell_conv: np.ndarray
        cell_val: np.ndarray
        pair: np.ndarray | None
        if credit.touch is not None:
            touch = np.asarray(credit.touch, dtype=np.int64)
            if np.array_equal(touch, self.touches):  # the common layout: no lookup
                at = np.arange(len(touch))
            else:
                at = self.slot[touch]
                inside = at >= 0
                self._check_inside(inside, conv, val, label)
                at, conv, val = at[inside], conv[inside], val[inside]
            pair = self.pair_of_slot[at]
            if self.cell_of_slot is not None:
                n_slots = len(self.pair_of_slot)
                touch_conv = np.bincount(at, conv, minlength=n_slots)
                touch_val = np.bincount(at, val, minlength=n_slots)
        elif np.array_equal(credit.row, self.pair_row) and np.array_equal(
            credit.code, self.pair_code
        ):  # entries are the pairs themselves
            pair = None
        else:
            key = np.asarray(credit.row, dtype=np.int64) * self.n_channels + np.asarray(
                credit.code, dtype=np.int64
            )
            pair = np.minimum(np.searchsorted(self.pair_key, key), max(n_pairs - 1, 0))
            inside = (self.pair_key[pair] == key) if n_pairs else np.zeros(len(key), dtype=bool)
            self._check_inside(inside, conv, val, label)
            pair, conv, val = pair[inside], conv[inside], val[inside]
        if pair is None:
            pair_conv, pair_val = conv, val
        else:
            pair_conv = np.bincount(pair, conv, minlength=n_pairs)
            pair_val = np.bincount(pair, val, minlength=n_pairs)
        self._check_rows(pair_conv, pair_val, journeys, label)
        if self.cell_of_slot is not None:
            if touch_conv is None or touch_val is None:  # by channel: its touches share equally
                per = self.pair_touches[self.pair_of_slot]
                touch_conv = pair_conv[self.pair_of_slot] / per
                touch_val = pair_val[self.pair_of_slot] / per
            cell_conv = np.bincount(self.cell_of_slot, touch_conv, minlength=self.n_cells)
            cell_val = np.bincount(self.cell_of_slot, touch_val, minlength=self.n_cells)
        elif self.cell_of_pair is None:  # a cell per pair
            cell_conv, cell_val = pair_conv, pair_val
        else:
            cell_conv = np.bincount(self.cell_of_pair, pair_conv, minlength=self.n_cells)
            cell_val = np.bincount(self.cell_of_pair, pair_val, minlength=self.n_cells)
        n_ch = journeys.n_channels
        channel_conv = np.bincount(self.pair_code, pair_conv, minlength=n_ch)
        channel_val = np.bincount(self.pair_code, pair_val, minlength=n_ch)
        return cell_conv, cell_val, channel_conv, channel_val

    @staticmethod
    def _check_inside(inside: np.ndarray, conv: np.ndarray, val: np.ndarray, label: str) -> None:
        stray = ~inside & ((conv != 0) | (val != 0))
        if stray.any():
            raise ModelError(
                f"model '{label}': attribute_rows() credited {int(stray.sum())} entries outside "
                "the channels of converting journeys; expected credit only to touched channels "
                "of rows with conversions"
            )

    def _check_rows(
        self, pair_conv: np.ndarray, pair_val: np.ndarray, journeys: Journeys, label: str
    ) -> None:
        """Each conversion's credit adds up to that conversion: the grain's contract."""
        if len(self.rows) == 0:
            return
        for pair_sum, want, what in (
            (pair_conv, journeys.conversions, "conversions"),
            (pair_val, journeys.value, "value"),
        ):
            got = np.bincount(self.pair_local_row, pair_sum, minlength=len(self.rows))
            bad = ~np.isclose(got, want[self.rows], rtol=1e-7, atol=1e-9)
            if bad.any():
                k = int(np.argmax(bad))
                raise ModelError(
                    f"model '{label}': attribute_rows() gives journey row {int(self.rows[k])} "
                    f"credit adding up to {got[k]:g} {what}, not its {want[self.rows[k]]:g}"
                )


# -- units: the journeys each model is fitted on ------------------------------------
@dataclass
class _Unit:
    """Journeys fitted on their own: all of them, a segment, a period, or both."""

    labels: dict[str, Any]  # grain column -> value (segment label, period start)
    rows: np.ndarray | None  # rows of the whole journeys, None for all of them
    journeys: Journeys
    runs: list[ModelRun]


def _clone(model: Model) -> Model:
    """A fresh model with the same parameters (scikit-learn's clone), to fit elsewhere."""
    try:
        return type(model)(**model.get_params())
    except TypeError:  # a plugin whose parameters are not keyword-only
        return copy.deepcopy(model)


def _units(
    journeys: Journeys,
    grain: Grain,
    runs: list[ModelRun],
    period_code: np.ndarray | None,
    period_labels: pl.Series | None,
) -> Iterator[_Unit]:
    if not grain.segment and not grain.refit_per_period:
        yield _Unit({}, None, journeys, runs)
        return
    keys = journeys.keys
    assert keys is not None
    key = np.zeros(journeys.n_rows, dtype=np.int64)
    n_periods = 1
    if grain.segment:
        assert keys.segment is not None
        key += keys.segment.astype(np.int64) + 1  # 0: no segment
    if grain.refit_per_period:
        assert period_code is not None and period_labels is not None
        n_periods = len(period_labels)
        key = key * n_periods + period_code
    order = np.argsort(key, kind="stable")
    bounds = np.flatnonzero(np.r_[True, key[order][1:] != key[order][:-1], True])
    for lo, hi in itertools.pairwise(bounds):  # a loop over units
        rows = order[lo:hi]
        if not ((journeys.conversions[rows] != 0) | (journeys.value[rows] != 0)).any():
            continue  # nothing to credit (a period of null journeys only)
        k = int(key[rows[0]])
        labels: dict[str, Any] = {}
        if grain.segment:
            code = k // n_periods - 1
            labels["segment"] = keys.segment_labels[code] if code >= 0 else None
        if grain.refit_per_period:
            assert period_labels is not None
            labels["period"] = period_labels[k % n_periods]
        sub = journeys.select(rows)
        fitted = []
        for run in runs:  # a loop over models
            model = _clone(run.model)
            fitted.append(ModelRun(run.label, model, run_model(model, sub)))
        yield _Unit(labels, rows, sub, fitted)


# -- the result -----------------------------------------------------------------
def _empty_frame(schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame(schema=dict(schema))


@dataclass
class GrainResult(AttributionResult):
    """A run's credit at a finer grain, with the plain run it comes from.

    ``runs`` (and so :attr:`credits`, :meth:`wide`) are the plain run: every
    model fitted once on all journeys. :attr:`grain_credits` is the credit at
    ``grain``; :attr:`accounts` the conversions credited and unattributed per
    segment and period; :attr:`gaps` how far the per-conversion split of each
    model is from the model's own channel totals (for models that split, and
    per fitted unit). :attr:`costed` is the grain's credit with costs joined,
    when :func:`run_at` was given costs (the report draws its ROAS trend).
    """

    grain: Grain = field(default_factory=Grain)
    grain_credits: pl.DataFrame = field(default_factory=pl.DataFrame)
    accounts: pl.DataFrame = field(default_factory=pl.DataFrame)
    gaps: pl.DataFrame = field(default_factory=pl.DataFrame)
    splits: dict[str, str] = field(default_factory=dict)  # label -> how it split
    costed: pl.DataFrame | None = None  # grain_credits with costs joined (run_at)

    @property
    def grain_columns(self) -> list[str]:
        """The columns that say where a row of :attr:`grain_credits` sits, besides
        ``model`` and ``channel``."""
        return [c for c in self.grain_credits.columns if c not in (*_MEASURES, "model", "channel")]

    def split_notes(self) -> list[str]:
        """One line per model whose per-conversion credit is a split of its channel totals."""
        lines = []
        for label, how in self.splits.items():
            rows = self.gaps.filter(pl.col("model") == label)
            conv = float(np.abs(rows["conversions_gap"].to_numpy()).max(initial=0.0))
            val = float(np.abs(rows["value_gap"].to_numpy()).max(initial=0.0))
            lines.append(
                f"{label}: credit per conversion is {how}; its channel totals differ from "
                f"the model's by at most {conv:.3g} conversions and {val:.3g} value"
            )
        return lines

    def notes(self) -> list[str]:
        notes = super().notes()
        return notes + self.split_notes()

    def to_dict(
        self, *, details: bool = False, credits: pl.DataFrame | None = None
    ) -> dict[str, Any]:
        """The JSON document: the plain document with the grain's credit table,
        its accounts and, for models that split, their gaps."""
        table = self.grain_credits if credits is None else credits
        doc = super().to_dict(details=details, credits=_textual(table))
        doc["grain"] = {
            "per_conversion": self.grain.per_conversion,
            "by": self.grain.by,
            "timezone": self.grain.timezone,
            "refit_per_period": self.grain.refit_per_period,
            "dimension": self.grain.dimension,
            "segment": self.grain.segment,
        }
        doc["accounts"] = _textual(self.accounts).to_dicts()
        if self.splits:
            doc["gaps"] = _textual(self.gaps).to_dicts()
        return doc


_MEASURES = ("conversions", "value", "share")


def _textual(frame: pl.DataFrame) -> pl.DataFrame:
    """Dates and times as ISO text, for JSON."""
    return frame.with_columns(
        pl.col(c).cast(pl.String)
        for c, dtype in frame.schema.items()
        if dtype == pl.Date or isinstance(dtype, pl.Datetime)
    )


# -- the one call -----------------------------------------------------------------
def attribute_at(
    journeys: Journeys,
    models: Sequence[ModelSpec] | None = None,
    grain: Grain | None = None,
    **options: Any,
) -> GrainResult:
    """Run ``models`` on ``journeys`` and give their credit at ``grain``.

    Parameters
    ----------
    journeys : Journeys
        Built from events (:func:`attribution.load_journeys`), with the grain's
        columns read (``EventColumns(conversion_id=..., segment=..., dimension=...)``).
    models : sequence of specs, optional
        As for :func:`attribution.attribute`; ``None`` runs every registered
        model, leaving out (in ``skipped``) those the grain cannot take.
    grain : Grain, optional
        The grain; or give its fields as keywords: ``by="month"``.

    Returns
    -------
    GrainResult
        ``grain_credits`` is long, one row per model and cell:
        ``model, [conversion_id | customer, time | journey], [segment], [period],
        channel, [dimension], conversions, value`` and, except per conversion,
        ``share`` (of the model's credit in the segment and period).

    Raises
    ------
    ModelError
        When a model asked for by name cannot split its credit (it has no
        :class:`~attribution.capabilities.PerConversion` capability) and the
        grain needs it, or when its split breaks the contract.
    InputError
        When the journeys lack what the grain needs (times, a segment column).
    """
    if grain is None:
        grain = Grain(**options)
    elif options:
        raise TypeError("give either grain or its fields as keywords, not both")
    grain.check(journeys)
    chosen = None if models is None else parse_models(models)
    if chosen is not None and grain.splits:
        for labelled in chosen:
            if not isinstance(labelled.model, PerConversion):
                raise ModelError(_cannot_split(labelled.label, grain))
    result = attribute(journeys, chosen)
    runs, skipped = result.runs, list(result.skipped)
    if grain.splits:
        runs = [r for r in result.runs if isinstance(r.model, PerConversion)]
        skipped += [
            (r.label, _cannot_split(r.label, grain, short=True))
            for r in result.runs
            if not isinstance(r.model, PerConversion)
        ]
    keys = journeys.keys
    period_code = period_labels = lost_period = None
    if grain.by is not None:
        assert keys is not None and keys.end_time is not None
        lost = keys.lost_time if keys.lost_time is not None else np.zeros(0, dtype=np.int64)
        codes, period_labels = periods_of(
            np.concatenate([keys.end_time, lost]), grain.by, grain.timezone
        )
        period_code, lost_period = codes[: journeys.n_rows], codes[journeys.n_rows :]
    frames, gaps, splits = [], [], {}
    for unit in _units(journeys, grain, runs, period_code, period_labels):
        table, unit_gaps, unit_splits = _unit_credit(
            journeys, unit, grain, period_code, period_labels
        )
        frames.append(table)
        gaps += unit_gaps
        splits.update(unit_splits)
    credits = _finish(frames, journeys, grain)
    return GrainResult(
        journeys,
        runs,
        skipped,
        result.load_errors,
        grain=grain,
        grain_credits=credits,
        accounts=_accounts(journeys, grain, period_code, period_labels, lost_period),
        gaps=_gap_frame(gaps, grain),
        splits=splits,
    )


def _cannot_split(label: str, grain: Grain, *, short: bool = False) -> str:
    what = (
        "per conversion"
        if grain.per_conversion
        else "per dimension value"
        if grain.dimension
        else "by period without refitting"
    )
    text = f"cannot split its credit {what}: it has no attribute_rows() (PerConversion capability)"
    if short:
        return text
    hint = "; or refit it per period (refit_per_period)" if not grain.per_conversion else ""
    return f"model '{label}' {text}; leave it out{hint}"


def _unit_credit(
    journeys: Journeys,
    unit: _Unit,
    grain: Grain,
    period_code: np.ndarray | None,
    period_labels: pl.Series | None,
) -> tuple[pl.DataFrame, list[dict[str, Any]], dict[str, str]]:
    """One unit's credit table (every model), its gap rows and its models' split notes."""
    sub = unit.journeys
    names = pl.Series("channel", list(sub.channels), dtype=pl.String)
    if not grain.splits:
        frames = [
            run.credits.select(
                pl.lit(run.label).alias("model"),
                *[pl.lit(v).alias(k) for k, v in unit.labels.items()],
                "channel",
                "conversions",
                "value",
            )
            for run in unit.runs
        ]
        return pl.concat(frames) if frames else _empty_table(grain, sub), [], {}

    keys = sub.keys
    local_period = None
    if period_code is not None:
        local_period = period_code if unit.rows is None else period_code[unit.rows]
    group = None
    n_groups = 1
    if not grain.per_conversion:
        if grain.by is not None and not grain.refit_per_period:
            assert local_period is not None and period_labels is not None
            group, n_groups = local_period, len(period_labels)
        else:
            group = np.zeros(sub.n_rows, dtype=np.int64)
    dimension = keys.dimension if (grain.dimension and keys is not None) else None
    cells = _Cells.of(sub, group, n_groups, dimension)
    keep = None
    if group is not None and grain.by is not None and not grain.refit_per_period:
        # periods of null journeys only are not listed
        active = np.zeros(n_groups, dtype=bool)
        active[group[cells.rows]] = True
        keep = active[cells.cell_group]
        if keep.all():
            keep = None

    # what says where each cell is, built once for every model
    where: dict[str, pl.Series] = {}
    full_rows = cells.cell_group  # per conversion: the row of each cell, in all journeys
    if grain.per_conversion:
        if unit.rows is not None:
            full_rows = unit.rows[cells.cell_group]
        where.update(_identity(journeys, full_rows, grain))
    for k, v in unit.labels.items():
        where[k] = pl.Series(k, [v] * cells.n_cells)
    if grain.by is not None and not grain.refit_per_period:
        assert period_labels is not None and period_code is not None
        codes = period_code[full_rows] if grain.per_conversion else cells.cell_group
        where["period"] = period_labels.gather(pl.Series(codes, dtype=pl.Int64))
    where["channel"] = names.gather(pl.Series(cells.cell_code, dtype=pl.Int64))
    if cells.cell_dim is not None:
        assert keys is not None
        dim_name = keys.dimension_name or "dimension"
        # code -1 (no value) gathers the null in front of the labels
        labels = pl.Series(dim_name, [None, *keys.dimension_labels], dtype=pl.String)
        where[dim_name] = labels.gather(pl.Series(cells.cell_dim + 1, dtype=pl.Int64))
    base = pl.DataFrame(where)
    if keep is not None:
        base = base.filter(pl.Series(keep))

    frames, gaps, splits = [], [], {}
    for run in unit.runs:  # a loop over models
        model = cast(PerConversion, run.model)
        row_credit = model.attribute_rows(sub)
        conv, val, ch_conv, ch_val = cells.credit(row_credit, sub, run.label)
        if keep is not None:
            conv, val = conv[keep], val[keep]
        frames.append(
            base.with_columns(
                pl.lit(run.label).alias("model"),
                pl.Series("conversions", conv, dtype=pl.Float64),
                pl.Series("value", val, dtype=pl.Float64),
            )
        )
        if row_credit.split is not None:
            splits[run.label] = row_credit.split
            model_credit = dict(
                zip(
                    run.credits["channel"].to_list(),
                    run.credits["conversions"].to_list(),
                    strict=True,
                )
            )
            model_value = dict(
                zip(run.credits["channel"].to_list(), run.credits["value"].to_list(), strict=True)
            )
            for c, name in enumerate(sub.channels):  # a loop over channels
                gaps.append(
                    {
                        "model": run.label,
                        **unit.labels,
                        "channel": name,
                        "conversions": model_credit.get(name, 0.0),
                        "split_conversions": float(ch_conv[c]),
                        "conversions_gap": float(ch_conv[c]) - model_credit.get(name, 0.0),
                        "value": model_value.get(name, 0.0),
                        "split_value": float(ch_val[c]),
                        "value_gap": float(ch_val[c]) - model_value.get(name, 0.0),
                    }
                )
    if not frames:
        return _empty_table(grain, sub), gaps, splits
    table = pl.concat(frames)
    return table.select("model", *base.columns, "conversions", "value"), gaps, splits


def _identity(journeys: Journeys, rows: np.ndarray, grain: Grain) -> dict[str, pl.Series]:
    """Who each conversion was: its id, else its customer and time, else its row."""
    keys = journeys.keys
    index = pl.Series(rows, dtype=pl.Int64)
    if keys is not None and keys.conversion_id is not None:
        return {"conversion_id": keys.conversion_id.gather(index).alias("conversion_id")}
    if keys is not None and keys.customer_ids is not None and journeys.customer is not None:
        assert keys.end_time is not None
        customer = keys.customer_ids.gather(pl.Series(journeys.customer[rows], dtype=pl.Int64))
        time = (
            pl.Series("time", keys.end_time[rows], dtype=pl.Int64)
            .cast(pl.Datetime("us", "UTC"))
            .dt.convert_time_zone(grain.timezone)
        )
        return {"customer": customer.alias("customer"), "time": time}
    return {"journey": index.alias("journey")}


def _empty_table(grain: Grain, journeys: Journeys) -> pl.DataFrame:
    schema: dict[str, pl.DataType] = {"model": pl.String()}
    keys = journeys.keys
    if grain.per_conversion:
        if keys is not None and keys.conversion_id is not None:
            schema["conversion_id"] = pl.String()
        elif keys is not None and keys.customer_ids is not None:
            schema["customer"] = keys.customer_ids.dtype
            schema["time"] = pl.Datetime("us", grain.timezone)
        else:
            schema["journey"] = pl.Int64()
    if grain.segment:
        schema["segment"] = pl.String()
    if grain.by is not None:
        schema["period"] = pl.Date()
    schema["channel"] = pl.String()
    if grain.dimension and keys is not None:
        schema[keys.dimension_name or "dimension"] = pl.String()
    schema["conversions"] = pl.Float64()
    schema["value"] = pl.Float64()
    return _empty_frame(schema)


def _finish(frames: list[pl.DataFrame], journeys: Journeys, grain: Grain) -> pl.DataFrame:
    """The units' tables as one, columns in order, with ``share`` unless per conversion."""
    template = _empty_table(grain, journeys)
    frames = [f for f in frames if f.height]
    if not frames:
        table = template
    else:
        table = pl.concat(
            [f.select(template.columns).cast(template.schema) for f in frames], rechunk=False
        )
        if len(frames) > 1:  # models in run order, each with its units in order
            order = {m: i for i, m in enumerate(table["model"].unique(maintain_order=True))}
            table = table.sort(
                pl.col("model").replace_strict(order, return_dtype=pl.Int64), maintain_order=True
            )
    if grain.per_conversion:
        return table
    group = ["model", *[c for c in ("segment", "period") if c in table.columns]]
    total = pl.col("conversions").sum().over(group)
    return table.with_columns(
        pl.when(total != 0).then(pl.col("conversions") / total).cast(pl.Float64).alias("share")
    )


def _accounts(
    journeys: Journeys,
    grain: Grain,
    period_code: np.ndarray | None,
    period_labels: pl.Series | None,
    lost_period: np.ndarray | None,
) -> pl.DataFrame:
    """Conversions and value per segment and period: credited, and unattributed."""
    keys = journeys.keys
    n_seg = len(keys.segment_labels) + 1 if (grain.segment and keys is not None) else 1
    n_per = len(period_labels) if period_labels is not None else 1
    n = journeys.n_rows
    seg = np.zeros(n, dtype=np.int64)
    per = np.zeros(n, dtype=np.int64)
    un = journeys.unattributed
    lost_value = np.array([un.value]) if un.conversions else np.zeros(0)
    lost_conv = np.array([un.conversions]) if un.conversions else np.zeros(0)
    lost_seg = np.zeros(len(lost_value), dtype=np.int64)
    lost_per = np.zeros(len(lost_value), dtype=np.int64)
    if keys is not None and keys.lost_value is not None and (grain.segment or grain.by):
        lost_value = keys.lost_value
        lost_conv = np.ones(len(lost_value))
        lost_seg = np.zeros(len(lost_value), dtype=np.int64)
        lost_per = np.zeros(len(lost_value), dtype=np.int64)
    if grain.segment and keys is not None and keys.segment is not None:
        seg = keys.segment.astype(np.int64) + 1
        if keys.lost_segment is not None:
            lost_seg = keys.lost_segment.astype(np.int64) + 1
    if period_code is not None and lost_period is not None:
        per, lost_per = period_code, lost_period
    cell = seg * n_per + per
    lost_cell = lost_seg * n_per + lost_per
    size = n_seg * n_per

    def count(at: np.ndarray, w: np.ndarray) -> np.ndarray:
        return np.bincount(at, w, minlength=size).astype(np.float64)

    conv, val = count(cell, journeys.conversions), count(cell, journeys.value)
    lconv, lval = count(lost_cell, lost_conv), count(lost_cell, lost_value)
    used = np.flatnonzero((conv + lconv) > 0)
    out: dict[str, Any] = {}
    if grain.segment and keys is not None:
        labels = pl.Series([None, *keys.segment_labels], dtype=pl.String)
        out["segment"] = labels.gather(pl.Series(used // n_per, dtype=pl.Int64))
    if period_labels is not None:
        out["period"] = period_labels.gather(pl.Series(used % n_per, dtype=pl.Int64))
    out.update(
        conversions=conv[used] + lconv[used],
        value=val[used] + lval[used],
        attributed_conversions=conv[used],
        attributed_value=val[used],
        unattributed_conversions=lconv[used],
        unattributed_value=lval[used],
    )
    return pl.DataFrame(out)


def _gap_frame(gaps: list[dict[str, Any]], grain: Grain) -> pl.DataFrame:
    schema: dict[str, pl.DataType] = {"model": pl.String()}
    if grain.segment:
        schema["segment"] = pl.String()
    if grain.refit_per_period:
        schema["period"] = pl.Date()
    for name in ("channel",):
        schema[name] = pl.String()
    for name in (
        "conversions",
        "split_conversions",
        "conversions_gap",
        "value",
        "split_value",
        "value_gap",
    ):
        schema[name] = pl.Float64()
    if not gaps:
        return _empty_frame(schema)
    return pl.DataFrame(gaps, schema=schema)


# -- a whole run, as the CLI does it ------------------------------------------------
def check_costs(grain: Grain, costs: pl.DataFrame | None) -> None:
    """Raise :class:`InputError` when ``costs`` (:func:`attribution.costs.read_costs`'
    frame) cannot join credit at ``grain``: call it before reading a large input."""
    if costs is None:
        return
    if grain.per_conversion or grain.segment or grain.dimension:
        raise InputError(
            "costs are per channel (and period): they join credit by channel or period, "
            "not per conversion, per segment or per dimension value"
        )
    if grain.by is not None and "period" not in costs.columns:
        raise InputError(
            f"credit by {grain.by} joins dated costs, but the costs have no date: add a "
            "'period' or 'date' column to them for CPA, ROAS and ROI per period"
        )


@dataclass(frozen=True)
class GrainRun(Run):
    """A finished run at a finer grain: :class:`attribution.run.Run` whose credit
    table is the grain's (costed when costs were given)."""

    @property
    def grained(self) -> GrainResult:
        return cast(GrainResult, self.result)

    @property
    def credits(self) -> pl.DataFrame:
        return self.grained.grain_credits if self.costed is None else self.costed.table


def run_at(
    source: Journeys | Source,
    models: Sequence[ModelSpec] | None = None,
    grain: Grain | None = None,
    *,
    costs: pl.DataFrame | Source | Mapping[str, float] | None = None,
    totals: bool = True,
    **load: Any,
) -> GrainRun:
    """:func:`attribution.run.run` at ``grain``: models checked, credit given at the
    grain, costs joined per period (CPA, ROAS and ROI per period with ``by``).

    Costs are per channel, and per period when they carry a ``date`` or
    ``period`` column; they cannot be joined to credit per conversion, per
    segment or per dimension value (:class:`InputError`).
    """
    from attribution.builder import load_journeys

    grain = grain or Grain()
    grain.check()
    if costs is not None:
        costs = read_costs(costs)
        check_costs(grain, costs)
    chosen = parse_models(models) if models is not None else None
    journeys = source if isinstance(source, Journeys) else load_journeys(source, **load)
    result = attribute_at(journeys, chosen, grain)
    costed: CostedCredits | None = None
    if costs is not None:
        costed = join_costs(result.grain_credits, costs, totals=totals, by=grain.by)
        result.costed = costed.table
    return GrainRun(result, costed)
