"""`attribution models`: the registered models, their parameters and packages."""

from __future__ import annotations

import inspect

import click

from attribution.cli.options import echo_err, emit, output_options, render_table
from attribution.registry import get_registry


def models_table():
    import polars as pl

    registry = get_registry()
    loaded, errors = registry.load_all()
    rows = []
    for name, cls in loaded.items():
        params = ", ".join(
            f"{p.name}={p.default!r}" if p.default is not inspect.Parameter.empty else p.name
            for p in cls.params()
        )
        rows.append(
            {
                "name": name,
                "parameters": params,
                "needs_times": cls.needs_times,
                "package": registry.info(name).source,
                "description": cls.description,
            }
        )
    schema = {
        k: pl.Boolean if k == "needs_times" else pl.String
        for k in ("name", "parameters", "needs_times", "package", "description")
    }
    return pl.DataFrame(rows, schema=schema), errors


@click.command("models")
@output_options
def command(fmt, output) -> None:
    """List the registered models with their parameters and defaults."""
    table, errors = models_table()
    for error in errors.values():
        echo_err(f"not loaded: {error}")
    emit(table, fmt=fmt, output=output, inputs=(), table=lambda: render_table(table))
