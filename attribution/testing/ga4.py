"""Seeded GA4-shaped BigQuery exports (nested schema, one file per day) whose sessions are known.

The simulated property is a web shop: users come back in sessions, each with
its own traffic source (or none: direct), view pages, sometimes buy or leave
a lead. The data carries the traps real exports have:

- page views repeat the session's source in their event parameters, and a
  few sessions see a second campaign later on (the session keeps its first);
- some sessions carry their source only in ``collected_traffic_source``,
  some only a ``gclid`` (Google Ads auto-tagging: google / cpc), direct
  sessions carry none;
- mediums in mixed case (``CPC``, ``Email``);
- ``traffic_source`` is the user's first acquisition, the same on all of a
  user's events and mostly not the session's source;
- ``ga_session_id`` is the session's start in seconds, so two users can share
  one; sessions cross midnight, and the daily files (split at midnight in the
  property's time zone, not UTC) hold their rows shuffled;
- purchases carry ``ecommerce.purchase_revenue``, some only a ``value``
  parameter; leads an integer ``value`` or none.

``GA4Sample.sessions()`` and ``GA4Sample.conversions()`` are the truth a
reader must recover, with the channel GA4's default channel group gives each
session.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np
import polars as pl

from attribution.arrays import csr_offsets

__all__ = ["EVENT_NAMES", "TRAFFIC", "GA4Sample", "Traffic", "simulate_ga4"]


@dataclass(frozen=True)
class Traffic:
    """One traffic source of the simulated property and what GA4 calls it.

    ``source`` and ``medium`` both None is direct traffic; ``gclid`` marks
    Google Ads auto-tagging (no manual source at all).
    """

    source: str | None
    medium: str | None
    campaign: str | None
    channel: str  # GA4's default channel group of this source / medium / campaign
    weight: float  # relative frequency among sessions
    purchase_rate: float  # chance that a session from it ends in a purchase
    gclid: bool = False


TRAFFIC: tuple[Traffic, ...] = (
    Traffic(None, None, None, "Direct", 16, 0.05),
    Traffic("google", "organic", None, "Organic Search", 20, 0.04),
    Traffic("bing", "organic", None, "Organic Search", 3, 0.04),
    Traffic("duckduckgo", "organic", None, "Organic Search", 1, 0.04),
    Traffic("google", "cpc", "brand_search", "Paid Search", 8, 0.07),
    Traffic("google", "CPC", "generic_search", "Paid Search", 4, 0.05),
    Traffic("bing", "ppc", "generic_search", "Paid Search", 2, 0.05),
    Traffic(None, None, None, "Paid Search", 3, 0.06, gclid=True),
    Traffic("google", "cpc", "pmax_cross-network", "Cross-network", 1, 0.05),
    Traffic("facebook", "cpc", "retargeting_q1", "Paid Social", 5, 0.03),
    Traffic("instagram", "Paid", "stories", "Paid Social", 2, 0.02),
    Traffic("m.facebook.com", "referral", None, "Organic Social", 3, 0.02),
    Traffic("l.instagram.com", "referral", None, "Organic Social", 1, 0.02),
    Traffic("linkedin", "social", "employer_brand", "Organic Social", 1, 0.01),
    Traffic("youtube.com", "referral", None, "Organic Video", 1, 0.02),
    Traffic("youtube", "cpv", "video_launch", "Paid Video", 1, 0.02),
    Traffic("amazon", "cpc", "marketplace", "Paid Shopping", 1, 0.04),
    Traffic("criteo", "display", "prospecting", "Display", 2, 0.01),
    Traffic("dv360", "cpm", "awareness", "Display", 1, 0.01),
    Traffic("taboola", "paid", "native", "Paid Other", 1, 0.01),
    Traffic("newsletter", "email", "weekly", "Email", 5, 0.08),
    Traffic("newsletter", "Email", "promo", "Email", 2, 0.08),
    Traffic("partnerize", "affiliate", "cashback", "Affiliates", 2, 0.05),
    Traffic("blog.example.org", "referral", None, "Referral", 3, 0.03),
    Traffic("spotify", "audio", "podcast_ad", "Audio", 0.5, 0.02),
    Traffic("sms", "sms", "flash_sale", "SMS", 0.5, 0.06),
    Traffic("firebase", "push", "reengage", "Mobile Push Notifications", 0.5, 0.05),
    Traffic("qr", "offline", "poster", "Unassigned", 0.5, 0.03),
)
"""The property's traffic sources; index 0 is direct."""

