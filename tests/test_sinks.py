"""Writing results: the table of output formats, choosing a format, whole-or-nothing files."""

from __future__ import annotations

import json
import os
import stat

import networkx as nx
import polars as pl
import pytest

from attribution.errors import OutputError
from attribution.sinks import (
    CHART_OUTPUTS,
    GRAPH_OUTPUTS,
    OUTPUT_FORMATS,
    REPORT_OUTPUTS,
    TABLE_OUTPUTS,
    atomic_write,
    dumps,
    format_for,
    formats,
    output_text,
    write_json,
    write_output,
)

FRAME = pl.DataFrame({"channel": ["a", "b"], "conversions": [1.5, None]})


def test_every_extension_names_one_format():
    seen: dict[str, str] = {}
    for spec in OUTPUT_FORMATS.values():
        for ext in spec.extensions:
            assert ext.startswith(".") and ext == ext.lower()
            assert ext not in seen, f"{ext} claimed by {seen[ext]} and {spec.name}"
            seen[ext] = spec.name


def test_each_command_offers_the_formats_of_what_it_writes():
    assert TABLE_OUTPUTS == ("table", "csv", "json", "parquet", "xlsx")
    assert GRAPH_OUTPUTS == (*TABLE_OUTPUTS, "graphml", "gexf")
    assert CHART_OUTPUTS == ("png", "svg", "pdf")
    assert REPORT_OUTPUTS == ("html",)
    assert formats("graph") == ("graphml", "gexf")


@pytest.mark.parametrize(
    ("output", "fmt", "expected"),
    [
        (None, None, "table"),
        ("credit.CSV", None, "csv"),
        ("credit.pq", None, "parquet"),
        ("credit.xlsx", None, "xlsx"),
        ("credit.csv", "json", "json"),  # asked for beats the extension
        (None, "csv", "csv"),
    ],
)
def test_format_for_asked_then_extension_then_default(output, fmt, expected):
    assert format_for(output, fmt) == expected


def test_format_for_only_picks_among_the_allowed():
    assert format_for("g.graphml", allowed=GRAPH_OUTPUTS) == "graphml"
    assert format_for(None, allowed=GRAPH_OUTPUTS, default="csv") == "csv"
    with pytest.raises(OutputError, match=r"cannot tell the format of 'g\.graphml'") as err:
        format_for("g.graphml")  # not a table format
    assert err.value.setting == "fmt"
    with pytest.raises(OutputError, match=r"unknown output format 'png'; expected one of"):
        format_for(None, "png")
    with pytest.raises(OutputError, match="no output file given"):
        format_for(None, allowed=CHART_OUTPUTS, default=None)


def test_unknown_extension_lists_the_formats_and_extensions_and_names_no_flag():
    with pytest.raises(OutputError) as err:
        format_for("credit.txt")
    message = str(err.value)
    assert "use fmt (csv|json|parquet|xlsx)" in message
    assert "['.csv', '.json', '.parquet', '.pq', '.xlsx']" in message
    assert "--" not in message


def test_text_formats_show_what_their_files_hold(tmp_path):
    for fmt, payload in [
        ("table", "a  1"),
        ("csv", FRAME),
        ("json", {"x": float("nan"), "y": [1, float("inf")]}),
    ]:
        out = tmp_path / f"out.{fmt}"
        write_output(payload, out, fmt)
        assert out.read_text(encoding="utf-8") == output_text(payload, fmt), fmt
    assert json.loads((tmp_path / "out.json").read_text()) == {"x": None, "y": [1, None]}
    assert pl.read_csv(tmp_path / "out.csv").equals(FRAME)


def test_graph_formats_round_trip_through_networkx(tmp_path):
    graph = nx.DiGraph()
    graph.add_edge("(start)", "a", count=2.0)
    for fmt, read in [("graphml", nx.read_graphml), ("gexf", nx.read_gexf)]:
        out = tmp_path / f"g.{fmt}"
        write_output(graph, out, fmt)
        back = read(out)
        assert list(back.edges(data="count")) == [("(start)", "a", 2.0)]
        text = output_text(graph, fmt)  # what `transitions --format graphml` prints
        assert text.startswith(f"<{fmt} ") and text.endswith("\n") and "(start)" in text


def test_binary_formats_need_a_file():
    for fmt in ("parquet", "xlsx", "png", "html"):
        with pytest.raises(OutputError, match=f"{fmt} output cannot be shown as text"):
            output_text(FRAME, fmt)


def test_write_output_writes_parquet_whole(tmp_path):
    out = tmp_path / "c.parquet"
    write_output(FRAME, out, "parquet")
    assert pl.read_parquet(out).equals(FRAME)
    assert [p.name for p in tmp_path.iterdir()] == ["c.parquet"]


def test_atomic_write_leaves_the_old_file_when_writing_fails(tmp_path):
    out = tmp_path / "c.csv"
    out.write_text("old\n")

    def broken(path):
        path.write_text("half")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        atomic_write(out, broken)
    assert out.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["c.csv"]


def test_atomic_write_refuses_an_input_and_a_missing_folder(tmp_path):
    src = tmp_path / "events.csv"
    src.write_text("keep\n")
    with pytest.raises(OutputError, match="refusing to overwrite the input file"):
        atomic_write(tmp_path / "." / "events.csv", lambda p: p.write_text("x"), [str(src)])
    assert src.read_text() == "keep\n"
    with pytest.raises(OutputError, match=r"folder .* does not exist"):
        write_json({}, tmp_path / "nope" / "x.json")


def test_atomic_write_gives_the_mode_a_plain_open_would(tmp_path):
    umask = os.umask(0o022)
    try:
        atomic_write(tmp_path / "c.txt", lambda p: p.write_text("x"))
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "c.txt").stat().st_mode) == 0o644


def test_xlsx_without_xlsxwriter_names_the_extra(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "xlsxwriter", None)  # import now raises ImportError
    out = tmp_path / "c.xlsx"
    with pytest.raises(OutputError, match=r"pip install 'attribution-engine\[xlsx\]'"):
        write_output(FRAME, out, "xlsx")
    assert not out.exists()


def test_dumps_turns_numpy_scalars_and_nan_into_json():
    import numpy as np

    assert json.loads(dumps({"a": np.float64(1.5), "b": np.nan, "c": (1, 2)})) == {
        "a": 1.5,
        "b": None,
        "c": [1, 2],
    }
