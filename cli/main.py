"""The `attribution` command group; commands load lazily from their own modules."""

from __future__ import annotations

import errno
import gc
import importlib
import os
from typing import Any

import click

from attribution.errors import AttributionError

# command name -> module in attribution.cli that defines `command`
COMMANDS = {
    "run": "run",
    "paths": "paths",
    "models": "models",
    "sample-data": "sample_data",
    "compare": "compare",
    "plot": "plot",
    "kpis": "kpis",
    "report": "report",
    "transitions": "transitions",
    "channels": "channels",
}


class App(click.Group):
    """Loads commands on demand and turns user errors into one line, exit 1.

    An error that is no :class:`AttributionError` (nothing foresaw it) is one
    line too, saying it is an internal error and how to see its traceback;
    see :func:`internal_error`.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module = importlib.import_module(f"attribution.cli.{COMMANDS[name]}")
        return module.command

    def invoke(self, ctx: click.Context) -> Any:
        from attribution.cli.options import UserError, user_message

        # Every module is loaded by now (the engine, polars, numpy, the command),
        # some million objects that live until exit. Frozen, the collector stops
        # walking them at every full collection: some 10 ms each, several a run.
        gc.freeze()
        try:
            return super().invoke(ctx)
        except AttributionError as exc:
            name = ctx.invoked_subcommand
            command = self.get_command(ctx, name) if name else None
            raise UserError(user_message(exc, command)) from exc
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            if os.environ.get(TRACEBACK_VARIABLE) or _is_broken_pipe(exc):
                raise  # click itself ends quietly on a closed stdout
            raise UserError(internal_error(exc)) from exc


TRACEBACK_VARIABLE = "ATTRIBUTION_TRACEBACK"
"""Set (to anything) to see the traceback of an unexpected error instead of one line."""


def internal_error(exc: BaseException) -> str:
    """One line for an error no check of ours caught: what it was, and that it is a bug.

    User errors are caught where they arise and say what to fix; whatever gets
    here was not foreseen. It is still one line (a traceback is not for the
    person running a command) but says plainly that it is a bug, and how to
    see the traceback to report it: a safety net, not a hiding place.
    """
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    first = lines[0] if lines else ""
    what = type(exc).__name__
    if type(exc).__module__.split(".")[0] == "polars":  # not imported here for that
        what = f"polars {what}"
    detail = f"{what}: {first}" if first else what
    return (
        f"internal error ({detail}); this is a bug: even bad input should get a clear "
        f"message. Please report it with the traceback that {TRACEBACK_VARIABLE}=1 shows"
    )


def _is_broken_pipe(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno == errno.EPIPE


@click.group(cls=App, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="attribution-engine")
def cli() -> None:
    """Multi-touch attribution: turn event logs into channel credit.

    Data goes to stdout (or -o FILE), summaries and progress to stderr.
    """
