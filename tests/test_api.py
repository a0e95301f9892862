"""The Python API's one call: models parsed once into labels, run, and accounted for."""

from __future__ import annotations

import polars as pl
import pytest

import attribution as at
from attribution.api import LabelledModel, parse_models
from attribution.errors import ModelError
from attribution.models import Linear, TimeDecay

PATHS = at.Journeys.from_paths(
    [["a", "b"], ["b"], ["c"]], conversions=[1, 1, 0], value=[10, 20, 0], nulls=[0, 0, 1]
)


def test_specs_are_labelled_as_written_and_configured_once():
    parsed = parse_models([" time_decay:half_life_days=3 ", "linear", TimeDecay(half_life_days=2)])
    assert [p.label for p in parsed] == [
        "time_decay:half_life_days=3",
        "linear",
        "time_decay:half_life_days=2",  # a model object is labelled by its spec()
    ]
    assert isinstance(parsed[0].model, TimeDecay) and parsed[0].model.half_life_days == 3.0
    assert parse_models(parsed) == parsed  # already parsed: passed through as they are


def test_a_bad_spec_fails_while_parsing():
    with pytest.raises(ModelError, match="model 'linear' has no parameter 'x'"):
        parse_models(["linear", "linear:x=1"])
    with pytest.raises(ModelError, match="unknown model 'nope'"):
        parse_models(["nope"])


def test_attribute_runs_parsed_models_under_their_labels():
    parsed = parse_models(["linear", "last_touch"])
    result = at.attribute(PATHS, parsed)
    assert [run.label for run in result.runs] == ["linear", "last_touch"]
    assert result.runs[0].model is parsed[0].model  # the model is not built again
    linear = result.credits.filter(result.credits["model"] == "linear")
    assert linear["conversions"].to_list() == pytest.approx([0.5, 1.5, 0.0])


def test_the_same_label_twice_gets_a_number():
    result = at.attribute(PATHS, [LabelledModel("mine", Linear()), "linear", "linear"])
    assert [run.label for run in result.runs] == ["mine", "linear", "linear#2"]


def test_no_model_is_an_error_and_none_runs_every_registered_one():
    with pytest.raises(ModelError, match="no model to run"):
        at.attribute(PATHS, [])
    everything = at.attribute(PATHS, None)
    assert {"linear", "markov", "shapley"} <= {run.label for run in everything.runs}
    assert [name for name, _ in everything.skipped] == ["time_decay"]  # no touch times


def test_summary_accounts_for_every_conversion():
    events = pl.DataFrame(
        {
            "customer_id": ["u", "u", "v"],
            "timestamp": ["2024-01-01", "2024-01-02", "2024-01-01"],
            "channel": ["a", None, None],
            "event": ["touch", "conversion", "conversion"],
            "value": [None, 10.0, 4.0],
        }
    )
    journeys = at.load_journeys(events)
    s = at.attribute(journeys, ["linear"]).summary
    assert (s["conversions"], s["attributed_conversions"], s["unattributed_conversions"]) == (
        2,
        1,
        1,
    )
    assert (s["conversion_value"], s["unattributed_value"]) == (14.0, 4.0)


def test_a_result_shows_itself_shortly_and_as_html_in_a_notebook(sample_events):
    from attribution.run import run

    outcome = run(sample_events, ["linear", "markov"], costs={"email": 10.0})
    text = repr(outcome.result)
    assert text.startswith("<AttributionResult: linear, markov;") and len(text) < 200
    assert "array" not in text and "DataFrame" not in text  # not a dump of every frame
    assert repr(outcome).startswith("<Run, with costs: AttributionResult: linear, markov;")
    html = outcome.result._repr_html_()
    assert "<table" in html and "<th>linear</th><th>markov</th>" in html
    assert html.count("<tr>") == 1 + outcome.result.journeys.n_channels
    assert "conversions worth" in html  # the summary
    assert "Per model, blended" in outcome._repr_html_()
    assert repr(outcome.result.runs[0]).startswith("ModelRun('linear', Linear(), ")


def test_the_package_offers_what_a_notebook_reaches_for_lazily():
    import subprocess
    import sys

    code = (
        "import sys, attribution as at\n"
        "assert 'attribution.report' not in sys.modules and 'matplotlib' not in sys.modules\n"
        "for name in ('compare', 'join_costs', 'compute_kpis', 'write_report', 'plot_credits',"
        " 'credit_change', 'attribute', 'load_journeys'):\n"
        "    assert callable(getattr(at, name)), name\n"
        "    assert name in at.__all__ and name in dir(at), name\n"
        "import attribution.compare\n"
        "assert callable(at.compare)  # the function, not the module of the same name\n"
        "assert len(at.__all__) <= 25\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
