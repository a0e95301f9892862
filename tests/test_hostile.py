"""Issue 12, the builder and model families: hostile inputs that once crashed,
hung or gave quietly wrong answers, each guarded at its root."""

from __future__ import annotations

import dataclasses
import re
import tracemalloc

import networkx as nx
import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from attribution.api import attribute, run_model, summarise
from attribution.arrays import csr_offsets
from attribution.builder import build_journeys, load_journeys
from attribution.cli.main import cli
from attribution.errors import InputError, ModelError
from attribution.journeys import Journeys
from attribution.models import markov as mk
from attribution.models import shapley as sh
from attribution.names import FORMULA_STARTS, escape_mathtext, spreadsheet_safe, xml_text
from attribution.sources import read_events
from attribution.spec import make_model, parse_spec
from attribution.testing import rename_channels, shuffle_rows
from attribution.testing.strategies import journeys as journeys_strategy
from tests.conftest import write_csv


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def _journeys(codes: list[list[int]], conv, value=None, nulls=None, n_ch=None) -> Journeys:
    lengths = np.array([len(c) for c in codes])
    flat = np.concatenate([np.asarray(c) for c in codes]).astype(np.uint32)
    n_ch = n_ch or int(flat.max()) + 1
    conv = np.asarray(conv, dtype=float)
    return Journeys(
        channels=tuple(f"c{i:03d}" for i in range(n_ch)),
        codes=flat,
        offsets=csr_offsets(lengths),
        conversions=conv,
        value=conv * 2.0 if value is None else np.asarray(value, dtype=float),
        nulls=1.0 - conv if nulls is None else np.asarray(nulls, dtype=float),
    )


# -- resources are bounded ---------------------------------------------------
@pytest.mark.parametrize("spec", ["markov:order=1,order=2", "shapley:seed=1, seed = 1"])
def test_a_key_given_twice_in_a_spec_is_an_error(spec):
    with pytest.raises(ModelError, match="twice"):
        parse_spec(spec)
    with pytest.raises(ModelError, match="twice"):
        make_model(spec)


def test_default_shapley_runs_when_every_converting_set_is_above_max_exact():
    j = Journeys.from_paths(
        [["a", "b", "c"], ["a", "b"], ["c", "a", "b"]], [1, 1, 0], nulls=[1, 0, 1]
    )
    model = make_model("shapley:max_exact=1")
    credit = model.attribute(j)
    assert credit["conversions"].sum() == pytest.approx(2.0)
    assert model.details()["sampled_sets"] == 2


def _wide_sets(seed: int = 0, n_ch: int = 30, rows: int = 12) -> Journeys:
    rng = np.random.default_rng(seed)
    codes = [np.concatenate([rng.permutation(n_ch), rng.integers(0, n_ch, 5)]) for _ in range(rows)]
    conv = (np.arange(rows) % 2).astype(float)
    return _journeys([c.tolist() for c in codes], conv, n_ch=n_ch)


def test_sampled_shapley_works_in_blocks_and_the_blocks_do_not_change_the_credit(monkeypatch):
    j = _wide_sets()
    model = sh.Shapley(max_exact=4, samples=4000)
    whole = model.attribute(j)
    errors = model.standard_error_
    monkeypatch.setattr(sh, "_CHUNK", 1 << 12)  # blocks of ~136 orders of 30 channels
    blocked_model = sh.Shapley(max_exact=4, samples=4000)
    blocked = blocked_model.attribute(j)
    np.testing.assert_allclose(whole["conversions"], blocked["conversions"], rtol=1e-12)
    for channel, e in errors.items():
        assert blocked_model.standard_error_[channel]["conversions"] == pytest.approx(
            e["conversions"], rel=1e-9
        )


def test_sampled_shapley_memory_does_not_grow_with_the_samples(monkeypatch):
    monkeypatch.setattr(sh, "_CHUNK", 1 << 14)
    j = _wide_sets(n_ch=40, rows=4)
    peaks = []
    for samples in (2_000, 40_000):
        tracemalloc.start()
        sh.Shapley(max_exact=4, samples=samples).attribute(j)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    # 40,000 orders of 40 channels held at once would be 40000 x 40 x (4 + 4 + 8 + 8)
    # bytes, some 38 MB; in blocks the peak stays that of the small run.
    assert peaks[1] < 2 * peaks[0] + (1 << 20), peaks


