"""The header row of a CSV statement, read the same way by ``identify`` and ``parse``.

A header is found by name, never by position: its names are read with the csv module (so a
quoted header, as Stripe's reports write it, reads like a bare one), with BOM and backtick padding
removed, in whatever encoding the file uses (``schemas.encoding``: UTF-8 with or without a BOM,
GBK/GB18030, UTF-16 with a BOM). A name that occurs twice is refused, naming both columns:
reading the first and ignoring the second would be a silent guess.

``as_utf8`` gives a parser the file as UTF-8 with LF or CRLF line ends (the polars readers need
both); a file that already is so is returned as it is, without a copy.
"""
from __future__ import annotations

import codecs
import csv

import numpy as np

from recon.errors import ParseError
from schemas.encoding import _looks_chinese, _utf16_without_bom, decode

PAD = " \t`\ufeff"
_HEAD = 8192
_UTF16 = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_BLOCK = 16 << 20


def head_text(data, size: int = _HEAD) -> str:
    """The first lines of the file as text (the last, possibly cut, line dropped when more follow)."""
    head = data[:size]
    for bom, enc in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
                     (codecs.BOM_UTF16_BE, "utf-16-be")):
        if head.startswith(bom):
            return _cut(head[len(bom):].decode(enc, errors="replace"), len(head) < len(data))
    enc = _utf16_without_bom(head)
    if enc:
        return _cut(head[:len(head) // 2 * 2].decode(enc, errors="replace"), len(head) < len(data))
    more = len(head) < len(data)
    cut = head[:max(head.rfind(b"\n"), head.rfind(b"\r")) + 1 or len(head)] if more else head
    try:
        return cut.decode("utf-8")
    except UnicodeDecodeError as exc:
        if more and exc.start >= len(cut) - 3 and exc.reason == "unexpected end of data":
            return cut[:exc.start].decode("utf-8")  # a character cut by the head's end
        return cut.decode("gb18030" if _looks_chinese(cut) else "cp1252", errors="replace")


def _cut(text: str, more: bool) -> str:
    return text[:text.rfind("\n") + 1] if more and "\n" in text else text


def header_names(data, file: str, *, line: int = 0) -> list[str]:
    """The names of the header row (the ``line``-th of the file, 0-based); [] if it is empty."""
    lines = head_text(data).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if line >= len(lines) or not lines[line].strip():
        return []
    return split_names(lines[line])


def split_names(text: str) -> list[str]:
    return [n.strip(PAD) for n in next(csv.reader([text]), [])]


def refuse_duplicates(names: list[str], file: str, line: int = 1) -> None:
    """ParseError naming both places of the first name that occurs twice (blank names excepted)."""
    seen: dict[str, int] = {}
    for i, n in enumerate(names, start=1):
        if n and n in seen:
            raise ParseError(file, line, f"expected each column name once in the header; {n!r} is "
                                         f"column {seen[n]} and column {i}: which one holds the values "
                                         f"is not knowable, so the file is not read")
        seen.setdefault(n, i)


def missing(names: list[str], required: list[str | tuple[str, ...]]) -> list[str]:
    """The required names (or groups of alternatives, any one of which will do) not in ``names``."""
    have = set(names)
    out = []
    for want in required:
        options = (want,) if isinstance(want, str) else want
        if not have.intersection(options):
            out.append(" or ".join(options))
    return out


def require(names: list[str], required, file: str, line: int = 1) -> None:
    refuse_duplicates(names, file, line)
    gone = missing(names, required)
    if gone:
        wanted = ", ".join(r if isinstance(r, str) else " or ".join(r) for r in required)
        raise ParseError(file, line, f"expected a header row with the columns {wanted}; "
                                     f"missing {', '.join(gone)}")


def why_not(data, name: str, required, what: str) -> str:
    """Why a header-row format declines a file: the required names its first line lacks."""
    names = header_names(data, name)
    if not names:
        return f"{what}: the first line is empty"
    gone = missing(names, required)
    if not gone:
        return ""
    return f"{what}: the header lacks {', '.join(gone[:4])}" + ("…" if len(gone) > 4 else "")


def as_utf8(data, name: str, legacy: str | None = None):
    """The file as UTF-8 text bytes with LF/CRLF line ends: ``data`` itself when it already is
    (the common case: no copy), else decoded and encoded again: UTF-16 (with a BOM, or recognised
    by its NUL bytes), ``legacy`` (e.g. ``gb18030`` for Chinese bills: GBK is a subset) when the
    bytes are not UTF-8, and a CR-only or partly CR-only file. Bytes valid in none of these are
    refused naming the first bad one (no guessing at a code page the format never uses). Line
    numbers are unchanged: each CR, CRLF or LF ends one line."""
    head = data[:_HEAD]
    utf16 = head.startswith(_UTF16) or _utf16_without_bom(head)
    if not utf16 and _utf8_head(head, len(data)) and not _bare_cr(data):
        return data
    whole = data if isinstance(data, bytes) else data[:]
    if not utf16:
        try:
            whole.decode("utf-8")
        except UnicodeDecodeError as exc:
            if not legacy:
                raise ParseError(name, None, f"expected UTF-8 or UTF-16 text; byte 0x{whole[exc.start]:02X} "
                                             f"at offset {exc.start} is not valid UTF-8") from exc
            return decode(whole, name, declared=legacy).encode("utf-8")
    return decode(whole, name).encode("utf-8")


def _utf8_head(head: bytes, size: int) -> bool:
    cut = head if len(head) == size else head[:head.rfind(b"\n") + 1 or len(head)]
    try:
        cut.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _bare_cr(data) -> bool:
    """A CR not followed by LF anywhere in the file (bytes or a FileView), a block at a time with
    numpy: only the CRs found are looked at (a CRLF bill has one per line, a LF file none)."""
    for at in range(0, len(data), _BLOCK):
        block = data[at:at + _BLOCK + 1]  # one byte more: a CR at the block's end sees its LF
        arr = np.frombuffer(block, dtype=np.uint8)
        cr = np.flatnonzero(arr[:_BLOCK] == 13)
        if cr.size and (cr[-1] + 1 >= arr.size and at + arr.size >= len(data)
                        or not (arr[np.minimum(cr + 1, arr.size - 1)] == 10).all()):
            return True
    return False
