"""The GA4 export reader, on generated GA4-shaped exports (never real data)."""

from __future__ import annotations

import json

import polars as pl
import pytest
from click.testing import CliRunner

import attribution as at
from attribution import ga4
from attribution.channels import Channels
from attribution.cli.main import cli
from attribution.errors import InputError
from attribution.ga4 import GA4Export, read_ga4
from attribution.testing.ga4 import EVENT_NAMES, PARAM, TRAFFIC, simulate_ga4


@pytest.fixture(scope="module")
def sample():
    # three days, so that sessions cross midnight and users share ga_session_ids
    return simulate_ga4(1500, days=3, seed=3)


@pytest.fixture(scope="module")
def export(sample, tmp_path_factory):
    folder = tmp_path_factory.mktemp("ga4")
    sample.write(folder / "parquet")
    sample.write(folder / "ndjson", fmt="ndjson")
    return folder


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def sessions_read(source, **kw):
    return GA4Export(**kw).touches(source).sort("customer", "time")


def test_the_generator_has_the_traps(sample):
    events = sample.events
    shared = sample.sessions().group_by("ga_session_id").agg(pl.len()).filter(pl.col("len") > 1)
    assert shared.height > 0  # two users' sessions with one ga_session_id
    views = events.filter(pl.col("kind") == EVENT_NAMES.index("page_view"))
    assert (views["params"] >= 0).mean() > 0.4  # page views repeat the source
    assert (sample.session_traffic == 0).mean() > 0.1  # direct sessions
    assert {t.medium for t in TRAFFIC} >= {"CPC", "Email"}  # mixed case
    acquired = events.group_by("user").agg(pl.col("acquired").n_unique())
    assert acquired["acquired"].max() == 1  # one first acquisition per user
    days_of_session = events.group_by("session").agg(pl.col("day").n_unique())
    assert days_of_session["day"].max() == 2  # sessions cross midnight


@pytest.mark.parametrize("fmt", ["parquet", "ndjson"])
def test_a_touch_per_session_with_its_own_source(sample, export, fmt):
    got = sessions_read(export / fmt)
    truth = sample.sessions()
    assert got.height == truth.height  # page views are not touches
    assert got["time"].to_list() == truth["start"].to_list()
    assert got["channel"].to_list() == truth["channel"].to_list()
    # the user's first acquisition is not the session's source
    ts = pl.read_parquet(export / "parquet").select(
        pl.col("user_pseudo_id").alias("customer"),
        pl.col("traffic_source").struct.field("source").alias("first_source"),
    )
    joined = got.join(ts.unique(), on="customer")
    assert (joined["source"] != joined["first_source"]).mean() > 0.5


def test_parquet_and_ndjson_read_the_same(export):
    a = GA4Export().read(export / "parquet").sort("customer", "time", "is_conversion")
    b = GA4Export().read(export / "ndjson").sort("customer", "time", "is_conversion")
    assert a.drop("_row").equals(b.drop("_row"))


@pytest.fixture
def polars_only(monkeypatch):
    """Read Parquet with polars' scan alone, as without pyarrow."""
    monkeypatch.setattr(ga4, "decode", lambda *args: None)


@pytest.mark.parametrize("identity", ["user_pseudo_id", "user_id"])
def test_pyarrow_and_polars_read_parquet_the_same(export, identity, monkeypatch):
    reader = GA4Export(identity=identity, conversion_events=["purchase", "generate_lead"])
    fast = reader.read(export / "parquet")
    fast_touches = reader.touches(export / "parquet").sort(pl.all())
    fast_stats = dict(reader.stats_)
    monkeypatch.setattr(ga4, "decode", lambda *args: None)
    slow = reader.read(export / "parquet")
    assert fast.equals(slow)
    assert fast_touches.equals(reader.touches(export / "parquet").sort(pl.all()))
    assert fast_stats == reader.stats_


