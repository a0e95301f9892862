"""Attribution models: the built-in model families, and the contract re-exported.

Classes are importable from here (``attribution.models.LastTouch``) so that a
plugin may subclass a built-in model. The contract itself (``Model``,
``TouchWeightModel``, ``Param``, ``credit_frame``) and the parameter
constraints live in the core, :mod:`attribution.model` and
:mod:`attribution.constraints`, and are re-exported here so that a plugin needs
one import. The registry finds models through the ``attribution.models``
entry-point group, not through this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from attribution.constraints import Constraints, Integral, Interval, Options, Real, Satisfies
from attribution.model import Model, Param, TouchWeightModel, credit_frame
from attribution.models.heuristics import FirstTouch, LastTouch, Linear, PositionBased, TimeDecay

if TYPE_CHECKING:  # type checkers see the lazy classes below as what they are
    from attribution.models.markov import Markov
    from attribution.models.shapley import OrderedShapley, Shapley

__all__ = [
    "Constraints",
    "DataDriven",
    "FirstTouch",
    "Integral",
    "Interval",
    "LastTouch",
    "Linear",
    "Markov",
    "Model",
    "Options",
    "OrderedShapley",
    "Param",
    "PositionBased",
    "Real",
    "Satisfies",
    "Shapley",
    "TimeDecay",
    "TouchWeightModel",
    "credit_frame",
]

# The heavier families are imported on first use (PEP 562), so that
# `import attribution` and `attribution --help` stay fast and a broken model
# module cannot break the others.
_LAZY = {
    "Markov": "attribution.models.markov",
    "Shapley": "attribution.models.shapley",
    "OrderedShapley": "attribution.models.shapley",
    "DataDriven": "attribution.models.data_driven",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'attribution.models' has no attribute '{name}'")
