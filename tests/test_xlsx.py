"""The workbook a planner works in, read back with openpyxl: sheets, formats, totals apart."""

from __future__ import annotations

import pytest

from attribution.costs import TOTAL
from attribution.kpis import compute_kpis
from attribution.run import run
from attribution.sinks import write_output
from attribution.workbook import Sheet, Workbook, run_workbook
from tests.cli import invoke

openpyxl = pytest.importorskip("openpyxl")


@pytest.fixture
def book(sample_events, tmp_path):
    out = tmp_path / "plan.xlsx"
    result = invoke(
        "run",
        sample_events,
        "-m",
        "linear",
        "-m",
        "markov",
        "--costs",
        sample_events.parent / "costs.csv",
        "--currency",
        "EUR",
        "-o",
        out,
    )
    assert result.exit_code == 0, result.output
    return openpyxl.load_workbook(out)


def rows_of(sheet, table: str) -> tuple[list[str], list[list[object]]]:
    """The header and the rows of one Excel table of ``sheet``."""
    cells = sheet[sheet.tables[table].ref]
    header = [c.value for c in cells[0]]
    return header, [[c.value for c in row] for row in cells[1:]]


def test_workbook_has_a_sheet_per_view(book):
    assert book.sheetnames == [
        "About",
        "Credit by model",
        "Comparison",
        "Costs and returns",
        "KPIs",
        "Channels",
        "Top paths",
    ]
    about = {row[0].value: row[1].value for row in book["About"].iter_rows(min_row=2)}
    assert about["Lookback window"] == "30 days before each conversion"
    assert about["Conversion value"].startswith("EUR ")
    assert about["Baseline of the comparison"] == "Last touch"  # the default, run on its own
    assert "Splits each conversion equally" in about["Model: Linear"]


def test_every_sheet_has_a_bold_frozen_header_and_a_table_style(book):
    for sheet in book.worksheets:
        assert sheet.freeze_panes == "A2", sheet.title
        assert all(c.font.b for c in sheet[1] if c.value is not None), sheet.title
        assert sheet.tables, sheet.title
        for table in sheet.tables.values():
            assert table.tableStyleInfo.name == "TableStyleMedium2"


def test_numbers_are_formatted_as_what_they_are(book):
    header, _ = rows_of(book["Credit by model"], "Creditbymodel")
    sheet = book["Credit by model"]
    fmt = {h: sheet.cell(2, j + 1).number_format for j, h in enumerate(header)}
    assert fmt["Share of conversions"] == "0.0%"
    assert fmt["Conversion value"] == '#,##0.00 "EUR"'
    channels = book["Channels"]
    header = [c.value for c in channels[1]]
    journeys = channels.cell(2, header.index("Journeys") + 1)
    assert journeys.number_format == "#,##0" and isinstance(journeys.value, int)
    assert channels.cell(2, header.index("Conversion rate") + 1).number_format == "0.0%"
    kpis = {row[1].value: row[2] for row in book["KPIs"].iter_rows(min_row=2)}
    assert kpis["Conversions"].number_format == "#,##0"
    assert kpis["Conversion rate"].number_format == "0.0%"
    assert kpis["Average order value"].number_format == '#,##0.00 "EUR"'
    comparison = book["Comparison"]
    header = [c.value for c in comparison[1]]
    change = comparison.cell(2, header.index("Change in conversions, %") + 1)
    assert change.number_format.startswith("+0.0%")


def test_totals_are_kept_apart_so_a_sum_of_the_table_counts_each_conversion_once(
    book, sample_events
):
    outcome = run(sample_events, ["linear", "markov"], costs=sample_events.parent / "costs.csv")
    attributed = outcome.result.summary["attributed_conversions"]
    sheet = book["Costs and returns"]
    header, rows = rows_of(sheet, "Costsandreturns")
    conversions = header.index("Conversions")
    assert TOTAL not in [r[header.index("Channel")] for r in rows]
    # what a planner's =SUM(C:C) over the table gives: every model's credit once
    assert sum(r[conversions] for r in rows) == pytest.approx(2 * attributed)
    t_header, totals = rows_of(sheet, "Costsandreturnstotals")
    assert [r[0] for r in totals] == ["linear", "markov"]
    assert [r[t_header.index("Conversions")] for r in totals] == pytest.approx([attributed] * 2)
    # the totals table starts below the data, after an empty row
    last = int(sheet.tables["Costsandreturns"].ref.split(":")[1].lstrip("ABCDEFGHIJ"))
    first = int(sheet.tables["Costsandreturnstotals"].ref.split(":")[0].lstrip("ABCDEFGHIJ"))
    assert first >= last + 2
    credit_header, credit_rows = rows_of(book["Credit by model"], "Creditbymodel")
    share = credit_header.index("Share of conversions")
    assert sum(r[share] for r in credit_rows) == pytest.approx(2.0)  # 100% per model


def test_unavailable_kpis_are_empty_with_the_reason(sample_events, tmp_path):
    paths = tmp_path / "paths.csv"
    assert invoke("paths", sample_events, "-o", paths).exit_code == 0
    out = tmp_path / "k.xlsx"
    assert invoke("kpis", paths, "-o", out).exit_code == 0
    sheet = openpyxl.load_workbook(out)["KPIs"]
    rows = {row[1].value: (row[2].value, row[3].value) for row in sheet.iter_rows(min_row=2)}
    assert rows["Customers"] == (None, "the input has no customers (paths table)")
    assert rows["Journeys"][0] == 2025


def test_compare_writes_its_table_with_the_measure_as_percentages(sample_events, tmp_path):
    out = tmp_path / "c.xlsx"
    args = ("-m", "linear", "-m", "time_decay:half_life_days=3", "-o", out)
    assert invoke("compare", sample_events, *args).exit_code == 0
    sheet = openpyxl.load_workbook(out).worksheets[0]
    header = [c.value for c in sheet[1]]
    assert header == [
        "Channel",
        "Linear",
        "Time decay (half_life_days=3)",
        "Lowest",
        "Highest",
        "Spread",
    ]
    assert {sheet.cell(2, j).number_format for j in range(2, 7)} == {"0.0%"}


def test_a_frame_is_one_sheet_and_an_empty_table_still_has_its_header(tmp_path):
    import polars as pl

    out = tmp_path / "one.xlsx"
    write_output(pl.DataFrame({"channel": ["a"], "journeys": [3.0]}), out, "xlsx")
    sheet = openpyxl.load_workbook(out)["Data"]
    assert [c.value for c in sheet[1]] == ["Channel", "Journeys"]
    assert sheet.cell(2, 2).number_format == "#,##0"
    empty = tmp_path / "empty.xlsx"
    frame = pl.DataFrame(schema={"channel": pl.String, "share": pl.Float64})
    write_output(Workbook((Sheet("Nothing", frame),)), empty, "xlsx")
    assert [c.value for c in openpyxl.load_workbook(empty)["Nothing"][1]] == [
        "Channel",
        "Share of conversions",
    ]


def test_run_workbook_without_kpis_or_baseline_has_fewer_sheets(sample_events):
    outcome = run(sample_events, ["linear"])
    assert [s.name for s in run_workbook(outcome).sheets] == ["About", "Credit by model"]
    full = run_workbook(outcome, kpis=compute_kpis(outcome.result.journeys), baseline="linear")
    assert "Comparison" not in [s.name for s in full.sheets]  # only the baseline ran
