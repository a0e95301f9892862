"""`attribution paths`: the ChannelAttribution layout, and a paths table as input."""

from __future__ import annotations

import polars as pl

from tests.cli import invoke


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
