"""Writing results: the table of output formats, choosing a format, whole-or-nothing files."""

from __future__ import annotations

import errno
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
    TEMP_MARK,
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
        ("credit.txt", "json", "json"),  # an extension no format claims goes with any
        ("credit.CSV", "csv", "csv"),
        (None, "csv", "csv"),
        ("-", None, "table"),  # stdout
        ("-", "parquet", "parquet"),
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


# -- a format and an extension that disagree ---------------------------------
@pytest.mark.parametrize(
    ("output", "fmt"),
    [
        ("credit.csv", "parquet"),
        ("credit.parquet", "csv"),
        ("credit.JSON", "table"),
        ("credit.pq", "xlsx"),
        ("graph.graphml", "gexf"),
        ("chart.svg", "png"),
        ("report.pdf", "html"),
    ],
)
def test_a_format_and_an_extension_that_disagree_are_an_error(tmp_path, output, fmt):
    allowed = tuple(OUTPUT_FORMATS)
    with pytest.raises(OutputError, match=r"is named like a .* file, but the format asked") as err:
        format_for(output, fmt, allowed=allowed)
    assert err.value.setting == "fmt"
    # also when a caller skips format_for: write_output checks it before writing anything
    out = tmp_path / output
    with pytest.raises(OutputError, match="is named like a"):
        write_output(FRAME, out, fmt)
    assert list(tmp_path.iterdir()) == []


# -- what the target is ------------------------------------------------------
def test_a_fifo_is_written_into_not_replaced(tmp_path):
    import threading

    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    try:
        # the reader may not have opened its end yet: retry while the FIFO has none
        for _ in range(200):
            try:
                write_output(FRAME, fifo, "csv")
                break
            except OutputError as exc:
                assert "nobody reads from" in str(exc)
                threading.Event().wait(0.01)
    finally:
        reader.join(timeout=10)
    assert got == [FRAME.write_csv().encode()]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # still a FIFO, not a regular file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe.csv"]


def test_a_fifo_without_a_reader_is_an_error_not_a_hang(tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    with pytest.raises(OutputError, match=r"^cannot write '.*pipe\.csv': it is a named pipe"):
        write_output(FRAME, fifo, "csv")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe.csv"]


def test_a_device_is_never_renamed_over(tmp_path, monkeypatch):
    """A character device is written into through its own node, never replaced by a
    rename. Simulated: `os.stat` reports the target as a character device and
    `os.open` is watched, so that no device file is touched."""
    out = tmp_path / "device"
    out.write_bytes(b"")
    real_stat, real_open = os.stat, os.open
    opened: list[int] = []

    def fake_stat(path, *args, **kwargs):
        status = real_stat(path, *args, **kwargs)
        if os.fspath(path) == os.fspath(out):
            fields = list(status)
            fields[0] = stat.S_IFCHR | 0o666
            return os.stat_result(fields)
        return status

    def watched_open(path, flags, *args, **kwargs):
        if os.fspath(path) == os.fspath(out):
            opened.append(flags)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "stat", fake_stat)
    monkeypatch.setattr(os, "open", watched_open)
    monkeypatch.setattr(os, "replace", lambda *a: pytest.fail("renamed over a device"))
    write_output(FRAME, out, "csv")
    assert out.read_bytes() == FRAME.write_csv().encode()
    assert len(opened) == 1 and not opened[0] & (os.O_CREAT | os.O_TRUNC)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["device"]


def test_a_folder_or_a_socket_is_refused(tmp_path):
    import socket

    with pytest.raises(OutputError, match=r"it is a folder"):
        atomic_write(tmp_path, lambda p: p.write_text("x"))
    sock_path = tmp_path / "s.csv"
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(os.fspath(sock_path))
        with pytest.raises(OutputError, match=r"^cannot write '.*s\.csv': it is a socket"):
            write_output(FRAME, sock_path, "csv")
    finally:
        server.close()
    assert stat.S_ISSOCK(os.lstat(sock_path).st_mode)


