"""`attribution models`: the registered models with their parameters."""

from __future__ import annotations

import json

from tests.cli import invoke


def test_models_lists_parameters_and_package():
    result = invoke("models", "--format", "json")
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert rows["time_decay"]["parameters"] == "half_life_days=7.0"
    assert rows["time_decay"]["needs_times"] is True
    assert rows["linear"]["package"] == "attribution-engine"
