"""Running what a report shows, then rendering it: the library call behind `attribution report`.

Everything that runs lives here (the models, the KPIs, the cost join, and
a default run of a model with a transition graph when the models asked for
have none); :func:`attribution.report.render` then only renders.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from attribution.api import (
    ModelRun,
    ModelSpec,
    attribute,
    parse_models,
    run_model,
)
from attribution.capabilities import HasTransitions
from attribution.change import DEFAULT_BASELINE, baseline_run
from attribution.costs import join_costs
from attribution.coverage import Coverage
from attribution.errors import AttributionError
from attribution.intervals import IntervalSettings, cost_intervals
from attribution.journeys import Journeys
from attribution.kpis import compute_kpis
from attribution.registry import get_registry
from attribution.report.document import render
from attribution.sinks import write_output
from attribution.sources import Source

if TYPE_CHECKING:
    from attribution.grains import Grain

__all__ = ["graph_run", "render_report", "write_report"]


def graph_run(journeys: Journeys) -> tuple[ModelRun | None, str | None]:
    """A registered model with a transition graph, run with its defaults on ``journeys``.

    For a report whose chosen models have no graph. Every registered model is
    loaded to be asked, and the first name (in sorted order) whose class has a
    transition graph (:class:`~attribution.capabilities.HasTransitions`) is
    run; a plugin's chain counts as much as the built-in Markov model.

    Returns
    -------
    (ModelRun or None, str or None)
        The run, or None and the reason there is none.
    """
    loaded, errors = get_registry().load_all()
    name = next((n for n, cls in loaded.items() if issubclass(cls, HasTransitions)), None)
    if name is None:
        reason = "no registered model has a transition graph"
        if errors:
            reason += "; not loaded: " + "; ".join(errors.values())
        return None, reason
    model = loaded[name]()
    try:
        credits = run_model(model, journeys)
    except AttributionError as exc:
        return None, str(exc)
    except Exception as exc:  # a plugin's own bug must not sink the whole report
        return None, f"the {name} model failed: {type(exc).__name__}: {exc}"
    return ModelRun(f"{name} (default parameters, for this graph)", model, credits), None


def render_report(
    journeys: Journeys,
    models: Sequence[ModelSpec] | None = None,
    *,
    costs: Source | Mapping[str, float] | None = None,
    channel_kinds: Mapping[str, str] | None = None,
    top: int = 10,
    title: str = "Attribution report",
    source: str | None = None,
    coverage: Coverage | None = None,
    baseline: ModelSpec | None = DEFAULT_BASELINE,
    grain: Grain | None = None,
    intervals: IntervalSettings | None = None,
) -> str:
    """Run ``models`` and the KPIs on ``journeys`` and render the report (one HTML page).

    What the page holds is described at :func:`attribution.report.render`.
    When ``models`` are given and none of them has a transition graph, a
    registered model that has one (Markov) runs with its defaults for the
    graph alone (see :func:`graph_run`).

    Parameters
    ----------
    journeys : Journeys
        The input, from events or a paths table.
    models : sequence of spec or Model, optional
        As for :func:`attribution.attribute`; ``None`` runs every registered model.
    costs : path, DataFrame or mapping, optional
        Spend per channel (see :func:`attribution.costs.read_costs`).
    channel_kinds : mapping, optional
        ``{channel: 'online'|'offline'}`` for the ROPO KPIs.
    top : int
        How many of the most frequent paths to list.
    title, source : str
        Heading of the report, and the input's name shown under it.
    coverage : Coverage, optional
        The input's period, the lookback window and the currency
        (:class:`attribution.coverage.Coverage`, :func:`attribution.coverage.input_period`).
    baseline : spec or Model, optional
        The model every other is compared with, channel by channel (default
        ``last_touch``); run on its own when it is not one of ``models``.
        None leaves the comparison out.
    grain : Grain, optional
        A finer grain (:mod:`attribution.grains`): with ``by`` the report draws
        the credit trend (and the ROAS trend, with dated costs), with
        ``segment`` it compares the segments.
    intervals : IntervalSettings, optional
        Bootstrap intervals of the credit (:mod:`attribution.intervals`): the
        credit tables gain the bounds and the model chart draws them as error bars.
    """
    if intervals is not None and grain is not None:
        raise AttributionError("intervals go with channel totals, not with a finer grain")
    if baseline is not None and baseline != DEFAULT_BASELINE:
        parse_models([baseline])  # a bad spec asked for fails before any model runs
    chosen = list(models) if models is not None else None
    result = (
        attribute(journeys, chosen)
        if grain is None
        else _grain_result(journeys, chosen, grain, costs)
    )
    if intervals is not None:
        result = result.with_intervals(**vars(intervals))
    kpis = compute_kpis(journeys, channel_kinds=channel_kinds, top=top)
    notes: dict[str, list[str]] = {}
    costed = None
    if costs is not None:
        # the page names the uncosted channels from the table itself
        costed = join_costs(result.credits, costs).table
        if intervals is not None:  # CPA, ROAS and ROI bounds from the credit bounds
            costed = cost_intervals(costed)
    graph = None
    if models is not None and not any(isinstance(r.model, HasTransitions) for r in result.runs):
        graph, reason = graph_run(journeys)
        if reason is not None:
            notes["markov"] = [f"Markov transition graph omitted: {reason}"]
    base: str | ModelRun | None = None
    if baseline is not None:
        base, why = baseline_run(result, baseline)
        if why is not None:
            notes["comparison"] = [why]
    return render(
        result,
        kpis,
        costed,
        graph=graph,
        notes=notes,
        title=title,
        source=source,
        coverage=coverage,
        baseline=base,
    )


def _grain_result(
    journeys: Journeys,
    models: list[ModelSpec] | None,
    grain: Grain,
    costs: Source | Mapping[str, float] | None,
) -> Any:
    """The run at ``grain`` (issue 17), with dated costs joined per period for the trend."""
    from attribution.costs import read_costs
    from attribution.grains import attribute_at

    result = attribute_at(journeys, models, grain)
    if costs is not None and grain.by is not None and not grain.segment:
        dated = read_costs(costs)
        if "period" in dated.columns:
            result.costed = join_costs(result.grain_credits, dated, by=grain.by).table
    return result


def write_report(
    output: str | os.PathLike[str],
    journeys: Journeys,
    models: Sequence[ModelSpec] | None = None,
    *,
    inputs: tuple[str | os.PathLike[str], ...] = (),
    **options: Any,
) -> None:
    """Write :func:`render_report` to ``output``, whole or not at all.

    ``inputs`` are files the report must never overwrite; ``options`` go to
    :func:`render_report`.
    """
    write_output(render_report(journeys, models, **options), output, "html", inputs=inputs)
