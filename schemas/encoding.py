"""Bytes → text, in one place, for every format: BOMs, UTF-16, legacy code pages, SWIFT bytes.

Order (first that fits wins): a byte-order mark (UTF-8, UTF-16 LE/BE); UTF-16 without a mark
(recognised by its NUL pattern); UTF-8; then the encoding the source declares, or, with none
declared, GB18030 (a superset of GBK, for Chinese bills) when the bytes look like double-byte
Chinese text, and CP1252. CP852 and other code pages are used only where declared.

The text comes back with SWIFT envelope bytes (SOH 0x01, ETX 0x03) and a trailing SUB (0x1A)
removed and every CRLF or bare CR turned into LF. A missing final newline is left missing.
"""
from __future__ import annotations

import codecs
import logging
import re

from recon.errors import ParseError

log = logging.getLogger(__name__)

_BOMS = (  # longest first: the UTF-32 LE mark starts with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# GBK is a subset of GB18030: read every declared GBK/GB2312 file as GB18030.
_ALIASES = {"gbk": "gb18030", "gb2312": "gb18030", "cp936": "gb18030", "utf8": "utf-8",
            "utf-8-sig": "utf-8"}
_SNIFF = 4096
_ENVELOPE = re.compile("[\x01\x03]")
_GB_PAIR = re.compile(rb"[\x81-\xfe][\x40-\xfe]")


def decode(data: bytes, name: str, *, declared: str | None = None) -> str:
    """The file's text (see the module docstring); ParseError naming the first bad byte if none fits."""
    text = _decode(data, name, declared)
    return normalise(text)


def normalise(text: str) -> str:
    text = text.removeprefix("\ufeff")
    text = _ENVELOPE.sub("", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    stripped = text.rstrip("\n \t")
    if stripped.endswith("\x1a"):
        text = stripped.rstrip("\x1a")
    return text


def encoding_of(data: bytes, *, declared: str | None = None) -> str | None:
    """The encoding ``decode`` would use (None if none fits): for logs and tests."""
    try:
        return _choose(data, declared)[0]
    except UnicodeDecodeError:
        return None


def _decode(data: bytes, name: str, declared: str | None) -> str:
    try:
        encoding, text = _choose(data, declared)
    except UnicodeDecodeError as exc:
        offset = exc.start + getattr(exc, "skipped", 0)
        raise ParseError(name, None, f"expected text in UTF-8, UTF-16 or "
                                     f"{declared or 'GB18030/CP1252'}; byte 0x{data[offset]:02X} at "
                                     f"offset {offset} is not valid in {getattr(exc, 'tried', exc.encoding)}") from exc
    log.debug("%s: decoded as %s", name, encoding)
    return text


def _choose(data: bytes, declared: str | None) -> tuple[str, str]:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding, _strict(data[len(bom):], encoding, len(bom))
    utf16 = _utf16_without_bom(data[:_SNIFF])
    if utf16:
        return utf16, _strict(data, utf16)
    try:
        return "utf-8", data.decode("utf-8")
    except UnicodeDecodeError as first:
        utf8_error = first
    if declared:
        encoding = _ALIASES.get(declared.lower(), declared.lower())
        if codecs.lookup(encoding).name in ("utf-8",):
            raise utf8_error
        return encoding, _strict(data, encoding)
    if _looks_chinese(data):
        try:
            return "gb18030", data.decode("gb18030")
        except UnicodeDecodeError:
            pass
    return "cp1252", _strict(data, "cp1252")


def _strict(data: bytes, encoding: str, skipped: int = 0) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        exc.skipped, exc.tried = skipped, encoding  # offsets are reported in the whole file, BOM included
        raise


def _utf16_without_bom(head: bytes) -> str | None:
    """ASCII-heavy UTF-16 has a NUL in every other byte: odd positions LE, even positions BE."""
    if len(head) < 4:
        return None
    even, odd = head[0::2], head[1::2]
    if odd.count(0) >= 0.4 * len(odd) and even.count(0) <= 0.05 * len(even):
        return "utf-16-le"
    if even.count(0) >= 0.4 * len(even) and odd.count(0) <= 0.05 * len(odd):
        return "utf-16-be"
    return None


def _looks_chinese(data: bytes) -> bool:
    """Double-byte GB text: most high bytes pair with a high trail byte (GB2312 is A1–FE both);
    Latin-1 text has lone high bytes followed by ASCII letters."""
    pairs = _GB_PAIR.findall(data[:65536])
    if not pairs:
        return False
    high = sum(1 for p in pairs if p[1] >= 0x80)
    return high >= 0.8 * len(pairs)


def code_unit(head: bytes) -> tuple[str | None, int, int]:
    """How a file's lines are laid out in bytes, from its first bytes alone: (the encoding a BOM or
    UTF-16's NUL pattern fixes, else None: an 8-bit or UTF-8 text; the BOM's length; the code unit
    in bytes: 1, 2 for UTF-16, 4 for UTF-32). Line ends are code units 0x0A / 0x0D in every case:
    no GB18030, UTF-8 or CP1252 multi-byte sequence contains those bytes."""
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding, len(bom), 4 if "32" in encoding else 2 if "16" in encoding else 1
    utf16 = _utf16_without_bom(head[:_SNIFF])
    return (utf16, 0, 2) if utf16 else (None, 0, 1)