EVENT_NAMES = (
    "session_start",
    "first_visit",
    "page_view",
    "purchase",
    "generate_lead",
    "user_engagement",
)
_START, _FIRST, _VIEW, _PURCHASE, _LEAD, _ENGAGE = range(len(EVENT_NAMES))

# how a session carries its source: params on its page views, collected_traffic_source
# on its first events only, or both
_PARAMS, _COLLECTED, _BOTH = range(3)

_VALUE = pl.Struct(
    {
        "string_value": pl.String,
        "int_value": pl.Int64,
        "float_value": pl.Float64,
        "double_value": pl.Float64,
    }
)
PARAM = pl.Struct({"key": pl.String, "value": _VALUE})
"""One entry of ``event_params``."""


@dataclass(frozen=True)
class GA4Sample:
    """A simulated export: one flat row per event (``events``) and how to nest it.

    ``events`` columns: ``user`` (index), ``session`` (index), ``ts`` (event
    time, microseconds since the epoch, UTC), ``kind`` (index into
    EVENT_NAMES), ``sid`` (ga_session_id), ``number`` (ga_session_number),
    ``params`` / ``collected`` (index into TRAFFIC of the source the event
    carries in its parameters / collected_traffic_source, -1 for none),
    ``revenue`` (ecommerce.purchase_revenue), ``value_double`` /
    ``value_int`` (the ``value`` parameter), ``login`` (the event carries the
    user_id), ``acquired`` (index into TRAFFIC: the user's first acquisition),
    ``page`` and ``day`` (the event_date, YYYYMMDD in the property's zone).
    ``session_traffic`` is each session's own source (index into TRAFFIC).
    """

    events: pl.DataFrame
    session_traffic: np.ndarray
    session_start: np.ndarray  # microseconds, UTC
    session_user: np.ndarray
    seed: int

    @property
    def days(self) -> list[int]:
        return self.events["day"].unique().sort().to_list()

    # -- truth -----------------------------------------------------------------
    def sessions(self) -> pl.DataFrame:
        """One row per session: ``user_pseudo_id, ga_session_id, start`` (first
        event, UTC), ``source, medium, campaign`` (as the session carries them;
        google / cpc for a gclid; null for direct) and ``channel`` (GA4's)."""
        traffic = _traffic_frame()
        frame = pl.DataFrame(
            {
                "user": self.session_user,
                "code": self.session_traffic.astype(np.int32),
                "start": self.session_start,
            }
        )
        return (
            frame.join(traffic, on="code", how="left")
            .select(
                user_pseudo_id=_pseudo_id(pl.col("user")),
                ga_session_id=pl.col("start") // 1_000_000,
                start=pl.col("start").cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
                source=pl.when(pl.col("gclid")).then(pl.lit("google")).otherwise("source"),
                medium=pl.when(pl.col("gclid")).then(pl.lit("cpc")).otherwise("medium"),
                campaign="campaign",
                channel="channel",
            )
            .sort("user_pseudo_id", "start")
        )

    def conversions(self, names: tuple[str, ...] = ("purchase",)) -> pl.DataFrame:
        """``user_pseudo_id, time, event_name, value`` of the events named ``names``;
        value: purchase revenue, else the value parameter, else 1."""
        codes = [EVENT_NAMES.index(n) for n in names]
        return (
            self.events.filter(pl.col("kind").is_in(codes))
            .select(
                user_pseudo_id=_pseudo_id(pl.col("user")),
                time=pl.col("ts").cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
                event_name=pl.lit(pl.Series(EVENT_NAMES)).gather(pl.col("kind")),
                value=pl.coalesce(
                    "revenue",
                    "value_double",
                    pl.col("value_int").cast(pl.Float64),
                    pl.lit(1.0),
                ),
            )
            .sort("user_pseudo_id", "time")
        )

    # -- the export ------------------------------------------------------------
    def nested(self, day: int | None = None) -> pl.DataFrame:
        """The GA4 BigQuery export table (of one ``day``, or all of it)."""
        flat = self.events if day is None else self.events.filter(pl.col("day") == day)
        return _nest(flat)

    def write(
        self, folder: str | os.PathLike, *, fmt: str = "parquet", shuffle: bool = True
    ) -> list[Path]:
        """Write one ``events_YYYYMMDD`` file per day into ``folder``.

        ``fmt`` is ``parquet`` or ``ndjson`` (written as ``.json`` the way
        BigQuery exports it: 64-bit integers as strings). Parquet is written
        with pyarrow when it is installed (strings dictionary-encoded, as most
        Parquet writers do; polars' writer leaves nested strings plain, which
        decodes about a quarter slower). Rows within each file are shuffled unless
        ``shuffle`` is False.
        """
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            arrow = False
        else:
            arrow = True
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for k, day in enumerate(self.days):  # a loop over files
            table = self.nested(day)
            if shuffle:
                table = table.sample(fraction=1.0, shuffle=True, seed=self.seed * 1000 + k)
            if fmt == "parquet":
                path = out / f"events_{day}.parquet"
                table.write_parquet(path, use_pyarrow=arrow)
            elif fmt == "ndjson":
                path = out / f"events_{day}.json"
                _bigquery_json(table).write_ndjson(path)
            else:
                raise ValueError(f"unknown format {fmt!r}; expected parquet or ndjson")
            written.append(path)
        return written


