"""The last non-direct touch model: its rule, the conformance suite, its registration."""

from __future__ import annotations

import attribution as at
import numpy as np
import pytest
from attribution.journeys import Journeys
from attribution.models import LastTouch
from attribution.registry import Registry
from attribution.testing import check_model, example_journeys, parametrize_with_checks
from attribution.testing.strategies import journeys as journeys_strategy
from hypothesis import given, settings

from attribution_last_non_direct import LastNonDirect

DISTRIBUTION = "attribution-last-non-direct"
WITH_DIRECT = example_journeys(channels=["direct", "email", "paid_search", "social"])


# The engine's conformance suite: one test per rule, for the model as the
# entry point registers it and for explicit instances on data with a
# `direct` channel (the default sample has none).
@parametrize_with_checks(package=DISTRIBUTION)
def test_registered_model_keeps_the_contract(model, check):
    check(model)


@parametrize_with_checks([LastNonDirect(), LastNonDirect(direct="email")], journeys=WITH_DIRECT)
def test_model_keeps_the_contract_with_a_direct_channel(model, check):
    check(model)


def test_entry_point_registers_the_class():
    registry = Registry(include=lambda dist: dist == DISTRIBUTION)
    assert registry.names() == ["last_non_direct"]
    assert registry.get("last_non_direct") is LastNonDirect
    assert registry.info("last_non_direct").source == DISTRIBUTION


def _credit(model, journeys):
    frame = model.attribute(journeys)
    return dict(zip(frame["channel"], frame["conversions"], strict=True))


def test_direct_last_gives_the_touch_before_it_the_credit():
    j = Journeys.from_paths(
        [["seo", "direct"], ["email", "direct", "seo", "direct"], ["direct", "direct"]],
        conversions=[1, 1, 1],
    )
    # seo, then seo (the last non-direct of the second), then direct (all direct)
    assert _credit(LastNonDirect(), j) == {"direct": 1.0, "email": 0.0, "seo": 2.0}


def test_without_a_direct_channel_it_is_last_touch():
    j = example_journeys()
    expected = LastTouch().attribute(j)
    assert LastNonDirect().attribute(j).equals(expected)


def test_direct_parameter_names_the_channel():
    j = Journeys.from_paths([["seo", "email"], ["email", "seo"]], conversions=[1, 2])
    assert _credit(LastNonDirect(direct="email"), j) == {"email": 0.0, "seo": 3.0}


def test_bad_direct_is_an_error_when_the_model_runs():
    model = LastNonDirect(direct="")  # stored as given: checked when it runs
    with pytest.raises(at.ModelError, match="direct must be a channel name, got ''"):
        model.attribute(example_journeys())


@settings(max_examples=60, deadline=None)
@given(j=journeys_strategy(channels=["direct", "email", "seo"], weighted=True))
def test_credit_goes_to_the_last_non_direct_touch(j):
    # An oracle written the slow, obvious way: one journey at a time.
    expected = dict.fromkeys(j.channels, 0.0)
    for row in range(j.n_rows):
        path = [j.channels[c] for c in j.codes[j.offsets[row] : j.offsets[row + 1]]]
        others = [c for c in path if c != "direct"]
        expected[(others or path)[-1]] += j.conversions[row]
    got = _credit(LastNonDirect(), j)
    assert got.keys() == expected.keys()
    assert np.allclose([got[c] for c in j.channels], [expected[c] for c in j.channels])


@settings(max_examples=30, deadline=None)
@given(j=journeys_strategy(channels=["direct", "email", "seo"], weighted=True))
def test_every_rule_holds_on_random_journeys(j):
    check_model(LastNonDirect, j)


def test_cli_runs_the_plugin(tmp_path):
    from attribution.cli.main import cli
    from attribution.registry import use_registry
    from attribution.sample import write_sample_data
    from click.testing import CliRunner

    write_sample_data(tmp_path, customers=300, seed=1)
    engine_and_plugin = Registry(include=lambda d: d in {"attribution-engine", DISTRIBUTION})
    with use_registry(engine_and_plugin):
        result = CliRunner().invoke(
            cli,
            ["run", str(tmp_path / "events.csv"), "-m", "last_non_direct", "--format", "csv"],
            catch_exceptions=False,
        )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "model,channel,conversions,value,share"
    assert {line.split(",")[0] for line in lines[1:]} == {"last_non_direct"}
