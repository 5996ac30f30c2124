"""Error text fit to store and send: one paragraph, no raw file text, card numbers masked.

A parser's error can quote the file it refused: polars' "could not parse `…`" carries every byte
from the offending field to the end of its buffer (tens of KB of statement lines, card numbers
included). Whatever an error says, :func:`error_text` is what recon keeps of it wherever it is
stored or sent (``files.error``, ``runs.input_files`` and the manifest, alerts, logs, the CLI):
a quoted excerpt is cut to the first line of its first field, the text is one paragraph, card
numbers are masked (recon.pan), and the whole is capped at ``LIMIT`` characters.
"""
from __future__ import annotations

import re

from recon import pan

__all__ = ["FIELD_LIMIT", "LIMIT", "error_text"]

LIMIT = 1000  # characters of error text kept
FIELD_LIMIT = 60  # characters of a quoted field kept
# A quoted excerpt: between backticks (polars). Not between quotes: apostrophes in prose ("the
# source's") would pair up; other quoted text is masked and capped with the rest.
_QUOTED = re.compile(r"`[^`]*`")
_FENCED = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)  # a block of quoted text (polars' "Original error")
_SPACE = re.compile(r"\s+")


def _field(m: re.Match) -> str:
    quote, body = m.group(0)[0], m.group(0)[1:-1]
    first = re.split(r"[\r\n]", body, maxsplit=1)[0]
    if first == body and len(body) <= FIELD_LIMIT:
        return m.group(0)
    if len(first) > FIELD_LIMIT:
        first = first[:FIELD_LIMIT]
    left = len(body) - len(first)
    return f"{quote}{first}…{quote} ({left:,} more characters of the file left out)"


def error_text(text: object, limit: int = LIMIT) -> str:
    """``text`` (an error or its message) as recon stores and sends it (see the module doc).
    Idempotent: what it returns comes back unchanged (each place that stores or sends applies it)."""
    s = "" if text is None else str(text)
    if not s:
        return s
    s = pan.mask_text(s)  # before cutting: a cut must not leave more than a masked card shows
    s = _FENCED.sub(lambda m: f"(a quoted block of {len(m.group(0)):,} characters left out)", s)
    s = _QUOTED.sub(_field, s)
    s = pan.mask_text(_SPACE.sub(" ", s).strip())  # a card split across lines is one run now
    if len(s) > limit:
        s = s[:limit].rstrip() + f" … (error text cut at {limit:,} characters)"
    return s
