"""Optional capabilities of a model, found by what a model has, never by its name.

A renderer or command that wants a transition graph, removal effects or the
credit per touch position asks ``isinstance(model, HasTransitions)`` (and so
on); a plugin's model that offers the same methods gets the same treatment as
the built-in one. Each protocol is small and typed, and is checked at run time
(:func:`typing.runtime_checkable`), so the check is only about presence; the
documented shapes below are the contract.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

import polars as pl

__all__ = ["HasPositionCredit", "HasRemovalEffects", "HasTransitions"]


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
