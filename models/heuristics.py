"""Rule-based models: first touch, last touch, linear, time decay, position based.

Touches at the same instant (a tie group, :attr:`Journeys.tie`) have no order:
a rule that weighs touches by position gives each touch of a group the mean of
the group's positions' weights (its weight averaged over every order of the
group), so tied touches share a position's credit equally and renaming a
channel never moves credit.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from attribution.constraints import Constraints, Interval, Real, Satisfies
from attribution.errors import NeedsTimesError
from attribution.journeys import Journeys
from attribution.model import TouchWeightModel

__all__ = ["FirstTouch", "LastTouch", "Linear", "PositionBased", "TimeDecay"]


class FirstTouch(TouchWeightModel):
    """All credit to the first touch of each journey."""

    name = "first_touch"
    description = "All credit to the first touch of the journey."
    summary = "Gives each conversion wholly to the first channel the customer came through."
    combine = "sum"  # credit adds up across any split of the customers

    def weights(self, journeys: Journeys) -> np.ndarray:
        return journeys.tie_mean((journeys.position == 0).astype(np.float64))


class LastTouch(TouchWeightModel):
    """All credit to the last touch of each journey."""

    name = "last_touch"
    description = "All credit to the last touch before the conversion."
    summary = "Gives each conversion wholly to the last channel before it."
    combine = "sum"  # credit adds up across any split of the customers

    def weights(self, journeys: Journeys) -> np.ndarray:
        last = np.repeat(journeys.lengths - 1, journeys.lengths)
        return journeys.tie_mean((journeys.position == last).astype(np.float64))


class Linear(TouchWeightModel):
    """Equal credit to every touch of a journey."""

    name = "linear"
    description = "Equal credit to every touch of the journey."
    summary = "Splits each conversion equally among the touches before it."
    combine = "sum"  # credit adds up across any split of the customers

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
    summary = (
        "Splits each conversion among its touches, recent ones counting more: a touch's "
        "weight halves every {half_life_days:g} days before the conversion."
    )
    combine = "sum"  # credit adds up across any split of the customers
    needs_times = True
    constraints: ClassVar[Constraints] = {
        "half_life_days": Interval(Real, 0, None, closed="neither")
    }

    def __init__(self, *, half_life_days: float = 7.0) -> None:
        self.half_life_days = half_life_days

    def weights(self, journeys: Journeys) -> np.ndarray:
        h = self.half_life_days
        days = journeys.days_before
        if days is None:  # run_model refuses it earlier; this is for direct calls
            raise NeedsTimesError("model 'time_decay' needs touch times; the journeys have none")
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
    summary = (
        "Gives {first:.0%} of each conversion to the first touch, {last:.0%} to the last, and"
        " shares the rest among the touches between."
    )
    constraints: ClassVar[Constraints] = {
        "first": Interval(Real, 0, 1),
        "last": Interval(Real, 0, 1),
        # 1e-12: shares typed as decimals (0.6 + 0.4) may add up to a hair above 1.
        ("first", "last"): Satisfies(
            lambda first, last: first + last <= 1 + 1e-12, "shares adding up to at most 1"
        ),
    }
    combine = "sum"  # credit adds up across any split of the customers

    def __init__(self, *, first: float = 0.4, last: float = 0.4) -> None:
        self.first = first
        self.last = last

    def weights(self, journeys: Journeys) -> np.ndarray:
        f, la = self.first, self.last
        lengths = journeys.lengths
        n = np.repeat(lengths, lengths)
        pos = journeys.position
        two_f, two_l = (0.5, 0.5) if f + la == 0 else (f / (f + la), la / (f + la))
        w = np.where(pos == 0, f, np.where(pos == n - 1, la, 0.0))
        middle = (1.0 - f - la) / np.maximum(n - 2, 1)
        w = np.where((pos > 0) & (pos < n - 1), middle, w)
        w = np.where(n == 2, np.where(pos == 0, two_f, two_l), w)
        return journeys.tie_mean(np.where(n == 1, 1.0, w))
