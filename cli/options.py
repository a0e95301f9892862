"""Options shared by several commands, and the plumbing every command uses."""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import polars as pl

from attribution import progress
from attribution.api import AttributionResult, attribute, summary_text
from attribution.builder import load_journeys
from attribution.costs import UncostedChannelsWarning, join_costs, read_costs
from attribution.errors import AttributionError, InputError
from attribution.io import FORMATS, TIME_UNITS, EventColumns, dumps, format_for, write_table
from attribution.journeys import Journeys
from attribution.spec import make_model
from attribution.text import spreadsheet_safe


class UserError(click.ClickException):
    """An AttributionError shown as one line on stderr, exit status 1."""

    exit_code = 1


@contextmanager
def user_errors() -> Iterator[None]:
    try:
        yield
    except AttributionError as exc:
        raise UserError(str(exc)) from exc


def remember_input(path: str | os.PathLike) -> None:
    """Note a file this command reads, so that no output may overwrite it.

    Every option that names an input file goes through here (INPUT and
    --conversions in :func:`input_options`, --costs, --channel-kinds), and
    every writer checks :func:`all_inputs`: one list, whatever the command.
    """
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.meta.setdefault("attribution.inputs", []).append(os.fspath(path))


def all_inputs() -> tuple[str, ...]:
    """Every file the running command reads (noted with :func:`remember_input`)."""
    ctx = click.get_current_context(silent=True)
    return tuple(ctx.meta.get("attribution.inputs", ())) if ctx is not None else ()


def echo_err(message: str) -> None:
    click.echo(message, err=True)


@contextmanager
def step(label: str) -> Iterator[None]:
    """Show ``label ... done (1.2 s)`` on stderr when stderr is a terminal, and
    the progress the models report meanwhile (:mod:`attribution.progress`)."""
    if not sys.stderr.isatty():
        yield
        return
    click.echo(f"{label} ...", err=True, nl=False)
    start = time.perf_counter()
    with progress.on_terminal(sys.stderr, prefix=f"{label} ..."):
        yield
    click.echo(f" done ({time.perf_counter() - start:.1f} s)", err=True)


def _lookback(value: str) -> float | None:
    if value.strip().lower() in ("none", "inf", "off"):
        return None
    try:
        days = float(value)
    except ValueError:
        raise click.BadParameter(f"expected a number of days or 'none', got '{value}'") from None
    if days < 0:
        raise click.BadParameter(f"expected a number of days >= 0, got {value}")
    return days


@dataclass(frozen=True)
class InputOptions:
    """Everything that says how to read the input and build journeys."""

    source: str
    conversions: str | None
    columns: EventColumns
    conversion_event: str
    time_unit: str | None
    delimiter: str | None
    path_sep: str
    lookback_days: float | None
    collapse_repeats: bool
    max_touches: int | None

    @property
    def files(self) -> tuple[str, ...]:
        return tuple(f for f in (self.source, self.conversions) if f)

    def load(self) -> Journeys:
        with step(f"building journeys from {os.path.basename(self.source)}"):
            return load_journeys(
                self.source,
                conversions=self.conversions,
                columns=self.columns,
                conversion_event=self.conversion_event,
                time_unit=self.time_unit,
                delimiter=self.delimiter,
                path_sep=self.path_sep,
                lookback_days=self.lookback_days,
                collapse_repeats=self.collapse_repeats,
                max_touches=self.max_touches,
            )


_INPUT_OPTIONS: list[Callable[[Callable], Callable]] = [
    click.argument("input", type=click.Path(dir_okay=False)),
    click.option(
        "--conversions",
        "conversions_file",
        type=click.Path(dir_okay=False),
        help="Conversions from a separate file (customer, timestamp, value columns).",
    ),
    click.option("--customer-col", default="customer_id", show_default=True),
    click.option("--time-col", default="timestamp", show_default=True),
    click.option("--channel-col", default="channel", show_default=True),
    click.option("--event-col", default="event", show_default=True),
    click.option(
        "--value-col",
        default="value",
        show_default=True,
        help="Conversion value; if the column is missing every conversion is worth 1.",
    ),
    click.option(
        "--conversion-event",
        default="conversion",
        show_default=True,
        help="Event name that marks a conversion; other rows are touches.",
    ),
    click.option(
        "--time-unit", type=click.Choice(TIME_UNITS), help="Unit of epoch-number timestamps."
    ),
    click.option("--delimiter", help="Field delimiter of CSV input (default ',')."),
    click.option(
        "--path-sep",
        default=">",
        show_default=True,
        help="Channel separator in a paths-table input.",
    ),
    click.option(
        "--lookback",
        default="30",
        show_default=True,
        metavar="DAYS|none",
        help="Touches more than DAYS before a conversion are not part of its journey.",
    ),
    click.option(
        "--collapse-repeats",
        is_flag=True,
        help="Merge consecutive touches of one channel into one.",
    ),
    click.option(
        "--max-touches",
        type=click.IntRange(min=1),
        metavar="N",
        help="Keep only the last N touches of each journey.",
    ),
]


