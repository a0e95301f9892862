"""The command line, driven through click's CliRunner and parsed back."""

from __future__ import annotations

import io
import json

import polars as pl
import pytest
from click.testing import CliRunner

from attribution.cli.main import COMMANDS, cli
from attribution.registry import get_registry
from tests.conftest import write_csv


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.mark.parametrize("command", [[], *[[name] for name in COMMANDS]])
def test_every_command_has_help(command):
    result = invoke(*command, "--help")
    assert result.exit_code == 0 and "Usage:" in result.output


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


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-m", "nope"], "unknown model 'nope'; known models:"),
        (["-m", "linear:x=1"], "model 'linear' has no parameter 'x'; valid parameters: none"),
    ],
)
def test_user_errors_are_one_line_and_exit_1(sample_events, args, message):
    result = invoke("run", sample_events, *args)
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [f"Error: {result.stderr.strip()[7:]}"]
    assert message in result.stderr and "Traceback" not in result.stderr


def test_bad_input_error_names_file_column_and_row(tmp_path):
    bad = write_csv(
        tmp_path / "bad.csv",
        "customer_id,timestamp,channel,event\nu,2024-01-01,a,touch\n,2024-01-01,a,touch",
    )
    result = invoke("run", bad)
    assert result.exit_code == 1
    assert (
        "bad.csv" in result.stderr and "'customer_id'" in result.stderr and "row 2" in result.stderr
    )


def test_paths_only_input_skips_time_decay_unless_asked(sample_events, tmp_path):
    paths = tmp_path / "paths.csv"
    assert invoke("paths", sample_events, "-o", paths).exit_code == 0
    table = pl.read_csv(paths)
    assert table.columns == ["path", "total_conversions", "total_conversion_value", "total_null"]
    assert " > " in " ".join(table["path"])
    result = invoke("run", paths)
    assert result.exit_code == 0 and "skipped time_decay" in result.stderr
    asked = invoke("run", paths, "-m", "time_decay")
    assert asked.exit_code == 1 and "needs touch times" in asked.stderr


def test_usage_errors_keep_status_2(sample_events):
    assert invoke("run", sample_events, "--format", "xml").exit_code == 2
    assert invoke("run", sample_events, "--details").exit_code == 2


def test_lookback_none_and_options_reach_the_builder(tmp_path):
    path = write_csv(
        tmp_path / "e.csv",
        """customer_id,timestamp,channel,event,value
        u,2024-01-01,a,touch,
        u,2024-01-02,a,touch,
        u,2024-06-01,,conversion,10""",
    )
    out = json.loads(invoke("run", path, "--format", "json", "-m", "linear").stdout)
    assert out["summary"]["unattributed_conversions"] == 1
    out = json.loads(
        invoke("paths", path, "--lookback", "none", "--collapse-repeats", "--format", "json").stdout
    )
    assert out == [
        {"path": "a", "total_conversions": 1.0, "total_conversion_value": 10.0, "total_null": 0.0}
    ]


def test_models_lists_parameters_and_package():
    result = invoke("models", "--format", "json")
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert rows["time_decay"]["parameters"] == "half_life_days=7.0"
    assert rows["time_decay"]["needs_times"] is True
    assert rows["linear"]["package"] == "attribution-engine"


def test_sample_data_is_seeded_and_runs(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert invoke("sample-data", a, "--customers", "300", "--seed", "3").exit_code == 0
    invoke("sample-data", b, "--customers", "300", "--seed", "3")
    assert (a / "events.csv").read_bytes() == (b / "events.csv").read_bytes()
    effects = pl.read_csv(a / "channel_effects.csv")
    assert {"channel", "lift"} <= set(effects.columns)
    assert invoke("run", a / "events.csv", "-m", "linear").exit_code == 0


def test_sample_data_defaults_reproduce_the_committed_sample_data(tmp_path):
    from tests.conftest import ROOT

    assert invoke("sample-data", tmp_path).exit_code == 0
    for name in ("events.csv", "costs.csv", "channel_effects.csv"):
        assert (tmp_path / name).read_bytes() == (ROOT / "sample_data" / name).read_bytes(), name