def test_a_symlink_stays_a_link_and_its_target_is_replaced(tmp_path):
    real = tmp_path / "real.csv"
    real.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    write_output(FRAME, link, "csv")
    assert link.is_symlink() and os.readlink(link) == os.fspath(real)
    assert pl.read_csv(real).equals(FRAME)
    dangling = tmp_path / "dangling.csv"
    dangling.symlink_to(tmp_path / "new.csv")
    write_output(FRAME, dangling, "csv")
    assert dangling.is_symlink() and pl.read_csv(tmp_path / "new.csv").equals(FRAME)


def test_no_link_of_any_kind_writes_over_an_input(tmp_path):
    src = tmp_path / "events.csv"
    src.write_text("keep\n")
    (tmp_path / "soft.csv").symlink_to(src)
    os.link(src, tmp_path / "hard.csv")
    for name in ("events.csv", "soft.csv", "hard.csv"):
        with pytest.raises(OutputError, match="refusing to overwrite the input file"):
            write_output(FRAME, tmp_path / name, "csv", inputs=[src])
    assert src.read_text() == "keep\n"


def test_a_read_only_file_is_not_replaced(tmp_path, monkeypatch):
    out = tmp_path / "c.csv"
    out.write_text("keep\n")
    out.chmod(0o444)
    real_access = os.access

    # root may write any file, so os.access says what it says for everyone else
    def access(path, mode):
        return False if path == out and mode == os.W_OK else real_access(path, mode)

    monkeypatch.setattr(os, "access", access)
    with pytest.raises(OutputError, match=r"permission denied \(the file is read-only\)"):
        write_output(FRAME, out, "csv")
    assert out.read_text() == "keep\n" and _temps(tmp_path) == []


def test_replacing_a_file_keeps_its_permissions(tmp_path):
    out = tmp_path / "c.csv"
    out.write_text("old\n")
    out.chmod(0o640)
    write_output(FRAME, out, "csv")
    assert stat.S_IMODE(out.stat().st_mode) == 0o640


def test_dash_is_stdout_for_text_and_binary_formats(capsysbinary):
    write_output(FRAME, "-", "csv")
    assert capsysbinary.readouterr().out == FRAME.write_csv().encode()
    write_output(FRAME, "-", "parquet")
    import io

    assert pl.read_parquet(io.BytesIO(capsysbinary.readouterr().out)).equals(FRAME)


def test_binary_output_is_never_sent_to_a_terminal(monkeypatch, capsysbinary):
    import sys

    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    with pytest.raises(OutputError, match="binary output to a terminal"):
        write_output(FRAME, "-", "parquet")
    assert capsysbinary.readouterr().out == b""


# -- temporary files ----------------------------------------------------------
def _temps(folder):
    return sorted(p.name for p in folder.iterdir() if TEMP_MARK in p.name)


def test_temporary_files_are_named_for_their_target_and_this_process(tmp_path):
    seen: list[str] = []
    atomic_write(tmp_path / "c.csv", lambda p: seen.append(p.name) or p.write_text("x"))
    assert seen[0].startswith(f".c.csv{TEMP_MARK}") and f"-{os.getpid()}-" in seen[0]
    assert _temps(tmp_path) == []


def test_stale_temporary_files_of_dead_runs_are_removed_on_the_next_write(tmp_path):
    import subprocess
    import sys

    # a run killed hard while writing: its temporary file stays behind
    child = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from attribution.sinks import atomic_write\n"
        "def hang(p):\n"
        "    p.write_text('half')\n"
        "    os.kill(os.getpid(), 9)\n"
        "atomic_write(Path(sys.argv[1]), hang)\n"
    )
    proc = subprocess.run([sys.executable, "-c", child, os.fspath(tmp_path / "c.csv")])
    assert proc.returncode == -9
    left = _temps(tmp_path)
    assert len(left) == 1 and left[0].startswith(".c.csv" + TEMP_MARK)
    # another target's temporary file, a live run's, and a look-alike of a user's are kept
    live = tmp_path / f".c.csv{TEMP_MARK}{left[0].split('-')[2]}-{os.getpid()}-abc"
    live.write_text("mine, still writing")
    other = tmp_path / f".d.csv{TEMP_MARK}{left[0].split('-')[2]}-999999999-abc"
    other.write_text("another target")
    mine = tmp_path / f".c.csv{TEMP_MARK}notes"
    mine.write_text("a user's file")
    atomic_write(tmp_path / "c.csv", lambda p: p.write_text("whole"))
    assert (tmp_path / "c.csv").read_text() == "whole"
    assert _temps(tmp_path) == sorted([live.name, other.name, mine.name])


