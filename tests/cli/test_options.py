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


def test_a_long_step_draws_a_moving_bar_with_elapsed_time_on_a_terminal(monkeypatch):
    import io
    import sys
    import time

    from attribution.cli import options

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(options, "_BAR_DELAY", 0.0)
    err = Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    with options.step("building journeys"):
        time.sleep(0.45)
    text = err.getvalue()
    frames = [f for f in text.split("\r") if f]
    assert len(frames) >= 3  # redrawn while the step ran
    bars = [f[f.index("[") : f.index("]") + 1] for f in frames[:-1]]
    assert len(set(bars)) > 1 and all(len(b) == options._BAR_CELLS + 2 for b in bars)
    assert frames[0].rstrip().endswith(" s") and "0.0 s" in frames[0]
    assert frames[-1].startswith("building journeys ... done (") and text.endswith("\n")


def test_a_step_says_nothing_off_a_terminal(monkeypatch):
    import io
    import sys

    from attribution.cli import options

    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    with options.step("attributing"):
        pass
    assert err.getvalue() == ""


def test_json_counts_are_ints_and_credit_stays_fractional(sample_events):
    doc = json.loads(invoke("run", sample_events, "--format", "json", "-m", "linear").stdout)
    summary = doc["summary"]
    for key in ("journeys", "converting_journeys", "null_journeys", "conversions", "customers"):
        assert type(summary[key]) is int, key
    assert isinstance(summary["conversion_value"], float)
    assert any(not float(r["conversions"]).is_integer() for r in doc["credits"])
    kpis = json.loads(invoke("kpis", sample_events, "--format", "json").stdout)
    assert type(kpis["kpis"]["journeys"]) is int
    assert type(kpis["channels"][0]["journeys"]) is int
    assert isinstance(kpis["kpis"]["conversion_rate"], float)


def test_an_unknown_baseline_or_a_bad_currency_fails_before_reading(tmp_path):
    missing = tmp_path / "not-there.csv"
    result = invoke("report", missing, "-o", tmp_path / "r.html", "--baseline", "nope")
    assert result.exit_code == 1 and "unknown model 'nope'" in result.stderr
    result = invoke("report", missing, "-o", tmp_path / "r.html", "--currency", "E U R")
    assert result.exit_code == 2 and "currency code" in result.output
