"""A quick pass of the benchmark scripts so that they cannot rot (no timings checked)."""

from __future__ import annotations

from benchmarks import bench_pipeline


def test_pipeline_benchmark_runs_on_the_smallest_size(tmp_path):
    stages = bench_pipeline.run("10k", repeat=1, folder=tmp_path)
    names = [s.name for s in stages]
    assert names[-1].startswith("total") and len(stages) == 4
    events, journeys, result = (s.result for s in stages[:3])
    n_conversions = events["is_conversion"].sum()
    assert journeys.total_conversions + journeys.unattributed.conversions == n_conversions
    assert {run.label for run in result.runs} == set(bench_pipeline.HEURISTICS)
    assert all(s.seconds > 0 and s.peak_mib > 0 for s in stages)


def test_ga4_benchmark_runs_on_a_small_export(tmp_path):
    from benchmarks import bench_ga4

    stages = bench_ga4.run(users=300, days=2, size="10k", repeat=1, folder=tmp_path)
    assert [s.name for s in stages][:3] == [
        "GA4 export -> events",
        "events -> journeys",
        "GA4 export -> journeys (load_journeys)",
    ]
    _, stats = stages[0].result
    journeys = stages[2].result
    assert stats["files"] == 2 and stats["sessions"] == journeys.n_touches
    parquet, csv = stages[3].result, stages[4].result
    assert csv.n_touches == parquet.n_touches and csv.total_value == parquet.total_value
    assert all(s.seconds > 0 for s in stages)


def test_scale_benchmark_runs_the_cli_in_partitions(tmp_path, monkeypatch):
    from benchmarks import bench_scale

    monkeypatch.setattr(bench_scale, "DATA", tmp_path)
    monkeypatch.setattr(
        bench_scale, "input_file", lambda size: bench_scale.events_file(size, folder=tmp_path)
    )
    runs = bench_scale.main(["--quick", "--memory-limit", "600MB"])
    assert len(runs) == 1 and runs[0].status == 0
    assert "10,000 customers" in runs[0].stderr and runs[0].peak_mib > 0


def test_hostile_benchmark_quick_pass_runs(capsys):
    from benchmarks import bench_hostile

    bench_hostile.main(["--quick"])
    out = capsys.readouterr().out
    assert "markov:order=3" in out and "shapley:samples=5,000" in out
