"""The model registry: names to model classes, fed lazily by entry points."""

from __future__ import annotations

import importlib.metadata as md
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from attribution.errors import ModelError, RegistryError
from attribution.model import Model

__all__ = [
    "ENTRY_POINT_GROUP",
    "ModelInfo",
    "Registry",
    "get_registry",
    "register_model",
    "use_registry",
]

ENTRY_POINT_GROUP = "attribution.models"

# A registry name must survive `NAME:key=value,...` parsing on the command line.
_UNUSABLE_IN_SPEC = set(":,= \t\n")


@dataclass(frozen=True)
class ModelInfo:
    """Where a registered name comes from, known without importing the model."""

    name: str
    source: str  # distribution name, or "runtime" for register_model
    target: str  # "module:Class"


class Registry:
    """Model names to classes; entry points are read on first use, not at import.

    Reading the entry points only reads package metadata; a model's module is
    imported when the model is first asked for (:meth:`get`), so a broken or
    slow plugin costs nothing until it is used. Two packages that register one
    name make that name an error (naming both) without breaking the others.

    Parameters
    ----------
    group : str
        The entry-point group to read.
    include : callable, optional
        Keeps the entry points of the distributions for which it returns True
        (tests keep only the engine's own so that an installed plugin cannot
        leak in).
    """

    def __init__(
        self, group: str = ENTRY_POINT_GROUP, include: Callable[[str], bool] | None = None
    ):
        self.group = group
        self.include = include
        self._entry_points: dict[str, md.EntryPoint] | None = None
        self._info: dict[str, ModelInfo] = {}
        self._classes: dict[str, type[Model]] = {}
        self._conflicts: dict[str, str] = {}

    def _scan(self) -> None:
        if self._entry_points is not None:
            return
        found: dict[str, md.EntryPoint] = {}
        for ep in md.entry_points(group=self.group):
            dist = ep.dist.name if ep.dist is not None else "unknown"
            if self.include is not None and not self.include(dist):
                continue
            if ep.name in found:
                if found[ep.name].value == ep.value:  # one package seen twice on sys.path
                    continue
                # Recorded, not raised: the clash makes this one name unusable,
                # the other models keep working.
                first = self._conflicts.get(
                    ep.name,
                    f"model name '{ep.name}' is registered twice: by package "
                    f"'{self._info[ep.name].source}' ({found[ep.name].value})",
                )
                self._conflicts[ep.name] = f"{first} and by package '{dist}' ({ep.value})"
                continue
            found[ep.name] = ep
            self._info[ep.name] = ModelInfo(ep.name, dist, ep.value)
        self._entry_points = found

    def names(self) -> list[str]:
        """Every registered name, loadable or not, sorted."""
        self._scan()
        return sorted(self._info)

    def __contains__(self, name: object) -> bool:
        self._scan()
        return name in self._info

    def info(self, name: str) -> ModelInfo:
        """Where ``name`` comes from, without importing it."""
        self._scan()
        if name not in self._info:
            raise ModelError(f"unknown model '{name}'; known models: {', '.join(self.names())}")
        return self._info[name]

    def get(self, name: str) -> type[Model]:
        """The class registered as ``name``, importing its plugin if needed."""
        info = self.info(name)
        if name in self._conflicts:
            raise RegistryError(
                f"{self._conflicts[name]}; uninstall one of them, or choose one with "
                "attribution.register_model(cls, replace=True)"
            )
        if name not in self._classes:
            try:
                cls = self._entry_points[name].load()  # type: ignore[index]
            except Exception as exc:
                raise RegistryError(
                    f"model '{name}' from package '{info.source}' failed to load: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            if not (isinstance(cls, type) and issubclass(cls, Model)):
                raise RegistryError(
                    f"model '{name}' from package '{info.source}' failed to load: "
                    f"{info.target} is {cls!r}, expected a subclass of "
                    "attribution.models.Model"
                )
            self._classes[name] = cls
        return self._classes[name]

    def load_all(self) -> tuple[dict[str, type[Model]], dict[str, str]]:
        """Every model that loads, and the error of each one that does not."""
        loaded, errors = {}, {}
        for name in self.names():
            try:
                loaded[name] = self.get(name)
            except RegistryError as exc:
                errors[name] = str(exc)
        return loaded, errors

    def register(self, cls: type[Model], *, name: str | None = None, replace: bool = False) -> None:
        """Add a model class at run time (for notebooks and tests)."""
        if not (isinstance(cls, type) and issubclass(cls, Model)):
            raise RegistryError(f"register_model expects a subclass of Model, got {cls!r}")
        self._scan()
        key = name or cls.name
        if not key:
            raise RegistryError(f"{cls.__name__} has no registry name; set its `name`")
        if _UNUSABLE_IN_SPEC & set(key):
            raise RegistryError(
                f"model name '{key}' cannot be used in a NAME:key=value spec; "
                "expected snake_case such as 'last_non_direct'"
            )
        if key in self._info and not replace:
            raise RegistryError(
                f"model name '{key}' is already registered by package "
                f"'{self._info[key].source}'; pass replace=True to replace it"
            )
        self._info[key] = ModelInfo(key, "runtime", f"{cls.__module__}:{cls.__qualname__}")
        self._classes[key] = cls
        self._conflicts.pop(key, None)


_default = Registry()


def get_registry() -> Registry:
    """The process-wide registry."""
    return _default


def register_model(
    cls: type[Model] | None = None, *, name: str | None = None, replace: bool = False
) -> Any:
    """Register ``cls`` under ``name`` (default ``cls.name``) in the process-wide registry.

    The model is then available to :func:`attribution.attribute` and to model
    specs in this process, like an installed plugin. A name that is taken is an
    error unless ``replace=True``. Usable as a decorator, bare
    (``@register_model``) or with arguments (``@register_model(replace=True)``).
    """
    if cls is None:
        return lambda c: register_model(c, name=name, replace=replace)
    _default.register(cls, name=name, replace=replace)
    return cls


@contextmanager
def use_registry(registry: Registry) -> Iterator[Registry]:
    """Make ``registry`` the process-wide one inside the block."""
    global _default
    old, _default = _default, registry
    try:
        yield registry
    finally:
        _default = old
