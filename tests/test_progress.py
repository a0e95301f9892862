"""Progress of long steps: shown on a terminal only, and only past its delay."""

from __future__ import annotations

import io

from attribution import progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_drawn_after_the_step_label_and_cleared_at_the_end():
    stream = _Terminal()
    with progress.on_terminal(stream, prefix="attributing ...", delay=0.0):
        with progress.task("markov: removal effects", total=4) as p:
            p.advance(2)
    text = stream.getvalue()
    assert "\rattributing ... markov: removal effects 2/4 (50%)" in text
    assert text.endswith("\rattributing ...\x1b[K")  # the step's own line is back


def test_nothing_is_shown_off_a_terminal_or_before_the_delay():
    plain = io.StringIO()
    with progress.on_terminal(plain, delay=0.0):
        with progress.task("work", total=2) as p:
            p.advance()
    assert plain.getvalue() == ""
    slow = _Terminal()
    with progress.on_terminal(slow, delay=3600.0):
        with progress.task("work", total=2) as p:
            p.advance()
    assert slow.getvalue() == ""


def test_without_a_terminal_tasks_are_silent_and_still_count():
    with progress.task("work") as p:
        p.advance(3)
    assert p.done == 3 and not p.shown


def test_a_long_markov_solve_reports_its_removals(monkeypatch):
    from attribution.models import markov as mk
    from tests.test_hostile import _long_journey

    chain = mk._build_chain(_long_journey(3000, 8, seed=1), 3)
    stream = _Terminal()
    with progress.on_terminal(stream, delay=0.0):
        mk._solve(chain, "removals")
    assert "markov: removal effects" in stream.getvalue()
