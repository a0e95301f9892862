"""`attribution compare`: the wide table in every format, cost measures, the spread."""

from __future__ import annotations

import io
import json

import polars as pl
import pytest

from attribution.costs import TOTAL
from tests.cli import invoke


# -- command line ---------------------------------------------------------
def test_cli_compare_table_has_models_and_spread(sample_events):
    result = invoke("compare", sample_events, "-m", "linear", "-m", "last_touch")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["channel", "linear", "last_touch", "min", "max", "spread"]
    shares = [float(line.split()[1].rstrip("%")) / 100 for line in lines[2:]]
    assert all(line.split()[1].endswith("%") for line in lines[2:])  # shares as percentages
    assert sum(shares) == pytest.approx(1.0, abs=0.01)
    assert "attributed" in result.stderr


def test_cli_compare_formats(sample_events, tmp_path):
    args = ["compare", sample_events, "-m", "linear", "-m", "first_touch", "--measure", "value"]
    csv = pl.read_csv(io.StringIO(invoke(*args, "--format", "csv").stdout))
    assert csv.columns == ["channel", "linear", "first_touch", "min", "max", "spread"]
    records = json.loads(invoke(*args, "--format", "json").stdout)
    assert records == csv.to_dicts()
    out = tmp_path / "compare.parquet"
    invoke(*args, "-o", out)
    parquet = pl.read_parquet(out)
    assert parquet.schema["linear"] == pl.Float64
    assert parquet["spread"].to_list() == pytest.approx(csv["spread"].to_list())


def test_cli_compare_roas_with_costs_has_a_total_row(sample_events):
    costs = sample_events.parent / "costs.csv"
    result = invoke(
        "compare",
        sample_events,
        "-m",
        "linear",
        "-m",
        "last_touch",
        "--costs",
        costs,
        "--measure",
        "roas",
        "--sort",
        "spread",
        "--format",
        "csv",
    )
    frame = pl.read_csv(io.StringIO(result.stdout))
    assert frame["channel"][-1] == TOTAL
    spreads = frame["spread"].to_list()[:-1]
    assert spreads == sorted(spreads, reverse=True)
    # blended ROAS is the same for every model: all value over all cost
    total = frame.row(frame.height - 1, named=True)
    assert total["linear"] == pytest.approx(total["last_touch"])
    assert total["spread"] == pytest.approx(0.0)


@pytest.mark.parametrize("measure", ["roas", "roi", "cpa", "cost"])
def test_cli_compare_cost_measure_without_costs_is_a_usage_error(sample_events, measure):
    result = invoke("compare", sample_events, "--measure", measure)
    assert result.exit_code == 2
    assert f"--measure {measure} needs costs: add --costs FILE" in result.stderr
