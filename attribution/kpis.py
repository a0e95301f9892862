"""Omnichannel KPIs computed straight from journeys: rates, path shapes, customers, ROPO."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from attribution.arrays import distinct_pairs
from attribution.errors import InputError
from attribution.journeys import Journeys
from attribution.sources import Source, read_frame

__all__ = [
    "KINDS",
    "KPIs",
    "compute_kpis",
    "format_kpi",
    "read_channel_kinds",
    "weighted_quantile",
]

KINDS = ("online", "offline")
"""The channel kinds the ROPO KPIs know."""

LONG_SCHEMA = {"kpi": pl.String, "segment": pl.String, "value": pl.Float64}

_NO_CUSTOMERS = "the input has no customers (paths table)"
_NO_TIMES = "the input has no touch times (paths table)"


def weighted_quantile(x: np.ndarray, weights: np.ndarray, q: float) -> float | None:
    """The smallest ``x`` such that at least a share ``q`` of the weight is at or below it.

    With integer weights this is ``np.quantile(np.repeat(x, weights), q,
    method="inverted_cdf")``: a journey row standing for several journeys counts
    that many times, and the result is always a value that occurs.
    """
    keep = weights > 0
    x, weights = np.asarray(x, dtype=np.float64)[keep], np.asarray(weights)[keep]
    if len(x) == 0:
        return None
    order = np.argsort(x, kind="stable")
    cum = np.cumsum(weights[order])
    # a small tolerance so that float sums of whole numbers do not miss the target
    target = q * cum[-1] * (1 - 1e-12)
    return float(x[order][min(np.searchsorted(cum, target, side="left"), len(x) - 1)])


def format_kpi(name: str, value: float | None) -> str:
    """A KPI value for people: rates and shares in percent, counts without decimals,
    money with two (the styles of :mod:`attribution.labels`, which names the KPIs)."""
    from attribution.labels import KINDS, format_value

    if value is None:
        return "unavailable"
    if name in KINDS:
        return format_value(value, KINDS[name])
    if name.endswith(("_rate", "_share")):
        return f"{100 * value:.1f}%"
    if float(value).is_integer() and not name.startswith(("days_", "average_", "value_")):
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def _ratio(num: float | None, den: float | None) -> float | None:
    return float(num) / float(den) if num is not None and den is not None and den > 0 else None


@dataclass
class KPIs:
    """The omnichannel KPIs of one set of journeys (see ``docs/kpis.md`` for formulas).

    Attributes
    ----------
    headline : dict
        Scalar KPIs by name; ``None`` where unavailable (see ``unavailable``).
    segments : DataFrame
        ``segment, customers, conversions, value, average_order_value,
        value_per_customer`` for ``single_channel``, ``multi_channel`` and
        ``all`` customers (empty when the input has no customers).
    channels : DataFrame
        ``channel, kind, journeys, converting_journeys, conversion_rate``: the
        journeys that touched each channel.
    top_paths : DataFrame
        ``path, journeys, conversions, value, conversion_rate``: the most
        frequent paths, most journeys first.
    path_lengths : DataFrame
        ``length, journeys, converting_journeys``: journeys by touches.
    unavailable : dict
        KPI name -> why it could not be computed from this input.
    notes : list of str
        Things worth knowing about the numbers (unclassified channels, ...).
    """

    headline: dict[str, float | None]
    segments: pl.DataFrame
    channels: pl.DataFrame
    top_paths: pl.DataFrame
    path_lengths: pl.DataFrame
    unavailable: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def long(self) -> pl.DataFrame:
        """Every KPI as a tidy long table ``kpi, segment, value``.

        Scalars have segment ``all``; per-channel KPIs are ``channel_*`` with the
        channel as segment, top paths ``path_*`` with the path, the length
        distribution ``*_by_length`` with the length. Unavailable KPIs are rows
        with a null value.
        """
        kpi: list[str] = []
        seg: list[str] = []
        val: list[float | None] = []

        def add(name: str, segment: str, value: Any) -> None:
            kpi.append(name)
            seg.append(segment)
            val.append(None if value is None else float(value))

        for name, value in self.headline.items():
            add(name, "all", value)
        for row in self.segments.iter_rows(named=True):
            if row["segment"] == "all":
                continue  # customers and value_per_customer 'all' are headline KPIs
            for name in ("customers", "average_order_value", "value_per_customer"):
                add(name, row["segment"], row[name])
        for row in self.channels.iter_rows(named=True):
            add("channel_journeys", row["channel"], row["journeys"])
            add("channel_conversion_rate", row["channel"], row["conversion_rate"])
        for row in self.top_paths.iter_rows(named=True):
            add("path_journeys", row["path"], row["journeys"])
            add("path_conversions", row["path"], row["conversions"])
            add("path_conversion_rate", row["path"], row["conversion_rate"])
        for row in self.path_lengths.iter_rows(named=True):
            add("journeys_by_length", str(row["length"]), row["journeys"])
            add("converting_journeys_by_length", str(row["length"]), row["converting_journeys"])
        return pl.DataFrame({"kpi": kpi, "segment": seg, "value": val}, schema=LONG_SCHEMA)

    def to_dict(self) -> dict[str, Any]:
        """A JSON document: headline KPIs, then the tables as lists of records."""
        return {
            "kpis": dict(self.headline),
            "segments": self.segments.to_dicts(),
            "channels": self.channels.to_dicts(),
            "top_paths": self.top_paths.to_dicts(),
            "path_lengths": self.path_lengths.to_dicts(),
            "unavailable": dict(self.unavailable),
            "notes": list(self.notes),
        }


def read_channel_kinds(source: Source) -> dict[str, str]:
    """Read a ``channel, kind`` file (CSV, Parquet, NDJSON) into ``{channel: kind}``.

    ``kind`` is ``online`` or ``offline`` (case and surrounding spaces ignored).

    Raises
    ------
    InputError
        Missing column, unknown kind, or one channel given two kinds; the
        message names the file and the row.
    """
    where = f"file '{os.fspath(source)}'" if isinstance(source, (str, os.PathLike)) else "frame"
    frame = read_frame(source)
    missing = [c for c in ("channel", "kind") if c not in frame.columns]
    if missing:
        raise InputError(
            f"{where}: missing column(s) {missing} for channel kinds; "
            f"expected columns channel, kind; found {frame.columns}"
        )
    frame = frame.select(
        pl.col("channel").cast(pl.String).str.strip_chars(),
        pl.col("kind").cast(pl.String).str.strip_chars().str.to_lowercase(),
    ).with_row_index("row", offset=1)
    bad = frame.filter(~pl.col("kind").is_in(KINDS).fill_null(False) | pl.col("channel").is_null())
    if bad.height:
        row = bad.row(0, named=True)
        raise InputError(
            f"{where}: row {row['row']} has channel {row['channel']!r} and kind "
            f"{row['kind']!r}; expected a channel and a kind in {list(KINDS)}"
        )
    clash = frame.group_by("channel").agg(pl.col("kind").n_unique(), pl.col("row").min())
    clash = clash.filter(pl.col("kind") > 1).sort("row")
    if clash.height:
        raise InputError(
            f"{where}: channel {clash['channel'][0]!r} is given both kinds "
            f"(first at row {clash['row'][0]})"
        )
    return dict(zip(frame["channel"].to_list(), frame["kind"].to_list(), strict=True))


def compute_kpis(
    journeys: Journeys,
    *,
    channel_kinds: Mapping[str, str] | None = None,
    top: int = 10,
) -> KPIs:
    """The omnichannel KPIs of ``journeys``.

    Parameters
    ----------
    journeys : Journeys
        From events (every KPI) or a paths table (customer and time KPIs are
        reported as unavailable, never guessed).
    channel_kinds : mapping of str to {'online', 'offline'}, optional
        For the ROPO KPIs, together with ``journeys.conversion_channel`` (the
        path builder's ``EventColumns.conversion_channel``).
    top : int
        How many of the most frequent paths to list.

    Returns
    -------
    KPIs
        The headline KPIs and the tables behind them; formulas in ``docs/kpis.md``.
    """
    if top < 0:
        raise InputError(f"top must be a number of paths >= 0, got {top}")
    if channel_kinds is not None:
        wrong = {c: k for c, k in channel_kinds.items() if k not in KINDS}
        if wrong:
            raise InputError(f"channel kinds must be one of {list(KINDS)}; got {wrong}")
    j = journeys
    conv, nulls, value = j.conversions, j.nulls, j.value
    weight = conv + nulls  # journeys each row stands for
    un = j.unattributed
    unavailable: dict[str, str] = {}
    notes: list[str] = []
    h: dict[str, float | None] = {}

    # -- counts ---------------------------------------------------------------
    customer_index, n_customers = _customer_index(j)
    h["customers"] = None if customer_index is None else float(n_customers)
    if customer_index is None:
        unavailable["customers"] = _NO_CUSTOMERS
    h["journeys"] = float(weight.sum())
    h["converting_journeys"] = float(conv.sum())
    h["null_journeys"] = float(nulls.sum())
    h["conversions"] = float(conv.sum()) + un.conversions
    h["attributed_conversions"] = float(conv.sum())
    h["unattributed_conversions"] = un.conversions
    h["conversion_value"] = float(value.sum()) + un.value
    h["unattributed_value"] = un.value
    h["conversion_rate"] = _ratio(conv.sum(), weight.sum())

    # -- distinct channels per journey ------------------------------------------
    pair_row, pair_code = distinct_pairs(j.row_of_touch, j.codes, j.n_channels)
    distinct = np.bincount(pair_row, minlength=j.n_rows)
    h["cross_channel_share"] = _ratio(conv[distinct >= 2].sum(), conv.sum())

    # -- path shape -------------------------------------------------------------
    lengths = j.lengths
    h["touches_per_converting_journey_mean"] = _ratio((lengths * conv).sum(), conv.sum())
    h["touches_per_converting_journey_median"] = weighted_quantile(lengths, conv, 0.5)
    h["touches_per_converting_journey_p90"] = weighted_quantile(lengths, conv, 0.9)
    if j.days_before is None:
        for name in ("days_to_conversion_median", "days_to_conversion_p90"):
            h[name] = None
            unavailable[name] = _NO_TIMES
    else:
        first = j.days_before[j.offsets[:-1]] if j.n_rows else np.zeros(0)
        h["days_to_conversion_median"] = weighted_quantile(first, conv, 0.5)
        h["days_to_conversion_p90"] = weighted_quantile(first, conv, 0.9)

    # -- value and customers ----------------------------------------------------
    h["average_order_value"] = _ratio(h["conversion_value"], h["conversions"])
    segments = _segments(j, customer_index, n_customers)
    if customer_index is None:
        h["value_per_customer"] = None
        unavailable["value_per_customer"] = _NO_CUSTOMERS
        unavailable["segments"] = _NO_CUSTOMERS
    else:
        h["value_per_customer"] = segments.filter(pl.col("segment") == "all")[
            "value_per_customer"
        ].item()

    # -- ROPO -------------------------------------------------------------------
    kinds = _channel_kind_codes(j, channel_kinds)
    for name, v in _ropo(j, channel_kinds, kinds, unavailable, notes).items():
        h[name] = v

    # -- per channel ------------------------------------------------------------
    ch_journeys = np.bincount(pair_code, weights=weight[pair_row], minlength=j.n_channels)
    ch_conv = np.bincount(pair_code, weights=conv[pair_row], minlength=j.n_channels)
    channels = pl.DataFrame(
        {
            "channel": list(j.channels),
            "kind": [None if channel_kinds is None else channel_kinds.get(c) for c in j.channels],
            "journeys": ch_journeys,
            "converting_journeys": ch_conv,
        },
        schema={
            "channel": pl.String,
            "kind": pl.String,
            "journeys": pl.Float64,
            "converting_journeys": pl.Float64,
        },
    ).with_columns(
        conversion_rate=pl.when(pl.col("journeys") > 0).then(
            pl.col("converting_journeys") / pl.col("journeys")
        )
    )

    return KPIs(
        headline=h,
        segments=segments,
        channels=channels,
        top_paths=_top_paths(j, top),
        path_lengths=_path_lengths(j),
        unavailable=unavailable,
        notes=notes,
    )


# -- pieces ----------------------------------------------------------------------
def _customer_index(j: Journeys) -> tuple[np.ndarray | None, int]:
    """Dense customer index per row (0..n-1), or None for inputs without customers."""
    if j.customer is None:
        return None, 0
    uniq, inverse = np.unique(j.customer, return_inverse=True)
    return inverse.astype(np.int64), len(uniq)


def _segments(j: Journeys, cust: np.ndarray | None, n: int) -> pl.DataFrame:
    """Customers who used one channel against those who used several."""
    schema = {
        "segment": pl.String,
        "customers": pl.Float64,
        "conversions": pl.Float64,
        "value": pl.Float64,
        "average_order_value": pl.Float64,
        "value_per_customer": pl.Float64,
    }
    if cust is None:
        return pl.DataFrame(schema=schema)
    pair_cust, _ = distinct_pairs(cust[j.row_of_touch], j.codes, j.n_channels)
    used = np.bincount(pair_cust, minlength=n)
    conv = np.bincount(cust, weights=j.conversions, minlength=n)
    value = np.bincount(cust, weights=j.value, minlength=n)
    rows = []
    for name, mask in (
        ("single_channel", used == 1),
        ("multi_channel", used >= 2),
        ("all", np.ones(n, dtype=bool)),
    ):
        c, k, v = float(mask.sum()), float(conv[mask].sum()), float(value[mask].sum())
        rows.append((name, c, k, v, _ratio(v, k), _ratio(v, c)))
    return pl.DataFrame(rows, schema=schema, orient="row")


def _channel_kind_codes(j: Journeys, kinds: Mapping[str, str] | None) -> np.ndarray | None:
    """Per channel code: 1 online, 2 offline, 0 unclassified."""
    if kinds is None:
        return None
    lookup = {"online": 1, "offline": 2}
    return np.array([lookup.get(kinds.get(c, ""), 0) for c in j.channels], dtype=np.int8)


def _ropo(
    j: Journeys,
    channel_kinds: Mapping[str, str] | None,
    kinds: np.ndarray | None,
    unavailable: dict[str, str],
    notes: list[str],
) -> dict[str, float | None]:
    names = (
        "ropo_share",
        "ropo_reverse_share",
        "offline_conversions",
        "online_conversions",
        "unknown_location_conversions",
    )
    if channel_kinds is None or j.conversion_channel is None or kinds is None:
        why = (
            "needs --channel-kinds (channel, kind online|offline)"
            if channel_kinds is None
            else "needs --conversion-channel-col: the column that says where each conversion "
            "happened (event input only)"
        )
        unavailable.update(dict.fromkeys(names, why))
        return dict.fromkeys(names)
    unclassified = [c for c, k in zip(j.channels, kinds, strict=True) if k == 0]
    if unclassified:
        notes.append(
            f"channels without a kind, counted as neither online nor offline: {unclassified}"
        )
    # A conversion's location is a channel of the kinds file, or the word itself.
    loc = pl.Series(j.conversion_channel.tolist(), dtype=pl.String)
    mapping = {**{k: k for k in KINDS}, **channel_kinds}
    loc_kind = loc.replace_strict(mapping, default=None, return_dtype=pl.String).to_numpy()
    key = j.row_of_touch * 3 + kinds[j.codes]
    touched = np.bincount(key, minlength=3 * j.n_rows).reshape(j.n_rows, 3)
    has_online, has_offline = touched[:, 1] > 0, touched[:, 2] > 0
    conv = j.conversions
    offline, online = loc_kind == "offline", loc_kind == "online"
    unknown = (conv > 0) & ~offline & ~online
    if unknown.any():
        notes.append(
            f"{conv[unknown].sum():g} converting journeys have a conversion location that is "
            "neither a channel of the kinds file nor 'online'/'offline'; they are left out of "
            "the ROPO shares"
        )
    return {
        "ropo_share": _ratio(conv[offline & has_online].sum(), conv[offline].sum()),
        "ropo_reverse_share": _ratio(conv[online & has_offline].sum(), conv[online].sum()),
        "offline_conversions": float(conv[offline].sum()),
        "online_conversions": float(conv[online].sum()),
        "unknown_location_conversions": float(conv[unknown].sum()),
    }


def _top_paths(j: Journeys, top: int) -> pl.DataFrame:
    table = j.to_paths_table(sep=" > ")
    return (
        table.select(
            "path",
            journeys=pl.col("total_conversions") + pl.col("total_null"),
            conversions=pl.col("total_conversions"),
            value=pl.col("total_conversion_value"),
        )
        .with_columns(
            conversion_rate=pl.when(pl.col("journeys") > 0).then(
                pl.col("conversions") / pl.col("journeys")
            )
        )
        .sort(["journeys", "conversions", "path"], descending=[True, True, False])
        .head(top)
    )


def _path_lengths(j: Journeys) -> pl.DataFrame:
    lengths = j.lengths
    size = int(lengths.max()) + 1 if j.n_rows else 1
    journeys = np.bincount(lengths, weights=j.conversions + j.nulls, minlength=size)
    converting = np.bincount(lengths, weights=j.conversions, minlength=size)
    keep = journeys > 0
    return pl.DataFrame(
        {
            "length": np.flatnonzero(keep).astype(np.int64),
            "journeys": journeys[keep],
            "converting_journeys": converting[keep],
        },
        schema={"length": pl.Int64, "journeys": pl.Float64, "converting_journeys": pl.Float64},
    )
