"""Model specs: ``NAME`` or ``NAME:key=value,key=value`` to configured models."""

from __future__ import annotations

import math
import types
import typing
from typing import Any, Literal

from attribution.errors import ModelError
from attribution.model import Model, Param, type_name
from attribution.registry import get_registry

__all__ = ["convert_param", "make_model", "parse_spec"]

_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}


def parse_spec(spec: str) -> tuple[str, dict[str, str]]:
    """Split ``NAME:key=value,...`` into the name and the raw parameter strings.

    A key given twice is an error: which of the two values was meant cannot be told.
    """
    name, _, rest = spec.strip().partition(":")
    if not name:
        raise ModelError(f"model spec '{spec}' has no model name")
    params: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise ModelError(f"model spec '{spec}': expected key=value, got '{item}'")
        if key.strip() in params:
            raise ModelError(
                f"model spec '{spec}' sets '{key.strip()}' twice; give each parameter once"
            )
        params[key.strip()] = value.strip()
    return name.strip(), params


def convert_param(text: str, annotation: Any) -> Any:
    """``text`` (what follows ``key=`` in a spec) as a value of the type ``annotation``.

    The types a parameter may have are bool, int, float, str, None,
    ``Literal[...]`` and unions of them; a union tries None, bool, int and
    float before the rest, so ``"3"`` is an int. Other annotations get the
    text unchanged (the model's constraints check it when it runs).

    Raises
    ------
    ValueError
        When the text is not a value of the type, saying what was expected.
    """
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        members = typing.get_args(annotation)
        # Try the narrower types first so that "3" is an int, not a string.
        order = sorted(
            members,
            key=lambda t: (
                [type(None), bool, int, float].index(t)
                if t in (type(None), bool, int, float)
                else 4
            ),
        )
        for member in order:
            try:
                return convert_param(text, member)
            except ValueError:
                continue
        raise ValueError(f"expected {_describe(annotation)}")
    if origin is Literal:
        for choice in typing.get_args(annotation):
            if str(choice) == text:
                return choice
        raise ValueError(f"expected one of {list(typing.get_args(annotation))}")
    if annotation is type(None):
        if text.lower() in ("none", "null"):
            return None
        raise ValueError("expected none")
    if annotation is bool:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueError("expected true or false")
    if annotation is int:
        return int(text)
    if annotation is float:
        value = float(text)
        if math.isnan(value):
            raise ValueError("expected a number")
        return value
    return text  # str, or an annotation we cannot check: the model validates it


def _describe(annotation: Any) -> str:
    return type_name(annotation)


def make_model(spec: str | Model) -> Model:
    """A configured model from a spec string (or the model itself)."""
    if isinstance(spec, Model):
        return spec
    name, raw = parse_spec(spec)
    cls = get_registry().get(name)
    params: dict[str, Param] = {p.name: p for p in cls.params()}
    kwargs: dict[str, Any] = {}
    for key, text in raw.items():
        if key not in params:
            valid = ", ".join(params) or "none"
            raise ModelError(f"model '{name}' has no parameter '{key}'; valid parameters: {valid}")
        try:
            kwargs[key] = convert_param(text, params[key].annotation)
        except ValueError as exc:
            raise ModelError(f"model '{name}': parameter '{key}' got '{text}'; {exc}") from None
    return cls(**kwargs)
