"""Running models on journeys: the one call behind `attribution run`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from attribution.errors import CreditError, InputError, ModelError, NeedsTimesError
from attribution.journeys import Journeys
from attribution.models.base import Model
from attribution.registry import get_registry
from attribution.spec import make_model

__all__ = [
    "AttributionResult",
    "ModelRun",
    "attribute",
    "summarise",
    "summary_text",
    "wide_credits",
]

CREDIT_COLUMNS = ("model", "channel", "conversions", "value", "share")


@dataclass
class ModelRun:
    """One model's run: its label (the spec as written), the fitted model, its credit."""

    label: str
    model: Model
    credits: pl.DataFrame  # channel, conversions, value


@dataclass
class AttributionResult:
    """Credits of several models on the same journeys, with the accounts."""

    journeys: Journeys
    runs: list[ModelRun]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (model, reason)
    load_errors: dict[str, str] = field(default_factory=dict)

    @property
    def credits(self) -> pl.DataFrame:
        """The long credit table ``model, channel, conversions, value, share``.

        ``share`` is the channel's conversions over the model's credited
        conversions (null when the model credited none).
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
        return pl.concat(frames)

    def wide(self, measure: str = "conversions") -> pl.DataFrame:
        """Channels as rows, models as columns, for one measure of the credit table."""
        channels = pl.DataFrame(
            {"channel": list(self.journeys.channels)}, schema={"channel": pl.String}
        )
        return wide_credits(self.credits, measure, [run.label for run in self.runs], channels)

    @property
    def summary(self) -> dict[str, Any]:
        return summarise(self.journeys)

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
        doc: dict[str, Any] = {"summary": self.summary, "credits": table.to_dicts()}
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


def summary_text(summary: dict[str, Any]) -> str:
    """The run summary of :func:`summarise` as the one line the CLI prints."""
    s = summary
    customers = ""
    if s["customers"] is not None:
        customers = f"{s['customers']:,} customers"
        if s.get("customers_without_journeys"):
            customers += f" (and {s['customers_without_journeys']:,} with no journey)"
        customers += ", "
    tied = ""
    if s.get("tied_journeys"):
        tied = (
            f"; {s['tied_journeys']:,.0f} journeys have touches at the same instant "
            "(tied touches share their positions)"
        )
    return (
        f"{customers}{s['journeys']:,.0f} journeys ({s['converting_journeys']:,.0f} converting), "
        f"{s['conversions']:,.0f} conversions worth {s['conversion_value']:,.2f}: "
        f"{s['attributed_conversions']:,.0f} attributed, "
        f"{s['unattributed_conversions']:,.0f} unattributed "
        f"(worth {s['unattributed_value']:,.2f}){tied}"
    )


def _label(spec: str | Model) -> str:
    return spec.strip() if isinstance(spec, str) else spec.spec()


def attribute(journeys: Journeys, models: Sequence[str | Model] | None = None) -> AttributionResult:
    """Run ``models`` (specs like ``"time_decay:half_life_days=3"`` or model
    objects) on ``journeys``; ``None`` runs every registered model.

    Models asked for by name that need touch times raise
    :class:`~attribution.errors.NeedsTimesError` on a paths-only input; when
    all models run, those are skipped with a reason instead. A model asked for
    twice gets a ``#2`` after its label.
    """
    skipped: list[tuple[str, str]] = []
    errors: dict[str, str] = {}
    if models is None:
        loaded, errors = get_registry().load_all()
        chosen: list[tuple[str, Model]] = []
        for name, cls in loaded.items():
            if cls.needs_times and not journeys.has_times:
                skipped.append((name, "needs touch times; the input has none (paths table)"))
                continue
            chosen.append((name, cls()))
    else:
        chosen = [(_label(spec), make_model(spec)) for spec in models]
        if not chosen:
            raise ModelError("no model to run")
    runs: list[ModelRun] = []
    seen: dict[str, int] = {}
    for label, model in chosen:
        seen[label] = seen.get(label, 0) + 1
        if seen[label] > 1:
            label = f"{label}#{seen[label]}"
        runs.append(ModelRun(label, model, run_model(model, journeys)))
    return AttributionResult(journeys, runs, skipped, errors)


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