# -- the Markov chain of one long journey ------------------------------------
def _long_journey(n: int, n_ch: int, seed: int = 0, rows: int = 1) -> Journeys:
    rng = np.random.default_rng(seed)
    cuts = np.sort(rng.choice(np.arange(1, n), rows - 1, replace=False)) if rows > 1 else []
    lengths = np.diff(np.concatenate([[0], cuts, [n]])).astype(np.int64)
    conv = (rng.random(rows) < 0.6).astype(float)
    conv[0] = 1.0
    return Journeys(
        channels=tuple(f"c{i:02d}" for i in range(n_ch)),
        codes=rng.integers(0, n_ch, n).astype(np.uint32),
        offsets=csr_offsets(lengths),
        conversions=conv,
        value=conv * rng.uniform(1, 50, rows),
        nulls=1.0 - conv,
    )


@pytest.mark.parametrize(
    ("n", "n_ch", "order", "rows"),
    [(3000, 6, 3, 1), (2500, 40, 2, 1), (4000, 12, 2, 7), (3000, 300, 1, 3)],
)
def test_removal_solver_for_long_journeys_agrees_with_the_exact_solvers(n, n_ch, order, rows):
    chain = mk._build_chain(_long_journey(n, n_ch, rows=rows), order)
    reference = mk._solve(chain, "splu")
    got = mk._solve(chain, "removals")
    assert got.probability == pytest.approx(reference.probability, rel=1e-12)
    assert got.value == pytest.approx(reference.value, rel=1e-12)
    np.testing.assert_allclose(
        got.probability_without, reference.probability_without, rtol=0, atol=1e-9
    )
    np.testing.assert_allclose(
        got.value_without, reference.value_without, rtol=0, atol=1e-9 * reference.value
    )


def test_removals_that_bicgstab_leaves_are_solved_by_gmres(monkeypatch):
    # No BiCGSTAB iteration at all: every removal falls to block GMRES, which
    # must give the same exact answer.
    chain = mk._build_chain(_long_journey(3000, 12, seed=5, rows=4), 3)
    reference = mk._solve(chain, "splu")
    monkeypatch.setattr(mk, "_BICG_ITERATIONS", 0)
    got = mk._solve(chain, "removals")
    np.testing.assert_allclose(
        got.probability_without, reference.probability_without, rtol=0, atol=1e-9
    )


def test_bicgstab_proves_its_removals_on_one_long_journey(monkeypatch):
    chain = mk._build_chain(_long_journey(20_000, 30, seed=4), 3)

    def refuse(*args, **kwargs):
        raise AssertionError("GMRES was needed")

    monkeypatch.setattr(mk, "_block_gmres", refuse)
    got = mk._solve(chain, "removals")
    reference = mk._solve(chain, "splu")
    np.testing.assert_allclose(
        got.probability_without, reference.probability_without, rtol=0, atol=1e-9
    )


def test_one_long_journey_is_solved_by_removals_without_any_sparse_lu(monkeypatch):
    chain = mk._build_chain(_long_journey(20_000, 20, seed=3), 3)

    def refuse(*args, **kwargs):
        raise AssertionError("a sparse LU of a chain that fills in")

    monkeypatch.setattr(mk, "_solve_splu", refuse)
    import scipy.sparse.linalg  # markov imports it only where it needs it

    monkeypatch.setattr(scipy.sparse.linalg, "splu", refuse)
    solution = mk._solve(chain)
    assert solution.probability == pytest.approx(1.0)
    assert (solution.probability_without >= 0).all() and (solution.probability_without < 1).all()


def test_contracting_pass_through_states_keeps_who_holds_which_channel():
    # One journey a b c a b d: a and c have one way on, b branches (to c or d).
    j = _journeys([[0, 1, 2, 0, 1, 3]], [1.0])
    chain = mk._build_chain(j, 1)
    probs = mk._probabilities(chain.counts)
    q = mk._csr(probs[: chain.n_states + 1, : chain.n_states + 1])
    red = mk._contract(q, mk._csr(chain.members))
    index = {name: i + 1 for i, name in enumerate(chain.names)}
    assert red.states.tolist() == [0, index["c001"], index["c003"]]
    edges = {
        (int(a), int(b)): set(np.flatnonzero(~red.alive(red.through, np.arange(4))[e]).tolist())
        for e, (a, b) in enumerate(zip(red.src, red.dst, strict=True))
    }
    # start -> (a) -> b, b -> (c, a) -> b, b -> d: each folded edge knows what it passed
    assert edges == {(0, 1): {0}, (1, 1): {0, 2}, (1, 2): set()}


