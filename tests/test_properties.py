"""Invariants of the builder and of every built-in model (hypothesis)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import attribution as at
from attribution.registry import get_registry
from attribution.testing import CHECKS, check_model, rename_channels, shuffle_rows
from attribution.testing.strategies import journeys as journeys_strategy

BUILTINS = ["first_touch", "last_touch", "linear", "time_decay", "position_based"]


@pytest.mark.parametrize("name", BUILTINS)
def test_builtin_model_passes_the_conformance_suite(name):
    check_model(get_registry().get(name))


@pytest.mark.parametrize("rule", sorted(CHECKS))
def test_conformance_rule_catches_a_broken_model(rule):
    """Every rule must be able to fail: a model broken in the matching way fails it."""
    from attribution.models import Linear, credit_frame

    class Broken(Linear):
        name = "broken"
        needs_times = rule == "missing_times"

        def attribute(self, journeys):
            frame = super().attribute(journeys)
            conv = frame["conversions"].to_numpy().copy()
            val = frame["value"].to_numpy().copy()
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
            elif rule == "missing_times":
                pass  # declares needs_times but the engine must refuse; see below
            return credit_frame(journeys, conv, val)

    if rule == "missing_times":
        Broken.needs_times = False  # claims it can run without times...
        original = Broken.attribute

        def needs_days(self, journeys):  # ...but crashes on them
            assert journeys.days_before is not None, "no times"
            return original(self, journeys)

        Broken.attribute = needs_days
    with pytest.raises(AssertionError):
        CHECKS[rule](Broken(), at.testing.example_journeys())


@settings(max_examples=60, deadline=None)
@given(j=journeys_strategy(weighted=True), name=st.sampled_from(BUILTINS))
def test_credit_adds_up_for_every_model(j, name):
    credit = at.attribute(j, [name]).credits
    assert credit["conversions"].sum() == pytest.approx(j.total_conversions, abs=1e-9)
    assert credit["value"].sum() == pytest.approx(j.total_value, abs=1e-6)
    assert (credit["conversions"] >= 0).all()


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


event_rows = st.lists(
    st.tuples(
        st.integers(0, 4),  # customer
        st.integers(0, 60 * 24 * 90),  # minutes
        st.sampled_from(["a", "b", "c", "d", None]),  # channel, None = conversion
        st.floats(0, 500, allow_nan=False),
    ),
    min_size=1,
    max_size=40,
)


def _frame(rows):
    return pl.DataFrame(
        {
            "customer_id": [f"u{r[0]}" for r in rows],
            "timestamp": [r[1] * 60_000_000 for r in rows],
            "channel": [r[2] for r in rows],
            "event": ["conversion" if r[2] is None else "touch" for r in rows],
            "value": [r[3] if r[2] is None else None for r in rows],
        }
    ).with_columns(pl.col("timestamp").cast(pl.Datetime("us")))


@settings(max_examples=80, deadline=None)
@given(
    rows=event_rows,
    lookback=st.sampled_from([None, 1.0, 7.0, 30.0]),
    collapse=st.booleans(),
    max_touches=st.sampled_from([None, 1, 3]),
)
def test_builder_keeps_every_conversion(rows, lookback, collapse, max_touches):
    frame = _frame(rows)
    j = at.build_journeys(
        at.read_events(frame),
        lookback_days=lookback,
        collapse_repeats=collapse,
        max_touches=max_touches,
    )
    n_conv = sum(r[2] is None for r in rows)
    value = sum(r[3] for r in rows if r[2] is None)
    assert j.total_conversions + j.unattributed.conversions == n_conv
    assert j.total_value + j.unattributed.value == pytest.approx(value)
    assert (j.lengths >= 1).all()
    if j.has_times and lookback is not None and j.n_touches:
        assert j.days_before.max() <= lookback


@settings(max_examples=60, deadline=None)
@given(rows=event_rows, seed=st.integers(0, 1000))
def test_builder_ignores_input_row_order(rows, seed):
    frame = _frame(rows)
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=seed)
    a = at.build_journeys(at.read_events(frame))
    b = at.build_journeys(at.read_events(shuffled))
    assert np.array_equal(a.codes, b.codes) and np.array_equal(a.offsets, b.offsets)
    assert np.array_equal(a.value, b.value) and np.array_equal(a.days_before, b.days_before)
