"""The Markov removal-effect model: worked examples, exactness and invariants."""

from __future__ import annotations

import json

import networkx as nx
import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import attribution as at
from attribution.cli.main import cli
from attribution.errors import ModelError
from attribution.journeys import Journeys
from attribution.models import markov as mk
from attribution.models.markov import (
    Markov,
    _build_chain,
    _probabilities,
    _solve,
    _steps,
    order_scores,
    transition_graph,
    transition_table,
)
from attribution.simulate import make_channels, simulate_journeys
from attribution.testing import check_model, example_journeys, shuffle_rows
from attribution.testing.strategies import journeys as journeys_strategy

# Published worked examples (see the issue and ChannelAttribution's documentation).
THREE = Journeys.from_paths(
    [["C1", "C2", "C3"], ["C1"], ["C2", "C3"]], [1, 0, 0], [1000, 0, 0], [0, 1, 1]
)
GM = Journeys.from_paths([["G"], ["M"], ["G", "M"], ["G"]], [2, 1, 1, 0], None, [0, 0, 0, 1])


def fitted(journeys: Journeys, **params) -> tuple[Markov, dict[str, tuple[float, float]]]:
    model = Markov(**params)
    frame = model.attribute(journeys)
    credit = {c: (v, w) for c, v, w in frame.iter_rows()}
    return model, credit


def same_credit(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.allclose(a[c], b[c], rtol=1e-9) for c in a)


def test_three_paths_example_p_one_third_and_credit_02_04_04():
    model, credit = fitted(THREE)
    assert model.conversion_probability_ == pytest.approx(1 / 3)
    assert model.removal_effects_ == pytest.approx({"C1": 0.5, "C2": 1.0, "C3": 1.0})
    assert credit == {
        "C1": pytest.approx((0.2, 200)),
        "C2": pytest.approx((0.4, 400)),
        "C3": pytest.approx((0.4, 400)),
    }


def test_g_m_example_p_08_removal_075_05_credit_24_16():
    model, credit = fitted(GM)
    assert model.conversion_probability_ == pytest.approx(0.8)
    assert model.removal_effects_ == pytest.approx({"G": 0.75, "M": 0.5})
    assert [credit["G"][0], credit["M"][0]] == pytest.approx([2.4, 1.6])


def test_same_rows_in_one_paths_row_give_the_same_answer():
    merged = Journeys.from_paths([["G"], ["M"], ["G", "M"]], [2, 1, 1], None, [1, 0, 0])
    assert same_credit(fitted(merged)[1], fitted(GM)[1])


def test_without_null_journeys_every_removal_is_counted_against_p_one():
    j = Journeys.from_paths([["a", "b"], ["b"]], [1, 1])
    model, credit = fitted(j)
    assert model.conversion_probability_ == pytest.approx(1.0)
    assert model.removal_effects_ == pytest.approx({"a": 0.5, "b": 1.0})
    assert [credit["a"][0], credit["b"][0]] == pytest.approx([2 / 3, 4 / 3])


def test_value_follows_the_last_state_before_conversion():
    j = Journeys.from_paths([["a"], ["b"], ["a", "b"]], [1, 1, 0], [100, 10, 0], [0, 0, 1])
    model, credit = fitted(j)
    # Expected value from the start is exact: total value over all journeys.
    assert model.expected_value_ == pytest.approx(110 / 3)
    assert model.value_removal_effects_["a"] > model.value_removal_effects_["b"]
    assert sum(v for _, v in credit.values()) == pytest.approx(110)


def test_channel_seen_only_in_null_journeys_gets_nothing_and_is_listed():
    j = Journeys.from_paths([["c", "a"], ["a"]], [0, 1], None, [1, 0])
    model, credit = fitted(j)
    assert model.removal_effects_["c"] > 0  # the chain does lose conversions without it
    assert credit["c"] == (0.0, 0.0)
    assert credit["a"] == pytest.approx((1.0, 1.0))
    assert model.details()["null_only_channels"] == ["c"]


