"""Simulated conversion laws with known effects, and the two truths each one defines.

A law turns a journey's touches into its probability of converting. Touches
come from :func:`attribution.simulate.simulate_journeys` (reach, funnel order,
days between touches); the law then decides which journeys convert. Every law
converts a journey with no touch at ``base_rate`` and writes the effect of the
touches as a hazard ``H`` (``p = 1 - (1 - base_rate) * exp(-H)``), except
``logit_synergy``, which adds its effects on the log-odds scale, so that one
law lies outside the hazard family that the ``data_driven`` model fits.

The truths (:func:`truths`) count every journey, converting or not, in
expectation, and leave out the ``base_rate`` conversions that no channel
causes:

``shapley``
    each journey's lift ``p(T) - p(no touch)`` shared among its distinct
    channels by the Shapley value of the game ``S -> p(T restricted to S) -
    p(no touch)``, where the journey restricted to S keeps only the touches of
    S's channels (with their times; the first and last touch are those of the
    touches kept). This is what a Shapley-of-lift model targets.
``removal``
    conversions lost when a channel's touches are removed from every journey.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import polars as pl

from attribution.journeys import Journeys
from attribution.simulate import DEFAULT_CHANNELS, ChannelEffect, simulate_journeys

__all__ = ["LAWS", "Law", "Touches", "simulate", "truths"]

# Elements per temporary array when coalitions are expanded.
_CHUNK = 1 << 22
# Journeys with more distinct channels than this would need 2**k coalitions each.
_MAX_EXACT = 16


@dataclass(frozen=True)
class Touches:
    """Touches of some journeys, oldest first within each row, as flat arrays.

    ``row`` ascends; a row may have no touch (the empty coalition).
    """

    row: np.ndarray  # int64, (n_touches,)
    codes: np.ndarray  # int64, (n_touches,)
    days: np.ndarray  # float64, (n_touches,): days from the touch to the journey's end
    n_rows: int
    n_channels: int

    @classmethod
    def of(cls, journeys: Journeys) -> Touches:
        if journeys.days_before is None:
            raise ValueError("the laws need touch times")
        return cls(
            journeys.row_of_touch,
            journeys.codes.astype(np.int64),
            journeys.days_before,
            journeys.n_rows,
            journeys.n_channels,
        )

    def keep(self, mask: np.ndarray, row: np.ndarray | None = None, n_rows: int = 0) -> Touches:
        """The touches where ``mask`` holds, optionally moved to rows ``row[mask]``."""
        new_row = self.row if row is None else row
        return Touches(
            new_row[mask], self.codes[mask], self.days[mask], n_rows or self.n_rows, self.n_channels
        )

    @cached_property
    def _pairs(self) -> tuple[np.ndarray, ...]:
        """Distinct (row, channel) pairs: row, code, touches, days of the last touch."""
        key = self.row * self.n_channels + self.codes
        order = np.argsort(key, kind="stable")
        sk = key[order]
        start = np.flatnonzero(np.r_[True, sk[1:] != sk[:-1]]) if len(sk) else sk
        end = np.r_[start[1:], len(sk)].astype(np.int64)
        last = order[end - 1] if len(sk) else sk
        return sk[start] // self.n_channels, sk[start] % self.n_channels, end - start, last

    @property
    def pair_row(self) -> np.ndarray:
        return self._pairs[0]

    @property
    def pair_code(self) -> np.ndarray:
        return self._pairs[1]

    @property
    def pair_count(self) -> np.ndarray:
        return self._pairs[2].astype(np.float64)

    @property
    def pair_last_days(self) -> np.ndarray:
        """Days from the channel's last touch in the row to the row's end."""
        return self.days[self._pairs[3]]

    @cached_property
    def _ends(self) -> tuple[np.ndarray, np.ndarray]:
        """Index of each row's first and last touch (the rows ascend; -1 when empty)."""
        rows = np.arange(self.n_rows)
        begin = np.searchsorted(self.row, rows, side="left")
        end = np.searchsorted(self.row, rows, side="right")
        empty = begin == end
        return np.where(empty, -1, begin), np.where(empty, -1, end - 1)

    @property
    def pair_is_first(self) -> np.ndarray:
        """Whether the pair's channel has its row's first touch."""
        first, _ = self._ends
        return self.codes[first[self.pair_row]] == self.pair_code

    @property
    def pair_is_last(self) -> np.ndarray:
        _, last = self._ends
        return self.codes[last[self.pair_row]] == self.pair_code

    def per_row(self, weights: np.ndarray) -> np.ndarray:
        """Sum of per-pair ``weights`` by row."""
        out = np.bincount(self.pair_row, weights=weights, minlength=self.n_rows)
        return out.astype(np.float64)  # bincount of nothing is integer

    def has(self, channel: int) -> np.ndarray:
        """Per row: whether it touches ``channel``."""
        return self.per_row((self.pair_code == channel).astype(np.float64)) > 0


