"""Event files whose channel comes from their traffic columns (utm_source and friends)."""

from __future__ import annotations

import io

import polars as pl
import pytest
from click.testing import CliRunner

import attribution as at
from attribution.channels import Channels
from attribution.cli.main import cli
from attribution.errors import InputError
from attribution.readers import EventReader, TaggedEvents
from tests.conftest import write_csv

# A Segment-like log: every event has a source, conversions too, and a stale channel column
LOG = """anonymous_id,ts,event,utm_source,utm_medium,utm_campaign,channel,revenue
a,2024-01-01T10:00:00Z,page,google,CPC,brand,web,
a,2024-01-02T10:00:00Z,page,newsletter,Email,weekly,web,
a,2024-01-02T10:05:00Z,order_completed,newsletter,Email,weekly,web,30
b,2024-01-01T09:00:00Z,page,,,,web,
b,2024-01-01T09:30:00Z,page,qr,poster,,web,
b,2024-01-01T10:00:00Z,order_completed,,,,store,10
"""
COLUMNS = at.EventColumns(customer="anonymous_id", time="ts", value="revenue")
TRAFFIC = [
    "--source-col",
    "utm_source",
    "--medium-col",
    "utm_medium",
    "--campaign-col",
    "utm_campaign",
]
EVENT_OPTIONS = ["--customer-col", "anonymous_id", "--time-col", "ts", "--value-col", "revenue"]


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def log(tmp_path):
    return write_csv(tmp_path / "log.csv", LOG)


def reader(**kw):
    channels = Channels(source="utm_source", medium="utm_medium", campaign="utm_campaign", **kw)
    return TaggedEvents(channels=channels, columns=COLUMNS, conversion_event="order_completed")


def test_the_traffic_columns_replace_the_channel_column(log):
    events = reader().read(log)
    touches = events.filter(~pl.col("is_conversion")).sort("_row")
    assert touches["channel"].to_list() == ["Paid Search", "Email", "Direct", "Unassigned"]
    assert events.filter(pl.col("is_conversion"))["channel"].null_count() == 2
    assert isinstance(reader(), EventReader)


def test_tagged_events_build_journeys(log):
    journeys = at.load_journeys(log, reader=reader())
    assert journeys.channels == ("Direct", "Email", "Paid Search", "Unassigned")
    credit = at.attribute(journeys, "last_touch").credits
    assert dict(zip(credit["channel"], credit["value"], strict=True)) == {
        "Direct": 0.0,
        "Email": 30.0,
        "Paid Search": 0.0,
        "Unassigned": 10.0,
    }


def test_a_rules_file_and_a_finer_grain(log, tmp_path):
    rules = tmp_path / "rules.csv"
    rules.write_text("channel,source,medium\nPaid,,cpc|ppc\nOwned,newsletter|qr,\n")
    journeys = at.load_journeys(log, reader=reader(rules=rules))
    assert journeys.channels == ("Owned", "Paid", "Unassigned")
    grain = at.load_journeys(log, reader=reader(by="source_medium"))
    assert grain.channels == (
        "(direct) / (none)",
        "google / cpc",
        "newsletter / email",
        "qr / poster",
    )


def test_a_missing_traffic_column_is_named(log):
    channels = Channels(source="utm_src", medium="utm_medium")
    with pytest.raises(
        InputError, match=r"log.csv': missing source column 'utm_src' \(--source-col\)"
    ):
        TaggedEvents(channels=channels, columns=COLUMNS).read(log)


def test_cli_run_with_traffic_columns(log):
    result = invoke(
        "run", log, *EVENT_OPTIONS, "--conversion-event", "order_completed", *TRAFFIC,
        "-m", "linear", "--format", "csv",
    )  # fmt: skip
    credit = pl.read_csv(io.StringIO(result.stdout))
    assert set(credit["channel"]) == {"Direct", "Email", "Paid Search", "Unassigned"}
    assert credit["value"].sum() == pytest.approx(40)


def test_cli_channels_audit_of_an_event_file(log):
    result = invoke(
        "channels", log, *EVENT_OPTIONS, "--conversion-event", "order_completed", *TRAFFIC,
        "--format", "csv",
    )  # fmt: skip
    table = pl.read_csv(io.StringIO(result.stdout))
    assert table["touches"].sum() == 4  # conversion rows are not touches
    assert table.filter(pl.col("channel") == "Unassigned")["source"].to_list() == ["qr"]


def test_cli_channels_needs_traffic_columns(sample_events):
    result = CliRunner().invoke(cli, ["channels", str(sample_events)])
    assert result.exit_code == 1
    assert "missing source column 'source' (--source-col)" in result.output


def test_cli_conversions_from_a_separate_file_with_traffic_columns(tmp_path):
    touches = write_csv(
        tmp_path / "t.csv",
        """customer_id,timestamp,utm_source,utm_medium
        u,2024-01-01,google,organic
        u,2024-01-02,facebook,cpc""",
    )
    conversions = write_csv(tmp_path / "c.csv", "customer_id,timestamp,value\nu,2024-01-03,12")
    result = invoke(
        "run", touches, "--conversions", conversions, "--source-col", "utm_source",
        "--medium-col", "utm_medium", "-m", "first_touch", "--format", "csv",
    )  # fmt: skip
    credit = pl.read_csv(io.StringIO(result.stdout))
    assert dict(zip(credit["channel"], credit["value"], strict=True)) == {
        "Organic Search": 12.0,
        "Paid Social": 0.0,
    }
