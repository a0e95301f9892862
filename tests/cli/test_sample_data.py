"""`attribution sample-data`: seeded example files, the committed ones by default."""

from __future__ import annotations

import polars as pl

from tests.cli import invoke


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
