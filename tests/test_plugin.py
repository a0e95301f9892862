"""Plugins: the example plugin end to end, lazy entry points, the pytest helper, the docs."""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import re
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

import attribution as at
from attribution.cli.main import cli
from attribution.errors import RegistryError
from attribution.registry import Registry, use_registry
from attribution.testing import CHECKS, Check, check_model, parametrize_with_checks
from tests.conftest import ROOT, add_entry_points

PLUGIN = "attribution-last-non-direct"
INSTALL = f"python3 -m pip install -e ./examples/plugin (in {ROOT})"


def require_plugin() -> None:
    """Fail (not skip): CI installs the example plugin, and so should you."""
    try:
        md.distribution(PLUGIN)
        return
    except md.PackageNotFoundError:
        pass
    pytest.fail(f"the example plugin '{PLUGIN}' is not installed; run: {INSTALL}")


@pytest.fixture
def with_plugin():
    """The engine's models and the example plugin's, nothing else."""
    require_plugin()
    with use_registry(Registry(include=lambda d: d in {"attribution-engine", PLUGIN})) as reg:
        yield reg


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


# -- the example plugin, as CI checks it ------------------------------------------
@parametrize_with_checks(package=PLUGIN)
def test_example_plugin_passes_the_conformance_suite(model, check):
    check(model)


def test_models_command_lists_the_plugin(with_plugin):
    result = invoke("models", "--format", "json")
    assert result.exit_code == 0
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert rows["last_non_direct"]["package"] == PLUGIN
    assert rows["last_non_direct"]["parameters"] == "direct=direct"
    assert rows["linear"]["package"] == "attribution-engine"


def test_models_command_shows_one_model_with_parameter_types(with_plugin):
    card = json.loads(invoke("models", "last_non_direct", "--format", "json").stdout)
    assert card["package"] == PLUGIN
    assert card["class"] == "attribution_last_non_direct:LastNonDirect"
    assert card["parameters"] == [{"parameter": "direct", "type": "str", "default": "direct"}]
    assert "References" in card["doc"]
    text = invoke("models", "position_based").stdout
    assert "spec: -m position_based:first=0.4,last=0.4" in text
    assert re.search(r"^first\s+float\s+0.4$", text, re.M)


def test_models_command_reports_a_name_clash_and_lists_the_rest(monkeypatch):
    add_entry_points(monkeypatch, ("linear", "rival_plugin:Linear", "rival-plugin"))
    with use_registry(Registry(include=lambda d: d in {"attribution-engine", "rival-plugin"})):
        result = invoke("models", "--format", "json")
        assert result.exit_code == 0
        assert "linear" not in {r["name"] for r in json.loads(result.stdout)}
        assert "last_touch" in {r["name"] for r in json.loads(result.stdout)}
        assert (
            "not loaded: model name 'linear' is registered twice: by package "
            "'attribution-engine' (attribution.models.heuristics:Linear) and by package "
            "'rival-plugin' (rival_plugin:Linear)" in result.stderr
        )
        clash = CliRunner().invoke(cli, ["models", "linear"])
        assert clash.exit_code == 1 and "registered twice" in clash.stderr


def test_run_uses_the_plugin_model(with_plugin, sample_events):
    from attribution_last_non_direct import LastNonDirect

    result = invoke(
        "run", sample_events, "-m", "last_touch", "-m", "last_non_direct", "--format", "csv"
    )
    assert result.exit_code == 0
    credit = pl.read_csv(result.stdout.encode())
    plugin = credit.filter(pl.col("model") == "last_non_direct").sort("channel")
    expected = LastNonDirect().attribute(at.load_journeys(sample_events)).sort("channel")
    assert plugin["conversions"].to_list() == pytest.approx(expected["conversions"].to_list())
    by_model = {(r["model"], r["channel"]): r["conversions"] for r in credit.iter_rows(named=True)}
    # The sample data has direct touches: last touch credits them, the plugin does not
    # (unless a journey is all direct).
    assert by_model[("last_touch", "direct")] > by_model[("last_non_direct", "direct")]


