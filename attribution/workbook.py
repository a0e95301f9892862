"""The spreadsheet a planner works in: one sheet per view of a run, each a formatted table.

:func:`run_workbook` lays a finished run out as sheets (what it covers, credit
by model, the comparison with a baseline, costs and returns, the KPIs, the
channels); :func:`as_workbook` makes one sheet of any frame. The xlsx writer
(:mod:`attribution.sinks`, the ``[xlsx]`` extra) turns them into a file: each
table an Excel table with a bold, frozen header, numbers formatted by their
kind (percentages as percentages, money as money, counts as whole numbers),
and totals in a table of their own below, so that a SUM over a table's
column never counts them twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import polars as pl

from attribution.change import credit_change
from attribution.costs import COST_COLUMNS, TOTAL
from attribution.coverage import Coverage, coverage_facts
from attribution.labels import Kind, kind_of, kpi_groups, label, model_summary, model_title

if TYPE_CHECKING:
    from attribution.api import ModelRun
    from attribution.kpis import KPIs
    from attribution.run import Run

__all__ = ["Sheet", "Workbook", "as_workbook", "kpi_sheets", "run_workbook"]


@dataclass(frozen=True)
class Sheet:
    """One worksheet: a table, how its numbers read, and its totals kept apart.

    Attributes
    ----------
    name : str
        The sheet's tab (at most 31 characters in Excel).
    table : DataFrame
        The rows; each becomes an Excel table with a filter on its header.
    kinds : mapping
        Column -> :data:`attribution.labels.Kind`, or a sequence of kinds, one
        per row (a KPI sheet, whose rows are different measures). A column
        without one reads by its name (:func:`attribution.labels.kind_of`).
    headers : mapping
        Column -> its header; default the column's name in words.
    totals : DataFrame, optional
        Rows that total the table, written as a table of their own below it.
    """

    name: str
    table: pl.DataFrame
    kinds: Mapping[str, Kind | Sequence[Kind]] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    totals: pl.DataFrame | None = None
    totals_title: str = "Totals"

    def kind(self, column: str) -> Kind | Sequence[Kind]:
        """How the numbers of ``column`` read (one kind, or one per row)."""
        given = self.kinds.get(column)
        if given is not None:
            return given
        dtype = self.table.schema.get(column)
        if dtype is not None and not dtype.is_numeric():
            return "text"
        return kind_of(column)

    def header(self, column: str) -> str:
        return self.headers.get(column) or label(column)


@dataclass(frozen=True)
class Workbook:
    """The sheets of one workbook, and the currency its money is in (None: plain numbers)."""

    sheets: tuple[Sheet, ...]
    currency: str | None = None


def as_workbook(payload: Workbook | pl.DataFrame, name: str = "Data") -> Workbook:
    """``payload`` as a workbook: a frame is one sheet whose columns read by their names."""
    if isinstance(payload, Workbook):
        return payload
    return Workbook((Sheet(name, payload),))


def _about(run: Run, coverage: Coverage | None, baseline: str | None) -> Sheet:
    facts = coverage_facts(run.result.summary, coverage)
    for model in run.result.runs:
        facts.append((f"Model: {model_title(model.label)}", model_summary(model.model)))
    if baseline is not None:
        facts.append(("Baseline of the comparison", model_title(baseline)))
    frame = pl.DataFrame(
        {"what": [k for k, _ in facts], "value": [v for _, v in facts]},
        schema={"what": pl.String, "value": pl.String},
    )
    return Sheet("About", frame, headers={"what": "What", "value": "Value"})


def _credit(run: Run) -> Sheet:
    credits = run.result.credits
    totals = credits.group_by("model", maintain_order=True).agg(
        pl.col("conversions").sum(), pl.col("value").sum(), pl.col("share").sum()
    )
    return Sheet(
        "Credit by model",
        credits,
        totals=totals,
        totals_title="Totals by model (every channel of the model together)",
    )


def _comparison(run: Run, baseline: str | ModelRun) -> Sheet | None:
    base = baseline if isinstance(baseline, str) else baseline.credits
    change = credit_change(run.result.credits, base)
    if change.height == 0:
        return None
    name = model_title(baseline if isinstance(baseline, str) else baseline.label)
    return Sheet(
        "Comparison",
        change,
        headers={
            "baseline_conversions": f"{name} (baseline) conversions",
            "baseline_value": f"{name} (baseline) value",
        },
    )


def _costs(run: Run) -> Sheet | None:
    if run.costed is None:
        return None
    table = run.costed.table
    is_total = pl.col("channel") == TOTAL
    keep = ["model", "channel", "conversions", "value", *COST_COLUMNS]
    rows = table.filter(~is_total).select(keep)
    totals = table.filter(is_total).select([c for c in keep if c != "channel"])
    return Sheet(
        "Costs and returns",
        rows,
        totals=totals if totals.height else None,
        totals_title=(
            "Totals by model: blended CPA, ROAS and ROI (channels without cost add no cost)"
        ),
    )


def kpi_sheets(kpis: KPIs) -> list[Sheet]:
    """The KPIs (grouped, with the reason beside an unavailable one), the channels and the
    top paths, each a sheet."""
    from attribution.labels import HEADLINE_KPIS

    rows: list[tuple[str, str, float | None, str]] = []
    kinds: list[Kind] = []
    groups = [("Headline", [n for n in HEADLINE_KPIS if n in kpis.headline])]
    for group, names in [*groups, *kpi_groups(kpis.headline)]:
        for name in names:  # a loop over KPIs
            rows.append(
                (group, label(name), kpis.headline.get(name), kpis.unavailable.get(name, ""))
            )
            kinds.append(kind_of(name))
    frame = pl.DataFrame(
        rows,
        schema={"group": pl.String, "kpi": pl.String, "value": pl.Float64, "note": pl.String},
        orient="row",
    )
    sheets = [
        Sheet(
            "KPIs",
            frame,
            kinds={"value": kinds},
            headers={"group": "Group", "kpi": "KPI", "value": "Value", "note": "Why empty"},
        )
    ]
    channels = kpis.channels
    if channels["kind"].null_count() == channels.height:
        channels = channels.drop("kind")
    sheets.append(Sheet("Channels", channels))
    if kpis.top_paths.height:
        sheets.append(Sheet("Top paths", kpis.top_paths))
    return sheets


def run_workbook(
    run: Run,
    *,
    kpis: KPIs | None = None,
    baseline: str | ModelRun | None = None,
    coverage: Coverage | None = None,
) -> Workbook:
    """A run as the workbook `attribution run --format xlsx` writes.

    Sheets, in order: About (what it covers, each model in a sentence),
    Credit by model (the long credit table, totals per model apart),
    Comparison (each model's change against ``baseline``, the label of one
    of the run's models or a run of its own; see
    :func:`attribution.change.credit_change`), Costs and returns (with
    costs; the blended totals apart), and with ``kpis`` the KPIs, the
    channels' conversion rates and the top paths.
    """
    base_label = None
    if baseline is not None:
        base_label = baseline if isinstance(baseline, str) else baseline.label
    sheets: list[Sheet | None] = [_about(run, coverage, base_label), _credit(run)]
    if baseline is not None:
        sheets.append(_comparison(run, baseline))
    sheets.append(_costs(run))
    if kpis is not None:
        sheets += kpi_sheets(kpis)
    currency = coverage.currency if coverage is not None else None
    return Workbook(tuple(s for s in sheets if s is not None), currency)


def cell_value(value: Any) -> Any:
    """A value as a cell takes it: numbers and text as they are, NaN and nulls empty."""
    if isinstance(value, float) and value != value:
        return None
    if value is None or isinstance(value, (int, float, str, bool)):
        return value
    return str(value)
