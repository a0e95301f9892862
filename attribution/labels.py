"""Words and number styles for the engine's own names: one table every renderer for people reads.

The terminal, the HTML report and the workbook show a KPI, a measure or a
column of the engine's own by the words of :data:`LABELS` and format its
numbers by its kind (:func:`kind_of`), so "average_order_value" reads
"Average order value" and a share reads "23.4%" wherever it appears. Channel
names and model labels are data: they are shown as the input spells them
(a model's label gets a title in words by :func:`model_title`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

__all__ = [
    "HEADLINE_KPIS",
    "KINDS",
    "KPI_GROUPS",
    "LABELS",
    "Kind",
    "column_texts",
    "format_value",
    "is_whole",
    "kind_of",
    "kpi_groups",
    "label",
    "model_summary",
    "model_title",
    "whole_counts",
]

Kind = Literal["count", "share", "change", "money", "ratio", "days", "number", "text"]
"""How a number reads: ``count`` (no decimals when whole), ``share`` (a percent),
``change`` (a signed percent), ``money`` (two decimals, with the currency where
one is given), ``ratio`` and ``number`` (two decimals), ``days`` (one decimal)."""

_TABLE: dict[str, tuple[str, Kind]] = {
    # the run summary and the counting KPIs
    "customers": ("Customers", "count"),
    "journeys": ("Journeys", "count"),
    "converting_journeys": ("Converting journeys", "count"),
    "null_journeys": ("Journeys without a conversion", "count"),
    "channels": ("Channels", "count"),
    "conversions": ("Conversions", "count"),
    "attributed_conversions": ("Attributed conversions", "count"),
    "unattributed_conversions": ("Unattributed conversions", "count"),
    "conversion_value": ("Conversion value", "money"),
    "attributed_value": ("Attributed value", "money"),
    "unattributed_value": ("Unattributed value", "money"),
    # rates and path shape
    "conversion_rate": ("Conversion rate", "share"),
    "cross_channel_share": ("Conversions after several channels", "share"),
    "touches_per_converting_journey_mean": ("Touches per conversion, mean", "number"),
    "touches_per_converting_journey_median": ("Touches per conversion, median", "count"),
    "touches_per_converting_journey_p90": ("Touches per conversion, 90th percentile", "count"),
    "days_to_conversion_median": ("Days from first touch to conversion, median", "days"),
    "days_to_conversion_p90": ("Days from first touch to conversion, 90th percentile", "days"),
    # value and customers
    "average_order_value": ("Average order value", "money"),
    "value_per_customer": ("Value per customer", "money"),
    # online and offline
    "ropo_share": ("Offline conversions researched online (ROPO)", "share"),
    "ropo_reverse_share": ("Online conversions researched offline", "share"),
    "offline_conversions": ("Offline conversions", "count"),
    "online_conversions": ("Online conversions", "count"),
    "unknown_location_conversions": ("Conversions of unknown location", "count"),
    # the credit table, costs and the comparison of models
    "model": ("Model", "text"),
    "channel": ("Channel", "text"),
    "value": ("Conversion value", "money"),
    "share": ("Share of conversions", "share"),
    "cost": ("Cost", "money"),
    "cpa": ("Cost per conversion (CPA)", "money"),
    "roas": ("Return on ad spend (ROAS)", "ratio"),
    "roi": ("Return on investment (ROI)", "share"),
    "min": ("Lowest", "number"),
    "max": ("Highest", "number"),
    "spread": ("Spread", "number"),
    "baseline_conversions": ("Baseline conversions", "count"),
    "conversions_change": ("Change in conversions", "count"),
    "conversions_change_pct": ("Change in conversions, %", "change"),
    "baseline_value": ("Baseline value", "money"),
    "value_change": ("Change in value", "money"),
    "value_change_pct": ("Change in value, %", "change"),
    "removal_effect": ("Removal effect", "share"),
    # journeys' tables (the paths table in ChannelAttribution's layout too)
    "total_conversions": ("Conversions", "count"),
    "total_conversion_value": ("Conversion value", "money"),
    "total_null": ("Journeys without a conversion", "count"),
    "segment": ("Segment", "text"),
    "kind": ("Channel kind", "text"),
    "path": ("Path", "text"),
    "length": ("Touches", "count"),
    "from": ("From", "text"),
    "to": ("To", "text"),
    "probability": ("Probability", "share"),
    "count": ("Transitions", "count"),
    "conversion_probability": ("Converts next", "share"),
    "null_probability": ("Leaves next", "share"),
    "start_probability": ("Starts a journey", "share"),
    # segments of customers
    "single_channel": ("One channel", "text"),
    "multi_channel": ("Several channels", "text"),
    "all": ("All customers", "text"),
    # the built-in models' names, where capitalising is not enough
    "markov": ("Markov", "text"),
    "shapley": ("Shapley", "text"),
    "ordered_shapley": ("Ordered Shapley", "text"),
    "data_driven": ("Data-driven", "text"),
}

LABELS: dict[str, str] = {name: words for name, (words, _) in _TABLE.items()}
"""The engine's own names in words: KPIs, measures, columns, segments."""

KINDS: dict[str, Kind] = {name: kind for name, (_, kind) in _TABLE.items()}
"""How each name's numbers read (see :data:`Kind`)."""

HEADLINE_KPIS = (
    "conversions",
    "conversion_value",
    "conversion_rate",
    "average_order_value",
    "customers",
    "cross_channel_share",
    "touches_per_converting_journey_mean",
    "days_to_conversion_median",
)
"""The KPIs a report shows first, in this order."""