def test_order_2_states_are_windows_and_short_paths_one_state():
    j = Journeys.from_paths(
        [["a", "b", "c", "d"], ["a"], ["b", "b", "b"]], [1, 0, 1], None, [0, 1, 0]
    )
    model, _ = fitted(j, order=2)
    assert model.states_ == [
        "(start)", "a", "a > b", "b > b", "b > c", "c > d", "(conversion)", "(null)"
    ]  # fmt: skip
    table = model.transition_table().select("from_label", "to_label", "count")
    edges = {(a, b): c for a, b, c in table.iter_rows()}
    assert edges == {
        ("(start)", "a > b"): 1, ("(start)", "a"): 1, ("(start)", "b > b"): 1,
        ("a > b", "b > c"): 1, ("b > c", "c > d"): 1, ("c > d", "(conversion)"): 1,
        ("a", "(null)"): 1, ("b > b", "(conversion)"): 1,
    }  # fmt: skip


def test_transition_table_gives_node_roles_by_index_not_by_name():
    # A channel called "(null)" is a state; the journey that does not convert ends in null.
    model, _ = fitted(Journeys.from_paths([["(null)", "a"], ["a"]], [1, 0], None, [0, 1]))
    table = model.transition_table()
    roles = set(table.select("from_label", "from_kind").rows()) | set(
        table.select("to_label", "to_kind").rows()
    )
    # the labels of the state "(null)" and of the null state coincide; their ids do not
    ids = set(table["from"].to_list()) | set(table["to"].to_list())
    assert len(ids) == 5
    assert roles == {
        ("(start)", "start"),
        ("(null)", "state"),
        ("a", "state"),
        ("(conversion)", "conversion"),
        ("(null)", "null"),
    }


def test_order_1_merges_repeats_a_a_b_moves_a_to_b():
    model, _ = fitted(Journeys.from_paths([["a", "a", "b"]], [1]))
    edges = model.transition_table().select("from", "to").rows()
    assert edges == [("(start)", '["a"]'), ('["a"]', '["b"]'), ('["b"]', "(conversion)")]


def test_transition_matrix_is_row_stochastic_over_states():
    model, _ = fitted(example_journeys(), order=2)
    m = model.transition_matrix_
    assert m.shape == (len(model.states_),) * 2 == model.transition_counts_.shape
    assert np.allclose(np.asarray(m.sum(axis=1)).ravel(), 1.0)
    table = model.transition_table()
    sums = table.group_by("from").agg(pl.col("probability").sum())["probability"]
    assert np.allclose(sums.to_numpy(), 1.0)


@settings(max_examples=60, deadline=None)
@given(journeys_strategy(weighted=True, with_times=False), st.integers(1, 3))
def test_removal_effects_in_0_1_and_credit_adds_up(j, order):
    model, credit = fitted(j, order=order)
    effects = np.array(list(model.removal_effects_.values()))
    assert ((effects >= 0) & (effects <= 1)).all()
    assert sum(c for c, _ in credit.values()) == pytest.approx(j.total_conversions, abs=1e-9)
    assert sum(v for _, v in credit.values()) == pytest.approx(j.total_value, abs=1e-6)
    # The fitted chain reproduces the data's conversion rate and value per journey.
    journeys = max(j.n_journeys, 1.0)  # no journeys at all: P = 0
    assert model.conversion_probability_ == pytest.approx(j.total_conversions / journeys)
    assert model.expected_value_ == pytest.approx(j.total_value / journeys)