def input_options(func: Callable) -> Callable:
    """INPUT and the options that read it; the command receives ``inputs``."""

    @functools.wraps(func)
    def wrapper(**kwargs: Any) -> Any:
        inputs = InputOptions(
            source=kwargs.pop("input"),
            conversions=kwargs.pop("conversions_file"),
            columns=EventColumns(
                customer=kwargs.pop("customer_col"),
                time=kwargs.pop("time_col"),
                channel=kwargs.pop("channel_col"),
                event=kwargs.pop("event_col"),
                value=kwargs.pop("value_col"),
            ),
            conversion_event=kwargs.pop("conversion_event"),
            time_unit=kwargs.pop("time_unit"),
            delimiter=kwargs.pop("delimiter"),
            path_sep=kwargs.pop("path_sep"),
            lookback_days=_lookback(kwargs.pop("lookback")),
            collapse_repeats=kwargs.pop("collapse_repeats"),
            max_touches=kwargs.pop("max_touches"),
        )
        for path in inputs.files:
            remember_input(path)
        return func(inputs=inputs, **kwargs)

    for decorator in reversed(_INPUT_OPTIONS):
        wrapper = decorator(wrapper)
    return wrapper


def output_options(func: Callable) -> Callable:
    """``--format`` and ``-o/--output``."""
    func = click.option(
        "-o",
        "--output",
        type=click.Path(dir_okay=False),
        help="Write to this file instead of stdout (written whole or not at all).",
    )(func)
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS),
        help="Output format; default: from the -o extension, else table.",
    )(func)


def model_option(func: Callable) -> Callable:
    return click.option(
        "-m",
        "--model",
        "models",
        multiple=True,
        metavar="NAME[:key=value,...]",
        help="Model to run; repeat for several. Default: every registered model.",
    )(func)


