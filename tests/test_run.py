"""A whole run in one call: load, attribute, join costs, and what to tell the user."""

from __future__ import annotations

import pytest

import attribution as at
from attribution.costs import TOTAL
from attribution.run import Run, run
from tests.conftest import write_csv


@pytest.fixture
def events(tmp_path):
    return write_csv(
        tmp_path / "e.csv",
        """customer_id,timestamp,channel,event,value
        u,2024-01-01,search,touch,
        u,2024-01-02,,conversion,100
        v,2024-01-01,email,touch,
        v,2024-01-02,,conversion,40
        w,2024-03-01,,conversion,5""",
    )


def test_run_reads_a_source_with_the_load_options(events):
    outcome = run(events, ["last_touch"], lookback_days=None)
    assert isinstance(outcome, Run)
    assert outcome.credits.columns == ["model", "channel", "conversions", "value", "share"]
    assert outcome.result.summary["unattributed_conversions"] == 1  # w has no touch
    journeys = at.load_journeys(events)
    assert run(journeys, ["last_touch"]).credits.equals(outcome.credits)


def test_messages_are_the_summary_then_the_notes_then_the_cost_warning(events):
    outcome = run(events, ["last_touch"], costs={"search": 50})
    lines = outcome.messages()
    # w converts with no touch: counted as unattributed, with no journey of its own
    assert lines[0] == (
        "2 customers (and 1 with no journey), 2 journeys (2 converting), "
        "3 conversions worth 145.00: "
        "2 attributed, 1 unattributed (worth 5.00)"
    )
    assert lines[-1].startswith("warning: no cost for channel(s) ['email']")
    assert outcome.credits["channel"].to_list() == ["email", "search", TOTAL]
    assert outcome.to_dict()["uncosted_channels"] == ["email"]


def test_without_costs_there_is_no_cost_warning_and_no_cost_column(events):
    outcome = run(events, ["linear"])
    assert outcome.costed is None and "cost" not in outcome.credits.columns
    assert not [m for m in outcome.messages() if m.startswith("warning:")]
    assert "uncosted_channels" not in outcome.to_dict()


def test_paths_only_input_says_which_models_it_skipped(events, tmp_path):
    paths = tmp_path / "p.csv"
    at.load_journeys(events).to_paths_table().write_csv(paths)
    outcome = run(paths)
    assert "skipped time_decay: needs touch times; the input has none (paths table)" in (
        outcome.messages()
    )


def test_totals_row_only_when_asked(events):
    assert (
        TOTAL
        not in run(events, ["linear"], costs={"search": 1}, totals=False)
        .credits["channel"]
        .to_list()
    )
