"""The `attribution` command group; commands load lazily from their own modules."""

from __future__ import annotations

import importlib
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
    """Loads commands on demand and turns user errors into one line, exit 1."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module = importlib.import_module(f"attribution.cli.{COMMANDS[name]}")
        return module.command

    def invoke(self, ctx: click.Context) -> Any:
        from attribution.cli.options import UserError

        try:
            return super().invoke(ctx)
        except AttributionError as exc:
            raise UserError(str(exc)) from exc


@click.group(cls=App, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="attribution-engine")
def cli() -> None:
    """Multi-touch attribution: turn event logs into channel credit.

    Data goes to stdout (or -o FILE), summaries and progress to stderr.
    """
