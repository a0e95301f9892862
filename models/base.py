"""The model contract: what every attribution model, built-in or plugin, provides."""

from __future__ import annotations

import inspect
import typing
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import polars as pl

from attribution.journeys import Journeys

__all__ = ["Model", "Param", "TouchWeightModel", "credit_frame"]

_MISSING = inspect.Parameter.empty


@dataclass(frozen=True)
class Param:
    """One hyper-parameter of a model: its name, type annotation and default."""

    name: str
    annotation: Any
    default: Any

    @property
    def type_name(self) -> str:
        ann = self.annotation
        if ann is _MISSING:
            return "any"
        text = ann if isinstance(ann, str) else getattr(ann, "__name__", None) or str(ann)
        return text.replace("typing.", "")


class Model:
    """Base class of attribution models.

    A model has a registry ``name`` (snake_case), a one-line ``description``,
    keyword-only hyper-parameters stored unchanged under the same names (checked
    when the model runs, not in ``__init__``), and one method,
    :meth:`attribute`, that turns :class:`~attribution.journeys.Journeys` into a
    credit frame ``channel, conversions, value`` with one row per channel of
    ``journeys.channels``. Learned state goes in attributes ending in ``_``.

    Class attributes
    ----------------
    needs_times : bool
        The model reads ``journeys.days_before``; on a paths-only input the
        engine refuses to run it with :class:`~attribution.errors.NeedsTimesError`.
    allows_negative : bool
        The model may give a channel negative credit (the conformance suite
        checks non-negativity otherwise).
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    needs_times: ClassVar[bool] = False
    allows_negative: ClassVar[bool] = False

    def attribute(self, journeys: Journeys) -> pl.DataFrame:
        """Credit frame ``channel, conversions, value`` for ``journeys``."""
        raise NotImplementedError

    def details(self) -> dict[str, Any]:
        """Extras of the last :meth:`attribute` call for ``--details`` (JSON-able)."""
        return {}

    # -- parameters, scikit-learn style -------------------------------------
    @classmethod
    def params(cls) -> list[Param]:
        """The keyword-only hyper-parameters of ``__init__`` with their types."""
        if cls.__init__ is object.__init__:
            return []
        sig = inspect.signature(cls.__init__)
        try:
            hints = typing.get_type_hints(cls.__init__)
        except Exception:  # unresolvable annotation: fall back to the raw text
            hints = {}
        return [
            Param(p.name, hints.get(p.name, p.annotation), p.default)
            for p in sig.parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY
        ]

    def get_params(self) -> dict[str, Any]:
        return {p.name: getattr(self, p.name) for p in self.params()}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def spec(self) -> str:
        """``name`` or ``name:key=value,...`` for the parameters not at default."""
        changed = [
            f"{p.name}={getattr(self, p.name)}"
            for p in self.params()
            if p.default is _MISSING or getattr(self, p.name) != p.default
        ]
        return self.name + (":" + ",".join(changed) if changed else "")


def credit_frame(journeys: Journeys, conversions: np.ndarray, value: np.ndarray) -> pl.DataFrame:
    """The credit frame from per-channel arrays (length ``journeys.n_channels``)."""
    return pl.DataFrame(
        {
            "channel": pl.Series(list(journeys.channels), dtype=pl.String),
            "conversions": np.asarray(conversions, dtype=np.float64),
            "value": np.asarray(value, dtype=np.float64),
        }
    )


class TouchWeightModel(Model):
    """A model that gives each touch a weight, the weights of a journey adding to 1.

    A journey's conversions and value are shared by its touches in proportion
    to the weights, so a channel touched twice gets two shares. Subclasses
    implement :meth:`weights`.
    """

    def weights(self, journeys: Journeys) -> np.ndarray:
        """Weight of every touch (shape ``(n_touches,)``), adding to 1 per row."""
        raise NotImplementedError

    def attribute(self, journeys: Journeys) -> pl.DataFrame:
        # Null journeys get no credit here, so only converting rows are weighed.
        journeys = journeys.converting
        if journeys.n_touches == 0:
            zero = np.zeros(journeys.n_channels)
            return credit_frame(journeys, zero, zero)
        w = self.weights(journeys)
        row = journeys.row_of_touch
        n = journeys.n_channels
        conv = np.bincount(journeys.codes, weights=w * journeys.conversions[row], minlength=n)
        val = np.bincount(journeys.codes, weights=w * journeys.value[row], minlength=n)
        return credit_frame(journeys, conv, val)