def test_a_file_of_other_types_is_left_to_polars_which_names_the_problem(tmp_path):
    # ecommerce.purchase_revenue as text: not the standard types, so pyarrow's
    # decoder declines and polars' scan reports the mismatch in one line
    rows = [
        event(DAY, "session_start", params=[("source", "google"), ("medium", "cpc")]),
        event(DAY + 1, "purchase", revenue=12.5),
    ]
    frame = pl.DataFrame(rows, schema=SCHEMA)
    revenue = pl.col("ecommerce").struct.field("purchase_revenue").cast(pl.String)
    frame.with_columns(ecommerce=pl.struct(revenue.alias("purchase_revenue"))).write_parquet(
        tmp_path / "events_20240601.parquet"
    )
    assert ga4.decode(sorted(tmp_path.glob("*.parquet")), ["purchase"], "user_pseudo_id") is None
    with pytest.raises(InputError, match=r"cannot be read: .*purchase_revenue") as err:
        read_ga4(tmp_path)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("decoder", ["polars", "pyarrow"])
def test_a_repeated_parameter_keeps_its_last_value(tmp_path, decoder, request):
    if decoder == "polars":
        request.getfixturevalue("polars_only")
    rows = [
        event(
            DAY,
            "session_start",
            params=[("source", "google"), ("medium", "cpc"), ("source", "bing")],
        ),
        event(DAY + 1, "purchase", params=[("value", 3.0), ("value", 4.0)]),
    ]
    write(tmp_path, rows)
    assert read_ga4(tmp_path).sort("time")["value"].to_list() == [None, 4.0]
    assert sessions_read(tmp_path)["source"].to_list() == ["bing"]


def test_file_order_and_row_order_do_not_matter(export):
    files = sorted((export / "parquet").glob("events_*.parquet"))
    a = read_ga4(files).drop("_row").sort(pl.all())
    b = read_ga4(list(reversed(files))).drop("_row").sort(pl.all())
    c = read_ga4(str(export / "parquet" / "events_*.parquet")).drop("_row").sort(pl.all())
    assert a.equals(b) and a.equals(c)


def test_conversions_and_their_value(sample, export):
    events = read_ga4(export / "parquet")
    convs = events.filter(pl.col("is_conversion")).sort("customer", "time")
    truth = sample.conversions()
    assert convs["value"].to_list() == pytest.approx(truth["value"].to_list())
    assert convs["time"].to_list() == truth["time"].to_list()
    leads = sample.conversions(("purchase", "generate_lead"))
    both = read_ga4(export / "parquet", conversion_events=["purchase", "generate_lead"])
    assert both["is_conversion"].sum() == leads.height
    assert set(leads.filter(pl.col("event_name") == "generate_lead")["value"]) == {1.0, 5.0}


def test_journeys_match_the_ones_built_from_the_truth(sample, export):
    sessions = sample.sessions()
    conversions = sample.conversions()
    truth_events = pl.concat(
        [
            sessions.select(
                customer_id="user_pseudo_id",
                timestamp="start",
                channel="channel",
                event=pl.lit("touch"),
                value=pl.lit(None, dtype=pl.Float64),
            ),
            conversions.select(
                customer_id="user_pseudo_id",
                timestamp="time",
                channel=pl.lit(None, dtype=pl.String),
                event=pl.lit("conversion"),
                value="value",
            ),
        ]
    )
    expected = at.load_journeys(truth_events)
    got = at.load_journeys(export / "parquet", reader=GA4Export())
    for model in ("linear", "position_based", "markov"):
        a = at.attribute(got, model).credits.sort("channel")
        b = at.attribute(expected, model).credits.sort("channel")
        assert a["channel"].to_list() == b["channel"].to_list()
        assert a["value"].to_list() == pytest.approx(b["value"].to_list())


