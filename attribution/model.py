"""The model contract: what every attribution model, built-in or plugin, provides.

It lives in the core so that the engine never needs the model families to know
what a model is; :mod:`attribution.models` re-exports it for plugin authors.
"""

from __future__ import annotations

import functools
import inspect
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import polars as pl

from attribution.arrays import ranges
from attribution.capabilities import RowCredit
from attribution.constraints import Constraint, Constraints, as_constraints, check_params
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
    against ``constraints`` when the model runs, not in ``__init__``), and one method,
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
    summary : str
        Optional: one plain sentence on what the model credits, for readers of
        a report who do not build models ("Splits each conversion equally among
        the touches before it."). ``{parameter}`` fields are filled from the
        model's parameters. Reports fall back to ``description`` without it.
    needs_times : bool
        The model reads ``journeys.days_before``; on a paths-only input the
        engine refuses to run it with :class:`~attribution.errors.NeedsTimesError`.
    uses_times : bool
        The model reads ``journeys.days_before`` when there are touch times and
        runs without them otherwise (a different answer). A run that keeps only
        the combined paths (in partitions, on Spark) treats it as one that
        needs times, so its answer never depends on how the journeys were built.
    allows_negative : bool
        The model may give a channel negative credit (the conformance suite
        checks non-negativity otherwise).
    constraints : dict
        What each hyper-parameter may be, declared once (see
        :mod:`attribution.constraints`): ``{"folds": Interval(Integral, 2, None,
        closed="left")}``. :meth:`validate_params` checks them.

    Notes
    -----
    **When parameters are checked.** Every ``attribute`` a class defines is
    wrapped (in ``__init_subclass__``) so that :meth:`validate_params` runs
    before it. A template method (the base's ``attribute`` calling a
    subclass's ``_attribute``) would do the same, but would rename the one
    method every plugin writes and break the plugins already written against
    ``attribute``; the wrapper keeps ``attribute`` the method to implement and
    makes the check impossible to forget. A subclass whose ``attribute`` calls
    ``super().attribute`` is checked twice, which costs a few comparisons.
    ``__init__`` stays a plain store (scikit-learn's rule), so a model with a
    bad value can still be built, shown and copied; it fails when it runs,
    with :class:`~attribution.errors.ModelError` naming the model, the
    parameter, the value and what is allowed.

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
    summary: ClassVar[str] = ""
    needs_times: ClassVar[bool] = False
    uses_times: ClassVar[bool] = False
    allows_negative: ClassVar[bool] = False
    constraints: ClassVar[Constraints] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("attribute")
        if isinstance(own, (staticmethod, classmethod)) or not callable(own):
            return
        if not getattr(own, "_validates_params", False):
            cls.attribute = _validating(own)  # type: ignore[method-assign]

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
            When a hyper-parameter breaks its declared constraint (checked here,
            by :meth:`validate_params`, not in ``__init__``).
        """
        raise NotImplementedError

    def validate_params(self) -> None:
        """Check the hyper-parameters against the class's ``constraints``.

        Runs before every :meth:`attribute` (see the class notes); call it
        yourself where a model's parameters are used outside ``attribute``.

        Raises
        ------
        ModelError
            On the first parameter that breaks its constraint:
            ``"markov: folds must be an integer >= 2, got 1"``.
        """
        declared = type(self).constraints
        if not declared:
            return
        names = {n for key in declared for n in ((key,) if isinstance(key, str) else key)}
        values = {n: getattr(self, n) for n in names if hasattr(self, n)}
        check_params(type(self).name or type(self).__name__, values, declared)

    @classmethod
    def param_constraints(cls) -> dict[str | tuple[str, ...], tuple[Constraint, ...]]:
        """The declared ``constraints`` with every alternative as a Constraint.

        Raises
        ------
        TypeError
            When the declaration is malformed.
        """
        return {key: as_constraints(spec, key) for key, spec in cls.constraints.items()}

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


def _validating(attribute: Callable[..., pl.DataFrame]) -> Callable[..., pl.DataFrame]:
    """``attribute`` with :meth:`Model.validate_params` run first."""

    @functools.wraps(attribute)
    def checked(self: Model, *args: Any, **kwargs: Any) -> pl.DataFrame:
        self.validate_params()
        return attribute(self, *args, **kwargs)

    checked._validates_params = True  # type: ignore[attr-defined]
    return checked


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

    # issue 17: the per-conversion grain comes free with per-touch weights
    def attribute_rows(self, journeys: Journeys) -> RowCredit:
        """Each converting row's credit per touch: the touch's weight times the row's
        conversions and value (the :class:`~attribution.capabilities.PerConversion`
        capability); the rows add up to :meth:`attribute`'s channel totals."""
        self.validate_params()
        rows = np.flatnonzero(journeys.conversions > 0)
        converting = journeys.converting
        pairs = journeys.channel_pairs  # cached: its touches are these when rows match
        if len(pairs.rows) == len(rows):
            touch = pairs.touches
        else:  # rows with value but no conversion: not weighed here
            touch = ranges(journeys.offsets[:-1][rows], journeys.lengths[rows])
        if converting.n_touches == 0:
            return RowCredit.of_touches(journeys, touch, np.zeros(0), np.zeros(0))
        w = self.weights(converting)
        row = converting.row_of_touch
        conv, val = w * converting.conversions[row], w * converting.value[row]
        # the converting rows' own arrays are the touches' rows and codes: no gather
        return RowCredit(rows[row], converting.codes, conv, val, touch)
