"""Declarative parameter constraints: the values a model's hyper-parameters may take.

A model states them once, as scikit-learn's ``_parameter_constraints`` do, in a
class attribute that maps each parameter to what it allows::

    constraints: ClassVar[Constraints] = {
        "order": (Interval(Integral, 1, None, closed="left"), Options("auto")),
        "half_life_days": Interval(Real, 0, None, closed="neither"),
        "label": (str, None),
        ("first", "last"): Satisfies(
            lambda first, last: first + last <= 1, "shares adding up to at most 1"
        ),
    }

A value is allowed when it satisfies one of the listed alternatives. An
alternative is a :class:`Constraint`, a type (``str``: an instance of it), or
``None`` (the value None). A key that is a tuple of parameter names relates
several parameters; its alternatives are :class:`Satisfies`, whose predicate
gets their values in that order, and it is checked after every single
parameter has passed. The base class :class:`attribution.model.Model` checks
the declaration each time the model runs; :func:`check_params` is the check.

Every constraint has a text (``str(constraint)``) that completes the sentence
"``x`` must be ...", so that errors and ``attribution models NAME`` say what is
allowed in the same words. Annotate the attribute as
``constraints: ClassVar[Constraints]`` (it is shared by every instance; ruff's
RUF012 asks for the annotation on a class-level dict).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from numbers import Integral, Real
from typing import Any, Literal, TypeAlias, cast

from attribution.errors import ModelError

__all__ = [
    "Constraint",
    "ConstraintSpec",
    "Constraints",
    "InstanceOf",
    "Integral",
    "Interval",
    "Options",
    "Real",
    "Satisfies",
    "as_constraints",
    "check_params",
    "describe",
    "key_text",
]


class Constraint(ABC):
    """One alternative of what a parameter may be.

    ``str(constraint)`` completes "``x`` must be ...": ``an integer >= 1``.
    """

    @abstractmethod
    def is_satisfied_by(self, value: Any) -> bool:
        """Whether ``value`` is allowed."""

    @abstractmethod
    def __str__(self) -> str: ...


class Interval(Constraint):
    """Integers or finite numbers between two bounds.

    Parameters
    ----------
    kind : numbers.Integral or numbers.Real
        ``Integral``: ints and numpy integers; ``Real``: those and floats. Bools
        are neither (``True`` is no count of folds), and NaN and infinities are
        never inside an interval.
    low, high : number or None
        The bounds; None leaves that side open-ended.
    closed : {"both", "left", "right", "neither"}
        Which bounds belong to the interval. Default ``"both"``.
    """

    def __init__(
        self,
        kind: type[Integral] | type[Real],
        low: float | None,
        high: float | None,
        *,
        closed: Literal["both", "left", "right", "neither"] = "both",
    ) -> None:
        if kind not in (Integral, Real):
            raise TypeError(f"Interval kind must be numbers.Integral or numbers.Real, got {kind!r}")
        if closed not in ("both", "left", "right", "neither"):
            raise ValueError(
                f"Interval closed must be 'both', 'left', 'right' or 'neither', got {closed!r}"
            )
        if low is not None and high is not None and low > high:
            raise ValueError(f"Interval low {low} is above high {high}")
        self.kind, self.low, self.high, self.closed = kind, low, high, closed

    def is_satisfied_by(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, self.kind):
            return False
        x: Any = value  # a numbers.Real has no comparison operators to a type checker
        if self.kind is Real and not math.isfinite(x):
            return False
        left = self.closed in ("both", "left")
        right = self.closed in ("both", "right")
        if self.low is not None and not (x >= self.low if left else x > self.low):
            return False
        return self.high is None or bool(x <= self.high if right else x < self.high)

    def __str__(self) -> str:
        noun = "an integer" if self.kind is Integral else "a number"
        left = self.closed in ("both", "left")
        right = self.closed in ("both", "right")
        if self.low is None and self.high is None:
            return noun
        if self.high is None:
            return f"{noun} {'>=' if left else '>'} {_number(self.low)}"
        if self.low is None:
            return f"{noun} {'<=' if right else '<'} {_number(self.high)}"
        lo, hi = _number(self.low), _number(self.high)
        return f"{noun} in {'[' if left else '('}{lo}, {hi}{']' if right else ')'}"

    def __repr__(self) -> str:
        return (
            f"Interval({self.kind.__name__}, {self.low!r}, {self.high!r}, closed={self.closed!r})"
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Interval) and repr(self) == repr(other)

    def __hash__(self) -> int:
        return hash(repr(self))


class Options(Constraint):
    """One of a few given values (strings, numbers, bools), compared by type too,
    so that ``True`` is not the option ``1``."""

    def __init__(self, *values: Any) -> None:
        if not values:
            raise ValueError("Options needs at least one value")
        self.values = values

    def is_satisfied_by(self, value: Any) -> bool:
        return any(
            isinstance(value, bool) == isinstance(option, bool) and _equal(value, option)
            for option in self.values
        )

    def __str__(self) -> str:
        if len(self.values) == 1:
            return repr(self.values[0])
        return f"one of {list(self.values)!r}"

    def __repr__(self) -> str:
        return f"Options({', '.join(repr(v) for v in self.values)})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Options) and self.values == other.values

    def __hash__(self) -> int:
        return hash(self.values)


class InstanceOf(Constraint):
    """An instance of a type; written in a declaration as the bare type (``str``)."""

    _NOUNS: Mapping[type, str] = {
        str: "a string",
        bool: "true or false",
        int: "an int",
        float: "a float",
        type(None): "None",
    }

    def __init__(self, type_: type) -> None:
        self.type = type_

    def is_satisfied_by(self, value: Any) -> bool:
        # `int` does not take True: a bool is never the count a parameter wants.
        if isinstance(value, bool) and self.type is not bool:
            return self.type is object
        return isinstance(value, self.type)

    def __str__(self) -> str:
        return self._NOUNS.get(self.type, f"an instance of {self.type.__name__}")

    def __repr__(self) -> str:
        return f"InstanceOf({self.type.__name__})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, InstanceOf) and self.type is other.type

    def __hash__(self) -> int:
        return hash(self.type)


class Satisfies(Constraint):
    """Any rule a predicate can state, with the text of what it allows.

    Under a single parameter the predicate gets its value; under a tuple of
    names it gets their values in that order. A predicate that raises counts
    as not satisfied (``lambda v: v > 0`` on a string is simply a bad value).

    Parameters
    ----------
    predicate : callable
        Returns true for allowed values.
    text : str
        Completes "``x`` must be ...", or for several parameters
        "``first`` and ``last`` must be ...": ``"shares adding up to at most 1"``.
    """

    def __init__(self, predicate: Callable[..., Any], text: str) -> None:
        self.predicate = predicate
        self.text = text

    def is_satisfied_by(self, value: Any) -> bool:
        return self.holds_for(value)

    def holds_for(self, *values: Any) -> bool:
        """Whether the predicate holds for these values (false when it raises)."""
        try:
            return bool(self.predicate(*values))
        except Exception:
            return False

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"Satisfies({self.predicate!r}, {self.text!r})"


ConstraintSpec: TypeAlias = "Constraint | type | tuple[Constraint | type | None, ...] | None"
"""What a declaration gives for one key: one alternative or a tuple of them."""

Constraints: TypeAlias = "Mapping[str | tuple[str, ...], ConstraintSpec]"
"""A model's whole declaration: parameter name (or names) to what is allowed."""


