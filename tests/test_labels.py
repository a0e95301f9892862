"""The engine's names in words and one number style for every renderer."""

from __future__ import annotations

import pytest

from attribution.builder import load_journeys
from attribution.kpis import compute_kpis
from attribution.labels import (
    HEADLINE_KPIS,
    LABELS,
    column_texts,
    format_value,
    kpi_groups,
    label,
    model_summary,
    model_title,
    whole_counts,
)


def test_every_kpi_has_words_and_a_place(sample_events):
    kpis = compute_kpis(load_journeys(sample_events))
    missing = [name for name in kpis.headline if name not in LABELS]
    assert missing == []  # a new KPI gets its words in attribution/labels.py
    groups = kpi_groups(kpis.headline)
    placed = [n for _, names in groups for n in names]
    assert "Other" not in [g for g, _ in groups]
    assert sorted([*placed, *HEADLINE_KPIS]) == sorted(kpis.headline)  # each once


@pytest.mark.parametrize(
    ("value", "kind", "text"),
    [
        (12.0, "count", "12"),
        (12.5, "count", "12.50"),
        (1234567.0, "count", "1,234,567"),
        (0.1234, "share", "12.3%"),
        (-0.05, "change", "-5.0%"),
        (0.25, "change", "+25.0%"),
        (50.0, "money", "50.00"),
        (None, "share", ""),
        (float("nan"), "count", ""),
        (3.25, "days", "3.2"),
    ],
)
def test_numbers_read_by_kind(value, kind, text):
    assert format_value(value, kind) == text


def test_money_says_its_currency_and_a_column_of_counts_keeps_one_style():
    assert format_value(1250, "money", currency="EUR") == "EUR 1,250.00"
    assert column_texts([1.0, 2.0, None], "count") == ["1", "2", ""]
    assert column_texts([1.0, 2.5], "count") == ["1.00", "2.50"]


def test_names_and_models_in_words():
    assert label("average_order_value") == "Average order value"
    assert label("some_new_thing") == "Some new thing"
    assert model_title("time_decay:half_life_days=3") == "Time decay (half_life_days=3)"
    assert model_title("markov#2") == "Markov #2"
    assert model_title("ordered_shapley") == "Ordered Shapley"


def test_a_summary_fills_its_parameters_and_survives_stray_braces():
    from attribution.models.heuristics import Linear, PositionBased

    assert model_summary(PositionBased(first=0.3, last=0.5)).startswith("Gives 30% of each")

    class Braces(Linear):
        name = "braces"
        summary = "Uses {a set} of {unknown} things."

    assert model_summary(Braces()) == "Uses {a set} of {unknown} things."


def test_whole_counts_become_ints_and_fractions_stay():
    doc = {
        "journeys": 3.0,
        "conversions": 2.5,
        "conversion_rate": 1.0,
        "rows": [{"customers": 4.0}],
    }
    assert whole_counts(doc) == {
        "journeys": 3,
        "conversions": 2.5,
        "conversion_rate": 1.0,
        "rows": [{"customers": 4}],
    }
