"""Running models on journeys: the one call behind `attribution run`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import polars as pl

from attribution.errors import CreditError, InputError, ModelError, NeedsTimesError
from attribution.journeys import Journeys
from attribution.model import Model
from attribution.registry import get_registry
from attribution.spec import make_model

if TYPE_CHECKING:
    from attribution.intervals import Intervals

__all__ = [
    "AttributionResult",
    "LabelledModel",
    "ModelRun",
    "attribute",
    "parse_models",
    "summarise",
    "wide_credits",
]

CREDIT_COLUMNS = ("model", "channel", "conversions", "value", "share")


@dataclass
class ModelRun:
    """One model's run: its label (the spec as written), the fitted model, its credit."""

    label: str
    model: Model
    credits: pl.DataFrame  # channel, conversions, value

    def __repr__(self) -> str:  # the model and the size of its credit, not the frame
        return f"ModelRun({self.label!r}, {self.model!r}, {self.credits.height} channels)"


@dataclass
class AttributionResult:
    """Credits of several models on the same journeys, with the accounts."""

    journeys: Journeys
    runs: list[ModelRun]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (model, reason)
    load_errors: dict[str, str] = field(default_factory=dict)
    intervals: Intervals | None = None  # bootstrap bounds, see with_intervals()
    # The run summary when ``journeys`` are not the input's own (a partitioned
    # run keeps only the combined paths); None: summarise ``journeys``.
    input_summary: dict[str, Any] | None = None

    @property
    def credits(self) -> pl.DataFrame:
        """The long credit table ``model, channel, conversions, value, share``.

        ``share`` is the channel's conversions over the model's credited
        conversions (null when the model credited none). With intervals
        (:meth:`with_intervals`) the bounds and the few-conversions flag of
        :attr:`attribution.intervals.Intervals.bounds` follow.
        """
        frames = []
        for run in self.runs:
            total = float(run.credits["conversions"].sum())
            frames.append(
                run.credits.select(
                    pl.lit(run.label).alias("model"),
                    pl.col("channel"),
                    pl.col("conversions"),
                    pl.col("value"),
                    (pl.col("conversions") / total if total != 0 else pl.lit(None))
                    .cast(pl.Float64)
                    .alias("share"),
                )
            )
        if not frames:
            return pl.DataFrame(
                schema={
                    "model": pl.String,
                    "channel": pl.String,
                    "conversions": pl.Float64,
                    "value": pl.Float64,
                    "share": pl.Float64,
                }
            )
        table = pl.concat(frames)
        if self.intervals is not None:
            table = table.join(
                self.intervals.bounds, on=["model", "channel"], how="left", maintain_order="left"
            )
        return table

    def with_intervals(
        self,
        n: int = 200,
        *,
        level: float = 0.9,
        seed: int = 0,
        workers: int | None = None,
        min_conversions: float = 30.0,
    ) -> AttributionResult:
        """This result with bootstrap intervals of every run's credit.

        ``n`` replicates resample the customers (or, for a paths table, the
        journeys); each run's model runs again on every replicate.
        :attr:`credits` then has ``conversions_lo, conversions_hi, value_lo,
        value_hi, share_lo, share_hi`` (``level`` percentile bounds),
        ``touched_conversions`` and ``few_conversions`` (fewer than
        ``min_conversions`` conversions touch the channel). Seeded: the same
        ``seed`` gives the same bounds for any ``workers``. See
        :func:`attribution.intervals.bootstrap` and ``docs/intervals.md``.
        """
        from attribution.intervals import IntervalSettings, compute_intervals

        settings = IntervalSettings(n, level, seed, workers, min_conversions)
        return replace(self, intervals=compute_intervals(self.journeys, self.runs, settings))

    def wide(self, measure: str = "conversions") -> pl.DataFrame:
        """Channels as rows, models as columns, for one measure of the credit table."""
        channels = pl.DataFrame(
            {"channel": list(self.journeys.channels)}, schema={"channel": pl.String}
        )
        return wide_credits(self.credits, measure, [run.label for run in self.runs], channels)

    @property
    def summary(self) -> dict[str, Any]:
        return summarise(self.journeys) if self.input_summary is None else self.input_summary

    def __repr__(self) -> str:
        s = self.summary
        labels = ", ".join(run.label for run in self.runs) or "no model"
        return (
            f"<AttributionResult: {labels}; {s['channels']} channels, "
            f"{s['attributed_conversions']:,.0f} of {s['conversions']:,.0f} conversions "
            f"attributed, {s['journeys']:,.0f} journeys>"
        )

    def _repr_html_(self) -> str:
        """A notebook's view: the run summary and the credit table (channels x models)."""
        return _result_html(self, self.wide("conversions"), "Credited conversions")

    def notes(self) -> list[str]:
        """Each model's notes on its run, prefixed with the model's label."""
        return [f"{run.label}: {note}" for run in self.runs for note in run.model.notes()]

    def details(self) -> dict[str, Any]:
        """Each model's extras (removal effects, ...), keyed by label."""
        return {
            run.label: {
                "model": run.model.name,
                "params": run.model.get_params(),
                **run.model.details(),
            }
            for run in self.runs
        }

    def to_dict(
        self, *, details: bool = False, credits: pl.DataFrame | None = None
    ) -> dict[str, Any]:
        """The JSON document of `run`; ``credits`` replaces the credit table (say,
        one with costs joined)."""
        table = self.credits if credits is None else credits
        summary = self.summary
        if self.intervals is not None:
            summary = {**summary, "intervals": self.intervals.summary()}
        doc: dict[str, Any] = {"summary": summary, "credits": table.to_dicts()}
        notes = self.notes()
        if notes:
            doc["notes"] = notes
        if self.skipped:
            doc["skipped"] = [{"model": m, "reason": r} for m, r in self.skipped]
        if self.load_errors:
            doc["load_errors"] = self.load_errors
        if details:
            doc["details"] = self.details()
        return doc


