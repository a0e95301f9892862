"""Transition graphs from any model's edge table: the core helper and `attribution transitions`."""

from __future__ import annotations

import networkx as nx
import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

import attribution as at
from attribution.cli.main import cli
from attribution.errors import ModelError
from attribution.graph import EDGE_COLUMNS, check_edge_table, transition_graph
from attribution.journeys import Journeys
from attribution.models import Linear

THREE = Journeys.from_paths(
    [["C1", "C2", "C3"], ["C1"], ["C2", "C3"]], [1, 0, 0], [1000, 0, 0], [0, 1, 1]
)


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def paths_csv(tmp_path):
    path = tmp_path / "paths.csv"
    THREE.to_paths_table().write_csv(path)
    return path


# -- the core helper ---------------------------------------------------------------
def edges(**extra) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "from": ["s", "s", "x", "y"],
            "to": ["x", "y", "win", "lose"],
            "count": [3.0, 1.0, 3.0, 1.0],
            "probability": [0.75, 0.25, 1.0, 1.0],
            **extra,
        }
    )


def test_graph_takes_node_roles_from_the_kind_columns_and_lists_them_by_role():
    table = edges(
        from_kind=["start", "start", "state", "state"],
        to_kind=["state", "state", "conversion", "null"],
        from_label=["Start", "Start", "X", "Y"],
        to_label=["X", "Y", "Won", "Lost"],
    )
    # Shuffled rows: the order of nodes comes from their roles first.
    graph = transition_graph(table.reverse())
    assert list(graph.nodes) == ["s", "y", "x", "win", "lose"]
    assert graph.nodes["win"] == {"kind": "conversion", "label": "Won"}
    assert graph.nodes["s"] == {"kind": "start", "label": "Start"}
    assert graph.edges["s", "x"] == {"count": 3.0, "probability": 0.75}
    assert graph.number_of_edges() == table.height


def test_graph_without_roles_has_nodes_in_order_of_appearance_and_no_kind():
    graph = transition_graph(edges())
    assert list(graph.nodes) == ["s", "x", "y", "win", "lose"]
    assert all("kind" not in attrs for _, attrs in graph.nodes(data=True))


def test_graph_refuses_one_node_with_two_roles_and_unknown_roles():
    clash = edges(
        from_kind=["start", "start", "state", "state"],
        to_kind=["state", "start", "conversion", "null"],  # y: state as a source, start here
    )
    with pytest.raises(ModelError, match="gives node 'y' two kinds"):
        transition_graph(clash)
    odd = edges(
        from_kind=["start", "start", "state", "state"], to_kind=["state", "state", "won", "null"]
    )
    with pytest.raises(ModelError, match=r"node kind\(s\) \['won'\]"):
        transition_graph(odd)


def test_edge_table_check_names_the_model_and_the_missing_columns():
    assert check_edge_table(edges(), "m") is not None
    with pytest.raises(ModelError, match=r"model 'm': transition_table\(\) has no column"):
        check_edge_table(edges().drop("probability"), "m")
    with pytest.raises(ModelError, match="is a dict; expected a polars DataFrame"):
        check_edge_table({"from": []}, "m")


def test_markov_graph_helper_matches_its_own_edge_table():
    from attribution.models.markov import transition_table

    table = transition_table(THREE, 2)
    graph = transition_graph(table)
    assert graph.number_of_edges() == table.height
    kinds = nx.get_node_attributes(graph, "kind")
    assert [n for n, k in kinds.items() if k != "state"] == ["(start)", "(conversion)", "(null)"]


