"""The grouped bar chart: the Python function, the `plot` command, and the missing extra."""

from __future__ import annotations

import struct
import subprocess
import sys
import zlib

import polars as pl
import pytest
from click.testing import CliRunner

from attribution.api import attribute
from attribution.cli.main import cli
from attribution.costs import join_costs
from attribution.errors import InputError, OutputError
from attribution.journeys import Journeys
from attribution.plot import chart_format, new_figure, plot_credits, save_chart

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def png_size(path) -> tuple[int, int]:
    """Width and height from the IHDR chunk, after checking the signature and its CRC."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    length, kind = struct.unpack(">I4s", data[8:16])
    assert (length, kind) == (13, b"IHDR")
    body = data[16 : 16 + length]
    (crc,) = struct.unpack(">I", data[16 + length : 20 + length])
    assert crc == zlib.crc32(kind + body)
    assert data.endswith(b"IEND\xaeB`\x82")
    return struct.unpack(">II", body[:8])


@pytest.fixture
def credits():
    # shares: first_touch a 2/3, b 0, c 1/3; last_touch a 0, b 2/3, c 1/3
    paths = Journeys.from_paths(
        [["a", "b"], ["a", "b"], ["c"]], conversions=[1, 1, 1], value=[10, 10, 40]
    )
    return attribute(paths, ["first_touch", "last_touch"]).credits


@pytest.fixture
def ax():
    figure = new_figure(3, 2, width=6, height=4, dpi=50)
    return figure.add_subplot()


def test_chart_has_title_labels_legend_and_sorted_channels(credits, ax):
    returned = plot_credits(credits, "share", ax=ax)
    assert returned is ax
    assert ax.get_title() == "Share of conversions by channel and model"
    assert ax.get_xlabel() == "Share of credited conversions"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["First touch", "Last touch"]
    # mean shares: a 1/3, b 1/3, c 1/3 -> ties broken by name
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b", "c"]
    bars = [patch.get_width() for patch in ax.patches]
    assert bars == pytest.approx([2 / 3, 0, 1 / 3, 0, 2 / 3, 1 / 3])
    labels = [t.get_text() for t in ax.texts]
    assert "66.7%" in labels and "33.3%" in labels


def test_channels_sorted_by_mean_largest_first(credits, ax):
    plot_credits(credits, "value", ax=ax, title="Value")
    # value: first_touch a 20, b 0, c 40; last_touch a 0, b 20, c 40 -> c first
    assert [t.get_text() for t in ax.get_yticklabels()] == ["c", "a", "b"]
    assert ax.get_title() == "Value"


def test_empty_cost_metrics_are_labelled_not_drawn(credits, ax):
    costed = join_costs(credits, {"a": 10, "b": 0, "c": 20}).table  # roas of b divides by zero
    plot_credits(costed, "roas", ax=ax)
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert "(total)" not in ticks
    assert ticks[-1] == "b"  # no value at all: last
    assert [t.get_text() for t in ax.texts].count("n/a") == 2
    assert any("break-even" in t.get_text() for t in ax.get_legend().get_texts())


def test_default_axes_come_from_a_new_figure(credits):
    import matplotlib.pyplot as plt

    ax = plot_credits(credits)
    try:
        assert ax.figure.get_size_inches()[1] > 2
        assert len(ax.patches) == 6
    finally:
        plt.close(ax.figure)


def test_bad_measure_or_format_says_what_is_expected(credits, ax, tmp_path):
    with pytest.raises(InputError, match="needs costs"):
        plot_credits(credits, "roi", ax=ax)
    with pytest.raises(OutputError, match=r"expected one of \['png', 'svg', 'pdf'\]"):
        chart_format(tmp_path / "chart.gif")
    assert chart_format(tmp_path / "chart.PNG") == "png"


def test_saved_png_is_valid_and_of_the_asked_size(credits, ax, tmp_path):
    import matplotlib.image

    plot_credits(credits, ax=ax)
    out = tmp_path / "chart.png"
    save_chart(ax, out)
    assert png_size(out) == (300, 200)  # 6 x 4 inches at 50 dpi
    pixels = matplotlib.image.imread(out)
    assert pixels.shape[:2] == (200, 300)
    assert pixels.std() > 0  # something was drawn


def test_cli_plot_writes_png_svg_and_pdf(sample_events, tmp_path):
    common = ["-m", "linear", "-m", "last_touch", "--width", "8", "--height", "5", "--dpi", "40"]
    png = tmp_path / "chart.png"
    result = invoke("plot", sample_events, "-o", png, *common)
    assert result.exit_code == 0, result.output
    assert png_size(png) == (320, 200)
    assert f"wrote {png}" in result.stderr
    svg, pdf = tmp_path / "chart.svg", tmp_path / "chart.pdf"
    invoke("plot", sample_events, "-o", svg, *common)
    invoke("plot", sample_events, "-o", pdf, *common)
    text = svg.read_text()
    assert text.startswith("<?xml") and 'width="576pt" height="360pt"' in text
    assert pdf.read_bytes().startswith(b"%PDF-")


def test_cli_plot_roas_needs_costs_and_draws_with_them(sample_events, tmp_path):
    out = tmp_path / "roas.png"
    result = invoke("plot", sample_events, "-o", out, "--measure", "roas")
    assert result.exit_code == 2 and "--measure roas needs costs" in result.stderr
    costs = sample_events.parent / "costs.csv"
    result = invoke(
        "plot", sample_events, "-o", out, "--measure", "roas", "--costs", costs, "-m", "linear"
    )
    assert result.exit_code == 0
    width, height = png_size(out)
    assert width == 900 and height > 300  # 9 inches at 100 dpi; height fits 8 channels


def test_cli_plot_bad_extension_fails_before_reading(tmp_path):
    result = invoke("plot", tmp_path / "missing.csv", "-o", tmp_path / "chart.gif")
    assert result.exit_code == 1
    assert "cannot draw a chart as 'gif'" in result.stderr


def test_without_matplotlib_the_extra_is_named(credits, sample_events, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now fails
    with pytest.raises(OutputError, match=r"pip install 'attribution-engine\[plot\]'"):
        plot_credits(credits)
    out = tmp_path / "chart.png"
    # the input does not exist: the missing extra is reported before it is read
    result = invoke("plot", tmp_path / "missing.csv", "-o", out)
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "Error: charts need matplotlib, which is not installed; "
        "install the plot extra: pip install 'attribution-engine[plot]'"
    )
    assert not out.exists()


def test_import_and_cli_chart_touch_no_global_matplotlib_state(tmp_path):
    """Importing attribution.plot loads no matplotlib; drawing for the CLI never loads pyplot."""
    code = f"""