def _result_html(result: AttributionResult, table: pl.DataFrame, caption: str) -> str:
    """A notebook's HTML of a result: the summary in a line, ``table``, skipped models."""
    from attribution.report.tables import e
    from attribution.report.tables import table as html_table
    from attribution.text import summary_text

    # model labels as written: what a notebook indexes the credit table with
    labels = {run.label: run.label for run in result.runs}
    lines = [
        f"<p>{e(summary_text(result))}</p>",
        html_table(table, caption=caption, headers=labels, kind="count"),
    ]
    lines += [f"<p>skipped {e(name)}: {e(why)}</p>" for name, why in result.skipped]
    return f'<div class="attribution-result">{"".join(lines)}</div>'


def wide_credits(
    credits: pl.DataFrame,
    measure: str,
    labels: Sequence[str],
    channels: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """One measure of a long credit table as ``channel`` plus one column per model label.

    Rows are ``channels`` (a one-column frame) in its order, by default the
    channels of ``credits`` in order of first appearance; a model without a
    row for a channel gets null there.
    """
    if channels is None:
        channels = credits.select(pl.col("channel").unique(maintain_order=True))
    out = channels
    for label in labels:  # a loop over models, each a join on the channel
        column = credits.filter(pl.col("model") == label).select(
            "channel", pl.col(measure).cast(pl.Float64).alias(label)
        )
        out = out.join(column, on="channel", how="left", maintain_order="left")
    return out


def summarise(journeys: Journeys) -> dict[str, Any]:
    """The run summary: what went in and what was credited or not.

    ``customers`` are the customers with at least one journey (converting or
    null): the ones the models see. ``customers_without_journeys`` are the
    rest of the input's customers, whose every conversion had no touch in its
    window (unattributed) and who have no touch after it; the two add up to
    every customer of the input (both None for a paths table). ``tied_journeys``
    are the journeys with touches at the same instant, whose tied touches
    share their positions (see :attr:`Journeys.tie`).
    """
    un = journeys.unattributed
    customers = journeys.n_customers
    return {
        "journeys": journeys.n_journeys,
        "converting_journeys": journeys.total_conversions,
        "null_journeys": journeys.total_nulls,
        "tied_journeys": float((journeys.conversions + journeys.nulls)[journeys.tied_rows].sum()),
        "customers": customers,
        "customers_without_journeys": None if customers is None else un.customers,
        "channels": journeys.n_channels,
        "conversions": journeys.total_conversions + un.conversions,
        "attributed_conversions": journeys.total_conversions,
        "unattributed_conversions": un.conversions,
        "conversion_value": journeys.total_value + un.value,
        "attributed_value": journeys.total_value,
        "unattributed_value": un.value,
        "has_times": journeys.has_times,
    }


class LabelledModel(NamedTuple):
    """A configured model and the label its credit goes under (its spec as written)."""

    label: str
    model: Model


ModelSpec = str | Model | LabelledModel
"""What names a model to run: a spec like ``"time_decay:half_life_days=3"``, a
model object (labelled by :meth:`Model.spec`), or an already parsed one."""


def parse_models(specs: ModelSpec | Sequence[ModelSpec]) -> list[LabelledModel]:
    """Each spec parsed once into its label and configured model, and checked.

    One spec (a string, a model) is one model, never a sequence of its letters.

    Call it before reading a large input: an unknown model, an unknown
    parameter or one of the wrong type fails here, and so does a value
    outside a model's declared constraints (:meth:`Model.validate_params`,
    where the model has it), in well under a second.

    Raises
    ------
    ModelError
        Naming the model and the parameter.
    """
    if isinstance(specs, (str, Model, LabelledModel)):
        specs = [specs]
    parsed = []
    for spec in specs:
        if isinstance(spec, LabelledModel):
            parsed.append(spec)
            continue
        label = spec.strip() if isinstance(spec, str) else spec.spec()
        model = make_model(spec)
        validate = getattr(model, "validate_params", None)  # from the model contract
        if callable(validate):
            validate()
        parsed.append(LabelledModel(label, model))
    return parsed


def attribute(
    journeys: Journeys,
    models: ModelSpec | Sequence[ModelSpec] | None = None,
    *,
    intervals: int | None = None,
    level: float = 0.9,
    seed: int = 0,
) -> AttributionResult:
    """Run ``models`` (specs like ``"time_decay:half_life_days=3"``, model
    objects, or :func:`parse_models`' result; one or a sequence of them) on
    ``journeys``; ``None`` runs every registered model.

    ``intervals=N`` adds ``level`` bootstrap intervals from ``N`` replicates
    seeded with ``seed`` (:meth:`AttributionResult.with_intervals`).

    Models asked for by name that need touch times raise
    :class:`~attribution.errors.NeedsTimesError` on a paths-only input; when
    all models run, those are skipped with a reason instead. A model asked for
    twice gets a ``#2`` after its label.
    """
    chosen, skipped, errors = choose_models(models, has_times=journeys.has_times)
    runs = [ModelRun(label, model, run_model(model, journeys)) for label, model in chosen]
    result = AttributionResult(journeys, runs, skipped, errors)
    if intervals is not None:
        result = result.with_intervals(intervals, level=level, seed=seed)
    return result


def choose_models(
    models: ModelSpec | Sequence[ModelSpec] | None, *, has_times: bool
) -> tuple[list[tuple[str, Model]], list[tuple[str, str]], dict[str, str]]:
    """The labelled models :func:`attribute` runs, the skipped ones with a reason,
    and the load errors (see there)."""
    skipped: list[tuple[str, str]] = []
    errors: dict[str, str] = {}
    if models is None:
        loaded, errors = get_registry().load_all()
        chosen: list[tuple[str, Model]] = []
        for name, cls in loaded.items():
            if cls.needs_times and not has_times:
                skipped.append((name, "needs touch times; the input has none (paths table)"))
                continue
            chosen.append((name, cls()))
    else:
        chosen = [(m.label, m.model) for m in parse_models(models)]
        if not chosen:
            raise ModelError("no model to run")
    labelled: list[tuple[str, Model]] = []
    seen: dict[str, int] = {}
    for label, model in chosen:
        seen[label] = seen.get(label, 0) + 1
        labelled.append((f"{label}#{seen[label]}" if seen[label] > 1 else label, model))
    return labelled, skipped, errors


def run_model(model: Model, journeys: Journeys) -> pl.DataFrame:
    """``model.attribute(journeys)`` with the contract's checks around it."""
    if model.needs_times and not journeys.has_times:
        raise NeedsTimesError(
            f"model '{model.name}' needs touch times, but the input is a paths table "
            "without them; give events with timestamps or choose another model"
        )
    _check_totals(journeys)
    credits = model.attribute(journeys)
    expected = {"channel", "conversions", "value"}
    if not isinstance(credits, pl.DataFrame) or not expected <= set(credits.columns):
        found = credits.columns if isinstance(credits, pl.DataFrame) else type(credits).__name__
        raise ModelError(
            f"model '{model.name}' returned {found}; expected a frame with columns "
            "channel, conversions, value"
        )
    credits = credits.select(
        pl.col("channel").cast(pl.String),
        pl.col("conversions").cast(pl.Float64),
        pl.col("value").cast(pl.Float64),
    )
    # This is where every credit is made, so no output downstream holds inf or NaN.
    for column in ("conversions", "value"):
        bad = credits.filter(~pl.col(column).is_finite())
        if bad.height or not math.isfinite(float(credits[column].sum())):
            detail = (
                f"channel '{bad['channel'][0]}' got {bad[column][0]}"
                if bad.height
                else "they add up past the largest number (1.8e308)"
            )
            raise CreditError(
                f"model '{model.name}' gave credited {column} that are not finite numbers: "
                f"{detail}; the input's values are too large to compute with"
            )
    return credits


def _check_totals(journeys: Journeys) -> None:
    """Refuse journeys whose conversions, values or nulls add up to no number."""
    with np.errstate(over="ignore"):
        totals = (
            ("conversions", journeys.total_conversions),
            ("conversion values", journeys.total_value),
            ("null journeys", journeys.total_nulls),
        )
    for name, total in totals:
        if not math.isfinite(total):
            raise InputError(
                f"the journeys' {name} add up to {total}, past the largest number (1.8e308); "
                "scale them down"
            )