KPI_GROUPS: dict[str, tuple[str, ...]] = {
    "Journeys and conversions": (
        "journeys",
        "converting_journeys",
        "null_journeys",
        "attributed_conversions",
        "unattributed_conversions",
        "unattributed_value",
    ),
    "Path shape": (
        "touches_per_converting_journey_median",
        "touches_per_converting_journey_p90",
        "days_to_conversion_p90",
    ),
    "Customers": ("value_per_customer",),
    "Online and offline": (
        "ropo_share",
        "ropo_reverse_share",
        "offline_conversions",
        "online_conversions",
        "unknown_location_conversions",
    ),
}
"""The other KPIs, grouped; a KPI named in no group goes to a last group, "Other"."""


def label(name: str) -> str:
    """The words for one of the engine's names (``average_order_value`` -> "Average order value");
    a name the table lacks reads with its underscores as spaces."""
    words = LABELS.get(name)
    if words is not None:
        return words
    text = name.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def kind_of(name: str, default: Kind = "number") -> Kind:
    """How the numbers of ``name`` read; ``default`` for a name the table lacks."""
    return KINDS.get(name, default)


def kpi_groups(names: Iterable[str]) -> list[tuple[str, list[str]]]:
    """``names`` less the headline KPIs, as ``(group, names)`` in :data:`KPI_GROUPS` order."""
    rest = [n for n in names if n not in HEADLINE_KPIS]
    out = []
    placed: set[str] = set()
    for group, members in KPI_GROUPS.items():
        chosen = [n for n in members if n in rest]
        placed.update(chosen)
        if chosen:
            out.append((group, chosen))
    other = [n for n in rest if n not in placed]
    if other:
        out.append(("Other", other))
    return out


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def is_whole(value: Any) -> bool:
    """Whether ``value`` is a finite number with nothing after the point."""
    return isinstance(value, (int, float)) and math.isfinite(value) and float(value).is_integer()


def format_value(
    value: Any, kind: Kind, *, currency: str | None = None, whole: bool | None = None
) -> str:
    """``value`` as people read it: ``""`` when missing, otherwise by ``kind``.

    ``whole`` says whether a count prints without decimals (default: when the
    value itself is whole); ``currency`` is put before money (``EUR 1,250.00``).
    """
    if _empty(value):
        return ""
    if not isinstance(value, (int, float)) or kind == "text":
        return str(value)
    v = float(value)
    if not math.isfinite(v):
        return ""
    if kind == "share":
        return f"{100 * v:.1f}%"
    if kind == "change":
        return f"{100 * v:+.1f}%"
    if kind == "money":
        return f"{currency} {v:,.2f}" if currency else f"{v:,.2f}"
    if kind == "days":
        return f"{v:,.1f}"
    if kind in ("count", "number") and (is_whole(v) if whole is None else whole):
        return f"{v:,.0f}"
    return f"{v:,.2f}"


def column_texts(values: Sequence[Any], kind: Kind, *, currency: str | None = None) -> list[str]:
    """A column's values as text, one style for the column: counts have no decimals
    when every one of them is whole, two otherwise."""
    whole = all(_empty(v) or is_whole(v) for v in values) if kind in ("count", "number") else None
    return [format_value(v, kind, currency=currency, whole=whole) for v in values]


def model_title(label_: str) -> str:
    """A model's label in words: ``time_decay:half_life_days=3`` -> "Time decay (half_life_days=3)".

    The name before ``:`` (and a ``#2`` of a model asked for twice) reads as
    words; the parameters are kept as written, as they say what differs.
    """
    name, _, params = label_.partition(":")
    name, hash_, nth = name.partition("#")
    title = label(name.strip())
    if hash_:
        title += f" #{nth}"
    return f"{title} ({params})" if params else title


def model_summary(model: Any) -> str:
    """One plain sentence on what ``model`` credits, for people who do not build models.

    The class's ``summary`` (see :class:`attribution.model.Model`), with its
    ``{parameter}`` fields filled from the model's parameters, else its
    one-line ``description``.
    """
    text = ""
    # the most derived class that says anything: a plugin subclassing a built-in model
    # with only a description of its own must not read as the built-in's summary
    for cls in type(model).__mro__:
        own = vars(cls)
        text = str(own.get("summary") or own.get("description") or "")
        if text:
            break
    params: Mapping[str, Any] = {}
    get_params = getattr(model, "get_params", None)
    if callable(get_params):
        try:
            params = dict(get_params())
        except Exception:  # a plugin's own bug costs it its parameters, not the report
            params = {}
    try:
        return text.format(**params)
    except (KeyError, IndexError, ValueError, AttributeError):
        return text  # braces that are not fields: the text as written


_COUNT_KEYS = frozenset(
    {
        "customers",
        "journeys",
        "converting_journeys",
        "null_journeys",
        "channels",
        "conversions",
        "attributed_conversions",
        "unattributed_conversions",
        "offline_conversions",
        "online_conversions",
        "unknown_location_conversions",
        "length",
    }
)


def whole_counts(doc: Any) -> Any:
    """``doc`` with every whole float under a count's key (journeys, customers, ...)
    as an int, so JSON says ``120`` for a count and keeps ``3.5`` as it is."""
    if isinstance(doc, dict):
        return {
            k: (
                int(v)
                if k in _COUNT_KEYS and isinstance(v, float) and is_whole(v)
                else whole_counts(v)
            )
            for k, v in doc.items()
        }
    if isinstance(doc, list):
        return [whole_counts(v) for v in doc]
    return doc
