"""The command group: help for every command, errors as one line, exit statuses."""

from __future__ import annotations

import pytest

from attribution.cli.main import COMMANDS
from tests.cli import invoke
from tests.conftest import write_csv


@pytest.mark.parametrize("command", [[], *[[name] for name in COMMANDS]])
def test_every_command_has_help(command):
    result = invoke(*command, "--help")
    assert result.exit_code == 0 and "Usage:" in result.output


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


def test_usage_errors_keep_status_2(sample_events):
    assert invoke("run", sample_events, "--format", "xml").exit_code == 2
    assert invoke("run", sample_events, "--details").exit_code == 2


def test_a_bad_model_spec_fails_before_any_file_is_read(tmp_path):
    missing = tmp_path / "never-written.csv"  # reading it would be a different error
    outputs = {"run": [], "compare": [], "plot": ["x.png"], "report": ["x.html"]}
    for command, output in outputs.items():
        args = ["-o", tmp_path / output[0]] if output else []
        result = invoke(command, missing, "-m", "linear:x=1", *args)
        assert result.exit_code == 1, command
        assert "model 'linear' has no parameter 'x'" in result.stderr, command


def test_the_cli_spells_the_setting_an_error_points_at_as_its_flag(tmp_path):
    epochs = write_csv(
        tmp_path / "e.csv",
        "customer_id,timestamp,channel,event,value\nu,1700000000,a,touch,\n"
        "u,1700086400,,conversion,3",
    )
    result = invoke("run", epochs, "-m", "linear")
    assert result.exit_code == 1
    assert "state their epoch unit with --time-unit (s|ms|us|ns)" in result.stderr
    result = invoke("run", epochs, "-m", "linear", "--time-unit", "s", "-o", tmp_path / "c.txt")
    assert "use --format (csv|json|parquet|xlsx) or one of" in result.stderr
    assert not (tmp_path / "c.txt").exists()


def test_a_file_only_format_on_stdout_says_to_add_a_file(sample_events):
    result = invoke("run", sample_events, "-m", "linear", "--format", "parquet")
    assert result.exit_code == 1
    assert result.stderr.strip() == "Error: parquet output needs a file: add -o FILE.parquet"
