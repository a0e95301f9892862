"""The Markov chain removal-effect model, solved exactly on the absorbing chain."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import polars as pl

from attribution import progress
from attribution.arrays import csr_offsets, distinct, distinct_pairs, ranges
from attribution.capabilities import RowCredit
from attribution.constraints import Constraints, Integral, Interval, Options
from attribution.errors import ModelError
from attribution.journeys import Journeys
from attribution.model import Model, credit_frame

if TYPE_CHECKING:
    from typing import TypeAlias

    import networkx as nx
    import scipy.sparse as sp

    # A small chain's counts and memberships are dense arrays; a large one's
    # scipy sparse matrices (see _small).
    Matrix: TypeAlias = np.ndarray | sp.csr_matrix

__all__ = ["Markov", "order_scores", "transition_graph", "transition_table"]

START, CONVERSION, NULL = "(start)", "(conversion)", "(null)"
STATE_SEP = " > "

# Up to this many transient states the fundamental matrix is formed densely and
# every removal is a small Woodbury correction; above it the removals are solved
# together by fixed-point steps with an error bound (high-order chains are
# nearly acyclic, so few steps suffice), or by one sparse LU per channel.
DENSE_STATES = 3000
# A dense chain this cheap to solve densely (transient states cubed over 10) is
# solved so at once, with no look at the fixed-point steps, which need scipy.
_DENSE_AT_ONCE = 2e7
# Bound on the relative error of P and of the expected value in iterative solves.
_TOL = 1e-14
_MAX_STEPS = 2000
_CHECK = 200  # steps between two looks at how fast the bound decays
_CHUNK = 64  # channels per batch of the iterative solve
# Block GMRES of removals (method "removals"): restart length, restarts, the
# error bound it must prove (relative to the full chain's P and value), and the
# elements its Krylov bases may hold at once.
_RESTART = 30
_CYCLES = 20
_KRYLOV_TOL = 1e-10
_BLOCK_ELEMENTS = 1 << 24
# BiCGSTAB, tried before GMRES on the removals: iterations, and iterations
# between two checks of the true residual.
_BICG_ITERATIONS = 300
_BICG_CHECK = 10
_DENSE_KEYS = 1 << 22  # key spaces up to this size are counted with lookup tables
# Pseudo-journeys that pull an order-k conversion rate toward the order k-1 one
# when `order=auto` scores a state with few training journeys.
_SMOOTHING = 1.0
_EXPAND = 64  # rows of up to this many journeys deal them into folds one by one
_CLIP = 1e-12


# -- window keys ------------------------------------------------------------


# -- small chains stay dense: no scipy ------------------------------------------
# A chain of up to this many elements in its count matrix (some 2,000 states:
# order 1 over hundreds of channels, order 3 over a dozen) is kept in dense
# numpy arrays and solved densely, so a run that only meets such chains never
# imports scipy: importing scipy.sparse takes some 0.1 s, more than the whole
# model on a million journeys over 8 channels.
def _small(elements: int) -> bool:
    return elements <= _DENSE_KEYS


def _sparse() -> Any:
    """scipy.sparse, imported on first need (large chains only)."""
    import scipy.sparse as sp

    return sp


def _csr(m: Matrix) -> sp.csr_matrix:
    return _sparse().csr_matrix(m) if isinstance(m, np.ndarray) else m.tocsr()


def _entries(m: Matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row, column and value of every nonzero entry, row by row."""
    if isinstance(m, np.ndarray):
        row, col = np.nonzero(m)
        return row, col, m[row, col]
    coo = m.tocsr().tocoo()
    return coo.row, coo.col, coo.data


def _column(m: Matrix, rows: int, col: int) -> np.ndarray:
    """``m[:rows, col]`` as a 1-D float array."""
    if isinstance(m, np.ndarray):
        return np.asarray(m[:rows, col], dtype=np.float64)
    return m[:rows, col].toarray().ravel()


def _row_sums(m: Matrix) -> np.ndarray:
    return np.asarray(m.sum(axis=1), dtype=np.float64).ravel()


def _window_keys(
    codes: np.ndarray, starts: np.ndarray, widths: np.ndarray, order: int, base: int
) -> np.ndarray:
    """One int64 per window ``codes[start:start + width]`` (width <= order).

    Digits are ``code + 1`` padded with 0 to ``order`` digits, so keys sort
    like the windows (shorter windows first among equal prefixes) and windows
    of different widths never collide. When the next digit could overflow
    int64 the keys are replaced by their dense ranks, which keeps the order.
    """
    key = np.zeros(len(starts), dtype=np.int64)
    last = max(len(codes) - 1, 0)
    for j in range(order):
        digit = np.where(j < widths, codes[np.minimum(starts + j, last)].astype(np.int64) + 1, 0)
        if len(key) and (int(key.max()) + 1) * base >= 2**62:
            key = np.unique(key, return_inverse=True)[1].astype(np.int64)
        key = key * base + digit
    return key


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser on uint64 arrays (wrapping arithmetic): a fixed,
    platform-independent scramble, so keys turn into well spread numbers."""
    x = x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _path_keys(steps: _Steps) -> np.ndarray:
    """A uint64 per row that names its path without naming its channels.

    Each channel stands for the rank of what the paths say about it (the
    distinct paths, journeys, conversions and touches it has), so renaming
    channels, recoding them or reordering rows leaves every row's key as it
    was; only channels alike in all of that are confused.
    """
    j, members = steps.journeys, steps.members
    n_ch = members.shape[1]
    of_row, of_col, _ = _entries(members)
    on_row = np.repeat(np.arange(j.n_rows), j.lengths)
    # (symbol occurrence -> its channels) for per-channel statistics
    per_symbol = np.bincount(of_row, minlength=members.shape[0])
    start = csr_offsets(per_symbol)
    order = np.argsort(of_row, kind="stable")
    touch_rep = np.repeat(np.arange(j.n_touches), per_symbol[j.codes])
    channel = of_col[order][ranges(start[j.codes], per_symbol[j.codes])]
    row = on_row[touch_rep]
    weight = j.conversions + j.nulls
    pairs = distinct(row * max(n_ch, 1) + channel)
    p_row, p_ch = pairs // max(n_ch, 1), pairs % max(n_ch, 1)
    stats = np.column_stack(
        [
            np.bincount(p_ch, minlength=n_ch),
            np.bincount(p_ch, weights=weight[p_row], minlength=n_ch),
            np.bincount(p_ch, weights=j.conversions[p_row], minlength=n_ch),
            np.bincount(channel, weights=weight[row], minlength=n_ch),
        ]
    )
    # rounded, so that sums added in another order still compare equal
    rank = np.unique(np.round(stats, 9), axis=0, return_inverse=True)[1].ravel()
    # A symbol (a channel, or a tie group's set of channels) stands for its ranks,
    # in no order; a path for its symbols in order.
    sym_key = np.zeros(members.shape[0], dtype=np.uint64)
    np.add.at(sym_key, of_row, _mix(rank[of_col].astype(np.uint64) + np.uint64(1)))
    sym_key = _mix(sym_key ^ (per_symbol.astype(np.uint64) << np.uint64(56)))  # size as a tag
    touch_key = _mix(sym_key[j.codes] ^ _mix(j.position.astype(np.uint64)))
    key = np.add.reduceat(touch_key, j.offsets[:-1]) if j.n_rows else touch_key[:0]
    return _mix(key ^ j.lengths.astype(np.uint64))


def _uniform(x: np.ndarray) -> np.ndarray:
    """Floats in (0, 1) from uint64 hashes (their top 53 bits)."""
    return ((x >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53


def _split(keys: np.ndarray, counts: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Deal each row's journeys at random into ``folds`` folds: shape (n_rows, folds).

    Every journey goes to a fold of its own, uniformly, as a multinomial deal
    would; the randomness of a row comes from its key (:func:`_path_keys`)
    and the seed alone, never from the row's position or its channels' codes.
    Rows of up to _EXPAND journeys deal them one by one; larger ones draw the
    multinomial as binomials. A fractional remainder goes whole to one fold,
    so the folds add up to ``counts`` exactly.
    """
    n = len(counts)
    salt = _mix(np.arange(folds + 2, dtype=np.uint64) + np.uint64(seed) * np.uint64(folds + 2))
    whole = np.floor(counts).astype(np.int64)
    dealt = np.zeros((n, folds))
    small = np.flatnonzero(whole <= _EXPAND)
    rows = np.repeat(small, whole[small])
    nth = ranges(np.zeros(len(small), dtype=np.int64), whole[small]).astype(np.uint64)
    fold = _mix(keys[rows] ^ _mix(nth ^ salt[0])) % np.uint64(folds)
    dealt.ravel()[:] += np.bincount(rows * folds + fold.astype(np.int64), minlength=n * folds)
    large = np.flatnonzero(whole > _EXPAND)
    left = whole[large].astype(np.float64)
    from scipy.stats import binom  # only order=auto needs it; it takes 0.4 s to import

    for f in range(folds - 1):  # a loop over folds: the multinomial as binomials
        u = _uniform(_mix(keys[large] ^ salt[f + 1]))
        got = binom.ppf(u, left, 1.0 / (folds - f))
        dealt[large, f] = got
        left -= got
    dealt[large, folds - 1] = left
    rest = counts - whole
    to = (_mix(keys ^ salt[folds + 1]) % np.uint64(folds)).astype(np.int64)
    dealt[np.arange(n), to] += rest
    return dealt


