"""The HTML report: a renderer of a finished run, and the library call that runs one for it.

:func:`render` takes the attribution result, the KPIs and the costed credit
table and returns the page, running nothing; :func:`render_report` and
:func:`write_report` run the models, the KPIs and the cost join first (what
`attribution report` does).
"""

from __future__ import annotations

from attribution.report.build import graph_run, render_report, write_report
from attribution.report.document import SECTIONS, render

__all__ = ["SECTIONS", "graph_run", "render", "render_report", "write_report"]