@dataclass(frozen=True)
class Law:
    """A conversion law: base hazard per channel, and what the subclass adds.

    ``p = 1 - (1 - base_rate) * exp(-H)`` with ``H`` from :meth:`hazard`; the
    default hazard is the noisy-OR one, ``sum over distinct channels of
    -log(1 - lift)``.
    """

    name: str
    description: str
    channels: tuple[ChannelEffect, ...] = DEFAULT_CHANNELS
    mean_touches: float = 3.0
    base_rate: float = 0.02

    @cached_property
    def rate(self) -> np.ndarray:
        """Hazard of each channel: ``-log(1 - lift)``."""
        return -np.log1p(-np.array([c.lift for c in self.channels]))

    def hazard(self, t: Touches) -> np.ndarray:
        return t.per_row(self.rate[t.pair_code])

    def prob(self, t: Touches) -> np.ndarray:
        return 1 - (1 - self.base_rate) * np.exp(-self.hazard(t))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.channels)

    def code(self, name: str) -> int:
        return self.names.index(name)


@dataclass(frozen=True)
class Synergy(Law):
    """Noisy-OR plus a hazard for some pairs of channels seen together:
    positive (synergy) or negative (redundancy, never below either one alone)."""

    pairs: tuple[tuple[str, str, float], ...] = ()

    def hazard(self, t: Touches) -> np.ndarray:
        h = super().hazard(t)
        for a, b, extra in self.pairs:  # a loop over pairs of channels
            h += extra * (t.has(self.code(a)) & t.has(self.code(b)))
        return h


@dataclass(frozen=True)
class LogitSynergy(Synergy):
    """The synergy law's effects added on the log-odds scale instead:
    ``logit p = logit(base_rate) + scale * H``."""

    scale: float = 10.0

    def prob(self, t: Touches) -> np.ndarray:
        z = math.log(self.base_rate / (1 - self.base_rate)) + self.scale * self.hazard(t)
        return 1 / (1 + np.exp(-z))


@dataclass(frozen=True)
class Position(Law):
    """A channel's hazard times ``1 + first[c]`` when it has the journey's first
    touch and times ``1 + last[c]`` when it has the last."""

    first: tuple[float, ...] = ()
    last: tuple[float, ...] = ()

    def hazard(self, t: Touches) -> np.ndarray:
        c = t.pair_code
        f = np.asarray(self.first)[c] * t.pair_is_first
        g = np.asarray(self.last)[c] * t.pair_is_last
        return t.per_row(self.rate[c] * (1 + f) * (1 + g))


@dataclass(frozen=True)
class Fading(Law):
    """A channel's hazard times ``exp(-d / half_life * ln 2)``, ``d`` the days
    from its last touch to the end of the journey."""

    half_life: float = 3.0

    def hazard(self, t: Touches) -> np.ndarray:
        fade = np.exp2(-t.pair_last_days / self.half_life)
        return t.per_row(self.rate[t.pair_code] * fade)


@dataclass(frozen=True)
class Diminishing(Law):
    """``k`` touches of a channel give ``(1 - ratio**k) / (1 - ratio)`` times
    its hazard: each repeat adds ``ratio`` times what the previous one did."""

    ratio: float = 0.5

    def hazard(self, t: Touches) -> np.ndarray:
        k = t.pair_count
        return t.per_row(self.rate[t.pair_code] * (1 - self.ratio**k) / (1 - self.ratio))


