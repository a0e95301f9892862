"""Writing results: one table of output formats, each file written whole or not at all.

Every command's output goes through :data:`OUTPUT_FORMATS`: a format's name,
the file extensions that select it, what it takes (a frame, a JSON document,
text, a graph, a chart figure, an HTML document), how it is written to a
file and, for the formats that can, how it is shown on stdout. A new output
format is one row of that table; the commands offer it through
:func:`formats`.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import socket
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import polars as pl

from attribution.errors import OutputError
from attribution.names import spreadsheet_safe

__all__ = [
    "CHART_OUTPUTS",
    "GRAPH_OUTPUTS",
    "OUTPUT_FORMATS",
    "REPORT_OUTPUTS",
    "STDOUT",
    "TABLE_OUTPUTS",
    "OutputFormat",
    "Takes",
    "atomic_write",
    "check_extension",
    "check_target",
    "dumps",
    "format_for",
    "formats",
    "is_stdout",
    "output_text",
    "write_json",
    "write_output",
]

PathLike = str | os.PathLike[str]

Takes = Literal["text", "frame", "document", "graph", "figure", "html"]
"""What a format writes: a text table, a polars frame, a JSON-able document,
a networkx graph, a matplotlib figure, or an HTML document (text)."""


STDOUT = "-"
"""The output name that means standard output (``-o -``)."""

TEMP_MARK = ".attribution-tmp-"
"""What every temporary file's name holds: ``.<name>.attribution-tmp-<host>-<pid>-<random>``."""

STALE_AFTER = 24 * 3600.0
"""Seconds after which a temporary file of another machine counts as abandoned."""


def is_stdout(output: PathLike | None) -> bool:
    """Whether ``output`` names standard output (``-``)."""
    return output is not None and os.fspath(output) == STDOUT


def atomic_write(
    path: PathLike, write: Callable[[Path], object], inputs: Iterable[PathLike] = ()
) -> None:
    """Write ``path`` whole or not at all, never over one of ``inputs``.

    ``write`` is called with the path of a temporary file and fills it. What
    happens next depends on what ``path`` is:

    - a regular file, or a path that does not exist yet: the temporary file is
      made in the same folder, flushed to disk and renamed over ``path``, so a
      reader sees the old file or the new one, never half of one. An existing
      file keeps its permission bits. A symbolic link stays a link: the file it
      points at is replaced (as a plain ``open`` would write through it).
    - ``-``: standard output. The payload is rendered into a temporary file
      first, so nothing is shown when rendering fails, then copied out
      (binary formats too, but never to a terminal).
    - a character device (a terminal, ``/dev/stdout``) or a named pipe (FIFO,
      also ``>(...)`` in a shell): rendered first, then written straight into
      it. Renaming over a device would replace the device node with a plain
      file, so it is never done. A FIFO nobody reads from is an error at
      once, not a hang.
    - anything else (a folder, a block device, a socket): refused.

    Temporary files carry :data:`TEMP_MARK` with this machine and process in
    their name. A run killed hard leaves one behind; the next write to the
    same target removes those whose process is gone (or, from another
    machine, that are older than :data:`STALE_AFTER`).

    Raises
    ------
    OutputError
        In one line naming ``path``: it is one of ``inputs`` (the files being
        read), its folder does not exist, it is not something a result can be
        written to, or the system refused the write (disk full, file too
        large, permission denied, name too long, read-only file system). No
        temporary file is left behind.
    """
    if is_stdout(path):
        _write_stdout(write)
        return
    path = Path(path)
    kind, status = check_target(path, inputs)
    if kind == "stream":
        _write_stream(path, write, fifo=status is not None and stat.S_ISFIFO(status.st_mode))
        return
    # the link's target is what gets replaced, in its own folder (a rename is atomic there)
    target = Path(os.path.realpath(path))
    folder = target.parent
    prefix = _temp_prefix(target.name)
    _remove_stale(folder, prefix)
    try:
        fd, name = tempfile.mkstemp(prefix=f"{prefix}{_HOST}-{os.getpid()}-", dir=folder)
    except OSError as exc:
        raise OutputError(_os_message(path, exc)) from exc
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        _settle(tmp, status)
        os.replace(tmp, target)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) or _errno(exc) is not None:
            raise OutputError(_os_message(path, exc)) from exc
        raise