def _traffic_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "code": np.arange(len(TRAFFIC), dtype=np.int32),
            "source": [t.source for t in TRAFFIC],
            "medium": [t.medium for t in TRAFFIC],
            "campaign": [t.campaign for t in TRAFFIC],
            "channel": [t.channel for t in TRAFFIC],
            "gclid": [t.gclid for t in TRAFFIC],
        },
        schema_overrides={"source": pl.String, "medium": pl.String, "campaign": pl.String},
    )


def _pseudo_id(user: pl.Expr) -> pl.Expr:
    """A GA4-looking client id (``1234567890.1700000000``), unique per user index."""
    left = (user.cast(pl.Int64) * 7919 + 1_000_003) % 9_000_000_000 + 1_000_000_000
    right = 1_700_000_000 + (user.cast(pl.Int64) * 104_729) % 30_000_000
    return pl.format("{}.{}", left, right)


def simulate_ga4(
    n_users: int,
    *,
    days: int = 90,
    start: date = date(2024, 3, 1),
    sessions_per_user: float = 2.5,
    views_per_session: float = 2.2,
    lead_rate: float = 0.02,
    login_share: float = 0.3,
    tz_hours: int = -7,
    seed: int = 0,
) -> GA4Sample:
    """A GA4 export of ``n_users`` users over ``days`` days (about 4 events per session).

    Sessions per user are ``1 + Poisson(sessions_per_user - 1)``, their starts
    uniform over the period; page views per session ``1 + Poisson(views - 1)``.
    A session's source is drawn from :data:`TRAFFIC` by weight; it buys with
    that source's purchase rate and leaves a lead with ``lead_rate``.
    ``login_share`` of the users carry a ``user_id`` from their second
    session on. Days are split at midnight in UTC``tz_hours``.
    """
    rng = np.random.default_rng(seed)
    n_sessions_of = 1 + rng.poisson(max(sessions_per_user - 1, 0), n_users)
    n_s = int(n_sessions_of.sum())
    user = np.repeat(np.arange(n_users, dtype=np.int64), n_sessions_of)
    local_midnight = datetime(start.year, start.month, start.day, tzinfo=timezone.utc)
    t0 = int(local_midnight.timestamp()) - tz_hours * 3600  # the property's midnight in UTC
    span = days * 86_400 - 2 * 3600  # sessions end before the last day does
    begin = np.floor(rng.uniform(0, span, n_s)).astype(np.int64)
    order = np.lexsort((begin, user))
    begin = begin[order]
    first_of_user = csr_offsets(n_sessions_of)[:-1]
    number = np.arange(n_s) - np.repeat(first_of_user, n_sessions_of)  # 0-based
    # distinct whole seconds per user, so that no user has two sessions with one id
    start_s = t0 + begin + number
    first = number == 0

    weights = np.array([t.weight for t in TRAFFIC])
    code = rng.choice(len(TRAFFIC), size=n_s, p=weights / weights.sum())
    direct = code == 0
    gclid = np.array([t.gclid for t in TRAFFIC])[code]
    mode = rng.choice(3, size=n_s, p=[0.6, 0.25, 0.15])
    mode[gclid] = _COLLECTED
    views = 1 + rng.poisson(max(views_per_session - 1, 0), n_s)
    rate = np.array([t.purchase_rate for t in TRAFFIC])[code]
    buys = rng.random(n_s) < rate
    leads = rng.random(n_s) < lead_rate
    # a later page view brings another campaign: the session keeps its first source
    switch = (mode != _COLLECTED) & ~direct & (views >= 2) & (rng.random(n_s) < 0.05)
    other = rng.integers(1, len(TRAFFIC), n_s)

    # events: session_start, [first_visit], page views, [purchase], [lead], user_engagement
    n_e = 2 + first + views + buys + leads
    offsets = csr_offsets(n_e)
    session = np.repeat(np.arange(n_s, dtype=np.int64), n_e)
    pos = np.arange(int(offsets[-1])) - np.repeat(offsets[:-1], n_e)
    rep = lambda a: np.repeat(a, n_e)  # noqa: E731  (session attribute per event)
    view0 = 1 + rep(first)
    after_views = view0 + rep(views)
    kind = np.full(len(pos), _ENGAGE, dtype=np.int8)
    kind[pos == 0] = _START
    kind[rep(first) & (pos == 1)] = _FIRST
    kind[(pos >= view0) & (pos < after_views)] = _VIEW
    kind[rep(buys) & (pos == after_views)] = _PURCHASE
    kind[rep(leads) & (pos == after_views + rep(buys))] = _LEAD

    # times: session_start, first_visit and the first page view at the start (ties),
    # then gaps of about 45 s
    gap = rng.exponential(45e6, len(pos))
    gap[pos <= view0] = 0.0
    since = np.cumsum(gap)
    since -= np.repeat(since[offsets[:-1]], n_e)
    ts = rep(start_s) * 1_000_000 + np.round(since).astype(np.int64)

    is_view = kind == _VIEW
    carries = ~rep(direct) & ~rep(gclid)
    in_params = carries & (rep(mode) != _COLLECTED) & ((kind == _START) | is_view)
    switched = rep(switch) & is_view & (pos >= view0 + 1)
    params = np.where(in_params, np.where(switched, rep(other), rep(code)), -1)
    # collected_traffic_source on the session's first events (start, first page view)
    first_events = (kind == _START) | (is_view & (pos == view0))
    collected = np.where(
        (rep(mode) != _PARAMS) & ~rep(direct) & first_events, rep(code), -1
    ).astype(np.int32)

    purchase = kind == _PURCHASE
    revenue = np.round(rng.lognormal(4.0, 0.6, len(pos)), 2)
    only_value = rng.random(len(pos)) < 0.1  # revenue missing, value parameter only
    lead = kind == _LEAD
    lead_value = rng.random(len(pos)) < 0.5

    login_user = rng.random(n_users) < login_share
    acquired = rng.integers(0, len(TRAFFIC), n_users)
    # a first acquisition has a name: gclid-only traffic is recorded as google organic
    acquired[np.isin(acquired, np.flatnonzero([t.gclid for t in TRAFFIC]))] = 1
    local = ts + tz_hours * 3_600_000_000
    day = pl.Series(local).cast(pl.Datetime("us")).dt.strftime("%Y%m%d").cast(pl.Int32)
    events = pl.DataFrame(
        {
            "user": user[session],
            "session": session,
            "ts": ts,
            "kind": kind,
            "sid": rep(start_s),
            "number": rep(number + 1),
            "params": params.astype(np.int32),
            "collected": collected,
            "gclid": rep(gclid) & first_events,
            "revenue": pl.Series(np.where(purchase & ~only_value, revenue, np.nan)).fill_nan(None),
            "value_double": pl.Series(np.where(purchase & only_value, revenue, np.nan)).fill_nan(
                None
            ),
            "value_int": pl.Series(np.where(lead & lead_value, 5, -1)).replace(-1, None),
            "login": login_user[user[session]] & (rep(number) >= 1),
            "acquired": acquired[user[session]].astype(np.int32),
            "page": rng.integers(1, 5000, len(pos)).astype(np.int32),
            "day": day,
        }
    )
    return GA4Sample(
        events=events,
        session_traffic=code,
        session_start=start_s * 1_000_000,
        session_user=user,
        seed=seed,
    )


