"""Options shared by several commands, and the little plumbing every command uses.

The work itself is the library's: reading (:mod:`attribution.sources`),
running models (:mod:`attribution.run`), rendering (:mod:`attribution.text`)
and writing (:mod:`attribution.sinks`). What is here is only the command
line's: option declarations, errors on stderr, progress, stdout or a file.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

import click
import polars as pl

from attribution.api import AttributionResult, LabelledModel, parse_models
from attribution.builder import load_journeys
from attribution.channels import GRAINS
from attribution.costs import read_costs
from attribution.errors import AttributionError, InputError
from attribution.ga4 import IDENTITIES
from attribution.journeys import Journeys
from attribution.readers import EventReader
from attribution.sinks import (
    OUTPUT_FORMATS,
    TABLE_OUTPUTS,
    check_target,
    format_for,
    is_stdout,
    output_text,
    write_output,
)
from attribution.sources import TIME_UNITS, EventColumns, check_delimiter

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


class UserError(click.ClickException):
    """An AttributionError shown as one line on stderr, exit status 1."""

    exit_code = 1


def user_message(exc: AttributionError, command: click.Command | None) -> str:
    """The error's message, with the setting it points at spelt as ``command``'s flag.

    The core names a setting as the Python API does (``time_unit``); the
    option of ``command`` with that parameter name (``--time-unit``) takes
    its last mention, where the message says what to set.
    """
    message = str(exc)
    setting = getattr(exc, "setting", None)
    if setting is None or command is None:
        return message
    flags = [
        max(p.opts, key=len)
        for p in command.params
        if isinstance(p, click.Option) and p.name == setting
    ]
    mentions = list(re.finditer(rf"\b{re.escape(setting)}\b", message))
    if not flags or not mentions:
        return message
    last = mentions[-1]
    return message[: last.start()] + flags[0] + message[last.end() :]


def remember_input(path: str | os.PathLike[str]) -> None:
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


_PENDING = "attribution.pending"


def echo_all(messages: list[str], *, output: str | None = None) -> None:
    """Each message on its own line on stderr (summaries, notes and warnings).

    With an ``output`` file they wait until it is written (:func:`say_pending`,
    which :func:`write_result` calls): when the write fails (a full disk, no
    permission) its error is then the only line, not a summary of a run whose
    result was lost followed by the error.
    """
    ctx = click.get_current_context(silent=True)
    if output is not None and not is_stdout(output) and ctx is not None:
        ctx.meta.setdefault(_PENDING, []).extend(messages)
        return
    for message in messages:
        echo_err(message)


def say_pending() -> None:
    """Print the messages :func:`echo_all` held back for the output file."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        echo_all(ctx.meta.pop(_PENDING, []))


_BAR_CELLS = 24  # the width of the moving bar, in characters
_BAR_DELAY = 0.5  # seconds before a step shows its bar: quick steps do not flicker


@contextmanager
def step(label: str) -> Iterator[None]:
    """Show a moving bar with the elapsed time while the step runs, then
    ``label ... done (1.2 s)``, on stderr and only when stderr is a terminal.

    The steps (reading, building journeys, running models) cannot say how far
    along they are, so the bar is an activity bar: a block that moves from end
    to end, redrawn ten times a second by a thread, with the seconds so far.
    In a pipe, a file or a test nothing is written.
    """
    if not sys.stderr.isatty():
        yield
        return
    stop = threading.Event()
    start = time.perf_counter()
    width = max(shutil.get_terminal_size((80, 24)).columns - 1, 20)
    shown = (
        label if len(label) <= width - _BAR_CELLS - 14 else label[: width - _BAR_CELLS - 15] + "…"
    )
    drawn = [0]  # the longest line drawn, to blank it out at the end

    def draw() -> None:
        if stop.wait(_BAR_DELAY):
            return
        block, tick = 6, 0
        while True:
            span = _BAR_CELLS - block
            at = tick % (2 * span)
            at = at if at <= span else 2 * span - at  # back and forth
            bar = " " * at + "=" * block + " " * (span - at)
            line = f"{shown} [{bar}] {time.perf_counter() - start:5.1f} s"
            drawn[0] = max(drawn[0], len(line))
            click.echo(f"\r{line}", err=True, nl=False)
            tick += 1
            if stop.wait(0.1):
                return

    thread = threading.Thread(target=draw, name=f"progress: {label}", daemon=True)
    thread.start()
    outcome = "failed"
    try:
        yield
        outcome = "done"
    finally:
        stop.set()
        thread.join()
        end = f"{shown} ... {outcome} ({time.perf_counter() - start:.1f} s)"
        click.echo(f"\r{end.ljust(drawn[0])}", err=True)