TargetKind = Literal["file", "stream"]
"""How :func:`atomic_write` writes a target: replaced by a rename, or written into."""


def check_target(
    path: PathLike, inputs: Iterable[PathLike] = ()
) -> tuple[TargetKind, os.stat_result | None]:
    """Raise now what :func:`atomic_write` would refuse before writing anything.

    A command calls it before its work, so that an output it cannot write (an
    input, a folder, a socket, a file in a folder that does not exist) fails
    at once. What only the write can tell (a full disk, a FIFO nobody reads)
    still fails then. Returns how ``path`` would be written and its status
    (None: it does not exist yet; also for ``-``, stdout).
    """
    if is_stdout(path):
        return "stream", None
    path = Path(path)
    _refuse_inputs(path, inputs)
    kind, status = _target(path)
    if kind == "file":
        folder = Path(os.path.realpath(path)).parent
        if not folder.is_dir():
            raise OutputError(f"cannot write '{path}': folder '{folder}' does not exist")
        if status is not None and not os.access(path, os.W_OK):
            # a rename would replace it all the same; a read-only file says "keep me"
            raise OutputError(f"cannot write '{path}': permission denied (the file is read-only)")
    return kind, status


def _target(path: Path) -> tuple[TargetKind, os.stat_result | None]:
    """What ``path`` is (following links): a file to replace or a stream to write
    into, with its status (None: it does not exist yet)."""
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return "file", None  # a new file, or a link to one that does not exist yet
    except OSError as exc:  # a symlink loop, a part of the path that is not a folder
        raise OutputError(_os_message(path, exc)) from exc
    mode = status.st_mode
    if stat.S_ISREG(mode):
        return "file", status
    if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        return "stream", status
    what = "a folder" if stat.S_ISDIR(mode) else _KINDS.get(stat.S_IFMT(mode), "not a file")
    raise OutputError(
        f"cannot write '{path}': it is {what}; expected a file name (or '-' for stdout)"
    )


_KINDS = {stat.S_IFBLK: "a block device", stat.S_IFSOCK: "a socket"}


def _refuse_inputs(path: PathLike, inputs: Iterable[PathLike]) -> None:
    """Raise when ``path`` is one of ``inputs``: by device and inode, so that a
    symbolic or a hard link to an input counts as that input."""
    if is_stdout(path):
        return
    try:
        ours = os.stat(path)
    except OSError:
        return  # a new file is no input
    for src in inputs:
        try:
            theirs = os.stat(src)
        except OSError:
            continue
        if (ours.st_dev, ours.st_ino) == (theirs.st_dev, theirs.st_ino):
            raise OutputError(f"refusing to overwrite the input file '{os.fspath(path)}'")


def _settle(tmp: Path, replaced: os.stat_result | None) -> None:
    """Give ``tmp`` the mode of the file it replaces (a new one: what a plain open
    would give) and flush it to disk before the rename."""
    if replaced is not None:
        mode = stat.S_IMODE(replaced.st_mode) & 0o777  # never copy set-uid bits
    else:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    os.chmod(tmp, mode)  # mkstemp makes the file private (0600)
    if replaced is not None and os.geteuid() == 0 and replaced.st_uid != 0:
        # root replacing a user's file: the file stays theirs, as when written in place
        with contextlib.suppress(OSError):
            os.chown(tmp, replaced.st_uid, replaced.st_gid)
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _render(write: Callable[[Path], object], use: Callable[[Path], None]) -> None:
    """Render into a private temporary folder, then hand the file to ``use``."""
    with tempfile.TemporaryDirectory(prefix="attribution-") as folder:
        tmp = Path(folder) / "output"
        write(tmp)
        use(tmp)


def _write_stdout(write: Callable[[Path], object]) -> None:
    out = getattr(sys.stdout, "buffer", None)
    if out is None:
        raise OutputError("cannot write to stdout: it takes no bytes here; give a file")

    def copy(tmp: Path) -> None:
        if sys.stdout.isatty() and not _is_text(tmp):
            raise OutputError(
                "refusing to write binary output to a terminal; redirect stdout or give a file"
            )
        sys.stdout.flush()
        with open(tmp, "rb") as src:
            shutil.copyfileobj(src, out)
        out.flush()

    try:
        _render(write, copy)
    except OSError as exc:
        raise OutputError(_os_message(STDOUT, exc)) from exc