def _params(flat: pl.DataFrame, slots: list[tuple[str, pl.Expr, dict[str, pl.Expr]]]) -> pl.Series:
    """``event_params``: per event, the slots whose condition holds, in slot order.

    Built long (one row per parameter) and gathered into lists per event: polars
    concatenates struct columns into lists slowly.
    """
    empty: dict[str, pl.Expr] = {
        "string_value": pl.lit(None, dtype=pl.String),
        "int_value": pl.lit(None, dtype=pl.Int64),
        "float_value": pl.lit(None, dtype=pl.Float64),
        "double_value": pl.lit(None, dtype=pl.Float64),
    }
    indexed = flat.with_row_index("_e")
    long = pl.concat(
        [
            indexed.filter(when).select(
                "_e",
                _slot=pl.lit(k, dtype=pl.Int32),
                key=pl.lit(key),
                value=pl.struct([e.alias(name) for name, e in {**empty, **value}.items()]),
            )
            for k, (key, when, value) in enumerate(slots)  # a loop over parameter names
        ]
    )
    lists = (
        long.sort("_e", "_slot")
        .group_by("_e", maintain_order=True)
        .agg(event_params=pl.struct("key", "value"))
    )
    # every event has at least its session id, so every event has a row
    return lists["event_params"].cast(pl.List(PARAM))