# -- names never collide with the engine's own -------------------------------
RESERVED = ["(start)", "(null)", "(conversion)", "(total)", "start", "exit", "success", "[null]"]
_FRAGMENTS = st.sampled_from(
    ["\x00", "\x01", "\x1f", "\r", "\n", "\t", "\x7f", "\ufffe", " > ", ">", "$", "=", "(", ")"]
) | st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=3)
hostile_names = st.one_of(
    st.sampled_from([*RESERVED, "a > b", "a", "b", " > ", ">", "=cmd", "-1", "@x", "$x$"]),
    st.lists(_FRAGMENTS, min_size=1, max_size=4).map("".join).filter(bool),
)


@st.composite
def journeys_with_names(draw: st.DrawFn) -> Journeys:
    names = draw(st.lists(hostile_names, min_size=1, max_size=5, unique=True))
    paths = draw(
        st.lists(st.lists(st.sampled_from(names), min_size=1, max_size=5), min_size=1, max_size=8)
    )
    conv = draw(st.lists(st.integers(0, 1), min_size=len(paths), max_size=len(paths)))
    return Journeys.from_paths(paths, conv, nulls=[1 - c for c in conv])


@settings(max_examples=60, deadline=None)
@given(journeys_with_names(), st.integers(1, 3))
def test_transition_nodes_are_unique_whatever_the_channels_are_called(j, order):
    table = mk.transition_table(j, order)
    out = table.group_by("from").agg(pl.col("probability").sum())
    np.testing.assert_allclose(out["probability"].to_numpy(), 1.0)
    chain = mk._build_chain(j, order)
    assert len(set(chain.state_ids)) == len(chain.state_ids)  # one node per state
    kinds = dict(zip(chain.state_ids, chain.state_kinds, strict=True))
    for side in ("from", "to"):
        for node, kind in table.select(side, f"{side}_kind").iter_rows():
            assert kinds[node] == kind
    assert (table["from_kind"] != "conversion").all() and (table["from_kind"] != "null").all()
    assert set(table.filter(pl.col("from_kind") == "start")["from"]) <= {mk.START}


@settings(max_examples=40, deadline=None)
@given(journeys_with_names())
def test_graphml_and_gexf_stay_well_formed_and_read_back(tmp_path_factory, j):
    graph = mk.transition_graph(j, 2)
    folder = tmp_path_factory.mktemp("graphs")
    for ext, write, read in (
        ("graphml", nx.write_graphml, nx.read_graphml),
        ("gexf", nx.write_gexf, nx.read_gexf),
    ):
        path = folder / f"chain.{ext}"
        write(graph, path)
        back = read(path)
        assert set(back.nodes) == set(graph.nodes)
        assert back.number_of_edges() == graph.number_of_edges()
        assert {n: d["kind"] for n, d in back.nodes(data=True)} == dict(graph.nodes(data="kind"))
        probability = {}
        for a, _, p in back.edges(data="probability"):
            probability[a] = probability.get(a, 0.0) + p
        np.testing.assert_allclose(list(probability.values()), 1.0)


def test_a_channel_named_like_an_engine_node_is_its_own_node():
    j = Journeys.from_paths([["(null)"], ["(start)", "(conversion)"]], [1, 0], nulls=[0, 1])
    table = mk.transition_table(j)
    assert table.filter(pl.col("to_label") == "(null)")["to_kind"].sort().to_list() == [
        "null",
        "state",
    ]
    graph = mk.transition_graph(j)
    assert graph.number_of_nodes() == 3 + 3  # three channels, three engine nodes


def test_xml_text_escapes_only_what_xml_cannot_hold():
    assert xml_text("a\x00b\x1f\rc\td\ne") == "a\\x00b\\x1f\\x0dc\td\ne"
    assert xml_text("\ufffe\ud800ok é") == "\\ufffe\\ud800ok é"