def _is_text(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(8192)
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return b"\0" not in head


def _write_stream(path: Path, write: Callable[[Path], object], *, fifo: bool) -> None:
    def copy(tmp: Path) -> None:
        # never O_CREAT: if the device went away, nothing is created in its place;
        # O_NONBLOCK makes opening a FIFO without a reader fail (ENXIO) instead of waiting
        flags = os.O_WRONLY | os.O_NOCTTY | (os.O_NONBLOCK if fifo else 0)
        try:
            fd = os.open(path, flags)
        except OSError as exc:
            if fifo and exc.errno == errno.ENXIO:
                raise OutputError(
                    f"cannot write '{path}': it is a named pipe (FIFO) that nobody reads from"
                ) from exc
            raise
        if fifo:  # a reader is there: from now on, wait for it like any pipe writer
            os.set_blocking(fd, True)
        with open(fd, "wb") as out, open(tmp, "rb") as src:
            shutil.copyfileobj(src, out)

    try:
        _render(write, copy)
    except OSError as exc:
        raise OutputError(_os_message(path, exc)) from exc


# -- temporary files --------------------------------------------------------
_HOST = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:8]


def _temp_prefix(name: str) -> str:
    """``.<name>.attribution-tmp-`` for ``name``, shortened so that the temporary
    file's name fits where ``name`` does (255 bytes on most file systems)."""
    if len(name.encode()) > 150:
        digest = hashlib.sha1(name.encode()).hexdigest()[:8]
        name = name.encode()[:100].decode(errors="ignore") + "~" + digest
    return f".{name}{TEMP_MARK}"


def _remove_stale(folder: Path, prefix: str) -> None:
    """Remove temporary files for this target left by runs that died.

    Only our own: named with ``prefix``, regular files owned by this user,
    made on this machine by a process that is gone, or made on another
    machine more than :data:`STALE_AFTER` seconds ago. A live run's file is
    never touched.
    """
    pattern = re.compile(re.escape(prefix) + r"([0-9a-f]{8})-(\d+)-[A-Za-z0-9_]+")
    try:
        names = [n for n in os.listdir(folder) if n.startswith(prefix)]
    except OSError:
        return
    for name in names:
        match = pattern.fullmatch(name)
        if match is None:
            continue
        stale = folder / name
        try:
            status = os.lstat(stale)
        except OSError:
            continue
        if not stat.S_ISREG(status.st_mode) or status.st_uid != os.geteuid():
            continue
        host, pid = match.group(1), int(match.group(2))
        if host == _HOST:
            if _alive(pid):
                continue
        elif time.time() - status.st_mtime < STALE_AFTER:
            continue
        with contextlib.suppress(OSError):
            stale.unlink()


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, and is someone else's
        return True
    return True


# -- errors -----------------------------------------------------------------
_OS_ERROR = re.compile(r"os error (\d+)")


def _errno(exc: BaseException) -> int | None:
    """The system error number of an OS error, also one that polars wrapped (its
    message then ends in ``(os error N)``); None for any other exception."""
    if isinstance(exc, OSError) and exc.errno is not None:
        return exc.errno
    if isinstance(exc, (OSError, pl.exceptions.PolarsError)):
        match = _OS_ERROR.search(str(exc))
        if match:
            return int(match.group(1))
    return None


_REASONS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file too large (a file size limit, see ulimit -f, or the file system's)",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENAMETOOLONG: "file name too long",
    errno.EROFS: "read-only file system",
    errno.ENOENT: "no such file or folder",
    errno.ENOTDIR: "a part of the path is not a folder",
    errno.EISDIR: "it is a folder",
    errno.ELOOP: "too many levels of symbolic links",
    errno.EPIPE: "the reader closed the pipe",
}


def _os_message(path: PathLike, exc: BaseException) -> str:
    """One line: ``cannot write 'PATH': REASON``."""
    code = _errno(exc)
    if code is None:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    else:
        reason = _REASONS.get(code) or os.strerror(code).lower()
    return f"cannot write '{os.fspath(path)}': {reason}"


