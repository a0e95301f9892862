"""`attribution run`: the credit table in every format, costs, the accounts, whole files."""

from __future__ import annotations

import io
import json

import polars as pl
import pytest

from attribution.costs import COST_COLUMNS, TOTAL
from attribution.registry import get_registry
from tests.cli import invoke
from tests.conftest import write_csv


def test_run_prints_channels_by_models_and_a_summary(sample_events):
    result = invoke("run", sample_events, "-m", "linear", "-m", "last_touch")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["channel", "linear", "last_touch"]
    total = sum(float(line.split()[1].replace(",", "")) for line in lines[2:])
    summary = result.stderr
    assert "unattributed" in summary
    attributed = float(summary.split(" attributed")[0].split(": ")[-1].replace(",", ""))
    assert total == pytest.approx(attributed, abs=0.05)


def test_run_csv_is_the_long_credit_table(sample_events):
    result = invoke("run", sample_events, "--format", "csv", "-m", "linear", "-m", "time_decay")
    frame = pl.read_csv(io.StringIO(result.stdout))
    assert frame.columns == ["model", "channel", "conversions", "value", "share"]
    assert set(frame["model"]) == {"linear", "time_decay"}
    for _, group in frame.group_by("model"):
        assert group["share"].sum() == pytest.approx(1.0)


def test_run_json_accounts_for_every_conversion(tmp_path):
    path = write_csv(
        tmp_path / "e.csv",
        """customer_id,timestamp,channel,event,value
        u,2024-01-01,a,touch,
        u,2024-01-02,,conversion,10
        v,2024-01-01,,conversion,4""",
    )
    result = invoke("run", path, "--format", "json", "-m", "linear")
    doc = json.loads(result.stdout)
    s = doc["summary"]
    assert (s["conversions"], s["attributed_conversions"], s["unattributed_conversions"]) == (
        2,
        1,
        1,
    )
    assert s["unattributed_value"] == 4
    assert sum(r["value"] for r in doc["credits"]) == 10


def test_run_same_model_twice_labels_by_spec(sample_events):
    result = invoke(
        "run",
        sample_events,
        "--format",
        "csv",
        "-m",
        "time_decay:half_life_days=2",
        "-m",
        "time_decay",
    )
    frame = pl.read_csv(io.StringIO(result.stdout))
    assert frame["model"].unique(maintain_order=True).to_list() == [
        "time_decay:half_life_days=2",
        "time_decay",
    ]


def test_run_writes_parquet_whole(sample_events, tmp_path):
    out = tmp_path / "credit.parquet"
    result = invoke("run", sample_events, "-o", out)
    assert result.exit_code == 0 and f"wrote {out}" in result.stderr
    frame = pl.read_parquet(out)
    loaded, _ = get_registry().load_all()
    assert frame.schema["conversions"] == pl.Float64
    assert frame.height == len(loaded) * 8  # every registered model, every channel
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_failed_run_leaves_no_output_file(tmp_path):
    bad = write_csv(tmp_path / "bad.csv", "customer_id,timestamp,channel,event\nu,never,a,touch")
    out = tmp_path / "out.csv"
    result = invoke("run", bad, "-o", out)
    assert result.exit_code == 1 and not out.exists()
    assert list(tmp_path.iterdir()) == [bad]


def test_output_never_overwrites_the_input(sample_events, tmp_path):
    copy = tmp_path / "events.csv"
    copy.write_bytes(sample_events.read_bytes())
    result = invoke("run", copy, "-o", copy)
    assert result.exit_code == 1 and "refusing to overwrite the input" in result.stderr
    assert copy.read_bytes() == sample_events.read_bytes()


# -- command line ---------------------------------------------------------
@pytest.fixture
def small_input(tmp_path):
    events = write_csv(
        tmp_path / "e.csv",
        """customer_id,timestamp,channel,event,value
        u,2024-01-01,search,touch,
        u,2024-01-02,,conversion,100
        v,2024-01-01,social,touch,
        v,2024-01-02,search,touch,
        v,2024-01-03,,conversion,60
        w,2024-01-01,email,touch,
        w,2024-01-02,,conversion,40""",
    )
    costs = write_csv(
        tmp_path / "costs.csv",
        """Channel,Spend
        search,80
        social,0
        tv,500""",
    )
    return events, costs