import sys
import attribution.plot as plot
assert "matplotlib" not in sys.modules, "imported at import time"
from attribution.api import attribute
from attribution.journeys import Journeys
credits = attribute(Journeys.from_paths([["a", "b"]], conversions=[1]), ["linear"]).credits
ax = plot.new_figure(2, 1).add_subplot()
plot.plot_credits(credits, ax=ax)
plot.save_chart(ax, {str(tmp_path / "c.png")!r})
assert "matplotlib.pyplot" not in sys.modules, "pyplot was imported"
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "c.png").read_bytes().startswith(PNG_SIGNATURE)


def test_plot_accepts_a_result_as_well_as_a_table(credits, ax):
    paths = Journeys.from_paths([["a"], ["b"]], conversions=[1, 1])
    result = attribute(paths, ["linear"])
    plot_credits(result, ax=ax)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]
    assert isinstance(result.credits, pl.DataFrame)


def test_style_is_a_context_that_gives_every_chart_the_palette(credits):
    import matplotlib
    from matplotlib.colors import to_hex

    from attribution.plot import PALETTE, style

    before = dict(matplotlib.rcParams)
    with style():
        assert matplotlib.rcParams["svg.fonttype"] == "none"
        cycle = [to_hex(c["color"]) for c in matplotlib.rcParams["axes.prop_cycle"]]
        assert cycle == [c.lower() for c in PALETTE]
    assert dict(matplotlib.rcParams) == before  # restored: no global state left behind


def test_cli_svg_keeps_text_as_text_in_the_model_colours(sample_events, tmp_path):
    from attribution.plot import PALETTE

    out = tmp_path / "chart.svg"
    assert invoke("plot", sample_events, "-o", out, "-m", "linear", "-m", "markov").exit_code == 0
    text = out.read_text()
    assert "<text" in text and ">Linear</text>" in text  # not glyph paths, and in words
    assert f"fill: {PALETTE[0].lower()}" in text and f"fill: {PALETTE[1].lower()}" in text


