"""The conformance suite every model passes, built-in or plugin.

``check_model(model)`` runs every rule of the model contract and raises
``AssertionError`` naming the rule that failed. ``parametrize_with_checks``
turns the same rules into one pytest case per model and rule. Hypothesis
strategies that generate journeys live in :mod:`attribution.testing.strategies`
(they need the ``hypothesis`` package, installed with the ``test`` extra).

The rules, in the order they run (``CHECKS``):

``declares_contract``
    snake_case ``name``, one-line ``description``, boolean ``needs_times`` and
    ``allows_negative``; every ``__init__`` parameter keyword-only, with a
    default and a type the CLI parses from ``NAME:key=value`` (bool, int,
    float, str, None, Literal, or a union of them); parameters stored
    unchanged under their own names, not validated in ``__init__``;
    ``constraints`` well formed, naming parameters only, and allowing the
    defaults.
``credit_adds_up``
    one credit row per channel; credited conversions and value add up to the
    journeys' conversions and value (also on the aggregated paths table when
    the model does not need times).
``no_negative_credit``
    unless the model declares ``allows_negative = True``.
``row_order_does_not_matter``, ``channel_names_do_not_matter``
    the same credit for shuffled rows and for renamed (hence recoded)
    channels; channels named by one of the model's string parameters (such
    as ``direct="direct"``) keep their names.
``deterministic``
    two runs, and a fresh copy of the model, give identical credit.
``one_channel_journeys``
    a journey that touches one channel gives it all of its credit.
``empty_input``, ``no_conversions``
    no journeys (with or without channels) and only null journeys give zero
    credit, one row per channel, no NaN.
``input_unchanged``
    the model does not write into the journeys' arrays.
``details_are_json``
    after a run, ``details()`` is a dict that ``--format json --details`` can write.
``missing_times``
    on paths without touch times a model runs, or, when it declares
    ``needs_times``, the engine refuses it with ``NeedsTimesError``.
"""

from __future__ import annotations

import functools
import inspect
import json
import re
import types
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, Literal

import numpy as np
import polars as pl

from attribution.api import run_model
from attribution.arrays import csr_offsets
from attribution.constraints import check_params
from attribution.errors import CreditError, ModelError, NeedsTimesError
from attribution.journeys import Journeys
from attribution.model import Model, Param
from attribution.registry import Registry, get_registry
from attribution.sinks import dumps
from attribution.spec import convert_param, make_model, parse_spec

__all__ = [
    "CHECKS",
    "Check",
    "check_model",
    "example_journeys",
    "parametrize_with_checks",
    "rename_channels",
    "shuffle_rows",
]

RTOL = 1e-9


def example_journeys(
    seed: int = 0, n: int = 200, n_channels: int = 5, *, channels: Sequence[str] | None = None
) -> Journeys:
    """A small varied sample: lengths 1 to 6, repeats, nulls, values, times.

    ``channels`` gives the channel names (``n_channels`` is then their number);
    by default they are ``ch0``, ``ch1``, ...
    """
    names = tuple(sorted(set(channels))) if channels is not None else None
    if names is not None:
        n_channels = len(names)
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 7, n)
    codes = rng.integers(0, n_channels, int(lengths.sum())).astype(np.uint32)
    conv = (rng.random(n) < 0.4).astype(np.float64)
    value = np.round(conv * rng.uniform(1, 200, n), 2)
    offsets = csr_offsets(lengths)
    days = np.concatenate([np.sort(rng.uniform(0, 30, k))[::-1] for k in lengths])
    return Journeys(
        channels=names if names is not None else tuple(f"ch{i}" for i in range(n_channels)),
        codes=codes,
        offsets=offsets,
        conversions=conv,
        value=value,
        nulls=1.0 - conv,
        days_before=days,
    )


def shuffle_rows(journeys: Journeys, seed: int = 0) -> Journeys:
    """The same journeys in another row order."""
    order = np.random.default_rng(seed).permutation(journeys.n_rows)
    return journeys.select(order)


def rename_channels(journeys: Journeys, mapping: dict[str, str]) -> Journeys:
    """The same journeys with channels renamed (and recoded in sorted order)."""
    names = [mapping[c] for c in journeys.channels]
    channels = tuple(sorted(names))
    recode = np.array([channels.index(n) for n in names], dtype=np.uint32)
    codes = recode[journeys.codes] if journeys.n_touches else journeys.codes
    return replace(journeys, channels=channels, codes=codes)


