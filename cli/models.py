"""`attribution models`: the registered models, their parameters and packages."""

from __future__ import annotations

import inspect
from typing import Any

import click
import polars as pl

from attribution.cli.options import echo_err, emit, output_options
from attribution.constraints import describe, key_text
from attribution.model import Model
from attribution.registry import get_registry
from attribution.text import render_table

_EMPTY = inspect.Parameter.empty


def _default(value: Any) -> str:
    # Written as a spec would take it: `direct=direct`, not `direct='direct'`.
    return "" if value is _EMPTY else str(value)


def models_table() -> tuple[pl.DataFrame, dict[str, str]]:
    """One row per model that loads (name, parameters, needs_times, package,
    description) and the load error of each one that does not."""
    registry = get_registry()
    loaded, errors = registry.load_all()
    rows = []
    for name, cls in loaded.items():
        params = ", ".join(
            p.name if p.default is _EMPTY else f"{p.name}={_default(p.default)}"
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


def _constraints(cls: type[Model]) -> dict[str, str]:
    """What each constrained parameter (or group of them) may be, in words."""
    try:
        declared = cls.param_constraints()
    except TypeError as exc:  # a plugin's malformed declaration: say so, show the rest
        return {"(malformed)": str(exc)}
    return {key_text(key): describe(allowed) for key, allowed in declared.items()}


def model_card(name: str) -> tuple[dict[str, Any], pl.DataFrame]:
    """What there is to know about one model: where it comes from, its flags and
    docstring, a ``parameter, type, default`` table and its declared constraints."""
    registry = get_registry()
    cls: type[Model] = registry.get(name)
    info = registry.info(name)
    params = pl.DataFrame(
        {
            "parameter": [p.name for p in cls.params()],
            "type": [p.type_name for p in cls.params()],
            "default": [_default(p.default) for p in cls.params()],
        },
        schema={"parameter": pl.String, "type": pl.String, "default": pl.String},
    )
    card = {
        "name": name,
        "package": info.source,
        "class": info.target,
        "description": cls.description,
        "needs_times": cls.needs_times,
        "allows_negative": cls.allows_negative,
        "parameters": params.to_dicts(),
        "constraints": _constraints(cls),
        "doc": inspect.getdoc(cls) or "",
    }
    return card, params


def _card_text(card: dict[str, Any], params: pl.DataFrame) -> str:
    lines = [
        f"{card['name']}: {card['description']}",
        f"package: {card['package']} ({card['class']})",
        f"needs touch times: {'yes' if card['needs_times'] else 'no'}; "
        f"negative credit: {'possible' if card['allows_negative'] else 'never'}",
        "",
        render_table(params) if params.height else "no parameters",
    ]
    if card["constraints"]:
        lines += ["", "constraints:"]
        lines += [f"  {key} must be {allowed}" for key, allowed in card["constraints"].items()]
    example = ",".join(f"{r['parameter']}={r['default']}" for r in card["parameters"])
    lines += ["", f"spec: -m {card['name']}" + (f":{example}" if example else "")]
    if card["doc"]:
        lines += ["", card["doc"]]
    return "\n".join(lines)


@click.command("models")
@click.argument("name", required=False)
@output_options
def command(name: str | None, fmt: str | None, output: str | None) -> None:
    """List the registered models with their parameters, defaults and packages.

    With NAME, show one model: its parameters with their types, and its
    documentation. Models that fail to load are reported on stderr.
    """
    if name is not None:
        card, params = model_card(name)
        emit(
            params,
            fmt=fmt,
            output=output,
            table=lambda: _card_text(card, params),
            json_doc=lambda: card,
        )
        return
    table, errors = models_table()
    for error in errors.values():
        echo_err(f"not loaded: {error}")
    emit(table, fmt=fmt, output=output, table=lambda: render_table(table))
