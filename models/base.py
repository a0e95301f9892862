"""The model contract's old home, kept so that plugins importing from it keep working.

The contract lives in :mod:`attribution.model`; import it from there, or from
:mod:`attribution.models`.
"""

from __future__ import annotations

from attribution.model import Model, Param, TouchWeightModel, credit_frame, type_name

__all__ = ["Model", "Param", "TouchWeightModel", "credit_frame", "type_name"]
