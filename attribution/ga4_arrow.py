"""Decoding GA4 Parquet exports with pyarrow, reading only the nested fields the reader needs.

polars' Parquet reader decodes a nested column whole: every ``event_params``
element's key and all its values, the long ``page_location`` strings
included, and every field of ``ecommerce``; that was most of the time of a
GA4 read. pyarrow reads single leaves of a nested column
(``event_params.list.element.key``) and keeps dictionary-encoded strings as
their codes, so the keys are compared as integers, and an event's traffic
(its parameters' and ``collected_traffic_source``'s strings) becomes one
integer code into a small table of the distinct traffic seen: no string is
made per event.

:func:`decode` reads the files in threads (pyarrow and numpy only; polars is
called from the calling thread). It returns None when pyarrow is not
installed or a file is not the standard export's types, and the caller then
reads with polars.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

__all__ = [
    "CLICKED",
    "COLLECTED",
    "PARAM_KEYS",
    "SESSION_ID_FIELDS",
    "TEXT_KEYS",
    "TRAFFIC",
    "VALUE_FIELDS",
    "decode",
]

PARAM_KEYS = ("ga_session_id", "source", "medium", "campaign", "gclid", "value")
"""The event parameters the reader looks at."""

COLLECTED = {
    "c_source": "manual_source",
    "c_medium": "manual_medium",
    "c_campaign": "manual_campaign_name",
    "c_gclid": "gclid",
}
"""Traffic columns from ``collected_traffic_source``, and the field each is read from."""
TEXT_KEYS = ("source", "medium", "campaign", "gclid")
"""The event parameters that are traffic."""

TRAFFIC = (*(f"p_{k}" for k in TEXT_KEYS), *COLLECTED)
"""An event's raw traffic: its parameters' (``p_``) and ``collected_traffic_source``'s (``c_``)."""

CLICKED = "(click id)"
"""What the traffic table holds for a ``gclid``: only whether there is one matters."""

_PARAMS = "event_params.list.element."
SESSION_ID_FIELDS = ("int_value", "string_value")
"""Where a parameter's ``ga_session_id`` may be, in the order they are read."""
VALUE_FIELDS = ("double_value", "int_value", "string_value")
"""Where a parameter's ``value`` may be, in the order they are read."""


class _Unusual(Exception):
    """A file pyarrow cannot read, or whose types are not the standard export's."""


def decode(
    paths: Sequence[Path], conversions: Sequence[str], identity: str
) -> tuple[pl.DataFrame, pl.DataFrame] | None:
    """The events of the Parquet ``paths`` (in order), and their distinct traffic.

    Returns
    -------
    events : DataFrame
        ``_row`` (1-based, across the files), ``pseudo`` (Categorical),
        ``user_id`` (Categorical; only when ``identity`` is ``user_id``),
        ``ts`` (microseconds), ``conversion``, ``sid`` (the
        ``ga_session_id``), ``value`` (purchase revenue, else the ``value``
        parameter) and ``traffic``: a code into ``traffic``, null for an event
        that names none.
    traffic : DataFrame
        ``traffic`` and the :data:`TRAFFIC` strings it stands for.

    None when pyarrow is missing or a file is unusual.
    """
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - pyarrow is in the test extra
        return None
    # a file pyarrow cannot read is left to polars, which says what is wrong with it
    try:
        counts = [pq.ParquetFile(p).metadata.num_rows for p in paths]
    except (pa.ArrowException, OSError):
        return None
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(int).tolist()
    threads = max(1, min(len(paths), pl.thread_pool_size()))
    wanted = list(conversions)

    def one(job: tuple[int, Path, int]) -> tuple[Any, Any]:
        return _file(job[1], job[2], job[0], wanted, identity)

    try:
        with ThreadPoolExecutor(threads) as pool:  # a loop over files
            done = list(pool.map(one, zip(range(len(paths)), paths, offsets, strict=True)))
    except _Unusual:
        return None
    table = pa.concat_tables([events for events, _ in done])
    seen = pa.concat_tables([traffic for _, traffic in done])
    del done
    frame, traffic = pl.from_arrow(table), pl.from_arrow(seen)
    assert isinstance(frame, pl.DataFrame) and isinstance(traffic, pl.DataFrame)
    del table

    def number(name: str, cast: pl.DataType) -> pl.Expr:
        text = pl.col(f"{name}_text").cast(pl.String).cast(cast, strict=False)
        return pl.coalesce(pl.col(name), text)

    ids = ["pseudo", "user_id"] if identity == "user_id" else ["pseudo"]
    events = frame.select(
        "_row",
        *(pl.col(c).cast(pl.Categorical()) for c in ids),
        "ts",
        "conversion",
        sid=number("sid", pl.Int64()),
        value=pl.coalesce("revenue", number("value", pl.Float64())),
        traffic="traffic",
    )
    return events, traffic


