"""The model contract: what every attribution model, built-in or plugin, provides."""

from __future__ import annotations

import inspect
import types
import typing
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import polars as pl

from attribution.journeys import Journeys

__all__ = ["Model", "Param", "TouchWeightModel", "credit_frame", "type_name"]

_MISSING = inspect.Parameter.empty


@dataclass(frozen=True)
class Param:
    """One hyper-parameter of a model: its name, type annotation and default."""

    name: str
    annotation: Any
    default: Any

    @property
    def type_name(self) -> str:
        """The annotation as people write it: ``float``, ``int | Literal['auto']``."""
        return type_name(self.annotation)


def type_name(annotation: Any) -> str:
    """Readable text of a type annotation (``any`` when there is none)."""
    if annotation is _MISSING:
        return "any"
    if annotation is type(None) or annotation is None:
        return "None"
    if isinstance(annotation, str):  # an annotation that could not be resolved
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_name(a) for a in typing.get_args(annotation))
    if origin is typing.Literal:
        return f"Literal[{', '.join(repr(a) for a in typing.get_args(annotation))}]"
    if isinstance(annotation, type) and origin is None:
        return annotation.__name__
    return str(annotation).replace("typing.", "")


class Model:
    """Base class of attribution models: the public contract for built-ins and plugins.

    A model has a registry ``name`` (snake_case), a one-line ``description``,
    keyword-only hyper-parameters stored unchanged under the same names (checked
    when the model runs, not in ``__init__``), and one method,
    :meth:`attribute`, that turns :class:`~attribution.journeys.Journeys` into a
    credit frame ``channel, conversions, value`` with one row per channel of
    ``journeys.channels``. Learned state goes in attributes ending in ``_``.

    The parameters' type hints tell the CLI how to parse ``NAME:key=value``:
    bool, int, float, str, None, ``Literal[...]`` and unions of them. A model
    is registered through the ``attribution.models`` entry-point group (or
    :func:`attribution.register_model`) and tested with
    :func:`attribution.testing.check_model`; see ``docs/writing-a-model.md``.

    Class attributes
    ----------------
    name : str
        Registry name, what users type after ``-m``.
    description : str
        One line, shown by ``attribution models``.
    needs_times : bool
        The model reads ``journeys.days_before``; on a paths-only input the
        engine refuses to run it with :class:`~attribution.errors.NeedsTimesError`.
    allows_negative : bool
        The model may give a channel negative credit (the conformance suite
        checks non-negativity otherwise).

    Examples
    --------
    >>> import numpy as np
    >>> from attribution.journeys import Journeys
    >>> from attribution.models import Model, credit_frame
    >>> class LastOnly(Model):
    ...     name = "last_only"
    ...     description = "All credit to the last touch."
    ...     def attribute(self, journeys):
    ...         last = journeys.codes[journeys.offsets[1:] - 1]
    ...         n = journeys.n_channels
    ...         return credit_frame(
    ...             journeys,
    ...             np.bincount(last, journeys.conversions, minlength=n),
    ...             np.bincount(last, journeys.value, minlength=n),
    ...         )
    >>> j = Journeys.from_paths([["seo", "email"], ["email"]], conversions=[1, 1])
    >>> LastOnly().attribute(j)["conversions"].to_list()  # channels: email, seo
    [2.0, 0.0]
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    needs_times: ClassVar[bool] = False
    allows_negative: ClassVar[bool] = False

    def attribute(self, journeys: Journeys) -> pl.DataFrame:
        """Credit the conversions of ``journeys`` to their channels.

        Parameters
        ----------
        journeys : Journeys
            Journeys or aggregated paths; rows are weighted by their
            ``conversions`` (and ``nulls``), never counted as one journey each.
            Do not write into its arrays.

        Returns
        -------
        polars.DataFrame
            ``channel, conversions, value``: one row per channel of
            ``journeys.channels`` (zero for a channel with no credit), adding up
            to ``journeys.total_conversions`` and ``journeys.total_value``.
            Build it with :func:`credit_frame`.

        Raises
        ------
        ModelError
            When a hyper-parameter is invalid (checked here, not in ``__init__``).
        """
        raise NotImplementedError

    def details(self) -> dict[str, Any]:
        """Extras of the last :meth:`attribute` call for ``--details`` (JSON-able)."""
        return {}

    def notes(self) -> list[str]:
        """One-line messages about the last :meth:`attribute` call that a user
        should see (the CLI prints them on stderr; JSON output lists them), for
        instance that part of the credit was estimated by sampling."""
        return []

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
        """The hyper-parameters' current values, by name."""
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