def test_path_lengths_stack_the_converting_journeys_first(ax):
    from attribution.plot import plot_path_lengths

    lengths = pl.DataFrame(
        {"length": [1, 2, 3], "journeys": [10, 6, 2], "converting_journeys": [1, 3, 2]}
    )
    plot_path_lengths(lengths, ax=ax)
    converting, others = ax.containers
    assert [b.get_height() for b in converting] == [1, 3, 2]
    assert [b.get_height() for b in others] == [9, 3, 0]
    assert [b.get_y() for b in others] == [1, 3, 2]  # on top of the converting ones
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "3"]


# -- colours by name, many channels, intervals ------------------------------------------
def test_a_model_keeps_its_colour_whatever_else_is_drawn_and_two_of_a_kind_differ():
    from attribution.plot import PALETTE, model_color, model_colors

    alone = model_colors(["markov"])
    crowd = model_colors(["first_touch", "linear", "markov", "shapley"])
    assert alone["markov"] == crowd["markov"] == model_color("markov")
    assert model_color("markov:order=2") == model_color("markov")  # by the registry name
    pair = model_colors(["time_decay", "time_decay:half_life_days=3"])
    assert len(set(pair.values())) == 2  # two runs of one model are told apart
    plugin = model_color("someones_model")
    assert plugin in PALETTE and plugin == model_color("someones_model")  # crc32: every process
    assert len(set(model_colors([f"m{i}" for i in range(10)]).values())) == 10


def sixty_channel_credits(**extra):
    names = [f"ch{i:02d}" for i in range(60)]
    shares = [(i + 1) / sum(range(1, 61)) for i in range(60)]
    frame = pl.DataFrame(
        {
            "model": ["linear"] * 60,
            "channel": names,
            "conversions": [100 * s for s in shares],
            "value": [1000 * s for s in shares],
            "share": shares,
            **extra,
        }
    )
    return frame


def test_many_channels_fold_into_one_other_bar_that_adds_up(ax):
    from attribution.plot import credit_bars

    credits = sixty_channel_credits()
    bars = credit_bars(credits, "share", top=12)
    assert len(bars.channels) == 13 and bars.channels[-1] == "Other (48 channels)"
    assert bars.other == 48
    assert bars.channels[0] == "ch59"  # the largest first
    assert bars.values.sum() == pytest.approx(1.0)  # nothing lost in the fold
    plot_credits(credits, "share", ax=ax, top=12)
    assert [t.get_text() for t in ax.get_yticklabels()][-1] == "Other (48 channels)"
    assert len(ax.containers[0].patches) == 13
    assert len(credit_bars(credits, "share", top=59).channels) == 60  # folding one hides nothing


def test_ratio_measures_of_the_other_bar_are_ratios_of_its_sums():
    from attribution.plot import credit_bars

    credits = join_costs(sixty_channel_credits(), {f"ch{i:02d}": 10.0 for i in range(60)}).table
    bars = credit_bars(credits, "roas", top=5)
    rest = credits.filter(pl.col("channel").is_in(bars_channels_after(credits, 5)))
    assert bars.values[-1, 0] == pytest.approx(rest["value"].sum() / rest["cost"].sum())


def bars_channels_after(credits, top):
    from attribution.plot import credit_bars

    full = credit_bars(credits, "roas")
    return full.channels[top:]


def test_intervals_in_the_credit_table_draw_error_bars(ax):
    from matplotlib.container import ErrorbarContainer

    shares = sixty_channel_credits()["share"]
    credits = sixty_channel_credits(share_lo=shares * 0.8, share_hi=shares * 1.3).head(5)
    plot_credits(credits, "share", ax=ax)
    whiskers = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(whiskers) == 1
    segments = whiskers[0].lines[2][0].get_segments()
    widths = sorted(round(seg[1][0] - seg[0][0], 9) for seg in segments)
    assert widths == sorted(round(0.5 * s, 9) for s in credits["share"])  # 0.8 to 1.3 of each
    plain = new_figure(3, 1).add_subplot()
    plot_credits(credits.drop("share_lo", "share_hi"), "share", ax=plain)
    assert not [c for c in plain.containers if isinstance(c, ErrorbarContainer)]
