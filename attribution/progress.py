"""Progress of long steps: a hook the models call, shown on stderr only at a terminal.

A model wraps a long loop in :func:`task` and calls :meth:`Progress.advance`
as it goes. Nothing is shown unless a command has turned progress on with
:func:`on_terminal` (the CLI does so around each of its steps, and only when
stderr is a terminal), and nothing is shown for a step that ends within
:data:`DELAY` seconds, so pipes, logs and the library stay quiet.

Examples
--------
>>> from attribution import progress
>>> with progress.task("markov: removal effects", total=3) as p:
...     for channel in range(3):
...         p.advance()
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TextIO

__all__ = ["DELAY", "Progress", "on_terminal", "task"]

DELAY = 1.0
"""Seconds a task runs before its progress is first shown."""
_INTERVAL = 0.2  # seconds between two redraws of the progress line


class _Line:
    """Where progress is drawn: one terminal line, after the running step's label."""

    def __init__(self, stream: TextIO, prefix: str, delay: float) -> None:
        self.stream = stream
        self.prefix = prefix
        self.delay = delay

    def show(self, text: str) -> None:
        # \r and "erase to end of line" redraw the line in place.
        gap = " " if self.prefix else ""
        self.stream.write(f"\r{self.prefix}{gap}{text}\x1b[K")
        self.stream.flush()

    def clear(self) -> None:
        self.stream.write(f"\r{self.prefix}\x1b[K")
        self.stream.flush()


_LINE: ContextVar[_Line | None] = ContextVar("attribution_progress_line", default=None)


@contextmanager
def on_terminal(
    stream: TextIO | None = None, *, prefix: str = "", delay: float = DELAY
) -> Iterator[None]:
    """Show the progress of tasks run inside this block on ``stream`` (default
    stderr), when it is a terminal; elsewhere this does nothing.

    ``prefix`` is the text already on the line (the step's label): progress is
    drawn after it, and it is restored when a task ends.
    """
    stream = sys.stderr if stream is None else stream
    if not stream.isatty():
        yield
        return
    token = _LINE.set(_Line(stream, prefix, delay))
    try:
        yield
    finally:
        _LINE.reset(token)


class Progress:
    """One running task; :func:`task` hands it out."""

    def __init__(self, label: str, total: float | None, line: _Line | None) -> None:
        self.label = label
        self.total = total
        self.done = 0.0
        self.shown = False
        self._line = line
        self._start = time.perf_counter()
        self._last = -_INTERVAL

    def advance(self, amount: float = 1.0) -> None:
        """Count ``amount`` more units of work done (redraws at most five times a second)."""
        self.done += amount
        if self._line is None:
            return
        now = time.perf_counter() - self._start
        if now < self._line.delay or now - self._last < _INTERVAL:
            return
        self._last = now
        self.shown = True
        if self.total:
            share = min(self.done / self.total, 1.0)
            self._line.show(f"{self.label} {self.done:,.0f}/{self.total:,.0f} ({share:.0%})")
        else:
            self._line.show(f"{self.label} {self.done:,.0f}")


@contextmanager
def task(label: str, total: float | None = None) -> Iterator[Progress]:
    """A long piece of work of ``total`` units (None: unknown); advance the
    :class:`Progress` it yields as units get done."""
    line = _LINE.get()
    progress = Progress(label, total, line)
    try:
        yield progress
    finally:
        if progress.shown and line is not None:
            line.clear()
