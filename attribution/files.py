"""Inputs that are many files (a glob, a folder, hive-partitioned too, or a list) as one scan."""

from __future__ import annotations

import glob as globbing
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from attribution.errors import InputError

__all__ = ["FileSet", "describe", "expand", "is_many", "row_locator", "scan_files"]

# file suffix -> the reader it takes; ``.gz`` may follow a CSV suffix
KINDS: Mapping[str, str] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
}
JSON_LINES: Mapping[str, str] = {**KINDS, ".json": "ndjson"}
"""With ``.json`` read as newline-delimited JSON (BigQuery's export format)."""

_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class FileSet:
    """The files one input names, in reading order, all of one kind.

    Attributes
    ----------
    name : str
        How the input was given (a glob, a folder, the first of several files),
        for messages.
    paths : tuple of Path
        Every file, sorted by path within each given item.
    kind : str
        ``csv``, ``parquet`` or ``ndjson``.
    partitions : tuple of dict
        Per file, the ``key=value`` folder names between the given folder and
        the file (hive partitioning); empty dicts when there are none.
    """

    name: str
    paths: tuple[Path, ...]
    kind: str
    partitions: tuple[dict[str, str], ...]

    def describe(self) -> str:
        if len(self.paths) == 1 and self.name == os.fspath(self.paths[0]):
            return f"file '{self.name}'"
        return f"{len(self.paths)} files '{self.name}'"

    def locate(self, row: int) -> tuple[Path, int]:
        """The file holding 1-based ``row`` of the concatenated scan, and its row there.

        Counts rows file by file (Parquet from its metadata), so it is only
        for error messages.
        """
        seen = 0
        for path in self.paths:
            n = _scan_one(path, self.kind, None, {}).select(pl.len()).collect().item()
            if row <= seen + n:
                return path, row - seen
            seen += n
        return self.paths[-1], row - seen


def is_many(source: Any) -> bool:
    """Whether ``source`` names files by a glob, a folder or a list (not one file, not a frame)."""
    if isinstance(source, (str, os.PathLike)):
        text = os.fspath(source)
        return os.path.isdir(text) or (not os.path.exists(text) and _has_glob(text))
    return isinstance(source, Sequence) and all(isinstance(s, (str, os.PathLike)) for s in source)


def _has_glob(text: str) -> bool:
    return any(c in _GLOB_CHARS for c in text)


def _kind(path: Path, kinds: Mapping[str, str]) -> str | None:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
        return "csv" if suffixes and kinds.get(suffixes[-1]) == "csv" else None
    return kinds.get(suffixes[-1]) if suffixes else None


def _partitions(path: Path, root: Path | None) -> dict[str, str]:
    if root is None:
        return {}
    parts = path.relative_to(root).parts[:-1]
    return dict(p.split("=", 1) for p in parts if "=" in p and not p.startswith("="))