def order_scores(
    journeys: Journeys, *, max_order: int = 4, folds: int = 5, seed: int = 0
) -> dict[int, float]:
    """Cross-validated log-loss of P(conversion | last state) for orders 1..max_order.

    The journeys of each distinct path are dealt at random into ``folds``
    folds, seeded by ``seed`` and a key of the path that names no channel
    (:func:`_split`, :func:`_path_keys`): the folds, and so the order chosen,
    depend neither on the input's row order nor on the channels' names.
    For each held-out fold, a journey's conversion probability is the
    conversion rate, among the training journeys, of its last order-k state
    (its last ``k`` steps, or the whole path when shorter), smoothed toward
    the order ``k - 1`` rate with one pseudo-journey; order 0 is the overall
    rate. The score is the mean log-loss per journey: lower is better.
    """
    agg = journeys.aggregate()
    keep = (agg.conversions + agg.nulls) > 0
    agg = agg.select(keep) if not keep.all() else agg
    if agg.n_rows == 0:
        return {k: 0.0 for k in range(1, max_order + 1)}
    steps = _steps_of(agg)
    keys = _path_keys(steps)
    conv_f = _split(keys, agg.conversions, folds, seed)
    null_f = _split(_mix(keys ^ np.uint64(1)), agg.nulls, folds, seed)
    total_f = conv_f + null_f
    conv_all, total_all = agg.conversions, agg.conversions + agg.nulls
    lengths = steps.journeys.lengths
    codes = steps.journeys.codes.astype(np.int64)
    ends = steps.journeys.offsets[1:]
    base = steps.members.shape[0] + 1

    # rate[f] = smoothed P(conversion) of each row with fold f held out, order 0 first
    train_conv = conv_all.sum() - conv_f.sum(axis=0)
    train_total = total_all.sum() - total_f.sum(axis=0)
    # Half a conversion in one pseudo-journey keeps a fold of one outcome finite.
    rate = np.tile((train_conv + 0.5) / (train_total + 1.0), (agg.n_rows, 1))
    scores: dict[int, float] = {}
    n_journeys = float(total_all.sum())
    for k in range(1, max_order + 1):
        width = np.minimum(lengths, k)
        keys = _window_keys(codes, ends - width, width, k, base)
        state = np.unique(keys, return_inverse=True)[1]
        n_states = int(state.max()) + 1
        new = np.empty_like(rate)
        for f in range(folds):
            c = np.bincount(state, conv_all - conv_f[:, f], n_states)[state]
            n = np.bincount(state, total_all - total_f[:, f], n_states)[state]
            new[:, f] = (c + _SMOOTHING * rate[:, f]) / (n + _SMOOTHING)
        # A path shorter than k has the same last state as at order k - 1.
        rate = np.where((lengths >= k)[:, None], new, rate)
        p = np.clip(rate, _CLIP, 1 - _CLIP)
        loss = -(conv_f * np.log(p) + null_f * np.log1p(-p)).sum()
        scores[k] = float(loss / n_journeys)
    return scores


def _choose_order(
    journeys: Journeys, order: int | str, max_order: int, folds: int, seed: int
) -> tuple[int, dict[int, float] | None]:
    if order != "auto":
        return int(order), None
    scores = order_scores(journeys, max_order=max_order, folds=folds, seed=seed)
    best = min(scores.values())
    # The lowest order within rounding of the best: higher orders must earn it.
    chosen = min(k for k, s in scores.items() if s <= best + 1e-12 * max(abs(best), 1.0))
    return chosen, scores


# -- steps: touches at one instant are one step ------------------------------
@dataclass(frozen=True)
class _Steps:
    """The journeys as steps: every tie group (touches at one instant) is one
    step, whose symbol is the set of its channels; an untied touch is a step
    whose symbol is its channel.

    ``journeys`` has symbol codes in place of channel codes (symbols
    ``0..n_channels - 1`` are the channels themselves, the sets follow);
    ``members`` (n_symbols, n_channels) says which channels a symbol holds;
    ``labels`` and ``ids`` are each symbol's display text (``{a, b}`` for a
    set) and its JSON identity (``["a","b"]``, a set's names sorted).
    """

    journeys: Journeys
    members: Matrix  # (n_symbols, n_channels) bool
    labels: list[str]
    ids: list[str]


