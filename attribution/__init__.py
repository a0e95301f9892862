"""attribution-engine: multi-touch marketing attribution, fast and exact.

What a notebook reaches for is here: read and build journeys, ``attribute``
them with models, ``compare`` the models, ``join_costs``, ``compute_kpis``,
``write_report`` and ``plot_credits``. The heavier parts (the report, the
charts) are imported on first use (PEP 562), so ``import attribution`` stays quick.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from attribution.api import AttributionResult, attribute
from attribution.builder import build_journeys, load_journeys

# imported here, not lazily: `attribution.compare` is also a module, and a lazy
# name would be shadowed by that module as soon as anything imported it
from attribution.compare import compare
from attribution.errors import AttributionError, InputError, ModelError, NeedsTimesError
from attribution.journeys import Journeys
from attribution.registry import get_registry, register_model
from attribution.sources import EventColumns, read_events, read_paths, scan_events

if TYPE_CHECKING:
    from attribution.change import credit_change
    from attribution.costs import join_costs
    from attribution.kpis import compute_kpis
    from attribution.plot import plot_credits
    from attribution.report import render_report, write_report

__version__ = "0.1.0"

_LAZY = {
    "credit_change": "attribution.change",
    "join_costs": "attribution.costs",
    "compute_kpis": "attribution.kpis",
    "plot_credits": "attribution.plot",
    "render_report": "attribution.report",
    "write_report": "attribution.report",
}
"""Names imported on first use: name -> the module that defines it."""

__all__ = [
    "AttributionError",
    "AttributionResult",
    "EventColumns",
    "InputError",
    "Journeys",
    "ModelError",
    "NeedsTimesError",
    "attribute",
    "build_journeys",
    "compare",
    "compute_kpis",
    "credit_change",
    "get_registry",
    "join_costs",
    "load_journeys",
    "plot_credits",
    "read_events",
    "read_paths",
    "register_model",
    "render_report",
    "scan_events",
    "write_report",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'attribution' has no attribute '{name}'")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
