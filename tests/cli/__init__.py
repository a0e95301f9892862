"""Tests of the command line, one module per command (mirrors cli/)."""

from __future__ import annotations

from click.testing import CliRunner, Result

from attribution.cli.main import cli


def invoke(*args: object) -> Result:
    """Run ``attribution ARGS...`` as a user would, exceptions not caught."""
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