def test_run_passes_spec_parameters_to_the_plugin(with_plugin, sample_events):
    result = invoke("run", sample_events, "-m", "last_non_direct:direct=email", "--format", "json")
    rows = json.loads(result.stdout)["credits"]
    assert {r["model"] for r in rows} == {"last_non_direct:direct=email"}
    email = next(r for r in rows if r["channel"] == "email")
    direct = next(r for r in rows if r["channel"] == "direct")
    assert email["conversions"] < direct["conversions"]  # email now steps aside


def test_installed_console_script_runs_the_plugin(sample_events):
    """The real thing, as a user runs it: no registry filtering, a new process."""
    require_plugin()
    ran = _attribution("run", sample_events, "-m", "last_non_direct", "--format", "json")
    assert {r["model"] for r in json.loads(ran.stdout)["credits"]} == {"last_non_direct"}


def _attribution(*args, env=None) -> subprocess.CompletedProcess:
    """The `attribution` console script (or the same entry function when the
    scripts folder is not where sysconfig says)."""
    script = Path(sysconfig.get_path("scripts")) / "attribution"
    if script.exists():
        command = [str(script)]
    else:
        command = [sys.executable, "-c", "import sys; from attribution.cli.main import cli; cli()"]
    result = subprocess.run(
        [*command, *map(str, args)], capture_output=True, text=True, env=env, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    return result


# -- lazy entry points --------------------------------------------------------------
def test_help_does_not_import_plugins(tmp_path):
    """A plugin whose import leaves a mark (and then fails) on a fresh sys.path."""
    site = tmp_path / "site"
    info = site / "lazy_probe-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: lazy-probe\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[attribution.models]\nlazy_probe = lazy_probe_model:Probe\n"
    )
    marker = tmp_path / "imported"
    (site / "lazy_probe_model.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).touch()\n"
        "raise RuntimeError('the probe was imported')\n"
    )
    script = textwrap.dedent(
        """
        from click.testing import CliRunner
        from attribution.cli.main import COMMANDS, cli
        for args in ([], *([name] for name in COMMANDS)):
            result = CliRunner().invoke(cli, [*args, "--help"])
            assert result.exit_code == 0, (args, result.output)
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, cwd=ROOT)
    assert not marker.exists(), "a --help imported a plugin's module"
    # The probe is visible: listing the models imports it, reports it, and goes on.
    listed = _attribution("models", "--format", "json", env=env)
    assert marker.exists()
    assert (
        "not loaded: model 'lazy_probe' from package 'lazy-probe' failed to load: "
        "RuntimeError: the probe was imported" in listed.stderr
    )
    assert "linear" in {r["name"] for r in json.loads(listed.stdout)}


def test_reading_entry_points_imports_nothing(monkeypatch):
    loads = []

    class Recording(md.EntryPoint):
        def load(self):
            loads.append(self.name)
            return super().load()

    real = md.entry_points

    def fake(group):
        eps = [Recording(ep.name, ep.value, ep.group) for ep in real(group=group)]
        for ep, orig in zip(eps, real(group=group), strict=True):
            object.__setattr__(ep, "dist", orig.dist)
        return eps

    monkeypatch.setattr(md, "entry_points", fake)
    reg = Registry(include=lambda d: d == "attribution-engine")
    assert "linear" in reg.names() and "linear" in reg
    assert reg.info("time_decay").source == "attribution-engine"
    assert loads == []
    reg.get("linear")
    assert loads == ["linear"]


# -- the pytest helper ----------------------------------------------------------------
def _cases(mark):
    argnames, cases = mark.args
    assert argnames == ("model", "check")
    return {case.id: case.values for case in cases}


def test_parametrize_with_checks_makes_one_case_per_model_and_rule():
    from attribution.models import Linear, PositionBased

    cases = _cases(parametrize_with_checks([Linear, PositionBased(first=0.2), "last_touch"]))
    assert len(cases) == 3 * len(CHECKS)
    model, check = cases["position_based:first=0.2-deterministic"]
    assert isinstance(model, PositionBased) and model.first == 0.2
    assert check == Check("deterministic")
    check(model)  # passes
    assert {"linear-credit_adds_up", "last_touch-missing_times"} <= cases.keys()


def test_parametrize_with_checks_gives_each_case_its_own_model():
    from attribution.models import PositionBased

    shared = PositionBased(last=0.1)
    cases = _cases(parametrize_with_checks([shared], rules=["credit_adds_up", "deterministic"]))
    a, b = (values[0] for values in cases.values())
    assert a is not b and a is not shared and a.get_params() == shared.get_params()


def test_a_package_without_models_gives_a_failing_case():
    cases = _cases(parametrize_with_checks(package="no-such-distribution-xyz"))
    ((model, check),) = cases.values()
    with pytest.raises(AssertionError, match=r"'no-such-distribution-xyz' registers no models"):
        check(model)


def test_a_model_that_fails_to_load_gives_failing_cases(monkeypatch):
    add_entry_points(monkeypatch, ("broken", "no_such_module_xyz:Model", "broken-plugin"))
    cases = _cases(parametrize_with_checks(package="broken-plugin"))
    assert set(cases) == {f"broken-{rule}" for rule in CHECKS}
    model, check = cases["broken-credit_adds_up"]
    assert model is None
    with pytest.raises(AssertionError, match="failed to load: ModuleNotFoundError"):
        check(model)


def test_unknown_rule_names_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown conformance rules \['credit'\]; known: "):
        parametrize_with_checks([], rules=["credit"])


def test_check_model_names_the_failing_rule():
    from attribution.models import Linear

    class Leaky(Linear):
        name = "leaky"

        def attribute(self, journeys):
            frame = super().attribute(journeys)
            return frame.with_columns(pl.col("value") * 2)

    with pytest.raises(AssertionError, match=r"conformance rule 'credit_adds_up' failed: leaky"):
        check_model(Leaky)
    check_model(Leaky, rules=["row_order_does_not_matter", "deterministic"])


def test_runtime_registered_model_runs_like_a_plugin():
    from attribution.models import LastTouch

    @at.register_model(name="last_again")
    class LastAgain(LastTouch):
        name = "last_again"

    assert at.get_registry().info("last_again").source == "runtime"
    result = at.attribute(at.testing.example_journeys(), ["last_again", "last_touch"])
    wide = result.wide("conversions")
    assert wide["last_again"].to_list() == wide["last_touch"].to_list()
    with pytest.raises(RegistryError, match="already registered"):
        at.register_model(LastAgain)


# -- the docs ---------------------------------------------------------------------------
def _minimal_model_block() -> str:
    text = (ROOT / "docs" / "writing-a-model.md").read_text()
    marker = text.index("tests/test_plugin.py runs this block")
    return re.search(r"```python\n(.*?)```", text[marker:], re.S).group(1)


def test_the_minimal_model_in_the_docs_keeps_the_contract():
    code = _minimal_model_block()
    assert len(code.strip().splitlines()) <= 25, "the docs promise about twenty lines"
    namespace: dict = {}
    exec(compile(code, "docs/writing-a-model.md", "exec"), namespace)
    model_cls = namespace["FirstLastSplit"]
    check_model(model_cls)
    check_model(model_cls(share=0.0))
    at.register_model(model_cls)
    credit = at.attribute(
        at.Journeys.from_paths([["a", "b", "c"], ["c"]], conversions=[1, 1], value=[10, 30]),
        ["first_last_split:share=0.25"],
    ).credits
    assert credit["conversions"].to_list() == [0.25, 0.0, 1.75]
    assert credit["value"].to_list() == [2.5, 0.0, 37.5]


def test_docs_name_every_rule_of_the_suite():
    text = (ROOT / "docs" / "writing-a-model.md").read_text()
    documented = set(re.findall(r"^\| `(\w+)` \|", text, re.M))
    assert set(CHECKS) <= documented
