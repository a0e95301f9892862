"""User-given names made safe for where they are shown: XML, matplotlib, spreadsheets.

Channel names come from the user's data and may hold anything: control
characters, ``$`` signs, a leading ``=``. Each function here makes one kind of
output safe without changing what it says to a reader.
"""

from __future__ import annotations

import re

import polars as pl

__all__ = ["FORMULA_STARTS", "escape_mathtext", "spreadsheet_safe", "xml_text"]

# XML 1.0 forbids these characters outright (\t and \n stay); \r is escaped
# too, as a parser would read it back as \n.
_NOT_XML = re.compile("[\x00-\x08\x0b-\x1f\ud800-\udfff\ufffe\uffff]")

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a text cell as a formula (OWASP)."""


def xml_text(text: str) -> str:
    """``text`` with every character XML 1.0 cannot hold written as ``\\xNN`` or
    ``\\uNNNN``, so that GraphML and GEXF files stay well formed.

    >>> xml_text("a\\x00b")
    'a\\\\x00b'
    """

    def escape(match: re.Match[str]) -> str:
        code = ord(match.group())
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return _NOT_XML.sub(escape, text)


def escape_mathtext(text: str) -> str:
    """``text`` for a matplotlib label, shown as written: ``$`` would otherwise
    start mathtext (``$x$`` typeset, an unbalanced one an error).

    >>> escape_mathtext("$5 off")
    '\\\\$5 off'
    """
    return text.replace("$", r"\$")


def spreadsheet_safe(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with a ``'`` put before every text cell that starts with ``=``,
    ``+``, ``-``, ``@``, tab or carriage return, so that a spreadsheet opening
    the CSV shows the text instead of running it as a formula (OWASP's advice
    on CSV injection). Numbers are numbers, not text, and are left alone.
    """
    starts = "".join(FORMULA_STARTS)
    pattern = f"^[{re.escape(starts)}]"
    text = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    if not text:
        return frame
    return frame.with_columns(
        pl.when(pl.col(c).str.contains(pattern))
        .then(pl.lit("'") + pl.col(c))
        .otherwise(pl.col(c))
        .alias(c)
        for c in text
    )