# -- the writers ------------------------------------------------------------
def _jsonable(doc: Any) -> Any:
    if isinstance(doc, float) and doc != doc:  # NaN
        return None
    if isinstance(doc, float) and doc in (float("inf"), float("-inf")):
        return None
    if isinstance(doc, dict):
        return {k: _jsonable(v) for k, v in doc.items()}
    if isinstance(doc, (list, tuple)):
        return [_jsonable(v) for v in doc]
    if hasattr(doc, "item"):  # numpy scalar
        return _jsonable(doc.item())
    return doc


def dumps(doc: Any) -> str:
    """JSON text of ``doc`` as written by :func:`write_json` (NaN and inf become null)."""
    return json.dumps(_jsonable(doc), indent=2)


def _write_json(doc: Any, path: Path) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(_jsonable(doc), fh, indent=2)
        fh.write("\n")


_XLSX_FORMATS = {
    "share": "0.0%",
    "change": "+0.0%;-0.0%;0.0%",
    "ratio": "#,##0.00",
    "days": "#,##0.0",
}
_TABLE_STYLE = "Table Style Medium 2"


def _xlsx_format(kind: str, whole: bool, currency: str | None) -> str | None:
    """The Excel number format of a kind of number (see attribution.labels.Kind)."""
    if kind == "money":
        return f'#,##0.00 "{currency}"' if currency else "#,##0.00"
    if kind in ("count", "number"):
        return "#,##0" if whole else "#,##0.00"
    return _XLSX_FORMATS.get(kind)


def _write_xlsx(payload: Any, path: Path) -> None:
    """A workbook (:class:`attribution.workbook.Workbook`, or one sheet of a frame):
    each table an Excel table with a bold frozen header, numbers formatted by kind,
    totals in a table of their own below it; nulls are empty cells."""
    try:
        import xlsxwriter
    except ImportError as exc:
        raise OutputError(
            "xlsx output needs xlsxwriter, which is not installed; "
            "install the xlsx extra: pip install 'attribution-engine[xlsx]'"
        ) from exc
    import re

    from attribution.labels import is_whole
    from attribution.workbook import as_workbook, cell_value

    book = as_workbook(payload)
    workbook = xlsxwriter.Workbook(str(path))
    bold = workbook.add_format({"bold": True})
    cache: dict[str | None, Any] = {}

    def number_format(text: str | None) -> Any:
        if text not in cache:
            cache[text] = workbook.add_format({"num_format": text}) if text else None
        return cache[text]

    used_names: set[str] = set()

    def table_name(name: str) -> str:
        base = re.sub(r"\W", "", name) or "Table"
        base = base if base[0].isalpha() else f"T{base}"
        out, n = base, 1
        while out.lower() in used_names:
            n += 1
            out = f"{base}{n}"
        used_names.add(out.lower())
        return out

    def write_table(sheet: Any, frame: pl.DataFrame, top: int, name: str) -> list[int]:
        """Write ``frame`` as an Excel table from row ``top``; the widths its columns need."""
        columns = frame.columns
        headers = [sheet.header(c) for c in columns]
        widths = [len(h) for h in headers]
        formats: list[list[Any]] = []
        for j, column in enumerate(columns):  # a loop over columns
            kind = sheet.kind(column)
            values = frame[column].to_list()
            if isinstance(kind, str):  # one style for the column: whole when every value is
                whole = all(v is None or is_whole(v) for v in values)
                fmt = number_format(_xlsx_format(kind, whole, book.currency))
                formats.append([fmt] * len(values))
            else:  # a kind per row (the KPIs): each cell on its own
                formats.append(
                    [
                        number_format(_xlsx_format(k, v is None or is_whole(v), book.currency))
                        for k, v in zip(kind, values, strict=True)
                    ]
                )
            shown = [len(f"{v:,.2f}") if isinstance(v, float) else len(str(v)) for v in values]
            widths[j] = max([widths[j], *shown])
        if frame.height == 0:  # Excel has no table without a row; a bold header says enough
            ws.write_row(top, 0, headers, bold)
            return widths
        ws.add_table(
            top,
            0,
            top + frame.height,
            len(columns) - 1,
            {
                "name": table_name(name),
                "style": _TABLE_STYLE,
                "columns": [{"header": h, "header_format": bold} for h in headers],
            },
        )
        for i, row in enumerate(frame.iter_rows()):  # a loop over a sheet's rows (channels)
            for j, value in enumerate(row):
                ws.write(top + 1 + i, j, cell_value(value), formats[j][i])
        return widths

    for sheet in book.sheets:  # a loop over sheets
        name = re.sub(r"[\[\]:*?/\\]", " ", sheet.name)[:31]
        ws = workbook.add_worksheet(name)
        widths = write_table(sheet, sheet.table, 0, name)
        ws.freeze_panes(1, 0)  # the header stays in view while scrolling
        if sheet.totals is not None and sheet.totals.height:
            # apart from the table, after an empty row: a SUM over the table's column
            # (or its structured reference) never counts a total twice
            top = sheet.table.height + 2
            ws.write(top, 0, sheet.totals_title, bold)
            more = write_table(sheet, sheet.totals, top + 1, f"{name} totals")
            more = (more + [0] * len(widths))[: len(widths)]
            widths = [max(a, b) for a, b in zip(widths, more, strict=True)]
        for j, width in enumerate(widths):
            ws.set_column(j, j, min(max(width + 2, 8), 60))
    workbook.close()


