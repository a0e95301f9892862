"""The columnar journeys container that every model takes as input."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
import polars as pl

from attribution.arrays import csr_offsets, distinct, path_keys, ranges

__all__ = ["ChannelPairs", "JourneyKeys", "Journeys", "Unattributed"]


@dataclass(frozen=True)
class Unattributed:
    """Conversions of the input that no journey carries (no touch in their window).

    ``customers`` counts the customers of the input left with no journey at all
    (every conversion of theirs unattributed, no touch after the last one):
    :attr:`Journeys.n_customers` counts only customers with journeys, so the
    two together are every customer of the input.
    """

    conversions: float = 0.0
    value: float = 0.0
    customers: int = 0


# -- grain keys (issue 17) ----------------------------------------------------
@dataclass(frozen=True, eq=False)
class JourneyKeys:
    """What tells journeys and touches apart beyond their channels: the keys of finer grains.

    The path builder fills in what it read (:mod:`attribution.grains` uses
    it): when each journey ended, who the customer was, the conversion's id,
    its segment, and per touch a dimension value (a campaign). Values of a
    small set are codes into a table of labels, never Python objects per row.
    Every array is optional.

    Attributes
    ----------
    end_time : ndarray of int64, shape (n_rows,), or None
        Time of each row's conversion (for a null journey, of its last touch),
        in microseconds since the epoch, UTC.
    customer_ids : polars.Series or None
        The input's id of every customer index (``Journeys.customer`` indexes it).
    conversion_id : polars.Series of str, shape (n_rows,), or None
        Each conversion's id (a transaction id) from ``conversion_id_name``;
        null for null journeys.
    segment : ndarray of int32, shape (n_rows,), or None
        Code of each row's segment in ``segment_labels``, -1 for none.
    dimension : ndarray of int32, shape (n_touches,), or None
        Code of each touch's dimension value in ``dimension_labels``, -1 for none.
    conversion_id_name, segment_name, dimension_name : str or None
        The input columns they were read from.
    lost_time, lost_value, lost_segment : ndarray, shape (n_unattributed,), or None
        Time (int64, as ``end_time``), value (float64) and segment code (int32)
        of each unattributed conversion (``Journeys.unattributed``), so that
        finer grains account for them too.
    """

    end_time: np.ndarray | None = None
    customer_ids: pl.Series | None = None
    conversion_id: pl.Series | None = None
    segment: np.ndarray | None = None
    segment_labels: tuple[str, ...] = ()
    dimension: np.ndarray | None = None
    dimension_labels: tuple[str, ...] = ()
    conversion_id_name: str | None = None
    segment_name: str | None = None
    dimension_name: str | None = None
    lost_time: np.ndarray | None = None
    lost_value: np.ndarray | None = None
    lost_segment: np.ndarray | None = None

    def check(self, n_rows: int, n_touches: int) -> None:
        """Raise ValueError unless every array has one entry per row (or touch)."""
        for name in ("end_time", "conversion_id", "segment"):
            a = getattr(self, name)
            if a is not None and len(a) != n_rows:
                raise ValueError(f"keys.{name} has {len(a)} entries, expected {n_rows}")
        if self.dimension is not None and len(self.dimension) != n_touches:
            raise ValueError(
                f"keys.dimension has {len(self.dimension)} entries, expected {n_touches}"
            )

    def select(self, rows: np.ndarray, touches: np.ndarray) -> JourneyKeys:
        """The keys of rows ``rows`` (an index array) whose touches are ``touches``."""

        def take(a: np.ndarray | None, at: np.ndarray) -> np.ndarray | None:
            return None if a is None else a[at]

        return replace(
            self,
            end_time=take(self.end_time, rows),
            conversion_id=None
            if self.conversion_id is None
            else self.conversion_id.gather(pl.Series(rows, dtype=pl.Int64)),
            segment=take(self.segment, rows),
            dimension=take(self.dimension, touches),
        )


@dataclass(frozen=True, eq=False)
class ChannelPairs:
    """The distinct (row, channel) pairs of the rows that have credit to give.

    Rows with conversions or value only (the only ones any credit comes
    from); what credit per conversion (:mod:`attribution.grains`) and the
    models' per-conversion splits are laid out on.

    Attributes
    ----------
    rows : ndarray of int64, shape (n_rows_credited,)
        The rows with conversions or value, ascending.
    touches : ndarray of int64, shape (n_touches_credited,)
        Their touches (indices into ``Journeys.codes``), row after row.
    row, code : ndarray of int64, shape (n_pairs,)
        Each pair's row and channel code, sorted by row, then code: the pairs
        of one row are its distinct channels in ascending order.
    count : ndarray of int64, shape (n_pairs,)
        Touches of each pair.
    pair_of_touch : ndarray of int64, shape (n_touches_credited,)
        The pair of each of ``touches``.
    """

    rows: np.ndarray
    touches: np.ndarray
    row: np.ndarray
    code: np.ndarray
    count: np.ndarray
    pair_of_touch: np.ndarray


# Up to this many (row, channel) cells, pairs are counted in a table, without sorting.
_DENSE_PAIRS = 1 << 24


@dataclass(frozen=True, eq=False)
class Journeys:
    """Journeys (or aggregated paths) as flat arrays: the models' one input type.

    Row ``j`` is a journey, or a distinct path standing for several journeys.
    Its touches are ``codes[offsets[j]:offsets[j + 1]]``, oldest first (CSR).
    A row stands for ``conversions[j]`` converting journeys worth ``value[j]``
    in all, plus ``nulls[j]`` journeys of the same path that did not convert.
    A journey built from events has exactly one of the two equal to 1; a row of
    a ChannelAttribution paths table may have both. This is the paths-table
    layout, so aggregating never has to split rows.

    This class is public, stable API for model authors.

    Attributes
    ----------
    channels : tuple of str
        Channel names; ``codes`` index into it. Sorted, distinct.
    codes : ndarray of uint32, shape (n_touches,)
        Channel code of every touch, journey after journey.
    offsets : ndarray of int64, shape (n_rows + 1,)
        Start of each row's touches in ``codes``; ``offsets[-1] == n_touches``.
        Every row has at least one touch.
    conversions, value, nulls : ndarray of float64, shape (n_rows,)
        Converting journeys, their total value, and null journeys per row.
    days_before : ndarray of float64, shape (n_touches,), or None
        Days from each touch to its journey's conversion (for a null journey,
        to its last touch). None when the input had no touch times (paths).
    customer : ndarray of int64, shape (n_rows,), or None
        Customer index of each journey when built from events, else None.
    unattributed : Unattributed
        Conversions of the input that have no journey, kept for the accounts.
    conversion_channel : ndarray of object (str or None), shape (n_rows,), or None
        Where each journey's conversion happened (a store, the web shop, ...),
        read from the column the path builder was told about; None for null
        journeys and when no such column was given. Survives :meth:`select`,
        not :meth:`aggregate`.
    keys : JourneyKeys or None
        Conversion times, ids, segments and per-touch dimension values for the
        finer grains (:mod:`attribution.grains`); None for a paths input.
        Survives :meth:`select`, not :meth:`aggregate`.
    tie : ndarray of bool, shape (n_touches,), or None
        ``tie[i]``: touch i happened at the same instant as touch ``i - 1`` of
        the same row (never True at a row's first touch). Touches tied so form
        a *tie group*, which has no order of its own: the codes inside it are
        in some order (the path builder's is by channel code), and a model
        must not let that order matter. None when no two touches tie (or the
        input, a paths table, cannot tell).
    """

    channels: tuple[str, ...]
    codes: np.ndarray
    offsets: np.ndarray
    conversions: np.ndarray
    value: np.ndarray
    nulls: np.ndarray
    days_before: np.ndarray | None = None
    customer: np.ndarray | None = None
    unattributed: Unattributed = field(default_factory=Unattributed)
    conversion_channel: np.ndarray | None = None
    keys: JourneyKeys | None = None
    tie: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.offsets) - 1
        if n < 0 or self.offsets[0] != 0 or self.offsets[-1] != len(self.codes):
            raise ValueError("offsets must start at 0 and end at len(codes)")
        for name in ("conversions", "value", "nulls"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} has {len(getattr(self, name))} rows, expected {n}")
        if self.days_before is not None and len(self.days_before) != len(self.codes):
            raise ValueError("days_before must have one entry per touch")
        if self.conversion_channel is not None and len(self.conversion_channel) != n:
            raise ValueError("conversion_channel must have one entry per row")
        if self.keys is not None:
            self.keys.check(n, len(self.codes))
        if self.tie is not None:
            if len(self.tie) != len(self.codes):
                raise ValueError("tie must have one entry per touch")
            if n and len(self.codes) and self.tie[self.offsets[:-1][self.lengths > 0]].any():
                raise ValueError("a row's first touch cannot be tied with the one before")

    # -- sizes -------------------------------------------------------------
    @property
    def n_rows(self) -> int:
        """Number of rows (journeys, or distinct paths after aggregation)."""
        return len(self.offsets) - 1

    @property
    def n_touches(self) -> int:
        return len(self.codes)

    @property
    def n_channels(self) -> int:
        return len(self.channels)

    @property
    def has_times(self) -> bool:
        """Whether touch times are known (False for a paths-only input)."""
        return self.days_before is not None

    # Derived arrays are cached: the container is immutable, and every model of
    # a run asks for the same ones.
    @cached_property
    def lengths(self) -> np.ndarray:
        """Touches per row."""
        return np.diff(self.offsets)

    @cached_property
    def row_of_touch(self) -> np.ndarray:
        """Row index of every touch (``np.repeat(arange(n_rows), lengths)``)."""
        return np.repeat(np.arange(self.n_rows, dtype=np.int64), self.lengths)

    @property
    def has_ties(self) -> bool:
        """Whether some touches happened at the same instant as the one before."""
        return self.tie is not None and bool(self.tie.any())

    @cached_property
    def tie_group(self) -> np.ndarray:
        """Tie group of every touch (int64, shape (n_touches,)): touches at one
        instant of one row share a number, counted up along the touches; every
        untied touch is a group of its own."""
        if self.tie is None:
            return np.arange(self.n_touches, dtype=np.int64)
        return np.cumsum(~self.tie, dtype=np.int64) - 1

    @cached_property
    def tied_rows(self) -> np.ndarray:
        """Bool per row: the row has touches at the same instant."""
        if not self.has_ties:
            return np.zeros(self.n_rows, dtype=bool)
        assert self.tie is not None
        return np.bincount(self.row_of_touch[self.tie], minlength=self.n_rows) > 0

    def tie_mean(self, per_touch: np.ndarray) -> np.ndarray:
        """``per_touch`` averaged over each tie group: what a touch gets when its
        group's touches come in every order with equal weight, for any rule
        that weighs touches by position."""
        if not self.has_ties:
            return per_touch
        group = self.tie_group
        sums = np.bincount(group, weights=per_touch)
        return (sums / np.bincount(group))[group]

    @cached_property
    def n_customers(self) -> int | None:
        """Distinct customers with a journey, converting or null (None without
        customers, as for paths). Customers whose conversions are all
        unattributed and who have no null journey are counted apart, in
        ``unattributed.customers``."""
        return None if self.customer is None else len(distinct(self.customer))

    @cached_property
    def converting(self) -> Journeys:
        """Only the rows with conversions (their nulls kept): all that models
        which give null journeys no credit need to look at."""
        if bool((self.conversions > 0).all()):
            return self
        return self.select(self.conversions > 0)

    @cached_property
    def position(self) -> np.ndarray:
        """Position of every touch within its row, 0 for the first."""
        return np.arange(self.n_touches, dtype=np.int64) - np.repeat(
            self.offsets[:-1], self.lengths
        )

    @cached_property
    def channel_pairs(self) -> ChannelPairs:
        """The distinct (row, channel) pairs of the rows with conversions or value."""
        credited = (self.conversions != 0) | (self.value != 0)
        rows = np.flatnonzero(credited)
        lengths = self.lengths[rows]
        if len(rows) == self.n_rows:
            touches = np.arange(self.n_touches, dtype=np.int64)
        else:
            touches = ranges(self.offsets[:-1][rows], lengths)
        n_ch = max(self.n_channels, 1)
        # rows numbered among the credited ones keep the table of cells small
        local = np.repeat(np.arange(len(rows), dtype=np.int64), lengths)
        keys = local * n_ch + self.codes[touches].astype(np.int64)
        if len(rows) * n_ch <= _DENSE_PAIRS:
            dense = np.bincount(keys, minlength=len(rows) * n_ch)
            cells = np.flatnonzero(dense)
            of_touch = (np.cumsum(dense > 0) - 1)[keys]
            count = dense[cells]
        else:
            cells, of_touch, count = np.unique(keys, return_inverse=True, return_counts=True)
        return ChannelPairs(
            rows.astype(np.int64),
            touches,
            rows[cells // n_ch].astype(np.int64),
            (cells % n_ch).astype(np.int64),
            count.astype(np.int64),
            of_touch.astype(np.int64),
        )

    @property
    def total_conversions(self) -> float:
        return float(self.conversions.sum())

    @property
    def total_value(self) -> float:
        return float(self.value.sum())

    @property
    def total_nulls(self) -> float:
        return float(self.nulls.sum())

    @property
    def n_journeys(self) -> float:
        """Journeys the rows stand for (converting plus null)."""
        return self.total_conversions + self.total_nulls

    # -- constructors ------------------------------------------------------
    @classmethod
    def empty(cls, channels: tuple[str, ...] = (), *, has_times: bool = True) -> Journeys:
        z = np.zeros(0)
        return cls(
            channels=tuple(channels),
            codes=np.zeros(0, dtype=np.uint32),
            offsets=np.zeros(1, dtype=np.int64),
            conversions=z,
            value=z.copy(),
            nulls=z.copy(),
            days_before=z.copy() if has_times else None,
        )

    @classmethod
    def from_paths(
        cls,
        paths: list[list[str]] | list[tuple[str, ...]],
        conversions: list[float] | np.ndarray,
        value: list[float] | np.ndarray | None = None,
        nulls: list[float] | np.ndarray | None = None,
        days_before: list[list[float]] | None = None,
    ) -> Journeys:
        """Build journeys from Python lists: for tests, examples and small data.

        Channels are sorted by name and coded in that order.
        """
        channels = tuple(sorted({c for p in paths for c in p}))
        index = {c: i for i, c in enumerate(channels)}
        lengths = np.array([len(p) for p in paths], dtype=np.int64)
        if (lengths == 0).any():
            raise ValueError("every path needs at least one touch")
        offsets = csr_offsets(lengths)
        codes = np.array([index[c] for p in paths for c in p], dtype=np.uint32)
        conv = np.asarray(conversions, dtype=np.float64)
        val = conv.copy() if value is None else np.asarray(value, dtype=np.float64)
        nul = np.zeros(len(paths)) if nulls is None else np.asarray(nulls, dtype=np.float64)
        days = None
        if days_before is not None:
            days = np.array([d for row in days_before for d in row], dtype=np.float64)
        return cls(channels, codes, offsets, conv, val, nul, days)

    # -- transforms --------------------------------------------------------
    def drop_times(self) -> Journeys:
        """The same journeys as a paths-only input would give them."""
        return replace(self, days_before=None, keys=None)

    def with_channels(self, channels: tuple[str, ...]) -> Journeys:
        """Recode onto a larger, sorted channel list that contains ours."""
        new = {c: i for i, c in enumerate(channels)}
        mapping = np.array([new[c] for c in self.channels], dtype=np.uint32)
        codes = mapping[self.codes] if self.n_touches else self.codes
        return replace(self, channels=tuple(channels), codes=codes)

    def select(self, rows: np.ndarray) -> Journeys:
        """Rows ``rows`` (an index or boolean mask array), in that order."""
        rows = np.asarray(rows)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        lengths = self.lengths[rows]
        offsets = csr_offsets(lengths)
        touch = ranges(self.offsets[:-1][rows], lengths)
        return replace(
            self,
            codes=self.codes[touch],
            tie=None if self.tie is None else self.tie[touch],
            offsets=offsets,
            conversions=self.conversions[rows],
            value=self.value[rows],
            nulls=self.nulls[rows],
            days_before=None if self.days_before is None else self.days_before[touch],
            customer=None if self.customer is None else self.customer[rows],
            conversion_channel=(
                None if self.conversion_channel is None else self.conversion_channel[rows]
            ),
            keys=None if self.keys is None else self.keys.select(rows, touch),
        )

    def aggregate(self) -> Journeys:
        """Distinct paths with summed conversions, value and nulls (see :meth:`aggregate_rows`)."""
        return self.aggregate_rows()[0]

    def aggregate_rows(self) -> tuple[Journeys, np.ndarray]:
        """Distinct paths with summed conversions, value and nulls, and the path
        (row of the result) of every row of these journeys.

        Touch times, customers and keys do not survive aggregation; ties do:
        within a tie group the codes are put in ascending order, so paths that
        differ only in the order of tied touches are one. The paths come out
        sorted (by length, then channel codes), so the result does not depend
        on the order of the rows.
        """
        if self.n_rows == 0:
            empty = replace(
                self, days_before=None, customer=None, conversion_channel=None, keys=None
            )
            return empty, np.zeros(0, dtype=np.int64)
        codes, tie = self.codes.astype(np.int64), None
        if self.has_ties:
            assert self.tie is not None
            codes = codes[np.lexsort((codes, self.tie_group))]
            tie = self.tie
        # one symbol per touch: its code, and whether it is tied with the one before
        symbols = codes * 2 + (0 if tie is None else tie)
        # Grouped by (length, key): exact, and sorting by it sorts the paths.
        # One integer groups faster than two: the length goes on top when it fits.
        lengths = self.lengths
        key = path_keys(symbols, self.offsets, 2 * self.n_channels)
        shift = 63 - int(lengths.max()).bit_length()
        by = ["key"] if int(key.max()) < 2**shift else ["n", "key"]
        if by == ["key"]:
            key = (lengths.astype(np.int64) << shift) | key
        frame = pl.DataFrame(
            {
                "n": lengths,
                "key": key,
                "conversions": self.conversions,
                "value": self.value,
                "nulls": self.nulls,
            }
        ).with_row_index("row")
        grouped = (
            frame.group_by(by)
            .agg(
                pl.col(c for c in ("n", "row") if c not in by).first(),
                pl.col("conversions", "value", "nulls").sum(),
            )
            .sort(by)
        )
        # the dense rank of a row's (length, key) is its path's place in the sorted groups
        path_of_row = frame.select(pl.struct(by).rank("dense") - 1).to_series().to_numpy()
        lengths = grouped["n"].to_numpy().astype(np.int64)
        offsets = csr_offsets(lengths)
        first = grouped["row"].to_numpy().astype(np.int64)
        kept = symbols[ranges(self.offsets[first], lengths)]
        paths = Journeys(
            channels=self.channels,
            codes=(kept // 2).astype(np.uint32),
            tie=None if tie is None else (kept % 2).astype(bool),
            offsets=offsets,
            conversions=grouped["conversions"].to_numpy().astype(np.float64),
            value=grouped["value"].to_numpy().astype(np.float64),
            nulls=grouped["nulls"].to_numpy().astype(np.float64),
            days_before=None,
            customer=None,
            unattributed=self.unattributed,
        )
        return paths, path_of_row.astype(np.int64)

    def to_paths_table(self, sep: str = " > ") -> pl.DataFrame:
        """The ChannelAttribution layout: path, total_conversions, total_conversion_value,
        total_null; one row per distinct path.

        A channel name holding the separator (``sep`` without its spaces) or a
        backslash has them escaped with a backslash (``Email \\> Newsletter``),
        so that :func:`attribution.sources.read_paths` reads the same channels back.
        """
        agg = self.aggregate()
        token = sep.strip() or sep
        escaped = [  # a loop over channels
            c.replace("\\", "\\\\").replace(token, "\\" + token) for c in agg.channels
        ]
        names = pl.Series("name", escaped, dtype=pl.String)
        frame = pl.DataFrame(
            {
                "row": pl.Series(agg.row_of_touch, dtype=pl.Int64),
                "name": names.gather(pl.Series(agg.codes.astype(np.int64))),
            }
        )
        paths = frame.group_by("row", maintain_order=True).agg(path=pl.col("name").str.join(sep))
        return pl.DataFrame(
            {
                "path": paths["path"] if agg.n_rows else pl.Series([], dtype=pl.String),
                "total_conversions": agg.conversions,
                "total_conversion_value": agg.value,
                "total_null": agg.nulls,
            }
        )

    def __repr__(self) -> str:
        return (
            f"Journeys(rows={self.n_rows}, touches={self.n_touches}, "
            f"channels={self.n_channels}, conversions={self.total_conversions:g}, "
            f"nulls={self.total_nulls:g}, has_times={self.has_times})"
        )
