"""Attribution models: the base class and the built-in model families.

Classes are importable from here (``attribution.models.LastTouch``) so that a
plugin may subclass a built-in model. The registry finds models through the
``attribution.models`` entry-point group, not through this module.
"""

from __future__ import annotations

from attribution.models.base import Model, Param, TouchWeightModel, credit_frame
from attribution.models.heuristics import FirstTouch, LastTouch, Linear, PositionBased, TimeDecay

__all__ = [
    "FirstTouch",
    "LastTouch",
    "Linear",
    "Model",
    "Param",
    "PositionBased",
    "TimeDecay",
    "TouchWeightModel",
    "credit_frame",
]