def test_plot_shows_dollar_signs_as_written(tmp_path):
    pytest.importorskip("matplotlib")
    from attribution.plot import new_figure, plot_credits

    credits = pl.DataFrame(
        {
            "model": ["m$1", "m$1"],
            "channel": ["$x^2$ promo", "$5 off"],
            "conversions": [1.0, 2.0],
            "value": [1.0, 2.0],
            "share": [1 / 3, 2 / 3],
        }
    )
    figure = new_figure(2, 1)
    ax = plot_credits(credits, ax=figure.add_subplot(), title="$ and $$")
    figure.savefig(tmp_path / "chart.png")  # an unbalanced $ used to raise here
    shown = [t._preprocess_math(t.get_text()) for t in ax.get_yticklabels()]
    assert shown == [("$5 off", False), ("$x^2$ promo", False)]
    assert ax.title._preprocess_math(ax.title.get_text()) == ("$ and $$", False)
    assert escape_mathtext("a$b") == "a\\$b"


def test_plot_without_costs_keeps_a_channel_named_total():
    pytest.importorskip("matplotlib")
    from attribution.plot import new_figure, plot_credits

    credits = pl.DataFrame(
        {"model": ["m", "m"], "channel": ["(total)", "a"], "conversions": [1.0, 1.0],
         "value": [1.0, 1.0], "share": [0.5, 0.5]}
    )  # fmt: skip
    ax = plot_credits(credits, ax=new_figure(2, 1).add_subplot())
    assert sorted(t.get_text() for t in ax.get_yticklabels()) == ["(total)", "a"]


@settings(max_examples=50, deadline=None)
@given(st.lists(hostile_names, min_size=1, max_size=6, unique=True))
def test_csv_cells_never_start_a_spreadsheet_formula(names):
    frame = pl.DataFrame({"channel": names, "conversions": [-1.0] * len(names)})
    safe = spreadsheet_safe(frame)
    for before, after in zip(names, safe["channel"].to_list(), strict=True):
        assert not after.startswith(FORMULA_STARTS)
        assert after in (before, "'" + before)
    assert safe["conversions"].to_list() == frame["conversions"].to_list()  # numbers untouched


def test_csv_written_by_run_and_paths_defends_formula_channels(tmp_path):
    events = write_csv(
        tmp_path / "events.csv",
        """customer_id,timestamp,channel,event,value
        a,2024-01-01,=HYPERLINK(1),touch,
        a,2024-01-02,,conversion,5
        b,2024-01-01,@SUM(A1),touch,
        b,2024-01-02,,conversion,5""",
    )
    out = tmp_path / "credit.csv"
    assert invoke("run", events, "-m", "linear", "-o", out).exit_code == 0
    stdout = invoke("paths", events).stdout
    for text in (out.read_text(), stdout):
        cells = [c for line in text.splitlines() for c in line.split(",")]
        assert not any(c.startswith(FORMULA_STARTS) for c in cells), text
        assert "'=HYPERLINK(1)" in text and "'@SUM(A1)" in text


# -- arithmetic never goes quietly wrong --------------------------------------
def _events(times, dtype=None, unit=None) -> pl.DataFrame:
    n = len(times)
    return pl.DataFrame(
        {
            "customer_id": ["a"] * n,
            "timestamp": pl.Series(times, dtype=dtype) if dtype is not None else times,
            "channel": ["x"] * (n - 1) + [None],
            "event": ["touch"] * (n - 1) + ["conversion"],
            "value": [None] * (n - 1) + [5.0],
        }
    )


@pytest.mark.parametrize(
    ("times", "unit", "shown"),
    [
        ([1.7e9, 5.0e12, 1.71e9], "s", "5000000000000.0"),  # year 160413: once wrapped first
        ([1.7e9, float("inf"), 1.71e9], "s", "inf"),
        ([1.7e12, -1e300, 1.71e12], "ms", "-1e+300"),
        ([1.7e18, 9.2e18 * 1000, 1.71e18], "ns", "9.2e+21"),
        (["2024-01-01", "+10000-01-01", "2024-02-01"], None, "'+10000-01-01'"),
    ],
)
def test_times_outside_years_1_to_9999_are_an_error_naming_the_row(times, unit, shown):
    with pytest.raises(InputError, match=rf"row 2 \({re.escape(shown)}\) is outside years"):
        load_journeys(_events(times), time_unit=unit)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (pl.Series([1_700_000_000_000, 10**16, 1_710_000_000_000]).cast(pl.Datetime("ms")), "ms"),
        (pl.Series([1_700_000_000_000_000, 2**62, 1_710_000_000_000_000]).cast(pl.Datetime), "us"),
        (pl.Series([19_700, 2_000_000_000, 19_800], dtype=pl.Int32).cast(pl.Date), "days"),
    ],
)
def test_far_out_datetimes_and_dates_are_refused_not_wrapped_or_panicking(raw, shown):
    with pytest.raises(InputError, match=rf"row 2 \(\d+ {shown} since 1970\) is outside years"):
        load_journeys(_events(raw))