def event(ts, name, pseudo="p1", *, sid=1, params=(), user_id=None, cts=None, revenue=None):
    """One GA4 event row (params: key -> str | int | float)."""
    plist = [] if sid is None else [{"key": "ga_session_id", "value": {"int_value": sid}}]
    for key, v in params:
        field = {str: "string_value", int: "int_value", float: "double_value"}[type(v)]
        plist.append({"key": key, "value": {field: v}})
    return {
        "event_timestamp": ts,
        "event_name": name,
        "user_pseudo_id": pseudo,
        "user_id": user_id,
        "event_params": plist,
        "traffic_source": {"source": "google", "medium": "cpc", "name": "(direct)"},
        "collected_traffic_source": cts,
        "ecommerce": None if revenue is None else {"purchase_revenue": revenue},
    }


SCHEMA = {
    "event_timestamp": pl.Int64,
    "event_name": pl.String,
    "user_pseudo_id": pl.String,
    "user_id": pl.String,
    "event_params": pl.List(PARAM),
    "traffic_source": pl.Struct({"source": pl.String, "medium": pl.String, "name": pl.String}),
    "collected_traffic_source": pl.Struct(
        {"manual_source": pl.String, "manual_medium": pl.String, "gclid": pl.String}
    ),
    "ecommerce": pl.Struct({"purchase_revenue": pl.Float64}),
}
DAY = 1_717_200_000_000_000  # microseconds


def write(tmp_path, rows, name="events_20240601.parquet"):
    path = tmp_path / name
    pl.DataFrame(rows, schema=SCHEMA).write_parquet(path)
    return path


def test_the_first_event_carrying_traffic_names_the_session(tmp_path):
    path = write(
        tmp_path,
        [
            event(DAY + 5, "page_view", params=[("source", "google"), ("medium", "organic")]),
            event(DAY + 9, "page_view", params=[("source", "newsletter"), ("medium", "email")]),
            event(DAY + 1, "session_start"),  # first event, no traffic of its own
            event(DAY + 20, "purchase", revenue=30.0),
            event(DAY + 40, "session_start", sid=2),  # direct
            event(DAY + 50, "session_start", sid=3, cts={"gclid": "abc"}),  # auto-tagged ad
            event(
                DAY + 60, "page_view", sid=4, cts={"manual_source": "bing", "manual_medium": "CPC"}
            ),
        ],
    )
    got = sessions_read(path)
    assert got["channel"].to_list() == ["Organic Search", "Direct", "Paid Search", "Paid Search"]
    assert got["time"].dt.epoch("us").to_list() == [DAY + 1, DAY + 40, DAY + 50, DAY + 60]
    assert got["source"].to_list()[2:] == ["google", "bing"]


def test_events_at_one_instant_name_the_session_whatever_their_row_order(tmp_path):
    rows = [
        event(DAY, "session_start", params=[("source", "google"), ("medium", "cpc")]),
        event(DAY, "page_view", params=[("source", "newsletter"), ("medium", "email")]),
    ]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = sessions_read(write(tmp_path / "a", rows))
    second = sessions_read(write(tmp_path / "b", rows[::-1]))
    assert first["channel"].to_list() == second["channel"].to_list()


def test_the_same_ga_session_id_of_two_users_is_two_sessions(tmp_path):
    path = write(
        tmp_path,
        [
            event(DAY, "session_start", "p1", params=[("source", "google"), ("medium", "cpc")]),
            event(DAY, "session_start", "p2", params=[("source", "sms"), ("medium", "sms")]),
        ],
    )
    assert sorted(sessions_read(path)["channel"]) == ["Paid Search", "SMS"]


def test_an_older_export_without_collected_traffic_source_or_ecommerce(tmp_path):
    rows = [
        event(DAY, "session_start", params=[("source", "bing"), ("medium", "organic")]),
        event(DAY + 1, "purchase", params=[("value", 8.5)]),
    ]
    frame = pl.DataFrame(rows, schema=SCHEMA).drop("collected_traffic_source", "ecommerce")
    frame.write_parquet(tmp_path / "events_20200101.parquet")
    events = read_ga4(tmp_path).sort("time")
    assert events["channel"].to_list() == ["Organic Search", None]
    assert events["value"].to_list() == [None, 8.5]


