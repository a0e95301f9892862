"""The HTML report: its sections and charts, that it needs no network, and how it renders in
a real headless browser (Debian's chromium; skipped with the reason when it is missing)."""

from __future__ import annotations

import collections
import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

from attribution.api import attribute
from attribution.builder import load_journeys
from attribution.cli.main import cli
from attribution.costs import join_costs
from attribution.journeys import Journeys
from attribution.kpis import compute_kpis
from attribution.model import Model, credit_frame
from attribution.models.heuristics import Linear
from attribution.plot import PALETTE
from attribution.registry import Registry, use_registry
from attribution.report import SECTIONS, render, render_report, write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ROOT_COSTS = Path(__file__).resolve().parent.parent / "sample_data" / "costs.csv"
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Debian's chromium is not installed (apt-get install -y chromium; "
    ".ci/run installs it when the package archive is reachable)",
)


class FakeMarkov(Model):
    """Stands in for the Markov model: linear credit, and first-order transitions."""

    name = "markov"
    description = "test double with the Markov model's interface"

    def attribute(self, journeys: Journeys) -> pl.DataFrame:
        row = journeys.row_of_touch
        w = 1.0 / journeys.lengths[row]
        n = journeys.n_channels
        conv = np.bincount(journeys.codes, weights=w * journeys.conversions[row], minlength=n)
        value = np.bincount(journeys.codes, weights=w * journeys.value[row], minlength=n)
        names = np.array(journeys.channels, dtype=object)
        first = journeys.offsets[:-1]
        last = journeys.offsets[1:] - 1
        inner = np.setdiff1d(np.arange(journeys.n_touches), last)
        edges = pl.concat(
            [
                pl.DataFrame({"from": "(start)", "to": names[journeys.codes[first]]}),
                pl.DataFrame(
                    {"from": names[journeys.codes[inner]], "to": names[journeys.codes[inner + 1]]}
                ),
                pl.DataFrame(
                    {
                        "from": names[journeys.codes[last]],
                        "to": np.where(journeys.conversions > 0, "(conversion)", "(null)"),
                    }
                ),
            ]
        )
        self.transitions_ = (
            edges.group_by("from", "to")
            .len("count")
            .with_columns(probability=pl.col("count") / pl.col("count").sum().over("from"))
            .sort("from", "to")
        )
        self.removal_effects_ = {c: 0.5 for c in journeys.channels}
        return credit_frame(journeys, conv, value)

    def transition_table(self) -> pl.DataFrame:
        return self.transitions_


class Chain(Model):
    """A plugin's chain under another name, whose table states each node's role and label.

    The names say nothing about the roles ("WON" is the conversion), so a
    renderer that guessed roles from names would draw WON as a channel.
    """

    name = "chain"
    description = "a plugin with a transition graph and no removal effects"

    def attribute(self, journeys: Journeys) -> pl.DataFrame:
        n = journeys.n_channels
        return credit_frame(journeys, np.full(n, journeys.total_conversions / n), np.zeros(n))

    def transition_table(self) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "from": ["BEGIN", "BEGIN", "s1", "s1", "s2"],
                "to": ["s1", "s2", "WON", "LOST", "LOST"],
                "count": [3.0, 1.0, 1.0, 2.0, 1.0],
                "probability": [0.75, 0.25, 1 / 3, 2 / 3, 1.0],
                "from_kind": ["start", "start", "state", "state", "state"],
                "to_kind": ["state", "state", "conversion", "null", "null"],
                "from_label": ["entry", "entry", "email", "email", "display"],
                "to_label": ["email", "display", "bought", "left", "left"],
            }
        )


class BrokenMarkov(Model):
    name = "markov"
    description = "a markov model whose transition table fails"

    def attribute(self, journeys: Journeys) -> pl.DataFrame:
        zero = np.zeros(journeys.n_channels)
        return credit_frame(journeys, zero, zero)

    def transition_table(self) -> pl.DataFrame:
        raise RuntimeError("no transitions today")