def _nest(flat: pl.DataFrame) -> pl.DataFrame:
    """The flat events as GA4's export schema."""
    traffic = _traffic_frame()
    names = pl.Series(EVENT_NAMES)
    col = pl.col

    def lookup(code: str, field: str) -> pl.Expr:
        return (
            pl.when(col(code) >= 0)
            .then(pl.lit(traffic[field]).gather(col(code).clip(0)))
            .otherwise(None)
        )

    kind = col("kind")
    tagged = col("collected") >= 0
    manual = lookup("collected", "source").is_not_null()
    flat = flat.with_columns(
        p_source=lookup("params", "source"),
        p_medium=lookup("params", "medium"),
        p_campaign=lookup("params", "campaign"),
    )
    page = pl.format("https://shop.example.com/p/{}", col("page"))
    # the order of the parameters is not fixed in real exports either
    params = _params(
        flat,
        [
            ("page_location", kind != _ENGAGE, {"string_value": page}),
            ("ga_session_number", pl.lit(True), {"int_value": col("number").cast(pl.Int64)}),
            ("source", col("p_source").is_not_null(), {"string_value": col("p_source")}),
            ("ga_session_id", pl.lit(True), {"int_value": col("sid")}),
            ("medium", col("p_medium").is_not_null(), {"string_value": col("p_medium")}),
            ("campaign", col("p_campaign").is_not_null(), {"string_value": col("p_campaign")}),
            ("engagement_time_msec", kind == _ENGAGE, {"int_value": col("page").cast(pl.Int64)}),
            ("value", col("value_double").is_not_null(), {"double_value": col("value_double")}),
            ("value", col("value_int").is_not_null(), {"int_value": col("value_int")}),
            ("currency", kind == _PURCHASE, {"string_value": pl.lit("EUR")}),
        ],
    )
    out = flat.select(
        event_date=col("day").cast(pl.String),
        event_timestamp=col("ts"),
        event_name=pl.lit(names).gather(kind),
        event_params=params,
        user_id=pl.when(col("login")).then(pl.format("U{}", col("user"))),
        user_pseudo_id=_pseudo_id(col("user")),
        traffic_source=pl.struct(
            name=pl.lit(traffic["campaign"]).gather(col("acquired")).fill_null("(direct)"),
            medium=pl.lit(traffic["medium"]).gather(col("acquired")).fill_null("(none)"),
            source=pl.lit(traffic["source"]).gather(col("acquired")).fill_null("(direct)"),
        ),
        collected_traffic_source=pl.when(tagged | col("gclid")).then(
            pl.struct(
                manual_campaign_id=pl.lit(None, dtype=pl.String),
                manual_campaign_name=lookup("collected", "campaign"),
                manual_source=lookup("collected", "source"),
                manual_medium=lookup("collected", "medium"),
                manual_term=pl.lit(None, dtype=pl.String),
                manual_content=pl.lit(None, dtype=pl.String),
                gclid=pl.when(col("gclid") & ~manual).then(pl.format("Cj0K{}", col("sid"))),
                dclid=pl.lit(None, dtype=pl.String),
                srsltid=pl.lit(None, dtype=pl.String),
            )
        ),
        ecommerce=pl.when(kind == _PURCHASE).then(
            pl.struct(
                total_item_quantity=pl.lit(1, dtype=pl.Int64),
                purchase_revenue_in_usd=col("revenue") * 1.08,
                purchase_revenue=col("revenue"),
                refund_value_in_usd=pl.lit(None, dtype=pl.Float64),
                refund_value=pl.lit(None, dtype=pl.Float64),
                shipping_value_in_usd=pl.lit(None, dtype=pl.Float64),
                shipping_value=pl.lit(None, dtype=pl.Float64),
                tax_value_in_usd=pl.lit(None, dtype=pl.Float64),
                tax_value=pl.lit(None, dtype=pl.Float64),
                unique_items=pl.lit(1, dtype=pl.Int64),
                transaction_id=pl.format("T{}", col("session")),
            )
        ),
        platform=pl.lit("WEB"),
        device=pl.struct(category=pl.lit("desktop")),
    )
    return out


def _bigquery_json(table: pl.DataFrame) -> pl.DataFrame:
    """The table as BigQuery's JSON export writes it: INT64 values as strings."""
    params = pl.List(
        pl.Struct(
            {
                "key": pl.String,
                "value": pl.Struct(
                    {
                        "string_value": pl.String,
                        "int_value": pl.String,
                        "float_value": pl.Float64,
                        "double_value": pl.Float64,
                    }
                ),
            }
        )
    )
    return table.with_columns(
        pl.col("event_timestamp").cast(pl.String), pl.col("event_params").cast(params)
    )
