"""Channel rules: GA4's default channel group rule by rule, rules files, grains, the audit."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attribution.channels import (
    FALLBACK,
    ChannelRules,
    Channels,
    Rule,
    audit,
    load_rules,
    read_rules,
    traffic_columns,
)
from attribution.errors import InputError

GA4 = load_rules("ga4")


def channel_of(source, medium, campaign="(not set)", rules=GA4):
    frame = pl.DataFrame(
        {"source": [source], "medium": [medium], "campaign": [campaign]},
        schema=dict.fromkeys(("source", "medium", "campaign"), pl.String),
    )
    return frame.select(rules.expr()).item()


# GA4's default channel group (support.google.com/analytics/answer/9756891), rule by
# rule in its order: each case is (source, medium, campaign, channel, what it checks).
GA4_CASES = [
    ("(direct)", "(none)", "(direct)", "Direct", "source (direct), medium (none)"),
    ("(direct)", "(not set)", "(not set)", "Direct", "or medium (not set)"),
    ("(direct)", "referral", "(not set)", "Referral", "direct needs medium none/not set"),
    ("google", "cpc", "pmax_cross-network_q1", "Cross-network", "campaign contains cross-network"),
    ("(direct)", "(none)", "cross-network", "Direct", "Direct comes before Cross-network"),
    ("amazon", "cpc", "(not set)", "Paid Shopping", "shopping site and paid medium"),
    ("newsletter", "ppc", "summer_shop", "Paid Shopping", "shopping campaign and paid medium"),
    ("google", "cpc", "e-shopping week", "Paid Shopping", "campaign 'shopping' beats search"),
    ("google", "cpc", "brand", "Paid Search", "search site and medium .*cp.*"),
    ("www.bing.com", "ppc", "(not set)", "Paid Search", "a site with subdomain and TLD"),
    ("duckduckgo", "paid-search", "(not set)", "Paid Search", "medium paid.*"),
    ("yahoo", "retargeting", "(not set)", "Paid Search", "medium retargeting"),
    ("google", "cpm", "(not set)", "Paid Search", "cpm matches .*cp.* before Display"),
    ("facebook", "cpc", "(not set)", "Paid Social", "social site and paid medium"),
    ("m.facebook.com", "paid_social", "(not set)", "Paid Social", "paid.* on a subdomain"),
    ("youtube", "cpv", "(not set)", "Paid Video", "video site and medium .*cp.*"),
    ("criteo", "display", "(not set)", "Display", "medium display"),
    ("dv360", "cpm", "(not set)", "Display", "medium cpm, no paid site"),
    ("adnet", "banner", "(not set)", "Display", "medium banner"),
    ("adnet", "interstitial", "(not set)", "Display", "medium interstitial"),
    ("taboola", "paid", "(not set)", "Paid Other", "paid medium, no listed site"),
    ("ebay", "referral", "(not set)", "Organic Shopping", "shopping site, organic"),
    ("blog", "referral", "shop_launch", "Organic Shopping", "shopping campaign, organic"),
    ("t.co", "referral", "(not set)", "Organic Social", "social site beats referral"),
    ("l.instagram.com", "(not set)", "(not set)", "Organic Social", "social site"),
    ("forum", "social-network", "(not set)", "Organic Social", "social medium"),
    ("forum", "SM", "(not set)", "Organic Social", "medium sm, any case"),
    ("vimeo.com", "referral", "(not set)", "Organic Video", "video site"),
    ("blog", "video-promo", "(not set)", "Organic Video", "medium .*video.*"),
    ("google", "organic", "(not set)", "Organic Search", "search site, organic"),
    ("ecosia.org", "referral", "(not set)", "Organic Search", "search site beats referral"),
    ("intranet", "organic", "(not set)", "Organic Search", "medium organic"),
    ("blog.example.org", "referral", "(not set)", "Referral", "medium referral"),
    ("app-store", "app", "(not set)", "Referral", "medium app"),
    ("partner", "link", "(not set)", "Referral", "medium link"),
    ("newsletter", "email", "weekly", "Email", "medium email"),
    ("newsletter", "E-Mail", "weekly", "Email", "medium e-mail, any case"),
    ("e_mail", "(not set)", "(not set)", "Email", "source e_mail"),
    ("partnerize", "affiliate", "(not set)", "Affiliates", "medium affiliate"),
    ("spotify", "audio", "(not set)", "Audio", "medium audio"),
    ("sms", "text", "(not set)", "SMS", "source sms"),
    ("gateway", "sms", "(not set)", "SMS", "medium sms"),
    ("onesignal", "web-push", "(not set)", "Mobile Push Notifications", "medium ends with push"),
    ("app", "mobile_banner", "(not set)", "Mobile Push Notifications", "medium contains mobile"),
    ("app", "notification", "(not set)", "Mobile Push Notifications", "medium notification"),
    ("firebase", "(not set)", "(not set)", "Mobile Push Notifications", "source firebase"),
    ("qr", "poster", "(not set)", "Unassigned", "nothing matches"),
    ("google", "pushy", "(not set)", "Organic Search", "'pushy' does not end with push"),
]


@pytest.mark.parametrize(
    ("source", "medium", "campaign", "expected", "why"),
    GA4_CASES,
    ids=[case[4] for case in GA4_CASES],
)
def test_ga4_default_channel_group(source, medium, campaign, expected, why):
    assert channel_of(source, medium, campaign) == expected, why


def test_every_ga4_channel_is_reachable():
    assert {case[3] for case in GA4_CASES} == set(GA4.channels)
    assert len(GA4.channels) == 19 and GA4.fallback == "Unassigned"


def test_rules_ignore_case():
    assert channel_of("GOOGLE", "CPC") == "Paid Search"
    assert channel_of("Newsletter", "EMAIL") == "Email"


def test_a_site_must_match_whole_labels():
    assert channel_of("googleplex-fans.net", "referral") == "Referral"
    assert channel_of("notfacebook.com", "referral") == "Referral"
    assert channel_of("news.google.co.uk", "referral") == "Organic Search"


RULES_CSV = """# my rules
channel,source,medium,campaign
Brand search,google|bing,cpc,brand.*
Paid search,google|bing,cpc,
"Newsletter, weekly",newsletter,email,weekly
Social,@social,,
Everything else,,,
"""


def test_a_rules_file_first_match_wins(tmp_path):
    path = tmp_path / "rules.csv"
    path.write_text(RULES_CSV)
    rules = read_rules(path)
    assert rules.channels[:4] == ("Brand search", "Paid search", "Newsletter, weekly", "Social")
    assert channel_of("Google", "CPC", "brand_2024", rules) == "Brand search"
    assert channel_of("bing", "cpc", "generic", rules) == "Paid search"
    assert channel_of("newsletter", "email", "weekly", rules) == "Newsletter, weekly"
    assert channel_of("lnkd.in", "referral", "(not set)", rules) == "Social"
    assert channel_of("qr", "poster", "(not set)", rules) == "Everything else"
    assert load_rules(path) == rules


def test_a_rules_file_may_leave_out_fields_and_falls_back(tmp_path):
    path = tmp_path / "rules.csv"
    path.write_text("medium,channel\nemail,Email\n")
    rules = read_rules(path)
    assert channel_of("x", "Email", rules=rules) == "Email"
    assert channel_of("x", "cpc", rules=rules) == FALLBACK


def test_the_ga4_rules_round_trip_through_the_file_format(tmp_path):
    path = tmp_path / "ga4.csv"
    path.write_text(GA4.to_csv())
    again = read_rules(path)
    for source, medium, campaign, expected, _ in GA4_CASES:
        assert channel_of(source, medium, campaign, again) == expected


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("channel,source\nA,(unclosed\n", r"line 2, column 'source': bad regular expression"),
        ("channel,referrer\nA,x\n", r"line 1: expected columns channel and any of"),
        ("source,medium\nx,y\n", r"line 1: expected columns channel"),
        ("# c\nchannel,medium\n,email\n", r"line 3: the rule has no channel"),
        ("channel,source\nA,@searches\n", r"unknown list '@searches'; known lists: @search"),
        ("# only comments\n", r"is empty"),
    ],
)
def test_bad_rules_files_are_named_by_line_and_column(tmp_path, text, pattern):
    path = tmp_path / "rules.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=pattern) as err:
        read_rules(path)
    assert "rules.csv" in str(err.value)


def test_unknown_rules_are_an_error():
    with pytest.raises(InputError, match="expected 'ga4' or a rules file"):
        load_rules("ga5")
    with pytest.raises(InputError, match="unknown channel grain"):
        Channels(by="medium")


def test_missing_traffic_is_direct_or_not_set():
    frame = pl.DataFrame(
        {
            "s": [None, " ", "google", None],
            "m": [None, "", None, "email"],
            "c": [None, None, "", "spring"],
        },
        schema=dict.fromkeys("smc", pl.String),
    )
    out = frame.select(traffic_columns(pl.col("s"), pl.col("m"), pl.col("c")))
    assert out.rows() == [
        ("(direct)", "(none)", "(direct)"),
        ("(direct)", "(none)", "(direct)"),
        ("google", "(not set)", "(not set)"),
        ("(not set)", "email", "spring"),
    ]


def test_finer_grains_lower_case_the_traffic():
    frame = pl.DataFrame(
        {"source": ["Google", "google"], "medium": ["CPC", "cpc"], "campaign": ["Q1", "q1"]}
    ).lazy()
    for by, expected in (
        ("source_medium", "google / cpc"),
        ("source", "google"),
        ("campaign", "q1"),
    ):
        assert set(Channels(by=by).assign(frame).collect()["channel"]) == {expected}


triples = st.tuples(
    st.sampled_from(["google", "Google", "facebook", "newsletter", "(direct)", "qr", "amazon"]),
    st.sampled_from(["cpc", "CPC", "organic", "email", "(none)", "referral", "poster"]),
    st.sampled_from(["(not set)", "brand", "summer_shop", "x-cross-network"]),
)


@settings(max_examples=50, deadline=None)
@given(st.lists(triples, min_size=1, max_size=40), st.randoms(use_true_random=False))
def test_rules_run_once_per_triple_and_the_row_order_does_not_matter(rows, rnd):
    frame = pl.DataFrame(rows, schema=["source", "medium", "campaign"], orient="row")
    per_row = frame.with_columns(channel=GA4.expr())
    assigned = Channels().assign(frame.lazy()).collect()
    assert assigned.equals(per_row)  # the join keeps the rows in their order
    shuffled = rows[:]
    rnd.shuffle(shuffled)
    again = Channels().assign(
        pl.DataFrame(shuffled, schema=["source", "medium", "campaign"], orient="row").lazy()
    )
    assert sorted(again.collect().rows()) == sorted(per_row.rows())


def test_the_rules_are_one_expression():
    rules = ChannelRules((Rule("A", source="a"), Rule("B", medium="b")), fallback="Z")
    text = str(rules.expr())
    assert text.count("when(") == 2 and "otherwise" in text


def test_the_audit_is_biggest_first_and_shares_add_up():
    touches = pl.DataFrame(
        {
            "source": ["google", "google", "qr", "google", "qr", "newsletter"],
            "medium": ["cpc", "cpc", "poster", "organic", "poster", "email"],
            "campaign": ["(not set)"] * 6,
        }
    )
    table = audit(Channels().assign(touches.lazy()))
    assert table.columns == ["source", "medium", "campaign", "channel", "touches", "share"]
    assert table["touches"].to_list() == [2, 2, 1, 1]
    assert table.row(1, named=True)["channel"] == "Unassigned"
    assert table["share"].sum() == pytest.approx(1.0)


def test_the_documented_rules_file_reads_and_the_ga4_table_matches(tmp_path):
    import re

    from tests.conftest import ROOT

    doc = (ROOT / "docs" / "inputs.md").read_text()
    (example,) = re.findall(r"```csv\n(.*?)```", doc, re.S)
    path = tmp_path / "my-channels.csv"
    path.write_text(example)
    rules = read_rules(path)
    assert channel_of("Google", "CPC", "brand_q2", rules) == "Brand search"
    assert channel_of("duckduckgo", "paid_search", "(not set)", rules) == "Paid search"
    assert channel_of("newsletter", "email", "weekly_42", rules) == "Newsletter, weekly"
    assert channel_of("mailchimp", "E-Mail", "(not set)", rules) == "Email"
    assert channel_of("(direct)", "(none)", "(direct)", rules) == "Direct"
    table = doc[doc.index("### The built-in `ga4` set") :]
    documented = re.findall(r"^\| ([A-Z][^|]+?) \|", table, re.M)
    assert tuple(documented) == GA4.channels
