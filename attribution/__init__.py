"""attribution-engine: multi-touch marketing attribution, fast and exact."""

from __future__ import annotations

from attribution.api import AttributionResult, attribute
from attribution.builder import build_journeys, load_journeys
from attribution.errors import AttributionError, InputError, ModelError, NeedsTimesError
from attribution.journeys import Journeys
from attribution.registry import get_registry, register_model
from attribution.sources import EventColumns, read_events, read_paths, scan_events

__version__ = "0.1.0"

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
    "get_registry",
    "load_journeys",
    "read_events",
    "read_paths",
    "register_model",
    "scan_events",
]
