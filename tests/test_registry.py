"""The registry, model specs and their error messages."""

from __future__ import annotations

from typing import Literal, Optional

import pytest

import attribution as at
from attribution.errors import ModelError, RegistryError
from attribution.models import LastTouch, Linear, PositionBased
from attribution.registry import Registry, get_registry
from attribution.spec import make_model, parse_spec
from attribution.testing import check_model
from tests.conftest import add_entry_points


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
    add_entry_points(monkeypatch, ("dup", "pkg_a.mod:A", "pkg-a"), ("dup", "pkg_b.mod:B", "pkg-b"))
    reg = Registry()
    assert "dup" in reg.names()  # listed, so that `attribution models` reports it
    with pytest.raises(RegistryError, match=r"'dup' is registered twice.*'pkg-a'.*'pkg-b'"):
        reg.get("dup")
    loaded, errors = reg.load_all()
    assert "linear" in loaded and "dup" not in loaded  # the others keep working
    assert "pkg-a" in errors["dup"] and "pkg-b" in errors["dup"]


def test_plugin_claiming_a_builtin_name_is_an_error_naming_both(monkeypatch):
    add_entry_points(monkeypatch, ("linear", "other_pkg:Linear", "other-pkg"))
    reg = Registry()
    with pytest.raises(
        RegistryError,
        match=r"'linear' is registered twice: by package 'attribution-engine'.*"
        r"and by package 'other-pkg' \(other_pkg:Linear\)",
    ):
        reg.get("linear")
    assert reg.get("last_touch") is LastTouch
    reg.register(Linear, replace=True)  # a notebook may settle the clash
    assert reg.get("linear") is Linear


def test_same_package_seen_twice_is_not_a_duplicate(monkeypatch):
    add_entry_points(
        monkeypatch,
        ("twice", "attribution.models.heuristics:Linear", "pkg"),
        ("twice", "attribution.models.heuristics:Linear", "pkg"),
    )
    assert Registry().get("twice") is Linear


def test_entry_point_that_is_not_a_model_is_reported(monkeypatch):
    add_entry_points(monkeypatch, ("not_a_model", "os.path:join", "odd-pkg"))
    reg = Registry()
    with pytest.raises(
        RegistryError,
        match=r"'not_a_model' from package 'odd-pkg' failed to load: os.path:join is .*"
        r"expected a subclass of attribution.models.Model",
    ):
        reg.get("not_a_model")
    assert "linear" in reg.load_all()[0]


def test_register_model_as_a_decorator_with_and_without_arguments():
    @at.register_model
    class Plain(Linear):
        name = "plain_linear"

    @at.register_model(name="aliased_linear")
    class Aliased(Linear):
        name = "aliased"

    reg = get_registry()
    assert reg.get("plain_linear") is Plain and reg.get("aliased_linear") is Aliased
    assert reg.info("aliased_linear") == at.registry.ModelInfo(
        "aliased_linear", "runtime", f"{__name__}:{Aliased.__qualname__}"
    )


def test_register_model_refuses_what_cannot_be_used():
    with pytest.raises(RegistryError, match="expects a subclass of Model, got <function"):
        at.register_model(lambda journeys: None)
    with pytest.raises(RegistryError, match="'bad:name' cannot be used in a NAME:key=value spec"):
        at.register_model(Linear, name="bad:name")

    class Nameless(Linear):
        name = ""

    with pytest.raises(RegistryError, match="Nameless has no registry name"):
        at.register_model(Nameless)


def test_every_builtin_class_is_importable_from_attribution_models():
    import attribution.models

    loaded, _ = get_registry().load_all()
    for name, cls in loaded.items():
        assert getattr(attribution.models, cls.__name__, None) is cls, (
            f"{name}: {cls.__name__} is not exported by attribution.models"
        )


def test_failing_plugin_is_reported_and_others_still_load(monkeypatch):
    add_entry_points(monkeypatch, ("broken", "no_such_module_xyz:Model", "broken-plugin"))
    reg = Registry()
    loaded, errors = reg.load_all()
    assert "linear" in loaded
    assert "broken-plugin" in errors["broken"] and "ModuleNotFoundError" in errors["broken"]


def test_model_repr_and_spec_show_parameters():
    model = make_model("time_decay:half_life_days=3")
    assert repr(model) == "TimeDecay(half_life_days=3.0)"
    assert model.spec() == "time_decay:half_life_days=3.0"
    assert Linear().spec() == "linear"


class _Typed(Linear):
    name = "typed"
    description = "Linear with one parameter of every kind the CLI parses."

    def __init__(
        self,
        *,
        order: int | Literal["auto"] = 1,
        seed: Optional[int] = None,  # noqa: UP045 - the old spelling must work too
        mode: Literal["a", "b"] = "a",
        flag: bool = False,
        rate: float | None = 0.5,
    ) -> None:
        self.order = order
        self.seed = seed
        self.mode = mode
        self.flag = flag
        self.rate = rate


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("typed:order=auto", {"order": "auto"}),
        ("typed:order=3,seed=none", {"order": 3, "seed": None}),
        ("typed:seed=7,mode=b,flag=yes", {"seed": 7, "mode": "b", "flag": True}),
        ("typed:rate=none", {"rate": None}),
        ("typed:rate=1e-3,flag=0", {"rate": 0.001, "flag": False}),
    ],
)
def test_spec_parses_optional_literal_and_union_parameters(spec, expected):
    at.register_model(_Typed)
    params = make_model(spec).get_params()
    assert {k: params[k] for k in expected} == expected
    assert all(type(params[k]) is type(v) for k, v in expected.items())


def test_spec_errors_show_types_as_written():
    at.register_model(_Typed)
    with pytest.raises(ModelError, match=r"'order' got 'x'; expected int \| Literal\['auto'\]$"):
        make_model("typed:order=x")
    with pytest.raises(ModelError, match=r"'mode' got 'c'; expected one of \['a', 'b'\]"):
        make_model("typed:mode=c")
    assert [p.type_name for p in _Typed.params()] == [
        "int | Literal['auto']",
        "int | None",
        "Literal['a', 'b']",
        "bool",
        "float | None",
    ]
    check_model(_Typed)  # and the conformance suite accepts every one of these types


def test_core_and_cli_never_import_a_model_module():
    """Models are found through the registry only: no core or CLI module imports
    `attribution.models` (or anything under it), at the top or inside a function."""
    import ast

    from tests.conftest import ROOT

    offenders = []
    for folder in ("attribution", "cli"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    names = [node.module or ""]
                else:
                    continue
                for name in names:
                    if name == "attribution.models" or name.startswith("attribution.models."):
                        offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}")
    assert not offenders, offenders