def _credit(model: Model, journeys: Journeys) -> pl.DataFrame:
    try:
        return run_model(model, journeys).sort("channel")
    except CreditError as exc:  # inf or NaN credit breaks the contract like any rule
        raise AssertionError(f"{model.name}: {exc}") from exc


def _close(a: np.ndarray, b: np.ndarray, scale: float) -> bool:
    return bool(np.allclose(a, b, rtol=RTOL, atol=RTOL * max(scale, 1.0)))


def _fresh(model: Model) -> Model:
    """A new instance with the same parameters (scikit-learn's clone)."""
    return type(model)(**model.get_params())


# -- the rules ------------------------------------------------------------
_SNAKE = re.compile(r"[a-z][a-z0-9_]*")
_PLAIN_TYPES = (bool, int, float, str, type(None))


def _parseable(annotation: Any) -> bool:
    """Whether the CLI's spec parser can turn text into this annotation."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return all(_parseable(a) for a in typing.get_args(annotation))
    if origin is Literal:
        return all(isinstance(c, (bool, int, float, str)) for c in typing.get_args(annotation))
    return annotation in _PLAIN_TYPES


def check_declares_contract(model: Model, journeys: Journeys) -> None:
    cls = type(model)
    label = cls.name or cls.__name__
    problems = []
    if not isinstance(cls.name, str) or not _SNAKE.fullmatch(cls.name):
        problems.append(f"`name` must be snake_case such as 'last_touch', got {cls.name!r}")
    desc = cls.description
    if not isinstance(desc, str) or not desc.strip() or "\n" in desc.strip():
        problems.append(f"`description` must be one non-empty line, got {desc!r}")
    for flag in ("needs_times", "allows_negative"):
        if not isinstance(getattr(cls, flag), bool):
            problems.append(f"`{flag}` must be True or False, got {getattr(cls, flag)!r}")
    if cls.__init__ is not object.__init__:
        for arg in list(inspect.signature(cls.__init__).parameters.values())[1:]:
            if arg.kind in (arg.VAR_POSITIONAL, arg.VAR_KEYWORD):
                problems.append(f"__init__ takes {arg}; the CLI can only pass named parameters")
            elif arg.kind is not arg.KEYWORD_ONLY:
                problems.append(f"parameter '{arg.name}' must be keyword-only (after `*`)")
    params = cls.params()
    for p in params:
        if p.default is inspect.Parameter.empty:
            problems.append(f"parameter '{p.name}' needs a default")
        if not _parseable(p.annotation):
            problems.append(
                f"parameter '{p.name}' has type {p.type_name}, which NAME:key=value cannot "
                "give; use bool, int, float, str, None, Literal[...] or a union of them "
                "(an unresolvable annotation shows as a string)"
            )
        elif p.default is not inspect.Parameter.empty:
            try:
                _, raw = parse_spec(f"{label}:{p.name}={p.default}")
                back = convert_param(raw[p.name], p.annotation) if len(raw) == 1 else raw
            except (ValueError, ModelError) as exc:
                back = exc
            if back != p.default:
                problems.append(
                    f"default {p.default!r} of '{p.name}' does not survive the spec "
                    f"'{p.name}={p.default}': it parses back as {back!r}"
                )
    # scikit-learn's rule: __init__ stores what it is given, checks come later.
    marks = {p.name: object() for p in params}
    try:
        marked = cls(**marks)
    except Exception as exc:
        problems.append(
            f"__init__ must store its parameters unchanged and leave checks to attribute(); "
            f"with placeholder values it raised {type(exc).__name__}: {exc}"
        )
    else:
        for key, mark in marks.items():
            if getattr(marked, key, None) is not mark:
                problems.append(f"parameter '{key}' is not stored unchanged as self.{key}")
    problems += _constraint_problems(cls, params)
    assert not problems, f"{label}: " + "; ".join(problems)


def _constraint_problems(cls: type[Model], params: list[Param]) -> list[str]:
    """What is wrong with the class's ``constraints``: a malformed entry, a name
    that is no parameter, a default that its own constraint refuses."""
    try:
        declared = cls.param_constraints()
    except TypeError as exc:
        return [f"`constraints`: {exc}"]
    names = {p.name for p in params}
    problems = []
    for key in declared:
        unknown = [n for n in ((key,) if isinstance(key, str) else key) if n not in names]
        if unknown:
            problems.append(
                f"`constraints` names {', '.join(repr(n) for n in unknown)}, which "
                f"{'is not a parameter' if len(unknown) == 1 else 'are not parameters'}; "
                f"parameters: {', '.join(sorted(names)) or 'none'}"
            )
    if problems:
        return problems
    defaults = {p.name: p.default for p in params}
    if inspect.Parameter.empty in defaults.values():
        return []  # reported above as a parameter without a default
    try:
        check_params(cls.name or cls.__name__, defaults, cls.constraints)
    except ModelError as exc:
        problems.append(f"the defaults break the declared constraints: {exc}")
    return problems


def _check_sums(model: Model, journeys: Journeys, what: str) -> None:
    credit = _credit(model, journeys)
    assert sorted(credit["channel"].to_list()) == sorted(journeys.channels), (
        f"{model.name}: the credit frame must have one row per channel of the journeys "
        f"({what}); got channels {credit['channel'].to_list()}, expected "
        f"{list(journeys.channels)}"
    )
    for col, total in (
        ("conversions", journeys.total_conversions),
        ("value", journeys.total_value),
    ):
        got = float(credit[col].sum())
        assert np.isclose(got, total, rtol=1e-7, atol=1e-7), (
            f"{model.name}: credited {col} add up to {got}, expected {total} ({what})"
        )


def check_credit_adds_up(model: Model, journeys: Journeys) -> None:
    _check_sums(model, journeys, "journeys")
    if not model.needs_times:
        # Paths tables have rows that stand for several converting and null journeys.
        _check_sums(model, journeys.aggregate(), "aggregated paths")


def check_no_negative_credit(model: Model, journeys: Journeys) -> None:
    if model.allows_negative:
        return
    credit = _credit(model, journeys)
    low = credit.filter((pl.col("conversions") < -1e-12) | (pl.col("value") < -1e-9))
    assert low.height == 0, (
        f"{model.name}: negative credit {low.to_dicts()} but the model does not declare "
        "allows_negative = True"
    )


def check_row_order_does_not_matter(model: Model, journeys: Journeys) -> None:
    a = _credit(model, journeys)
    b = _credit(model, shuffle_rows(journeys, seed=1))
    scale = journeys.total_value
    assert _close(a["conversions"].to_numpy(), b["conversions"].to_numpy(), scale) and _close(
        a["value"].to_numpy(), b["value"].to_numpy(), scale
    ), f"{model.name}: credit changes when the journeys come in another order"


def check_channel_names_do_not_matter(model: Model, journeys: Journeys) -> None:
    # A channel the model names in a parameter (direct="direct") is meant to
    # matter; every other name is renamed so that the alphabetical order is
    # reversed and every code changes.
    named = {v for v in model.get_params().values() if isinstance(v, str)}
    n = len(journeys.channels)
    mapping = {c: c if c in named else f"z{n - i:04d}_{c}" for i, c in enumerate(journeys.channels)}
    a = _credit(model, journeys)
    b = _credit(model, rename_channels(journeys, mapping))
    back = {v: k for k, v in mapping.items()}
    b = b.with_columns(pl.col("channel").replace_strict(back)).sort("channel")
    scale = journeys.total_value
    assert _close(a["conversions"].to_numpy(), b["conversions"].to_numpy(), scale) and _close(
        a["value"].to_numpy(), b["value"].to_numpy(), scale
    ), f"{model.name}: credit changes when the channels are renamed"


def check_deterministic(model: Model, journeys: Journeys) -> None:
    if journeys.n_rows > 1:  # a first run on other data, for state kept between runs
        run_model(model, journeys.select(np.arange(journeys.n_rows // 2)))
    a = _credit(model, journeys)
    b = _credit(model, journeys)
    assert a.equals(b), f"{model.name}: two runs on the same input give different credit"
    c = _credit(_fresh(model), journeys)
    assert a.equals(c), (
        f"{model.name}: a fresh {type(model).__name__}(**get_params()) gives other credit "
        "than the model that already ran (state kept between runs?)"
    )


def check_one_channel_journeys(model: Model, journeys: Journeys) -> None:
    # Every journey touches a single channel (possibly several times): that
    # channel must get all of its conversions and value.
    n = journeys.n_channels
    rows = np.arange(2 * n)
    channel = rows % n
    lengths = 1 + rows // n  # each channel once with one touch, once with two
    single = Journeys(
        channels=journeys.channels,
        codes=np.repeat(channel, lengths).astype(np.uint32),
        offsets=csr_offsets(lengths),
        conversions=np.ones(2 * n),
        value=np.arange(1, 2 * n + 1, dtype=np.float64),
        nulls=np.ones(2 * n),
        days_before=np.concatenate([np.arange(k, dtype=np.float64)[::-1] for k in lengths]),
    )
    credit = _credit(model, single)
    expected_conv = np.bincount(channel, minlength=n).astype(float)
    expected_val = np.bincount(channel, weights=single.value, minlength=n)
    order = np.argsort(np.array(journeys.channels))
    assert _close(credit["conversions"].to_numpy(), expected_conv[order], 1.0) and _close(
        credit["value"].to_numpy(), expected_val[order], float(single.value.sum())
    ), f"{model.name}: a journey of one channel must give that channel all of its credit"


def _assert_zero_credit(model: Model, journeys: Journeys, what: str) -> None:
    credit = _credit(model, journeys)
    assert sorted(credit["channel"].to_list()) == sorted(journeys.channels), (
        f"{model.name}: {what} must give one credit row per channel "
        f"({list(journeys.channels)}), got {credit['channel'].to_list()}"
    )
    numbers = credit.select("conversions", "value").to_numpy()
    assert np.isfinite(numbers).all() and not np.abs(numbers).any(), (
        f"{model.name}: {what} must give zero credit, got {credit.to_dicts()}"
    )


def check_empty_input(model: Model, journeys: Journeys) -> None:
    _assert_zero_credit(model, Journeys.empty(journeys.channels), "empty input")
    # An event file of conversions only has no channels at all.
    _assert_zero_credit(model, Journeys.empty(()), "empty input without channels")


def check_no_conversions(model: Model, journeys: Journeys) -> None:
    nulls = replace(
        journeys,
        conversions=np.zeros(journeys.n_rows),
        value=np.zeros(journeys.n_rows),
        nulls=journeys.conversions + journeys.nulls,
    )
    _assert_zero_credit(model, nulls, "journeys that never convert")


def check_input_unchanged(model: Model, journeys: Journeys) -> None:
    arrays = {
        f.name: getattr(journeys, f.name).copy()
        for f in fields(journeys)
        if isinstance(getattr(journeys, f.name), np.ndarray)
    }
    run_model(model, journeys)
    changed = [k for k, v in arrays.items() if not np.array_equal(v, getattr(journeys, k))]
    assert not changed, f"{model.name}: attribute() wrote into the journeys' arrays {changed}"


def check_details_are_json(model: Model, journeys: Journeys) -> None:
    run_model(model, journeys)
    details = model.details()
    assert isinstance(details, dict), (
        f"{model.name}: details() must return a dict, got {type(details).__name__}"
    )
    try:
        text = dumps({"params": model.get_params(), **details})
    except Exception as exc:
        raise AssertionError(
            f"{model.name}: details() and the parameters must be JSON-able (str, numbers, "
            f"bools, None, lists, dicts; numpy scalars are fine, arrays are not: use "
            f".tolist()); writing them raised {type(exc).__name__}: {exc}"
        ) from None
    assert isinstance(json.loads(text), dict)


def check_missing_times(model: Model, journeys: Journeys) -> None:
    bare = journeys.drop_times()
    if model.needs_times:
        try:
            run_model(model, bare)
        except NeedsTimesError:
            return
        raise AssertionError(f"{model.name}: needs_times is set but paths without times ran")
    check_credit_adds_up(model, bare)


CHECKS: dict[str, Callable[[Model, Journeys], None]] = {
    "declares_contract": check_declares_contract,
    "credit_adds_up": check_credit_adds_up,
    "no_negative_credit": check_no_negative_credit,
    "row_order_does_not_matter": check_row_order_does_not_matter,
    "channel_names_do_not_matter": check_channel_names_do_not_matter,
    "deterministic": check_deterministic,
    "one_channel_journeys": check_one_channel_journeys,
    "empty_input": check_empty_input,
    "no_conversions": check_no_conversions,
    "input_unchanged": check_input_unchanged,
    "details_are_json": check_details_are_json,
    "missing_times": check_missing_times,
}
"""Every rule of the model contract, by name; each takes ``(model, journeys)``."""


def _test_data(model: Model, journeys: Journeys | None) -> Journeys:
    # A model that needs times cannot be checked on paths: use the sample then.
    if journeys is None or (model.needs_times and not journeys.has_times):
        return example_journeys()
    return journeys


def _run_rule(rule: str, model: Model, journeys: Journeys | None) -> None:
    try:
        CHECKS[rule](model, _test_data(model, journeys))
    except AssertionError as exc:
        raise AssertionError(f"conformance rule '{rule}' failed: {exc}") from None


def check_model(
    model: Model | type[Model] | str,
    journeys: Journeys | None = None,
    *,
    rules: Iterable[str] | None = None,
) -> None:
    """Run the rules of the model contract on ``model``.

    Parameters
    ----------
    model : Model, Model subclass or str
        An instance, a class (run with its defaults), or a spec such as
        ``"time_decay:half_life_days=3"`` looked up in the registry.
    journeys : Journeys, optional
        The journeys the rules run on; default :func:`example_journeys`. Give
        ones with touch times, or the sample is used for a model that needs them.
    rules : iterable of str, optional
        Names from :data:`CHECKS`; default all of them.

    Raises
    ------
    AssertionError
        On the first rule that fails, naming the rule and what went wrong.
    """
    if isinstance(model, str):
        instance = make_model(model)
    else:
        instance = model() if isinstance(model, type) else model
    for rule in _rule_names(rules):
        _run_rule(rule, instance, journeys)


def _rule_names(rules: Iterable[str] | None) -> list[str]:
    names = list(CHECKS) if rules is None else list(rules)
    unknown = [r for r in names if r not in CHECKS]
    if unknown:
        raise ValueError(f"unknown conformance rules {unknown}; known: {', '.join(CHECKS)}")
    return names


@dataclass(frozen=True)
class Check:
    """One rule bound to its journeys; ``check(model)`` runs it.

    ``error`` is set when the model could not even be loaded or built: the
    check then fails with it, so a broken model shows up as failing tests
    instead of vanishing from the parametrisation.
    """

    rule: str
    journeys: Journeys | None = None
    error: str | None = None

    def __call__(self, model: Model | None) -> None:
        if self.error is not None or model is None:
            raise AssertionError(self.error or "no model to check")
        _run_rule(self.rule, model, self.journeys)

    def __repr__(self) -> str:
        return f"Check({self.rule!r})"


def _normalise(dist: str) -> str:
    return re.sub(r"[-_.]+", "-", dist).lower()


def _instance(item: Model | type[Model]) -> Model:
    if isinstance(item, type):
        return item()
    try:
        return _fresh(item)  # each case gets its own copy
    except Exception:
        return item


def _from_registry(registry: Registry, name: str) -> Model:
    return registry.get(name)()


def _label(item: Model | type[Model] | str) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, type):
        return item.name or item.__name__
    try:
        return item.spec()
    except Exception:
        return type(item).__name__


def parametrize_with_checks(
    models: Iterable[Model | type[Model] | str] = (),
    *,
    package: str | None = None,
    journeys: Journeys | None = None,
    rules: Iterable[str] | None = None,
) -> Any:
    """A ``pytest.mark.parametrize`` over models and rules of the conformance suite.

    The decorated test takes ``model`` and ``check`` and calls ``check(model)``;
    each (model, rule) pair is one test case, named like ``last_touch-deterministic``.

    Parameters
    ----------
    models : iterable of Model, Model subclass or str
        Instances, classes (built with their defaults), or registry names
        (looked up in the process-wide registry when the tests are collected).
    package : str, optional
        Also every model that this distribution registers in the
        ``attribution.models`` entry-point group. A model that fails to load,
        and a package that registers none (not installed?), give failing cases.
    journeys : Journeys, optional
        The journeys the rules run on; default :func:`example_journeys`.
    rules : iterable of str, optional
        Names from :data:`CHECKS`; default all of them.

    Examples
    --------
    >>> from attribution.testing import parametrize_with_checks
    >>> @parametrize_with_checks([MyModel, MyModel(alpha=0.5)])  # doctest: +SKIP
    ... def test_my_model_keeps_the_contract(model, check):
    ...     check(model)
    """
    import pytest  # only the pytest helper needs pytest

    names = _rule_names(rules)
    cases: list[Any] = []

    def add(label: str, build: Callable[[], Model]) -> None:
        for rule in names:  # a model per case, so that no case sees another's state
            try:
                model, error = build(), None
            except Exception as exc:
                model, error = None, f"{label}: {type(exc).__name__}: {exc}"
            cases.append(pytest.param(model, Check(rule, journeys, error), id=f"{label}-{rule}"))

    for item in models:
        if isinstance(item, str):
            add(item, functools.partial(_from_registry, get_registry(), item))
        else:
            add(_label(item), functools.partial(_instance, item))
    if package is not None:
        wanted = _normalise(package)
        registry = Registry(include=lambda dist: _normalise(dist) == wanted)
        if not registry.names():
            message = (
                f"package '{package}' registers no models in the 'attribution.models' "
                "entry-point group; is it installed? (python -m pip install -e <its folder>)"
            )
            cases.append(pytest.param(None, Check(names[0], journeys, message), id=package))
        for name in registry.names():
            add(name, functools.partial(_from_registry, registry, name))
    return pytest.mark.parametrize(("model", "check"), cases)
