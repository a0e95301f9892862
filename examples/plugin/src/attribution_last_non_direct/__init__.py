"""Last non-direct touch attribution, an example plugin for attribution-engine."""

from __future__ import annotations

from attribution_last_non_direct.model import LastNonDirect

__all__ = ["LastNonDirect"]
