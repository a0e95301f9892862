"""The data-driven model: a fitted chance of converting; channels share its lift by Shapley."""

from __future__ import annotations

import contextlib
import itertools
import math
import typing
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from functools import cached_property
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import polars as pl
from scipy import optimize, sparse
from scipy.special import expit

from attribution.arrays import csr_offsets, ranges
from attribution.capabilities import RowCredit
from attribution.errors import ModelError
from attribution.journeys import Journeys
from attribution.models import Model, credit_frame

__all__ = [
    "DataDriven",
    "Design",
    "Estimator",
    "Fit",
    "LinearFit",
    "Members",
    "PenalisedGLM",
    "design_matrix",
    "members_of",
    "no_touch_rate",
]

Link = Literal["hazard", "logit"]
LINKS: tuple[str, ...] = typing.get_args(Link)
# Where the conversions that would have happened with no touch go (see DataDriven).
Baseline = Literal["spread", "journey", "row"]
BASELINES: tuple[str, ...] = typing.get_args(Baseline)

# Days from a channel's last touch to the journey's last touch: bins [0, 0.5), [0.5, 1), ...
RECENCY_EDGES = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 11.0, 15.0, 21.0, 28.0)
_COUNT_CAP = 1023
# Elements per temporary array when coalitions are expanded.
_CHUNK = 1 << 21
# Cross-validation chooses the penalty on at most this many journeys (a thinned sample).
CV_JOURNEYS = 200_000
# A journey's lift below this is treated as none (its credit is then shared equally).
_TINY = 1e-12


# -- the distinct channels of each journey ------------------------------------------
@dataclass(frozen=True)
class Members:
    """The distinct channels of each row, one entry per (row, channel), sorted by
    row then channel code.

    Attributes
    ----------
    n_rows, n_channels : int
    n_bins : int
        Recency bins (0 when touch times are not used).
    offsets : ndarray of int64, shape (n_rows + 1,)
        Row ``r``'s members are ``offsets[r]:offsets[r + 1]`` (CSR).
    code : ndarray of int64
        The member's channel.
    count : ndarray of int64
        Its touches in the row (capped at 1023).
    first_rank, last_rank : ndarray of int64
        Rank of its first (last) touch among the row's members' first (last)
        touches, 0 for the earliest: they say which member has the first and
        the last touch of any coalition of members.
    recency : ndarray of int64
        Bin of the days from its last touch to the row's last touch (0 without times).
    """

    n_rows: int
    n_channels: int
    n_bins: int
    offsets: np.ndarray
    code: np.ndarray
    count: np.ndarray
    first_rank: np.ndarray
    last_rank: np.ndarray
    recency: np.ndarray

    @property
    def sizes(self) -> np.ndarray:
        return np.diff(self.offsets)

    @cached_property
    def row(self) -> np.ndarray:
        return np.repeat(np.arange(self.n_rows, dtype=np.int64), self.sizes)

    def take(self, rows: np.ndarray) -> Members:
        """Rows ``rows`` (an index array), in that order."""
        sizes = self.sizes[rows]
        idx = ranges(self.offsets[:-1][rows], sizes)
        return replace(
            self,
            n_rows=len(rows),
            offsets=csr_offsets(sizes),
            code=self.code[idx],
            count=self.count[idx],
            first_rank=self.first_rank[idx],
            last_rank=self.last_rank[idx],
            recency=self.recency[idx],
        )


def _sort_within_rows(offsets: np.ndarray, key: np.ndarray) -> np.ndarray:
    """The permutation that sorts ``key`` within each CSR row, rows staying in
    place (stable). Rows of one length are sorted together along an axis, so
    the work is a loop over lengths, never a global sort."""
    order = np.arange(len(key), dtype=np.int64)
    lengths = np.diff(offsets)
    for n in np.unique(lengths[lengths > 1]):  # a loop over row lengths
        idx = offsets[:-1][lengths == n][:, None] + np.arange(n)
        srt = np.argsort(key[idx], axis=1, kind="stable")
        order[idx] = np.take_along_axis(idx, srt, axis=1)
    return order


def members_of(journeys: Journeys, *, times: bool = True) -> Members:
    """The :class:`Members` of every row of ``journeys`` (recency bins when
    ``times`` and the journeys have touch times)."""
    # Each row's touches by channel, keeping time order within a channel.
    rot = journeys.row_of_touch
    if journeys.n_channels < 1 << 16:
        # A stable radix sort by channel, then a stable sort by row, which only
        # merges one ascending run per channel.
        by_code = np.argsort(journeys.codes.astype(np.uint16), kind="stable")
        order = by_code[np.argsort(rot[by_code], kind="stable")]
    else:
        order = _sort_within_rows(journeys.offsets, journeys.codes.astype(np.int64))
    codes = journeys.codes.astype(np.int64)[order]
    new = np.ones(len(codes), dtype=bool)
    if len(codes):
        new[1:] = (codes[1:] != codes[:-1]) | (rot[1:] != rot[:-1])
    start = np.flatnonzero(new)
    end = np.r_[start[1:], len(codes)].astype(np.int64)
    row, code = rot[start], codes[start]
    first_touch, last_touch = order[start], order[end - 1]
    offsets = csr_offsets(np.bincount(row, minlength=journeys.n_rows))
    days = journeys.days_before if times else None
    recency: np.ndarray = np.zeros(len(row), dtype=np.int64)
    if days is not None and len(codes):
        # Days before the row's last touch, not before its end: a null journey
        # ends at its last touch, so its end carries no time of its own.
        row_end = days[journeys.offsets[1:] - 1]
        gap = np.maximum(days[last_touch] - row_end[row], 0.0)
        recency = np.searchsorted(np.asarray(RECENCY_EDGES), gap, side="right").astype(np.int64)
    # Rank of each member's first (last) touch among its row's members: count
    # the marked touches up to it, touches being in row and time order.
    ranks = []
    for touch in (first_touch, last_touch):
        marked = np.zeros(len(codes), dtype=np.int64)
        marked[touch] = 1
        upto = np.cumsum(marked)
        ranks.append(upto[touch] - 1 - offsets[row])
    first_rank, last_rank = ranks
    return Members(
        n_rows=journeys.n_rows,
        n_channels=journeys.n_channels,
        n_bins=len(RECENCY_EDGES) + 1 if days is not None else 0,
        offsets=offsets,
        code=code,
        count=np.minimum(end - start, _COUNT_CAP),
        first_rank=first_rank,
        last_rank=last_rank,
        recency=recency,
    )


@dataclass(frozen=True)
class Signatures:
    """Rows grouped by everything the model sees of them: the coalition game of
    every row of one group is the same."""

    members: Members  # one row per group, in a canonical order
    conversions: np.ndarray
    value: np.ndarray
    nulls: np.ndarray
    group: np.ndarray | None = None  # the group of every row of the journeys


