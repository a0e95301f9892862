"""Plain-text renderers: aligned tables that fit the width, one number style, the summary."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import attribution as at
from attribution.text import render_table, summary_text, terminal_width


def test_table_aligns_text_left_and_numbers_right_with_the_digits_asked():
    frame = pl.DataFrame({"channel": ["a", "email"], "amount": [1234.5, None], "n": [3, 12]})
    assert render_table(frame, digits=1).splitlines() == [
        "channel   amount   n",
        "-------  -------  --",
        "a        1,234.5   3",
        "email             12",
    ]


def test_numbers_read_by_their_kind_counts_whole_shares_in_percent_money_two_decimals():
    frame = pl.DataFrame(
        {
            "channel": ["a", "b"],
            "conversions": [3.0, 12.0],
            "value": [10.0, 2.5],
            "share": [0.2, 0.8],
            "journeys": [2.0, 2.5],
        }
    )
    lines = render_table(frame, width=0).splitlines()
    assert lines[2].split() == ["a", "3", "10.00", "20.0%", "2.00"]
    assert lines[3].split() == ["b", "12", "2.50", "80.0%", "2.50"]  # 2.5 journeys: decimals


def wide(models: int, channel: str = "paid_search") -> pl.DataFrame:
    data = {"channel": [channel, "email"]}
    for k in range(models):
        data[f"time_decay:half_life_days={k}"] = [1234.5 + k, 2.0]
    return pl.DataFrame(data)


def test_many_models_go_into_blocks_that_fit_and_repeat_the_channel():
    frame = wide(8)
    text = render_table(frame, kind="count", width=80)
    blocks = text.split("\n\n")
    assert len(blocks) > 1 and max(len(line) for line in text.splitlines()) <= 80
    for block in blocks:  # every block has the channels, each on one line
        rows = block.splitlines()
        assert rows[0].startswith("channel") and rows[2].startswith("paid_search")
        assert len(rows) == 4
    # every model is shown once
    headers = [h for b in blocks for h in b.splitlines()[0].split()[1:]]
    assert headers == [c for c in frame.columns if c != "channel"]


def test_a_channel_name_too_long_for_the_width_is_cut_not_wrapped():
    text = render_table(wide(3, channel="x" * 120), kind="count", width=60)
    assert max(len(line) for line in text.splitlines()) <= 60
    assert "…" in text


@settings(max_examples=40, deadline=None)
@given(
    words=st.lists(st.text("abcxyz=,", min_size=1, max_size=30), min_size=1, max_size=40),
    width=st.integers(20, 120),
)
def test_a_text_table_too_wide_wraps_its_text_and_loses_no_word(words, width):
    # the model list: every column text, one cell far wider than the terminal
    frame = pl.DataFrame({"name": ["markov", "linear"], "parameters": [" ".join(words), ""]})
    text = render_table(frame, width=width)
    assert text and max(len(line) for line in text.splitlines()) <= width
    assert text.splitlines()[0].startswith("name")
    shown = text.split()
    for word in words:  # in order, whole unless one word alone is wider than its column
        assert word in shown or len(word) > width // 2


@pytest.mark.parametrize("width", [80, 100])
def test_the_model_list_fits_the_terminal_and_names_every_model(width, monkeypatch):
    from tests.cli import invoke

    monkeypatch.setenv("COLUMNS", str(width))
    result = invoke("models")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= width
    for name in ("markov", "shapley", "data_driven", "time_decay"):
        assert any(line.startswith(name + " ") for line in lines), result.stdout


def test_width_comes_from_columns_and_is_80_when_unknown(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    assert terminal_width() == 100
    monkeypatch.delenv("COLUMNS")
    assert terminal_width() == 80  # the tests' stdout is not a terminal


@settings(max_examples=40, deadline=None)
@given(
    models=st.integers(1, 12),
    name=st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=90),
    width=st.integers(20, 200),
)
def test_no_line_is_ever_wider_than_the_width(models, name, width):
    text = render_table(wide(models, channel=name), kind="count", width=width)
    assert max(len(line) for line in text.splitlines()) <= width
    # and each row stays one line: as many lines per block as the table has rows + 2
    for block in text.split("\n\n"):
        assert len(block.splitlines()) == 4


def test_summary_counts_null_journeys_and_leaves_out_customers_paths_do_not_have():
    paths = at.Journeys.from_paths([["a"], ["b"]], conversions=[2, 0], value=[30, 0], nulls=[0, 1])
    text = summary_text(at.attribute(paths, ["linear"]))
    assert text == (
        "3 journeys (2 converting), 2 conversions worth 30.00: "
        "2 attributed, 0 unattributed (worth 0.00)"
    )


@pytest.mark.parametrize("command", ["run", "compare", "kpis"])
def test_cli_output_fits_80_columns(command, sample_events, monkeypatch):
    from tests.cli import invoke

    monkeypatch.setenv("COLUMNS", "80")
    costs = ["--costs", sample_events.parent / "costs.csv"] if command == "run" else []
    args = [command, sample_events, *costs]
    result = invoke(*args)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert len(lines) > 10 and max(len(line) for line in lines) <= 80


def test_run_compare_and_kpis_read_shares_as_percentages(sample_events):
    from tests.cli import invoke

    compare = invoke("compare", sample_events, "-m", "linear").stdout
    run = invoke(
        "run", sample_events, "-m", "linear", "--costs", sample_events.parent / "costs.csv"
    ).stdout
    kpis = invoke("kpis", sample_events).stdout
    for text in (compare, run, kpis):
        assert "%" in text
    assert "0.0806" not in compare and "0.08 " not in run  # no raw fractions
    row = next(line for line in kpis.splitlines() if line.startswith("conversion_rate"))
    assert row.split()[-1].endswith("%")