@pytest.fixture
def journeys(sample_events) -> Journeys:
    return load_journeys(sample_events)


@pytest.fixture
def with_fake_markov(clean_registry):
    clean_registry.register(FakeMarkov, replace=True)
    return clean_registry


class _Scan(HTMLParser):
    """Collects ids, tags, attributes and style text of an HTML document."""

    URL_ATTRS: ClassVar[set[str]] = {"src", "href", "xlink:href", "action", "poster", "data"}

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        d = dict(attrs)
        self.tags.append((tag, d))
        if d.get("id"):
            self.ids.append(d["id"])
        if d.get("style"):
            self.styles.append(d["style"])
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.styles.append(data)

    def external_references(self) -> list[str]:
        """Every reference that would make a browser go to the network."""
        found = []
        for tag, attrs in self.tags:
            for name, value in attrs.items():
                if name in self.URL_ATTRS and value and re.match(r"\s*(https?:)?//", value, re.I):
                    found.append(f"<{tag} {name}={value}>")
            if tag in ("link", "iframe", "object", "embed", "img", "audio", "video", "source"):
                found.append(f"<{tag}>")
            if tag == "script" and attrs.get("src"):
                found.append("<script src>")
        for css in self.styles:
            found += re.findall(r"url\(\s*['\"]?\s*(?:https?:)?//[^)]*\)|@import[^;]*", css, re.I)
        return found


def scan(text: str) -> _Scan:
    parser = _Scan()
    parser.feed(text)
    return parser


# -- the document ----------------------------------------------------------------------
def test_report_has_every_section_and_chart(journeys, with_fake_markov):
    text = render_report(journeys, ["linear", "last_touch"], costs={"display": 100.0})
    doc = scan(text)
    assert [i for i in doc.ids if i in SECTIONS] == list(SECTIONS)
    charts = [a["data-chart"] for t, a in doc.tags if t == "svg"]
    assert charts == ["models", "path-lengths", "markov"]
    # the model chart has one bar per channel and model (the markov graph run is extra)
    chart = text.split('data-chart="models"')[1].split("</svg>")[0]
    assert chart.count('class="bar"') == 2 * journeys.n_channels


def test_markov_graph_draws_the_transitions(journeys, with_fake_markov):
    text = render_report(journeys, ["markov"])
    graph = text.split('data-chart="markov"')[1].split("</svg>")[0]
    states = set(re.findall(r'data-state="([^"]+)"', graph))
    assert states == {*journeys.channels, "(start)", "(conversion)", "(null)"}
    assert graph.count("<path d=") >= journeys.n_channels  # at least one edge per channel
    assert "Removal effects" in text


def test_markov_section_is_a_note_when_the_model_is_missing(journeys):
    with use_registry(Registry(include=lambda dist: False)) as registry:
        registry.register(Linear)  # as if no markov model were installed
        text = render_report(journeys, ["linear"])
    section = text.split('id="markov"')[1].split("</section>")[0]
    assert "omitted" in section and "<svg" not in section


def test_markov_section_is_a_note_when_the_model_fails(journeys, clean_registry):
    clean_registry.register(BrokenMarkov, replace=True)
    text = render_report(journeys, ["linear", "markov"])
    section = text.split('id="markov"')[1].split("</section>")[0]
    assert "no transitions today" in section and "<svg" not in section


def test_costs_section_lists_cpa_per_model(journeys, with_fake_markov):
    text = render_report(journeys, ["linear"], costs={"display": 1000.0, "email": 10.0})
    section = text.split('id="costs"')[1].split("</section>")[0]
    assert "Cost per conversion (CPA)" in section and "ROAS" in section
    assert "no cost for channel(s)" in section  # the uncosted channels are named
    assert 'id="costs"' not in render_report(journeys, ["linear"])


