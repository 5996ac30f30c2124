"""The rows of a big table written as SpreadsheetML text, not one openpyxl cell object at a time.

openpyxl's write-only mode still builds, type-checks and serialises a cell object per value
through lxml: ~6,800 rows a second for the 23-column Breaks sheet on this machine (10 s for the
70,000 breaks of a 10M-line day). Here each row is one formatted string, with the same cleaning
(``Cells``: controls removed, card numbers masked, formula-like text quote-prefixed), the same
style ids and the same cell XML openpyxl writes, so the sheet reads back cell for cell as before
(tests/test_workbook.py compares the two writers).

How it joins the workbook: the table's rows go to a file beside the workbook while openpyxl
writes the sheet with a one-cell placeholder row after the header; when the package is saved
(``workbook._save_reproducibly``) the placeholder row is replaced by the file's rows.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel

from recon.money import exponent, to_decimal

_ESCAPE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
# The placeholder cell's text: ASCII (lxml writes anything else as character references), with a
# random token per workbook, so that no text from a file (a file name on the Summary sheet, say)
# can be mistaken for it.
PLACEHOLDER = "recon rows placeholder {} {}"
TEXT_CACHE = 100_000  # distinct texts whose cell XML is kept (then the cache starts again)
KINDS = frozenset(("id", "text", "note", "amount", "datetime", "date", "int", "open", "open_date"))


def _number(value: Any) -> str:
    """A number's text as openpyxl writes it (``safe_string``: ``%.16g``), except an amount: its
    exact decimal text (openpyxl would go through a float; Excel reads either to the same value
    for every amount of up to 15 digits)."""
    if isinstance(value, Decimal):
        return format(value, "f")
    return "%.16g" % value


def _amount_text(minor: Any, currency: str | None) -> str:
    """An amount's exact decimal text in its currency's places: ``_number(to_decimal(...))``,
    worked out from the integer (no Decimal per cell) when it is one."""
    if type(minor) is not int:
        return _number(to_decimal(minor, currency))
    places = exponent(currency)
    if not places:
        return str(minor)
    whole, part = divmod(abs(minor), 10 ** places)
    return f"{'-' if minor < 0 else ''}{whole}.{part:0{places}d}"


def _inline(ref: str, text: str, style: str) -> str:
    return f'<c r="{ref}"{_inline_tail(text, style)}'


def _inline_tail(text: str, style: str) -> str:
    """A text cell's XML after its ``<c r="A1"``."""
    if text == "":
        return f'{style} t="inlineStr"></c>'
    space = ' xml:space="preserve"' if text != text.strip() else ""
    if "&" in text or "<" in text or ">" in text:
        text = text.translate(_ESCAPE)
    return f'{style} t="inlineStr"><is><t{space}>{text}</t></is></c>'


class RowWriter:
    """Renders a table's rows (``Row``: values and the row's currency) for ``cells``' workbook."""

    def __init__(self, cells: Any, kinds: Sequence[str]):
        unknown = set(kinds) - KINDS
        if unknown:
            raise ValueError(f"no XML rendering for column kinds {sorted(unknown)}")
        self.cells, self.kinds = cells, list(kinds)
        self.letters = [get_column_letter(i) for i in range(1, len(kinds) + 1)]
        self._ids: dict[int, str] = {}
        self._texts: dict[tuple[Any, bool], tuple[str, tuple[int, int, bool] | None]] = {}
        self._amount: dict[str | None, str] = {}  # currency -> its amount style's ` s="N"`
        self._serials: dict[date, str] = {}  # a date or datetime -> its Excel serial's text

    def _s(self, style: Any) -> str:
        """The ` s="N"` attribute of a style (its index in the workbook's cell styles)."""
        key = id(style)
        attr = self._ids.get(key)
        if attr is None:
            attr = self._ids[key] = f' s="{self.cells.style_id(style)}"'
        return attr

    def _text(self, ref: str, value: Any, mask: bool) -> str:
        # Each distinct text rendered once: its cell's XML but the reference, and what cleaning it
        # counted (None: nothing), counted again at each use.
        key = (value if type(value) is str else str(value), mask)  # 1, 1.0, True: one key
        done = self._texts.get(key)
        if done is None:
            if len(self._texts) >= TEXT_CACHE:
                self._texts.clear()
            text, quoted, removed, masked = self.cells.clean_once(value, mask)
            done = self._texts[key] = (
                _inline_tail(text, self._s(self.cells.quote) if quoted else ""),
                (removed, masked, quoted) if removed or masked or quoted else None)
        tail, counts = done
        if counts is not None:
            self.cells.count(*counts)
        return f'<c r="{ref}"{tail}'

    def row(self, r: int, values: Sequence[Any], currency: str | None) -> str:
        out = [f'<row r="{r}">']
        cells = self.cells
        for letter, kind, v in zip(self.letters, self.kinds, values):
            if v is None:
                continue
            ref = f"{letter}{r}"
            if kind == "id" or kind == "text" or kind == "note":
                if v == "":
                    continue
                out.append(self._text(ref, v, kind != "id"))
            elif kind == "amount":
                style = self._amount.get(currency)
                if style is None:
                    style = self._amount[currency] = self._s(cells.amount_style(currency))
                out.append(f'<c r="{ref}"{style} t="n"><v>{_amount_text(v, currency)}</v></c>')
            elif kind == "int":
                out.append(f'<c r="{ref}" t="n"><v>{_number(v)}</v></c>')
            elif kind == "datetime" or kind == "date" or kind == "open_date":
                if not isinstance(v, (datetime, date)) or getattr(v, "tzinfo", None) is not None:
                    raise TypeError(f"{ref}: expected a naive date or datetime, got {v!r}")
                style = (cells.datetime if kind == "datetime" else
                         cells.date if kind == "date" else cells.open_date)
                serial = self._serials.get(v)  # dates repeat down a column (first seen, value date)
                if serial is None:
                    if len(self._serials) >= TEXT_CACHE:
                        self._serials.clear()
                    serial = self._serials[v] = _number(to_excel(v))
                out.append(f'<c r="{ref}"{self._s(style)} t="n"><v>{serial}</v></c>')
            else:  # open: what an accountant fills in; from us it is text
                out.append(_inline(ref, str(v), self._s(cells.open)))
        out.append("</row>")
        return "".join(out)

    def write(self, fh: IO[str], rows: Iterable[tuple[Sequence[Any], str | None]], first: int,
              every: int, tick: Any) -> int:
        """Write ``rows`` numbered from ``first``; ``tick(n)`` every ``every`` rows. Returns n."""
        n = 0
        batch: list[str] = []
        for values, ccy in rows:
            batch.append(self.row(first + n, values, ccy))
            n += 1
            if n % every == 0:
                fh.write("".join(batch))
                batch.clear()
                tick(n)
        fh.write("".join(batch))
        return n


def splice(data: bytes, placeholder: str) -> tuple[bytes, bytes] | None:
    """A sheet's XML cut around the placeholder row: (before it, after it); None without it."""
    mark = f"<t>{placeholder}</t>".encode("ascii")
    at = data.find(mark)
    if at < 0:
        return None
    start = data.rfind(b"<row ", 0, at)
    end = data.find(b"</row>", at)
    if start < 0 or end < 0:
        raise ValueError("the placeholder row is not a row of the sheet")
    return data[:start], data[end + len(b"</row>"):]


def chunks(path: Path, size: int = 1 << 20) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while block := fh.read(size):
            yield block
