"""The conformance suite (attribution.testing): every rule can fail, and every built-in
model keeps every rule, on fixed and on random journeys (hypothesis)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import attribution as at
from attribution.constraints import Constraints, Interval, Real
from attribution.models import Linear, credit_frame
from attribution.registry import Registry
from attribution.testing import (
    CHECKS,
    check_model,
    example_journeys,
    parametrize_with_checks,
    rename_channels,
    shuffle_rows,
)
from attribution.testing.strategies import journeys as journeys_strategy

ENGINE = "attribution-engine"
# Every model this package registers that loads; one that does not load is
# reported by the conformance cases below, as failing tests.
MODELS, _ = Registry(include=lambda dist: dist == ENGINE).load_all()
BUILTINS = sorted(MODELS)


@parametrize_with_checks(package=ENGINE)
def test_builtin_model_passes_the_conformance_suite(model, check):
    check(model)


def test_every_heuristic_is_checked():
    expected = {"first_touch", "last_touch", "linear", "time_decay", "position_based"}
    assert expected <= set(BUILTINS)


class Broken(Linear):
    """Linear, broken in the way that the rule ``rule`` must catch."""

    name = "broken"

    def __init__(self, *, rule: str = "") -> None:
        self.rule = rule

    def attribute(self, journeys):
        frame = super().attribute(journeys)
        conv = frame["conversions"].to_numpy().copy()
        val = frame["value"].to_numpy().copy()
        rule = self.rule
        if rule == "credit_adds_up" and len(conv):
            conv[0] += 1
        elif rule == "no_negative_credit" and len(conv) > 1:
            conv[1] += conv[0] + 1.0
            conv[0] = -1.0
        elif rule == "row_order_does_not_matter" and journeys.n_rows:
            shift = float(journeys.codes[0]) - float(journeys.codes[-1]) + 0.5
            conv[0] += shift
            conv[-1] -= shift
        elif rule == "channel_names_do_not_matter" and len(conv) > 1:
            conv[0] += 0.5  # favours whichever channel sorts first by name
            conv[1] -= 0.5
        elif rule == "deterministic" and len(conv) > 1:
            bump = np.random.default_rng().random()
            conv[0] += bump
            conv[1] -= bump
        elif rule == "one_channel_journeys" and len(conv) > 1:
            conv[0] += 0.5
            conv[1] -= 0.5
        elif rule == "empty_input" and journeys.n_rows == 0 and len(conv) > 1:
            conv[0], conv[1] = 1.0, -1.0
        elif rule == "no_conversions" and journeys.n_rows and not journeys.total_conversions:
            conv[:] = np.nan  # 0 / 0, as a removal effect of a chain that never converts
        elif rule == "input_unchanged" and journeys.n_rows:
            journeys.nulls[0] += 1.0
        elif rule == "missing_times":
            # claims it can run without times, but crashes on them
            assert journeys.days_before is not None, "no times"
        return credit_frame(journeys, conv, val)

    def details(self):
        if self.rule == "details_are_json":
            return {"transition_matrix": np.eye(2)}  # an array, not a list
        return {"rule": self.rule, "total": np.float64(1.5)}  # numpy scalars are fine


class StateKeeping(Linear):
    """Learns on its first run and gives that credit ever after."""

    name = "state_keeping"

    def attribute(self, journeys):
        if getattr(self, "first_", None) is None:
            self.first_ = super().attribute(journeys)
        return self.first_


@pytest.mark.parametrize("rule", sorted(CHECKS))
def test_conformance_rule_catches_a_broken_model(rule):
    """Every rule must be able to fail: a model broken in the matching way fails it."""
    if rule == "declares_contract":  # a breach of the class: see the test further down
        broken = object.__new__(_contract_breaches()["positional"][0])
    else:
        broken = Broken(rule=rule)
    with pytest.raises(AssertionError):
        CHECKS[rule](broken, example_journeys())
    # ...and a working model passes it.
    CHECKS[rule](Broken(), example_journeys())


def test_deterministic_catches_state_kept_between_runs():
    with pytest.raises(AssertionError, match="fresh StateKeeping"):
        CHECKS["deterministic"](StateKeeping(), example_journeys())


def _contract_breaches():
    class Positional(Linear):
        name = "positional"
        description = "x"

        def __init__(self, alpha: float = 1.0) -> None:
            self.alpha = alpha

    class NoDefault(Linear):
        name = "no_default"
        description = "x"

        def __init__(self, *, alpha: float) -> None:
            self.alpha = alpha

    class ListParam(Linear):
        name = "list_param"
        description = "x"

        def __init__(self, *, channels: list[str] | None = None) -> None:
            self.channels = channels

    class Validating(Linear):
        name = "validating"
        description = "x"

        def __init__(self, *, alpha: float = 1.0) -> None:
            if not alpha > 0:
                raise ValueError("alpha must be > 0")
            self.alpha = alpha

    class Renaming(Linear):
        name = "renaming"
        description = "x"

        def __init__(self, *, alpha: float = 1.0) -> None:
            self.alpha_ = alpha

    class Kwargs(Linear):
        name = "kwargs"
        description = "x"

        def __init__(self, **options: float) -> None:
            self.options = options

    class CamelCase(Linear):
        name = "CamelCase"
        description = "x"

    class TwoLines(Linear):
        name = "two_lines"
        description = "first line\nsecond line"

    class BadDefault(Linear):
        name = "bad_default"
        description = "x"

        def __init__(self, *, alpha: float = "high") -> None:  # type: ignore[assignment]
            self.alpha = alpha

    class CommaDefault(Linear):
        name = "comma_default"
        description = "x"

        def __init__(self, *, direct: str = "direct,(none)") -> None:
            self.direct = direct

    class ConstrainsAStranger(Linear):
        name = "constrains_a_stranger"
        description = "x"
        constraints: ClassVar[Constraints] = {"beta": Interval(Real, 0, 1)}

        def __init__(self, *, alpha: float = 1.0) -> None:
            self.alpha = alpha

    class DefaultOutOfBounds(Linear):
        name = "default_out_of_bounds"
        description = "x"
        constraints: ClassVar[Constraints] = {"alpha": Interval(Real, 0, 1)}

        def __init__(self, *, alpha: float = 2.0) -> None:
            self.alpha = alpha

    class MalformedConstraint(Linear):
        name = "malformed_constraint"
        description = "x"
        constraints: ClassVar[Constraints] = {"alpha": "between 0 and 1"}  # type: ignore[dict-item]

        def __init__(self, *, alpha: float = 0.5) -> None:
            self.alpha = alpha

    return {
        "constrains_a_stranger": (ConstrainsAStranger, "names 'beta', which is not a parameter"),
        "default_out_of_bounds": (
            DefaultOutOfBounds,
            r"defaults break .* alpha must be a number in \[0, 1\], got 2.0",
        ),
        "malformed_constraint": (MalformedConstraint, "must be a Constraint, a type or None"),
        "comma_default": (CommaDefault, "does not survive the spec 'direct=direct,\\(none\\)'"),
        "positional": (Positional, "must be keyword-only"),
        "no_default": (NoDefault, "needs a default"),
        "list_param": (ListParam, "which NAME:key=value cannot give"),
        "validating": (Validating, "must store its parameters unchanged"),
        "renaming": (Renaming, "not stored unchanged as self.alpha"),
        "kwargs": (Kwargs, "the CLI can only pass named parameters"),
        "camel_case": (CamelCase, "must be snake_case"),
        "two_lines": (TwoLines, "must be one non-empty line"),
        "bad_default": (BadDefault, "does not survive the spec"),
    }


@pytest.mark.parametrize("breach", sorted(_contract_breaches()))
def test_declares_contract_catches_each_breach(breach):
    cls, message = _contract_breaches()[breach]
    model = object.__new__(cls)  # __init__ may be what is broken
    with pytest.raises(AssertionError, match=message):
        CHECKS["declares_contract"](model, example_journeys())


def test_channel_named_by_a_parameter_keeps_its_name():
    from attribution.models import LastTouch

    class SkipChannel(LastTouch):
        """Last touch, never crediting the channel ``skip`` (it goes to the last other)."""

        name = "skip_channel"
        description = "x"

        def __init__(self, *, skip: str = "ch0") -> None:
            self.skip = skip

        def weights(self, journeys):
            w = super().weights(journeys)
            if self.skip in journeys.channels:
                w = np.where(journeys.codes == journeys.channels.index(self.skip), 0.0, w)
                w = w / np.maximum(np.add.reduceat(w, journeys.offsets[:-1]), 1e-300).repeat(
                    journeys.lengths
                )
            return w

    j = example_journeys()
    CHECKS["channel_names_do_not_matter"](SkipChannel(), j)  # ch0 keeps its name
    # The rule still renames the other channels: favouring one by name fails.
    with pytest.raises(AssertionError):
        CHECKS["channel_names_do_not_matter"](Broken(rule="channel_names_do_not_matter"), j)


@settings(max_examples=60, deadline=None)
@given(j=journeys_strategy(weighted=True), name=st.sampled_from(BUILTINS))
def test_credit_adds_up_for_every_model(j, name):
    credit = at.attribute(j, [name]).credits
    assert credit["conversions"].sum() == pytest.approx(j.total_conversions, abs=1e-9)
    assert credit["value"].sum() == pytest.approx(j.total_value, abs=1e-6)
    if not MODELS[name].allows_negative:
        assert (credit["conversions"] >= -1e-12).all()


@settings(max_examples=40, deadline=None)
@given(j=journeys_strategy(), name=st.sampled_from(BUILTINS), seed=st.integers(0, 100))
def test_row_order_and_channel_names_do_not_matter(j, name, seed):
    ref = at.attribute(j, [name]).credits.sort("channel")
    shuffled = at.attribute(shuffle_rows(j, seed), [name]).credits.sort("channel")
    assert shuffled["conversions"].to_list() == pytest.approx(ref["conversions"].to_list())
    mapping = {c: f"renamed_{99 - i}" for i, c in enumerate(j.channels)}
    renamed = at.attribute(rename_channels(j, mapping), [name]).credits
    back = renamed.with_columns(
        pl.col("channel").replace_strict({v: k for k, v in mapping.items()})
    ).sort("channel")
    assert back["value"].to_list() == pytest.approx(ref["value"].to_list())


@settings(max_examples=40, deadline=None)
@given(
    j=st.one_of(journeys_strategy(weighted=True), journeys_strategy(with_times=False)),
    name=st.sampled_from(BUILTINS),
)
def test_every_rule_holds_on_random_journeys(j, name):
    check_model(MODELS[name], j)