def _file(path: Path, offset: int, index: int, conversions: list[str], identity: str) -> Any:
    """The events of one file and its distinct traffic, as two arrow tables.

    Traffic codes are ``index << 32`` plus a running number within the file, so
    that they are unique across files without a second pass.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
        leaves = _columns(schema, identity)
        for need in ("event_timestamp", "event_name", "user_pseudo_id", _PARAMS + "key"):
            if need not in leaves:
                raise _Unusual(need)
        texts = [p for p, k in leaves.items() if k == "text"]
        file = pq.ParquetFile(path, read_dictionary=texts)
        table = file.read(columns=list(leaves), use_threads=False)
    except (pa.ArrowException, OSError) as exc:
        raise _Unusual(str(exc)) from exc
    out, seen = _schemas(identity)
    events, traffic = [], []
    code = index << 32
    for batch in table.to_batches():  # a loop over a file's batches (one per row group)
        e, t = _batch(batch, offset, code, conversions, identity)
        events.append(e.cast(out))
        traffic.append(t.cast(seen))
        offset += batch.num_rows
        code += t.num_rows
    return (
        pa.concat_tables(events) if events else out.empty_table(),
        pa.concat_tables(traffic) if traffic else seen.empty_table(),
    )


def _schemas(identity: str) -> tuple[Any, Any]:
    import pyarrow as pa

    text, codes = pa.large_string(), pa.dictionary(pa.int32(), pa.large_string())
    fields = [("_row", pa.uint32()), ("pseudo", codes)]
    if identity == "user_id":
        fields.append(("user_id", codes))
    fields += [("ts", pa.int64()), ("conversion", pa.bool_())]
    fields += [("sid", pa.int64()), ("sid_text", codes)]
    fields += [("value", pa.float64()), ("value_text", codes), ("revenue", pa.float64())]
    fields.append(("traffic", pa.int64()))
    seen = [("traffic", pa.int64()), *((c, text) for c in TRAFFIC)]
    return pa.schema(fields), pa.schema(seen)


def _leaf(schema: Any, path: str) -> Any:
    """The arrow type of the leaf at dotted ``path`` (through lists), or None."""
    import pyarrow as pa

    typ: Any = None
    fields: Any = schema
    for name in path.split("."):
        if isinstance(typ, (pa.ListType, pa.LargeListType)):
            if name == "list":
                continue
            if name == "element":
                typ = typ.value_type
                fields = typ
                continue
        if fields is None or not isinstance(fields, (pa.Schema, pa.StructType)):
            return None
        index = fields.get_field_index(name)
        if index < 0:
            return None
        typ = fields.field(index).type
        fields = typ if isinstance(typ, pa.StructType) else None
    return typ


def _kind(typ: Any) -> str | None:
    import pyarrow as pa

    if typ is None:
        return None
    if pa.types.is_string(typ) or pa.types.is_large_string(typ):
        return "text"
    if pa.types.is_dictionary(typ) and pa.types.is_string(typ.value_type):
        return "text"
    if pa.types.is_integer(typ):
        return "int"
    if pa.types.is_floating(typ):
        return "real"
    return "other"


def _columns(schema: Any, identity: str) -> dict[str, str]:
    """The leaves to read: {dotted path: kind}; raises _Unusual on a type the
    polars path would have to cast."""
    want = {
        "event_timestamp": "int",
        "event_name": "text",
        "user_pseudo_id": "text",
        _PARAMS + "key": "text",
        _PARAMS + "value.string_value": "text",
        _PARAMS + "value.int_value": "int",
        _PARAMS + "value.double_value": "real",
        **{f"collected_traffic_source.{f}": "text" for f in COLLECTED.values()},
        "ecommerce.purchase_revenue": "real",
    }
    if identity == "user_id":
        want["user_id"] = "text"
    found = {}
    for path, kind in want.items():
        got = _kind(_leaf(schema, path))
        if got is None:
            continue  # an optional leaf the file lacks reads as null
        if got != kind and not (kind == "real" and got == "int"):
            raise _Unusual(path)
        found[path] = kind
    return found


def _field(array: Any, *names: str) -> Any:
    """A struct's field (struct nulls make it null), or None when it is missing."""
    import pyarrow.compute as pc

    for name in names:
        if array is None or array.type.get_field_index(name) < 0:
            return None
        array = pc.struct_field(array, name)
    return array


