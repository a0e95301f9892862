"""`attribution kpis`: the long table, JSON and text, ROPO from the command line."""

from __future__ import annotations

import io
import json

import polars as pl
import pytest
from click.testing import CliRunner

from attribution.cli.main import cli
from tests.cli import invoke
from tests.conftest import write_csv


# -- the command ---------------------------------------------------------------------
def test_kpis_csv_is_the_long_table(sample_events):
    result = invoke("kpis", sample_events, "--format", "csv")
    assert result.exit_code == 0
    frame = pl.read_csv(io.StringIO(result.stdout))
    assert frame.columns == ["kpi", "segment", "value"]
    rate = frame.filter((pl.col("kpi") == "conversion_rate") & (pl.col("segment") == "all"))
    journeys = frame.filter(pl.col("kpi") == "journeys")["value"].item()
    converting = frame.filter(pl.col("kpi") == "converting_journeys")["value"].item()
    assert rate["value"].item() == pytest.approx(converting / journeys)


def test_kpis_json_and_table(sample_events, tmp_path):
    out = tmp_path / "k.json"
    assert invoke("kpis", sample_events, "-o", out).exit_code == 0
    doc = json.loads(out.read_text())
    assert doc["kpis"]["customers"] > 0
    assert {"channels", "top_paths", "segments", "unavailable"} <= set(doc)
    text = invoke("kpis", sample_events, "--top", "3").stdout
    assert "cross_channel_share" in text and "single_channel" in text


def test_kpis_ropo_from_the_command_line(tmp_path):
    events = write_csv(
        tmp_path / "e.csv",
        """customer_id,timestamp,channel,event,value
        u,2024-01-01,web,touch,
        u,2024-01-02,store,conversion,10
        v,2024-01-01,store,touch,
        v,2024-01-02,store,conversion,4
        w,2024-01-01,store,touch,
        w,2024-01-02,web,conversion,4""",
    )
    kinds = write_csv(tmp_path / "kinds.csv", "channel,kind\nweb,online\nstore,offline")
    result = invoke(
        "kpis", events, "--channel-kinds", kinds, "--conversion-channel-col", "channel",
        "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 0
    k = json.loads(result.stdout)["kpis"]
    assert (k["offline_conversions"], k["online_conversions"]) == (2, 1)
    assert k["ropo_share"] == pytest.approx(0.5)
    assert k["ropo_reverse_share"] == pytest.approx(1.0)


def test_kpis_bad_kinds_file_is_one_line_exit_1(tmp_path, sample_events):
    kinds = write_csv(tmp_path / "kinds.csv", "channel,kind\nweb,digital")
    result = CliRunner().invoke(cli, ["kpis", str(sample_events), "--channel-kinds", str(kinds)])
    assert result.exit_code == 1
    assert "expected a channel and a kind" in result.stderr