def _listing(folder: Path, kinds: Mapping[str, str]) -> list[Path]:
    """Data files under ``folder``, recursively; hidden and ``_``-prefixed names
    (``_SUCCESS``, ``.crc``) are not data."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "_")))
        for name in sorted(filenames):
            if not name.startswith((".", "_")) and _kind(Path(name), kinds) is not None:
                found.append(Path(dirpath) / name)
    return found


def expand(source: Any, *, kinds: Mapping[str, str] = KINDS) -> FileSet:
    """The files ``source`` names: one file, a folder (read recursively), a glob
    (``**`` for any depth) or a sequence of these.

    Raises
    ------
    InputError
        When nothing matches, a file does not exist, or the files are not all
        of one kind.
    """
    items = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    if not items:
        raise InputError("no input file given")
    paths: list[Path] = []
    partitions: list[dict[str, str]] = []
    for item in items:
        text = os.fspath(item)
        if os.path.isdir(text):
            root: Path | None = Path(text)
            matched = _listing(Path(text), kinds)
            if not matched:
                raise InputError(
                    f"folder '{text}' holds no data files ({', '.join(sorted(kinds))})"
                )
        elif os.path.isfile(text):
            root, matched = None, [Path(text)]
        elif _has_glob(text):
            root = _glob_root(text)
            matched = [
                Path(p)
                for p in sorted(globbing.glob(text, recursive=True))
                if os.path.isfile(p) and _kind(Path(p), kinds) is not None
            ]
            if not matched:
                raise InputError(f"no data files match '{text}'")
        else:
            raise InputError(f"file '{text}' does not exist")
        for path in matched:
            if path not in paths:
                paths.append(path)
                partitions.append(_partitions(path, root))
    found: dict[str, Path] = {}
    for path in paths:
        kind = _kind(path, kinds)
        if kind is None:
            suffix = "".join(path.suffixes) or "(no extension)"
            raise InputError(
                f"file '{path}': unknown format '{suffix}'; expected {', '.join(sorted(kinds))}"
            )
        found.setdefault(kind, path)
    if len(found) > 1:
        listed = ", ".join(f"{k} ('{p}')" for k, p in found.items())
        raise InputError(f"the input files are of different formats: {listed}; give one format")
    name = os.fspath(items[0]) + (f" (+{len(items) - 1} more)" if len(items) > 1 else "")
    return FileSet(name, tuple(paths), next(iter(found)), tuple(partitions))


def _glob_root(pattern: str) -> Path:
    """The folder part of a glob before its first wildcard, for hive partitions."""
    parts = Path(pattern).parts
    keep = []
    for part in parts:
        if _has_glob(part):
            break
        keep.append(part)
    return Path(*keep) if keep else Path(".")


def _scan_one(
    path: Path,
    kind: str,
    delimiter: str | None,
    overrides: Mapping[str, pl.DataType],
    schema: Mapping[str, pl.DataType] | None = None,
) -> pl.LazyFrame:
    if kind == "parquet":
        return pl.scan_parquet(path)
    if kind == "ndjson":
        return pl.scan_ndjson(path, schema=dict(schema) if schema else None)
    sep = delimiter or ("\t" if ".tsv" in [s.lower() for s in path.suffixes] else ",")
    if path.suffix.lower() == ".gz":  # scan_csv cannot read compressed files
        return pl.read_csv(
            path, separator=sep, infer_schema_length=10000, schema_overrides=dict(overrides)
        ).lazy()
    return pl.scan_csv(
        path, separator=sep, infer_schema_length=10000, schema_overrides=dict(overrides)
    )


def scan_files(
    files: FileSet,
    *,
    delimiter: str | None = None,
    text_columns: Sequence[str] = (),
    schema: Mapping[str, pl.DataType] | None = None,
) -> pl.LazyFrame:
    """One lazy frame over every file of ``files``, rows in file order.

    Files whose schemas agree are scanned together; otherwise each file is
    scanned on its own and the frames are stacked by column name, a column
    missing from a file reading as null and types widened to fit (a day whose
    ``value`` column is empty reads as text or null in some formats). Hive
    partition values become string columns, unless a file already has a
    column of that name. ``schema`` fixes an NDJSON schema instead of
    inferring one.
    """
    overrides: dict[str, pl.DataType] = {c: pl.String() for c in text_columns}
    paths = list(files.paths)
    try:
        scans = [_scan_one(p, files.kind, delimiter, overrides, schema) for p in paths]
        if len(scans) == 1 and not any(files.partitions):
            return scans[0]
        schemas = [scan.collect_schema() for scan in scans]
        gz = any(p.suffix.lower() == ".gz" for p in paths)
        alike = all(s == schemas[0] for s in schemas) and not _mixed_separators(paths)
        if alike and not gz and not any(files.partitions):
            return _scan_many(paths, files.kind, delimiter, overrides, schema)
        frames = [
            scan.with_columns(
                pl.lit(v, dtype=pl.String).alias(k) for k, v in part.items() if k not in own
            )
            for scan, own, part in zip(scans, schemas, files.partitions, strict=True)
        ]
        return pl.concat(frames, how="diagonal_relaxed")
    except pl.exceptions.PolarsError as exc:
        raise InputError(f"{files.describe()} cannot be read: {exc}") from exc


def _scan_many(
    paths: list[Path],
    kind: str,
    delimiter: str | None,
    overrides: Mapping[str, pl.DataType],
    schema: Mapping[str, pl.DataType] | None,
) -> pl.LazyFrame:
    """Files of one schema in one scan (polars reads them in parallel)."""
    if kind == "parquet":
        return pl.scan_parquet(paths)
    if kind == "ndjson":
        return pl.scan_ndjson(paths, schema=dict(schema) if schema else None)
    sep = delimiter or ("\t" if paths[0].suffix.lower() == ".tsv" else ",")
    return pl.scan_csv(
        paths, separator=sep, infer_schema_length=10000, schema_overrides=dict(overrides)
    )


def _mixed_separators(paths: list[Path]) -> bool:
    return len({p.suffix.lower() == ".tsv" for p in paths}) > 1


def row_locator(source: Any) -> Callable[[int], str] | None:
    """For a many-file source, a function turning a 1-based row of the scan into
    ``" (file 'day3.csv', row 17)"``; None for one file or a frame."""
    if not is_many(source):
        return None
    files = expand(source)

    def locate(row: int) -> str:
        path, local = files.locate(row)
        return f" (file '{path}', row {local})"

    return locate


def describe(source: Any) -> str:
    """How messages name a source: ``file 'x.csv'``, ``3 files 'export/'`` or ``input frame``."""
    if is_many(source):
        return expand(source).describe()
    if isinstance(source, (str, os.PathLike)):
        return f"file '{os.fspath(source)}'"
    return "input frame"
