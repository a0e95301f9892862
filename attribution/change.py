"""Each channel's credit under every model against a baseline model, as GA4's model comparison.

The question a planner asks when moving off last click: which channels gain
and which lose. :func:`credit_change` answers it per model and channel, in
conversions and in value, as a difference and as a percentage of the
baseline's credit.
"""

from __future__ import annotations

import polars as pl

from attribution.api import AttributionResult, ModelRun, ModelSpec, parse_models, run_model
from attribution.costs import TOTAL
from attribution.errors import AttributionError, InputError

__all__ = ["CHANGE_COLUMNS", "DEFAULT_BASELINE", "baseline_run", "credit_change"]

DEFAULT_BASELINE = "last_touch"
"""The model others are compared with unless told otherwise: what most ad platforms report."""

CHANGE_COLUMNS = (
    "model",
    "channel",
    "baseline_conversions",
    "conversions",
    "conversions_change",
    "conversions_change_pct",
    "baseline_value",
    "value",
    "value_change",
    "value_change_pct",
)
"""Columns of :func:`credit_change`'s table."""


def credit_change(
    credits: pl.DataFrame,
    baseline: str | pl.DataFrame,
    *,
    models: list[str] | None = None,
) -> pl.DataFrame:
    """Every model's credit per channel against the baseline's.

    Parameters
    ----------
    credits : polars.DataFrame
        A long credit table (``model, channel, conversions, value``), such as
        :attr:`attribution.api.AttributionResult.credits`; ``(total)`` rows of a
        costed table are left out.
    baseline : str or polars.DataFrame
        The label of the baseline's model in ``credits``, or the baseline's own
        credit frame (``channel, conversions, value``) when it is not one of
        the models compared.
    models : list of str, optional
        The models to compare, in this order; default every model of
        ``credits`` other than the baseline.

    Returns
    -------
    polars.DataFrame
        :data:`CHANGE_COLUMNS`: per model, every channel of the models or of
        the baseline (a channel one of them does not credit counts as 0).
        ``*_change`` is the model's credit less the baseline's, ``*_change_pct``
        that change over the baseline's credit, null where the baseline gives
        the channel nothing.

    Raises
    ------
    InputError
        When the baseline's label is not in ``credits``, or a needed column is missing.
    """
    needed = {"model", "channel", "conversions", "value"}
    if not needed <= set(credits.columns):
        raise InputError(
            f"credit table: expected columns {sorted(needed)}, found {credits.columns}"
        )
    credits = credits.filter(pl.col("channel") != TOTAL)
    present = credits["model"].unique(maintain_order=True).to_list()
    if isinstance(baseline, str):
        if baseline not in present:
            raise InputError(
                f"baseline model '{baseline}' is not in the credit table; it has {present}"
            )
        base = credits.filter(pl.col("model") == baseline)
        others = [m for m in present if m != baseline]
    else:
        base = baseline
        others = present
    chosen = others if models is None else list(models)
    unknown = [m for m in chosen if m not in present]
    if unknown:
        raise InputError(f"model(s) {unknown} not in the credit table; it has {present}")
    base = base.select(
        pl.col("channel").cast(pl.String),
        pl.col("conversions").cast(pl.Float64).alias("baseline_conversions"),
        pl.col("value").cast(pl.Float64).alias("baseline_value"),
    )
    frames = []
    for model in chosen:  # a loop over models, each a join on the channel
        own = credits.filter(pl.col("model") == model).select(
            pl.col("channel").cast(pl.String),
            pl.col("conversions").cast(pl.Float64),
            pl.col("value").cast(pl.Float64),
        )
        joined = base.join(own, on="channel", how="full", coalesce=True, maintain_order="left")
        frames.append(joined.with_columns(pl.lit(model).alias("model")))
    if not frames:
        return pl.DataFrame(schema=dict.fromkeys(CHANGE_COLUMNS, pl.Float64)).cast(
            {"model": pl.String, "channel": pl.String}
        )
    out = pl.concat(frames).with_columns(
        pl.col("baseline_conversions", "conversions", "baseline_value", "value").fill_null(0.0)
    )
    for measure in ("conversions", "value"):
        base_col = pl.col(f"baseline_{measure}")
        change = pl.col(measure) - base_col
        out = out.with_columns(
            change.alias(f"{measure}_change"),
            pl.when(base_col != 0).then(change / base_col).alias(f"{measure}_change_pct"),
        )
    return out.select(CHANGE_COLUMNS)


def baseline_run(
    result: AttributionResult, spec: ModelSpec
) -> tuple[str | ModelRun | None, str | None]:
    """The baseline to compare ``result``'s models with: the label of one of its runs
    when the spec is among them, else the spec run on its own on the same journeys.

    Returns
    -------
    (str or ModelRun or None, str or None)
        The baseline, or None and the reason there is none (a baseline that
        needs touch times on a paths table, say).
    """
    try:
        (parsed,) = parse_models([spec])
    except AttributionError as exc:  # the default baseline may not be installed
        return None, f"no baseline: {exc}"
    for run in result.runs:
        if run.label == parsed.label:
            return run.label, None
    try:
        credits = run_model(parsed.model, result.journeys)
    except AttributionError as exc:
        return None, f"the baseline {parsed.label} could not run: {exc}"
    return ModelRun(parsed.label, parsed.model, credits), None