def _graph_writer(kind: str) -> Callable[[Any, Path], None]:
    def write(graph: Any, path: Path) -> None:
        import networkx as nx

        (nx.write_graphml if kind == "graphml" else nx.write_gexf)(graph, path)

    return write


def _graph_text(kind: str) -> Callable[[Any], str]:
    def text(graph: Any) -> str:
        import networkx as nx

        lines = nx.generate_graphml(graph) if kind == "graphml" else nx.generate_gexf(graph)
        return "".join(f"{line}\n" for line in lines)

    return text


def _figure_writer(kind: str) -> Callable[[Any, Path], None]:
    # the temporary file has no telling extension, so the format is given explicitly
    return lambda figure, path: figure.savefig(path, format=kind)


@dataclass(frozen=True)
class OutputFormat:
    """One output format: its name, the extensions that pick it, and how it is written."""

    name: str
    extensions: tuple[str, ...]
    takes: Takes
    write: Callable[[Any, Path], object]
    """Writes the payload (what the format ``takes``) to a file path."""
    text: Callable[[Any], str] | None = None
    """The payload as text for stdout (with its final newline); None: files only."""


OUTPUT_FORMATS: dict[str, OutputFormat] = {
    f.name: f
    for f in (
        OutputFormat(
            "table",
            (),
            "text",
            lambda text, path: path.write_text(text + "\n", encoding="utf-8"),
            lambda text: text + "\n",
        ),
        OutputFormat(
            "csv",
            (".csv",),
            "frame",
            # text cells a spreadsheet would run as formulas get a leading ' (OWASP)
            lambda frame, path: spreadsheet_safe(frame).write_csv(path),
            lambda frame: spreadsheet_safe(frame).write_csv(),
        ),
        OutputFormat("json", (".json",), "document", _write_json, lambda doc: dumps(doc) + "\n"),
        OutputFormat(
            "parquet", (".parquet", ".pq"), "frame", lambda frame, path: frame.write_parquet(path)
        ),
        OutputFormat("xlsx", (".xlsx",), "frame", _write_xlsx),  # needs the [xlsx] extra
        OutputFormat(
            "graphml", (".graphml",), "graph", _graph_writer("graphml"), _graph_text("graphml")
        ),
        OutputFormat("gexf", (".gexf",), "graph", _graph_writer("gexf"), _graph_text("gexf")),
        OutputFormat("png", (".png",), "figure", _figure_writer("png")),  # needs [plot]
        OutputFormat("svg", (".svg",), "figure", _figure_writer("svg")),
        OutputFormat("pdf", (".pdf",), "figure", _figure_writer("pdf")),
        OutputFormat(
            "html",
            (".html", ".htm"),
            "html",
            lambda text, path: path.write_text(text, encoding="utf-8"),
        ),
    )
}
"""Every output format, by name, in the order the commands list them."""


def formats(*takes: Takes) -> tuple[str, ...]:
    """Names of the formats that take one of ``takes``, in table order."""
    return tuple(f.name for f in OUTPUT_FORMATS.values() if f.takes in takes)


