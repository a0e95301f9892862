"""The registry, model specs and their error messages."""

from __future__ import annotations

import pytest

import attribution as at
from attribution.errors import ModelError, RegistryError
from attribution.models import LastTouch, Linear, PositionBased
from attribution.registry import Registry, get_registry
from attribution.spec import make_model, parse_spec


def test_builtins_come_from_the_entry_point_group():
    reg = get_registry()
    assert {"first_touch", "last_touch", "linear", "time_decay", "position_based"} <= set(
        reg.names()
    )
    assert reg.info("linear").source == "attribution-engine"
    assert reg.get("last_touch") is LastTouch


def test_unknown_model_lists_the_known_ones():
    with pytest.raises(ModelError, match=r"unknown model 'lineer'; known models: .*linear"):
        make_model("lineer")


def test_spec_parses_typed_parameters():
    model = make_model("position_based:first=0.3, last=0.5")
    assert isinstance(model, PositionBased) and (model.first, model.last) == (0.3, 0.5)
    assert parse_spec("x:a=1,b=two") == ("x", {"a": "1", "b": "two"})


def test_unknown_parameter_lists_the_valid_ones():
    with pytest.raises(ModelError, match=r"no parameter 'middle'; valid parameters: first, last"):
        make_model("position_based:middle=0.2")


def test_badly_typed_parameter_is_an_error():
    with pytest.raises(ModelError, match=r"parameter 'half_life_days' got 'soon'"):
        make_model("time_decay:half_life_days=soon")
    with pytest.raises(ModelError, match="expected key=value"):
        make_model("time_decay:7")


def test_register_model_at_run_time_and_refuse_duplicates():
    class Everything(Linear):
        name = "everything_linear"

    at.register_model(Everything)
    assert get_registry().get("everything_linear") is Everything
    with pytest.raises(RegistryError, match="already registered by package 'runtime'"):
        at.register_model(Everything)
    with pytest.raises(RegistryError, match="already registered by package 'attribution-engine'"):
        at.register_model(Everything, name="linear")


def test_runtime_registration_does_not_leak_between_tests():
    assert "everything_linear" not in get_registry().names()


def test_duplicate_entry_point_names_both_packages(monkeypatch):
    import importlib.metadata as md

    class Dist:
        def __init__(self, name):
            self.name = name

    def fake(group):
        a = md.EntryPoint("dup", "pkg_a.mod:A", group)
        b = md.EntryPoint("dup", "pkg_b.mod:B", group)
        object.__setattr__(a, "dist", Dist("pkg-a"))
        object.__setattr__(b, "dist", Dist("pkg-b"))
        return [a, b]

    monkeypatch.setattr(md, "entry_points", fake)
    with pytest.raises(RegistryError, match=r"'dup' is registered twice.*'pkg-a'.*'pkg-b'"):
        Registry().names()


def test_failing_plugin_is_reported_and_others_still_load(monkeypatch):
    import importlib.metadata as md

    real = md.entry_points

    class Dist:
        name = "broken-plugin"

    def fake(group):
        ep = md.EntryPoint("broken", "no_such_module_xyz:Model", group)
        object.__setattr__(ep, "dist", Dist())
        return [*real(group=group), ep]

    monkeypatch.setattr(md, "entry_points", fake)
    reg = Registry()
    loaded, errors = reg.load_all()
    assert "linear" in loaded
    assert "broken-plugin" in errors["broken"] and "ModuleNotFoundError" in errors["broken"]


def test_model_repr_and_spec_show_parameters():
    model = make_model("time_decay:half_life_days=3")
    assert repr(model) == "TimeDecay(half_life_days=3.0)"
    assert model.spec() == "time_decay:half_life_days=3.0"
    assert Linear().spec() == "linear"