def test_value_is_revenue_else_the_value_parameter_else_one(tmp_path):
    path = write(
        tmp_path,
        [
            event(DAY, "session_start", params=[("source", "google"), ("medium", "cpc")]),
            event(DAY + 1, "purchase", revenue=12.5, params=[("value", 99.0)]),
            event(DAY + 2, "purchase", params=[("value", 7)]),
            event(DAY + 3, "purchase"),
        ],
    )
    convs = read_ga4(path).filter(pl.col("is_conversion")).sort("time")
    assert convs["value"].to_list() == [12.5, 7.0, 1.0]


def test_user_id_joins_a_users_devices(tmp_path):
    path = write(
        tmp_path,
        [
            event(
                DAY, "session_start", "phone", params=[("source", "facebook"), ("medium", "cpc")]
            ),
            event(DAY + 10, "login", "phone", user_id="U1"),
            event(DAY + 100, "session_start", "laptop", sid=2, params=[("source", "sms")]),
            event(DAY + 200, "purchase", "laptop", sid=2, user_id="U1", revenue=50.0),
            event(DAY + 300, "session_start", "other", sid=3),
        ],
    )
    by_device = at.load_journeys(path, reader=GA4Export())
    by_user = at.load_journeys(path, reader=GA4Export(identity="user_id"))
    assert by_device.n_customers == 3 and by_user.n_customers == 2
    credit = at.attribute(by_user, "linear").credits
    assert dict(zip(credit["channel"], credit["value"], strict=True)) == {
        "Direct": 0.0,
        "Paid Social": 25.0,
        "SMS": 25.0,
    }


def test_user_id_with_a_daily_file_that_lacks_the_column(tmp_path):
    write(
        tmp_path,
        [
            event(DAY, "session_start", "phone", params=[("source", "sms")]),
            event(DAY + 10, "login", "phone", user_id="U1"),
        ],
    )
    later = [event(DAY + 100, "purchase", "phone", revenue=5.0)]
    pl.DataFrame(later, schema=SCHEMA).drop("user_id").write_parquet(
        tmp_path / "events_20240602.parquet"
    )
    events = read_ga4(tmp_path, identity="user_id").sort("time")
    assert events["customer"].to_list() == ["U1", "U1"]
    assert events["value"].to_list() == [None, 5.0]


def test_a_conversion_of_nobody_is_unattributed(tmp_path):
    path = write(
        tmp_path,
        [
            event(DAY, "session_start", params=[("source", "google"), ("medium", "cpc")]),
            event(DAY + 1, "purchase", revenue=10.0),
            event(DAY + 2, "purchase", None, revenue=4.0),  # consent mode: no client id
            event(DAY + 3, "page_view", sid=None),  # no session: not a touch
        ],
    )
    reader = GA4Export()
    journeys = at.load_journeys(path, reader=reader)
    assert journeys.total_value == 10 and journeys.unattributed.value == 4
    notes = " ".join(reader.notes())
    assert "1 events without a ga_session_id" in notes and "without a user_pseudo_id" in notes


def test_a_file_that_is_not_a_ga4_export_says_what_is_missing(tmp_path, sample_events):
    with pytest.raises(InputError) as err:
        read_ga4(sample_events)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"file '{sample_events}' is not a GA4 export: missing column(s) ")
    assert "event_timestamp, event_name, event_params, user_pseudo_id" in message
    bad = tmp_path / "events_20240601.parquet"
    pl.DataFrame(
        {
            "event_timestamp": [1],
            "event_name": ["x"],
            "user_pseudo_id": ["p"],
            "event_params": [["a"]],
        }
    ).write_parquet(bad)
    with pytest.raises(InputError, match=r"column 'event_params' is List.*expected a list of"):
        read_ga4(bad)