@settings(max_examples=40, deadline=None)
@given(journeys_strategy(weighted=True, with_times=False), st.integers(1, 3))
def test_woodbury_iterative_and_per_channel_lu_solves_agree(j, order):
    chain = _build_chain(j, order)
    dense = _solve(chain, "dense")
    for method in ("iterative", "splu"):
        other = _solve(chain, method)
        assert dense.probability == pytest.approx(other.probability, rel=1e-12, abs=1e-15)
        assert np.allclose(dense.probability_without, other.probability_without, atol=1e-12)
        assert np.allclose(dense.value_without, other.value_without, rtol=1e-9, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(journeys_strategy(weighted=True, with_times=False), st.integers(1, 3), st.integers(0, 99))
def test_row_order_does_not_matter(j, order, seed):
    _, a = fitted(j, order=order)
    _, b = fitted(shuffle_rows(j, seed), order=order)
    assert same_credit(a, b)


@settings(max_examples=40, deadline=None)
@given(journeys_strategy(weighted=True, with_times=False))
def test_order_1_collapsing_repeats_changes_nothing(j):
    row = j.row_of_touch
    repeat = np.zeros(j.n_touches, dtype=bool)
    repeat[1:] = (row[1:] == row[:-1]) & (j.codes[1:] == j.codes[:-1])
    lengths = np.bincount(row[~repeat], minlength=j.n_rows)
    collapsed = Journeys(
        j.channels,
        j.codes[~repeat],
        np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        j.conversions,
        j.value,
        j.nulls,
    )
    assert same_credit(fitted(j)[1], fitted(collapsed)[1])


@pytest.mark.parametrize("order", [1, 2, 3])
def test_single_channel_path_takes_all_credit(order):
    j = Journeys.from_paths([["a", "a", "a"], ["b"], ["b", "a"]], [3, 0, 0], [30, 0, 0], [1, 2, 2])
    _, credit = fitted(j, order=order)
    assert credit == {"a": pytest.approx((3.0, 30.0)), "b": (0.0, 0.0)}


@pytest.mark.parametrize("params", [{}, {"order": 2}, {"order": 3}, {"order": "auto"}])
def test_markov_passes_the_conformance_suite(params):
    check_model(Markov(**params))


def test_many_channels_every_solver_agrees():
    sim = simulate_journeys(3000, channels=make_channels(60), seed=3)
    chain = _build_chain(sim, 1)
    dense = _solve(chain, "dense")
    for method in ("iterative", "splu"):
        other = _solve(chain, method).probability_without
        assert np.allclose(dense.probability_without, other, atol=1e-12)


def test_long_cycles_fall_back_from_iteration_to_lu_and_stay_exact():
    # a <-> b about 1500 times: fixed-point steps would need tens of thousands.
    j = Journeys.from_paths([["a", "b"] * 1500, ["b", "c"]], [1, 1], None, [1, 0])
    chain = _build_chain(j, 1)
    dense = _solve(chain, "dense")
    s = chain.n_states
    probs = _probabilities(chain.counts)
    q = mk._csr(probs[: s + 1, : s + 1])
    rhs = np.column_stack([mk._column(probs, s + 1, s + 1)] * 2)
    assert _steps(q, rhs, 1.0) is None
    for method in ("iterative", "auto"):
        got = _solve(chain, method)
        assert np.allclose(got.probability_without, dense.probability_without, atol=1e-12)


def _journeys_where_last_two_channels_decide():
    # a > c always converts and b > c never does: only order 2 can tell them apart.
    return Journeys.from_paths(
        [["a", "c"], ["b", "c"], ["c"], ["a"], ["b"]],
        [200, 0, 100, 50, 50],
        None,
        [0, 200, 100, 50, 50],
    )


def test_auto_order_picks_2_when_the_last_two_channels_decide():
    model, _ = fitted(_journeys_where_last_two_channels_decide(), order="auto", max_order=3)
    assert model.order_ == 2
    scores = model.order_scores_
    assert sorted(scores) == [1, 2, 3] and scores[2] < scores[1] - 0.1
    assert model.details()["order_scores"] == {str(k): v for k, v in scores.items()}


def test_auto_order_picks_1_when_only_the_last_channel_matters():
    rng = np.random.default_rng(5)
    n = 3000
    first, last = rng.integers(0, 4, n), rng.integers(0, 4, n)
    converts = rng.random(n) < np.array([0.1, 0.3, 0.5, 0.7])[last]
    names = list("abcd")
    j = Journeys.from_paths(
        [[names[f], names[x]] for f, x in zip(first, last, strict=True)],
        converts.astype(float),
        None,
        1.0 - converts,
    )
    model, _ = fitted(j, order="auto", max_order=3)
    assert model.order_ == 1


def test_auto_scores_do_not_depend_on_row_order():
    j = _journeys_where_last_two_channels_decide()
    assert order_scores(j) == pytest.approx(order_scores(shuffle_rows(j, 4)))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"order": 0}, "order must be an integer >= 1 or 'auto', got 0"),
        ({"order": "two"}, "got 'two'"),
        ({"order": True}, "got True"),
        ({"folds": 1}, "folds must be an integer >= 2"),
        ({"max_order": 0}, "max_order must be an integer >= 1"),
    ],
)
def test_bad_parameters_fail_when_the_model_runs(params, message):
    model = Markov(**params)  # scikit-learn style: stored, not checked, here
    with pytest.raises(ModelError, match=message):
        model.attribute(GM)


def test_spec_parses_order_as_int_or_auto():
    result = at.attribute(GM, ["markov:order=2", "markov:order=auto"])
    assert [run.model.order for run in result.runs] == [2, "auto"]


def test_empty_input_gives_no_credit_and_no_states():
    model, credit = fitted(Journeys.empty(("a", "b")))
    assert credit == {"a": (0.0, 0.0), "b": (0.0, 0.0)}
    assert model.states_ == ["(start)", "(conversion)", "(null)"]
    assert model.transition_table().height == 0


