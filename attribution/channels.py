"""Channel rules: ordered regular expressions on source, medium and campaign naming the channel.

A rule names a channel and, for any of ``source``, ``medium`` and
``campaign``, a regular expression that must match the whole value,
ignoring case (an empty one matches anything). Rules are tried in order and
the first whose expressions all match gives the channel; several rules with
one channel are alternatives. A touch no rule matches gets the fallback,
``Unassigned``. The built-in set ``ga4`` follows GA4's default channel
group (``attribution/data/ga4_channel_rules.csv``); a rules file is a CSV of
the same shape (docs/inputs.md).

The rules become one polars ``when/then`` expression, evaluated on the
distinct (source, medium, campaign) triples and joined back, so the regular
expressions run once per triple, never per row.
"""

from __future__ import annotations

import csv
import functools
import io
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import polars as pl

from attribution.errors import InputError

__all__ = [
    "FALLBACK",
    "FIELDS",
    "GRAINS",
    "SITES",
    "ChannelRules",
    "Channels",
    "Rule",
    "audit",
    "load_rules",
    "read_rules",
    "traffic_columns",
]

FIELDS = ("source", "medium", "campaign")
GRAINS = ("channel", "source_medium", "source", "campaign")
"""What names a touch: the rules' channel, or the (lower-cased) traffic itself."""
FALLBACK = "Unassigned"
DIRECT = ("(direct)", "(none)", "(direct)")
"""Source, medium and campaign of a touch that has none (GA4's spelling)."""
NOT_SET = "(not set)"

# Compact lists of the main sites of each kind, by the name in their domain:
# "google" matches google, google.com, www.google.co.uk and news.google.com.
SITES: Mapping[str, tuple[str, ...]] = {
    "search": (
        "google",
        "bing",
        "yahoo",
        "baidu",
        "yandex",
        "duckduckgo",
        "ecosia",
        "naver",
        "seznam",
        "ask",
        "aol",
        "qwant",
        "startpage",
        "brave",
        "sogou",
        "daum",
        "msn",
        "dogpile",
        "webcrawler",
        "lycos",
        "search-results",
        "yandex.ru",
        "so.com",
    ),
    "social": (
        "facebook",
        "fb",
        "instagram",
        "ig",
        "linkedin",
        "lnkd.in",
        "twitter",
        "t.co",
        "x",
        "pinterest",
        "reddit",
        "tiktok",
        "snapchat",
        "tumblr",
        "vk",
        "quora",
        "threads",
        "whatsapp",
        "messenger",
        "wechat",
        "weibo",
        "discord",
        "telegram",
        "mastodon",
        "bsky",
        "nextdoor",
        "meetup",
        "xing",
        "line.me",
        "douban",
    ),
    "video": (
        "youtube",
        "youtu.be",
        "vimeo",
        "twitch",
        "dailymotion",
        "wistia",
        "netflix",
        "bilibili",
        "rumble",
        "iqiyi",
        "youku",
        "hulu",
    ),
    "shopping": (
        "amazon",
        "ebay",
        "etsy",
        "shopify",
        "walmart",
        "aliexpress",
        "alibaba",
        "igshopping",
        "mercadolibre",
        "rakuten",
        "zalando",
        "bestbuy",
        "wayfair",
        "target",
        "temu",
        "shopping.google",
        "google shopping",
        "shopping.naver",
    ),
}


def site_pattern(names: tuple[str, ...]) -> str:
    """A regular expression matching a site by its name, with any subdomain and
    up to two top-level labels (``m.facebook.com``, ``amazon.co.uk``)."""
    alternatives = "|".join(n.replace(".", r"\.") for n in names)
    return rf"(?:[a-z0-9-]+\.)*(?:{alternatives})(?:\.[a-z]{{2,3}}){{0,2}}"


@dataclass(frozen=True)
class Rule:
    """One rule: a channel and a regular expression per field (None: any value).

    ``@search``, ``@social``, ``@video`` and ``@shopping`` stand for
    :data:`SITES`' lists. ``line`` is where the rule was read, for messages.
    """

    channel: str
    source: str | None = None
    medium: str | None = None
    campaign: str | None = None
    line: int = 0

    def pattern(self, field: str) -> str | None:
        """The full regular expression polars runs on ``field``, or None."""
        raw: str | None = getattr(self, field)
        if raw is None:
            return None
        if raw.startswith("@"):
            raw = site_pattern(SITES[raw[1:]])
        return f"(?i)^(?:{raw})$"

    def condition(self, columns: Mapping[str, str]) -> pl.Expr:
        """True where every field's expression matches (``columns``: field -> column)."""
        parts = [
            pl.col(columns[field]).str.contains(pattern)
            for field in FIELDS
            if (pattern := self.pattern(field)) is not None
        ]
        return pl.all_horizontal(parts) if parts else pl.lit(True)