def _sparse_channels(n: int = 50, *, seed: int = 7) -> tuple[ChannelEffect, ...]:
    """``n`` channels: four with strong effects, the rest weak or none, and a
    zero-effect channel ``late`` that many journeys touch last."""
    rng = np.random.default_rng(seed)
    reach = rng.pareto(1.2, n - 1) + 0.05
    reach = reach / reach.sum() * 0.85  # `late` takes 15 % of the touches
    stage = rng.uniform(0, 0.9, n - 1)
    lift = np.where(rng.random(n - 1) < 0.5, rng.uniform(0.0, 0.01, n - 1), 0.0)
    strong = np.argsort(-reach)[[1, 3, 6, 12]]  # strong channels of varied reach
    lift[strong] = [0.10, 0.07, 0.12, 0.05]
    width = len(str(n - 2))
    out = [
        ChannelEffect(f"ch{i:0{width}d}", float(reach[i]), float(lift[i]), float(stage[i]))
        for i in range(n - 1)
    ]
    out.append(ChannelEffect("late", 0.15, 0.0, 0.99))
    return tuple(out)


def _named(**kw: float) -> tuple[float, ...]:
    return tuple(kw.get(c.name, 0.0) for c in DEFAULT_CHANNELS)


SYNERGY_PAIRS = (
    ("display", "paid_search", 0.06),
    ("social", "email", 0.05),
    ("organic_search", "paid_search", -0.045),
    ("email", "direct", -0.035),
)

LAWS: dict[str, Law] = {
    law.name: law
    for law in (
        Law("noisy_or", "the package's simulator: noisy-OR over distinct channels"),
        Synergy(
            "synergy",
            "noisy-OR with two synergies and two redundancies between pairs",
            pairs=SYNERGY_PAIRS,
        ),
        LogitSynergy(
            "logit_synergy",
            "the synergy law's effects on the log-odds scale (outside the hazard family)",
            pairs=SYNERGY_PAIRS,
        ),
        Position(
            "position",
            "upper-funnel channels count more when first, lower-funnel ones when last",
            first=_named(display=3.0, social=2.0),
            last=_named(email=1.5, direct=2.0),
        ),
        Fading(
            "fading",
            "effects halve every 3 days between a channel's last touch and the end",
            channels=tuple(
                ChannelEffect(c.name, c.reach, 1 - (1 - c.lift) ** 2.5, c.stage)
                for c in DEFAULT_CHANNELS
            ),
            half_life=3.0,
        ),
        Law(
            "sparse50",
            "50 channels: four strong, most weak or none, a zero-effect one touched last",
            channels=_sparse_channels(),
        ),
        Diminishing(
            "diminishing",
            "repeated touches of a channel add half of what the previous one did",
            mean_touches=5.0,
            ratio=0.5,
        ),
    )
}
"""The laws of the truth benchmark, by name."""


def simulate(law: Law, n_journeys: int, *, seed: int = 0) -> Journeys:
    """``n_journeys`` journeys whose touches come from the package's simulator
    and whose conversions are drawn from ``law``."""
    j = simulate_journeys(
        n_journeys, channels=law.channels, mean_touches=law.mean_touches, seed=seed
    )
    # The law's names are sorted, but simulate_journeys codes channels in the
    # order given; Journeys wants sorted names, so recode.
    p = law.prob(Touches.of(j))
    rng = np.random.default_rng([seed, 13])
    converted = rng.random(j.n_rows) < p
    conv = converted.astype(np.float64)
    value = np.where(converted, np.round(rng.lognormal(4.0, 0.6, j.n_rows), 2), 0.0)
    order = np.argsort(np.array(j.channels))
    recode = np.empty(len(order), dtype=np.uint32)
    recode[order] = np.arange(len(order), dtype=np.uint32)
    return Journeys(
        channels=tuple(np.array(j.channels)[order].tolist()),
        codes=recode[j.codes],
        offsets=j.offsets,
        conversions=conv,
        value=value,
        nulls=1.0 - conv,
        days_before=j.days_before,
        customer=j.customer,
    )


@dataclass
class Truth:
    """Per channel of the journeys: the Shapley and removal truths, and their shares."""

    frame: pl.DataFrame
    base_rate: float
    lift: float  # expected conversions the channels cause
    conversions: float = field(default=0.0)


def _law_touches(law: Law, journeys: Journeys) -> Touches:
    """The journeys' touches coded as the law codes its channels."""
    index = {name: i for i, name in enumerate(law.names)}
    recode = np.array([index[c] for c in journeys.channels], dtype=np.int64)
    t = Touches.of(journeys)
    return Touches(t.row, recode[t.codes], t.days, t.n_rows, len(law.names))


