"""The model registry: names to model classes, fed lazily by entry points."""

from __future__ import annotations

import importlib.metadata as md
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from attribution.errors import ModelError, RegistryError

if TYPE_CHECKING:
    from attribution.models.base import Model

__all__ = ["ENTRY_POINT_GROUP", "ModelInfo", "Registry", "get_registry", "register_model"]

ENTRY_POINT_GROUP = "attribution.models"


@dataclass(frozen=True)
class ModelInfo:
    """Where a registered name comes from, known without importing the model."""

    name: str
    source: str  # distribution name, or "runtime" for register_model
    target: str  # "module:Class"


class Registry:
    """Model names to classes; entry points are read on first use, not at import.

    ``include`` filters entry points by distribution name (tests keep only the
    engine's own so that an installed plugin cannot leak in).
    """

    def __init__(
        self, group: str = ENTRY_POINT_GROUP, include: Callable[[str], bool] | None = None
    ):
        self.group = group
        self.include = include
        self._entry_points: dict[str, md.EntryPoint] | None = None
        self._info: dict[str, ModelInfo] = {}
        self._classes: dict[str, type[Model]] = {}

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
                raise RegistryError(
                    f"model name '{ep.name}' is registered twice: by package "
                    f"'{self._info[ep.name].source}' ({found[ep.name].value}) and by "
                    f"package '{dist}' ({ep.value})"
                )
            found[ep.name] = ep
            self._info[ep.name] = ModelInfo(ep.name, dist, ep.value)
        self._entry_points = found

    def names(self) -> list[str]:
        self._scan()
        return sorted(self._info)

    def info(self, name: str) -> ModelInfo:
        self._scan()
        if name not in self._info:
            raise ModelError(f"unknown model '{name}'; known models: {', '.join(self.names())}")
        return self._info[name]

    def get(self, name: str) -> type[Model]:
        """The class registered as ``name``, importing its plugin if needed."""
        info = self.info(name)
        if name not in self._classes:
            try:
                cls = self._entry_points[name].load()  # type: ignore[index]
            except Exception as exc:
                raise RegistryError(
                    f"model '{name}' from package '{info.source}' failed to load: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
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
        self._scan()
        key = name or cls.name
        if not key:
            raise RegistryError(f"{cls.__name__} has no registry name; set its `name`")
        if key in self._info and not replace:
            raise RegistryError(
                f"model name '{key}' is already registered by package "
                f"'{self._info[key].source}'; pass replace=True to replace it"
            )
        self._info[key] = ModelInfo(key, "runtime", f"{cls.__module__}:{cls.__qualname__}")
        self._classes[key] = cls


_default = Registry()


def get_registry() -> Registry:
    """The process-wide registry."""
    return _default


def register_model(
    cls: type[Model], *, name: str | None = None, replace: bool = False
) -> type[Model]:
    """Register ``cls`` under ``name`` (default ``cls.name``); usable as a decorator."""
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