def _codes(array: Any, at: np.ndarray | None = None) -> np.ndarray:
    """The dictionary codes of ``array`` (at positions ``at``) as int64, null as -1.

    Taken before the nulls are filled, and without a copy where there are none:
    these arrays are as long as the event parameters, and every fresh one costs
    page faults.
    """
    import pyarrow as pa

    codes = array.indices
    if at is not None:
        codes = codes.take(pa.array(at))
    if codes.null_count:
        codes = codes.fill_null(-1)
    return codes.to_numpy().astype(np.int64, copy=False)


def _compact(codes: np.ndarray, dictionary: Any) -> Any:
    """A dictionary array of ``codes`` (-1: null) holding only the words used."""
    import pyarrow as pa

    valid = codes >= 0
    if not valid.any():
        return pa.nulls(len(codes), pa.dictionary(pa.int32(), pa.large_string()))
    used, inverse = np.unique(codes[valid], return_inverse=True)
    index = np.full(len(codes), -1, dtype=np.int32)
    index[valid] = inverse
    return pa.DictionaryArray.from_arrays(
        pa.array(index, mask=~valid), dictionary.take(pa.array(used))
    )


def _batch(
    batch: Any, offset: int, code: int, conversions: list[str], identity: str
) -> tuple[Any, Any]:
    """One record batch: its events, and the traffic they name (codes from ``code`` on)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = batch.num_rows
    names = batch.schema.names

    def column(name: str) -> Any:
        return batch.column(names.index(name)) if name in names else None

    cols: dict[str, Any] = {
        "_row": pa.array(np.arange(offset + 1, offset + n + 1, dtype=np.uint32)),
        "pseudo": column("user_pseudo_id"),
    }
    if identity == "user_id":
        found = column("user_id")  # a file may lack it (the first one is checked)
        codes = pa.dictionary(pa.int32(), pa.large_string())
        cols["user_id"] = pa.nulls(n, codes) if found is None else found
    cols["ts"] = pc.cast(column("event_timestamp"), pa.int64())
    event = column("event_name")
    wanted = [k for k, v in enumerate(event.dictionary.to_pylist()) if v in conversions]
    cols["conversion"] = pa.array(np.isin(_codes(event), wanted))

    # the event parameters: the wanted keys' elements, and the event each is in
    params = column("event_params")
    element = pc.list_flatten(params)
    key = _field(element, "key")
    words = key.dictionary.to_pylist()
    slot_of = np.array(
        [PARAM_KEYS.index(w) if w in PARAM_KEYS else -1 for w in words] + [-1], dtype=np.int8
    )
    keys = key.indices
    if keys.null_count:
        keys = keys.fill_null(len(words))
    slots = slot_of[keys.to_numpy()]  # -1: not wanted, or null
    chosen = np.flatnonzero(slots >= 0)
    slots = slots[chosen]
    if params.null_count == 0:  # the flattened lists are the offsets' ranges, in order
        sizes = np.diff(params.offsets.to_numpy())
        at = np.repeat(np.arange(n, dtype=np.int32), sizes)[chosen].astype(np.int64)
    else:
        at = pc.list_parent_indices(params).to_numpy()[chosen]
    value = {f: _field(element, "value", f) for f in VALUE_FIELDS}
    strings = value["string_value"]
    text = None if strings is None else _codes(strings, chosen)

    def param(k: str, field: str) -> Any:
        """``field`` of parameter ``k`` per event (its last element if repeated): an
        arrow array, or for a string an array of codes into ``strings.dictionary``."""
        if value[field] is None:
            return None if field != "string_value" else np.full(n, -1, dtype=np.int64)
        mine = np.flatnonzero(slots == PARAM_KEYS.index(k))
        where = at[mine]
        last = np.ones(len(where), dtype=bool)
        last[:-1] = where[1:] != where[:-1]  # elements are in event order
        where, mine = where[last], mine[last]
        index = np.full(n, -1, dtype=np.int64)
        if field == "string_value":
            assert text is not None
            index[where] = text[mine]
            return index
        index[where] = chosen[mine]
        return value[field].take(pa.array(index, mask=index < 0))

    def number(k: str, fields: tuple[str, ...], cast: Any) -> Any:
        found = [pc.cast(a, cast) for f in fields if (a := param(k, f)) is not None]
        return pc.coalesce(*found) if found else pa.nulls(n, cast)

    cols["sid"] = number("ga_session_id", SESSION_ID_FIELDS[:-1], pa.int64())
    cols["sid_text"] = _words(param("ga_session_id", "string_value"), strings, n)
    cols["value"] = number("value", VALUE_FIELDS[:-1], pa.float64())
    cols["value_text"] = _words(param("value", "string_value"), strings, n)
    revenue = _field(column("ecommerce"), "purchase_revenue")
    cols["revenue"] = pa.nulls(n, pa.float64()) if revenue is None else revenue

    # the traffic: eight string codes per event, made one code per distinct tuple
    raw: list[tuple[np.ndarray, Any]] = [
        (param(k, "string_value"), None if strings is None else strings.dictionary)
        for k in TEXT_KEYS
    ]
    collected = column("collected_traffic_source")
    for c in COLLECTED.values():
        got = _field(collected, c)
        raw.append(
            (np.full(n, -1, dtype=np.int64), None) if got is None else (_codes(got), got.dictionary)
        )
    # a click id counts only by being there (each is unique): one word for all
    clicked = pa.array([CLICKED], pa.large_string())
    for k, name in enumerate(TRAFFIC):
        if name.endswith("_gclid") and raw[k][1] is not None:
            raw[k] = (np.where(raw[k][0] >= 0, 0, -1), clicked)
    traffic, seen = _tuples(raw, n, code)
    cols["traffic"] = traffic
    return pa.table(cols), seen


def _words(codes: np.ndarray, strings: Any, n: int) -> Any:
    import pyarrow as pa

    if strings is None or not (codes >= 0).any():
        return pa.nulls(n, pa.dictionary(pa.int32(), pa.large_string()))
    return _compact(codes, strings.dictionary)


def _dense(codes: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """``codes`` (into a dictionary of ``size`` words; -1: null) renumbered 0..k-1
    over the words used, and those words' codes (no sort: a file's dictionary of
    parameter strings holds every page_location)."""
    valid = codes >= 0
    present = np.zeros(size, dtype=bool)
    present[codes[valid]] = True
    used = np.flatnonzero(present)
    remap = np.full(size + 1, -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return remap[np.where(valid, codes, size)], used


def _tuples(raw: list[tuple[np.ndarray, Any]], n: int, code: int) -> tuple[Any, Any]:
    """Each event's code for its tuple of traffic strings (null: none), and the tuples."""
    import pyarrow as pa

    dense = [
        (np.full(n, -1, dtype=np.int64), np.zeros(0, dtype=np.int64))
        if d is None
        else _dense(c, len(d))
        for c, d in raw
    ]
    # one integer per distinct tuple, folding in a field at a time: the code so
    # far and the field's word (one more value, for null) as digits, numbered
    # densely again after each field, so that the numbers stay small
    key = np.zeros(n, dtype=np.int64)
    table = np.zeros((1, 0), dtype=np.int64)  # each code's words so far (-1: null)
    for digits, used in dense:
        base = len(used) + 1
        combined = key * base + (digits + 1)
        present = np.zeros(len(table) * base, dtype=bool)
        present[combined] = True
        distinct = np.flatnonzero(present)
        number = np.full(len(present), -1, dtype=np.int64)
        number[distinct] = np.arange(len(distinct))
        key = number[combined]
        table = np.column_stack([table[distinct // base], distinct % base - 1])
    none = np.asarray(
        (table < 0).all(axis=1)
    )  # the tuple of no traffic at all keeps a code, unused
    traffic = pa.array(code + key, mask=none[key])
    columns: dict[str, Any] = {"traffic": pa.array(code + np.arange(len(table), dtype=np.int64))}
    picked = [table[:, k] for k in range(table.shape[1])]
    for name, (_, dictionary), (_, used), digit in zip(TRAFFIC, raw, dense, picked, strict=True):
        if dictionary is None:
            columns[name] = pa.nulls(len(table), pa.large_string())
            continue
        words = used[np.maximum(digit, 0)] if len(used) else np.zeros(len(digit), dtype=np.int64)
        columns[name] = dictionary.take(pa.array(words, mask=digit < 0))
    return traffic, pa.table(columns)