def _steps_of(journeys: Journeys) -> _Steps:
    """:class:`_Steps` of ``journeys``: the same journeys when nothing is tied.

    Tied touches have no order, so a sequence model cannot take them one
    after another without inventing one (by name, say); as one step, the
    chain moves from the step before to the set and on, whatever the names.
    """
    n_ch = journeys.n_channels
    labels = list(journeys.channels)
    ids = [json.dumps(c) for c in journeys.channels]  # a loop over channels
    if not journeys.has_ties:
        if _small(n_ch * n_ch):
            return _Steps(journeys, np.eye(n_ch, dtype=bool), labels, ids)
        return _Steps(journeys, _sparse().identity(n_ch, dtype=bool, format="csr"), labels, ids)
    group = journeys.tie_group
    n_groups = int(group[-1]) + 1
    g, c = distinct_pairs(group, journeys.codes, n_ch)  # a set: repeats at one instant are one
    size = np.bincount(g, minlength=n_groups)
    several = size[g] > 1
    lists = (
        pl.DataFrame({"g": g[several], "c": c[several]})
        .group_by("g", maintain_order=True)
        .agg(pl.col("c"))
    )
    sets = lists.select(pl.col("c").unique()).sort("c")
    sets = sets.with_row_index("set")
    which = lists.join(sets, on="c", how="left", maintain_order="left")
    symbol = np.zeros(n_groups, dtype=np.int64)  # of every group, in order
    single = size == 1
    symbol[single] = c[np.r_[True, g[1:] != g[:-1]]][single]
    symbol[which["g"].to_numpy()] = n_ch + which["set"].to_numpy().astype(np.int64)
    set_codes = sets["c"].explode().to_numpy().astype(np.int64)
    set_sizes = sets["c"].list.len().to_numpy().astype(np.int64)
    n_sets = sets.height
    members: Matrix
    if _small((n_ch + n_sets) * n_ch):
        members = np.zeros((n_ch + n_sets, n_ch), dtype=bool)
        members[np.arange(n_ch), np.arange(n_ch)] = True
        members[n_ch + np.repeat(np.arange(n_sets), set_sizes), set_codes] = True
    else:
        sp = _sparse()
        members = sp.vstack(
            [
                sp.identity(n_ch, dtype=bool, format="csr"),
                sp.csr_matrix(
                    (np.ones(len(set_codes), dtype=bool), set_codes, csr_offsets(set_sizes)),
                    shape=(n_sets, n_ch),
                ),
            ]
        ).tocsr()
    row_of_group = journeys.row_of_touch[np.r_[True, group[1:] != group[:-1]]]
    names = np.array(journeys.channels, dtype=object)
    quoted = np.array(ids, dtype=object)
    for k in range(n_sets):  # a loop over the distinct sets of tied channels
        chans = set_codes[csr_offsets(set_sizes)[k] : csr_offsets(set_sizes)[k + 1]]
        labels.append("{" + ", ".join(names[chans]) + "}")
        ids.append("[" + ",".join(quoted[chans]) + "]")
    stepped = replace(
        journeys,
        channels=tuple(labels),
        codes=symbol.astype(np.uint32),
        offsets=csr_offsets(np.bincount(row_of_group, minlength=journeys.n_rows)),
        days_before=None,
        tie=None,
    )
    return _Steps(stepped, members, labels, ids)


# -- the chain ----------------------------------------------------------------
@dataclass(frozen=True)
class _Chain:
    """Transition counts of the order-k chain of some journeys.

    Index 0 is the start, 1..S the observed states (sorted by their channel
    codes), S + 1 conversion and S + 2 null.
    """

    order: int
    channels: tuple[str, ...]
    names: list[str]  # S state labels (channels joined by STATE_SEP), for people
    ids: list[str]  # S state identities, unique by construction (JSON arrays)
    members: Matrix  # (S, n_channels) bool: the state's window holds the channel
    counts: Matrix  # (S + 3, S + 3) weighted transition counts (dense when small)
    value: np.ndarray  # (S + 1,) conversion value of journeys whose last state it is

    @property
    def n_states(self) -> int:
        return len(self.names)

    @property
    def state_names(self) -> list[str]:
        return [START, *self.names, CONVERSION, NULL]

    @property
    def state_ids(self) -> list[str]:
        return [START, *self.ids, CONVERSION, NULL]

    @property
    def state_kinds(self) -> list[str]:
        return ["start", *(["state"] * len(self.names)), "conversion", "null"]


