"""Shapley value models: the conversion-rate game of each channel set, closed forms and order."""

from __future__ import annotations

import itertools
import math
import typing
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import polars as pl

from attribution import progress
from attribution.arrays import csr_offsets, distinct, ranges, unique_runs
from attribution.capabilities import RowCredit
from attribution.constraints import Constraints, Integral, Interval, Options, Real
from attribution.journeys import Journeys
from attribution.model import Model, credit_frame

__all__ = ["ChannelSets", "OrderedShapley", "Shapley", "channel_sets", "shapley_values"]

Characteristic = Literal["conversion_rate", "subset_conversions", "subset_rates"]
CHARACTERISTICS: tuple[str, ...] = typing.get_args(Characteristic)

# Above this many channels a set no longer fits one uint64 bitmask.
_MASK_CHANNELS = 63
# Up to 2**20 possible masks the distinct sets are found with a bincount, not a sort.
_DENSE_MASK_CHANNELS = 20
# Up to this many (row, channel) cells, touches are counted per cell without sorting.
_DENSE_PAIRS = 1 << 24
# Elements per temporary array when candidate pairs or sampled permutations are expanded.
_CHUNK = 1 << 22


# -- distinct channel sets -------------------------------------------------
@dataclass(frozen=True)
class ChannelSets:
    """The distinct sets of channels that journeys touch, with their counts.

    Set ``k`` has the members ``codes[offsets[k]:offsets[k + 1]]`` in ascending
    order; sets come in a canonical order that depends on the channel codes
    only, never on the order of the journeys.

    Attributes
    ----------
    n_channels : int
    offsets : ndarray of int64, shape (n_sets + 1,)
    codes : ndarray of int64, shape (sum of set sizes,)
    conversions, value, nulls : ndarray of float64, shape (n_sets,)
        Totals of the journeys whose set of distinct channels is exactly set ``k``.
    row_set : ndarray of int64, shape (n_rows,)
        Set of every journey row.
    """

    n_channels: int
    offsets: np.ndarray
    codes: np.ndarray
    conversions: np.ndarray
    value: np.ndarray
    nulls: np.ndarray
    row_set: np.ndarray

    @property
    def n_sets(self) -> int:
        return len(self.offsets) - 1

    @property
    def sizes(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def member_set(self) -> np.ndarray:
        """Set index of every entry of ``codes``."""
        return np.repeat(np.arange(self.n_sets, dtype=np.int64), self.sizes)

    @property
    def member_keys(self) -> np.ndarray:
        """``set * n_channels + code`` of every member: ascending, so searchable."""
        return self.member_set * max(self.n_channels, 1) + self.codes

    @property
    def rate(self) -> np.ndarray:
        """Conversion rate of each exact set (0 where it stands for no journey)."""
        seen = self.conversions + self.nulls
        return np.divide(self.conversions, seen, out=np.zeros_like(seen), where=seen > 0)


def channel_sets(journeys: Journeys) -> ChannelSets:
    """Group journeys by their set of distinct channels.

    Sets of up to 63 channels are uint64 bitmasks; with more channels sets are
    grouped by a hash of their channels and checked member by member, so that
    grouping stays exact.
    """
    n_ch = journeys.n_channels
    if journeys.n_rows == 0:
        z = np.zeros(0)
        empty = np.zeros(0, dtype=np.int64)
        return ChannelSets(n_ch, np.zeros(1, np.int64), empty, z, z.copy(), z.copy(), empty)
    if n_ch <= _MASK_CHANNELS:
        row_set, offsets, codes = _sets_by_mask(journeys)
    else:
        row_set, offsets, codes = _sets_by_hash(journeys)
    k = len(offsets) - 1

    def total(w: np.ndarray) -> np.ndarray:
        return np.bincount(row_set, weights=w, minlength=k)

    return ChannelSets(
        n_ch,
        offsets,
        codes,
        total(journeys.conversions),
        total(journeys.value),
        total(journeys.nulls),
        row_set,
    )


def _sets_by_mask(journeys: Journeys) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n_ch = journeys.n_channels
    bits = np.left_shift(np.uint64(1), journeys.codes.astype(np.uint64))
    masks = np.bitwise_or.reduceat(bits, journeys.offsets[:-1])
    if n_ch <= _DENSE_MASK_CHANNELS:
        seen = np.bincount(masks.astype(np.int64), minlength=1 << n_ch) > 0
        uniq = np.flatnonzero(seen).astype(np.uint64)
        row_set = (np.cumsum(seen) - 1)[masks.astype(np.int64)]
    else:
        uniq, row_set = np.unique(masks, return_inverse=True)
    member = (uniq[:, None] >> np.arange(n_ch, dtype=np.uint64)) & np.uint64(1)
    member = member.astype(bool)
    codes = np.nonzero(member)[1].astype(np.int64)
    return row_set.astype(np.int64), csr_offsets(member.sum(axis=1)), codes


def _distinct_touches(
    journeys: Journeys,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (row, code) pairs sorted by row then code, each one's touch count,
    and for every touch the index of its pair."""
    n_ch = max(journeys.n_channels, 1)
    keys = journeys.row_of_touch * n_ch + journeys.codes.astype(np.int64)
    if journeys.n_rows * n_ch <= _DENSE_PAIRS:
        # Few enough (row, code) cells to count them all: no sort at all.
        dense = np.bincount(keys, minlength=journeys.n_rows * n_ch)
        cells = np.flatnonzero(dense)
        index = np.cumsum(dense > 0) - 1
        return cells // n_ch, cells % n_ch, dense[cells], index[keys]
    uniq, of_touch, counts = unique_runs(keys)  # keys run sorted row by row
    return uniq // n_ch, uniq % n_ch, counts, of_touch


def _sets_by_hash(journeys: Journeys) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sets of any number of channels, grouped by a hash and checked member by member.

    A set's hash is the sum (mod 2**64) of a fixed random number per channel
    (Zobrist hashing), so sets come in the order of their hashes, which
    depends on the channel codes only. Rows that share a hash are compared
    with their set's first row; should two different sets ever share one
    (about 1e-8 over a million sets), they are grouped exactly by their
    bitmasks instead.
    """
    rows, codes, _, _ = _distinct_touches(journeys)
    n = journeys.n_rows
    dlen = np.bincount(rows, minlength=n)
    doff = csr_offsets(dlen)
    zobrist = _zobrist(journeys.n_channels)
    # Every row has a touch, so reduceat's segments are never empty.
    hashes = np.add.reduceat(zobrist[codes], doff[:-1])
    _, first_row, row_set = np.unique(hashes, return_index=True, return_inverse=True)
    rep = first_row[row_set]
    same = dlen[rep] == dlen
    if same.all():
        same = codes[ranges(doff[rep], dlen)] == codes[ranges(doff[:-1], dlen)]
    if not same.all():
        row_set, first_row = _sets_by_masks(codes, doff, journeys.n_channels)
    sizes = dlen[first_row]
    set_codes = codes[ranges(doff[first_row], sizes)]
    return row_set.astype(np.int64), csr_offsets(sizes), set_codes.astype(np.int64)


def _zobrist(n_channels: int) -> np.ndarray:
    """A fixed random 64-bit number per channel code (seeded: the same every run)."""
    return np.random.default_rng(0).integers(0, 2**64, n_channels, dtype=np.uint64)


def _sets_by_masks(
    codes: np.ndarray, doff: np.ndarray, n_channels: int
) -> tuple[np.ndarray, np.ndarray]:
    """Set of every row and a row of each set, from bitmasks of several 64-bit words
    (exact, slower): the fallback of :func:`_sets_by_hash`."""
    word = codes // 64
    bit = np.left_shift(np.uint64(1), (codes % 64).astype(np.uint64))
    names = [f"w{w}" for w in range((n_channels + 63) // 64)]
    masks = {
        name: np.bitwise_or.reduceat(np.where(word == w, bit, np.uint64(0)), doff[:-1])
        for w, name in enumerate(names)  # a loop over words of 64 channels
    }
    rank = pl.DataFrame(masks).select(pl.struct(names[::-1]).rank("dense")).to_series()
    row_set = rank.to_numpy().astype(np.int64) - 1
    first_row = np.empty(int(row_set.max()) + 1, dtype=np.int64)
    first_row[row_set] = np.arange(len(row_set))  # any row of a set will do
    return row_set, first_row


# -- seen subsets ------------------------------------------------------------
@dataclass(frozen=True)
class _Pairs:
    """Pairs (u, t) of sets with u a subset of t; ``pos`` holds, pair after pair,
    the index in ``ChannelSets.codes`` of each member of u inside t."""

    u: np.ndarray
    t: np.ndarray
    pos: np.ndarray

    def select(self, keep: np.ndarray, sizes: np.ndarray) -> _Pairs:
        s = sizes[self.u]
        starts = csr_offsets(s)[:-1]
        return _Pairs(self.u[keep], self.t[keep], self.pos[ranges(starts[keep], s[keep])])


def _argsort_codes(codes: np.ndarray, n_channels: int) -> np.ndarray:
    """A stable argsort of channel codes; numpy radix-sorts 16-bit integers, which
    is several times faster than sorting them as int64."""
    small = np.uint16 if n_channels <= 1 << 16 else np.int64
    return np.argsort(codes.astype(small), kind="stable")


def _find_members(
    sets: ChannelSets, t: np.ndarray, code: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Where channel ``code[i]`` is among the members of set ``t[i]`` (an index into
    ``sets.codes``), and whether it is there at all.

    A binary search inside each set's own members (they ascend), all queries
    at once: a few steps over short segments, where one search over every
    member of every set would wander through the whole array.
    """
    lo = sets.offsets[t]
    hi = sets.offsets[t + 1]
    for _ in range(int(sets.sizes.max()).bit_length()):  # a loop over halvings
        mid = (lo + hi) // 2
        right = (mid < hi) & (sets.codes[np.minimum(mid, len(sets.codes) - 1)] < code)
        lo = np.where(right, mid + 1, lo)
        hi = np.where(right, hi, mid)
    at = np.minimum(lo, len(sets.codes) - 1)
    return at, (lo < sets.offsets[t + 1]) & (sets.codes[at] == code)


def _subset_pairs(sets: ChannelSets, sources: np.ndarray, targets: np.ndarray) -> _Pairs:
    """Every pair (u, t), u in ``sources`` and t in ``targets``, with set u inside set t.

    Targets are indexed by each channel and by each pair of channels they
    contain (inverted indices). A one-channel source takes the targets listed
    under its channel, a larger one those under its rarest pair of channels,
    and only its other channels are then looked up. So the work grows with the
    pairs (set, seen subset), never with the number of subsets of a set.
    """
    n_ch = max(sets.n_channels, 1)
    sizes = sets.sizes
    empty = np.zeros(0, dtype=np.int64)
    if len(sources) == 0 or len(targets) == 0:
        return _Pairs(empty, empty, empty)
    member_set = sets.member_set
    # Index 1: members of targets by channel.
    t_members = ranges(sets.offsets[targets], sizes[targets])
    t_codes = sets.codes[t_members]
    post1 = t_members[_argsort_codes(t_codes, n_ch)]
    count1 = np.bincount(t_codes, minlength=n_ch)
    start1 = csr_offsets(count1)[:-1]
    # Index 2: pairs of members of targets by their two channels (a loop over sizes).
    first, second = [empty], [empty]
    for n in distinct(sizes[targets]):
        if n < 2:
            continue
        base = sets.offsets[targets[sizes[targets] == n]][:, None]
        ia, ib = np.triu_indices(int(n), 1)
        first.append((base + ia).ravel())
        second.append((base + ib).ravel())
    pa, pb = np.concatenate(first), np.concatenate(second)
    pkey = sets.codes[pa] * n_ch + sets.codes[pb]
    # by the first channel, then stably by the second: two radix sorts, not one of pkey
    by_second = _argsort_codes(sets.codes[pb], n_ch)
    order = by_second[_argsort_codes(sets.codes[pa][by_second], n_ch)]
    post2_a, post2_b = pa[order], pb[order]
    uniq2, _, count2 = unique_runs(pkey[order])  # sorted already: one pass
    start2 = csr_offsets(count2)[:-1]
    # Where each pair of channels is in uniq2: a table when it is small enough.
    slot = None
    if n_ch * n_ch <= _DENSE_PAIRS:
        slot = np.full(n_ch * n_ch, len(uniq2), dtype=np.int64)
        slot[uniq2] = np.arange(len(uniq2))

    us, ts, poss = [], [], []
    for m in distinct(sizes[sources]):  # a loop over source sizes
        m = int(m)
        if m > 1 and len(uniq2) == 0:  # every target has one channel
            break
        src = sources[sizes[sources] == m]
        ucodes = sets.codes[sets.offsets[src][:, None] + np.arange(m)]
        if m == 1:
            start, n_cand = start1[ucodes[:, 0]], count1[ucodes[:, 0]]
            best = np.zeros(len(src), dtype=np.int64)
        else:
            ia, ib = np.triu_indices(m, 1)
            k2 = ucodes[:, ia] * n_ch + ucodes[:, ib]
            loc = np.searchsorted(uniq2, k2) if slot is None else slot[k2]
            loc = np.minimum(loc, len(uniq2) - 1)
            cnt = np.where(uniq2[loc] == k2, count2[loc], 0)
            best = np.argmin(cnt, axis=1)
            rows = np.arange(len(src))
            n_cand = cnt[rows, best]
            start = start2[loc[rows, best]]
        # Chunks of sources keep the expanded candidates under _CHUNK elements.
        work = np.cumsum(n_cand * m)
        cuts = np.searchsorted(work, np.arange(_CHUNK, int(work[-1]) + _CHUNK, _CHUNK))
        bounds = np.unique(np.concatenate([[0], cuts, [len(src)]]))
        for lo, hi in itertools.pairwise(bounds):
            nc = n_cand[lo:hi]
            entry = ranges(start[lo:hi], nc)
            which = np.repeat(np.arange(lo, hi), nc)
            if m == 1:
                pos = post1[entry][:, None]
                cand_t = member_set[pos[:, 0]]
            else:
                a_pos, b_pos = post2_a[entry], post2_b[entry]
                cand_t = member_set[a_pos]
                fits = sizes[cand_t] >= m
                entry, which, a_pos, b_pos, cand_t = (
                    x[fits] for x in (entry, which, a_pos, b_pos, cand_t)
                )
                bi = best[which]
                row = np.arange(len(entry))
                pos = np.empty((len(entry), m), dtype=np.int64)
                pos[row, ia[bi]] = a_pos
                pos[row, ib[bi]] = b_pos
                if m > 2:
                    other = np.ones((len(entry), m), dtype=bool)
                    other[row, ia[bi]] = False
                    other[row, ib[bi]] = False
                    t_of = np.repeat(cand_t, m - 2)
                    found_at, found = _find_members(sets, t_of, ucodes[which][other])
                    pos[other] = found_at
                    inside = found.reshape(-1, m - 2).all(axis=1)
                    which, cand_t, pos = which[inside], cand_t[inside], pos[inside]
            us.append(src[which])
            ts.append(cand_t)
            poss.append(pos.ravel())
    if not us:
        return _Pairs(empty, empty, empty)
    return _Pairs(np.concatenate(us), np.concatenate(ts), np.concatenate(poss))


# -- Shapley values of the seen-set games -------------------------------------
def _beta(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The beta function B(a, b) = (a-1)! (b-1)! / (a+b-1)! of positive whole numbers.

    From a table of log-factorials (one entry per set size): importing
    scipy.special for it would cost a run 0.2 s.
    """
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    if a.size == 0:
        return np.zeros(a.shape)
    top = int((a + b).max())
    log_factorial = np.array([math.lgamma(k + 1) for k in range(top)])  # a loop over sizes
    return np.exp(log_factorial[a - 1] + log_factorial[b - 1] - log_factorial[a + b - 1])


def _exact_phi(sets: ChannelSets, worth: np.ndarray, pairs: _Pairs) -> np.ndarray:
    """Exact Shapley values, one per entry of ``sets.codes`` (non-zero only for
    the targets of ``pairs``), of the game on each target t whose worth is
    ``worth`` on the sets seen inside t and 0 on every other subset.

    With ``w(s, n) = s! (n - s - 1)! / n!``, a channel i of t (n members) gets
    the sum over seen subsets u of ``worth[u] * w(|u| - 1, n)`` if i is in u and
    ``- worth[u] * w(|u|, n)`` if not: the usual marginal-contribution sum,
    regrouped by the coalition whose worth appears in it.
    """
    sizes = sets.sizes
    n = sizes[pairs.t].astype(np.float64)
    s = sizes[pairs.u].astype(np.float64)
    v = worth[pairs.u]
    proper = s < n
    w_out = np.where(proper, _beta(s + 1, np.where(proper, n - s, 1.0)), 0.0)  # i not in u
    w_in = _beta(s, n - s + 1)  # i in u
    outside = np.bincount(pairs.t, weights=-v * w_out, minlength=sets.n_sets)
    # bincount of no pairs (every set sampled, none exact) is int64 even with
    # weights; phi is a float array whatever the pairs.
    phi = np.repeat(outside, sizes).astype(np.float64)
    phi += np.bincount(
        pairs.pos, weights=np.repeat(v * (w_in + w_out), sizes[pairs.u]), minlength=len(sets.codes)
    )
    return phi


class _Moments:
    """Count, mean and sum of squared deviations of rows added block by block
    (Chan et al.'s pairwise update: stable, and no block needs keeping)."""

    def __init__(self, width: int) -> None:
        self.n = 0
        self.mean = np.zeros(width)
        self.m2 = np.zeros(width)

    def add(self, rows: np.ndarray) -> None:
        k = rows.shape[0]
        mean = rows.mean(axis=0)
        m2 = ((rows - mean) ** 2).sum(axis=0)
        total = self.n + k
        delta = mean - self.mean
        self.mean = self.mean + delta * (k / total)
        self.m2 = self.m2 + m2 + delta**2 * (self.n * k / total)
        self.n = total

    def variance(self) -> np.ndarray:
        """Sample variance (ddof 1) of every column."""
        return self.m2 / max(self.n - 1, 1)


@dataclass
class _Sampled:
    """Permutation-sampled Shapley values and the variance of the credit they give."""

    phi: np.ndarray  # per entry of sets.codes
    var_conversions: np.ndarray  # per channel
    var_value: np.ndarray


def _sampled_phi(
    sets: ChannelSets,
    worth: np.ndarray,
    pairs: _Pairs,
    targets: np.ndarray,
    channel_rank: np.ndarray,
    *,
    samples: int,
    seed: int,
) -> _Sampled:
    """Shapley values of the same games as :func:`_exact_phi` for ``targets``,
    estimated from ``samples`` random orders of each target's channels.

    In one order, channel i's marginal contribution is ``v(P + i) - v(P)`` with
    P the channels before it. Only seen subsets have worth, so a seen subset u
    contributes exactly when it is a prefix of the order: ``+worth[u]`` to its
    last channel and ``-worth[u]`` to the channel right after it. Targets of one
    size share one seeded set of orders (seed and size select it), so the
    result does not depend on the other targets or on the row order. An order
    permutes each target's channels listed by ``channel_rank`` (not by code),
    so that renaming channels draws the same sample.
    """
    sizes = sets.sizes
    n_ch = max(sets.n_channels, 1)
    # Slot k of target t (t's k-th channel by channel_rank) in sets.codes, and back.
    member_set = sets.member_set
    by_rank = np.lexsort((channel_rank[sets.codes], member_set))
    local_of = np.empty(len(sets.codes), dtype=np.int64)
    local_of[by_rank] = np.arange(len(sets.codes)) - sets.offsets[member_set[by_rank]]
    phi = np.zeros(len(sets.codes))
    var_c = np.zeros(n_ch)
    var_v = np.zeros(n_ch)
    # A target's per-order Shapley values add up to its worth: credit = value * phi / worth.
    scale_c = np.divide(sets.conversions, worth, out=np.zeros(sets.n_sets), where=worth != 0)
    scale_v = np.divide(sets.value, worth, out=np.zeros(sets.n_sets), where=worth != 0)
    n_sizes = distinct(sizes[targets])
    with progress.task("shapley: sampled orders", total=samples * len(n_sizes)) as tick:
        for n in n_sizes:  # a loop over set sizes
            group = pairs.select(sizes[pairs.t] == n, sizes)
            rng = np.random.default_rng([seed, int(n)])
            group_targets = targets[sizes[targets] == n]
            chans = distinct(sets.codes[ranges(sets.offsets[group_targets], sizes[group_targets])])
            local_ch = np.zeros(n_ch, dtype=np.int64)
            local_ch[chans] = np.arange(len(chans))
            s_all = sizes[group.u]
            local = local_of[group.pos]
            starts = csr_offsets(s_all)
            # Orders are drawn and used in blocks, so that no temporary array grows
            # past about _CHUNK elements whatever the number of samples.
            block = max(1, min(samples, _CHUNK // max(int(n), len(chans), 1)))
            per_chunk = max(_CHUNK // block, int(n))
            bounds = np.unique(
                np.concatenate(
                    [np.searchsorted(starts, np.arange(0, starts[-1], per_chunk)), [len(group.u)]]
                )
            )
            moments_c, moments_v = _Moments(len(chans)), _Moments(len(chans))
            for first in range(0, samples, block):  # a loop over blocks of orders
                m = min(block, samples - first)
                order = rng.permuted(np.tile(np.arange(n, dtype=np.int32), (m, 1)), axis=1)
                rank = np.empty_like(order)
                np.put_along_axis(rank, order, np.arange(n, dtype=np.int32)[None, :], axis=1)
                x_c = np.zeros(m * len(chans))
                x_v = np.zeros(m * len(chans))
                for lo, hi in itertools.pairwise(bounds):  # chunks of pairs
                    if hi <= lo:
                        continue
                    sl = slice(int(starts[lo]), int(starts[hi]))
                    ranks = rank[:, local[sl]]
                    latest = np.maximum.reduceat(ranks, starts[lo:hi] - starts[lo], axis=1)
                    s_chunk = s_all[lo:hi]
                    hit_s, hit_p = np.nonzero(latest == (s_chunk - 1)[None, :])
                    u_size = s_chunk[hit_p]
                    t_of = group.t[lo:hi][hit_p]
                    gain = worth[group.u[lo:hi][hit_p]]
                    last = order[hit_s, u_size - 1]
                    more = u_size < n
                    after = order[hit_s[more], u_size[more]]
                    slot = by_rank[
                        np.concatenate(
                            [sets.offsets[t_of] + last, sets.offsets[t_of[more]] + after]
                        )
                    ]
                    delta = np.concatenate([gain, -gain[more]])
                    t_all = np.concatenate([t_of, t_of[more]])
                    s_idx = np.concatenate([hit_s, hit_s[more]])
                    phi += np.bincount(slot, weights=delta, minlength=len(phi))
                    cell = s_idx * len(chans) + local_ch[sets.codes[slot]]
                    x_c += np.bincount(cell, weights=delta * scale_c[t_all], minlength=len(x_c))
                    x_v += np.bincount(cell, weights=delta * scale_v[t_all], minlength=len(x_v))
                moments_c.add(x_c.reshape(m, -1))
                moments_v.add(x_v.reshape(m, -1))
                tick.advance(m)
            # Credit of a channel = mean over orders of its per-order credit, so its
            # variance is the per-order variance over the number of orders.
            var_c[chans] += moments_c.variance() / samples
            var_v[chans] += moments_v.variance() / samples
    phi /= samples
    return _Sampled(phi, var_c, var_v)


def _share_credit(
    sets: ChannelSets, phi: np.ndarray, total: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each set's conversions and value shared in proportion to ``phi`` over
    ``total`` (the set's sum of ``phi``); equally where ``total`` is 0."""
    sizes = sets.sizes
    share = _entry_shares(sets, phi, total)
    conv = np.bincount(
        sets.codes, weights=share * np.repeat(sets.conversions, sizes), minlength=sets.n_channels
    )
    val = np.bincount(
        sets.codes, weights=share * np.repeat(sets.value, sizes), minlength=sets.n_channels
    )
    return conv, val


def _entry_shares(sets: ChannelSets, phi: np.ndarray, total: np.ndarray) -> np.ndarray:
    """Share of its set's credit of every entry of ``sets.codes`` (see :func:`_share_credit`)."""
    sizes = sets.sizes
    sums = np.repeat(total, sizes)
    equal = np.repeat(1.0 / np.maximum(sizes, 1), sizes)
    return np.where(sums != 0, phi / np.where(sums != 0, sums, 1.0), equal)


def _row_credit(journeys: Journeys, sets: ChannelSets, share: np.ndarray) -> RowCredit:
    """Each converting row's credit from its set's entry shares (the per-conversion grain)."""
    pairs = journeys.channel_pairs
    row, codes = pairs.row, pairs.code
    # A row's distinct channels, ascending, are its set's members in the same order.
    first = np.ones(len(row), dtype=bool)
    first[1:] = row[1:] != row[:-1]
    starts = np.flatnonzero(first)
    rank = np.arange(len(row)) - np.repeat(starts, np.diff(np.append(starts, len(row))))
    entry = sets.offsets[:-1][sets.row_set[row]] + rank
    return RowCredit(
        row.astype(np.int64),
        codes.astype(np.uint32),
        share[entry] * journeys.conversions[row],
        share[entry] * journeys.value[row],
    )


def shapley_values(
    worth: Mapping[frozenset[str], float], players: Iterable[str] | None = None
) -> dict[str, float]:
    """Shapley values of a game given by the worth of some coalitions (0 elsewhere).

    The same solver the ``shapley`` model uses on each channel set, exposed for
    small games. ``players`` defaults to every player named in ``worth``.

    Examples
    --------
    >>> v = {frozenset("a"): 1.0, frozenset("ab"): 3.0}
    >>> shapley_values(v)
    {'a': 2.0, 'b': 1.0}
    """
    names = sorted(set(players or ()) | {p for c in worth for p in c})
    index = {p: i for i, p in enumerate(names)}
    grand = frozenset(names)
    distinct_sets = {frozenset(c) for c in worth if len(c) > 0} | {grand}
    # Members ascend within each coalition, so ChannelSets.member_keys ascend as the
    # solver's binary searches need.
    members = sorted(sorted(index[p] for p in c) for c in distinct_sets)
    coalitions = [frozenset(names[i] for i in m) for m in members]
    sets = ChannelSets(
        len(names),
        csr_offsets(np.array([len(m) for m in members], dtype=np.int64)),
        np.array([i for m in members for i in m], dtype=np.int64),
        np.zeros(len(members)),
        np.zeros(len(members)),
        np.zeros(len(members)),
        np.zeros(0, dtype=np.int64),
    )
    v = np.array([float(worth.get(c, 0.0)) for c in coalitions])
    t = np.array([coalitions.index(grand)], dtype=np.int64)
    phi = _exact_phi(sets, v, _subset_pairs(sets, np.arange(len(coalitions)), t))
    start = sets.offsets[t[0]]
    return {p: float(phi[start + i]) for i, p in enumerate(names)}


def _channel_rank(sets: ChannelSets) -> np.ndarray:
    """Rank of each channel by journeys, conversions and value of the sets it is
    in (ties by code): an order that renaming the channels does not change."""
    sizes = sets.sizes
    per = [
        np.bincount(sets.codes, weights=np.repeat(w, sizes), minlength=sets.n_channels)
        for w in (sets.conversions + sets.nulls, sets.conversions, sets.value)
    ]
    order = np.lexsort((np.arange(sets.n_channels), *per[::-1]))
    rank = np.empty(sets.n_channels, dtype=np.int64)
    rank[order] = np.arange(sets.n_channels)
    return rank


# -- the models ----------------------------------------------------------------
class Shapley(Model):
    """Shapley value attribution over the distinct channel sets of the journeys.

    Parameters
    ----------
    characteristic : {"conversion_rate", "subset_conversions", "subset_rates"}
        The cooperative game.

        ``conversion_rate`` (default): for each distinct set T of channels of
        converting journeys, the game on T's channels whose worth v(S), S a
        subset of T, is the conversion rate of the journeys whose distinct
        channels are exactly S (0 for a set never seen, and for the empty set).
        T's conversions and value are shared in proportion to the Shapley
        values of that game. A channel that lowers the conversion rate of the
        sets it joins can get negative credit.

        ``subset_conversions``: v(S) = conversions of the journeys whose
        channels all lie in S; its Shapley value splits each converting
        journey equally among its distinct channels (the "simplified Shapley
        value" of Zhao et al.).

        ``subset_rates``: the game whose Harsanyi dividends are the exact-set
        conversion rates; phi(c) = sum over sets T containing c of
        rate(T) / |T|, scaled so that credit adds up to the total.
    max_exact : int
        Sets of more channels than this (``conversion_rate`` only) use a
        permutation sample of the same game. Default 16.
    samples : int
        Random orders per set size for the sampled sets. Default 10,000.
    seed : int
        Seed of the sampled orders. Default 0.
    base_rate : float or "estimate"
        ``conversion_rate`` only: subtract this chance of converting with no
        touch from every seen set's rate, so that the game plays only the
        conversions the channels add (a set that converts no better gets no
        game and is shared equally). ``estimate`` takes the ``data_driven``
        model's fitted chance of converting with no touch
        (:func:`attribution.models.data_driven.no_touch_rate`). Default 0: the
        rates as they are.

    Notes
    -----
    Only seen sets have worth, so the exact value of a set needs only the pairs
    (seen set, seen subset of it), found with an inverted index over channels;
    the work never grows with 2 to the number of channels.

    References
    ----------
    L. S. Shapley, "A value for n-person games", Contributions to the Theory of
    Games II, 1953.
    K. Zhao, S. H. Mahboobi and S. R. Bagheri, "Shapley value methods for
    attribution modeling in online advertising", arXiv:1804.05327, 2018.
    B. Dalessandro, C. Perlich, O. Stitelman and F. Provost, "Causally
    motivated attribution for online advertising", ADKDD 2012.
    """

    name = "shapley"
    description = "Shapley value of each channel set's conversion-rate game (or a closed form)."
    summary = (
        "Shares each conversion by how much each channel adds to the conversion rate of the "
        "channels it appears with (Shapley values)."
    )
    combine = "paths"  # runs once on the combined paths of all partitions
    allows_negative = True
    constraints: ClassVar[Constraints] = {
        "characteristic": Options(*CHARACTERISTICS),
        "max_exact": Interval(Integral, 1, None, closed="left"),
        "samples": Interval(Integral, 2, None, closed="left"),
        "seed": Interval(Integral, 0, None, closed="left"),
        "base_rate": (Options("estimate"), Interval(Real, 0, 1, closed="left")),
    }

    def __init__(
        self,
        *,
        characteristic: Literal[
            "conversion_rate", "subset_conversions", "subset_rates"
        ] = "conversion_rate",
        max_exact: int = 16,
        samples: int = 10_000,
        seed: int = 0,
        base_rate: float | Literal["estimate"] = 0.0,
    ) -> None:
        self.characteristic = characteristic
        self.max_exact = max_exact
        self.samples = samples
        self.seed = seed
        self.base_rate = base_rate

    def attribute(self, journeys: Journeys) -> pl.DataFrame:
        sets = channel_sets(journeys)
        self.sets_ = sets.n_sets
        self.subset_pairs_ = 0
        self.sampled_sets_ = 0
        self.sampled_conversions_ = 0.0
        self.sampled_value_ = 0.0
        self.standard_error_: dict[str, dict[str, float]] = {}
        if self.characteristic == "subset_conversions":
            conv, val = _share_credit(sets, np.zeros(len(sets.codes)), np.zeros(sets.n_sets))
        elif self.characteristic == "subset_rates":
            conv, val = self._subset_rates(sets, journeys)
        else:
            self.base_rate_ = self._base_rate(journeys)
            phi, total = self._conversion_rate(sets, journeys.channels, self.base_rate_)
            # what attribute_rows needs of this fit, while these journeys live
            self._fitted = (weakref.ref(journeys), sets, phi, total)
            conv, val = _share_credit(sets, phi, total)
        return credit_frame(journeys, conv, val)

    # issue 17: the per-conversion grain
    def attribute_rows(self, journeys: Journeys) -> RowCredit:
        """Credit per converting journey: its channel set's shares (Shapley values of the
        set's game, or equal shares), which add up to :meth:`attribute`'s totals.

        ``subset_rates`` credits by global weights, not per set: each journey is
        shared among its channels in proportion to them, rescaled per channel so
        that the totals are the model's (:func:`attribution.grains.split_in_proportion`).
        """
        self.validate_params()
        if self.characteristic == "subset_rates":
            sets = channel_sets(journeys)
            from attribution.grains import split_in_proportion

            conv, val = self._subset_rates(sets, journeys)
            phi = self._subset_rates_phi(sets)
            return split_in_proportion(
                journeys,
                phi,
                phi,
                conv,
                val,
                split="each journey's share by subset rate, rescaled per channel",
            )
        if self.characteristic == "subset_conversions":
            sets = channel_sets(journeys)
            share = _entry_shares(sets, np.zeros(len(sets.codes)), np.zeros(sets.n_sets))
            return _row_credit(journeys, sets, share)
        fitted = getattr(self, "_fitted", None)
        if fitted is not None and fitted[0]() is journeys:  # the game of the last fit
            _, sets, phi, total = fitted
        else:
            sets = channel_sets(journeys)
            phi, total = self._conversion_rate(sets, journeys.channels, self._base_rate(journeys))
        return _row_credit(journeys, sets, _entry_shares(sets, phi, total))

    def _base_rate(self, journeys: Journeys) -> float:
        """The chance of converting with no touch that the game subtracts (``base_rate``)."""
        if self.base_rate == "estimate":
            from attribution.models.data_driven import no_touch_rate

            return float(no_touch_rate(journeys, seed=self.seed))
        return float(self.base_rate)

    @staticmethod
    def _subset_rates_phi(sets: ChannelSets) -> np.ndarray:
        sizes = sets.sizes
        return np.bincount(
            sets.codes,
            weights=np.repeat(sets.rate / np.maximum(sizes, 1), sizes),
            minlength=sets.n_channels,
        )

    @staticmethod
    def _subset_rates(sets: ChannelSets, journeys: Journeys) -> tuple[np.ndarray, np.ndarray]:
        phi = Shapley._subset_rates_phi(sets)
        total = phi.sum()
        if total <= 0:  # no conversion anywhere: any stray value is shared per journey
            return _share_credit(sets, np.zeros(len(sets.codes)), np.zeros(sets.n_sets))
        share = phi / total
        return share * journeys.total_conversions, share * journeys.total_value

    def _conversion_rate(
        self, sets: ChannelSets, channels: tuple[str, ...], base: float = 0.0
    ) -> tuple[np.ndarray, np.ndarray]:
        """Shapley values per entry of ``sets.codes``, and each set's total of them,
        for the game of each set's conversion rate above ``base`` (0 for a set never seen)."""
        seen = sets.conversions + sets.nulls > 0
        worth = np.where(seen, sets.rate - base, 0.0)
        targets = np.flatnonzero((sets.conversions != 0) | (sets.value != 0))
        # Value without conversions (a rate of 0), or a rate no better than the
        # base, has no game to play: shared equally.
        playable = targets[worth[targets] > 0]
        pairs = _subset_pairs(sets, np.flatnonzero(worth != 0), playable)
        self.subset_pairs_ = len(pairs.u)
        sizes = sets.sizes
        exact = sizes[pairs.t] <= self.max_exact
        phi = _exact_phi(sets, worth, pairs.select(exact, sizes))
        large = playable[sizes[playable] > self.max_exact]
        if len(large):
            sampled = _sampled_phi(
                sets,
                worth,
                pairs.select(~exact, sizes),
                large,
                _channel_rank(sets),
                samples=self.samples,
                seed=self.seed,
            )
            phi += sampled.phi
            self.sampled_sets_ = len(large)
            self.sampled_conversions_ = float(sets.conversions[large].sum())
            self.sampled_value_ = float(sets.value[large].sum())
            for c in np.flatnonzero(sampled.var_conversions + sampled.var_value > 0):
                self.standard_error_[channels[c]] = {
                    "conversions": float(np.sqrt(sampled.var_conversions[c])),
                    "value": float(np.sqrt(sampled.var_value[c])),
                }
        # Efficiency: a target's Shapley values add up to its own worth.
        total = np.zeros(sets.n_sets)
        total[playable] = worth[playable]
        return phi, total

    def details(self) -> dict[str, Any]:
        if not hasattr(self, "sets_"):
            return {}
        out: dict[str, Any] = {"characteristic": self.characteristic, "sets": self.sets_}
        if self.characteristic == "conversion_rate":
            out.update(
                base_rate=self.base_rate_,
                subset_pairs=self.subset_pairs_,
                sampled_sets=self.sampled_sets_,
                sampled_conversions=self.sampled_conversions_,
                sampled_value=self.sampled_value_,
                samples=self.samples if self.sampled_sets_ else 0,
                standard_error=self.standard_error_,
            )
        return out

    def notes(self) -> list[str]:
        if not getattr(self, "sampled_sets_", 0):
            return []
        return [
            f"{self.sampled_conversions_:g} conversions (in {self.sampled_sets_} channel sets "
            f"above max_exact={self.max_exact}) were credited by a sampled Shapley value "
            f"({self.samples} permutations, seed {self.seed}); --details gives the "
            "standard errors"
        ]


def _position_grid(journeys: Journeys, weights: np.ndarray, width: int) -> np.ndarray:
    """Sum of ``weights`` per (channel, position) cell, flat, ``channel * width + position``.

    A touch tied with others (one instant, :attr:`Journeys.tie`) has no
    position of its own: its weight is spread evenly over the positions its
    tie group takes, as if the group came in every order with equal weight.
    """
    n = journeys.n_channels
    codes, pos = journeys.codes.astype(np.int64), journeys.position
    if not journeys.has_ties:
        return np.bincount(codes * width + pos, weights=weights, minlength=n * width)
    group = journeys.tie_group
    size = np.bincount(group)[group]
    alone = size == 1
    grid = np.bincount((codes * width + pos)[alone], weights=weights[alone], minlength=n * width)
    tied = np.flatnonzero(~alone)
    first = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])[group]  # group's first touch
    start = pos[tied] - (tied - first[tied])
    # difference arrays over positions: +share where the group starts, - past its end
    row = width + 1
    begin, end = codes[tied] * row + start, codes[tied] * row + start + size[tied]
    share = weights[tied] / size[tied]
    spread = np.bincount(begin, share, n * row) - np.bincount(end, share, n * row)
    cover = np.bincount(begin, minlength=n * row) - np.bincount(end, minlength=n * row)
    spread = np.cumsum(spread.reshape(n, row), axis=1)[:, :width]
    spread[np.cumsum(cover.reshape(n, row), axis=1)[:, :width] == 0] = 0.0  # no rounding dust
    return grid + spread.ravel()


class OrderedShapley(Model):
    """Zhao et al.'s ordered Shapley value: credit per touch position.

    In a converting journey with distinct channel set S, the touch at position
    t of channel c earns ``1 / (count of c in the journey * |S|)`` of its
    conversions and value. Channel totals equal
    ``shapley:characteristic=subset_conversions``; :meth:`details` gives the
    credit of every channel at every position (1 = first touch). Touches at
    one instant share the positions their group takes: each one's credit is
    spread evenly over them (every order of the group, equally weighted).

    References
    ----------
    K. Zhao, S. H. Mahboobi and S. R. Bagheri, "Shapley value methods for
    attribution modeling in online advertising", arXiv:1804.05327, 2018.
    """

    name = "ordered_shapley"
    description = "Simplified Shapley value split over touch positions (Zhao et al. 2018)."
    summary = (
        "Splits each conversion equally among the distinct channels of its journey, and each "
        "channel's part over its touches."
    )
    combine = "paths"  # runs once on the combined paths of all partitions

    def weights(self, journeys: Journeys) -> np.ndarray:
        """Weight of every touch, adding up to 1 per journey."""
        rows, _, counts, pair_of_touch = _distinct_touches(journeys)
        distinct = np.bincount(rows, minlength=journeys.n_rows)
        per_touch = counts[pair_of_touch]
        return 1.0 / (per_touch * distinct[journeys.row_of_touch])

    def attribute(self, journeys: Journeys) -> pl.DataFrame:
        n = journeys.n_channels
        if journeys.n_touches == 0:
            self.position_credit_ = pl.DataFrame(
                schema={
                    "channel": pl.String,
                    "position": pl.Int64,
                    "conversions": pl.Float64,
                    "value": pl.Float64,
                }
            )
            zero = np.zeros(n)
            return credit_frame(journeys, zero, zero)
        w = self.weights(journeys)
        row = journeys.row_of_touch
        wc = w * journeys.conversions[row]
        wv = w * journeys.value[row]
        width = int(journeys.position.max()) + 1
        grid_c = _position_grid(journeys, wc, width)
        grid_v = _position_grid(journeys, wv, width)
        used = np.flatnonzero((grid_c != 0) | (grid_v != 0))
        self.position_credit_ = pl.DataFrame(
            {
                "channel": pl.Series(
                    np.array(journeys.channels, dtype=object)[used // width], dtype=pl.String
                ),
                "position": (used % width + 1).astype(np.int64),
                "conversions": grid_c[used],
                "value": grid_v[used],
            }
        )
        conv = np.bincount(journeys.codes, weights=wc, minlength=n)
        val = np.bincount(journeys.codes, weights=wv, minlength=n)
        return credit_frame(journeys, conv, val)

    def details(self) -> dict[str, Any]:
        if not hasattr(self, "position_credit_"):
            return {}
        return {"position_credit": self.position_credit_.to_dicts()}

    # issue 17: the per-conversion grain, from the per-touch weights
    def attribute_rows(self, journeys: Journeys) -> RowCredit:
        """Credit of every touch of converting journeys: its weight times the journey's
        conversions and value; adds up to :meth:`attribute`'s totals."""
        row = journeys.row_of_touch
        touch = np.flatnonzero(((journeys.conversions != 0) | (journeys.value != 0))[row])
        if len(touch) == 0:
            return RowCredit.of_touches(journeys, touch, np.zeros(0), np.zeros(0))
        w = self.weights(journeys)[touch]
        conv = w * journeys.conversions[row[touch]]
        return RowCredit.of_touches(journeys, touch, conv, w * journeys.value[row[touch]])