def test_bad_events_are_named_by_file_and_row(tmp_path):
    write(tmp_path, [event(DAY, "session_start"), event(DAY + 1, "page_view")])
    write(
        tmp_path,
        [event(DAY, "session_start", "p2"), event(DAY + 1, "purchase", "p2", revenue=-3.0)],
        name="events_20240602.parquet",
    )
    with pytest.raises(InputError, match=r"events_20240602.parquet': the conversion at row 2"):
        read_ga4(tmp_path)
    write(tmp_path, [event(None, "page_view", "p3")], name="events_20240603.parquet")
    (tmp_path / "events_20240602.parquet").unlink()
    with pytest.raises(InputError, match=r"events_20240603.parquet': column 'event_timestamp'"):
        read_ga4(tmp_path)


def test_channel_by_source_medium(export):
    got = GA4Export(channels=Channels(by="source_medium")).touches(export / "parquet")
    assert "google / cpc" in set(got["channel"]) and "(direct) / (none)" in set(got["channel"])
    assert not any(c != c.lower() for c in got["channel"])


def test_cli_run_from_ga4(sample, export):
    result = invoke("run", "--from", "ga4", export / "parquet", "-m", "linear", "--format", "json")
    doc = json.loads(result.stdout)
    summary = doc["summary"]
    assert summary["conversions"] == sample.conversions().height
    assert (
        summary["attributed_conversions"] + summary["unattributed_conversions"]
        == (summary["conversions"])
    )
    assert {r["channel"] for r in doc["credits"]} <= {t.channel for t in TRAFFIC}
    assert "note: GA4 export: 3 files" in result.stderr


def test_cli_several_inputs_and_conversion_events(sample, export):
    files = sorted((export / "ndjson").glob("*.json"))
    names = ["--conversion-event", "purchase", "--conversion-event", "generate_lead"]
    doc = json.loads(
        invoke("run", "--from", "ga4", *files, *names, "-m", "linear", "--format", "json").stdout
    )
    assert doc["summary"]["conversions"] == sample.conversions(("purchase", "generate_lead")).height
    table = pl.read_csv(invoke("paths", "--from", "ga4", *files, *names).stdout.encode())
    # a lead right after a purchase has no touch of its own: unattributed, not in the paths
    assert table["total_conversions"].sum() == doc["summary"]["attributed_conversions"]


def test_cli_channels_audit(sample, export):
    result = invoke("channels", "--from", "ga4", export / "parquet", "--format", "csv")
    table = pl.read_csv(result.stdout.encode())
    assert table.columns == ["source", "medium", "campaign", "channel", "touches", "share"]
    assert table["touches"].sum() == sample.sessions().height
    assert table["touches"].to_list() == sorted(table["touches"].to_list(), reverse=True)
    assert table.filter(pl.col("source") == "qr")["channel"].to_list() == ["Unassigned"]
    wide = CliRunner(env={"COLUMNS": "200"}).invoke(
        cli, ["channels", "--from", "ga4", str(export / "parquet")], catch_exceptions=False
    )
    text = wide.stdout  # on a wide terminal the audit table is one block
    assert text.splitlines()[0].split() == [
        "source",
        "medium",
        "campaign",
        "channel",
        "touches",
        "share",
    ]


def test_cli_rejects_options_that_do_not_go_with_ga4(export, sample_events):
    runner = CliRunner()
    result = runner.invoke(cli, ["run", "--from", "ga4", str(export), "--source-col", "s"])
    assert result.exit_code == 2 and "go with event files" in result.output
    result = runner.invoke(cli, ["run", str(sample_events), "--identity", "user_id"])
    assert result.exit_code == 2 and "--identity goes with --from ga4" in result.output
    result = runner.invoke(cli, ["run", "--from", "ga4", str(sample_events)])
    assert result.exit_code == 1 and "is not a GA4 export" in result.output