def test_the_path_builder_refuses_far_out_times_in_frames_it_is_given():
    events = read_events(_events(["2024-01-01", "2024-01-02"]))
    far = events.with_columns(pl.lit(2**62).cast(pl.Datetime("us", "UTC")).alias("time"))
    with pytest.raises(InputError, match=r"row 1 is outside years 1 to 9999"):
        build_journeys(far)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1e22, 1e22, allow_nan=False), min_size=1, max_size=6))
def test_epoch_seconds_are_read_in_order_or_refused(seconds):
    frame = _events([*seconds, 1.7e9])
    try:
        events = read_events(frame, time_unit="s")
    except InputError as exc:
        assert "outside years 1 to 9999" in str(exc)
        assert any(not (-62135596800 <= s <= 253402300799) for s in [*seconds, 1.7e9])
        return
    order = np.argsort(np.array([*seconds, 1.7e9]), kind="stable")
    times = events["time"].dt.epoch("us").to_numpy()
    assert (np.diff(times[order]) >= 0).all()  # no wrap-around


def test_values_that_add_up_past_the_largest_float_are_an_error(tmp_path):
    events = write_csv(
        tmp_path / "events.csv",
        """customer_id,timestamp,channel,event,value
        a,2024-01-01,x,touch,
        a,2024-01-02,,conversion,1e308
        b,2024-01-01,y,touch,
        b,2024-01-02,,conversion,1e308""",
    )
    result = invoke("run", events, "-m", "linear")
    assert result.exit_code == 1
    assert "add up past the largest number" in result.stderr and "row 4" in result.stderr
    paths = write_csv(
        tmp_path / "paths.csv",
        """path,total_conversions,total_conversion_value
        a,1,1e308
        b,1,1e308""",
    )
    result = invoke("run", paths, "-m", "linear")
    assert result.exit_code == 1 and "total_conversion_value" in result.stderr


def test_no_credit_is_ever_inf_or_nan():
    j = Journeys.from_paths([["a"], ["a", "b"]], [1, 1], value=[1e308, 1e308])
    with pytest.raises(InputError, match="add up to inf"):
        run_model(make_model("linear"), j)

    class Overflowing(mk.Markov):
        def attribute(self, journeys):
            frame = super().attribute(journeys)
            return frame.with_columns(pl.col("value") * 1e308)

    j = Journeys.from_paths([["a"], ["a", "b"]], [1, 1], value=[10.0, 10.0])
    with pytest.raises(ModelError, match="not finite numbers: channel 'a' got inf"):
        run_model(Overflowing(), j)


# -- results do not depend on names --------------------------------------------
ALL_MODELS = [
    "first_touch",
    "last_touch",
    "linear",
    "time_decay",
    "position_based",
    "markov",
    "markov:order=2",
    "markov:order=auto,max_order=3",
    "shapley",
    "ordered_shapley",
]


@st.composite
def day_granular_logs(draw: st.DrawFn) -> pl.DataFrame:
    """Events on a handful of days, so that touches tie often."""
    n_ch = draw(st.integers(1, 5))
    rows = []
    for customer in range(draw(st.integers(1, 12))):
        days = draw(st.lists(st.integers(1, 4), min_size=1, max_size=6))
        chans = draw(st.lists(st.integers(0, n_ch - 1), min_size=len(days), max_size=len(days)))
        rows += [
            (f"u{customer}", f"2024-01-0{d}", f"ch{c}", "touch", None)
            for d, c in zip(days, chans, strict=True)
        ]
        if draw(st.booleans()):
            value = float(draw(st.integers(1, 50)))
            rows.append(
                (f"u{customer}", f"2024-01-0{draw(st.integers(2, 5))}", None, "conversion", value)
            )
    return pl.DataFrame(
        rows, schema=["customer_id", "timestamp", "channel", "event", "value"], orient="row"
    )