# -- a plugin's chain through `attribution transitions` -----------------------------
class FirstOrderPlugin(Linear):
    """A plugin model with its own transition graph: channel to next channel, first order."""

    name = "plugin_chain"
    description = "Linear credit; its graph links each channel to the next one."

    def attribute(self, journeys):
        frame = super().attribute(journeys)
        w = journeys.conversions + journeys.nulls
        row = journeys.row_of_touch
        nxt = np.ones(journeys.n_touches, dtype=bool)
        nxt[journeys.offsets[1:] - 1] = False  # the last touch of a row has no next
        src = journeys.codes[nxt].astype(np.int64)
        dst = journeys.codes[np.flatnonzero(nxt) + 1].astype(np.int64)
        n = journeys.n_channels
        counts = np.bincount(src * n + dst, weights=w[row[nxt]], minlength=n * n)
        cells = np.flatnonzero(counts)
        names = np.array(journeys.channels, dtype=object)
        out = np.bincount(cells // n, weights=counts[cells], minlength=n)
        self.edges_ = pl.DataFrame(
            {
                "from": pl.Series(names[cells // n], dtype=pl.String),
                "to": pl.Series(names[cells % n], dtype=pl.String),
                "count": counts[cells],
                "probability": counts[cells] / out[cells // n],
                "from_kind": ["state"] * len(cells),
                "to_kind": ["state"] * len(cells),
                "from_label": pl.Series(names[cells // n], dtype=pl.String).str.to_lowercase(),
                "to_label": pl.Series(names[cells % n], dtype=pl.String).str.to_lowercase(),
            }
        )
        return frame

    def transition_table(self) -> pl.DataFrame:
        return self.edges_


def test_transitions_accepts_a_plugin_model_with_a_transition_table(paths_csv, tmp_path):
    at.register_model(FirstOrderPlugin)
    result = invoke("transitions", paths_csv, "-m", "plugin_chain")
    assert result.exit_code == 0, result.output
    got = pl.read_csv(result.stdout.encode())
    # the contract's columns first, then the roles and labels the model gives
    assert got.columns[:4] == list(EDGE_COLUMNS)
    assert set(got.columns[4:]) <= {"from_kind", "to_kind", "from_label", "to_label"}
    assert sorted(got.select("from", "to", "count").rows()) == [
        ("C1", "C2", 1.0),
        ("C2", "C3", 2.0),
    ]
    out = tmp_path / "plugin.graphml"
    assert invoke("transitions", paths_csv, "-m", "plugin_chain", "-o", out).exit_code == 0
    graph = nx.read_graphml(out)
    assert graph.nodes["C2"] == {"kind": "state", "label": "c2"}
    assert graph.edges["C2", "C3"]["count"] == 2.0


def test_transitions_refuses_a_model_without_a_graph_before_reading(tmp_path):
    unreadable = tmp_path / "events.csv"
    unreadable.write_text("not,an,events,file\n1,2,3,4\n")
    result = invoke("transitions", unreadable, "-m", "linear")
    assert result.exit_code == 1
    assert "model 'linear' has no transition graph" in result.output
    assert "models that have one: markov" in result.output
    result = invoke("transitions", unreadable, "-m", "markov:order=0")
    assert result.exit_code == 1 and "order must be an integer >= 1" in result.output


def test_order_is_a_shortcut_for_the_models_order_parameter(paths_csv):
    by_option = invoke("transitions", paths_csv, "--order", "2").stdout
    by_spec = invoke("transitions", paths_csv, "-m", "markov:order=2").stdout
    assert by_option == by_spec and "C1 > C2" in by_option
    at.register_model(FirstOrderPlugin)
    result = invoke("transitions", paths_csv, "-m", "plugin_chain", "--order", "2")
    assert (
        result.exit_code == 2 and "model 'plugin_chain' has no parameter 'order'" in result.output
    )
    result = invoke("transitions", paths_csv, "-m", "markov:order=2", "--order", "3")
    assert result.exit_code == 2 and "give one of them" in result.output


def test_a_plugin_table_without_the_contract_columns_is_a_clear_error(paths_csv):
    class Broken(FirstOrderPlugin):
        name = "broken_chain"

        def transition_table(self) -> pl.DataFrame:
            return super().transition_table().drop("probability")

    at.register_model(Broken)
    result = invoke("transitions", paths_csv, "-m", "broken_chain")
    assert result.exit_code == 1
    assert "model 'broken_chain': transition_table() has no column(s) ['probability']" in (
        result.output
    )