def test_paths_input_lists_unavailable_kpis_once_in_a_footnote_not_as_tiles(
    journeys, with_fake_markov
):
    text = render_report(journeys.aggregate(), ["linear"])
    section = text.split('id="kpis"')[1].split("</section>")[0]
    cards = re.findall(r'class="card" data-kpi="([^"]+)"', section)
    assert "customers" not in cards and "days_to_conversion_median" not in cards
    assert cards and "unavailable" not in section.split('id="kpis-unavailable"')[0]
    footnote = section.split('id="kpis-unavailable"')[1]
    assert footnote.count("Customers, Value per customer") == 1
    assert "the input has no customers (paths table)" in footnote
    assert section.count("paths table") == 2  # customers, and the touch times: each said once


def test_names_are_escaped(with_fake_markov):
    j = Journeys.from_paths([["<b>x</b>", "a&b"], ["a&b"]], conversions=[1, 0], nulls=[0, 1])
    text = render_report(j, ["linear"])
    assert "<b>x</b>" not in text and "&lt;b&gt;x&lt;/b&gt;" in text


def test_report_makes_no_network_reference(journeys, with_fake_markov):
    text = render_report(journeys, ["linear", "markov"], costs={"display": 5.0})
    assert scan(text).external_references() == []
    # the scanner itself finds what it should
    bad = '<link href="https://cdn.example/x.css"><div style="background:url(//x.io/a.png)">'
    assert len(scan(bad).external_references()) == 3


def test_write_report_refuses_to_overwrite_an_input(journeys, tmp_path, sample_events):
    from attribution.errors import OutputError

    with pytest.raises(OutputError, match="refusing to overwrite"):
        write_report(sample_events, journeys, ["linear"], inputs=(sample_events,))