def _lookback(ctx: click.Context, param: click.Parameter, value: str) -> float | None:
    # a callback, so that click names --lookback in its usage error
    if value.strip().lower() in ("none", "inf", "off"):
        return None
    try:
        days = float(value)
    except ValueError:
        raise click.BadParameter(f"expected a number of days or 'none', got '{value}'") from None
    if not days >= 0 or days == float("inf"):  # also NaN
        raise click.BadParameter(f"expected a number of days >= 0 or 'none', got {value}")
    return days


def _delimiter(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    # checked while the options are read, before any file; the error is the library's
    # (one line, exit 1, naming --delimiter), and '\t' or 'tab' typed in a shell is a tab
    return check_delimiter(value)


# -- scale: partitioned building and Spark (attribution.partition, attribution.spark)
@dataclass(frozen=True)
class ScaleOptions:
    """``--memory-limit``, ``--engine`` and ``--spark-master``."""

    memory_limit: int | None = None
    engine: str = "polars"
    spark_master: str | None = None

    def refuse(self, ctx: click.Context | None) -> None:
        """Raise for a command that needs every journey in memory but was told otherwise."""
        name = ctx.info_name if ctx is not None else "this command"
        if ctx is not None and ctx.meta.get(_BUILT_APART):
            return  # run, compare, plot: asked builds_apart() first
        if self.engine != "polars":
            raise click.UsageError(f"--engine {self.engine} goes with run, compare and plot")
        if self.memory_limit is not None:
            raise click.UsageError(
                f"--memory-limit goes with run, compare and plot; {name} keeps every journey"
            )

    def builds_apart(self, inputs: InputOptions) -> bool:
        """Whether the journeys are built away from this process's memory: on Spark,
        or in partitions of customers (asked with --memory-limit, or chosen because
        one large event file would not fit; :func:`attribution.partition.partitions_for`)."""
        ctx = click.get_current_context(silent=True)
        if ctx is not None:
            ctx.meta[_BUILT_APART] = True
        if self.engine == "spark":
            return True
        one_file = (
            inputs.reader is None
            and isinstance(inputs.source, str)
            and os.path.isfile(inputs.source)
        )
        if not one_file:
            if self.memory_limit is not None:
                raise click.UsageError(
                    "--memory-limit goes with one event file (not several files or --from ga4)"
                )
            return False
        if self.memory_limit is not None:
            return True
        from attribution.partition import partitions_for

        try:
            return partitions_for(inputs.source, conversions=inputs.conversions) > 1
        except AttributionError:  # the in-memory read names the problem in its own words
            return False

    def attribute(
        self, inputs: InputOptions, models: list[LabelledModel] | None
    ) -> AttributionResult:
        options: dict[str, Any] = dict(
            conversions=inputs.conversions,
            columns=inputs.columns,
            conversion_event=inputs.conversion_event,
            time_unit=inputs.time_unit,
            lookback_days=inputs.lookback_days,
            collapse_repeats=inputs.collapse_repeats,
            max_touches=inputs.max_touches,
        )
        if self.engine == "spark":
            from attribution.spark import attribute_spark

            if not isinstance(inputs.source, str) or inputs.reader is not None:
                raise click.UsageError(
                    "--engine spark reads one path Spark can read (a file, folder or glob)"
                )
            with step("building journeys on Spark"):
                return attribute_spark(inputs.source, models, master=self.spark_master, **options)
        from attribution.partition import attribute_events

        with step(f"attributing {inputs.label}"):
            return attribute_events(
                cast(str, inputs.source),
                models,
                memory_limit=self.memory_limit,
                delimiter=inputs.delimiter,
                path_sep=inputs.path_sep,
                **options,
            )


_BUILT_APART = "attribution.built_apart"  # ctx.meta: the command asked builds_apart()


def attribute_inputs(
    inputs: InputOptions,
    models: list[LabelledModel] | None,
    *,
    costs: pl.DataFrame | None = None,
    totals: bool = True,
    intervals: Any = None,
) -> Any:
    """Build the journeys of INPUT and run the models (:func:`attribution.run.run`):
    in memory, or in partitions or on Spark when the scale options or the input's
    size ask (:meth:`ScaleOptions.builds_apart`). For run, compare and plot."""
    from attribution.run import run

    if inputs.scale.builds_apart(inputs):
        if intervals is not None:
            raise click.UsageError(
                "--intervals resamples customers, which needs every journey in memory; "
                "leave out --memory-limit and --engine spark"
            )
        result = inputs.scale.attribute(inputs, models)
        return run(result, costs=costs, totals=totals)
    journeys = inputs.load()
    with step("attributing"):
        return run(journeys, models, costs=costs, totals=totals, intervals=intervals)


def _memory(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    from attribution.partition import parse_memory

    try:
        return None if value is None else parse_memory(value)
    except InputError as exc:
        raise click.BadParameter(str(exc)) from None


_SCALE_OPTIONS: list[Decorator] = [
    click.option(
        "--memory-limit",
        callback=_memory,
        metavar="SIZE",
        help="Build journeys in partitions of customers to stay within SIZE (say 4GB); "
        "default: chosen from the input's size.",
    ),
    click.option(
        "--engine",
        type=click.Choice(["polars", "spark"]),
        default="polars",
        show_default=True,
        help="Build journeys with polars on this machine, or on Spark (the [spark] extra).",
    ),
    click.option(
        "--spark-master",
        metavar="URL",
        help="Spark master for --engine spark (default: Spark's own configuration).",
    ),
]


def _scale(kwargs: dict[str, Any]) -> ScaleOptions:
    return ScaleOptions(
        memory_limit=kwargs.pop("memory_limit"),
        engine=kwargs.pop("engine"),
        spark_master=kwargs.pop("spark_master"),
    )


@dataclass(frozen=True)
class InputOptions:
    """Everything that says how to read the input and build journeys."""

    source: str | tuple[str, ...]  # one path, or several (INPUT...)
    conversions: str | None
    columns: EventColumns
    conversion_event: str | tuple[str, ...]
    time_unit: str | None
    delimiter: str | None
    path_sep: str
    lookback_days: float | None
    collapse_repeats: bool
    max_touches: int | None
    reader: EventReader | None = None  # --from ga4, --channel-rules ... (see _READER_OPTIONS)
    scale: ScaleOptions = ScaleOptions()

    @property
    def files(self) -> tuple[str, ...]:
        """Every file read: INPUT (globs and folders expanded) and --conversions."""
        found = input_files(self.source)
        return (*found, self.conversions) if self.conversions else found

    @property
    def label(self) -> str:
        """INPUT for messages: its file name, or the first of several."""
        if isinstance(self.source, str):
            return os.path.basename(self.source.rstrip("/")) or self.source
        more = f" (+{len(self.source) - 1} more)" if len(self.source) > 1 else ""
        return os.path.basename(self.source[0]) + more

    def load(self) -> Journeys:
        self.scale.refuse(click.get_current_context(silent=True))
        with step(f"building journeys from {self.label}"):
            journeys = load_journeys(
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
                reader=self.reader,
            )
        for note in self.reader.notes() if self.reader is not None else []:
            echo_err(f"note: {note}")
        return journeys


_INPUT_OPTIONS: list[Decorator] = [
    # no checks by click: attribution.sources.data_file says what an input may be, in one line
    click.argument("input", nargs=-1, required=True, type=click.Path()),
    click.option(
        "--conversions",
        "conversions_file",
        type=click.Path(),
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
        multiple=True,
        metavar="NAME",
        help="Event name that marks a conversion; other rows are touches. Repeat for "
        "several. Default: conversion (purchase with --from ga4).",
    ),
    click.option(
        "--time-unit", type=click.Choice(TIME_UNITS), help="Unit of epoch-number timestamps."
    ),
    click.option(
        "--delimiter",
        callback=_delimiter,
        help="Field delimiter of CSV input: one character (default ','; '\\t' or tab: a tab).",
    ),
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
        callback=_lookback,
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


def input_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """INPUT and the options that read it; the command receives ``inputs``."""

    @functools.wraps(func)
    def wrapper(**kwargs: Any) -> Any:
        paths = kwargs.pop("input")
        names = tuple(kwargs.pop("conversion_event"))
        inputs = InputOptions(
            source=paths[0] if len(paths) == 1 else tuple(paths),
            conversions=kwargs.pop("conversions_file"),
            columns=EventColumns(
                customer=kwargs.pop("customer_col"),
                time=kwargs.pop("time_col"),
                channel=kwargs.pop("channel_col"),
                event=kwargs.pop("event_col"),
                value=kwargs.pop("value_col"),
            ),
            conversion_event=(names[0] if len(names) == 1 else names) or "conversion",
            time_unit=kwargs.pop("time_unit"),
            delimiter=kwargs.pop("delimiter"),
            path_sep=kwargs.pop("path_sep"),
            lookback_days=kwargs.pop("lookback"),
            collapse_repeats=kwargs.pop("collapse_repeats"),
            max_touches=kwargs.pop("max_touches"),
            scale=_scale(kwargs),
        )
        inputs = dataclasses.replace(inputs, reader=_reader(inputs, names, kwargs))
        for path in inputs.files:
            remember_input(path)
        return func(inputs=inputs, **kwargs)

    decorated: Callable[..., Any] = wrapper
    for decorator in reversed([*_INPUT_OPTIONS, *_READER_OPTIONS, *_SCALE_OPTIONS]):
        decorated = decorator(decorated)
    return decorated


def input_files(source: str | tuple[str, ...]) -> tuple[str, ...]:
    """The files INPUT names, globs and folders expanded (as given where nothing
    matches: the reader reports that)."""
    from attribution.files import JSON_LINES, expand, is_many

    found: list[str] = []
    for item in (source,) if isinstance(source, str) else source:
        try:
            paths = expand(item, kinds=JSON_LINES).paths if is_many(item) else (item,)
        except InputError:
            paths = (item,)
        found.extend(os.fspath(p) for p in paths)
    return tuple(found)


# -- readers: GA4 exports and channels from source / medium / campaign -------
_READER_OPTIONS: list[Decorator] = [
    click.option(
        "--from",
        "from_",
        type=click.Choice(["events", "ga4"]),
        default="events",
        show_default=True,
        help="What INPUT is: event files (or a paths table), or a GA4 BigQuery export "
        "(Parquet or NDJSON, one file a day; a touch per session).",
    ),
    click.option(
        "--channel-rules",
        metavar="ga4|FILE",
        help="Derive the channel from source, medium and campaign with these rules: ga4 "
        "(GA4's default channel group) or a rules file (docs/inputs.md). Default with "
        "--from ga4, or with --source-col/--medium-col/--campaign-col: ga4.",
    ),
    click.option(
        "--channel-by",
        type=click.Choice(GRAINS),
        help="Channel grain: the rules' channel (default), or the lower-cased source / "
        "medium, source or campaign itself.",
    ),
    click.option("--source-col", metavar="NAME", help="Traffic source column (utm_source)."),
    click.option("--medium-col", metavar="NAME", help="Traffic medium column (utm_medium)."),
    click.option(
        "--campaign-col", metavar="NAME", help="Campaign column (utm_campaign); optional."
    ),
    click.option(
        "--identity",
        type=click.Choice(IDENTITIES),
        help="--from ga4: who is a customer, the device (user_pseudo_id, default) or the "
        "signed-in user (user_id; a device's sessions go to the user_id it shows).",
    ),
]


def _reader(inputs: InputOptions, names: tuple[str, ...], kwargs: dict[str, Any]) -> Any:
    """The reader the options ask for (None: plain events or a paths table)."""
    from attribution.channels import Channels
    from attribution.ga4 import GA4Export
    from attribution.readers import TaggedEvents

    from_ = kwargs.pop("from_")
    rules, by = kwargs.pop("channel_rules"), kwargs.pop("channel_by")
    traffic = {
        "source": kwargs.pop("source_col"),
        "medium": kwargs.pop("medium_col"),
        "campaign": kwargs.pop("campaign_col"),
    }
    identity = kwargs.pop("identity")
    if from_ == "ga4":
        if inputs.conversions is not None:
            raise click.UsageError("--conversions goes with event files, not --from ga4")
        if any(traffic.values()):
            raise click.UsageError(
                "--source-col and friends go with event files; a GA4 "
                "export's traffic columns are fixed"
            )
        return GA4Export(
            identity=identity or IDENTITIES[0],
            conversion_events=names or ("purchase",),
            channels=Channels(rules=rules or "ga4", by=by or "channel"),
        )
    if identity is not None:
        raise click.UsageError("--identity goes with --from ga4")
    if rules is None and by is None and not any(traffic.values()):
        return None
    channels = Channels(
        rules=rules or "ga4",
        by=by or "channel",
        source=traffic["source"] or "source",
        medium=traffic["medium"] or "medium",
        campaign=traffic["campaign"] or "campaign",
    )
    return TaggedEvents(
        channels=channels,
        columns=inputs.columns,
        conversion_event=None if inputs.conversions is not None else inputs.conversion_event,
        time_unit=inputs.time_unit,
        delimiter=inputs.delimiter,
    )


def output_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--format`` (any table format of :data:`attribution.sinks.OUTPUT_FORMATS`) and
    ``-o/--output``."""
    func = click.option(
        "-o",
        "--output",
        type=click.Path(dir_okay=False),
        help="Write to this file instead of stdout (written whole or not at all).",
    )(func)
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(TABLE_OUTPUTS),
        help="Output format; default: from the -o extension, else table.",
    )(func)


def _models(
    ctx: click.Context, param: click.Parameter, specs: tuple[str, ...]
) -> list[LabelledModel] | None:
    # parsed and checked here, while the options are read: before any data is read
    return parse_models(specs) if specs else None


def model_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``-m/--model``, repeatable; the command receives ``models``: each spec parsed
    once into its label and model (None: every registered model)."""
    return click.option(
        "-m",
        "--model",
        "models",
        multiple=True,
        metavar="NAME[:key=value,...]",
        callback=_models,
        help="Model to run; repeat for several. Default: every registered model.",
    )(func)


def output_format(
    output: str | None,
    fmt: str | None,
    *,
    allowed: Sequence[str] = TABLE_OUTPUTS,
    default: str = "table",
) -> str:
    """The format to write (:func:`attribution.sinks.format_for`), checked against
    stdout, and the output checked as a target (:func:`attribution.sinks.check_target`):
    commands call it first, so a bad choice fails before the input is read."""
    fmt = format_for(output, fmt, allowed=allowed, default=default)
    if output is None and OUTPUT_FORMATS[fmt].text is None:
        raise UserError(f"{fmt} output needs a file: add -o FILE.{fmt}")
    if output is not None:
        check_target(output, all_inputs())
    return fmt


def emit(
    frame: pl.DataFrame,
    *,
    fmt: str | None,
    output: str | None,
    table: Callable[[], str],
    json_doc: Callable[[], Any] | None = None,
    default: str = "table",
) -> None:
    """Write a result that is a table: as text, as the frame, or as its JSON document
    (``json_doc``, else the frame's records), to stdout or ``output``."""
    fmt = output_format(output, fmt, default=default)
    takes = OUTPUT_FORMATS[fmt].takes
    if takes == "text":
        payload: Any = table()
    elif takes == "document":
        payload = json_doc() if json_doc is not None else frame.to_dicts()
    else:
        payload = frame
    write_result(payload, fmt, output)


def write_result(payload: Any, fmt: str, output: str | None) -> None:
    """``payload`` as ``fmt`` on stdout, or written to ``output`` (never over a file
    this command reads) and said so on stderr. ``-o -`` is stdout too, where it
    also takes the binary formats (for a pipe, never a terminal)."""
    text = OUTPUT_FORMATS[fmt].text is not None
    if output is None or (is_stdout(output) and text):
        click.echo(output_text(payload, fmt), nl=False)
        return
    write_output(payload, output, fmt, inputs=all_inputs())
    say_pending()
    if not is_stdout(output):
        echo_err(f"wrote {output}")


def cost_options(func: Callable[..., Any]) -> Callable[..., Any]:
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
                type=click.Path(),
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


def kpi_options(func: Callable[..., Any]) -> Callable[..., Any]:
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
                type=click.Path(),  # checked by attribution.sources.data_file, in one line
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


def measure_option(help_text: str) -> Decorator:
    """``--measure`` (share, conversions, value, cost, cpa, roas, roi) for compare and plot."""
    from attribution.compare import MEASURES

    return click.option(
        "--measure",
        type=click.Choice(MEASURES),
        default="share",
        show_default=True,
        help=help_text,
    )


# -- bootstrap intervals (run, compare; issue 14) ----------------------------
def interval_options(func: Callable) -> Callable:
    """``--intervals N``, ``--level`` and ``--seed``; the command receives
    ``intervals``: an :class:`~attribution.intervals.IntervalSettings`, or None
    without ``--intervals``; :func:`attribution.run.run` takes it."""
    from attribution.intervals import DEFAULT_LEVEL, IntervalSettings

    @functools.wraps(func)
    def wrapper(**kwargs: Any) -> Any:
        n, level, seed = kwargs.pop("n_intervals"), kwargs.pop("level"), kwargs.pop("seed")
        settings = None if n is None else IntervalSettings(n=n, level=level, seed=seed)
        return func(intervals=settings, **kwargs)

    for decorator in reversed(
        [
            click.option(
                "--intervals",
                "n_intervals",
                type=click.IntRange(min=2),
                metavar="N",
                help="Add bootstrap intervals from N replicates (customers resampled): "
                "columns conversions_lo, conversions_hi, value_lo, ... and few_conversions.",
            ),
            click.option(
                "--level",
                type=click.FloatRange(0, 1, min_open=True, max_open=True),
                default=DEFAULT_LEVEL,
                show_default=True,
                help="Coverage of the --intervals.",
            ),
            click.option(
                "--seed",
                type=click.IntRange(min=0),
                default=0,
                show_default=True,
                help="Seed of the --intervals replicates (same seed, same bounds).",
            ),
        ]
    ):
        wrapper = decorator(wrapper)
    return wrapper


# -- how results read for people: the currency, and the baseline of a comparison ----------
def _currency(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    code = value.strip()
    if not code or len(code) > 8 or any(c.isspace() for c in code):
        raise click.BadParameter(f"expected a currency code such as EUR, got '{value}'")
    return code


def currency_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--currency CODE``: the currency of conversion values and costs, shown with money
    (``EUR 1,250.00``); the command receives ``currency`` (None: plain numbers)."""
    return click.option(
        "--currency",
        metavar="CODE",
        callback=_currency,
        help="Currency of values and costs, shown with money (e.g. EUR); default: plain numbers.",
    )(func)


def _baseline(ctx: click.Context, param: click.Parameter, value: str) -> str | None:
    from attribution.change import DEFAULT_BASELINE

    if value.strip().lower() == "none":
        return None
    if value.strip() != DEFAULT_BASELINE:  # the default may be missing: then only a note
        parse_models([value])  # an unknown model fails here, before any data is read
    return value.strip()


def baseline_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--baseline MODEL``: the model every other is compared with, channel by channel
    (GA4's model comparison); the command receives ``baseline`` (None: no comparison)."""
    from attribution.change import DEFAULT_BASELINE

    return click.option(
        "--baseline",
        default=DEFAULT_BASELINE,
        show_default=True,
        metavar="NAME[:key=value,...]|none",
        callback=_baseline,
        help="Model the others are compared with, per channel; run too if not among -m.",
    )(func)


def input_coverage(inputs: InputOptions, currency: str | None, has_times: bool) -> Any:
    """What a report or workbook says it covers: the input's name, its period (read
    again, lazily, for its dates; none for a paths table), the lookback window and
    the currency (:class:`attribution.coverage.Coverage`)."""
    import math

    from attribution.coverage import Coverage, input_period

    period = None
    if has_times and inputs.reader is None:  # a reader's raw table has other columns
        period = input_period(
            inputs.source,
            conversions=inputs.conversions,
            columns=inputs.columns,
            conversion_event=inputs.conversion_event,
            time_unit=inputs.time_unit,
            delimiter=inputs.delimiter,
        )
    lookback = math.inf if inputs.lookback_days is None else inputs.lookback_days
    return Coverage(inputs.label, period, lookback, currency)


# -- the finer grains (issue 17) ------------------------------------------------
def grain_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--per-conversion``, ``--conversion-id-col``, ``--by``, ``--timezone``,
    ``--refit-per-period``, ``--dimension`` and ``--segment-col``.

    Goes below :func:`input_options`: the command receives ``inputs`` (reading
    the grain's columns) and ``grain``, an :class:`attribution.grains.Grain`,
    or None for the plain grain. Settings are checked here, before any input
    is read.
    """

    @functools.wraps(func)
    def wrapper(**kwargs: Any) -> Any:
        from attribution.grains import Grain, Period

        per_conversion = kwargs.pop("per_conversion")
        id_col = kwargs.pop("conversion_id_col")
        by = kwargs.pop("by")
        timezone = kwargs.pop("timezone")
        refit = kwargs.pop("refit_per_period")
        dimension = kwargs.pop("dimension")
        segment = kwargs.pop("segment_col")
        if id_col is not None and not per_conversion:
            raise click.UsageError("--conversion-id-col goes with --per-conversion")
        if refit and by is None:
            raise click.UsageError("--refit-per-period goes with --by")
        if timezone != "UTC" and by is None and not per_conversion:
            raise click.UsageError("--timezone goes with --by or --per-conversion")
        grain = Grain(
            per_conversion=per_conversion,
            by=cast(Period | None, by),
            timezone=timezone,
            refit_per_period=refit,
            dimension=dimension is not None,
            segment=segment is not None,
        )
        grain.check()
        if id_col or dimension or segment:
            inputs = kwargs["inputs"]
            columns = dataclasses.replace(
                inputs.columns, conversion_id=id_col, segment=segment, dimension=dimension
            )
            kwargs["inputs"] = dataclasses.replace(inputs, columns=columns)
        return func(grain=None if grain.is_plain else grain, **kwargs)

    for decorator in reversed(
        [
            click.option(
                "--per-conversion",
                is_flag=True,
                help="One row per conversion, channel and model (with the conversion's id, "
                "else its customer and time).",
            ),
            click.option(
                "--conversion-id-col",
                metavar="NAME",
                help="Column with each conversion's id (a transaction id), for --per-conversion.",
            ),
            click.option(
                "--by",
                type=click.Choice(["day", "week", "month", "quarter"]),
                help="Credit per period of the conversions (weeks start on Monday).",
            ),
            click.option(
                "--timezone",
                default="UTC",
                show_default=True,
                metavar="ZONE",
                help="Calendar of --by and of per-conversion times, e.g. Europe/Paris.",
            ),
            click.option(
                "--refit-per-period",
                is_flag=True,
                help="With --by: fit every model on each period's journeys, instead of once on "
                "all journeys with the credit split by period.",
            ),
            click.option(
                "--dimension",
                metavar="COLUMN",
                help="Credit per channel and value of this touch column (campaign, source_medium).",
            ),
            click.option(
                "--segment-col",
                metavar="COLUMN",
                help="Run every model per segment (device, country, new vs returning): a column "
                "of the conversion or customer.",
            ),
        ]
    ):
        wrapper = decorator(wrapper)
    return wrapper