def render_table(frame: pl.DataFrame, digits: int = 2) -> str:
    """A plain aligned text table: numbers right-aligned with ``digits`` decimals."""
    cells = [list(frame.columns)]
    numeric = [dt.is_numeric() for dt in frame.dtypes]
    for row in frame.iter_rows():
        cells.append(
            [
                ""
                if v is None or (isinstance(v, float) and v != v)
                else (f"{v:,.{digits}f}" if isinstance(v, float) else str(v))
                for v in row
            ]
        )
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    lines = []
    for k, r in enumerate(cells):
        parts = [
            c.rjust(w) if numeric[i] else c.ljust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        lines.append("  ".join(parts).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def emit(
    long: pl.DataFrame,
    *,
    fmt: str | None,
    output: str | None,
    table: Callable[[], str],
    json_doc: Callable[[], Any] | None = None,
) -> None:
    """Write a result: a text table, or the long frame as csv/json/parquet; never
    over a file the command reads."""
    fmt = format_for(output, fmt)
    inputs = all_inputs()
    if output is None:
        if fmt == "table":
            click.echo(table())
        elif fmt == "csv":
            click.echo(spreadsheet_safe(long).write_csv(), nl=False)
        elif fmt == "json":
            click.echo(dumps(json_doc() if json_doc else long.to_dicts()))
        else:
            raise InputError(f"{fmt} output needs a file: add -o FILE.{fmt}")
        return
    if fmt == "table":
        from attribution.io import _atomic_write

        text = table() + "\n"
        _atomic_write(Path(output), lambda p: p.write_text(text), tuple(Path(i) for i in inputs))
    else:
        write_table(long, output, fmt, inputs=inputs, json_payload=json_doc)
    echo_err(f"wrote {output}")


# -- running models and costs (run, compare, plot, report) ------------------
def summary_line(result: AttributionResult) -> str:
    return summary_text(result.summary)


def cost_options(func: Callable) -> Callable:
    """``--costs FILE`` and its column names; the command receives ``costs`` (or None).

    Shared by `run`, `compare` and `plot`. The costs file is read and checked
    before the (possibly large) input.
    """

    @functools.wraps(func)
    def wrapper(**kwargs: Any) -> Any:
        path = kwargs.pop("costs_file")
        channel_col = kwargs.pop("cost_channel_col")
        cost_col = kwargs.pop("cost_col")
        costs = None
        if path is not None:
            remember_input(path)
            costs = read_costs(path, channel_col=channel_col, cost_col=cost_col)
        return func(costs=costs, **kwargs)

    for decorator in reversed(
        [
            click.option(
                "--costs",
                "costs_file",
                type=click.Path(dir_okay=False),
                help="Spend per channel (CSV, Parquet, JSON): adds cost, cpa, roas and roi.",
            ),
            click.option(
                "--cost-channel-col",
                default="channel",
                show_default=True,
                help="Channel column of the costs file.",
            ),
            click.option(
                "--cost-col",
                default="cost",
                show_default=True,
                help="Cost column of the costs file.",
            ),
        ]
    ):
        wrapper = decorator(wrapper)
    return wrapper


def run_models(inputs: InputOptions, models: tuple[str, ...]) -> AttributionResult:
    """Load INPUT, run the models and report the accounts on stderr."""
    for spec in models:  # fail on a bad spec before reading a large input
        make_model(spec)
    journeys = inputs.load()
    with step("attributing"):
        result = attribute(journeys, list(models) if models else None)
    echo_err(summary_line(result))
    for name, reason in result.skipped:
        echo_err(f"skipped {name}: {reason}")
    for error in result.load_errors.values():
        echo_err(f"not loaded: {error}")
    for note in result.notes():
        echo_err(f"note: {note}")
    return result


def costed_credits(
    result: AttributionResult, costs: pl.DataFrame, *, totals: bool = True
) -> tuple[pl.DataFrame, list[str]]:
    """The credit table with costs joined, and the channels without cost (warned on stderr)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UncostedChannelsWarning)
        table = join_costs(result.credits, costs, totals=totals)
    uncosted: list[str] = []
    for warning in caught:
        if isinstance(warning.message, UncostedChannelsWarning):
            uncosted = warning.message.channels
            echo_err(f"warning: {warning.message}")
        else:  # not ours: let it through as it would have gone
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
    return table, uncosted


def kpi_options(func: Callable) -> Callable:
    """``--channel-kinds``, ``--conversion-channel-col`` and ``--top`` for the KPIs.

    Goes below :func:`input_options`: the command receives ``inputs`` (reading
    the conversion location column when asked), ``kinds`` (the channel kinds
    frame, or None) and ``top``.
    """

    @functools.wraps(func)
    def wrapper(**kwargs: Any) -> Any:
        from attribution.kpis import read_channel_kinds

        path = kwargs.pop("channel_kinds")
        location = kwargs.pop("conversion_channel_col")
        kinds = None
        if path is not None:
            remember_input(path)
            kinds = read_channel_kinds(path)
        if location:
            inputs = kwargs["inputs"]
            columns = dataclasses.replace(inputs.columns, conversion_channel=location)
            kwargs["inputs"] = dataclasses.replace(inputs, columns=columns)
        return func(kinds=kinds, **kwargs)

    for decorator in reversed(
        [
            click.option(
                "--channel-kinds",
                type=click.Path(exists=True, dir_okay=False),
                help="File with columns channel, kind (online|offline), for the ROPO KPIs.",
            ),
            click.option(
                "--conversion-channel-col",
                metavar="NAME",
                help="Column saying where each conversion happened (a channel, or online/offline).",
            ),
            click.option(
                "--top",
                type=click.IntRange(min=0),
                default=10,
                show_default=True,
                help="How many of the most frequent paths to list.",
            ),
        ]
    ):
        wrapper = decorator(wrapper)
    return wrapper


def measure_option(help_text: str) -> Callable[[Callable], Callable]:
    """``--measure`` (share, conversions, value, cost, cpa, roas, roi) for compare and plot."""
    from attribution.compare import MEASURES

    return click.option(
        "--measure",
        type=click.Choice(MEASURES),
        default="share",
        show_default=True,
        help=help_text,
    )
