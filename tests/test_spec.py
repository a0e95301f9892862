"""Model specs: NAME or NAME:key=value,... (typed conversion: see test_registry.py)."""

from __future__ import annotations

import pytest

from attribution.errors import ModelError
from attribution.models import Linear
from attribution.spec import make_model, parse_spec


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("linear", ("linear", {})),
        (" markov : order = 2 , folds=3 ", ("markov", {"order": "2", "folds": "3"})),
        ("markov:order=2,", ("markov", {"order": "2"})),  # a trailing comma is harmless
        ("x:path=a=b", ("x", {"path": "a=b"})),  # only the first '=' splits
    ],
)
def test_spec_splits_into_name_and_raw_parameters(spec, expected):
    assert parse_spec(spec) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (":order=2", "has no model name"),
        ("markov:order", "expected key=value, got 'order'"),
        ("markov:=2", "expected key=value, got '=2'"),
    ],
)
def test_malformed_specs_say_what_was_expected(spec, message):
    with pytest.raises(ModelError, match=message):
        parse_spec(spec)


def test_a_model_object_is_its_own_spec():
    model = Linear()
    assert make_model(model) is model
