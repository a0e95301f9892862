"""A whole attribution run in one call: models checked, credit given, costs joined, accounts told.

This is what `attribution run`, `compare` and `plot` do between reading their
options and writing their output; the Python API offers it as :func:`run`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import polars as pl

from attribution.api import AttributionResult, ModelSpec, attribute, parse_models
from attribution.builder import load_journeys
from attribution.costs import CostedCredits, join_costs
from attribution.intervals import IntervalSettings, cost_intervals
from attribution.journeys import Journeys
from attribution.sources import Source
from attribution.text import summary_text

__all__ = ["Run", "run"]


@dataclass(frozen=True)
class Run:
    """A finished run: every model's credit and, when costs were given, the costed table."""

    result: AttributionResult
    costed: CostedCredits | None = None

    @property
    def credits(self) -> pl.DataFrame:
        """The long credit table, with ``cost, cpa, roas, roi`` when costs were given."""
        return self.result.credits if self.costed is None else self.costed.table

    def __repr__(self) -> str:
        costs = "" if self.costed is None else ", with costs"
        return f"<Run{costs}: {repr(self.result)[1:-1]}>"

    def _repr_html_(self) -> str:
        """A notebook's view: the summary and the credit table, with each model's
        blended cost, CPA, ROAS and ROI when costs were given."""
        from attribution.api import _result_html
        from attribution.costs import TOTAL

        if self.costed is None:
            return self.result._repr_html_()
        totals = self.costed.table.filter(pl.col("channel") == TOTAL).select(
            "model", "conversions", "value", "cost", "cpa", "roas", "roi"
        )
        if totals.height == 0:  # without the totals rows: the costed table itself
            return _result_html(self.result, self.costed.table, "Credit with costs")
        html = _result_html(self.result, self.result.wide("conversions"), "Credited conversions")
        from attribution.report.tables import table

        return html[: -len("</div>")] + table(totals, caption="Per model, blended") + "</div>"

    def messages(self) -> list[str]:
        """What to tell the user beside the data, one line each: the run summary,
        models skipped or not loaded, the models' notes, channels without cost."""
        lines = [summary_text(self.result)]
        if self.result.intervals is not None:
            lines.append(self.result.intervals.summary_line())
        lines += [f"skipped {name}: {reason}" for name, reason in self.result.skipped]
        lines += [f"not loaded: {error}" for error in self.result.load_errors.values()]
        lines += [f"note: {note}" for note in self.result.notes()]
        warning = self.costed.warning() if self.costed is not None else None
        if warning is not None:
            lines.append(f"warning: {warning}")
        return lines

    def to_dict(self, *, details: bool = False) -> dict[str, Any]:
        """The JSON document of `run`: the summary, the (costed) credits, the notes,
        and with costs the channels without cost."""
        doc = self.result.to_dict(details=details, credits=self.credits)
        if self.costed is not None:
            doc["uncosted_channels"] = self.costed.uncosted
        return doc


def run(
    source: Journeys | AttributionResult | Source,
    models: Sequence[ModelSpec] | None = None,
    *,
    costs: pl.DataFrame | Source | Mapping[str, float] | None = None,
    totals: bool = True,
    intervals: IntervalSettings | None = None,
    **load: Any,
) -> Run:
    """Attribute the conversions of ``source`` with ``models`` and join ``costs``.

    Parameters
    ----------
    source : Journeys, AttributionResult, path or DataFrame
        Journeys, or an events or paths source read by
        :func:`attribution.builder.load_journeys` with the options ``load``; or
        a finished result (a partitioned or Spark run), whose costs are joined.
    models : sequence of specs, optional
        Model specs, model objects or :func:`attribution.api.parse_models`'
        result; they are parsed and checked before ``source`` is read.
        Default: every registered model.
    costs : DataFrame, path or mapping, optional
        Spend per channel (see :func:`attribution.costs.read_costs`).
    totals : bool, default True
        With costs: a ``(total)`` row per model.
    intervals : IntervalSettings, optional
        Bootstrap intervals of every credit (and, with costs, of CPA, ROAS and
        ROI); see :mod:`attribution.intervals`.

    Returns
    -------
    Run
        The result; :meth:`Run.messages` has the summary and the warnings.
    """
    if isinstance(source, AttributionResult):
        result = source
    else:
        chosen = parse_models(models) if models is not None else None
        journeys = source if isinstance(source, Journeys) else load_journeys(source, **load)
        result = attribute(journeys, chosen)
    if intervals is not None:
        result = result.with_intervals(**vars(intervals))
    costed = None
    if costs is not None:
        costed = join_costs(result.credits, costs, totals=totals)
        if intervals is not None:
            costed = replace(costed, table=cost_intervals(costed.table))
    return Run(result, costed)