def test_transition_graph_holds_the_edge_list():
    graph = transition_graph(THREE)
    table = transition_table(THREE)
    assert isinstance(graph, nx.DiGraph)
    assert graph.number_of_edges() == table.height
    assert graph.edges['["C1"]', '["C2"]'] == {"count": 1.0, "probability": 0.5}
    assert graph.nodes['["C1"]'] == {"kind": "state", "label": "C1"}
    assert graph.nodes["(start)"]["kind"] == "start"
    assert graph.nodes["(conversion)"]["kind"] == "conversion"


# -- the command line ---------------------------------------------------------
def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def paths_csv(tmp_path):
    path = tmp_path / "paths.csv"
    THREE.to_paths_table().write_csv(path)
    return path


def test_cli_transitions_writes_the_edge_list_as_csv(paths_csv):
    result = invoke("transitions", paths_csv)
    assert result.exit_code == 0, result.output
    got = pl.read_csv(result.stdout.encode())
    assert got.columns[:4] == ["from", "to", "count", "probability"]
    assert got.filter(pl.col("from_label") == "C3")["probability"].to_list() == [0.5, 0.5]


@pytest.mark.parametrize("ext", ["graphml", "gexf"])
def test_cli_transitions_graph_files_by_extension(paths_csv, tmp_path, ext):
    out = tmp_path / f"graph.{ext}"
    result = invoke("transitions", paths_csv, "--order", "2", "-o", out)
    assert result.exit_code == 0, result.output
    graph = nx.read_graphml(out) if ext == "graphml" else nx.read_gexf(out)
    assert graph.has_edge('["C1","C2"]', '["C2","C3"]')
    assert graph.edges['["C2","C3"]', "(conversion)"]["probability"] == pytest.approx(0.5)
    assert graph.nodes['["C2","C3"]']["label"] == "C2 > C3"


def test_cli_transitions_rejects_a_bad_order_and_extension(paths_csv, tmp_path):
    assert invoke("transitions", paths_csv, "--order", "0").exit_code == 2
    result = invoke("transitions", paths_csv, "-o", tmp_path / "graph.xml")
    assert result.exit_code == 1 and ".graphml or .gexf" in result.output
    assert not (tmp_path / "graph.xml").exists()


def test_cli_run_details_shows_removal_effects_and_p(paths_csv):
    result = invoke("run", paths_csv, "-m", "markov", "--format", "json", "--details")
    assert result.exit_code == 0, result.output
    details = json.loads(result.stdout)["details"]["markov"]
    assert details["removal_effects"] == pytest.approx({"C1": 0.5, "C2": 1.0, "C3": 1.0})
    assert details["conversion_probability"] == pytest.approx(1 / 3)
    assert details["order"] == 1 and details["null_only_channels"] == []


def test_markov_benchmark_quick_pass_runs(tmp_path):
    from benchmarks import bench_markov

    table = bench_markov.QUICK["8ch-10k"]
    stages = bench_markov.run("8ch-10k", table, repeat=1, folder=tmp_path)
    assert [s.name for s in stages[:3]] == [
        "load paths file",
        "markov order 1",
        "  file to credit, order 1",
    ]
    assert len(stages) == 1 + 2 * len(table.orders)
    journeys, model = stages[0].result, stages[1].result
    assert journeys.n_journeys == table.journeys
    assert model.conversion_probability_ == pytest.approx(
        journeys.total_conversions / journeys.n_journeys
    )


def test_a_small_chain_is_solved_without_importing_scipy(tmp_path):
    # scipy.sparse takes some 0.1 s to import, more than the model itself on a
    # million journeys over 8 channels: a small chain stays in numpy arrays.
    import subprocess
    import sys

    paths = tmp_path / "paths.csv"
    paths.write_text("path,total_conversions,total_null\na > b,3,1\nb,1,4\na > c > b,2,2\n")
    script = (
        "import sys\n"
        "from attribution.cli.main import cli\n"
        "try:\n"
        f"    cli(['run', {str(paths)!r}, '-m', 'markov', '--format', 'csv'], "
        "standalone_mode=False)\n"
        "finally:\n"
        "    print(sorted(m for m in sys.modules if m.startswith('scipy')), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "b," in done.stdout
    assert done.stderr.strip().splitlines()[-1] == "[]", done.stderr