def _renamed(frame: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, str]]:
    names = sorted(frame["channel"].drop_nulls().unique().to_list())
    mapping = {c: f"z{len(names) - i}_{c}" for i, c in enumerate(names)}  # reversed order
    return frame.with_columns(pl.col("channel").replace(mapping)), mapping


def _credit_by_channel(frame: pl.DataFrame, models, mapping=None, **build) -> pl.DataFrame:
    credits = attribute(build_journeys(read_events(frame), **build), models).credits
    if mapping:
        back = {v: k for k, v in mapping.items()}
        credits = credits.with_columns(pl.col("channel").replace_strict(back))
    return credits.sort("model", "channel")


@settings(max_examples=60, deadline=None)
@given(day_granular_logs(), st.sampled_from([{}, {"collapse_repeats": True}, {"max_touches": 2}]))
def test_renaming_channels_moves_no_credit_whatever_ties(frame, build):
    renamed, mapping = _renamed(frame)
    a = _credit_by_channel(frame, ALL_MODELS, **build)
    b = _credit_by_channel(renamed, ALL_MODELS, mapping, **build)
    assert a["channel"].to_list() == b["channel"].to_list()
    np.testing.assert_allclose(a["conversions"], b["conversions"], atol=1e-9)
    np.testing.assert_allclose(a["value"], b["value"], atol=1e-7)


def test_first_touch_shares_a_tied_first_instant_equally():
    frame = pl.DataFrame(
        [
            ("u", "2024-01-01", "b", "touch", None),
            ("u", "2024-01-01", "a", "touch", None),
            ("u", "2024-01-02", "c", "touch", None),
            ("u", "2024-01-03", None, "conversion", 6.0),
        ],
        schema=["customer_id", "timestamp", "channel", "event", "value"],
        orient="row",
    )
    j = build_journeys(read_events(frame))
    assert j.tie.tolist() == [False, True, False] and j.has_ties
    credit = {
        m: dict(attribute(j, [m]).credits.select("channel", "conversions").iter_rows())
        for m in ("first_touch", "last_touch", "position_based")
    }
    assert credit["first_touch"] == {"a": 0.5, "b": 0.5, "c": 0.0}
    assert credit["last_touch"] == {"a": 0.0, "b": 0.0, "c": 1.0}
    # 0.4 to the first, 0.2 to the middle, 0.4 to the last: a and b share 0.4 + 0.2
    assert credit["position_based"] == pytest.approx({"a": 0.3, "b": 0.3, "c": 0.4})


def _shuffle_inside_ties(j: Journeys, seed: int) -> Journeys:
    rng = np.random.default_rng(seed)
    order = np.lexsort((rng.random(j.n_touches), j.tie_group))
    return dataclasses.replace(j, codes=j.codes[order])


@settings(max_examples=50, deadline=None)
@given(journeys_strategy(max_channels=4, max_rows=10), st.data())
def test_the_order_inside_a_tie_group_does_not_matter(j, data):
    n = j.n_touches
    tie = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    tie[j.offsets[:-1]] = False
    days = j.tie_mean(j.days_before) if j.days_before is not None else None
    j = dataclasses.replace(j, tie=tie)
    j = dataclasses.replace(j, days_before=j.tie_mean(days))  # tied touches share a time
    other = _shuffle_inside_ties(j, data.draw(st.integers(0, 99)))
    for spec in ALL_MODELS:
        a, b = run_model(make_model(spec), j), run_model(make_model(spec), other)
        np.testing.assert_allclose(a["conversions"], b["conversions"], atol=1e-9, err_msg=spec)
    assert other.aggregate().n_rows == j.aggregate().n_rows
    assert np.array_equal(other.aggregate().codes, j.aggregate().codes)


def test_markov_takes_a_tie_group_as_one_step():
    j = Journeys(
        channels=("a", "b", "c"),
        codes=np.array([1, 0, 2, 2], dtype=np.uint32),
        offsets=np.array([0, 3, 4]),
        conversions=np.array([1.0, 0.0]),
        value=np.array([2.0, 0.0]),
        nulls=np.array([0.0, 1.0]),
        tie=np.array([False, True, False, False]),
    )
    table = mk.transition_table(j)
    assert set(table.select("from_label", "to_label").rows()) == {
        ("(start)", "c"),
        ("(start)", "{a, b}"),
        ("{a, b}", "c"),
        ("c", "(conversion)"),
        ("c", "(null)"),
    }
    assert '[["a","b"]]' in table["from"].to_list()