# -- write errors ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (errno.ENOSPC, "no space left on the device"),
        (errno.EFBIG, "file too large"),
        (errno.EACCES, "permission denied"),
        (errno.ENAMETOOLONG, "file name too long"),
        (errno.EROFS, "read-only file system"),
        (errno.EDQUOT, "disk quota exceeded"),
    ],
)
@pytest.mark.parametrize("where", ["create", "write", "rename", "polars"])
def test_write_errors_are_one_line_and_leave_no_temporary_file(
    tmp_path, monkeypatch, code, reason, where
):
    out = tmp_path / "c.csv"
    out.write_text("old\n")

    def write(path):
        path.write_text("half")
        if where == "write":
            raise OSError(code, os.strerror(code))
        if where == "polars":  # polars' own IO errors carry the number in the message
            raise pl.exceptions.ComputeError(f"underlying IO error: x (os error {code})")

    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    if where == "rename":
        monkeypatch.setattr(os, "replace", fail)
    if where == "create":  # the temporary file cannot even be made (read-only, full)
        import tempfile

        monkeypatch.setattr(tempfile, "mkstemp", fail)
    with pytest.raises(OutputError) as err:
        atomic_write(out, write)
    message = str(err.value)
    assert message == f"cannot write '{out}': {reason}" or message.startswith(
        f"cannot write '{out}': {reason}"
    )
    assert "\n" not in message
    assert out.read_text() == "old\n"
    assert _temps(tmp_path) == []


def test_a_name_too_long_is_one_line(tmp_path):
    out = tmp_path / ("x" * 300 + ".csv")
    with pytest.raises(OutputError, match=r"^cannot write '.*': file name too long$"):
        write_output(FRAME, out, "csv")
    assert list(tmp_path.iterdir()) == []


def test_a_long_name_that_fits_still_gets_a_temporary_file_that_fits(tmp_path):
    out = tmp_path / ("x" * 240 + ".csv")
    write_output(FRAME, out, "csv")
    assert pl.read_csv(out).equals(FRAME) and _temps(tmp_path) == []


def test_a_read_only_folder_is_one_line(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root may write into any folder")
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(OutputError, match=r"permission denied"):
            write_output(FRAME, folder / "c.csv", "csv")
    finally:
        folder.chmod(0o700)


def test_a_file_size_limit_is_one_line(tmp_path):
    """EFBIG for real: a child process with a 1 kB file size limit (RLIMIT_FSIZE)."""
    import subprocess
    import sys

    child = (
        "import resource, sys\n"
        "import polars as pl\n"
        "from attribution.errors import OutputError\n"
        "from attribution.sinks import write_output\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))\n"
        "frame = pl.DataFrame({'a': list(range(10000))})\n"
        "for fmt in ('csv', 'parquet', 'json'):\n"
        "    try:\n"
        "        write_output(frame if fmt != 'json' else frame.to_dicts(),\n"
        "                     sys.argv[1] + '.' + fmt, fmt)\n"
        "    except OutputError as exc:\n"
        "        print(exc)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", child, os.fspath(tmp_path / "big")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0, proc.stderr
    assert [line.split(": ", 1)[1][:14] for line in lines] == ["file too large"] * 3
    assert list(tmp_path.iterdir()) == []
