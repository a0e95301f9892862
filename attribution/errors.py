"""Exceptions raised for bad input, unknown models and unusable settings."""

from __future__ import annotations


class AttributionError(Exception):
    """Base class of every error the engine raises on purpose.

    The CLI prints these as one line on stderr and exits with status 1.
    """


class InputError(AttributionError):
    """An input file or frame cannot be used: missing column, bad value, empty."""


class ModelError(AttributionError):
    """A model name or parameter is unknown or invalid, or a model cannot run."""


class RegistryError(ModelError):
    """Two models claim one name, or a plugin cannot be loaded."""


class NeedsTimesError(ModelError):
    """A model that needs touch times was given journeys without them."""


class OutputError(AttributionError):
    """An output cannot be written (unknown format, would overwrite an input)."""


class CreditError(ModelError):
    """A model gave credit that is not a finite number (inf or NaN)."""
