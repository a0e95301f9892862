"""The last non-direct touch model: last touch wins, unless it is a direct visit."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from attribution.journeys import Journeys
from attribution.models import Constraints, LastTouch, Satisfies

__all__ = ["LastNonDirect"]


class LastNonDirect(LastTouch):
    """All credit to the last touch that is not ``direct``.

    A direct visit (a typed-in address, a bookmark) rarely starts a purchase
    decision; the campaign before it usually did. So the conversion goes to
    the journey's last touch on any other channel. A journey of direct touches
    only gives its credit to its last touch, as :class:`LastTouch` does; so
    does every journey when no channel is called ``direct``.

    Parameters
    ----------
    direct : str
        Name of the channel that stands for direct visits. Default ``"direct"``.

    References
    ----------
    Google Analytics Help, "Attribution modeling overview", the *Last
    Non-Direct Click* model of Universal Analytics (its default for
    non-multi-channel reports).
    """

    name = "last_non_direct"
    description = "All credit to the last touch that is not `direct`; all-direct journeys: last."
    # Checked by the engine each time the model runs, not in __init__.
    constraints: ClassVar[Constraints] = {
        "direct": Satisfies(lambda d: isinstance(d, str) and d != "", "a channel name"),
    }

    def __init__(self, *, direct: str = "direct") -> None:
        self.direct = direct

    def weights(self, journeys: Journeys) -> np.ndarray:
        last = super().weights(journeys)
        if self.direct not in journeys.channels:
            return last
        code = journeys.channels.index(self.direct)
        touch = np.arange(journeys.n_touches)
        # Index of each row's last non-direct touch, -1 when every touch is direct.
        candidate = np.where(journeys.codes != code, touch, -1)
        last_other = np.maximum.reduceat(candidate, journeys.offsets[:-1])
        found = last_other >= 0
        weights = np.zeros(journeys.n_touches)
        weights[last_other[found]] = 1.0
        return np.where(np.repeat(found, journeys.lengths), weights, last)