def run_costed(small_input, *extra):
    events, costs = small_input
    return invoke(
        "run",
        events,
        "-m",
        "last_touch",
        "--costs",
        costs,
        "--cost-channel-col",
        "Channel",
        "--cost-col",
        "Spend",
        *extra,
    )


def test_cli_run_costs_csv_has_plain_numbers_and_empty_cells(small_input):
    result = run_costed(small_input, "--format", "csv")
    assert result.exit_code == 0, result.output
    assert "warning: no cost for channel(s) ['email']" in result.stderr
    header, *lines = result.stdout.splitlines()
    assert header == "model,channel,conversions,value,share,cost,cpa,roas,roi"
    assert "inf" not in result.stdout.lower() and "nan" not in result.stdout.lower()
    cells = {line.split(",")[1]: line.split(",")[2:] for line in lines}
    # conversions, value, share, cost, cpa, roas, roi
    assert cells["email"][:2] == ["1.0", "40.0"]
    assert cells["email"][3:] == ["", "", "", ""]  # credit, no cost
    assert cells["social"][3:] == ["0.0", "", "", ""]  # zero cost, zero credit
    assert cells["tv"][:2] == ["0.0", "0.0"]  # cost, no credit
    assert cells["tv"][4:] == ["", "0.0", "-1.0"]
    assert cells["search"][3:] == ["80.0", "40.0", "2.0", "1.0"]
    total = [float(v) for v in cells[TOTAL]]
    assert total == pytest.approx([3, 200, 1, 580, 580 / 3, 200 / 580, (200 - 580) / 580])


def test_cli_run_costs_json_and_parquet_have_nulls(small_input, tmp_path):
    result = run_costed(small_input, "--format", "json")
    doc = json.loads(result.stdout)
    assert doc["uncosted_channels"] == ["email"]
    social = next(r for r in doc["credits"] if r["channel"] == "social")
    assert (social["cpa"], social["roas"], social["roi"]) == (None, None, None)
    assert "Infinity" not in result.stdout and "NaN" not in result.stdout
    out = tmp_path / "credit.parquet"
    run_costed(small_input, "-o", out)
    frame = pl.read_parquet(out)
    assert all(frame.schema[c] == pl.Float64 for c in COST_COLUMNS)
    assert frame.filter(pl.col("channel") == "social")["roas"].to_list() == [None]
    assert frame.select(pl.col(pl.Float64).is_nan().any()).row(0) == (False,) * 7


def test_cli_run_costs_table_and_no_totals(small_input):
    table = run_costed(small_input).stdout
    assert table.splitlines()[0].split() == [
        "model",
        "channel",
        "conversions",
        "value",
        "share",
        "cost",
        "cpa",
        "roas",
        "roi",
    ]
    assert TOTAL in table
    csv = run_costed(small_input, "--format", "csv", "--no-totals").stdout
    assert TOTAL not in csv
    assert pl.read_csv(io.StringIO(csv))["channel"].to_list() == ["email", "search", "social", "tv"]


def test_cli_run_costs_xlsx_is_a_workbook(small_input, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")

    out = tmp_path / "credit.xlsx"
    result = run_costed(small_input, "-o", out)
    assert result.exit_code == 0
    book = openpyxl.load_workbook(out)
    assert "Costs and returns" in book.sheetnames  # the sheets are checked in tests/test_xlsx.py
    sheet = book["Costs and returns"]
    values = [c.value for row in sheet.iter_rows() for c in row]
    assert 80 in values  # numbers stay numbers
    assert TOTAL not in values  # the totals are a table of their own, by model


def test_cli_xlsx_without_xlsxwriter_names_the_extra(small_input, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "xlsxwriter", None)  # import now raises ImportError
    out = tmp_path / "credit.xlsx"
    result = run_costed(small_input, "-o", out)
    assert result.exit_code == 1
    assert "attribution-engine[xlsx]" in result.stderr
    assert not out.exists()


def test_cli_run_bad_costs_file_is_one_line_exit_1(small_input, tmp_path):
    events, _ = small_input
    bad = write_csv(tmp_path / "bad.csv", "channel,cost\nsearch,-1")
    result = invoke("run", events, "--costs", bad)
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"Error: file '{bad}': column 'cost' at row 1 is -1; expected a finite number >= 0"
    ]
