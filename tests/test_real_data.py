"""What real exports hit: conversion rows with a source, separators in channel names,
CSV timestamps, and a model asked for by a plain string."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

import polars as pl
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import attribution as at
from attribution.cli.main import cli
from attribution.errors import InputError
from attribution.sources import EventColumns, _sniff_format, read_events
from tests.conftest import write_csv

HEADER = "customer_id,timestamp,channel,event,value"


def test_a_conversion_row_with_a_channel_no_touch_has_is_read(tmp_path):
    # GA4, Segment and Snowplow put a source on every event, conversions too
    path = write_csv(
        tmp_path / "e.csv",
        f"""{HEADER}
        u,2024-01-01,email,touch,
        u,2024-01-02,checkout-page,conversion,10
        v,2024-01-01,search,touch,
        v,2024-01-03,store,conversion,4""",
    )
    journeys = at.load_journeys(path)
    assert journeys.channels == ("email", "search")
    assert journeys.total_conversions == 2 and journeys.total_value == 14
    credits = at.attribute(journeys, ["linear"]).credits
    assert dict(zip(credits["channel"], credits["value"], strict=True)) == {
        "email": 10,
        "search": 4,
    }


def test_the_conversion_rows_channel_is_kept_when_asked_for_as_the_conversion_channel(tmp_path):
    path = write_csv(
        tmp_path / "e.csv",
        f"""{HEADER}
        u,2024-01-01,email,touch,
        u,2024-01-02,store,conversion,10""",
    )
    columns = EventColumns(conversion_channel="channel")
    journeys = at.load_journeys(path, columns=columns)
    assert journeys.channels == ("email",)
    assert journeys.conversion_channel.tolist() == ["store"]


def test_several_conversion_event_names(tmp_path):
    path = write_csv(
        tmp_path / "e.csv",
        f"""{HEADER}
        u,2024-01-01,email,touch,
        u,2024-01-02,,purchase,10
        u,2024-01-03,search,touch,
        u,2024-01-04,,generate_lead,1""",
    )
    journeys = at.load_journeys(path, conversion_event=["purchase", "generate_lead"])
    assert journeys.total_conversions == 2 and journeys.total_value == 11


def test_a_channel_holding_the_path_separator_round_trips_through_paths(tmp_path):
    events = write_csv(
        tmp_path / "e.csv",
        f"""{HEADER}
        u,2024-01-01,Email > Newsletter,touch,
        u,2024-01-02,Email,touch,
        u,2024-01-03,,conversion,10
        v,2024-01-01,Newsletter,touch,
        v,2024-01-02,,conversion,5""",
    )
    runner = CliRunner()
    paths = tmp_path / "paths.csv"
    result = runner.invoke(cli, ["paths", str(events), "-o", str(paths)], catch_exceptions=False)
    assert result.exit_code == 0
    assert "Email \\> Newsletter > Email" in paths.read_text()
    again = at.load_journeys(paths)
    assert again.channels == ("Email", "Email > Newsletter", "Newsletter")
    before = at.attribute(at.load_journeys(events), "linear").credits.sort("channel")
    after = at.attribute(again, "linear").credits.sort("channel")
    assert before.equals(after)


names = (
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12)
    .map(str.strip)
    .filter(bool)
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(names, min_size=1, max_size=4), min_size=1, max_size=6))
def test_paths_tables_round_trip_any_channel_name(paths):
    journeys = at.Journeys.from_paths(paths, [1.0] * len(paths))
    text = journeys.to_paths_table().write_csv()
    again = at.load_journeys(pl.read_csv(io.StringIO(text), schema_overrides={"path": pl.String}))
    assert again.channels == journeys.channels
    assert sorted(_paths(again)) == sorted(_paths(journeys.aggregate()))


def _paths(j: at.Journeys) -> list[tuple[str, ...]]:
    return [
        tuple(j.channels[c] for c in j.codes[j.offsets[r] : j.offsets[r + 1]])
        for r in range(j.n_rows)
    ]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["2024-01-01T10:00:00Z", "2024-01-02T11:30:00+02:00"], ("%Y-%m-%dT%H:%M:%S%.f%#z", True)),
        (["2024-01-01 10:00:00", "2024-01-02 11:30:00.250"], ("%Y-%m-%d %H:%M:%S%.f", False)),
        (["2024-01-01", "2024-01-02"], ("%Y-%m-%d", False)),
        (["yesterday", None], None),
    ],
)
def test_the_timestamp_format_is_found_from_the_first_rows(values, expected):
    assert _sniff_format(pl.Series(values, dtype=pl.String)) == expected


def test_rows_in_another_timestamp_format_are_still_read(tmp_path):
    body = "\n".join(f"u,2024-01-01 10:{m:02d}:00,a,touch," for m in range(50))
    path = write_csv(
        tmp_path / "e.csv",
        f"""{HEADER}
        {body}
        u,2024-01-02T09:00:00+01:00,b,touch,
        u,2024-01-03,,conversion,3""",
    )
    events = read_events(path)
    times = events.sort("_row")["time"].to_list()
    assert times[50].isoformat() == "2024-01-02T08:00:00+00:00"
    assert times[51].isoformat() == "2024-01-03T00:00:00+00:00"


def _stamp(moment: datetime, sep: str, digits: int, offset: int | None) -> str:
    """``moment`` (UTC) written in one shape: offset minutes, or None for no zone."""
    local = moment + timedelta(minutes=offset or 0)
    text = local.strftime(f"%Y-%m-%d{sep}%H:%M:%S")
    if digits:
        text += "." + f"{local.microsecond:06d}"[:digits]
    if offset is None:
        return text
    if offset == 0:
        return text + "Z"
    sign, minutes = ("-" if offset < 0 else "+"), abs(offset)
    return text + f"{sign}{minutes // 60:02d}{minutes % 60:02d}"


@settings(max_examples=25, deadline=None)
@given(
    moments=st.lists(
        st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1)),
        min_size=1,
        max_size=30,
    ),
    sep=st.sampled_from(["T", " "]),
    digits=st.sampled_from([0, 3, 6]),
    offset=st.sampled_from([None, 0, 120, -330]),
    odd=st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1)),
)
def test_times_of_one_shape_and_others_after_them_read_as_written(
    tmp_path_factory, moments, sep, digits, offset, odd
):
    # the first rows' shape is parsed the fast way; a row of another shape after
    # them (other zone, other fraction) is still read, in every format
    def exact(m: datetime) -> datetime:
        kept = 10 ** (6 - digits)
        return m.replace(microsecond=m.microsecond // kept * kept, tzinfo=timezone.utc)

    moments = [moments[k % len(moments)] for k in range(1000)]  # the sample is 1,000 rows
    rows = [f"u,{_stamp(m, sep, digits, offset)},a,touch," for m in moments]
    rows.append(f"u,{_stamp(odd, 'T', 2, 60)},a,touch,")
    path = write_csv(tmp_path_factory.mktemp("t") / "e.csv", "\n".join([HEADER, *rows]))
    times = read_events(path).sort("_row")["time"].to_list()
    expected = [exact(m) for m in moments]
    expected.append(
        odd.replace(microsecond=odd.microsecond // 10_000 * 10_000, tzinfo=timezone.utc)
    )
    assert times == expected


def test_a_bad_timestamp_after_the_sample_is_named_by_its_row(tmp_path):
    body = "\n".join(f"u,2024-01-01 10:00:{s % 60:02d},a,touch," for s in range(1500))
    path = write_csv(tmp_path / "e.csv", f"{HEADER}\n{body}\nu,01/02/2024,a,touch,")
    with pytest.raises(InputError, match=r"cannot read the timestamp at row 1501 \('01/02/2024'\)"):
        read_events(path)


def test_attribute_with_one_model_as_a_plain_string(sample_events):
    journeys = at.load_journeys(sample_events)
    result = at.attribute(journeys, "linear")
    assert [run.label for run in result.runs] == ["linear"]
    assert result.credits["conversions"].sum() == pytest.approx(journeys.total_conversions)
    assert [run.label for run in at.attribute(journeys, "time_decay:half_life_days=3").runs] == [
        "time_decay:half_life_days=3"
    ]


def test_a_padded_timestamp_after_clean_first_rows_is_read(tmp_path):
    body = "\n".join(f"u,2024-01-01T10:{m:02d}:00Z,a,touch," for m in range(30))
    path = tmp_path / "e.csv"
    path.write_text(f"{HEADER}\n{body}\nu,  2024-01-02T09:00:00Z ,b,touch,\n")
    events = read_events(path).sort("_row")
    assert events["time"][30].isoformat() == "2024-01-02T09:00:00+00:00"
