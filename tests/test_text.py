"""Plain-text renderers: aligned tables and the one-line run summary."""

from __future__ import annotations

import polars as pl

import attribution as at
from attribution.text import render_table, summary_text


def test_table_aligns_text_left_and_numbers_right_with_the_digits_asked():
    frame = pl.DataFrame({"channel": ["a", "email"], "value": [1234.5, None], "n": [3, 12]})
    assert render_table(frame, digits=1).splitlines() == [
        "channel    value   n",
        "-------  -------  --",
        "a        1,234.5   3",
        "email             12",
    ]


def test_summary_counts_null_journeys_and_leaves_out_customers_paths_do_not_have():
    paths = at.Journeys.from_paths([["a"], ["b"]], conversions=[2, 0], value=[30, 0], nulls=[0, 1])
    text = summary_text(at.attribute(paths, ["linear"]))
    assert text == (
        "3 journeys (2 converting), 2 conversions worth 30.00: "
        "2 attributed, 0 unattributed (worth 0.00)"
    )
