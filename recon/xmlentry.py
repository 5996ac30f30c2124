"""The one ISO 20022 entry (``<Ntry>`` … ``</Ntry>``) a camt line came from, cut out of its
archived statement for `recon trace`, instead of the physical line (a minified or pretty-printed
statement puts the whole statement, or a header, there).

Which entry: schemas/iso20022.py records ``file_line`` as the physical line of the ``<Ntry>``
start tag, or, when two entries share a line (minified XML), as the entry's 1-based position in
the file; the same rule picks it here. Entries do not nest, so the entry ends at the first
``</Ntry>`` after its start tag.
"""
from __future__ import annotations

import re

_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?Ntry(?=[\s>/])")
_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?Ntry\s*>")


def is_xml(data: bytes) -> bool:
    head = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"<")


def entry(data: bytes, line: int) -> bytes | None:
    """The bytes of the entry ``line`` names, or None when the file has no such entry."""
    starts = [m.start() for m in _START.finditer(data)]
    if not starts:
        return None
    lines, at, n = [], 0, 1
    for s in starts:  # each start tag's physical line, counting newlines once
        n += data.count(b"\n", at, s)
        at = s
        lines.append(n)
    if len(set(lines)) == len(lines):
        pick = next((s for s, ln in zip(starts, lines) if ln == line), None)
    else:
        pick = starts[line - 1] if 0 < line <= len(starts) else None
    if pick is None:
        return None
    end = _END.search(data, pick)
    return data[pick:end.end() if end else len(data)]
