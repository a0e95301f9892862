"""Writing results: one table of output formats, each file written whole or not at all.

Every command's output goes through :data:`OUTPUT_FORMATS`: a format's name,
the file extensions that select it, what it takes (a frame, a JSON document,
text, a graph, a chart figure, an HTML document), how it is written to a
file and, for the formats that can, how it is shown on stdout. A new output
format is one row of that table; the commands offer it through
:func:`formats`.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import polars as pl

from attribution.errors import OutputError

__all__ = [
    "CHART_OUTPUTS",
    "GRAPH_OUTPUTS",
    "OUTPUT_FORMATS",
    "REPORT_OUTPUTS",
    "TABLE_OUTPUTS",
    "OutputFormat",
    "Takes",
    "atomic_write",
    "dumps",
    "format_for",
    "formats",
    "output_text",
    "write_json",
    "write_output",
]

PathLike = str | os.PathLike[str]

Takes = Literal["text", "frame", "document", "graph", "figure", "html"]
"""What a format writes: a text table, a polars frame, a JSON-able document,
a networkx graph, a matplotlib figure, or an HTML document (text)."""


def atomic_write(
    path: PathLike, write: Callable[[Path], object], inputs: Iterable[PathLike] = ()
) -> None:
    """Write ``path`` through a temporary file in its folder, then rename it into place.

    ``write`` is called with the temporary file's path. When it raises, the
    temporary file is removed and ``path`` is left as it was.

    Raises
    ------
    OutputError
        When ``path`` is one of ``inputs`` (the files being read), or its
        folder does not exist.
    """
    path = Path(path)
    target = path.resolve()
    for src in map(Path, inputs):
        if src.exists() and src.resolve() == target:
            raise OutputError(f"refusing to overwrite the input file '{path}'")
    folder = target.parent
    if not folder.is_dir():
        raise OutputError(f"cannot write '{path}': folder '{folder}' does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        write(Path(tmp))
        # mkstemp makes the file private (0600); give it the mode a plain open would
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
            lambda frame, path: frame.write_csv(path),
            lambda frame: frame.write_csv(),
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
    extension names, else (no output) ``default``.

    Raises
    ------
    OutputError
        ``fmt`` is not one of ``allowed``, the extension names none of them,
        or there is neither an output nor a default.
    """
    if fmt:
        if fmt not in allowed:
            raise OutputError(
                f"unknown output format '{fmt}'; expected one of {list(allowed)}", setting="fmt"
            )
        return fmt
    if output is None:
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


def write_output(
    payload: Any, output: PathLike, fmt: str, *, inputs: Iterable[PathLike] = ()
) -> None:
    """Write ``payload`` (what format ``fmt`` takes) to ``output``, whole or not at all.

    Refuses to write over any of ``inputs``.
    """
    if fmt not in OUTPUT_FORMATS:
        raise OutputError(
            f"unknown output format '{fmt}'; expected one of {list(OUTPUT_FORMATS)}",
            setting="fmt",
        )
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