def test_ordered_shapley_spreads_a_tied_touch_over_its_group_positions():
    j = Journeys(
        channels=("a", "b"),
        codes=np.array([1, 0, 1], dtype=np.uint32),
        offsets=np.array([0, 3]),
        conversions=np.array([1.0]),
        value=np.array([4.0]),
        nulls=np.array([0.0]),
        tie=np.array([False, True, False]),
    )
    model = make_model("ordered_shapley")
    credit = dict(model.attribute(j).select("channel", "conversions").iter_rows())
    assert credit == pytest.approx({"a": 0.5, "b": 0.5})
    cells = {(c, p): v for c, p, v, _ in model.position_credit_.iter_rows()}
    # a (1/2) shares positions 1 and 2 with b's first touch (1/4): 1/4 each, at each
    assert cells == pytest.approx(
        {("a", 1): 0.25, ("a", 2): 0.25, ("b", 1): 0.125, ("b", 2): 0.125, ("b", 3): 0.25}
    )


@settings(max_examples=40, deadline=None)
@given(journeys_strategy(weighted=True, with_times=False, max_channels=5, max_rows=20))
def test_auto_order_scores_do_not_depend_on_channel_names_or_row_order(j):
    mapping = {c: f"z{j.n_channels - i}" for i, c in enumerate(j.channels)}
    a = mk.order_scores(j, max_order=3)
    b = mk.order_scores(rename_channels(j, mapping), max_order=3)
    c = mk.order_scores(shuffle_rows(j, 3), max_order=3)
    assert a == pytest.approx(b, rel=1e-12) and a == pytest.approx(c, rel=1e-12)


def test_auto_folds_deal_each_path_at_random_and_add_up():
    keys = mk._path_keys(mk._steps_of(_wide_sets().aggregate()))
    counts = np.array([0.0, 1.0, 2.5, 63.0, 64.0, 65.0, 1000.0, 3.0, 1.0, 1.0, 1.0, 1.0])
    dealt = mk._split(keys, counts, 5, 0)
    np.testing.assert_allclose(dealt.sum(axis=1), counts)
    assert (dealt >= 0).all() and (dealt[:, :] == np.round(dealt)).sum() >= 11 * 5 - 5
    assert not np.array_equal(dealt, mk._split(keys, counts, 5, 1))  # the seed matters
    big = mk._split(keys[:1], np.array([100_000.0]), 5, 0)[0]
    assert np.abs(big - 20_000).max() < 5 * np.sqrt(16_000)  # binomial spread, not skewed


# -- nothing is dropped on the way ---------------------------------------------
def test_summary_counts_ties_and_customers_without_journeys(tmp_path):
    events = write_csv(
        tmp_path / "events.csv",
        """customer_id,timestamp,channel,event,value
        a,2024-01-01,x,touch,
        a,2024-01-01,y,touch,
        a,2024-01-02,,conversion,5
        b,2024-01-02,,conversion,5
        c,2024-01-02,,conversion,5
        c,2024-01-03,y,touch,
        d,2023-01-01,x,touch,
        d,2024-01-02,,conversion,5""",
    )
    j = load_journeys(events)
    summary = summarise(j)
    assert summary["tied_journeys"] == 1.0
    assert (summary["customers"], summary["customers_without_journeys"]) == (2, 2)  # a, c; b, d
    assert summary["unattributed_conversions"] == 3.0
    result = invoke("run", events, "-m", "first_touch")
    assert "2 customers (and 2 with no journey)" in result.stderr
    assert "1 journeys have touches at the same instant" in result.stderr


def test_paths_says_how_many_conversions_it_leaves_out(tmp_path):
    events = write_csv(
        tmp_path / "events.csv",
        """customer_id,timestamp,channel,event,value
        a,2024-01-01,x,touch,
        a,2024-01-02,,conversion,5
        b,2024-01-02,,conversion,7""",
    )
    result = invoke("paths", events)
    assert result.exit_code == 0
    table = pl.read_csv(result.stdout.encode())
    assert table["total_conversions"].sum() == 1.0  # b's conversion has no path...
    assert "1 unattributed conversions (worth 7.00)" in result.stderr  # ...and says so
    assert "2 conversions worth 12.00: 1 attributed, 1 unattributed" in result.stderr
