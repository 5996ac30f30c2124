"""Text safety for anything a bank or PSP wrote, before it reaches a spreadsheet or a CSV file.

Three hazards, one pass (:func:`clean`):

- formula injection: a cell that begins with ``=``, ``+``, ``-``, ``@``, tab or CR is evaluated
  by Excel, LibreOffice and CSV importers (OWASP "CSV injection"). CSV text gets a leading ``'``
  (:func:`excel_text`); workbook cells keep the text as it was but are stored as strings with
  Excel's quote-prefix flag, which the workbook writer does from :attr:`CleanText.formula_like`;
- control characters (C0, DEL, C1 and the bidirectional overrides that can make text read
  differently from what it is) and the code points XML cannot carry: removed and counted,
  tab/CR/LF becoming a space so words stay apart. openpyxl refuses most C0 characters outright, so this also keeps a stray byte in a
  statement from aborting the whole workbook;
- card numbers: any Luhn-valid run of 13–19 digits (spaces or dashes allowed between digits)
  that does not begin with 0 and does not touch a letter becomes first 6 + ``*`` for each hidden
  digit + last 4, as PCI DSS permits to display. Identifiers hold such runs by chance, one in
  ten of them Luhn-valid, and masking them spoiled the audit copy: Stripe's balance-transaction
  ids end in a zero-padded counter (``txn_320261120C0000000012291``; no card number begins with
  0: ISO/IEC 7812 issues the major industry identifier 0 to no card issuer), PayPal's transaction
  ids mix letters and digits (``3M38516514197343D``), merchants' references put a letter prefix
  on a long number (``INV2026112100001234``). A run touching a letter is part of such a token,
  as word-boundary card detectors treat it; the price is that a card number written glued to
  letters (``CARD4111…``) is not recognised. PSPs and banks separate or mask card numbers in
  the text they send.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

FORMULA_TRIGGERS = frozenset("=+-@\t\r")
MAX_CELL_CHARS = 32_767  # Excel's limit for one cell

# ... and what XML 1.0 cannot carry at all (lone surrogates, U+FFFE, U+FFFF): lxml refuses it,
# which would abort the whole workbook.
_CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069"
                         "\ud800-\udfff\ufffe\uffff]")
_SPACE_CONTROLS = {"\t": " ", "\n": " ", "\r": " "}
_DIGIT_RUN_RE = re.compile(r"[0-9](?:[ -]?[0-9])*")
_MAYBE_PAN_RE = re.compile(r"[0-9](?:[ -]?[0-9]){12}")
_SEPARATOR_RE = re.compile(r"([ -])")
_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


@dataclass(frozen=True)
class CleanText:
    text: str
    removed: int  # control characters removed (or turned into a space)
    masked: int  # card numbers masked
    formula_like: bool  # the original text would be evaluated as a formula


def strip_controls(s: str) -> tuple[str, int]:
    """Remove control characters; tab, CR and LF become a space. Returns (text, how many)."""
    found = _CONTROL_RE.findall(s)
    if not found:
        return s, 0
    return _CONTROL_RE.sub(lambda m: _SPACE_CONTROLS.get(m.group(), ""), s), len(found)


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _is_pan(digits: str) -> bool:
    return 13 <= len(digits) <= 19 and digits[0] != "0" and luhn_ok(digits)


def compact(run: str) -> str:
    """A digit run's digits, its single space or dash separators removed."""
    return run.replace(" ", "").replace("-", "")


def _mask(digits: str) -> str:
    return digits[:6] + "*" * (len(digits) - 10) + digits[-4:]


def _mask_run(run: str) -> tuple[str, int]:
    """Mask the card numbers inside one run of digits and single separators.

    The whole run is tried first; otherwise windows of whole digit groups, leftmost and longest
    first, so "Ref 2024 4111 1111 1111 1111" masks the card but never cuts a group in two (a
    24-digit bank reference is one group and never yields a false "card" from its middle).
    """
    digits = compact(run)
    if _is_pan(digits):
        return _mask(digits), 1
    if len(digits) < 13 or digits == run:
        return run, 0
    parts = _SEPARATOR_RE.split(run)  # group, sep, group, sep, ..., group
    groups, seps = parts[0::2], parts[1::2] + [""]
    out: list[str] = []
    masked, i = 0, 0
    while i < len(groups):
        for j in range(len(groups), i + 1, -1):
            digits = "".join(groups[i:j])
            if _is_pan(digits):
                out.append(_mask(digits) + seps[j - 1])
                masked, i = masked + 1, j
                break
        else:
            out.append(groups[i] + seps[i])
            i += 1
    return "".join(out), masked


def _glued(s: str, start: int, end: int) -> bool:
    """The digit run ``s[start:end]`` touches a letter: it is part of a token (an identifier such
    as PayPal's ``3M38516514197343D`` or an ``INV2026…`` reference), not a card number."""
    return (start > 0 and s[start - 1] in _LETTERS) or (end < len(s) and s[end] in _LETTERS)


def mask_pans(s: str, keep: frozenset[str] = frozenset()) -> tuple[str, int]:
    """Mask every card number in ``s``. Returns (text, how many were masked).

    A run of digits that touches an ASCII letter is left alone (see ``_glued``), and so is one
    whose digits, separators removed, are in ``keep`` (the row's own references).
    """
    count = 0

    def repl(m: re.Match[str]) -> str:
        nonlocal count
        run = m.group()
        if _glued(s, m.start(), m.end()) or (keep and compact(run) in keep):
            return run
        text, n = _mask_run(run)
        count += n
        return text

    if not _MAYBE_PAN_RE.search(s):  # fast path: most text has no run of 13 digits at all
        return s, 0
    return _DIGIT_RUN_RE.sub(repl, s), count


def mask_pan(s: str) -> str:
    """``"card 4111 1111 1111 1111"`` → ``"card 411111******1111"``."""
    return mask_pans(s)[0]


def is_formula_like(s: str) -> bool:
    """True when a spreadsheet or CSV importer would evaluate the text (leading spaces ignored)."""
    stripped = s.lstrip(" ")
    return bool(stripped) and stripped[0] in FORMULA_TRIGGERS


def clean(s: object, *, mask: bool = True) -> CleanText:
    """Make source text safe to show: controls removed, card numbers masked, formula flagged.

    ``mask=False`` is for identifiers (PSP references are often 16 digits and a tenth of them pass
    Luhn by chance); free text — descriptions, details, error messages — is always masked.
    """
    text = "" if s is None else str(s)
    formula_like = is_formula_like(text)
    if (len(text) <= MAX_CELL_CHARS and not _CONTROL_RE.search(text)
            and not (mask and _MAYBE_PAN_RE.search(text))):
        return CleanText(text, 0, 0, formula_like)  # most text: nothing to remove or mask
    text, removed = strip_controls(text)
    masked = 0
    if mask:
        text, masked = mask_pans(text)
    return CleanText(text[:MAX_CELL_CHARS], removed, masked, formula_like or is_formula_like(text))


def excel_text(s: object, *, mask: bool = True) -> str:
    """Text that no spreadsheet or CSV reader will evaluate: cleaned, and ``'``-prefixed if needed.

    >>> excel_text('=HYPERLINK("http://x")')
    '\\'=HYPERLINK("http://x")'
    """
    c = clean(s, mask=mask)
    return ("'" + c.text)[:MAX_CELL_CHARS] if c.formula_like else c.text
