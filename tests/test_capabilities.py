"""Optional capabilities are found by what a model has, for built-ins and plugins alike."""

from __future__ import annotations

from typing import TypeVar

import polars as pl
import pytest

from attribution.capabilities import HasPositionCredit, HasRemovalEffects, HasTransitions
from attribution.model import Model
from attribution.models import Linear, Markov, OrderedShapley, Shapley
from attribution.registry import get_registry
from attribution.testing import example_journeys

J = example_journeys()
PROTOCOLS = (HasTransitions, HasRemovalEffects, HasPositionCredit)


M = TypeVar("M", bound=Model)


def fitted(model: M) -> M:
    model.attribute(J)
    return model


def test_markov_has_transitions_and_removal_effects():
    model = fitted(Markov())
    assert isinstance(model, HasTransitions) and isinstance(model, HasRemovalEffects)
    assert not isinstance(model, HasPositionCredit)
    assert set(model.removal_effects_) == set(J.channels)
    table = model.transition_table()
    assert {"from", "to", "count", "probability", "from_kind", "to_kind"} <= set(table.columns)


def test_removal_effects_are_there_once_the_model_has_run():
    # The protocol describes a fitted model: the attribute is learned state.
    assert not isinstance(Markov(), HasRemovalEffects)
    assert isinstance(Markov(), HasTransitions)  # the method is there; it needs a fit to work


def test_ordered_shapley_has_position_credit():
    model = fitted(OrderedShapley())
    assert isinstance(model, HasPositionCredit)
    assert not isinstance(model, HasTransitions) and not isinstance(model, HasRemovalEffects)
    credit = model.position_credit_
    assert credit.columns == ["channel", "position", "conversions", "value"]
    assert credit["position"].min() == 1


@pytest.mark.parametrize("name", ["first_touch", "last_touch", "linear", "position_based"])
def test_heuristics_have_no_optional_capability(name):
    model = fitted(get_registry().get(name)())
    assert not any(isinstance(model, p) for p in PROTOCOLS)


def test_shapley_has_no_position_credit():
    assert not isinstance(fitted(Shapley()), HasPositionCredit)


class PluginChain(Linear):
    """A plugin's model offering every capability by having the methods and attributes."""

    name = "plugin_chain"
    description = "Linear credit, and every capability."

    def attribute(self, journeys):
        frame = super().attribute(journeys)
        self.removal_effects_ = dict.fromkeys(journeys.channels, 0.5)
        self.position_credit_ = frame.with_columns(pl.lit(1).alias("position")).select(
            "channel", "position", "conversions", "value"
        )
        return frame

    def transition_table(self) -> pl.DataFrame:
        return pl.DataFrame({"from": ["s"], "to": ["c"], "count": [1.0], "probability": [1.0]})


class NotAModelAtAll:
    """Not even a Model subclass: the protocols are structural."""

    def __init__(self) -> None:
        self.removal_effects_ = {"a": 1.0}
        self.position_credit_ = pl.DataFrame()

    def transition_table(self) -> pl.DataFrame:
        return pl.DataFrame()


def test_a_plugin_with_the_methods_and_attributes_satisfies_every_protocol():
    model = fitted(PluginChain())
    assert all(isinstance(model, p) for p in PROTOCOLS)
    assert all(isinstance(NotAModelAtAll(), p) for p in PROTOCOLS)


def test_builtins_satisfy_the_protocols_for_a_type_checker_too() -> None:
    # Read by mypy as well: the protocols' members are read-only, so a dict will do.
    markov = fitted(Markov())
    transitions: HasTransitions = markov
    effects: HasRemovalEffects = markov
    positions: HasPositionCredit = fitted(OrderedShapley())
    assert isinstance(transitions, HasTransitions) and isinstance(effects, HasRemovalEffects)
    assert isinstance(positions, HasPositionCredit)
