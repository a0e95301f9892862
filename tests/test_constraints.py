"""Declarative parameter constraints and the base class that checks them when a model runs."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import pytest

import attribution as at
from attribution.constraints import (
    Constraints,
    InstanceOf,
    Integral,
    Interval,
    Options,
    Real,
    Satisfies,
    as_constraints,
    check_params,
    describe,
)
from attribution.errors import ModelError
from attribution.journeys import Journeys
from attribution.models import Linear, Markov, PositionBased, Shapley, TimeDecay
from attribution.testing import check_model, example_journeys

ONE = Journeys.from_paths([["a", "b"]], [1], days_before=[[1.0, 0.0]])


# -- the constraint objects ------------------------------------------------------------
@pytest.mark.parametrize(
    ("constraint", "text"),
    [
        (Interval(Integral, 1, None, closed="left"), "an integer >= 1"),
        (Interval(Integral, None, 5, closed="neither"), "an integer < 5"),
        (Interval(Real, 0, None, closed="neither"), "a number > 0"),
        (Interval(Real, 0, 1), "a number in [0, 1]"),
        (Interval(Real, 0.5, 2.5, closed="right"), "a number in (0.5, 2.5]"),
        (Interval(Real, None, None), "a number"),
        (Options("auto"), "'auto'"),
        (Options("a", "b"), "one of ['a', 'b']"),
        (InstanceOf(str), "a string"),
        (Satisfies(bool, "something true"), "something true"),
    ],
)
def test_constraint_text_completes_must_be(constraint, text):
    assert str(constraint) == text


def test_alternatives_are_described_as_one_phrase():
    integer = Interval(Integral, 1, None, closed="left")
    assert describe(as_constraints((integer, Options("auto")))) == "an integer >= 1 or 'auto'"
    assert describe(as_constraints((str, None, Options(3)))) == "a string, None or 3"


@pytest.mark.parametrize(
    ("value", "inside"),
    [
        (1, True),
        (np.int64(7), True),
        (0, False),
        (True, False),  # a bool is not a count
        (2.0, False),  # an integer interval wants an integer
        ("3", False),
        (None, False),
    ],
)
def test_integer_interval(value, inside):
    assert Interval(Integral, 1, None, closed="left").is_satisfied_by(value) is inside


@pytest.mark.parametrize(
    ("value", "inside"),
    [
        (0.5, True),
        (1, True),
        (np.float64(0.25), True),
        (0, False),  # open at 0
        (-1e-300, False),
        (math.inf, False),  # never inside, even with no upper bound
        (math.nan, False),
        (False, False),
        ("1", False),
    ],
)
def test_real_interval_open_at_zero(value, inside):
    assert Interval(Real, 0, None, closed="neither").is_satisfied_by(value) is inside


def test_interval_bounds_follow_closed():
    for closed, expected in [
        ("both", (True, True)),
        ("left", (True, False)),
        ("right", (False, True)),
        ("neither", (False, False)),
    ]:
        c = Interval(Real, 0, 1, closed=closed)
        assert (c.is_satisfied_by(0), c.is_satisfied_by(1)) == expected, closed


def test_interval_refuses_a_bad_declaration():
    with pytest.raises(TypeError, match=r"numbers\.Integral or numbers\.Real"):
        Interval(int, 0, 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="low 2 is above high 1"):
        Interval(Real, 2, 1)
    with pytest.raises(ValueError, match="closed must be"):
        Interval(Real, 0, 1, closed="open")  # type: ignore[arg-type]


def test_options_compare_type_as_well_as_value():
    assert Options(1, "auto").is_satisfied_by(1)
    assert not Options(1).is_satisfied_by(True)
    assert not Options(True).is_satisfied_by(1)
    assert not Options("a").is_satisfied_by(np.array(["a", "b"]))  # no elementwise truth


def test_satisfies_counts_a_raising_predicate_as_not_satisfied():
    positive = Satisfies(lambda v: v > 0, "a positive number")
    assert positive.is_satisfied_by(2) and not positive.is_satisfied_by(-2)
    assert not positive.is_satisfied_by("text")  # '>' raises TypeError


def test_malformed_declarations_are_type_errors():
    with pytest.raises(TypeError, match="constraint of alpha must be a Constraint"):
        as_constraints("between 0 and 1", "alpha")
    with pytest.raises(TypeError, match="lists no alternative"):
        as_constraints((), "alpha")
    with pytest.raises(TypeError, match="relates several parameters, so it must be Satisfies"):
        as_constraints(Interval(Real, 0, 1), ("a", "b"))


# -- checking a declaration ---------------------------------------------------------
DECLARED: Constraints = {
    "low": Interval(Real, 0, 1),
    "high": Interval(Real, 0, 1),
    ("low", "high"): Satisfies(lambda low, high: low <= high, "in order, low <= high"),
    "label": (str, None),
}


def test_check_params_names_owner_parameter_value_and_what_is_allowed():
    good = {"low": 0.2, "high": 0.9, "label": None}
    check_params("m", good, DECLARED)
    with pytest.raises(ModelError, match=r"^m: high must be a number in \[0, 1\], got 1.5$"):
        check_params("m", good | {"high": 1.5}, DECLARED)
    with pytest.raises(ModelError, match=r"^m: label must be a string or None, got 3$"):
        check_params("m", good | {"label": 3}, DECLARED)
    with pytest.raises(
        ModelError, match=r"^m: low and high must be in order, low <= high, got low=0.9, high=0.2$"
    ):
        check_params("m", good | {"low": 0.9, "high": 0.2}, DECLARED)


def test_relations_are_checked_after_every_single_parameter():
    # high="x" would make the relation raise; the single check reports it first.
    with pytest.raises(ModelError, match="high must be a number"):
        check_params("m", {"low": 0.2, "high": "x", "label": None}, DECLARED)


def test_a_constraint_on_no_parameter_is_a_type_error():
    with pytest.raises(TypeError, match="names 'gamma', which is not a parameter"):
        check_params("m", {}, {"gamma": Interval(Real, 0, 1)})


# -- the base class checks when the model runs ---------------------------------------
class Shrunk(Linear):
    """Linear, with a parameter the base class must check before attribute runs."""

    name = "shrunk"
    description = "Linear with a checked `alpha`."
    constraints: ClassVar[Constraints] = {"alpha": Interval(Real, 0, 1)}

    def __init__(self, *, alpha: float = 0.5) -> None:
        self.alpha = alpha
        self.runs_ = 0

    def attribute(self, journeys):
        self.runs_ += 1
        return super().attribute(journeys)


def test_bad_value_is_stored_by_init_and_refused_when_the_model_runs():
    model = Shrunk(alpha=3)
    assert model.alpha == 3 and repr(model) == "Shrunk(alpha=3)"
    with pytest.raises(ModelError, match=r"^shrunk: alpha must be a number in \[0, 1\], got 3$"):
        model.attribute(ONE)
    assert model.runs_ == 0  # refused before its own code ran
    Shrunk(alpha=0.2).attribute(ONE)
    check_model(Shrunk)


def test_a_subclass_without_its_own_attribute_inherits_the_check():
    class Shrunker(Shrunk):
        name = "shrunker"

    with pytest.raises(ModelError, match="shrunker: alpha"):
        Shrunker(alpha=-1).attribute(ONE)


def test_a_model_without_constraints_runs_as_before():
    class Free(Linear):
        name = "free"

        def __init__(self, *, alpha: float = 0.5) -> None:
            self.alpha = alpha

    assert Free.param_constraints() == {}
    Free(alpha="anything").attribute(ONE)  # nothing declared, nothing refused


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (TimeDecay(half_life_days=-2), "time_decay: half_life_days must be a number > 0, got -2"),
        (PositionBased(first=1.5), r"position_based: first must be a number in \[0, 1\]"),
        (
            PositionBased(first=0.7, last=0.5),
            "first and last must be shares adding up to at most 1",
        ),
        (Markov(seed=-1), "markov: seed must be an integer >= 0, got -1"),
        (Markov(order=2.0), "markov: order must be an integer >= 1 or 'auto', got 2.0"),
        (Shapley(samples=True), "shapley: samples must be an integer >= 2, got True"),
    ],
)
def test_builtin_errors_name_model_parameter_value_and_what_is_allowed(model, message):
    with pytest.raises(ModelError, match=message):
        at.attribute(ONE, [model])


def test_builtin_defaults_pass_their_own_constraints():
    for cls in (TimeDecay, PositionBased, Markov, Shapley):
        assert cls.param_constraints(), cls.name
        cls().validate_params()
    Markov(order="auto").attribute(example_journeys())