def as_constraints(spec: Any, key: str | tuple[str, ...] = "?") -> tuple[Constraint, ...]:
    """The alternatives a declaration gives, as :class:`Constraint` objects.

    Raises
    ------
    TypeError
        When an alternative is none of a Constraint, a type or None, or a
        key that relates several parameters lists something but Satisfies.
    """
    items = spec if isinstance(spec, (tuple, list)) else (spec,)
    out: list[Constraint] = []
    for item in items:
        if isinstance(item, Constraint):
            out.append(item)
        elif item is None:
            out.append(InstanceOf(type(None)))
        elif isinstance(item, type):
            out.append(InstanceOf(item))
        else:
            raise TypeError(
                f"constraint of {key_text(key)} must be a Constraint, a type or None "
                f"(or a tuple of them), got {item!r}"
            )
    if not out:
        raise TypeError(f"constraint of {key_text(key)} lists no alternative")
    if isinstance(key, tuple) and not all(isinstance(c, Satisfies) for c in out):
        raise TypeError(
            f"constraint of {key_text(key)} relates several parameters, so it must be "
            f"Satisfies(predicate, text), got {spec!r}"
        )
    return tuple(out)


def describe(constraints: tuple[Constraint, ...]) -> str:
    """The alternatives as one phrase: ``an integer >= 1 or 'auto'``."""
    texts = [str(c) for c in constraints]
    return texts[0] if len(texts) == 1 else f"{', '.join(texts[:-1])} or {texts[-1]}"


def key_text(key: str | tuple[str, ...]) -> str:
    """A declaration key as text: ``order``, ``first and last``, ``a, b and c``."""
    if isinstance(key, str):
        return key
    names = list(key)
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def check_params(
    owner: str,
    params: Mapping[str, Any],
    constraints: Constraints,
) -> None:
    """Check parameter values against a declaration; ModelError on the first breach.

    Single parameters are checked first, in declaration order, then the keys
    that relate several, so a relation only ever sees values of the right kind.

    Parameters
    ----------
    owner : str
        Who the parameters belong to (the model's name), for the message.
    params : mapping
        Parameter values by name.
    constraints : mapping
        The declaration (see the module docstring).

    Raises
    ------
    ModelError
        ``"markov: folds must be an integer >= 2, got 1"``.
    TypeError
        When the declaration names a parameter that ``params`` lacks or is malformed.
    """
    single = [(k, v) for k, v in constraints.items() if isinstance(k, str)]
    joint = [(k, v) for k, v in constraints.items() if not isinstance(k, str)]
    for key, spec in single:
        allowed = as_constraints(spec, key)
        value = _value(owner, params, key)
        if not any(c.is_satisfied_by(value) for c in allowed):
            raise ModelError(f"{owner}: {key} must be {describe(allowed)}, got {value!r}")
    for names, spec in joint:
        allowed = as_constraints(spec, names)
        values = [_value(owner, params, n) for n in names]
        if not any(cast(Satisfies, c).holds_for(*values) for c in allowed):
            got = ", ".join(f"{n}={v!r}" for n, v in zip(names, values, strict=True))
            raise ModelError(f"{owner}: {key_text(names)} must be {describe(allowed)}, got {got}")


def _value(owner: str, params: Mapping[str, Any], name: str) -> Any:
    if name not in params:
        raise TypeError(f"{owner}: a constraint names '{name}', which is not a parameter")
    return params[name]


def _number(x: float | None) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def _equal(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # an array compares elementwise: not one of the options
        return False
