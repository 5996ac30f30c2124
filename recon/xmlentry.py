"""The one ISO 20022 entry a camt line came from (its ``<Ntry>``, or its ``<TxDtls>`` when a batch
entry became one line per transaction), cut out of its archived statement for `recon trace`,
instead of the physical line (a minified statement is all on one line).

Which one: schemas/iso20022.py makes one line per ``Ntry``, or per ``TxDtls`` of a batch entry
whose transactions carry amounts (schemas.camt_details.is_split), and records ``file_line`` as the
physical line of that start tag, or, when two of them share a line (minified XML), as its
1-based position in the file; the same rule picks it here. Entries and transaction details do not
nest in themselves, so each ends at the first matching end tag after its start.
"""
from __future__ import annotations

import re

_NS = rb"(?:[A-Za-z_][\w.-]*:)?"
_NTRY = re.compile(rb"<" + _NS + rb"Ntry(?=[\s>])")
_NTRY_END = re.compile(rb"</" + _NS + rb"Ntry\s*>")
_TX = re.compile(rb"<" + _NS + rb"TxDtls(?=[\s>])")
_TX_END = re.compile(rb"</" + _NS + rb"TxDtls\s*>")
# amounts inside TxDtls that are not the transaction's own (TxDtls/Amt, AmtDtls/TxAmt/Amt)
_OTHER_AMOUNTS = re.compile(rb"<(" + _NS + rb"(?:InstdAmt|CntrValAmt|AnncdPstngAmt|PrtryAmt|Chrgs))"
                            rb"[\s>].*?</\1\s*>", re.S)
_TX_AMOUNT = re.compile(rb"<" + _NS + rb"(?:Amt|TxAmt)(?=[\s>])")


def is_xml(data: bytes) -> bool:
    head = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"<")


def _spans(data: bytes, start: re.Pattern, end: re.Pattern, lo: int, hi: int) -> list[tuple[int, int]]:
    out = []
    for m in start.finditer(data, lo, hi):
        e = end.search(data, m.start(), hi)
        out.append((m.start(), e.end() if e else hi))
    return out


def units(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each canonical line's element, in document order."""
    out = []
    for lo, hi in _spans(data, _NTRY, _NTRY_END, 0, len(data)):
        txs = _spans(data, _TX, _TX_END, lo, hi)
        split = len(txs) > 1 and any(
            _TX_AMOUNT.search(_OTHER_AMOUNTS.sub(b"", data[a:b])) for a, b in txs)
        out += txs if split else [(lo, hi)]
    return out


def entry(data: bytes, line: int) -> bytes | None:
    """The bytes of the entry (or transaction) ``line`` names, or None when there is none."""
    found = units(data)
    if not found:
        return None
    lines, at, n = [], 0, 1
    for s, _ in found:  # each start tag's physical line, counting newlines once
        n += data.count(b"\n", at, s)
        at = s
        lines.append(n)
    if len(set(lines)) == len(lines):
        pick = next((u for u, ln in zip(found, lines) if ln == line), None)
    else:
        pick = found[line - 1] if 0 < line <= len(found) else None
    return None if pick is None else data[pick[0]:pick[1]]
