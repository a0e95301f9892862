"""Optional capabilities of a model, found by what a model has, never by its name.

A renderer or command that wants a transition graph, removal effects, the
credit per touch position or the credit per conversion asks
``isinstance(model, HasTransitions)`` (and so on); a plugin's model that
offers the same methods gets the same treatment as the built-in one. Each
protocol is small and typed, and is checked at run time
(:func:`typing.runtime_checkable`), so the check is only about presence; the
documented shapes below are the contract.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
import polars as pl

if TYPE_CHECKING:
    from attribution.journeys import Journeys

__all__ = [
    "HasHalfLife",
    "HasPositionCredit",
    "HasRemovalEffects",
    "HasTransitions",
    "PerConversion",
    "RowCredit",
]


@runtime_checkable
class HasTransitions(Protocol):
    """A fitted model with a transition graph (a Markov chain, say).

    :meth:`transition_table` returns the observed transitions as an edge list
    with at least ``from, to, count, probability``; ``from`` and ``to`` are
    node identities, unique by construction. Where the model can tell, the
    columns ``from_kind`` and ``to_kind`` give each node's role (``start``,
    ``state``, ``conversion``, ``null``) and ``from_label`` and ``to_label``
    its display text, so that readers never infer a role from a name.
    """

    def transition_table(self) -> pl.DataFrame: ...


@runtime_checkable
class HasHalfLife(Protocol):
    """A model whose touch weights halve every ``half_life_days`` before the
    journey's last touch, normalised per journey (time decay).

    Declaring it is a promise about the weights, so that a backend that cannot
    run the model's Python (Spark) computes them as a column of its own.
    """

    @property
    def half_life_days(self) -> float: ...


@runtime_checkable
class HasRemovalEffects(Protocol):
    """A fitted model that measured each channel's removal effect (0 to 1).

    Read-only in the protocol, so that a model keeping a ``dict`` (or any
    mapping) satisfies it for a type checker too.
    """

    @property
    def removal_effects_(self) -> Mapping[str, float]: ...


@runtime_checkable
class HasPositionCredit(Protocol):
    """A fitted model whose credit is split over touch positions.

    ``position_credit_`` is a frame ``channel, position, conversions, value`` with
    ``position`` counted from 1 (the first touch).
    """

    @property
    def position_credit_(self) -> pl.DataFrame: ...


# -- credit per conversion (issue 17) -----------------------------------------
@dataclass(frozen=True, eq=False)
class RowCredit:
    """A model's credit of some journeys, split over their rows (the per-conversion grain).

    Entry ``i`` gives ``conversions[i]`` and ``value[i]`` of row ``row[i]`` to
    channel ``code[i]``, a channel the row touches; a row may have several
    entries for one channel, which add up. With ``touch`` set, entry ``i`` is
    the credit of touch ``touch[i]`` of the journeys (and ``row``, ``code`` are
    that touch's), which the dimension grain (a campaign per touch) needs; a
    credit by channel is shared by the channel's touches in the row equally.
    The entries of a row add up to its conversions and its value. Rows without
    conversions need no entry.

    Attributes
    ----------
    row : ndarray of int64, shape (n,)
    code : ndarray of uint32, shape (n,)
    conversions, value : ndarray of float64, shape (n,)
    touch : ndarray of int64, shape (n,), or None
    split : str or None
        For a model whose channel totals are not a sum over conversions (the
        Markov removal-effect formula): how its credit was split, in a few words
        for users. None when the entries are the model's own credit of each row.
    """

    row: np.ndarray
    code: np.ndarray
    conversions: np.ndarray
    value: np.ndarray
    touch: np.ndarray | None = None
    split: str | None = None

    @classmethod
    def of_touches(
        cls,
        journeys: Journeys,
        touch: np.ndarray,
        conversions: np.ndarray,
        value: np.ndarray,
        split: str | None = None,
    ) -> RowCredit:
        """Credit of the touches ``touch`` (indices into ``journeys.codes``)."""
        touch = np.asarray(touch, dtype=np.int64)
        return cls(
            journeys.row_of_touch[touch],
            journeys.codes[touch],
            np.asarray(conversions, dtype=np.float64),
            np.asarray(value, dtype=np.float64),
            touch,
            split,
        )


@runtime_checkable
class PerConversion(Protocol):
    """A model that can say how much of each conversion every channel earned.

    :meth:`attribute_rows` returns the credit of ``journeys`` split over their
    converting rows, a :class:`RowCredit`. It may reuse what the model learned
    when it was last fitted (a model that has not been fitted fits itself on
    ``journeys`` first), so that credit split by period or per conversion is
    the credit of one fit on all journeys. Where the model's channel totals
    are a sum over conversions (touch weights, Shapley per channel set) the
    rows add up to them exactly; otherwise the split is the model's to define
    and document (``RowCredit.split``), and the engine reports how far its
    totals are from the model's.
    """

    def attribute_rows(self, journeys: Journeys) -> RowCredit: ...
