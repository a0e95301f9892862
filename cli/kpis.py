"""`attribution kpis`: the omnichannel KPIs of the journeys."""

from __future__ import annotations

from collections.abc import Mapping

import click

from attribution.cli.options import (
    InputOptions,
    echo_all,
    emit,
    input_options,
    kpi_options,
    output_format,
    output_options,
    write_result,
)
from attribution.kpis import compute_kpis
from attribution.labels import whole_counts
from attribution.text import render_kpis


@click.command("kpis")
@input_options
@kpi_options
@output_options
def command(
    inputs: InputOptions,
    kinds: Mapping[str, str] | None,
    top: int,
    fmt: str | None,
    output: str | None,
) -> None:
    """Omnichannel KPIs of INPUT: conversion rates, cross-channel share, touches
    and days to conversion, order value by customer segment, ROPO, top paths.

    Takes the same input options as `run`. The csv/json/parquet output is a long
    table kpi, segment, value (unavailable KPIs have an empty value); JSON adds
    the tables behind it and the reasons. Formulas: docs/kpis.md.
    """
    fmt = output_format(output, fmt)  # fails before the input is read
    kpis = compute_kpis(inputs.load(), channel_kinds=kinds, top=top)
    echo_all([f"note: {note}" for note in kpis.notes], output=output)
    if fmt == "xlsx":  # the KPIs grouped in words, the channels and the top paths
        from attribution.workbook import Workbook, kpi_sheets

        write_result(Workbook(tuple(kpi_sheets(kpis))), fmt, output)
        return
    emit(
        kpis.long(),
        fmt=fmt,
        output=output,
        table=lambda: render_kpis(kpis),
        json_doc=lambda: whole_counts(kpis.to_dict()),  # counts as ints, rates as floats
    )