def _shapley_weights(k: int) -> np.ndarray:
    """``W`` with ``phi = v @ W`` for a game ``v`` on the ``2**k`` masks of ``k`` players."""
    masks = np.arange(1 << k)
    inside = (masks[:, None] >> np.arange(k)) & 1
    size = inside.sum(axis=1)[:, None]
    fact = np.array([math.factorial(i) for i in range(k + 1)], dtype=np.float64)
    w_in = fact[np.maximum(size - 1, 0)] * fact[k - size] / fact[k]
    w_out = fact[size] * fact[np.maximum(k - size - 1, 0)] / fact[k]
    return np.where(inside == 1, w_in, -w_out)


def truths(law: Law, journeys: Journeys) -> Truth:
    """The Shapley and removal truths of ``law`` on ``journeys`` (simulated by it).

    Returns a :class:`Truth` whose frame has ``channel, shapley, removal,
    shapley_share, removal_share``, channels in the journeys' order.
    """
    t = _law_touches(law, journeys)
    n_ch = t.n_channels
    weight = journeys.conversions + journeys.nulls
    p_full = law.prob(t)
    # Removal: a loop over channels, each over the rows that touch it.
    removal = np.zeros(n_ch)
    for c in range(n_ch):
        rows = t.has(c)
        if rows.any():
            cut = law.prob(t.keep(t.codes != c))
            removal[c] = float((weight * (p_full - cut))[rows].sum())
    # Shapley: rows grouped by their number k of distinct channels; each group's
    # 2**k coalitions are expanded in chunks (a loop over k and over chunks).
    shapley = np.zeros(n_ch)
    k_of_row = np.bincount(t.pair_row, minlength=t.n_rows)
    # Local index of each touch's channel among its row's distinct channels.
    pair_start = np.r_[0, np.cumsum(k_of_row)][:-1]
    pair_key = t.pair_row * n_ch + t.pair_code
    pair_of_touch = np.searchsorted(pair_key, t.row * n_ch + t.codes)
    local = pair_of_touch - pair_start[t.row]
    if k_of_row.max(initial=0) > _MAX_EXACT:
        raise ValueError(f"a journey has more than {_MAX_EXACT} distinct channels")
    for k in range(1, int(k_of_row.max(initial=0)) + 1):
        rows = np.flatnonzero(k_of_row == k)
        if len(rows) == 0:
            continue
        sub = journeys_rows(t, rows)
        sub_local = local[np.isin(t.row, rows)]
        n_masks = 1 << k
        values = np.empty((len(rows), n_masks))
        per_mask = max(len(sub.row), 1)
        step = max(1, _CHUNK // per_mask)
        for lo in range(0, n_masks, step):
            masks = np.arange(lo, min(lo + step, n_masks))
            keep = ((masks[:, None] >> sub_local[None, :]) & 1).astype(bool)
            copy_row = np.arange(len(masks))[:, None] * len(rows) + sub.row[None, :]
            expanded = Touches(
                copy_row[keep],
                np.broadcast_to(sub.codes, keep.shape)[keep],
                np.broadcast_to(sub.days, keep.shape)[keep],
                len(masks) * len(rows),
                n_ch,
            )  # mask-major, so rows ascend: row r of mask m is m * len(rows) + r
            values[:, masks] = law.prob(expanded).reshape(len(masks), len(rows)).T
        phi = (values - law.base_rate) @ _shapley_weights(k)  # (rows, k)
        codes = t.pair_code[np.isin(t.pair_row, rows)].reshape(len(rows), k)
        shapley += np.bincount(
            codes.ravel(), weights=(phi * weight[rows][:, None]).ravel(), minlength=n_ch
        )
    frame = pl.DataFrame(
        {
            "channel": pl.Series(list(law.names), dtype=pl.String),
            "shapley": shapley,
            "removal": removal,
        }
    ).with_columns(
        shapley_share=pl.col("shapley") / pl.col("shapley").sum(),
        removal_share=pl.col("removal") / pl.col("removal").sum(),
    )
    order = pl.DataFrame({"channel": list(journeys.channels)})
    frame = order.join(frame, on="channel", how="left", maintain_order="left")
    lift = float((weight * (p_full - law.base_rate)).sum())
    return Truth(frame, law.base_rate, lift, journeys.total_conversions)


def journeys_rows(t: Touches, rows: np.ndarray) -> Touches:
    """The touches of ``rows`` (ascending), renumbered ``0..len(rows) - 1``."""
    mask = np.isin(t.row, rows)
    new_row = np.searchsorted(rows, t.row[mask])
    return Touches(new_row, t.codes[mask], t.days[mask], len(rows), t.n_channels)
