"""Attribution models: the base class and the built-in model families.

Classes are importable from here (``attribution.models.LastTouch``) so that a
plugin may subclass a built-in model. The registry finds models through the
``attribution.models`` entry-point group, not through this module.
"""

from __future__ import annotations

from attribution.models.base import Model, Param, TouchWeightModel, credit_frame
from attribution.models.heuristics import FirstTouch, LastTouch, Linear, PositionBased, TimeDecay

__all__ = [
    "DataDriven",
    "FirstTouch",
    "LastTouch",
    "Linear",
    "Markov",
    "Model",
    "OrderedShapley",
    "Param",
    "PositionBased",
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