TABLE_OUTPUTS = formats("text", "frame", "document")
"""Formats of a result that is a table (run, compare, paths, kpis, models)."""
GRAPH_OUTPUTS = formats("text", "frame", "document", "graph")
"""Formats of a result that is a table or a graph (transitions)."""
CHART_OUTPUTS = formats("figure")
"""Formats of a chart (plot)."""
REPORT_OUTPUTS = formats("html")
"""Formats of a report (report)."""


# -- choosing and writing ---------------------------------------------------
def format_for(
    output: PathLike | None,
    fmt: str | None = None,
    *,
    allowed: Sequence[str] = TABLE_OUTPUTS,
    default: str | None = "table",
) -> str:
    """The format to write: ``fmt`` when given, else the one ``output``'s
    extension names, else (no output, or ``-`` for stdout) ``default``.

    Raises
    ------
    OutputError
        ``fmt`` is not one of ``allowed``; ``fmt`` and the extension of
        ``output`` name two different formats (Parquet bytes in a ``.csv``
        would mislead whoever opens it); the extension names none of
        ``allowed``; or there is neither an output nor a default.
    """
    if fmt:
        if fmt not in allowed:
            raise OutputError(
                f"unknown output format '{fmt}'; expected one of {list(allowed)}", setting="fmt"
            )
        check_extension(output, fmt)
        return fmt
    if output is None or is_stdout(output):
        if default is None:
            raise OutputError("no output file given, and this output has no default format")
        return default
    ext = Path(output).suffix.lower()
    for name in allowed:
        if ext in OUTPUT_FORMATS[name].extensions:
            return name
    named = [n for n in allowed if OUTPUT_FORMATS[n].extensions]
    extensions = sorted(e for n in named for e in OUTPUT_FORMATS[n].extensions)
    raise OutputError(
        f"cannot tell the format of '{output}' from its extension; "
        f"use fmt ({'|'.join(named)}) or one of {extensions}",
        setting="fmt",
    )


def check_extension(output: PathLike | None, fmt: str) -> None:
    """Raise when ``output``'s extension is that of a format other than ``fmt``.

    An extension no format claims (``.txt``, ``.out``, none) goes with any
    format: the caller named the format, and the name says nothing else.
    """
    if output is None or is_stdout(output):
        return
    ext = Path(output).suffix.lower()
    claimed = next((f.name for f in OUTPUT_FORMATS.values() if ext in f.extensions), None)
    if claimed is None or claimed == fmt:
        return
    wanted = OUTPUT_FORMATS[fmt].extensions if fmt in OUTPUT_FORMATS else ()
    fix = f"name the file *{wanted[0]}" if wanted else "use a file name without that extension"
    raise OutputError(
        f"'{output}' is named like a {claimed} file, but the format asked for is {fmt}; "
        f"{fix}, or ask for fmt {claimed}",
        setting="fmt",
    )


def write_output(
    payload: Any, output: PathLike, fmt: str, *, inputs: Iterable[PathLike] = ()
) -> None:
    """Write ``payload`` (what format ``fmt`` takes) to ``output``, whole or not at all.

    ``output`` may be ``-`` (stdout), and is never one of ``inputs``; see
    :func:`atomic_write` for what is written how.

    Raises
    ------
    OutputError
        An unknown format, an extension that names another format, or any
        reason :func:`atomic_write` gives.
    """
    if fmt not in OUTPUT_FORMATS:
        raise OutputError(
            f"unknown output format '{fmt}'; expected one of {list(OUTPUT_FORMATS)}",
            setting="fmt",
        )
    _refuse_inputs(output, inputs)  # the graver mistake is named first
    check_extension(output, fmt)
    write = OUTPUT_FORMATS[fmt].write
    atomic_write(output, lambda path: write(payload, path), inputs)


def output_text(payload: Any, fmt: str) -> str:
    """``payload`` as format ``fmt`` for a terminal or a pipe, with its final newline.

    Raises
    ------
    OutputError
        When the format is written to files only (parquet, xlsx, charts, html).
    """
    spec = OUTPUT_FORMATS.get(fmt)
    if spec is None or spec.text is None:
        raise OutputError(f"{fmt} output cannot be shown as text; write it to a file")
    return spec.text(payload)


def write_json(doc: Any, output: PathLike, *, inputs: Iterable[PathLike] = ()) -> None:
    """Write a JSON document atomically (floats that are NaN or inf become null)."""
    write_output(doc, output, "json", inputs=inputs)