def signatures(members: Members, journeys: Journeys) -> Signatures:
    """Group the rows of ``journeys`` whose members are identical.

    Groups come sorted by size, then by their members' keys, so the result
    depends on the channel codes only, never on the order of the rows.
    """
    if members.n_rows == 0:
        z = np.zeros(0)
        return Signatures(members, z, z.copy(), z.copy(), np.zeros(0, dtype=np.int64))
    # One integer per member, each field in as few bits as it needs; the
    # members of a row are then packed into as few 62-bit words as fit. (With
    # more than 62 bits a member, two integers a member and no packing.)
    fields = [members.code, members.count, members.first_rank, members.last_rank]
    fields.append(members.recency)
    widths = [max(int(f.max()).bit_length(), 1) for f in fields]

    def pack(parts: list[np.ndarray], sizes: list[int]) -> np.ndarray:
        key = np.zeros(len(members.code), dtype=np.int64)
        for f, w in zip(parts, sizes, strict=True):
            key = (key << w) | f
        return key

    if sum(widths) <= 62:
        keys, bits = [pack(fields, widths)], sum(widths)
    else:
        keys = [pack(fields[:2], widths[:2]), pack(fields[2:], widths[2:])]
        bits = 63
    per_word = max(62 // bits, 1)
    sizes = members.sizes
    group = np.empty(members.n_rows, dtype=np.int64)
    firsts = []
    base = 0
    for k in np.unique(sizes):  # a loop over journey sizes
        rows = np.flatnonzero(sizes == k)
        idx = members.offsets[:-1][rows][:, None] + np.arange(k)
        words = []
        for key in keys:
            for lo in range(0, int(k), per_word):  # a loop over words of a row
                w = np.zeros(len(rows), dtype=np.int64)
                for j in range(lo, min(lo + per_word, int(k))):
                    w = (w << bits) | key[idx[:, j]] if per_word > 1 else key[idx[:, j]]
                words.append(w)
        order = np.lexsort(words[::-1]) if len(words) > 1 else np.argsort(words[0], kind="stable")
        srt = np.stack([w[order] for w in words])
        new = np.ones(len(rows), dtype=bool)
        new[1:] = (srt[:, 1:] != srt[:, :-1]).any(axis=0)
        ids = np.cumsum(new) - 1
        group[rows[order]] = base + ids
        firsts.append(rows[order][new])
        base += int(ids[-1]) + 1
    n_groups = base

    def total(x: np.ndarray) -> np.ndarray:
        return np.bincount(group, weights=x, minlength=n_groups)

    return Signatures(
        members.take(np.concatenate(firsts)),
        total(journeys.conversions),
        total(journeys.value),
        total(journeys.nulls),
        group,
    )


# -- features ----------------------------------------------------------------------
@dataclass(frozen=True)
class Layout:
    """Where each feature lives in the design's columns.

    Blocks, in order: presence (per channel and recency bin: one column per
    channel when times are not used), log touch count, first touch, last
    touch (each per channel; empty when ``positions`` is off), pairs of
    channels present together (when ``interactions`` is on).
    """

    n_channels: int
    n_bins: int
    interactions: bool = True
    positions: bool = True

    @property
    def width(self) -> int:
        """Presence columns per channel (its recency bins, or 1)."""
        return max(self.n_bins, 1)

    @property
    def presence(self) -> int:
        return 0

    @property
    def log_count(self) -> int:
        return self.n_channels * self.width

    @property
    def first(self) -> int:
        return self.log_count + self.n_channels

    @property
    def last(self) -> int:
        return self.first + self.n_channels

    @property
    def pairs(self) -> int:
        return self.last + self.n_channels

    @property
    def n_pairs(self) -> int:
        n = self.n_channels
        return n * (n - 1) // 2 if self.interactions else 0

    @property
    def n_features(self) -> int:
        return self.pairs + self.n_pairs

    def pair_column(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Column of the pair of channels ``a < b``."""
        n = self.n_channels
        return self.pairs + a * n - a * (a + 1) // 2 + (b - a - 1)

    def kinds(self) -> np.ndarray:
        """Block name of every column."""
        n = self.n_channels
        names = ["presence"] * (n * self.width) + ["log_count"] * n + ["first"] * n
        names += ["last"] * n + ["pair"] * self.n_pairs
        return np.array(names, dtype=object)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Monotone bounds of every column: touching a channel, or touching it
        more often, never lowers the chance (coefficients >= 0). Position and
        pair coefficients are free."""
        kinds = self.kinds()
        low = np.where(np.isin(kinds, ["presence", "log_count"]), 0.0, -np.inf)
        return low, np.full(len(kinds), np.inf)


@dataclass(frozen=True)
class Design:
    """A design matrix with the layout of its columns (what an estimator is given).

    Derived matrices are cached: every fit of a cross-validation reuses them.
    """

    X: sparse.csr_array
    layout: Layout

    @cached_property
    def presence_block(self) -> sparse.csr_array:
        """The presence columns (channel by recency bin)."""
        return sparse.csr_array(self.X[:, : self.layout.log_count])

    @cached_property
    def rest_block(self) -> sparse.csr_array:
        return sparse.csr_array(self.X[:, self.layout.log_count :])

    @cached_property
    def presence_t(self) -> sparse.csr_array:
        return sparse.csr_array(self.presence_block.T)

    @cached_property
    def transposed(self) -> sparse.csr_array:
        return sparse.csr_array(self.X.T)

    @cached_property
    def rest_squared_t(self) -> sparse.csr_array:
        return sparse.csr_array(self.rest_block.multiply(self.rest_block).T)


def _matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` without BLAS: these products are small and many, and a
    multi-threaded BLAS spends more time waking its threads than computing
    them on a busy machine."""
    return np.einsum("ij,jk->ik", a, b, optimize=False)


def _all_masks(k: int) -> np.ndarray:
    return ((np.arange(1 << k)[:, None] >> np.arange(k)) & 1).astype(bool)


def _ends_of(ranks: np.ndarray, masks: np.ndarray, *, last: bool) -> np.ndarray:
    """For rows (R, k) of member ranks and coalitions ``masks`` (m, k): the
    member index that has the coalition's first (``last``: last) touch, (R, m);
    -1 for the empty coalition."""
    R, k = ranks.shape
    by_rank = np.argsort(ranks, axis=1)  # member of each rank
    if last:
        by_rank = by_rank[:, ::-1]
    out = np.full((R, len(masks)), -1, dtype=np.int64)
    found = np.zeros((R, len(masks)), dtype=bool)
    mt = masks.T
    for j in range(k):  # a loop over ranks
        member = by_rank[:, j]
        hit = mt[member] & ~found  # (R, m)
        out[hit] = np.broadcast_to(member[:, None], hit.shape)[hit]
        found |= hit
    return out


@dataclass(frozen=True)
class _Group:
    """Rows of one size k as (R, k) arrays, for coalition work."""

    rows: np.ndarray
    code: np.ndarray
    log_count: np.ndarray
    first_rank: np.ndarray
    last_rank: np.ndarray
    recency: np.ndarray

    @classmethod
    def of(cls, members: Members, rows: np.ndarray, k: int) -> _Group:
        idx = members.offsets[rows][:, None] + np.arange(k)
        return cls(
            rows,
            members.code[idx],
            np.log(members.count[idx].astype(np.float64)),
            members.first_rank[idx],
            members.last_rank[idx],
            members.recency[idx],
        )

    def __len__(self) -> int:
        return len(self.rows)

    def slice(self, lo: int, hi: int) -> _Group:
        return _Group(
            self.rows[lo:hi],
            self.code[lo:hi],
            self.log_count[lo:hi],
            self.first_rank[lo:hi],
            self.last_rank[lo:hi],
            self.recency[lo:hi],
        )


def _groups(members: Members) -> list[tuple[int, _Group]]:
    sizes = members.sizes
    out = []
    for k in np.unique(sizes):  # a loop over journey sizes
        rows = np.flatnonzero(sizes == k)
        out.append((int(k), _Group.of(members, rows, int(k))))
    return out


def _coalition_design(g: _Group, masks: np.ndarray, layout: Layout) -> sparse.csr_array:
    """Design rows of every coalition of every row of ``g``: row ``r * m + s``
    is row r of the group keeping the members of ``masks[s]``."""
    R, k = g.code.shape
    m = len(masks)
    rr, ss, ii = np.nonzero(np.broadcast_to(masks[None, :, :], (R, m, k)))
    coal = rr * m + ss
    code = g.code[rr, ii]
    rows = [coal]
    cols = [layout.presence + code * layout.width + g.recency[rr, ii]]
    vals = [np.ones(len(coal))]
    lc = g.log_count[rr, ii]
    nz = lc > 0
    rows.append(coal[nz])
    cols.append(layout.log_count + code[nz])
    vals.append(lc[nz])
    for ranks, base, last in (
        (g.first_rank, layout.first, False),
        (g.last_rank, layout.last, True),
    ):
        if not layout.positions:
            break
        end = _ends_of(ranks, masks, last=last)
        r2, s2 = np.nonzero(end >= 0)
        rows.append(r2 * m + s2)
        cols.append(base + g.code[r2, end[r2, s2]])
        vals.append(np.ones(len(r2)))
    if layout.interactions and k > 1:
        ia, ib = np.triu_indices(k, 1)
        both = masks[:, ia] & masks[:, ib]  # (m, P)
        rr, ss, qq = np.nonzero(np.broadcast_to(both[None], (R, m, len(ia))))
        a, b = g.code[rr, ia[qq]], g.code[rr, ib[qq]]
        rows.append(rr * m + ss)
        cols.append(layout.pair_column(np.minimum(a, b), np.maximum(a, b)))
        vals.append(np.ones(len(rr)))
    return sparse.csr_array(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(R * m, layout.n_features),
    )


def design_matrix(members: Members, layout: Layout) -> sparse.csr_array:
    """The design of every row of ``members`` with all its members kept."""
    row, code = members.row, members.code
    rows = [row]
    cols = [layout.presence + code * layout.width + members.recency]
    vals = [np.ones(len(row))]
    many = members.count > 1
    rows.append(row[many])
    cols.append(layout.log_count + code[many])
    vals.append(np.log(members.count[many].astype(np.float64)))
    if layout.positions:
        first = members.first_rank == 0
        last = members.last_rank == members.sizes[row] - 1
        for which, base in ((first, layout.first), (last, layout.last)):
            rows.append(row[which])
            cols.append(base + code[which])
            vals.append(np.ones(int(which.sum())))
    if layout.interactions:
        sizes = members.sizes
        for k in np.unique(sizes[sizes > 1]):  # a loop over journey sizes
            at = members.offsets[:-1][sizes == k]
            ia, ib = np.triu_indices(int(k), 1)
            a, b = code[at[:, None] + ia], code[at[:, None] + ib]  # codes ascend in a row
            rows.append(np.repeat(np.flatnonzero(sizes == k), len(ia)))
            cols.append(layout.pair_column(a, b).ravel())
            vals.append(np.ones(a.size))
    return sparse.csr_array(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(members.n_rows, layout.n_features),
    )


# -- estimators ----------------------------------------------------------------------
@runtime_checkable
class Fit(Protocol):
    """A fitted chance of converting."""

    def predict(self, X: sparse.csr_array) -> np.ndarray:
        """P(conversion) of every design row."""
        ...

    def summary(self) -> dict[str, Any]:
        """JSON-able description (coefficients) for ``--details``."""
        ...


@runtime_checkable
class LinearFit(Fit, Protocol):
    """A fit that is a link of a linear score: ``p = inverse_link(intercept + X @ coef)``.

    The model then evaluates coalitions from the coefficients directly,
    without building their design rows.
    """

    intercept: float
    coef: np.ndarray

    def inverse_link(self, score: np.ndarray) -> np.ndarray: ...


class Estimator(Protocol):
    """What fits P(conversion | journey): plug another one in by overriding
    :meth:`DataDriven.make_estimator`.

    ``penalties`` are the candidates cross-validation chooses from, strongest
    first (a fit may start from the previous one's solution). ``quick`` fits
    only choose the penalty and may stop early.
    """

    @property
    def penalties(self) -> Sequence[float]: ...

    def fit(
        self,
        design: Design,
        conversions: np.ndarray,
        nulls: np.ndarray,
        *,
        penalty: float,
        start: Fit | None = None,
        quick: bool = False,
    ) -> Fit: ...


@dataclass
class GLMFit:
    """A fitted :class:`PenalisedGLM`: ``coef`` over the layout's columns, the
    presence block being ``effect[c] * decay[bin]``."""

    link: str
    intercept: float
    coef: np.ndarray
    layout: Layout
    effect: np.ndarray  # per channel: its effect when last touched in the newest bin
    decay: np.ndarray  # per recency bin: the share of the effect left (1 for the newest)
    converged: bool = True
    iterations: int = 0

    def inverse_link(self, score: np.ndarray) -> np.ndarray:
        return _inverse_link(self.link, score)

    def predict(self, X: sparse.csr_array) -> np.ndarray:
        return self.inverse_link(self.intercept + X @ self.coef)

    def summary(self) -> dict[str, Any]:
        return {"intercept": self.intercept, "converged": self.converged}


# Hazards below this are smoothed towards it, so the hazard link stays differentiable.
_FLOOR = 1e-4


def _hazard(score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A smooth positive hazard from a score (the score itself above 30 _FLOOR,
    never below 1e-12) and its derivative."""
    h = np.array(score, dtype=np.float64)
    dh = np.ones_like(h)
    low = h < 30 * _FLOOR
    if low.any():
        z = h[low] / _FLOOR
        h[low] = np.maximum(_FLOOR * np.logaddexp(0.0, z), 1e-12)
        dh[low] = expit(z)
    return h, dh


def _inverse_link(link: str, score: np.ndarray) -> np.ndarray:
    if link == "logit":
        return expit(score)
    return -np.expm1(-_hazard(score)[0])


class PenalisedGLM:
    """Penalised binary regression on weighted rows, fitted with L-BFGS-B.

    ``link="hazard"``: ``p = 1 - exp(-H)``, the hazard ``H`` linear in the
    features: a noisy-OR-like form in which each touch adds to the hazard, so
    the chance with no touch is identified from short journeys.
    ``link="logit"``: logistic regression, ``p = 1 / (1 + exp(-score))``.

    A channel's presence adds ``effect[c] * decay[bin]``, ``bin`` the
    recency of its last touch: one decay curve for all channels (``decay`` is
    1 for the newest bin and, with ``monotone``, never grows with age), so
    that a bonus for the freshest touch of every journey cannot pass for the
    chance with no touch. The curve is ``exp(-cumsum(steps))``, so it never
    falls below 0: an unpenalised decay that could turn negative would let an
    old touch lower the chance (against ``monotone``) and would undo the
    penalty on the effects (a tiny effect times a large negative decay), which
    over-fits small inputs.

    The penalty is a prior on the coefficients, added to the negative
    log-likelihood of all the journeys: ``penalty / 2 * coef**2`` on every
    coefficient but the intercept and the decay (Gaussian), and on the
    first-touch, last-touch and pair coefficients also
    ``l1 * sqrt(penalty) * |coef|`` (Laplace: most channels have no position
    effect and most pairs no interaction). Every journey has exactly one first
    and one last touch, so the data cannot tell a position effect that all
    channels share from the chance with no touch; the Laplace prior settles
    it by putting the median channel's position effect at zero, as it puts
    the median pair's at zero. With ``monotone``, effects and touch-count
    coefficients are non-negative.
    """

    sparse_kinds = ("first", "last", "pair")

    def __init__(self, *, link: str = "hazard", monotone: bool = True, l1: float = 10.0) -> None:
        self.link = link
        self.monotone = monotone
        self.l1 = l1
        # Prior precision of a coefficient; the hazard's coefficients are about
        # 20 times smaller than the logit's, so its scale is 400 times larger.
        scale = 400.0 if link == "hazard" else 1.0
        self.penalties = [scale * f for f in (100.0, 20.0, 4.0, 0.8, 0.16)]

    def fit(
        self,
        design: Design,
        conversions: np.ndarray,
        nulls: np.ndarray,
        *,
        penalty: float,
        start: Fit | None = None,
        quick: bool = False,
    ) -> GLMFit:
        layout = design.layout
        n, w = layout.n_channels, layout.width
        X, XT = design.X, design.transposed
        P, Xr = design.presence_block, design.rest_block  # presence by channel and bin; the rest
        PT = design.presence_t
        n_rest = Xr.shape[1]
        total = float(conversions.sum() + nulls.sum())
        rate = float(conversions.sum()) / total if total > 0 else 0.0
        rate = min(max(rate, 1e-6), 1 - 1e-6)
        link = self.link
        lam = float(penalty)
        kinds = layout.kinds()[n * w :]
        # Variables: intercept, effect (n), decay steps (w - 1), the rest's
        # coefficients, then the negative parts of the free Laplace-penalised
        # ones (whose coefficient is then the positive part).
        low_r = np.where((kinds == "log_count") & self.monotone, 0.0, -np.inf)
        lasso = np.isin(kinds, self.sparse_kinds)
        split = np.flatnonzero(lasso & (low_r < 0))
        i_a, i_s, i_r = 1, 1 + n, 1 + n + w - 1
        i_neg = i_r + n_rest
        n_var = i_neg + len(split)
        mu = self.l1 * math.sqrt(max(lam, 0.0))
        l1 = np.zeros(n_var)
        l1[i_r:i_neg][lasso] = mu
        l1[i_neg:] = mu
        low = np.full(n_var, -np.inf)
        if self.monotone:
            low[i_a:i_r] = 0.0
        low[i_r:i_neg] = np.where(np.isin(np.arange(n_rest), split), 0.0, low_r)
        low[i_neg:] = 0.0
        high = np.full(n_var, np.inf)

        def unpack(x: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
            effect = x[i_a:i_s]
            decay = np.exp(-np.r_[0.0, np.cumsum(x[i_s:i_r])])
            rest = x[i_r:i_neg].copy()
            rest[split] -= x[i_neg:]
            return float(x[0]), effect, decay, rest

        if isinstance(start, GLMFit) and start.link == link and len(start.effect) == n:
            rest0 = start.coef[n * w :]
            x0 = np.r_[
                start.intercept,
                start.effect,
                -np.diff(np.log(np.maximum(start.decay, 1e-300))),
                rest0,
                np.maximum(-rest0[split], 0.0),
            ]
            x0[i_r + split] = np.maximum(rest0[split], 0.0)
        else:
            if link == "logit":
                b0, a0 = math.log(rate / (1 - rate)), 0.1
            else:
                b0, a0 = -math.log1p(-rate) / 2, -math.log1p(-rate) / 4
            x0 = np.r_[b0, np.full(n, a0), np.zeros(n_var - 1 - n)]
        x0 = np.clip(x0, low, high)

        def score_of(x: np.ndarray) -> np.ndarray:
            b, effect, decay, rest = unpack(x)
            return b + P @ np.outer(effect, decay).ravel() + Xr @ rest

        # Scale every variable by its curvature at the start (a diagonal
        # preconditioner): rare columns otherwise slow L-BFGS down.
        score0 = score_of(x0)
        if link == "logit":
            sig = expit(score0)
            curve = (conversions + nulls) * sig * (1 - sig)
        else:
            p = -np.expm1(-np.maximum(_hazard(score0)[0], 1e-3))
            curve = conversions * (1 - p) / p**2
        _, effect0, decay0, _ = unpack(x0)
        # A row has at most one presence entry per channel, so squares pass through.
        per_bin = (PT @ curve).reshape(n, w)
        diag = np.zeros(n_var)
        diag[0] = curve.sum()
        diag[i_a:i_s] = (per_bin * decay0**2).sum(axis=1) + lam
        for j in range(1, w):  # a loop over recency bins
            older = np.outer(effect0, (np.arange(w) >= j) * decay0).ravel()
            diag[i_s + j - 1] = (curve * (P @ older) ** 2).sum()
        diag[i_r:i_neg] = design.rest_squared_t @ curve + lam
        diag[i_neg:] = diag[i_r + split]
        scale = 1.0 / np.sqrt(np.maximum(diag, 1e-12 * max(diag.max(), 1.0)))

        def objective(y: np.ndarray) -> tuple[float, np.ndarray]:
            x = y * scale
            b, effect, decay, rest = unpack(x)
            score = b + X @ np.r_[np.outer(effect, decay).ravel(), rest]
            if link == "logit":
                loss = conversions * np.logaddexp(0.0, -score) + nulls * np.logaddexp(0.0, score)
                dscore = (conversions + nulls) * expit(score) - conversions
            else:
                h, dh = _hazard(score)
                # -log(p) for the conversions, h = -log(1 - p) for the nulls,
                # p = 1 - exp(-h); d/dh -log(p) = -(1 - p) / p
                p = -np.expm1(-h)
                loss = nulls * h - conversions * np.log(p)
                dscore = (nulls - conversions * (1 - p) / p) * dh
            ridge = float((effect * effect).sum() + (rest * rest).sum())
            f = float(loss.sum()) + 0.5 * lam * ridge + float((l1 * x).sum())
            g_all = XT @ dscore
            g_w = g_all[: n * w].reshape(n, w)
            # d decay[b] / d steps[i] = -decay[b] for b >= i
            g_decay = (effect[:, None] * g_w).sum(axis=0) * decay
            g_rest = g_all[n * w :] + lam * rest
            g = np.r_[
                dscore.sum(),
                (g_w * decay).sum(axis=1) + lam * effect,
                -np.cumsum(g_decay[::-1])[::-1][1:],
                g_rest,
                -g_rest[split],
            ]
            return f / total, (g + l1) * scale / total

        if total <= 0:  # nothing to fit (a cross-validation fold of a tiny input)
            b, effect, decay, rest = unpack(x0)
            coef = np.r_[np.outer(effect, decay).ravel(), rest]
            return GLMFit(link, b, coef, layout, effect.copy(), decay, True, 0)
        result = optimize.minimize(
            objective,
            x0 / scale,
            jac=True,
            method="L-BFGS-B",
            bounds=optimize.Bounds(low / scale, high / scale),
            options={
                "maxiter": 5000,
                "ftol": 1e-10 if quick else 1e-12,
                "gtol": 1e-6 if quick else 1e-8,
                "maxcor": 30,
            },
        )
        b, effect, decay, rest = unpack(result.x * scale)
        coef = np.r_[np.outer(effect, decay).ravel(), rest]
        return GLMFit(
            link, b, coef, layout, effect.copy(), decay, bool(result.success), int(result.nit)
        )


# -- coalition values and Shapley weights ---------------------------------------------
def _shapley_matrix(k: int) -> np.ndarray:
    """``W`` (2**k, k) with ``phi = v @ W`` for a game ``v`` on the masks of ``k`` players."""
    masks = _all_masks(k)
    size = masks.sum(axis=1)[:, None]
    fact = np.array([math.factorial(i) for i in range(k + 1)], dtype=np.float64)
    w_in = fact[np.maximum(size - 1, 0)] * fact[k - size] / fact[k]
    w_out = fact[size] * fact[np.maximum(k - size - 1, 0)] / fact[k]
    return np.where(masks, w_in, -w_out)


def _coalition_prob(fit: Fit, g: _Group, masks: np.ndarray, layout: Layout) -> np.ndarray:
    """P(conversion) of every row of ``g`` restricted to each coalition, (R, m)."""
    R, k = g.code.shape
    m = len(masks)
    if not isinstance(fit, LinearFit):
        return fit.predict(_coalition_design(g, masks, layout)).reshape(R, m)
    coef = fit.coef
    unit = coef[layout.presence + g.code * layout.width + g.recency]
    unit = unit + coef[layout.log_count + g.code] * g.log_count
    score = fit.intercept + _matmul(unit, masks.T.astype(np.float64))
    for ranks, base, last in (
        (g.first_rank, layout.first, False),
        (g.last_rank, layout.last, True),
    ):
        if not layout.positions:
            break
        end = _ends_of(ranks, masks, last=last)
        member = np.take_along_axis(g.code, np.maximum(end, 0), axis=1)
        score += np.where(end >= 0, coef[base + member], 0.0)
    if layout.interactions and k > 1:
        ia, ib = np.triu_indices(k, 1)
        a, b = g.code[:, ia], g.code[:, ib]
        pair = coef[layout.pair_column(np.minimum(a, b), np.maximum(a, b))]  # (R, P)
        score += _matmul(pair, (masks[:, ia] & masks[:, ib]).T.astype(np.float64))
    return fit.inverse_link(score)


@dataclass
class _Credit:
    """Per-row Shapley values of the fitted lift, and the accounts of sampling."""

    phi: np.ndarray  # per member, in Members order
    p_full: np.ndarray  # per row
    sampled_rows: np.ndarray  # bool per row
    var_conversions: np.ndarray  # per channel
    var_value: np.ndarray


def _shapley_of_lift(
    fit: Fit,
    members: Members,
    layout: Layout,
    p0: float,
    *,
    conversions: np.ndarray,
    value: np.ndarray,
    max_exact: int,
    samples: int,
    seed: int,
    of_lift: bool = True,
    stream: tuple[int, ...] = (),
) -> _Credit:
    """Shapley values of ``S -> P(row keeping S's touches) - p0`` for every row.

    The sampling variance is that of each channel's credit when a row's
    conversions are shared by ``phi / lift`` (``of_lift``) or by
    ``phi / P(row)`` (its incremental conversions). The sampled orders of
    journeys of size k are drawn from ``(seed, k, *stream)``."""
    phi = np.zeros(len(members.code))
    p_full = np.zeros(members.n_rows)
    sampled = np.zeros(members.n_rows, dtype=bool)
    var_c = np.zeros(members.n_channels)
    var_v = np.zeros(members.n_channels)
    for k, g in _groups(members):  # a loop over journey sizes
        if k <= max_exact:
            masks = _all_masks(k)
            W = _shapley_matrix(k)
            step = max(1, _CHUNK // (len(masks) * k))
            for lo in range(0, len(g), step):  # a loop over chunks of rows
                part = g.slice(lo, lo + step)
                v = _coalition_prob(fit, part, masks, layout)
                idx = members.offsets[part.rows][:, None] + np.arange(k)
                phi[idx] = _matmul(v - p0, W)
                p_full[part.rows] = v[:, -1]
            continue
        # Sampled: orders of the k members shared by every row of size k, drawn
        # from (seed, k); members are listed by channel code, which the model
        # makes independent of the channels' names.
        rng = np.random.default_rng([seed, k, *stream])
        orders = np.argsort(rng.random((samples, k)), axis=1)
        prefix = np.zeros((samples, k + 1, k), dtype=bool)
        ranks = np.argsort(orders, axis=1)  # position of each member in each order
        prefix[:, 1:, :] = ranks[:, None, :] < np.arange(1, k + 1)[None, :, None]
        masks = prefix.reshape(-1, k)
        step = max(1, _CHUNK // (len(masks) * k))
        x_c = np.zeros((samples, members.n_channels))
        x_v = np.zeros((samples, members.n_channels))
        for lo in range(0, len(g), step):
            part = g.slice(lo, lo + step)
            v = _coalition_prob(fit, part, masks, layout).reshape(len(part), samples, k + 1)
            gain = np.diff(v, axis=2)  # (R, samples, k): gain of the order's l-th member
            # Back to member slots: member i is at position ranks[t, i] of order t.
            per = np.take_along_axis(gain, np.broadcast_to(ranks[None], gain.shape), axis=2)
            idx = members.offsets[part.rows][:, None] + np.arange(k)
            phi[idx] = per.mean(axis=1)
            lift = v[:, 0, -1] - p0
            p_full[part.rows] = v[:, 0, -1]
            ok = lift > _TINY
            denom = lift if of_lift else v[:, 0, -1]
            scale = np.where(ok, 1.0 / np.where(ok, denom, 1.0), 0.0)
            share = per * scale[:, None, None]  # (R, samples, k)
            # Per-order credit of every channel: one bincount keyed by (order, channel).
            key = np.arange(samples)[None, :, None] * members.n_channels + part.code[:, None, :]
            size = samples * members.n_channels
            c = (share * conversions[part.rows][:, None, None]).ravel()
            x_c += np.bincount(key.ravel(), weights=c, minlength=size).reshape(samples, -1)
            v_ = (share * value[part.rows][:, None, None]).ravel()
            x_v += np.bincount(key.ravel(), weights=v_, minlength=size).reshape(samples, -1)
        sampled[g.rows] = True
        var_c += x_c.var(axis=0, ddof=1) / samples
        var_v += x_v.var(axis=0, ddof=1) / samples
    return _Credit(phi, p_full, sampled, var_c, var_v)


@dataclass(frozen=True)
class _Parts:
    """The credit of some rows in parts that add up over disjoint rows (per
    channel, in canonical codes): incremental (``phi / P(row)``) and own
    (``phi / lift``, each row adding up by itself) conversions and value, the
    baseline, the sampling variances and accounts."""

    inc_c: np.ndarray
    inc_v: np.ndarray
    own_c: np.ndarray
    own_v: np.ndarray
    base_c: float
    base_v: float
    var_c: np.ndarray
    var_v: np.ndarray
    sampled_rows: int
    sampled_conversions: float
    scale_c: float  # sum of |conversions|, |value|: what "vanishing" is measured against
    scale_v: float

    def __add__(self, other: _Parts) -> _Parts:
        return _Parts(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(_Parts)))


def _parts(sig: Signatures, credit: _Credit, p0: float) -> _Parts:
    """The :class:`_Parts` of the rows of ``sig`` from their Shapley values."""
    members = sig.members
    row, code, n = members.row, members.code, members.n_channels
    lift = credit.p_full - p0
    ok = lift > _TINY
    # What would have converted anyway: all of it when the journey adds nothing.
    base = np.where(ok, np.clip(p0 / np.maximum(credit.p_full, _TINY), 0.0, 1.0), 1.0)

    def per_channel(share: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c = np.bincount(code, weights=share * sig.conversions[row], minlength=n)
        v = np.bincount(code, weights=share * sig.value[row], minlength=n)
        return c, v

    # A row's incremental conversions per channel: conversions * phi / P(row),
    # whose expectation over the row's journeys is the channel's lift phi.
    inc_c, inc_v = per_channel(
        np.where(ok[row], credit.phi / np.maximum(credit.p_full, _TINY)[row], 0.0)
    )
    # Each row's conversions shared among its own channels by phi / lift
    # (equally when it adds nothing): every row adds up by itself.
    own_c, own_v = per_channel(
        np.where(
            ok[row],
            credit.phi / np.where(ok, lift, 1.0)[row],
            1.0 / np.maximum(members.sizes, 1)[row],
        )
    )
    return _Parts(
        inc_c,
        inc_v,
        own_c,
        own_v,
        float((base * sig.conversions).sum()),
        float((base * sig.value).sum()),
        credit.var_conversions,
        credit.var_value,
        int(credit.sampled_rows.sum()),
        float(sig.conversions[credit.sampled_rows].sum()),
        float(np.abs(sig.conversions).sum()),
        float(np.abs(sig.value).sum()),
    )


# -- cross-validation ------------------------------------------------------------------
def _split(counts: np.ndarray, folds: int, rng: np.random.Generator) -> np.ndarray:
    """Each row's ``counts`` of identical journeys dealt to ``folds`` folds at
    random, (folds, n_rows); a fractional remainder goes to one fold."""
    whole = np.floor(counts)
    dealt = rng.multinomial(whole.astype(np.int64), np.full(folds, 1.0 / folds)).T.astype(
        np.float64
    )
    extra = rng.integers(0, folds, len(counts))
    dealt[extra, np.arange(len(counts))] += counts - whole
    return dealt


def _thin(counts: np.ndarray, q: float, rng: np.random.Generator) -> np.ndarray:
    """Each of ``counts`` identical journeys kept with probability ``q``."""
    whole = np.floor(counts)
    kept = rng.binomial(whole.astype(np.int64), q).astype(np.float64)
    return kept + (counts - whole) * (rng.random(len(counts)) < q)


def _log_loss(p: np.ndarray, conversions: np.ndarray, nulls: np.ndarray) -> float:
    p = np.clip(p, 1e-15, 1 - 1e-15)
    total = float(conversions.sum() + nulls.sum())
    loss = -(conversions * np.log(p) + nulls * np.log1p(-p)).sum()
    return float(loss) / total if total > 0 else 0.0


def _calibration(
    p: np.ndarray, conversions: np.ndarray, nulls: np.ndarray, bins: int = 10
) -> list[dict[str, float]]:
    """Held-out journeys in ``bins`` groups of equal weight by predicted chance:
    mean predicted and observed conversion rate of each."""
    n = conversions + nulls
    order = np.argsort(p, kind="stable")
    cum = np.cumsum(n[order])
    if len(cum) == 0 or cum[-1] <= 0:
        return []
    group = np.minimum((cum - n[order] / 2) / cum[-1] * bins, bins - 1).astype(np.int64)
    w = np.bincount(group, weights=n[order], minlength=bins)
    pred = np.bincount(group, weights=(p * n)[order], minlength=bins)
    obs = np.bincount(group, weights=conversions[order], minlength=bins)
    return [
        {
            "journeys": float(w[b]),
            "predicted": float(pred[b] / w[b]),
            "observed": float(obs[b] / w[b]),
        }
        for b in range(bins)
        if w[b] > 0
    ]


def _calibration_line(
    p: np.ndarray, conversions: np.ndarray, nulls: np.ndarray
) -> dict[str, float | None]:
    """The recalibration line of held-out predictions: ``a`` and ``b`` of the
    logistic regression ``logit P(convert) = a + b * logit(p)`` on the held-out
    journeys, fitted by Newton's method. A calibrated model has ``a = 0`` and
    ``b = 1``; ``b < 1`` says its predictions are too spread out (over-fitted),
    ``b > 1`` too timid. None when the predictions do not vary."""
    none: dict[str, float | None] = {"calibration_intercept": None, "calibration_slope": None}
    n = conversions + nulls
    if n.sum() <= 0 or conversions.sum() <= 0 or nulls.sum() <= 0:
        return none
    q = np.clip(p, 1e-9, 1 - 1e-9)
    z = np.log(q) - np.log1p(-q)
    theta = np.array([0.0, 1.0])
    for _ in range(100):  # a loop over Newton steps
        r = expit(theta[0] + theta[1] * z)
        w = n * r * (1 - r)
        resid = conversions - n * r
        grad = np.array([resid.sum(), (resid * z).sum()])
        hess = np.array([[w.sum(), (w * z).sum()], [(w * z).sum(), (w * z * z).sum()]])
        if np.linalg.det(hess) <= 1e-12 * max(hess[0, 0] * hess[1, 1], 1e-300):
            return none
        step = np.linalg.solve(hess, grad)
        theta = theta + step
        if np.abs(step).max() < 1e-10:
            break
    if not np.isfinite(theta).all():
        return none
    return {"calibration_intercept": float(theta[0]), "calibration_slope": float(theta[1])}


# -- the model -----------------------------------------------------------------------
def _canonical_order(journeys: Journeys) -> np.ndarray:
    """Channels ordered by what the data says of them (touches, conversions,
    value, first and last touches, the lengths of the journeys and the
    positions they are touched at; ties by name): renaming channels does not
    change it.

    The order must separate every two channels that are not alike: the fit
    is the same problem whatever the order, but rounding differs with it, and
    a flat likelihood (a handful of conversions) turns that into credit that
    differs in the ninth digit.
    """
    n = journeys.n_channels
    row = journeys.row_of_touch
    weight = journeys.conversions + journeys.nulls
    w = weight[row]
    lengths = journeys.lengths.astype(np.float64)
    rows = np.flatnonzero(journeys.lengths > 0)
    first = journeys.codes[journeys.offsets[rows]]
    last = journeys.codes[journeys.offsets[rows + 1] - 1]
    stats = [
        np.bincount(journeys.codes, weights=x, minlength=n)
        for x in (
            w,
            journeys.conversions[row],
            journeys.value[row],
            w * lengths[row],
            w * journeys.position,
            np.ones(len(row)),
        )
    ]
    stats += [
        np.bincount(first, weights=weight[rows], minlength=n),
        np.bincount(last, weights=weight[rows], minlength=n),
        np.bincount(last, weights=journeys.conversions[rows], minlength=n),
    ]
    # lexsort: the last key is the first to sort by; the name (code) breaks ties
    return np.lexsort((np.arange(n), *[-np.round(s, 9) for s in stats[::-1]]))


def _one_blas_thread() -> contextlib.AbstractContextManager[Any]:
    """BLAS limited to one thread, when threadpoolctl is installed.

    Since SciPy 1.15, L-BFGS-B calls BLAS on vectors of a few hundred numbers;
    a multi-threaded OpenBLAS then spends more time waking its threads than
    computing, two to three times the whole fit on a busy machine. Without
    threadpoolctl the fit runs as it is (``OPENBLAS_NUM_THREADS=1`` does the same).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _check(model: str, key: str, value: Any, ok: bool, allowed: str) -> None:
    if not ok:
        raise ModelError(f"{model}: parameter '{key}' got {value!r}; expected {allowed}")


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


class DataDriven(Model):
    """Data-driven attribution: fit P(conversion | journey), credit each channel
    its Shapley share of the fitted lift over no touch.

    The chance of converting is fitted on converting and null journeys from
    the channels each journey touched, how often (log counts), which channel
    had the first and the last touch, the days from each channel's last touch
    to the journey's last touch (binned, when times are known) and which pairs
    of channels it touched together. The default estimator is a ridge-penalised
    binary regression fitted by L-BFGS on the distinct rows of these features,
    weighted by their conversions and nulls; the penalty is chosen by
    cross-validation, whose held-out log-loss and calibration ``details()``
    reports (and with ``crossfit``, each journey is credited by a model fitted
    without it). A converting journey's lift ``P(journey) - P(no touch)`` is
    shared among its distinct channels by the Shapley value of the fitted
    function over coalitions of channels (a coalition keeps its channels'
    touches), exact up to ``max_exact`` channels and sampled beyond.

    A channel's **incremental** credit from a converting row is the row's
    conversions (and value) times ``phi_c / P(row)``: over the row's journeys
    its expectation is ``phi_c``, the channel's Shapley share of the lift, so
    its sum over rows estimates the channel's part of the conversions the
    touches caused. The rest of the row, ``P(no touch) / P(row)``, would have
    converted anyway. ``baseline`` says where that rest goes:

    ``spread`` (default)
        to every channel in proportion to its incremental credit (conversions
        and value separately): each channel's credit is its incremental
        credit times one factor (``details()["spread_factor"]``), so the
        credit adds up to all the conversions and value while the channel
        shares are the incremental ones, which are what the simulated truths
        of ``benchmarks/truth.py`` measure.
    ``journey``
        to the row's own channels, in proportion to their Shapley values:
        each row's conversions are shared by ``phi_c / lift``. Every row then
        adds up by itself, but a journey that would mostly have converted
        anyway weighs ``1 / (1 - P(no touch) / P(row))`` times too much, so
        channels seen on weak journeys (and zero-effect channels touched in
        converting journeys) are over-credited.
    ``row`` (or true)
        to a ``(baseline)`` row; the channels keep their incremental credit.

    Parameters
    ----------
    link : {"hazard", "logit"}
        ``hazard`` (default): ``p = 1 - exp(-H)`` with a hazard ``H`` that is
        linear in the features, a noisy-OR-like form that identifies the
        chance with no touch from short journeys. ``logit``: logistic regression.
    penalty : float or "cv"
        Ridge penalty (prior precision per coefficient); ``cv`` (default)
        chooses it among the estimator's candidates by ``folds``-fold
        cross-validation.
    folds : int
        Folds of the cross-validation (>= 2). Default 3.
    interactions : bool
        Features for pairs of channels touched together. Default True.
    positions : bool
        Features for the channels of the first and the last touch. Default True.
    times : bool
        Recency features when the journeys have touch times. Default True.
    monotone : bool
        Touching a channel, or touching it more often, never lowers the
        fitted chance (non-negative presence and count coefficients). Default True.
    max_exact : int
        Journeys of more distinct channels than this get a sampled Shapley
        value (``samples`` random orders). Default 12.
    samples : int
        Random orders for the sampled journeys. Default 1000.
    seed : int
        Seed of the folds and of the sampled orders. Default 0.
    baseline : {"spread", "journey", "row"} or bool
        Where the conversions and value the model says would have happened
        with no touch go (see above): ``spread`` (default; false means the
        same), ``journey``, or ``row`` (true means the same): a ``(baseline)``
        row, the channels then keeping only the incremental part.
    crossfit : bool
        Credit each journey by a model that did not see it: the journeys of
        every distinct row are dealt to ``folds`` folds (seeded), and each
        fold is credited by the model fitted, with the chosen penalty, on the
        others; ``details()["crossfit"]`` gives the folds' chances with no
        touch and their out-of-fold scores. Costs ``folds`` more fits. Default False.

    References
    ----------
    X. Shao and L. Li, "Data-driven multi-touch attribution models", KDD 2011.
    B. Dalessandro, C. Perlich, O. Stitelman and F. Provost, "Causally
    motivated attribution for online advertising", ADKDD 2012.
    S. M. Lundberg and S.-I. Lee, "A unified approach to interpreting model
    predictions", NeurIPS 2017.
    Google, "Data-driven attribution methodology", Google Ads and Analytics Help.
    """

    name = "data_driven"
    description = "Fitted P(conversion | journey); each channel gets its Shapley share of the lift."
    allows_negative = True
    uses_times = True  # recency features when the journeys have touch times
    combine = "paths"  # one fit on all journeys; it never adds up across customers

    def __init__(
        self,
        *,
        link: Literal["hazard", "logit"] = "hazard",
        penalty: float | Literal["cv"] = "cv",
        folds: int = 3,
        interactions: bool = True,
        positions: bool = True,
        times: bool = True,
        monotone: bool = True,
        max_exact: int = 12,
        samples: int = 1000,
        seed: int = 0,
        baseline: bool | Literal["spread", "journey", "row"] = "spread",
        crossfit: bool = False,
    ) -> None:
        self.link = link
        self.penalty = penalty
        self.folds = folds
        self.interactions = interactions
        self.positions = positions
        self.times = times
        self.monotone = monotone
        self.max_exact = max_exact
        self.samples = samples
        self.seed = seed
        self.baseline = baseline
        self.crossfit = crossfit

    def _validate(self) -> None:
        name = self.name
        _check(name, "link", self.link, self.link in LINKS, f"one of {list(LINKS)}")
        p = self.penalty
        _check(
            name,
            "penalty",
            p,
            p == "cv" or (isinstance(p, (int, float)) and not isinstance(p, bool) and p >= 0),
            "'cv' or a number >= 0",
        )
        _check(
            name, "folds", self.folds, _is_int(self.folds) and self.folds >= 2, "an integer >= 2"
        )
        for key in ("interactions", "positions", "times", "monotone", "crossfit"):
            v = getattr(self, key)
            _check(name, key, v, isinstance(v, bool), "true or false")
        b = self.baseline
        ok = isinstance(b, bool) or (isinstance(b, str) and b in BASELINES)
        _check(name, "baseline", b, ok, f"one of {list(BASELINES)}, true (row) or false (spread)")
        ok = _is_int(self.max_exact) and 1 <= self.max_exact <= 20
        _check(name, "max_exact", self.max_exact, ok, "an integer from 1 to 20")
        _check(
            name,
            "samples",
            self.samples,
            _is_int(self.samples) and self.samples >= 2,
            "an integer >= 2",
        )
        _check(name, "seed", self.seed, _is_int(self.seed) and self.seed >= 0, "an integer >= 0")

    @property
    def baseline_rule(self) -> str:
        """``baseline`` as one of :data:`BASELINES` (true is ``row``, false ``spread``)."""
        b = self.baseline
        if isinstance(b, bool):
            return "row" if b else "spread"
        return str(b)

    def make_estimator(self) -> Estimator:
        """The estimator of P(conversion | journey); override to plug in another."""
        return PenalisedGLM(link=self.link, monotone=self.monotone)

    # -- the run ------------------------------------------------------------------
    def fit(self, journeys: Journeys) -> DataDriven:
        """Fit P(conversion | journey) on ``journeys`` without crediting them;
        sets ``fit_``, ``p_no_touch_`` and the cross-validation scores ``cv_``.

        Requires at least one conversion.
        """
        self._validate()
        self._reset()
        self._prepare(journeys)
        return self

    def _prepare(self, journeys: Journeys, *, keep_design: bool = False) -> None:
        n = journeys.n_channels
        # Work on channels recoded in an order the data gives them, so that
        # renaming channels changes nothing (folds and sampled orders included).
        order = _canonical_order(journeys)
        recode = np.empty(n, dtype=np.uint32)
        recode[order] = np.arange(n, dtype=np.uint32)
        work = replace(journeys, codes=recode[journeys.codes])
        sig = signatures(members_of(work, times=self.times), work)
        layout = Layout(n, sig.members.n_bins, self.interactions, self.positions)
        design = Design(design_matrix(sig.members, layout), layout)
        with _one_blas_thread():
            self.fit_ = self._fit(design, sig.conversions, sig.nulls)
        self.p_no_touch_ = float(self.fit_.predict(sparse.csr_array((1, layout.n_features)))[0])
        self.layout_ = layout
        self.recode_ = recode
        self.channel_order_ = [journeys.channels[c] for c in order]
        self.signatures_ = sig
        if keep_design:
            self.design_ = design
        self.rows_ = int(sig.members.n_rows)
        self.total_conversions_ = journeys.total_conversions

    def attribute(self, journeys: Journeys) -> pl.DataFrame:
        self._validate()
        self._reset()
        if journeys.n_rows == 0 or journeys.total_conversions <= 0:
            return self._frame(journeys, *_equal_split(journeys), 0.0, 0.0)
        journeys = _without_empty_rows(journeys)
        conv, val, _ = self._run(journeys)
        del self.signatures_  # the data itself is not kept on the model
        # Back from the canonical codes to the journeys' own.
        recode = self.recode_
        return self._frame(
            journeys, conv[recode], val[recode], self.baseline_conversions_, self.baseline_value_
        )

    def _run(self, journeys: Journeys) -> tuple[np.ndarray, np.ndarray, _Credit | None]:
        """Fit and credit ``journeys`` (with conversions, no empty row): the
        channel credit in canonical codes, and the Shapley values of the full
        fit (None when cross-fitted); keeps ``signatures_``."""
        self._prepare(journeys, keep_design=self.crossfit)
        sig = self.signatures_
        full: _Credit | None = None
        if self.crossfit:
            parts = self._crossfit(sig)
        else:
            full = self._shapley(self.fit_, sig, self.p_no_touch_)
            parts = _parts(sig, full, self.p_no_touch_)
        conv, val, spread_c, spread_v = self._combine(
            parts, float(sig.conversions.sum()), float(sig.value.sum())
        )
        self.baseline_conversions_ = parts.base_c
        self.baseline_value_ = parts.base_v
        self.spread_ = (spread_c, spread_v)
        self.sampled_rows_ = parts.sampled_rows
        self.sampled_conversions_ = parts.sampled_conversions
        # The spread factors are not sampled: every sampled order's gains add
        # up to the row's lift, so the total incremental credit is exact.
        self.standard_error_ = {
            self.channel_order_[c]: {
                "conversions": float(spread_c * np.sqrt(parts.var_c[c])),
                "value": float(abs(spread_v) * np.sqrt(parts.var_v[c])),
            }
            for c in np.flatnonzero(parts.var_c + parts.var_v > 0)
        }
        return conv, val, full

    # issue 17: the per-conversion grain
    def attribute_rows(self, journeys: Journeys) -> RowCredit:
        """Each converting row's credit by channel (the
        :class:`~attribution.capabilities.PerConversion` capability).

        Fits and credits ``journeys`` as :meth:`attribute` does (the same
        numbers: it is deterministic). Each row is shared among its own
        channels by their Shapley values of the full fit (``phi / lift``,
        equally when the journey adds nothing): with ``baseline=journey``
        (not cross-fitted) that is the model's own credit and adds up to its
        channel totals exactly. Otherwise (``spread``, ``crossfit``) the
        shares are rescaled by one factor per channel, fitted by iterative
        proportional fitting, so that the channel totals come to the model's
        (the engine reports any gap): each row still adds up to its
        conversions and value. ``baseline=row`` has no per-conversion split,
        since its ``(baseline)`` row is no channel of any journey.
        """
        self._validate()
        self._reset()
        if self.baseline_rule == "row":
            raise ModelError(
                f"{self.name}: baseline=row has no per-conversion split (its (baseline) row "
                "is no channel of a journey); use baseline=spread or baseline=journey"
            )
        if journeys.n_rows == 0 or journeys.total_conversions <= 0:
            members = members_of(journeys, times=False)
            share = 1.0 / np.maximum(members.sizes, 1)[members.row]
            return _row_credit(journeys, members, np.arange(journeys.n_rows), share, None)
        kept = np.flatnonzero((journeys.conversions != 0) | (journeys.nulls != 0))
        work = _without_empty_rows(journeys)
        conv, val, full = self._run(work)
        sig = self.signatures_
        del self.signatures_
        if full is None:  # cross-fitted: the rows are shared by the full fit's values
            full = self._shapley(self.fit_, sig, self.p_no_touch_)
        members = sig.members
        lift = full.p_full - self.p_no_touch_
        ok = lift > _TINY
        seed = np.where(
            ok[members.row],
            full.phi / np.where(ok, lift, 1.0)[members.row],
            1.0 / np.maximum(members.sizes, 1)[members.row],
        )
        split = None
        seed_c = seed_v = seed
        if self.baseline_rule != "journey" or self.crossfit:
            seed_c = _proportional_fit(members, seed, sig.conversions, conv)
            seed_v = _proportional_fit(members, seed, sig.value, val)
            split = (
                "each journey's conversions shared by its channels' Shapley values, "
                "rescaled per channel to the model's totals"
            )
        # Rows of the journeys, their group's members, back in the journeys' codes.
        assert sig.group is not None
        group = sig.group
        rows = np.flatnonzero((work.conversions != 0) | (work.value != 0))
        sizes = members.sizes[group[rows]]
        idx = ranges(members.offsets[:-1][group[rows]], sizes)
        row = np.repeat(rows, sizes)
        inverse = np.argsort(self.recode_)
        return RowCredit(
            kept[row].astype(np.int64),
            inverse[members.code[idx]].astype(np.uint32),
            seed_c[idx] * work.conversions[row],
            seed_v[idx] * work.value[row],
            split=split,
        )

    def _shapley(
        self, fit: Fit, sig: Signatures, p0: float, stream: tuple[int, ...] = ()
    ) -> _Credit:
        """The Shapley values of the rows of ``sig`` under ``fit``."""
        return _shapley_of_lift(
            fit,
            sig.members,
            self.layout_,
            p0,
            conversions=sig.conversions,
            value=sig.value,
            max_exact=self.max_exact,
            samples=self.samples,
            seed=self.seed,
            of_lift=self.baseline_rule == "journey",
            stream=stream,
        )

    def _crossfit(self, sig: Signatures) -> _Parts:
        """Cross-fitted credit: each distinct row's journeys dealt to ``folds``
        folds (seeded), each fold credited by the model fitted, with the chosen
        penalty, on the other folds; sets ``crossfit_`` with the folds' chances
        with no touch and the scores of their out-of-fold predictions."""
        design = self.design_
        del self.design_
        folds = self.folds
        rng = np.random.default_rng([self.seed, 1])  # a stream apart from the CV's
        held_c = _split(sig.conversions, folds, rng)
        held_n = _split(sig.nulls, folds, rng)
        # Value goes with the conversions (a row with value but no conversion: one fold).
        lone = np.zeros_like(held_c)
        lone[rng.integers(0, folds, sig.members.n_rows), np.arange(sig.members.n_rows)] = 1.0
        has = sig.conversions > 0
        held_v = np.where(has, held_c / np.where(has, sig.conversions, 1.0), lone) * sig.value
        penalty = float(typing.cast(float, self.cv_["penalty"] if self.cv_ else self.penalty))
        estimator = self.make_estimator()
        no_touch = sparse.csr_array((1, self.layout_.n_features))
        preds = np.zeros_like(held_c)
        p0s = []
        total: _Parts | None = None
        for f in range(folds):  # a loop over folds
            with _one_blas_thread():
                fit = estimator.fit(
                    design,
                    sig.conversions - held_c[f],
                    sig.nulls - held_n[f],
                    penalty=penalty,
                    start=self.fit_,
                )
            p0 = float(fit.predict(no_touch)[0])
            p0s.append(p0)
            preds[f] = fit.predict(design.X)
            rows = np.flatnonzero((held_c[f] > 0) | (held_v[f] != 0))
            part = Signatures(
                sig.members.take(rows), held_c[f][rows], held_v[f][rows], held_n[f][rows]
            )
            credit = _parts(part, self._shapley(fit, part, p0, stream=(f + 1,)), p0)
            total = credit if total is None else total + credit
        assert total is not None  # folds >= 2
        flat, pooled_c, pooled_n = preds.ravel(), held_c.ravel(), held_n.ravel()
        self.crossfit_ = {
            "folds": folds,
            "penalty": penalty,
            "p_no_touch": p0s,
            "log_loss": _log_loss(flat, pooled_c, pooled_n),
            "calibration": _calibration(flat, pooled_c, pooled_n),
            **_calibration_line(flat, pooled_c, pooled_n),
        }
        return total

    def _combine(
        self, parts: _Parts, total_c: float, total_v: float
    ) -> tuple[np.ndarray, np.ndarray, float, float]:
        """Channel credit (conversions, value) by the ``baseline`` rule, and the
        factors by which ``spread`` scaled the incremental credit (1 for the
        other rules)."""
        rule = self.baseline_rule
        if rule == "row":
            return parts.inc_c, parts.inc_v, 1.0, 1.0
        if rule == "journey":
            return parts.own_c, parts.own_v, 1.0, 1.0
        # spread: the baseline conversions go to every channel in proportion
        # to its incremental credit, which scales that credit up to the total.
        # Where there is no incremental credit to scale, the rows' own split.
        f_c = _spread_factor(total_c, float(parts.inc_c.sum()), parts.scale_c)
        f_v = _spread_factor(total_v, float(parts.inc_v.sum()), parts.scale_v)
        conv = parts.inc_c * f_c if f_c else parts.own_c
        val = parts.inc_v * f_v if f_v else parts.own_v
        return conv, val, f_c or 1.0, f_v or 1.0

    def _reset(self) -> None:
        for key in [k for k in vars(self) if k.endswith("_")]:
            delattr(self, key)

    def _frame(
        self, journeys: Journeys, conv: np.ndarray, val: np.ndarray, base_c: float, base_v: float
    ) -> pl.DataFrame:
        frame = credit_frame(journeys, conv, val)
        if self.baseline_rule == "row":
            row = pl.DataFrame(
                {"channel": ["(baseline)"], "conversions": [base_c], "value": [base_v]},
                schema=frame.schema,
            )
            frame = pl.concat([frame, row])
        return frame

    def _fit(self, design: Design, conversions: np.ndarray, nulls: np.ndarray) -> Fit:
        estimator = self.make_estimator()
        if self.penalty != "cv":
            self.cv_ = None
            return estimator.fit(design, conversions, nulls, penalty=float(self.penalty))
        rng = np.random.default_rng(self.seed)
        # The best prior precision does not grow with the data, so on large
        # inputs it is chosen on a thinned sample of the journeys.
        cv_design, cv_c, cv_n = design, conversions, nulls
        total = float(conversions.sum() + nulls.sum())
        if total > CV_JOURNEYS:
            q = CV_JOURNEYS / total
            cv_c, cv_n = _thin(conversions, q, rng), _thin(nulls, q, rng)
            keep = np.flatnonzero(cv_c + cv_n > 0)
            cv_design = Design(sparse.csr_array(design.X[keep]), design.layout)
            cv_c, cv_n = cv_c[keep], cv_n[keep]
        held_c = _split(cv_c, self.folds, rng)
        held_n = _split(cv_n, self.folds, rng)
        penalties = list(estimator.penalties)
        scores = np.zeros((len(penalties), self.folds))
        preds = np.zeros((len(penalties), self.folds, len(cv_c)))
        fits: list[list[Fit]] = []
        for i, pen in enumerate(penalties):  # a loop over candidate penalties, strongest first
            fits.append([])
            for f in range(self.folds):  # and folds, each starting where it stopped
                fold_fit = estimator.fit(
                    cv_design,
                    cv_c - held_c[f],
                    cv_n - held_n[f],
                    penalty=pen,
                    start=fits[i - 1][f] if i else None,
                    quick=True,
                )
                fits[i].append(fold_fit)
                preds[i, f] = fold_fit.predict(cv_design.X)
                scores[i, f] = _log_loss(preds[i, f], held_c[f], held_n[f])
        best = int(np.argmin(scores.mean(axis=1)))
        # Held-out predictions of every journey, pooled over the folds.
        flat = preds[best].ravel()
        pooled_c, pooled_n = held_c.ravel(), held_n.ravel()
        rate = float(cv_c.sum() / (cv_c.sum() + cv_n.sum()))
        ratio = (flat * (pooled_c + pooled_n)).sum() / pooled_c.sum() if pooled_c.sum() else None
        self.cv_ = {
            "folds": self.folds,
            "journeys": float(cv_c.sum() + cv_n.sum()),
            "penalties": [float(p) for p in penalties],
            "held_out_log_loss": [float(s) for s in scores.mean(axis=1)],
            "penalty": float(penalties[best]),
            "log_loss": _log_loss(flat, pooled_c, pooled_n),
            "log_loss_constant_rate": _log_loss(np.full(len(flat), rate), pooled_c, pooled_n),
            "predicted_over_observed": None if ratio is None else float(ratio),
            "calibration": _calibration(flat, pooled_c, pooled_n),
            **_calibration_line(flat, pooled_c, pooled_n),
        }
        return estimator.fit(
            design, conversions, nulls, penalty=penalties[best], start=fits[best][0]
        )

    # -- reporting ----------------------------------------------------------------
    def details(self) -> dict[str, Any]:
        if not hasattr(self, "fit_"):
            return {}
        total = self.total_conversions_
        out: dict[str, Any] = {
            "link": self.link,
            "distinct_rows": self.rows_,
            "features": self.layout_.n_features,
            "p_no_touch": self.p_no_touch_,
            "cross_validation": self.cv_,
            "crossfit": getattr(self, "crossfit_", None),
            "coefficients": self._coefficients(),
        }
        if isinstance(self.fit_, GLMFit):
            out["converged"] = self.fit_.converged
        if hasattr(self, "baseline_conversions_"):  # credited, not only fitted
            out.update(
                baseline=self.baseline_rule,
                spread_factor={"conversions": self.spread_[0], "value": self.spread_[1]},
                baseline_conversions=self.baseline_conversions_,
                baseline_value=self.baseline_value_,
                baseline_share=self.baseline_conversions_ / total if total > 0 else 0.0,
                sampled_rows=self.sampled_rows_,
                sampled_conversions=self.sampled_conversions_,
                samples=self.samples if self.sampled_rows_ else 0,
                standard_error=self.standard_error_,
            )
        return out

    def _coefficients(self) -> dict[str, Any]:
        fit = self.fit_
        if not isinstance(fit, LinearFit):
            return fit.summary()
        layout = self.layout_
        names = self.channel_order_
        n = layout.n_channels
        coef = fit.coef
        out: dict[str, Any] = {"intercept": float(fit.intercept)}
        if isinstance(fit, GLMFit):
            out["presence"] = {names[c]: float(fit.effect[c]) for c in range(n)}
            if layout.n_bins:
                labels = _bin_labels()
                out["decay"] = {labels[b]: float(fit.decay[b]) for b in range(layout.width)}
        else:
            w = layout.width
            block = coef[: n * w].reshape(n, w)
            out["presence"] = {names[c]: block[c].tolist() for c in range(n)}
        for name in ("log_count", "first", "last"):
            start = getattr(layout, name)
            out[name] = {names[c]: float(coef[start + c]) for c in range(n)}
        if layout.n_pairs:
            a, b = np.triu_indices(n, 1)
            cols = layout.pair_column(a, b)
            nz = np.flatnonzero(coef[cols] != 0)
            out["pairs"] = {f"{names[a[i]]}+{names[b[i]]}": float(coef[cols[i]]) for i in nz}
        return out

    def notes(self) -> list[str]:
        if not getattr(self, "sampled_rows_", 0):
            return []
        return [
            f"{self.sampled_conversions_:g} conversions (in {self.sampled_rows_} distinct "
            f"journeys of more than max_exact={self.max_exact} channels) were credited by a "
            f"sampled Shapley value ({self.samples} orders, seed {self.seed}); --details "
            "gives the standard errors"
        ]


def no_touch_rate(journeys: Journeys, *, seed: int = 0) -> float:
    """The chance of converting with no touch, estimated from ``journeys``:
    ``p_no_touch_`` of the default :class:`DataDriven` fitted to them (0
    when there is no conversion)."""
    if journeys.n_rows == 0 or journeys.total_conversions <= 0:
        return 0.0
    return DataDriven(seed=seed).fit(journeys).p_no_touch_


def _without_empty_rows(journeys: Journeys) -> Journeys:
    """``journeys`` without the rows that stand for no journey (a bootstrap
    replicate's): they weigh nothing."""
    empty = (journeys.conversions == 0) & (journeys.nulls == 0)
    return journeys.select(~empty) if empty.any() else journeys


def _proportional_fit(
    members: Members, seed: np.ndarray, mass: np.ndarray, target: np.ndarray
) -> np.ndarray:
    """Shares of every group's members (adding up to 1 per group) proportional
    to ``seed * b[code]`` (negative seeds count as 0), with one factor ``b``
    per channel fitted so that ``sum(mass * share)`` per channel comes as
    close to ``target`` as it can (iterative proportional fitting; a loop over
    steps). A group whose members all weigh 0 is shared equally."""
    row, code, n = members.row, members.code, members.n_channels
    w0 = np.maximum(seed, 0.0)
    size = np.maximum(members.sizes, 1).astype(np.float64)

    def normalised(w: np.ndarray) -> np.ndarray:
        total = np.bincount(row, weights=w, minlength=members.n_rows)
        ok = total > 0
        return np.where(ok[row], w / np.where(ok, total, 1.0)[row], 1.0 / size[row])

    goal = np.maximum(np.asarray(target, dtype=np.float64), 0.0)
    scale = max(float(np.abs(goal).sum()), 1e-300)
    b = np.ones(n)
    share = normalised(w0)
    for _ in range(1000):  # a loop over fitting steps
        got = np.bincount(code, weights=share * mass[row], minlength=n)
        if np.abs(got - goal).sum() <= 1e-12 * scale:
            break
        b = b * np.where(got > 0, goal / np.where(got > 0, got, 1.0), 1.0)
        top = b.max()
        if not np.isfinite(top) or top <= 0:
            break
        # Only the ratios of the factors matter: keep them bounded, so that a
        # total no split can reach (the fit then stops at the closest) cannot
        # overflow them.
        b = np.clip(b / top, 1e-300, None) * (b > 0)
        share = normalised(w0 * b[code])
    return share


def _row_credit(
    journeys: Journeys, members: Members, rows: np.ndarray, share: np.ndarray, split: str | None
) -> RowCredit:
    """Entries of ``rows`` of ``members`` (one row each of ``journeys``) that
    have conversions or value, each member's ``share`` of its row."""
    rows = rows[(journeys.conversions[rows] != 0) | (journeys.value[rows] != 0)]
    idx = ranges(members.offsets[:-1][rows], members.sizes[rows])
    row = members.row[idx]
    return RowCredit(
        row.astype(np.int64),
        members.code[idx].astype(np.uint32),
        share[idx] * journeys.conversions[row],
        share[idx] * journeys.value[row],
        split=split,
    )


def _spread_factor(total: float, incremental: float, scale: float) -> float:
    """``total / incremental`` when the incremental credit can carry the total
    (same sign, not vanishing against ``scale``), else 0."""
    if abs(incremental) <= 1e-9 * max(scale, 1e-300) or total / incremental <= 0:
        return 0.0
    return total / incremental


def _bin_labels() -> list[str]:
    edges = (0.0, *RECENCY_EDGES)
    labels = [f"{lo:g}-{hi:g}d" for lo, hi in itertools.pairwise(edges)]
    return [*labels, f">={edges[-1]:g}d"]


def _equal_split(journeys: Journeys) -> tuple[np.ndarray, np.ndarray]:
    """Each row's conversions and value shared equally among its distinct channels
    (used when nothing can be fitted: no conversion at all)."""
    n = journeys.n_channels
    if journeys.n_rows == 0:
        return np.zeros(n), np.zeros(n)
    members = members_of(journeys, times=False)
    row = members.row
    share = 1.0 / members.sizes[row]
    conv = np.bincount(members.code, weights=share * journeys.conversions[row], minlength=n)
    val = np.bincount(members.code, weights=share * journeys.value[row], minlength=n)
    return conv, val