def _distinct(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of one occurrence of each distinct key (in key order), and the
    rank of every key among the distinct ones."""
    if len(keys) and int(keys.max()) < max(_DENSE_KEYS, 4 * len(keys)):
        # Small key space (low order, few channels): a lookup table, no sort.
        seen = np.zeros(int(keys.max()) + 1, dtype=bool)
        seen[keys] = True
        rank = np.cumsum(seen) - 1
        one = np.empty(len(seen), dtype=np.int64)
        one[keys] = np.arange(len(keys))  # any occurrence will do
        return one[seen], rank[keys]
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return first, inverse.astype(np.int64)


def _build_chain(journeys: Journeys, order: int) -> _Chain:
    """Count the chain's transitions straight from the CSR arrays."""
    weight = journeys.conversions + journeys.nulls
    real = journeys.select(weight > 0) if not (weight > 0).all() else journeys
    steps = _steps_of(real)
    j = steps.journeys
    n_ch = steps.members.shape[0]  # symbols: channels, then sets of tied channels
    codes = j.codes.astype(np.int64)
    lengths = j.lengths
    width = np.minimum(lengths, order)
    row = j.row_of_touch
    if order == 1:  # every touch starts a window of itself
        starts, srow, keys = np.arange(len(codes)), row, codes + 1
    else:
        n_windows = lengths - width + 1
        starts = np.flatnonzero(j.position < n_windows[row])
        srow = row[starts]
        keys = _window_keys(codes, starts, width[srow], order, n_ch + 1)

    # Merge consecutive identical states of a journey (at order 1: a > a > b is a -> b).
    same = np.zeros(len(keys), dtype=bool)
    same[1:] = (srow[1:] == srow[:-1]) & (keys[1:] == keys[:-1])
    starts, srow, keys = starts[~same], srow[~same], keys[~same]

    first, inverse = _distinct(keys)
    n_states = len(first)
    sid = inverse + 1
    conv_id, null_id, size = n_states + 1, n_states + 2, n_states + 3

    head = np.ones(len(sid), dtype=bool)
    head[1:] = srow[1:] != srow[:-1]
    tail = np.ones(len(sid), dtype=bool)
    tail[:-1] = head[1:]
    inner = ~tail
    w = j.conversions + j.nulls
    last = sid[tail]  # one per row, in row order
    step_src, step_dst = sid[inner], sid[1:][inner[:-1]]
    if size * size <= _DENSE_KEYS:  # bincounts beat sorting the edges
        dense = (
            np.bincount(step_src * size + step_dst, weights=w[srow[inner]], minlength=size * size)
            .reshape(size, size)
            .astype(np.float64, copy=False)
        )  # int64 when nothing to count
        dense[0] += np.bincount(sid[head], weights=w, minlength=size)
        dense[:, conv_id] += np.bincount(last, weights=j.conversions, minlength=size)
        dense[:, null_id] += np.bincount(last, weights=j.nulls, minlength=size)
        counts: Matrix = dense
    else:
        sp = _sparse()
        src = np.concatenate([np.zeros(j.n_rows, dtype=np.int64), step_src, last, last])
        dst = np.concatenate(
            [sid[head], step_dst, np.full(j.n_rows, conv_id), np.full(j.n_rows, null_id)]
        )
        cnt = np.concatenate([w, w[srow[inner]], j.conversions, j.nulls])
        counts = sp.coo_matrix((cnt, (src, dst)), shape=(size, size)).tocsr()
        counts.eliminate_zeros()
    value = np.bincount(last, weights=j.value, minlength=n_states + 1)

    # Channels of each state, read from one occurrence of its window.
    rep, rep_width = starts[first], width[srow[first]]
    state_idx, channel_idx = [], []
    for k in range(order):
        has = k < rep_width
        state_idx.append(np.flatnonzero(has))
        channel_idx.append(codes[rep[has] + k])
    members: Matrix
    if isinstance(steps.members, np.ndarray) and _small(n_states * steps.members.shape[1]):
        members = np.zeros((n_states, steps.members.shape[1]), dtype=bool)
        for si, ci in zip(state_idx, channel_idx, strict=True):  # a loop over window slots
            members[si] |= steps.members[ci]  # a state is once in each slot's list
    else:
        sp = _sparse()
        si, ci = np.concatenate(state_idx), np.concatenate(channel_idx)
        symbols = sp.csr_matrix(
            (np.ones(len(si)), (si, ci)), shape=(n_states, n_ch), dtype=np.float64
        )
        members = sp.csr_matrix((symbols @ _csr(steps.members).astype(np.float64)) > 0)
    names, ids = _state_names(steps.labels, steps.ids, codes, rep, rep_width)
    return _Chain(order, real.channels, names, ids, members, counts, value)


def _state_names(
    labels: list[str], ids: list[str], codes: np.ndarray, rep: np.ndarray, width: np.ndarray
) -> tuple[list[str], list[str]]:
    """Label and identity of each state, from one occurrence of its window of
    symbols (``labels`` and ``ids`` of :class:`_Steps`).

    The label joins the window's symbols with STATE_SEP, so two states may
    print alike (a channel named ``a > b`` against the window ``a``, ``b``) and a
    channel may be named like an engine node (``(null)``). The identity is the
    window as a JSON array of its symbols (``["a","b"]``, ``[["a","b"],"c"]``):
    distinct for distinct windows, never one of START, CONVERSION, NULL, and
    plain ASCII.
    """
    if len(rep) == 0:
        return [], []
    row = np.repeat(np.arange(len(rep)), width)
    touch = np.repeat(rep, width) + (
        np.arange(len(row)) - np.repeat(np.cumsum(width) - width, width)
    )
    code = pl.Series(codes[touch], dtype=pl.Int64)
    names = pl.Series(labels, dtype=pl.String)
    quoted = pl.Series(ids, dtype=pl.String)
    frame = pl.DataFrame({"row": row, "name": names.gather(code), "id": quoted.gather(code)})
    joined = frame.group_by("row", maintain_order=True).agg(
        pl.col("name").str.join(STATE_SEP), ("[" + pl.col("id").str.join(",") + "]").alias("id")
    )
    return joined["name"].to_list(), joined["id"].to_list()


def _probabilities(counts: Matrix) -> Matrix:
    out = _row_sums(counts)
    scale = np.divide(1.0, out, out=np.zeros_like(out), where=out > 0)
    if isinstance(counts, np.ndarray):
        return counts * scale[:, None]
    sp = _sparse()
    return sp.csr_matrix(sp.diags(scale) @ counts)


@dataclass(frozen=True)
class _Solution:
    probability: float  # P(conversion) from the start
    value: float  # expected conversion value per journey from the start
    probability_without: np.ndarray  # per channel
    value_without: np.ndarray  # per channel


def _solve(chain: _Chain, method: str = "auto") -> _Solution:
    """P(conversion) and expected value, with and without each channel, exactly.

    Removing channel c sends every transition into a state that holds c to
    null, so those states become unreachable: P_without_c is the absorption
    probability of the chain restricted to the other transient states.
    ``method`` is ``dense`` (Woodbury on the fundamental matrix), ``iterative``
    (batched fixed-point steps with a proven error bound), ``removals`` (block
    GMRES over the removals, each with a proven error bound), ``splu`` (one
    sparse LU per channel) or ``auto``: the cheaper of dense (up to
    DENSE_STATES states) and iterative, or removals when the full chain keeps
    journeys too long to iterate.
    """
    s, n_ch = chain.n_states, len(chain.channels)
    if s == 0:
        zero = np.zeros(n_ch)
        return _Solution(0.0, 0.0, zero, zero.copy())
    probs = _probabilities(chain.counts)
    transient = s + 1
    to_conv = _column(probs, transient, s + 1)
    conv_count = _column(chain.counts, transient, s + 1)
    # Each conversion's value belongs to the last state before it, so the value
    # reaching conversion is P(conversion via the state) x its mean value.
    mean_value = np.divide(chain.value, conv_count, out=np.zeros(transient), where=conv_count > 0)
    rhs = np.column_stack([to_conv, to_conv * mean_value])
    if not to_conv.any():  # nothing converts: nothing to lose either
        zero = np.zeros(n_ch)
        return _Solution(0.0, 0.0, zero, zero.copy())
    dense_q = probs[:transient, :transient]
    if isinstance(dense_q, np.ndarray) and (
        method == "dense" or (method == "auto" and transient**3 / 10 <= _DENSE_AT_ONCE)
    ):
        return _solve_dense(dense_q, rhs, chain.members)
    q, members = _csr(dense_q), _sparse().csc_matrix(chain.members)
    steps = None
    if method in ("auto", "iterative"):
        steps = _steps(q, rhs, float(mean_value.max()))
    if method == "auto":
        # Rough costs: sparse products of every removal's chain per step against
        # one dense LU (BLAS runs many times faster per flop than sparse products).
        iterative = np.inf if steps is None else steps * q.nnz * (2.0 * n_ch + 2)
        if transient <= DENSE_STATES and transient**3 / 10 < iterative:
            method = "dense"
        else:
            method = "removals" if steps is None else "iterative"
    if method == "dense":
        return _solve_dense(q, rhs, members)
    if method == "iterative" and steps is not None:
        return _solve_iterative(q, rhs, members, steps)
    if method == "removals":
        # Expected visits of each state per journey: its outgoing count over the
        # journeys (flow is conserved in a chain fitted on whole walks), so P and
        # the value per journey of the full chain are its journeys' own.
        out = _row_sums(chain.counts[:transient])
        full = np.array([conv_count.sum(), chain.value.sum()]) / out[0]
        return _solve_removals(q, rhs, members, out / out[0], full)
    return _solve_splu(q, rhs, members)


def _holding(members: Matrix, c: int) -> np.ndarray:
    """Transient indices (start is 0) of the states that hold channel ``c``."""
    if isinstance(members, np.ndarray):
        return np.flatnonzero(members[:, c]) + 1
    return members.indices[members.indptr[c] : members.indptr[c + 1]] + 1


def _solve_dense(q: Matrix, rhs: np.ndarray, members: Matrix) -> _Solution:
    # Fundamental matrix N = (I - Q)^-1. Woodbury: with the states D holding c
    # cut off, x_c(start) = x(start) - N[start, D] N[D, D]^-1 x[D].
    n, n_ch = q.shape[0], members.shape[1]
    if not isinstance(members, np.ndarray):
        members = members.tocsc()
    a = np.eye(n) - (q if isinstance(q, np.ndarray) else q.toarray())
    both = np.linalg.solve(a, np.column_stack([rhs, np.eye(n)]))
    x, fundamental = both[:, :2], both[:, 2:]
    without = np.tile(x[0], (n_ch, 1))
    for c in range(n_ch):
        d = _holding(members, c)
        if len(d):
            z = np.linalg.solve(fundamental[np.ix_(d, d)], x[d])
            without[c] = x[0] - fundamental[0, d] @ z
    return _Solution(float(x[0, 0]), float(x[0, 1]), without[:, 0], without[:, 1])


def _steps(q: sp.csr_matrix, rhs: np.ndarray, max_mean_value: float) -> int | None:
    """Fixed-point steps ``x <- Q x + r`` (from 0) that get P and the value right.

    After n steps the error at the start is ``(Q^n x)(start)``, at most the
    share of journeys still in the chain, ``(Q^n 1)(start)`` (times the largest
    mean value, for value). A chain with a channel removed keeps fewer, so the
    n found here bounds every removal's error too. None past _MAX_STEPS, or
    as soon as the bound's recent rate of decay could not reach it by then.
    """
    x = np.zeros_like(rhs)
    u = np.ones(q.shape[0])
    before = 1.0
    for steps in range(1, _MAX_STEPS + 1):
        x = q @ x + rhs
        u = q @ u
        value_scale = x[0, 1] / max_mean_value if max_mean_value > 0 else np.inf
        target = _TOL * min(x[0, 0], value_scale)
        if u[0] == 0 or u[0] <= target:
            return steps
        if steps % _CHECK == 0:
            # Decay only slows down as the slowest mode takes over, so a
            # projection past _MAX_STEPS at the recent rate will not make it.
            rate = (u[0] / before) ** (1.0 / _CHECK)
            if rate >= 1.0 or steps + np.log(target / u[0]) / np.log(rate) > _MAX_STEPS:
                return None
            before = u[0]
    return None


def _solve_iterative(
    q: sp.csr_matrix, rhs: np.ndarray, members: sp.csc_matrix, steps: int
) -> _Solution:
    """``steps`` fixed-point steps of the full chain and of every removal at once."""
    n_ch = members.shape[1]
    x = np.zeros_like(rhs)
    for _ in range(steps):
        x = q @ x + rhs
    without = np.zeros((n_ch, 2))
    for lo in range(0, n_ch, _CHUNK):
        cs = np.arange(lo, min(lo + _CHUNK, n_ch))
        # keep[i, j]: state i does not hold channel cs[j] (the start holds none),
        # so paths into states that hold it are worth nothing (sent to null).
        keep = np.vstack([np.ones((1, len(cs)), dtype=bool), ~members[:, cs].toarray()])
        keep = np.hstack([keep, keep])
        r = np.repeat(rhs, len(cs), axis=1) * keep
        y = np.zeros_like(r)
        for _ in range(steps):
            y = (q @ y + r) * keep
        without[cs, 0], without[cs, 1] = y[0, : len(cs)], y[0, len(cs) :]
    return _Solution(float(x[0, 0]), float(x[0, 1]), without[:, 0], without[:, 1])


def _block_bicgstab(
    step: Any, b: np.ndarray, visits: np.ndarray, allowed: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Solve ``x = step(x) + b`` for every column at once by BiCGSTAB; return x
    and which columns met the error bound of :func:`_block_gmres`.

    Two products with the chain per iteration and a handful of vector
    operations, against GMRES's Gram-Schmidt over its whole basis at every
    step: on big chains whose removals need dozens of Krylov steps that
    orthogonalisation is most of GMRES's time. BiCGSTAB's own residual drifts,
    so a column is accepted only on its true residual, checked every
    _BICG_CHECK iterations; a column that breaks down or stalls is left to GMRES.
    """
    n, m = b.shape
    x = np.zeros_like(b)
    done = np.zeros(m, dtype=bool)
    tiny = np.finfo(float).tiny

    def apply(y: np.ndarray, cols: np.ndarray) -> np.ndarray:
        return y - step(y, cols)

    def dot(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        return np.einsum("ij,ij->j", u, v)

    act = np.arange(m)
    r = b.copy()
    # A dense shadow vector: the residual's own (the textbook choice) is a spike
    # at the converting states here, orthogonal to the next residual at once.
    # Fixed, so the iterations (and the result) are the same on every run.
    shadow = np.random.default_rng(0).random((n, m)) + 0.5
    p = np.zeros_like(b)
    v = np.zeros_like(b)
    rho = alpha = omega = np.ones(m)
    for it in range(1, _BICG_ITERATIONS + 1):  # a loop over iterations, all columns at once
        rho_new = dot(shadow, r)
        with np.errstate(divide="ignore", invalid="ignore"):
            beta = (rho_new / rho) * (alpha / omega)
        p = r + beta * (p - omega * v)
        v = apply(p, act)
        with np.errstate(divide="ignore", invalid="ignore"):
            alpha = rho_new / dot(shadow, v)
        s = r - alpha * v
        t = apply(s, act)
        tt = dot(t, t)
        with np.errstate(divide="ignore", invalid="ignore"):
            omega = np.where(tt > tiny, dot(t, s) / tt, 0.0)
        # A breakdown (a zero inner product; a column already solved exactly
        # ends this way) keeps the column's last iterate for the check below.
        finite = np.isfinite(alpha) & np.isfinite(omega)
        x[:, act] += np.where(finite, alpha * p + omega * s, 0.0)
        broken = ~finite | (omega == 0.0)  # omega 0: this step's half is kept, no next
        r = s - omega * t
        rho = rho_new
        if it % _BICG_CHECK == 0 or broken.any():
            true = b[:, act] - apply(x[:, act], act)
            met = visits @ np.abs(true) <= allowed[act]
            done[act[met]] = True
            keep = ~met & ~broken  # a column proven here stops, with the x just checked
            act, r, shadow, p, v = act[keep], r[:, keep], shadow[:, keep], p[:, keep], v[:, keep]
            rho, alpha, omega = rho[keep], alpha[keep], omega[keep]
            if len(act) == 0:
                break
    return x, done


def _block_gmres(
    step: Any, b: np.ndarray, visits: np.ndarray, allowed: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Solve ``x = step(x) + b`` for every column at once by restarted GMRES;
    return x and which columns met their error bound.

    ``step(y, cols)`` applies the chain of columns ``cols`` (each column has
    its own chain) to ``y``. Column j is done when ``visits @ |residual|`` is at
    most ``allowed[j]``: the error at the start is ``N[start] @ residual``, and
    ``N[start, i]``, the expected visits of state i, is at most ``visits[i]``
    in the full chain and in every chain with states or transitions removed.
    So the bound is a proof, not an estimate.
    """
    n, m = b.shape
    every = np.arange(m)
    x = np.zeros_like(b)
    done = np.zeros(m, dtype=bool)
    for _ in range(_CYCLES):  # a loop over restarts
        r = b - x + step(x, every)
        done = visits @ np.abs(r) <= allowed
        act = np.flatnonzero(~done)
        if len(act) == 0:
            return x, done
        beta = np.linalg.norm(r[:, act], axis=0)
        basis = np.zeros((len(act), _RESTART + 1, n))  # Arnoldi vectors, column by column
        basis[:, 0, :] = (r[:, act] / beta).T
        h = np.zeros((len(act), _RESTART + 1, _RESTART))
        size = _RESTART
        for j in range(_RESTART):  # a loop over Krylov steps
            z = basis[:, j, :].T
            w = (z - step(z, act)).T
            before = np.linalg.norm(w, axis=1)
            for _ in range(2):  # Gram-Schmidt, twice when it cancelled much ("twice is enough")
                # einsum, not matmul: a stack of matrix-vector products on a
                # sliced basis falls back to numpy's slow loop, ten times slower.
                c = np.einsum("ijn,in->ij", basis[:, : j + 1], w)
                w -= np.einsum("ij,ijn->in", c, basis[:, : j + 1])
                h[:, : j + 1, j] += c
                norm = np.linalg.norm(w, axis=1)
                if (norm >= 0.7 * before).all():
                    break
                before = norm
            h[:, j + 1, j] = norm
            basis[:, j + 1, :] = w / np.where(norm > 0, norm, 1.0)[:, None]
            if not (norm > 1e-300).all():  # an exact solution inside the space
                size = j + 1
                break
        coef = np.zeros((len(act), size))
        for i in range(len(act)):  # small least-squares problems, one per column
            target = np.zeros(size + 1)
            target[0] = beta[i]
            coef[i] = np.linalg.lstsq(h[i, : size + 1, :size], target, rcond=None)[0]
        x[:, act] += np.einsum("ij,ijn->ni", coef, basis[:, :size])
    done = visits @ np.abs(b - x + step(x, every)) <= allowed
    return x, done


@dataclass(frozen=True)
class _Contracted:
    """The transient chain with its pass-through states (one way out, into a
    transient state) folded into the transitions that lead through them.

    Reduced state k is transient state ``states[k]`` (0, the start, first).
    Edge e goes from ``src[e]`` to ``dst[e]`` (reduced indices) with
    probability ``prob[e]``, through pass-through states holding the channels
    of bit set ``through[e]`` (``words`` uint64 per edge); ``holds`` is the bit
    set of each reduced state's own channels.
    """

    states: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    prob: np.ndarray
    through: np.ndarray  # (n_edges, words) uint64
    holds: np.ndarray  # (n_reduced, words) uint64

    def alive(self, bits: np.ndarray, cs: np.ndarray) -> np.ndarray:
        """Bool (rows of ``bits``, len(cs)): the row's set lacks channel cs[j]."""
        word = bits[:, cs // 64]
        return (word >> (cs % 64).astype(np.uint64)) & np.uint64(1) == 0


def _contract(q: sp.csr_matrix, members: sp.csr_matrix) -> _Contracted:
    """Fold pass-through states away (linear time, pointer doubling).

    A walk into a pass-through state j goes on to j's successor for sure, so
    ``x[j] = keep[j] * x[next]``; following such states to the first that is
    not one, a transition into j becomes a transition to that state that a
    removal kills when any state on the way holds the channel. Long journeys
    (a few branch points on long stretches of new states) shrink many times.
    """
    n = q.shape[0]
    n_ch = members.shape[1]
    words = max(1, (n_ch + 63) // 64)
    bits = np.zeros((n, words), dtype=np.uint64)
    coo = members.tocoo()
    np.bitwise_or.at(
        bits,
        (coo.row + 1, coo.col // 64),
        np.left_shift(np.uint64(1), (coo.col % 64).astype(np.uint64)),
    )
    out_degree = np.diff(q.indptr)
    # one transition, of probability 1 (so none to an absorbing state), not a loop
    single = np.flatnonzero(out_degree == 1)
    succ = q.indices[q.indptr[single]]
    sure = np.isclose(q.data[q.indptr[single]], 1.0) & (succ != single) & (single != 0)
    passing = np.zeros(n, dtype=bool)
    passing[single[sure]] = True
    nxt = np.arange(n)
    nxt[single[sure]] = succ[sure]
    acc = bits.copy()
    todo = np.flatnonzero(passing)
    todo = todo[passing[nxt[todo]]]
    for _ in range(64):  # pointer doubling: log2 of the longest stretch rounds
        if len(todo) == 0:
            break
        acc[todo] |= acc[nxt[todo]]
        nxt[todo] = nxt[nxt[todo]]
        todo = todo[passing[nxt[todo]]]
    states = np.flatnonzero(~passing)
    index = np.full(n, -1, dtype=np.int64)
    index[states] = np.arange(len(states))
    coo_q = q[states].tocoo()
    target = coo_q.col
    through = np.where(passing[target][:, None], acc[target], np.uint64(0))
    return _Contracted(
        states=states,
        src=coo_q.row.astype(np.int64),
        dst=index[nxt[target]],
        prob=coo_q.data.astype(np.float64),
        through=through,
        holds=bits[states],
    )


def _solve_removals(
    q: sp.csr_matrix,
    rhs: np.ndarray,
    members: sp.csc_matrix,
    visits: np.ndarray,
    full: np.ndarray,
) -> _Solution:
    """Every removal's chain solved by block GMRES on the contracted chain, for
    chains that keep journeys too long for :func:`_solve_iterative` (one long
    journey, say).

    The full chain's P and value (``full``) are known from the counts. Each
    removal (states holding the channel cut off; both right-hand sides) is a
    column of :func:`_block_gmres` on :func:`_contract`'s chain, accepted when
    its proven error bound is below _KRYLOV_TOL x P (or x the value); a
    removal that does not settle gets a sparse LU.

    Such chains (many states, cycles everywhere) fill a sparse LU in almost
    completely, while GMRES needs a few dozen products with Q: their
    transition matrices have one eigenvalue near 1 and the rest near 0.
    """
    sp = _sparse()
    n, n_ch = q.shape[0], members.shape[1]
    without = np.tile(full, (n_ch, 1))
    red = _contract(q, members.tocsr())
    n_red = len(red.states)
    # Edges through folded states die with any channel on the way, so each
    # removal weighs them apart (a gather); the others are one sparse product
    # shared by every removal, the kill applied to the states reached.
    plain = ~red.through.any(axis=1)
    q_plain = sp.csr_matrix(
        (red.prob[plain], (red.src[plain], red.dst[plain])), shape=(n_red, n_red)
    )
    folded = np.flatnonzero(~plain)
    dst_folded = red.dst[folded]
    gather = sp.csr_matrix(
        (np.ones(len(folded)), (red.src[folded], np.arange(len(folded)))),
        shape=(n_red, len(folded)),
    )
    rhs_red, visits_red = rhs[red.states], visits[red.states]
    todo = np.flatnonzero(np.diff(members.indptr) > 0)  # channels some state holds
    # Columns per block: BiCGSTAB holds about a dozen vectors a column, GMRES
    # its basis of _RESTART + 1 (it takes the few columns BiCGSTAB leaves).
    size = max(n_red, len(folded), 1)
    width = max(1, _BLOCK_ELEMENTS // (2 * 12 * size))
    gmres_width = max(1, _BLOCK_ELEMENTS // ((_RESTART + 1) * size))
    with progress.task("markov: removal effects", total=n_ch) as tick:
        tick.advance(n_ch - len(todo))
        for lo in range(0, len(todo), width):  # a loop over blocks of channels
            cs = todo[lo : lo + width]
            keep = red.alive(red.holds, cs).astype(np.float64)
            keep[0] = 1.0  # the start holds no channel
            weight = red.alive(red.through[folded], cs) * red.prob[folded, None]
            keep2, weight2 = np.hstack([keep, keep]), np.hstack([weight, weight])

            def step(
                y: np.ndarray, cols: np.ndarray, k: np.ndarray = keep2, w: np.ndarray = weight2
            ) -> np.ndarray:
                # y is zero on the states its column's removal kills (b is, and
                # every step's output is), so the plain edges need no weights.
                return k[:, cols] * (q_plain @ y + gather @ (w[:, cols] * y[dst_folded]))

            b = np.repeat(rhs_red, len(cs), axis=1) * keep2
            allowed = _KRYLOV_TOL * np.repeat(np.maximum(full, np.finfo(float).tiny), len(cs))
            x, done = _block_bicgstab(step, b, visits_red, allowed)
            left = np.flatnonzero(~done)
            for at in range(0, len(left), gmres_width):  # the rare columns it leaves
                rest = left[at : at + gmres_width]
                x_rest, done_rest = _block_gmres(
                    lambda y, cols, rest=rest: step(y, rest[cols]),
                    b[:, rest],
                    visits_red,
                    allowed[rest],
                )
                x[:, rest], done[rest] = x_rest, done_rest
            without[cs, 0], without[cs, 1] = x[0, : len(cs)], x[0, len(cs) :]
            for c in cs[~(done[: len(cs)] & done[len(cs) :])]:  # rare: no settling
                import scipy.sparse.linalg as spla  # 0.1 s to import: only when needed

                rows = np.flatnonzero(~np.isin(np.arange(n), _holding(members, c)))
                lu = spla.splu((sp.identity(len(rows), format="csc") - q[rows][:, rows]).tocsc())
                without[c] = lu.solve(rhs[rows])[0]
            tick.advance(len(cs))
    return _Solution(float(full[0]), float(full[1]), without[:, 0], without[:, 1])


def _solve_splu(q: sp.csr_matrix, rhs: np.ndarray, members: sp.csc_matrix) -> _Solution:
    import scipy.sparse.linalg as spla  # only this rare case needs it; it takes 0.1 s to import

    sp = _sparse()
    n, n_ch = q.shape[0], members.shape[1]
    a = (sp.identity(n, format="csc") - q.tocsc()).tocsc()
    x = spla.splu(a).solve(rhs)
    without = np.tile(x[0], (n_ch, 1))
    holds = np.zeros(n, dtype=bool)
    with progress.task("markov: removal effects", total=n_ch) as tick:
        for c in range(n_ch):
            d = _holding(members, c)
            if len(d):
                holds[:] = False
                holds[d] = True
                keep = np.flatnonzero(~holds)
                without[c] = spla.splu(a[keep][:, keep].tocsc()).solve(rhs[keep])[0]
            tick.advance()
    return _Solution(float(x[0, 0]), float(x[0, 1]), without[:, 0], without[:, 1])


def _removal_effects(full: float, without: np.ndarray) -> np.ndarray:
    if full <= 0:
        return np.zeros_like(without)
    # Removing a channel can only lose conversions; clip rounding noise.
    return np.clip(1.0 - without / full, 0.0, 1.0)


def _share(total: float, weights: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    weights = weights if weights.sum() > 0 else fallback
    if total == 0 or weights.sum() <= 0:
        return np.zeros_like(weights)
    return total * weights / weights.sum()


def _credit(
    journeys: Journeys, re: np.ndarray, vre: np.ndarray
) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    """Channel credit (conversions, value) from the removal effects, and which
    channels converting journeys touch (the others get nothing)."""
    converting = journeys.conversions > 0
    seen = np.zeros(journeys.n_channels, dtype=bool)
    seen[journeys.codes[converting[journeys.row_of_touch]]] = True
    conv = _share(journeys.total_conversions, re * seen, seen.astype(float))
    val = _share(journeys.total_value, vre * seen, re * seen)
    return (conv, val), seen


# -- the model ----------------------------------------------------------------
class Markov(Model):
    """Markov chain attribution by removal effect, computed exactly.

    Each journey is a walk ``(start) -> state -> ... -> state -> (conversion)``
    or ``(null)`` through order-k states: windows of k consecutive channels
    (a path shorter than k is one shorter state), consecutive identical states
    merged, weighted by the journeys a row stands for. The removal effect of a
    channel is ``RE(c) = 1 - P_without_c / P``, where ``P`` is the chain's
    probability of reaching conversion from the start and ``P_without_c`` the
    same with every transition into a state holding ``c`` sent to null. Both
    are absorption probabilities, never simulated: a Woodbury update of the
    fundamental matrix for small chains, batched fixed-point steps with an
    error bound of 1e-14 for large ones, one sparse LU per channel for chains
    with long cycles (see ``docs/markov.md``). Credit is
    ``total conversions x RE(c) / sum(RE)``.

    Conversion value is tied to the last state before each conversion (its
    mean value per conversion), so the expected value reaching conversion is
    exact and value removal effects and value credit follow the same way.
    A channel seen only in null journeys gets no credit and is listed in
    :meth:`details`.

    Parameters
    ----------
    order : int or "auto"
        Chain order k >= 1 (default 1). ``"auto"`` picks the order in
        1..``max_order`` with the lowest cross-validated log-loss of
        P(conversion | last state) (see :func:`order_scores`).
    max_order : int
        Highest order ``"auto"`` tries. Default 4.
    folds : int
        Cross-validation folds of ``"auto"``, at least 2. Default 5.
    seed : int
        Seed of the random fold split of ``"auto"``. Default 0.

    Attributes
    ----------
    removal_effects_, value_removal_effects_ : dict of str to float
        Removal effect of each channel on conversions and on value.
    conversion_probability_, expected_value_ : float
        P(conversion) and the expected conversion value per journey of the full
        chain (equal to the journeys' own rate and value per journey).
    null_only_channels_ : list of str
        Channels that appear in no converting journey (credited nothing).
    order_ : int
        The order used. ``order_scores_`` (dict order -> log-loss) is set when
        ``order="auto"``, else None.
    states_ : list of str
        ``(start)``, the states (channels joined by ``" > "``), ``(conversion)``,
        ``(null)``.
    transition_matrix_, transition_counts_ : scipy.sparse.csr_matrix
        Row-stochastic probabilities (absorbing states loop to themselves) and
        weighted counts over ``states_``.

    References
    ----------
    Anderl, E., Becker, I., von Wangenheim, F., Schumann, J. H. (2016).
    Mapping the customer journey: Lessons learned from graph-based online
    attribution modeling. International Journal of Research in Marketing
    33(3), 457-474.
    Altomare, D., Loris, D. ChannelAttribution: Markov model for online
    multi-channel attribution (R/Python package; the state conventions).
    Kemeny, J. G., Snell, J. L. (1960). Finite Markov Chains (absorption
    probabilities and the fundamental matrix).
    """

    name = "markov"
    description = "Markov chain removal effects, exact (order k or auto), value tied to last state."
    summary = (
        "Credits each channel by how many conversions would be lost if the channel were taken"
        " out of the customers' journeys."
    )
    constraints: ClassVar[Constraints] = {
        "order": (Interval(Integral, 1, None, closed="left"), Options("auto")),
        "max_order": Interval(Integral, 1, None, closed="left"),
        "folds": Interval(Integral, 2, None, closed="left"),
        "seed": Interval(Integral, 0, None, closed="left"),
    }
    combine = "paths"  # runs once on the combined paths of all partitions

    def __init__(
        self,
        *,
        order: int | Literal["auto"] = 1,
        max_order: int = 4,
        folds: int = 5,
        seed: int = 0,
    ) -> None:
        self.order = order
        self.max_order = max_order
        self.folds = folds
        self.seed = seed

    def attribute(self, journeys: Journeys) -> pl.DataFrame:
        order, scores = _choose_order(journeys, self.order, self.max_order, self.folds, self.seed)
        chain = _build_chain(journeys, order)
        solution = _solve(chain)
        re = _removal_effects(solution.probability, solution.probability_without)
        vre = _removal_effects(solution.value, solution.value_without)
        (conv, val), seen = _credit(journeys, re, vre)

        self.order_ = order
        self.order_scores_ = scores
        self.conversion_probability_ = solution.probability
        self.expected_value_ = solution.value
        self.removal_effects_ = dict(zip(journeys.channels, re.tolist(), strict=True))
        self.value_removal_effects_ = dict(zip(journeys.channels, vre.tolist(), strict=True))
        self.null_only_channels_ = [
            c for c, s in zip(journeys.channels, seen, strict=True) if not s
        ]
        self.states_ = chain.state_names
        self.state_ids_ = chain.state_ids
        self.state_kinds_ = chain.state_kinds
        self._counts = chain.counts
        return credit_frame(journeys, conv, val)

    # Sparse matrices made when asked for: a run that never reads them, on a
    # small chain, never imports scipy.
    @property
    def transition_counts_(self) -> sp.csr_matrix:
        return _csr(self._counts)

    @property
    def transition_matrix_(self) -> sp.csr_matrix:
        counts = self._counts
        absorbing = np.array([counts.shape[0] - 2, counts.shape[0] - 1])
        probs = _csr(_probabilities(counts))
        loops = _sparse().csr_matrix((np.ones(2), (absorbing, absorbing)), shape=counts.shape)
        return _sparse().csr_matrix(probs + loops)

    # issue 17: the per-conversion grain
    def attribute_rows(self, journeys: Journeys) -> RowCredit:
        """Credit per converting journey: each journey's conversions shared among its
        distinct channels in proportion to their removal effects, times one factor
        per channel fitted so that the channel totals are the model's
        (:func:`attribution.grains.split_in_proportion`; value likewise with the value
        removal effects). Uses the removal effects of the last fit (fitting on
        ``journeys`` when there is none), so credit split by period is the split
        of one fit. See ``docs/grains.md``.
        """
        from attribution.grains import split_in_proportion

        if not hasattr(self, "removal_effects_"):
            self.attribute(journeys)
        re = np.array([self.removal_effects_.get(c, 0.0) for c in journeys.channels])
        vre = np.array([self.value_removal_effects_.get(c, 0.0) for c in journeys.channels])
        (conv, val), seen = _credit(journeys, re, vre)
        weights = re * seen if (re * seen).sum() > 0 else seen.astype(float)
        value_weights = vre * seen if (vre * seen).sum() > 0 else weights
        return split_in_proportion(
            journeys,
            weights,
            value_weights,
            conv,
            val,
            split="each journey's share by removal effect, rescaled per channel",
        )

    def transition_table(self) -> pl.DataFrame:
        """The observed transitions of the fitted chain as an edge list.

        ``from, to, count, probability, from_kind, to_kind``: one row per
        observed transition, by state index (start first); ``count`` is the
        journeys that made it and ``probability`` its share of the journeys
        leaving ``from``. The kinds are ``start``, ``state``, ``conversion`` and
        ``null``, and ``from_label``/``to_label`` the text for people (the
        :class:`~attribution.capabilities.HasTransitions` contract; see :func:`transition_table`).
        """
        if not hasattr(self, "states_"):
            raise ModelError("markov: transition_table() needs a fitted model; call attribute()")
        return _edge_table(self.state_ids_, self.states_, self.state_kinds_, self._counts)

    def details(self) -> dict[str, Any]:
        if not hasattr(self, "order_"):
            return {}
        return {
            "order": self.order_,
            "order_scores": None
            if self.order_scores_ is None
            else {str(k): v for k, v in self.order_scores_.items()},
            "conversion_probability": self.conversion_probability_,
            "expected_value": self.expected_value_,
            "removal_effects": self.removal_effects_,
            "value_removal_effects": self.value_removal_effects_,
            "null_only_channels": self.null_only_channels_,
            "states": len(self.states_) - 3,
            "transitions": len(_entries(self._counts)[0]),
        }


def _edge_table(
    ids: list[str], labels: list[str], kinds: list[str], counts: Matrix
) -> pl.DataFrame:
    row, col, data = _entries(counts)
    order = np.lexsort((col, row))
    src, dst, cnt = row[order], col[order], np.asarray(data, dtype=np.float64).ravel()[order]
    out = _row_sums(counts)
    frame = pl.DataFrame(
        {
            "id": pl.Series(ids, dtype=pl.String),
            "label": pl.Series(labels, dtype=pl.String),
            "kind": pl.Series(kinds, dtype=pl.String),
        }
    )
    ends = {}
    for side, index in (("from", src), ("to", dst)):
        node = frame[pl.Series(index, dtype=pl.Int64)]
        ends.update(
            {side: node["id"], f"{side}_kind": node["kind"], f"{side}_label": node["label"]}
        )
    return pl.DataFrame(
        {
            "from": ends["from"],
            "to": ends["to"],
            "count": cnt.astype(np.float64),
            "probability": cnt / out[src] if len(src) else np.zeros(0),
            "from_kind": ends["from_kind"],
            "to_kind": ends["to_kind"],
            "from_label": ends["from_label"],
            "to_label": ends["to_label"],
        }
    )


def transition_table(
    journeys: Journeys, order: int | Literal["auto"] = 1, **auto: int
) -> pl.DataFrame:
    """The transitions of the order-``order`` chain of ``journeys`` as an edge list.

    Columns ``from, to, count, probability, from_kind, to_kind, from_label,
    to_label``. ``from`` and ``to`` are node identities, unique by
    construction: ``(start)``, ``(conversion)``, ``(null)`` for the engine's own
    nodes and a JSON array of channel names (``["a","b"]``) for a state, so a
    channel named ``(null)`` or ``a > b`` never merges with another node. Kinds
    are ``start``, ``state``, ``conversion`` or ``null``: read roles from
    them, never from names. Labels are for people and may coincide.
    ``auto`` takes ``max_order``, ``folds``, ``seed``.
    """
    model = Markov(order=order, **auto)
    model.validate_params()
    k, _ = _choose_order(journeys, order, model.max_order, model.folds, model.seed)
    chain = _build_chain(journeys, k)
    return _edge_table(chain.state_ids, chain.state_names, chain.state_kinds, chain.counts)


def transition_graph(
    journeys: Journeys, order: int | Literal["auto"] = 1, **auto: int
) -> nx.DiGraph:
    """The chain as a networkx DiGraph: nodes are the identities of
    :func:`transition_table`, each with a ``kind`` (start, state, conversion,
    null) and a ``label``; edges carry ``count`` and ``probability``.

    ``order`` as for :class:`Markov`; ``auto`` takes ``max_order``, ``folds``,
    ``seed``. The graph is :func:`attribution.graph.transition_graph` of
    :func:`transition_table`.
    """
    from attribution.graph import transition_graph as graph_of

    return graph_of(transition_table(journeys, order, **auto))
