"""Rule-based models: first touch, last touch, linear, time decay, position based.

Touches at the same instant (a tie group, :attr:`Journeys.tie`) have no order:
a rule that weighs touches by position gives each touch of a group the mean of
the group's positions' weights (its weight averaged over every order of the
group), so tied touches share a position's credit equally and renaming a
channel never moves credit.
"""

from __future__ import annotations

import math

import numpy as np

from attribution.errors import ModelError
from attribution.journeys import Journeys
from attribution.models.base import TouchWeightModel

__all__ = ["FirstTouch", "LastTouch", "Linear", "PositionBased", "TimeDecay"]


class FirstTouch(TouchWeightModel):
    """All credit to the first touch of each journey."""

    name = "first_touch"
    description = "All credit to the first touch of the journey."

    def weights(self, journeys: Journeys) -> np.ndarray:
        return journeys.tie_mean((journeys.position == 0).astype(np.float64))


class LastTouch(TouchWeightModel):
    """All credit to the last touch of each journey."""

    name = "last_touch"
    description = "All credit to the last touch before the conversion."

    def weights(self, journeys: Journeys) -> np.ndarray:
        last = np.repeat(journeys.lengths - 1, journeys.lengths)
        return journeys.tie_mean((journeys.position == last).astype(np.float64))


class Linear(TouchWeightModel):
    """Equal credit to every touch of a journey."""

    name = "linear"
    description = "Equal credit to every touch of the journey."

    def weights(self, journeys: Journeys) -> np.ndarray:
        lengths = journeys.lengths
        return np.repeat(1.0 / np.maximum(lengths, 1), lengths)


class TimeDecay(TouchWeightModel):
    """Touch weight ``2 ** (-d / half_life_days)``, ``d`` the days from touch to
    conversion, normalised within the journey.

    Parameters
    ----------
    half_life_days : float
        Days after which a touch's weight halves. Default 7.

    References
    ----------
    Google Analytics, "Attribution models: time decay" (7-day half-life).
    """

    name = "time_decay"
    description = "Recent touches get more: weight halves every half_life_days before conversion."
    needs_times = True

    def __init__(self, *, half_life_days: float = 7.0) -> None:
        self.half_life_days = half_life_days

    def weights(self, journeys: Journeys) -> np.ndarray:
        h = self.half_life_days
        if not (isinstance(h, (int, float)) and h > 0 and math.isfinite(h)):
            raise ModelError(f"time_decay: half_life_days must be a number > 0, got {h!r}")
        days = journeys.days_before
        starts = journeys.offsets[:-1]
        lengths = journeys.lengths
        # Shift by each journey's most recent touch so that old journeys do not
        # underflow to 0/0; the normalisation cancels the shift.
        nearest = np.minimum.reduceat(days, starts)
        raw = np.exp2(-(days - np.repeat(nearest, lengths)) / h)
        # tied touches have one time, hence one weight; the mean keeps it so
        return journeys.tie_mean(raw / np.repeat(np.add.reduceat(raw, starts), lengths))


class PositionBased(TouchWeightModel):
    """``first`` of the credit to the first touch, ``last`` to the last, the rest
    shared equally by the touches between (U-shaped).

    One touch gets everything; two touches get ``first / (first + last)`` and
    ``last / (first + last)``.

    Parameters
    ----------
    first, last : float
        Shares of the first and last touch, each in [0, 1], together at most 1.
        Default 0.4 each.
    """

    name = "position_based"
    description = "U-shaped: `first` to the first touch, `last` to the last, rest to the middle."

    def __init__(self, *, first: float = 0.4, last: float = 0.4) -> None:
        self.first = first
        self.last = last

    def weights(self, journeys: Journeys) -> np.ndarray:
        f, la = self.first, self.last
        for key, v in (("first", f), ("last", la)):
            if not (isinstance(v, (int, float)) and 0 <= v <= 1):
                raise ModelError(f"position_based: {key} must be in [0, 1], got {v!r}")
        if f + la > 1 + 1e-12:
            raise ModelError(f"position_based: first + last must be at most 1, got {f + la:g}")
        lengths = journeys.lengths
        n = np.repeat(lengths, lengths)
        pos = journeys.position
        two_f, two_l = (0.5, 0.5) if f + la == 0 else (f / (f + la), la / (f + la))
        w = np.where(pos == 0, f, np.where(pos == n - 1, la, 0.0))
        middle = (1.0 - f - la) / np.maximum(n - 2, 1)
        w = np.where((pos > 0) & (pos < n - 1), middle, w)
        w = np.where(n == 2, np.where(pos == 0, two_f, two_l), w)
        return journeys.tie_mean(np.where(n == 1, 1.0, w))
