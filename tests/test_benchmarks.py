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


def test_hostile_benchmark_quick_pass_runs(capsys):
    from benchmarks import bench_hostile

    bench_hostile.main(["--quick"])
    out = capsys.readouterr().out
    assert "markov:order=3" in out and "shapley:samples=5,000" in out