def test_report_command_writes_one_file(sample_events, tmp_path, with_fake_markov):
    out = tmp_path / "report.html"
    result = CliRunner().invoke(
        cli,
        ["report", str(sample_events), "-o", str(out), "-m", "linear", "-m", "time_decay"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "" and "wrote" in result.stderr
    text = out.read_text()
    assert text.startswith("<!DOCTYPE html>") and "time_decay" in text
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no temporary left over


def test_report_command_needs_an_output(sample_events):
    result = CliRunner().invoke(cli, ["report", str(sample_events)])
    assert result.exit_code == 2 and "--output" in result.output


# -- a renderer of a finished run ------------------------------------------------------
@pytest.fixture
def finished(journeys, with_fake_markov):
    """A run, its KPIs and its costed table, made before anything is rendered."""
    result = attribute(journeys, ["linear", "markov"])
    joined = join_costs(result.credits, {"display": 100.0})
    assert joined.uncosted  # the page must name them
    costed = joined.table
    return result, compute_kpis(journeys), costed


def test_render_runs_no_model_kpi_or_cost_join(finished, monkeypatch):
    result, kpis, costed = finished

    def forbidden(*args, **kwargs):
        raise AssertionError("the renderer ran something")

    for run in result.runs:
        monkeypatch.setattr(type(run.model), "attribute", forbidden)
    monkeypatch.setattr(Registry, "get", forbidden)
    monkeypatch.setattr(Registry, "load_all", forbidden)
    for module, name in [
        ("attribution.api", "attribute"),
        ("attribution.api", "run_model"),
        ("attribution.kpis", "compute_kpis"),
        ("attribution.costs", "join_costs"),
    ]:
        monkeypatch.setattr(sys.modules[module], name, forbidden)
    text = render(result, kpis, costed, title="finished", source="events.csv")
    doc = scan(text)
    assert [i for i in doc.ids if i in SECTIONS] == list(SECTIONS)
    assert [a["data-chart"] for t, a in doc.tags if t == "svg"] == [
        "models",
        "path-lengths",
        "markov",
    ]
    # the uncosted channels are named from the costed table itself
    assert "no cost for channel(s)" in text.split('id="costs"')[1].split("</section>")[0]


def test_render_is_deterministic_and_its_ids_unique(finished):
    text = render(*finished)
    assert render(*finished) == text  # no dates, no random SVG ids
    counts = collections.Counter(scan(text).ids)
    assert [i for i, n in counts.items() if n > 1] == []
    assert "<?xml" not in text and "<!DOCTYPE svg" not in text


def test_graph_is_found_by_capability_and_roles_come_from_the_table(journeys):
    result = attribute(journeys, [Linear(), Chain()])
    text = render(result, compute_kpis(journeys))
    graph = text.split('data-chart="markov"')[1].split("</svg>")[0]
    kinds = dict(re.findall(r'data-state="([^"]+)" data-kind="([^"]+)"', graph))
    assert kinds == {
        "BEGIN": "start",
        "s1": "state",
        "s2": "state",
        "WON": "conversion",
        "LOST": "null",
    }
    # the conversion sits at the right edge, where a channel (on the circle) never is
    won = re.search(r'data-state="WON".*?<circle cx="([\d.]+)"', graph)
    assert won and float(won.group(1)) == 810.0
    labels = re.findall(r'<g class="node"[^>]*>.*?<text [^>]*>([^<]+)</text></g>', graph)
    assert sorted(labels) == ["bought", "display", "email", "entry", "left"]
    assert "The Markov chain of the Chain model" in text
    assert "Removal effects" not in text  # the chain has none (HasRemovalEffects)


def test_report_runs_a_registered_chain_for_the_graph_when_none_was_asked(journeys):
    with use_registry(Registry(include=lambda dist: False)) as registry:
        registry.register(Linear)
        registry.register(Chain)
        text = render_report(journeys, ["linear"])
    section = text.split('id="markov"')[1].split("</section>")[0]
    assert "Chain (default parameters, for this graph)" in section
    assert 'data-chart="markov"' in section
    # the graph's run is not one of the models compared
    assert "chain" not in text.split('id="credits"')[1].split("</section>")[0]


def test_without_matplotlib_the_report_has_tables_graph_and_one_note(
    journeys, with_fake_markov, monkeypatch
):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now fails
    text = render_report(journeys, ["linear", "markov"])
    doc = scan(text)
    assert [i for i in doc.ids if i in SECTIONS] == [i for i in SECTIONS if i != "costs"]
    assert [a["data-chart"] for t, a in doc.tags if t == "svg"] == ["markov"]
    assert text.count("attribution-engine[plot]") == 1
    lengths = text.split('id="path-lengths"')[1].split("</section>")[0]
    assert "<table" in lengths and "Converting journeys" in lengths


def test_report_and_plot_give_a_model_one_colour(finished):
    from matplotlib.colors import to_hex

    from attribution.plot import new_figure, plot_credits

    result, kpis, _ = finished
    chart = render(result, kpis).split('data-chart="models"')[1].split("</svg>")[0]
    fills = re.findall(
        r'<g id="models-bar-(\d+)-0" class="bar">.*?fill: (#[0-9a-f]{6})', chart, re.S
    )
    ax = plot_credits(result.credits, ax=new_figure(8, 2).add_subplot())
    plotted = [to_hex(container.patches[0].get_facecolor()) for container in ax.containers]
    assert [c for _, c in fills] == plotted == [c.lower() for c in PALETTE[:2]]


# -- in a real browser ---------------------------------------------------------------------
def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile{len(list(tmp_path.glob('profile*')))}"
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


@needs_chromium
def test_report_renders_in_headless_chromium(journeys, tmp_path, with_fake_markov):
    page = tmp_path / "report.html"
    write_report(page, journeys, ["linear", "position_based", "markov"], costs={"email": 5.0})
    dom = chromium(tmp_path, "--window-size=1200,900", "--dump-dom", page.as_uri()).stdout
    doc = scan(dom)
    assert [i for i in doc.ids if i in SECTIONS] == list(SECTIONS)
    # the page's own script counts the charts the browser laid out with a size
    body = next(a for t, a in doc.tags if t == "body")
    assert body.get("data-charts-rendered") == "3"
    shot = tmp_path / "shot.png"
    chromium(tmp_path, "--window-size=1000,2400", f"--screenshot={shot}", page.as_uri())
    assert shot.stat().st_size > 20_000  # a blank page compresses to a few kilobytes


def page_requests(tmp_path: Path, page: Path) -> list[str]:
    """URLs the page itself asked the network for, from chromium's net log.

    The browser's own background requests (updates, accounts) are told apart by
    their network isolation key, which is the page's site (file://) for the page's.
    """
    log = tmp_path / f"netlog{len(list(tmp_path.glob('netlog*')))}.json"
    chromium(
        tmp_path,
        "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--log-net-log={log}",
        "--dump-dom",
        page.as_uri(),
    )
    netlog = json.loads(log.read_text())
    start = netlog["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    urls = []
    for event in netlog["events"]:
        params = event.get("params") or {}
        if event["type"] == start and "file://" in params.get("network_isolation_key", ""):
            if not params["url"].startswith(("file:", "data:", "about:")):
                urls.append(params["url"])
    return urls


@needs_chromium
def test_report_makes_no_network_request_in_chromium(journeys, tmp_path, with_fake_markov):
    page = tmp_path / "report.html"
    write_report(page, journeys, ["linear", "markov"])
    assert page_requests(tmp_path, page) == []
    control = tmp_path / "control.html"  # the check can fail: a page that does fetch
    control.write_text('<!DOCTYPE html><img src="http://example.invalid/x.png">')
    assert page_requests(tmp_path, control) == ["http://example.invalid/x.png"]


# -- what a manager reads ------------------------------------------------------------------
def section_of(text: str, ident: str) -> str:
    return text.split(f'<section id="{ident}">')[1].split("</section>")[0]


def visible(html_text: str) -> str:
    """The text a reader sees (tags and titles taken out)."""
    html_text = re.sub(r"<title>.*?</title>", "", html_text, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html_text)


@pytest.fixture
def covered(journeys, sample_events):
    from attribution.coverage import Coverage, input_period

    period = input_period(sample_events)
    return Coverage("events.csv", period, 30.0, "EUR")


def test_report_opens_with_period_lookback_counts_value_and_models(
    journeys, covered, with_fake_markov
):
    text = render_report(
        journeys, ["linear", "position_based:first=0.3,last=0.5"], coverage=covered
    )
    assert text.index('id="overview"') < text.index('id="kpis"')
    overview = visible(section_of(text, "overview"))
    s = attribute(journeys, ["linear"]).summary
    period = covered.period
    assert f"{period.first_event:%Y-%m-%d} to {period.last_event:%Y-%m-%d}" in overview
    assert "30 days before each conversion" in overview
    assert f"{s['journeys']:,.0f}" in overview and f"{s['customers']:,.0f}" in overview
    assert f"{s['conversions']:,.0f} ({s['attributed_conversions']:,.0f} attributed" in overview
    assert f"EUR {s['conversion_value']:,.2f}" in overview
    # each model once, in words, with the plain sentence its class gives (parameters filled in)
    assert "Linear" in overview and "Splits each conversion equally among the touches" in overview
    assert "Gives 30% of each conversion to the first touch, 50% to the last" in overview


def test_without_a_currency_values_are_plain_numbers(journeys, with_fake_markov):
    text = render_report(journeys, ["linear"])
    assert "EUR" not in text
    value = attribute(journeys, ["linear"]).summary["conversion_value"]
    assert f"<dd>{value:,.2f}</dd>" in section_of(text, "overview")


def test_a_plugin_gives_its_own_summary_or_its_description(journeys, clean_registry):
    class Plain(Linear):
        name = "plain"
        description = "the technical line"
        summary = "What a manager reads about plain."

    class Terse(Linear):
        name = "terse"
        description = "Only a description here."

    result = attribute(journeys, [Plain(), Terse()])
    overview = visible(section_of(render(result, compute_kpis(journeys)), "overview"))
    assert "What a manager reads about plain." in overview
    assert "the technical line" not in overview
    assert "Only a description here." in overview


def test_measures_read_in_words_and_headline_kpis_come_first(journeys, covered, with_fake_markov):
    from attribution.labels import HEADLINE_KPIS

    text = render_report(journeys, ["linear", "markov"], costs={"display": 10.0}, coverage=covered)
    kpis = section_of(text, "kpis")
    cards = re.findall(r'class="card" data-kpi="([^"]+)"', kpis)
    assert cards == list(HEADLINE_KPIS)  # an events input has every headline KPI
    assert "Average order value" in kpis and "EUR " in kpis
    # the rest in groups, none of them repeating a headline KPI
    grouped = re.findall(r'<tr data-kpi="([^"]+)">', kpis)
    assert grouped and not set(grouped) & set(HEADLINE_KPIS)
    assert "<h3>Path shape</h3>" in kpis
    # no identifier of the engine's own in a header: channels and model labels are data
    for ident in ("channels", "top-paths", "kpis", "costs", "comparison"):
        headers = re.findall(r"<th>([^<]*)</th>", section_of(text, ident))
        assert headers, ident
        assert [h for h in headers if "_" in h] == [], ident
    assert "Conversion rate" in section_of(text, "channels")


def test_comparison_gives_each_channels_change_against_last_touch(journeys, with_fake_markov):
    result = attribute(journeys, ["linear", "last_touch"])
    text = render(result, compute_kpis(journeys), baseline="last_touch")
    section = section_of(text, "comparison")
    credits = result.credits
    wanted = {}
    for channel in journeys.channels:
        lin = credits.filter((pl.col("model") == "linear") & (pl.col("channel") == channel))
        last = credits.filter((pl.col("model") == "last_touch") & (pl.col("channel") == channel))
        a, b = lin["conversions"].item(), last["conversions"].item()
        wanted[channel] = f"{100 * (a - b) / b:+.1f}%" if b else ""
    table_pct = section.split("<h3>Change, %</h3>")[1].split("</table>")[0]
    rows = re.findall(
        r"<tr><td>([^<]+)</td><td[^>]*>[^<]*</td><td[^>]*>([^<]*)</td></tr>", table_pct
    )
    assert dict(rows) == wanted
    assert "Last touch (baseline)" in section


def test_baseline_not_among_the_models_runs_on_its_own(journeys, with_fake_markov):
    text = render_report(journeys, ["linear", "markov"])  # last_touch is the default baseline
    assert "Last touch (baseline)" in section_of(text, "comparison")
    assert "Last touch" not in section_of(text, "credits")  # not one of the models compared
    none = render_report(journeys, ["linear"], baseline=None)
    assert "no baseline model was given" in section_of(none, "comparison")


def test_an_unknown_baseline_asked_for_fails_before_running(journeys):
    from attribution.errors import ModelError

    with pytest.raises(ModelError, match="unknown model 'nope'"):
        render_report(journeys, ["linear"], baseline="nope")


def many_channels(n: int = 60, rows: int = 900, seed: int = 5) -> Journeys:
    """Journeys over ``n`` channels, some with long names, seeded."""
    rng = np.random.default_rng(seed)
    names = [f"channel {i:02d}" for i in range(n - 2)]
    names += ["Paid search — brand campaign for the spring sale, Germany and Austria", "x" * 40]
    paths = [list(rng.choice(names, size=rng.integers(1, 5))) for _ in range(rows)]
    conv = (rng.random(rows) < 0.4).astype(float)
    return Journeys.from_paths(paths, conversions=conv, value=conv * 50, nulls=1 - conv)


def test_sixty_channels_chart_shows_the_top_and_one_other_bar_tables_all(with_fake_markov):
    from attribution.report.document import TOP_CHANNELS

    j = many_channels()
    text = render_report(j, ["linear", "markov", "first_touch"])
    chart = section_of(text, "model-chart")
    assert chart.count('class="bar"') == 3 * (TOP_CHANNELS + 1)
    assert f"Other ({j.n_channels - TOP_CHANNELS} channels)" in chart
    credits = section_of(text, "credits").split("<h3>Conversions</h3>")[1].split("</table>")[0]
    assert credits.count("<tr>") == 1 + j.n_channels  # the header and every channel
    # the chain is too large to draw: every state's entry and exits are in a table instead
    markov = section_of(text, "markov")
    assert "<svg" not in markov
    exits = markov.split("<h3>")[0]
    assert exits.count("<tr>") == 1 + j.n_channels


def test_markov_graph_draws_and_prints_every_transition_into_conversion_and_null(
    journeys, with_fake_markov
):
    result = attribute(journeys, ["markov"])
    table_ = result.runs[0].model.transition_table()
    exits = table_.filter(pl.col("to").is_in(["(conversion)", "(null)"]))
    starts = table_.filter(pl.col("from") == "(start)")
    assert (exits["probability"] < 0.1).any()  # the ones an old threshold left out
    graph = (
        render(result, compute_kpis(journeys)).split('data-chart="markov"')[1].split("</svg>")[0]
    )
    edges = re.findall(
        r'<g class="edge" data-from="([^"]+)" data-to="([^"]+)" data-p="[^"]+">'
        r"<path [^>]*><title>[^<]*</title></path><text [^>]*>([^<]+)</text></g>",
        graph,
    )
    drawn = {(a, b): printed for a, b, printed in edges}
    for a, b, p in exits.select("from", "to", "probability").iter_rows():
        word = "converts" if b == "(conversion)" else "leaves"
        assert drawn[(a, b)] == f"{word} {100 * p:.1f}%"
    for a, b, p in starts.select("from", "to", "probability").iter_rows():
        assert drawn[(a, b)] == f"{100 * p:.1f}%"
    assert len(drawn) == exits.height + starts.height


def test_formulas_are_in_an_appendix(journeys, with_fake_markov):
    text = render_report(journeys, ["linear"], costs={"email": 1.0})
    appendix = visible(section_of(text, "formulas"))
    for words in ("CPA", "cost / credited conversions", "Removal effect", "Average order value"):
        assert words in appendix
    assert "docs/kpis.md" not in text
    assert list(SECTIONS)[-1] == "formulas"


def test_model_colours_follow_the_name_in_report_and_plot_and_between_runs(journeys):
    from matplotlib.colors import to_hex

    from attribution.plot import model_color, new_figure, plot_credits

    alone = attribute(journeys, ["markov"])
    both = attribute(journeys, ["linear", "markov"])
    for result in (alone, both):
        text = render(result, compute_kpis(journeys))
        chart = text.split('data-chart="models"')[1].split("</svg>")[0]
        fills = dict(
            re.findall(
                r'<g id="models-bar-(\d+)-0" class="bar">.*?fill: (#[0-9a-f]{6})', chart, re.S
            )
        )
        ax = plot_credits(result.credits, ax=new_figure(8, 2).add_subplot())
        plotted = [to_hex(c.patches[0].get_facecolor()) for c in ax.containers]
        labels = [run.label for run in result.runs]
        assert [fills[str(k)] for k in range(len(labels))] == plotted
        assert plotted == [model_color(label).lower() for label in labels]
        swatches = re.findall(r'class="swatch" style="background:(#[0-9A-Fa-f]{6})"', text)
        assert [c.lower() for c in swatches] == plotted
    assert model_color("markov") == PALETTE[1]  # the same colour alone and beside linear


# -- the page in a real browser, at a desktop's and a phone's width -------------------------
@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from tests.browser import Browser

    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed")
    b = Browser(tmp_path_factory.mktemp("chromium"))
    yield b
    b.close()


def _keep_screenshot(name: str, png: bytes) -> None:
    """Where REPORT_SCREENSHOTS names a folder, keep the picture there to look at."""
    import os

    folder = os.environ.get("REPORT_SCREENSHOTS")
    if folder:
        Path(folder, name).write_bytes(png)


@needs_chromium
@pytest.mark.parametrize("width", [1280, 390])
def test_report_fits_the_screen_at_desktop_and_phone_width(
    width, browser, journeys, tmp_path, covered, with_fake_markov
):
    from tests.browser import png_size

    pages = {
        "sample": render_report(
            journeys,
            None,
            costs=ROOT_COSTS,
            coverage=covered,
            title="A report whose title is long enough to need two lines on a phone",
        ),
        "sixty": render_report(many_channels(), ["linear", "markov", "position_based"]),
    }
    for name, text in pages.items():
        page = tmp_path / f"{name}.html"
        page.write_text(text)
        measured, png = browser.open(page, width)
        _keep_screenshot(f"report-{name}-{width}.png", png)
        assert measured["innerWidth"] == width
        assert measured["scrollWidth"] <= width, measured["overflowing"]
        assert measured["overflowing"] == []
        assert measured["charts"] == 3 if name == "sample" else 2
        assert [u for u in measured["requests"] if not u.startswith("file:")] == []
        w, h = png_size(png)
        assert w == width and h > 2500  # the whole page, not one screen of it
        assert len(png) > 60_000  # a blank page compresses to a few kilobytes


@needs_chromium
def test_overflow_check_catches_a_page_wider_than_the_screen(browser, tmp_path):
    page = tmp_path / "wide.html"
    page.write_text(
        '<!DOCTYPE html><meta name="viewport" content="width=device-width">'
        '<div class="x" style="width:900px">wide</div>'
    )
    measured, _ = browser.open(page, 390)
    assert measured["scrollWidth"] > 390 and measured["overflowing"] == ["DIV.x"]


@needs_chromium
def test_markov_graph_fits_a_printed_page(browser, journeys, tmp_path, with_fake_markov):
    page = tmp_path / "print.html"
    page.write_text(render_report(journeys, ["linear", "markov"]))
    measured, _ = browser.open(page, 700, media="print")
    # on paper the graph shrinks to the page, never cut at its edge
    assert 0 < measured["svgWidths"]["markov"] <= 700
    assert browser.pdf.startswith(b"%PDF") and len(browser.pdf) > 20_000


def test_a_paths_table_report_says_what_it_cannot_cover(journeys, with_fake_markov):
    overview = visible(section_of(render_report(journeys.aggregate(), ["linear"]), "overview"))
    assert "not in the input (a paths table has no dates)" in overview
    assert "Customers" in overview and "not in the input (paths table)" in overview
    assert "Lookback window" not in overview  # a paths table was built elsewhere


def test_report_command_takes_the_currency_and_the_baseline(sample_events, tmp_path):
    out = tmp_path / "r.html"
    args = ["report", str(sample_events), "-o", str(out), "-m", "linear", "-m", "first_touch"]
    result = CliRunner().invoke(
        cli, [*args, "--currency", "EUR", "--baseline", "first_touch", "--lookback", "14"]
    )
    assert result.exit_code == 0, result.output
    text = out.read_text()
    overview = visible(section_of(text, "overview"))
    assert "14 days before each conversion" in overview and "EUR " in overview
    assert "events.csv" in overview and "2026-01-01 to " in overview
    comparison = section_of(text, "comparison")
    assert "First touch (baseline)" in comparison and "<th>Linear</th>" in comparison
    result = CliRunner().invoke(cli, [*args, "--baseline", "none"])
    assert "no baseline model was given" in section_of(out.read_text(), "comparison")


def test_report_with_intervals_draws_the_share_bounds_as_error_bars(journeys, monkeypatch):
    from attribution.intervals import IntervalSettings
    from attribution.report import charts
    from attribution.report.build import render_report

    seen = []
    real = charts.plot_credits

    def spy(credits, *args, **kwargs):
        seen.append(credits)
        return real(credits, *args, **kwargs)

    monkeypatch.setattr(charts, "plot_credits", spy)
    page = render_report(journeys, ["linear"], intervals=IntervalSettings(n=20, level=0.9, seed=1))
    assert seen and {"share_lo", "share_hi"} <= set(seen[-1].columns)
    bounds = seen[-1].filter(pl.col("model") == "linear")
    assert (bounds["share_lo"] <= bounds["share"]).all()
    assert (bounds["share"] <= bounds["share_hi"]).all()
    assert "<!DOCTYPE html>" in page
    seen.clear()
    render_report(journeys, ["linear"])
    assert "share_lo" not in seen[-1].columns  # no bounds asked, none drawn
