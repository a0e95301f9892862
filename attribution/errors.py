"""Exceptions raised for bad input, unknown models and unusable settings."""

from __future__ import annotations


class AttributionError(Exception):
    """Base class of every error the engine raises on purpose.

    The CLI prints these as one line on stderr and exits with status 1.

    Messages speak the Python API's language and never name a command-line
    flag. When the fix is a setting, ``setting`` is its parameter name as
    the message spells it (``time_unit``); a front end with its own name for
    it (the CLI's ``--time-unit``) puts that in its place.
    """

    def __init__(self, *args: object, setting: str | None = None) -> None:
        super().__init__(*args)
        self.setting = setting


class InputError(AttributionError):
    """An input file or frame cannot be used: missing column, bad value, empty,
    damaged, not what its extension says. The message names the file (or
    ``input frame``) and, where it can be known, the column, row and line;
    ``row`` is that row (1-based) when a check of the rows found it."""

    def __init__(self, *args: object, setting: str | None = None, row: int | None = None) -> None:
        super().__init__(*args, setting=setting)
        self.row = row


class ModelError(AttributionError):
    """A model name or parameter is unknown or invalid, or a model cannot run."""


class RegistryError(ModelError):
    """Two models claim one name, or a plugin cannot be loaded."""


class NeedsTimesError(ModelError):
    """A model that needs touch times was given journeys without them."""


class OutputError(AttributionError):
    """An output cannot be written: an unknown format, a format its file name's
    extension contradicts, a target that is an input or no file (a folder, a
    socket, a pipe nobody reads), or the system refused the write (disk full,
    file too large, permission denied, name too long). Nothing is left behind."""


class CreditError(ModelError):
    """A model gave credit that is not a finite number (inf or NaN)."""
