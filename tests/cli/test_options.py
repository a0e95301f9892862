"""Options shared by several commands: input options reach the builder, every input
file is protected from being overwritten."""

from __future__ import annotations

import json

from tests.cli import invoke
from tests.conftest import ROOT, write_csv


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


def test_output_never_overwrites_the_costs_file(tmp_path):
    from click.testing import CliRunner

    from attribution.cli.main import cli

    costs = tmp_path / "costs.csv"
    costs.write_bytes((ROOT / "sample_data" / "costs.csv").read_bytes())
    before = costs.read_bytes()
    events = ROOT / "sample_data" / "events.csv"
    for args in (["run", events, "-m", "linear"], ["compare", events, "-m", "linear"]):
        result = CliRunner().invoke(
            cli,
            [*map(str, args), "--costs", str(costs), "-o", str(costs)],
            catch_exceptions=False,
        )
        assert result.exit_code == 1 and "refusing to overwrite the input" in result.stderr
    assert costs.read_bytes() == before