@dataclass(frozen=True)
class ChannelRules:
    """Ordered rules and the channel of a touch no rule matches."""

    rules: tuple[Rule, ...]
    fallback: str = FALLBACK
    name: str = "rules"

    @property
    def channels(self) -> tuple[str, ...]:
        """Every channel the rules can give, in rule order, the fallback last."""
        return tuple(dict.fromkeys([*(r.channel for r in self.rules), self.fallback]))

    def expr(self, columns: Mapping[str, str] | None = None) -> pl.Expr:
        """The rules as one ``when/then`` chain over the traffic columns
        (default ``source``, ``medium``, ``campaign``; nulls match nothing)."""
        cols = {f: f for f in FIELDS} | dict(columns or {})
        if not self.rules:
            return pl.lit(self.fallback)
        first, *rest = self.rules
        chain: Any = pl.when(first.condition(cols)).then(pl.lit(first.channel))
        for rule in rest:  # a loop over rules, building one expression
            chain = chain.when(rule.condition(cols)).then(pl.lit(rule.channel))
        expr: pl.Expr = chain.otherwise(pl.lit(self.fallback))
        return expr

    def to_csv(self) -> str:
        """The rules in the rules-file format (without the fallback)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["channel", *FIELDS])
        for r in self.rules:
            writer.writerow([r.channel, *(getattr(r, f) or "" for f in FIELDS)])
        return out.getvalue()


def read_rules(path: str | os.PathLike, *, fallback: str = FALLBACK) -> ChannelRules:
    """Channel rules from a CSV file: a header ``channel,source,medium,campaign``
    (any of the three fields may be left out), one rule per line; lines
    starting with ``#`` are comments.

    Raises
    ------
    InputError
        Naming the file, line and column of an unknown column, a rule without
        a channel, an unknown ``@list`` or a bad regular expression.
    """
    where = f"rules file '{os.fspath(path)}'"
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{where} cannot be read: {exc.strerror or exc}") from exc
    return _parse_rules(text, where, fallback=fallback, name=Path(path).stem)


def _parse_rules(text: str, where: str, *, fallback: str, name: str) -> ChannelRules:
    lines = [
        (number, line)
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not lines:
        raise InputError(f"{where} is empty; expected a header channel,source,medium,campaign")
    rows = list(csv.reader([line for _, line in lines]))
    header = [h.strip().lower() for h in rows[0]]
    unknown = [h for h in header if h not in ("channel", *FIELDS)]
    if "channel" not in header or unknown:
        raise InputError(
            f"{where}, line {lines[0][0]}: expected columns channel and any of "
            f"{', '.join(FIELDS)}; got {rows[0]}"
        )
    rules = []
    for (number, _), row in zip(lines[1:], rows[1:], strict=True):  # a loop over rules
        cells = {h: (row[i].strip() if i < len(row) else "") for i, h in enumerate(header)}
        if not cells["channel"]:
            raise InputError(f"{where}, line {number}: the rule has no channel")
        rule = Rule(
            cells["channel"],
            source=cells.get("source") or None,
            medium=cells.get("medium") or None,
            campaign=cells.get("campaign") or None,
            line=number,
        )
        for field in FIELDS:
            _check_pattern(rule, field, f"{where}, line {number}, column '{field}'")
        rules.append(rule)
    return ChannelRules(tuple(rules), fallback=fallback, name=name)


def _check_pattern(rule: Rule, field: str, where: str) -> None:
    raw = getattr(rule, field)
    if raw is not None and raw.startswith("@") and raw[1:] not in SITES:
        raise InputError(f"{where}: unknown list '{raw}'; known lists: @{', @'.join(SITES)}")
    pattern = rule.pattern(field)
    if pattern is None:
        return
    try:
        pl.select(pl.lit("").str.contains(pattern))
    except pl.exceptions.PolarsError as exc:
        reason = str(exc).splitlines()[-1].strip() if str(exc).strip() else "invalid"
        raise InputError(f"{where}: bad regular expression '{raw}': {reason}") from None


@functools.lru_cache(maxsize=1)
def _ga4() -> ChannelRules:
    text = resources.files("attribution").joinpath("data/ga4_channel_rules.csv").read_text()
    return _parse_rules(text, "built-in rules 'ga4'", fallback=FALLBACK, name="ga4")


def load_rules(spec: str | os.PathLike | ChannelRules) -> ChannelRules:
    """``"ga4"`` (GA4's default channel group), a rules file, or rules as they are."""
    if isinstance(spec, ChannelRules):
        return spec
    if isinstance(spec, str) and spec.strip().lower() == "ga4":
        return _ga4()
    if not Path(spec).is_file():
        raise InputError(
            f"channel rules '{os.fspath(spec)}': no such file; expected 'ga4' or a rules file"
        )
    return read_rules(spec)


def traffic_columns(
    source: pl.Expr, medium: pl.Expr, campaign: pl.Expr | None = None
) -> list[pl.Expr]:
    """``source, medium, campaign`` with the gaps filled as GA4 fills them.

    Values are stripped; empty is missing. A touch with neither source nor
    medium is direct: ``(direct) / (none)``, campaign ``(direct)``; any other
    missing value is ``(not set)``.
    """

    def clean(e: pl.Expr) -> pl.Expr:
        text = e.cast(pl.String).str.strip_chars()
        return pl.when(text == "").then(None).otherwise(text)

    s, m = clean(source), clean(medium)
    c = clean(campaign) if campaign is not None else pl.lit(None, dtype=pl.String)
    direct = s.is_null() & m.is_null()
    return [
        pl.coalesce(s, pl.when(direct).then(pl.lit(DIRECT[0])).otherwise(pl.lit(NOT_SET))).alias(
            "source"
        ),
        pl.coalesce(m, pl.when(direct).then(pl.lit(DIRECT[1])).otherwise(pl.lit(NOT_SET))).alias(
            "medium"
        ),
        pl.coalesce(c, pl.when(direct).then(pl.lit(DIRECT[2])).otherwise(pl.lit(NOT_SET))).alias(
            "campaign"
        ),
    ]


@dataclass(frozen=True)
class Channels:
    """How a touch's channel comes from its traffic: the rules (or a finer grain)
    and the columns holding source, medium and campaign.

    Parameters
    ----------
    rules : ChannelRules, "ga4" or a rules file
        Used when ``by == "channel"``.
    by : {"channel", "source_medium", "source", "campaign"}
        ``channel``: the rules' channel; otherwise the traffic itself, lower-cased
        (``google / cpc``), so that mixed-case spellings are one channel.
    source, medium, campaign : str
        Column names in an event file (``utm_source`` ...); ``campaign=None``
        or a missing campaign column reads as not set.
    """

    rules: ChannelRules | str | os.PathLike = "ga4"
    by: str = "channel"
    source: str = "source"
    medium: str = "medium"
    campaign: str | None = "campaign"

    def __post_init__(self) -> None:
        if self.by not in GRAINS:
            raise InputError(f"unknown channel grain '{self.by}'; expected one of {list(GRAINS)}")

    @property
    def resolved(self) -> ChannelRules:
        return load_rules(self.rules)

    def label(self, columns: Mapping[str, str] | None = None) -> pl.Expr:
        """The channel of the filled traffic columns (``columns``: field -> column,
        default ``source, medium, campaign``)."""
        cols = {f: f for f in FIELDS} | dict(columns or {})
        if self.by == "channel":
            return self.resolved.expr(cols)
        s, m, c = (pl.col(cols[f]).str.to_lowercase() for f in FIELDS)
        if self.by == "source_medium":
            return pl.concat_str([s, pl.lit(" / "), m])
        return s if self.by == "source" else c

    def assign(
        self, frame: pl.LazyFrame, into: str = "channel", columns: Mapping[str, str] | None = None
    ) -> pl.LazyFrame:
        """``frame`` with column ``into``: the channel of its filled traffic columns.

        The label is computed once per distinct triple and joined back.
        """
        keys = list(({f: f for f in FIELDS} | dict(columns or {})).values())
        labels = frame.select(keys).unique().with_columns(self.label(columns).alias(into))
        return frame.drop(into, strict=False).join(
            labels, on=keys, how="left", nulls_equal=True, maintain_order="left"
        )

    def prepare(self, into: str = "channel") -> Callable[[pl.LazyFrame], pl.LazyFrame]:
        """For :func:`attribution.sources.read_events`: replace column ``into`` of a raw
        event table by the channel derived from its traffic columns."""
        self.resolved  # noqa: B018  (a bad rules file fails before the data is read)

        def derive(raw: pl.LazyFrame) -> pl.LazyFrame:
            names = raw.collect_schema().names()
            for role, name in (("source", self.source), ("medium", self.medium)):
                if name not in names:
                    raise InputError(
                        f"missing {role} column '{name}' (--{role}-col); columns found: {names}"
                    )
            has_campaign = self.campaign is not None and self.campaign in names
            tmp = {f: f"__traffic_{f}" for f in FIELDS}
            filled = traffic_columns(
                pl.col(self.source),
                pl.col(self.medium),
                pl.col(self.campaign) if has_campaign and self.campaign else None,
            )
            raw = raw.with_columns(e.alias(tmp[f]) for f, e in zip(FIELDS, filled, strict=True))
            return self.assign(raw, into, tmp).drop(list(tmp.values()))

        return derive


def audit(touches: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """What each distinct traffic got: ``source, medium, campaign, channel, touches,
    share`` (of all touches), biggest first, so that what lands in
    ``Unassigned`` is easy to find."""
    counted = (
        touches.lazy()
        .group_by(*FIELDS, "channel")
        .agg(touches=pl.len())
        .with_columns(share=pl.col("touches") / pl.col("touches").sum())
        .sort(["touches", *FIELDS], descending=[True, False, False, False], nulls_last=True)
    )
    return counted.collect()
