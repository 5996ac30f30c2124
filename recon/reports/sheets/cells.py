"""What every sheet shares: typed write-only cells, fitted widths, header+rows tables, labels.

Every text that came from a bank or PSP goes through :mod:`recon.reports.safe`: formula-like text
is stored as a string cell with Excel's quote prefix (the text itself is unchanged, so it still
matches the statement), control characters are removed, card numbers in free text are masked.
Amounts are Decimal numbers with the currency's places as a per-cell number format.
"""
from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timezone
from functools import lru_cache
from math import ceil
from itertools import chain, islice
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill, Protection
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties

from recon.money import exponent, to_decimal
from recon.reports.i18n import ZH, label  # noqa: F401  (re-exported: the sheets' labels)
from recon.reports.safe import clean
from recon.reports.sheets.xmlrows import PLACEHOLDER, RowWriter

log = logging.getLogger(__name__)

WIDTH_SAMPLE = 10_000
CLEANED_CACHE = 100_000  # texts whose cleaning is kept (then the cache starts again)
MAX_WIDTH = 60
PROGRESS_EVERY = 10_000
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
DATE_FORMAT = "yyyy-mm-dd"
PERCENT_FORMAT = "0.00%"
PAGE_WIDTH = 125  # column-width units on landscape A4 at 100 % (default margins), roughly
MIN_SCALE = 0.7  # narrower than this is unreadable: print more pages wide instead
RATE_FORMAT = "0.0000%"
LANGUAGES = ("en", "zh")
HEADER_FILL = "DDEBF7"
OPEN_FILL = "FFFBEA"  # the cells an accountant fills in
_ERROR_CODES = frozenset(("#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A"))

Progress = Callable[[int, int], None]  # (rows written, rows to write)
Column = tuple[str, str]  # (header, kind)
Row = tuple[Sequence[Any], str | None]  # (values, the row's currency for its amounts)

def amount_format(places: int) -> str:
    body = "#,##0" + ("." + "0" * places if places else "")
    return f"{body};[Red]-{body}"


@lru_cache(maxsize=128)
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("Unknown timezone %r on a break: its time is shown in UTC", name)
        return None


def local_time(ts: datetime | None, tz: str) -> tuple[datetime | None, str]:
    """A UTC timestamp as naive wall-clock time in ``tz`` (Excel has no timezones), and the zone."""
    if ts is None:
        return None, tz
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=timezone.utc)
    zone = _zone(tz)
    if zone is None:
        return ts.astimezone(timezone.utc).replace(tzinfo=None), "UTC"
    return ts.astimezone(zone).replace(tzinfo=None), tz


class Cells:
    """Turns values into write-only cells of the right type and style, counting cleaned text."""

    def __init__(self, wb: Workbook, rows_dir: Path | None = None):
        self._wb, self._ws = wb, wb.worksheets[0]
        self.removed = self.masked = self.quoted = 0
        # Where big tables write their rows as XML (xmlrows.py), each a placeholder row in its
        # sheet until the package is saved; None: every row goes through openpyxl's cells.
        self.rows_dir = rows_dir
        self.language = "en"
        self.page_title = self.page_run = ""  # print header and footer (workbook.py sets them)
        self.fragments: dict[str, Path] = {}  # placeholder text -> the file of rows it stands for
        self._token = secrets.token_hex(16)
        fill = PatternFill("solid", fgColor=HEADER_FILL)
        self.bold = self._style(font=Font(bold=True))
        self.title = self._style(font=Font(bold=True, size=14, color="1F4E78"))
        self.section = self._style(font=Font(bold=True, size=11, color="1F4E78"))
        self.head = self._style(font=Font(bold=True), fill=fill)
        self.todo = self._style(font=Font(bold=True), fill=PatternFill("solid", fgColor="FFF2CC"))
        self.alert = self._style(font=Font(bold=True, color="C00000"))
        self.quote = self._style(quotePrefix=True)
        self.datetime = self._style(number_format=DATETIME_FORMAT)
        self.date = self._style(number_format=DATE_FORMAT)
        self.percent = self._style(number_format=PERCENT_FORMAT)
        self.rate = self._style(number_format=RATE_FORMAT)
        self.open = self._style(protection=Protection(locked=False),
                                fill=PatternFill("solid", fgColor=OPEN_FILL))
        self.open_date = self._style(protection=Protection(locked=False), number_format=DATE_FORMAT,
                                     fill=PatternFill("solid", fgColor=OPEN_FILL))
        self.wrap = self._style(alignment=Alignment(wrap_text=False, vertical="top"))
        self._amount: dict[str, Any] = {}
        self._cleaned: dict[tuple[str, bool], tuple[str, bool, int, int]] = {}

    def _style(self, **attrs: Any) -> Any:
        c = WriteOnlyCell(self._ws)
        for k, v in attrs.items():
            setattr(c, k, v)
        return c._style

    def styled(self, value: Any, style: Any) -> Any:
        c = WriteOnlyCell(self._ws)
        c._style = style  # before the value, so a datetime keeps our format, not openpyxl's
        c.value = value
        return c

    def cleaned(self, value: Any, mask: bool) -> tuple[str, bool]:
        """Source text made safe for a cell (``safe.clean``, counted): (text, whether it must be
        a quote-prefixed text cell: formula-like, or an Excel error code)."""
        text, quoted, removed, masked = self.clean_once(value, mask)
        self.count(removed, masked, quoted)
        return text, quoted

    def clean_once(self, value: Any, mask: bool) -> tuple[str, bool, int, int]:
        """``cleaned`` without the counting: (text, quoted, controls removed, cards masked),
        each distinct text cleaned once (a big table repeats its categories, files and names)."""
        key = ("" if value is None else str(value), mask)
        done = self._cleaned.get(key)
        if done is None:
            if len(self._cleaned) >= CLEANED_CACHE:
                self._cleaned.clear()
            c = clean(key[0], mask=mask)
            done = self._cleaned[key] = (c.text, c.formula_like or c.text in _ERROR_CODES,
                                         c.removed, c.masked)
        return done

    def count(self, removed: int, masked: int, quoted: bool) -> None:
        self.removed += removed
        self.masked += masked
        self.quoted += quoted

    def text(self, value: Any, mask: bool) -> Any:
        if value is None or value == "":
            return None
        text, quoted = self.cleaned(value, mask)
        if quoted:
            cell = WriteOnlyCell(self._ws)
            cell._value, cell.data_type, cell._style = text, "s", self.quote
            return cell
        return text

    def amount_style(self, currency: str | None) -> Any:
        assert currency is not None
        style = self._amount.get(currency)
        if style is None:
            style = self._amount[currency] = self._style(
                number_format=amount_format(exponent(currency)))
        return style

    def amount(self, minor: int | None, currency: str | None) -> Any:
        if minor is None:
            return None
        return self.styled(to_decimal(minor, currency), self.amount_style(currency))

    def style_id(self, style: Any) -> int:
        """The index openpyxl gives ``style`` in the workbook's cell styles (``s="N"``)."""
        return self._wb._cell_styles.add(style)

    def make(self, value: Any, kind: str, currency: str | None) -> Any:
        if value is None:  # (an empty "open" cell takes its column's unlocked style)
            return None
        if kind == "open":
            return self.styled(value, self.open)
        if kind == "open_date":
            return self.styled(value, self.open_date)
        if kind == "id":
            return self.text(value, mask=False)
        if kind in ("text", "note"):
            return self.text(value, mask=True)
        if kind == "amount":
            return self.amount(value, currency)
        if kind == "datetime":
            return self.styled(value, self.datetime)
        if kind == "date":
            return self.styled(value, self.date)
        if kind == "percent":
            return self.styled(value, self.percent)
        if kind == "rate":
            return self.styled(value, self.rate)
        return value  # int, and our own plain values


def width(value: Any, kind: str) -> int:
    if value is None:
        return 0
    if kind in ("datetime", "date", "open_date"):
        return 19 if kind == "datetime" else 10
    if kind == "amount":
        return len(f"{value:,}") + 2  # minor units: as wide as the amount with its separator
    if kind in ("percent", "rate"):
        return 9
    s = str(value)
    if s.isascii():
        return len(s)
    return (len(s) + len(s.encode("utf-8"))) // 2  # CJK (3 bytes) counts 2, ASCII counts 1


def fit(ws: Any, kinds_rows: Iterable[tuple[Sequence[str], Sequence[Any]]], ncols: int,
        minimum: int = 8) -> None:
    widths = [minimum] * ncols
    for kinds, values in kinds_rows:
        for i, (kind, v) in enumerate(zip(kinds, values)):
            if (w := width(v, kind) + 2) > widths[i]:
                widths[i] = w
    for i, w in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(i)].width = min(w, MAX_WIDTH)


def print_setup(ws: Any, cells: "Cells", *, repeat_header: bool = True,
                repeat_first_column: bool = False, one_page_wide: bool = False) -> None:
    """Landscape A4, the header row on every printed page, the run and page in header and footer.

    A table as wide as ``PAGE_WIDTH / MIN_SCALE`` or less is fitted to one page wide; a wider one
    prints on as many pages wide as keep it at ``MIN_SCALE`` or larger (the Breaks sheet), with
    its first column repeated on each when ``repeat_first_column``; ``one_page_wide`` for a
    report page (the Summary: facts, short tables and its charts).
    """
    total = sum(d.width or 8.43 for d in ws.column_dimensions.values() if not d.hidden)
    pages = 1 if one_page_wide or total <= PAGE_WIDTH else ceil(total * MIN_SCALE / PAGE_WIDTH)
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = 9  # A4
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = pages, 0
    ws.print_options.gridLines = False
    if repeat_header:
        ws.print_title_rows = "1:1"
    if repeat_first_column and pages > 1:
        ws.print_title_cols = "A:A"
    ws.oddHeader.left.text = cells.page_title
    ws.oddHeader.right.text = "&A"  # the sheet's name
    ws.oddFooter.left.text = cells.page_run
    ws.oddFooter.right.text = label("page &P of &N", cells.language)


def write_table(ws: Any, cells: Cells, columns: Sequence[Column], rows: Iterable[Row], *,
                language: str = "en", total: int = 0, progress: Progress | None = None,
                after: Callable[[int], Iterable[Sequence[Any]]] | None = None,
                xml_rows: bool = False, freeze: str = "A2", min_width: int = 8) -> int:
    """Header, frozen below it, rows, autofilter over all of it. Returns the rows written.

    ``after(n)`` may yield further rows (a chart's data block) once the table's n rows are out.
    ``xml_rows``: the rows are written as XML text (xmlrows.py: the same cells, several times
    faster) where the workbook gives ``cells.rows_dir`` and nothing follows the table.
    """
    headers = [label(h, language) for h, _ in columns]
    kinds = [k for _, k in columns]
    it: Iterator[Row] = iter(rows)
    sample = list(islice(it, WIDTH_SAMPLE))
    fit(ws, chain([(["id"] * len(headers), headers)], ((kinds, v) for v, _ in sample)),
        len(columns), min_width)
    ws.freeze_panes = freeze
    print_setup(ws, cells, repeat_first_column=freeze != "A2")
    ws.append([cells.styled(h, cells.todo if k == "open" else cells.head)
               for h, k in zip(headers, kinds)])
    if xml_rows and cells.rows_dir is not None and after is None:
        n = _write_xml_rows(ws, cells, kinds, chain(sample, it), total, progress)
    else:
        make, n = cells.make, 0
        for values, ccy in chain(sample, it):
            ws.append([make(v, k, ccy) for v, k in zip(values, kinds)])
            n += 1
            if progress is not None and n % PROGRESS_EVERY == 0:
                progress(n, total)
    ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{n + 1}"
    if progress is not None:
        progress(n, total)
    if after is not None:
        for extra in after(n):
            ws.append(list(extra))
    return n


def _write_xml_rows(ws: Any, cells: Cells, kinds: list[str], rows: Iterable[Row], total: int,
                    progress: Progress | None) -> int:
    """The table's rows as XML into a file of ``cells.rows_dir``, a placeholder row in ``ws``."""
    assert cells.rows_dir is not None
    placeholder = PLACEHOLDER.format(len(cells.fragments), cells._token)
    path = cells.rows_dir / f"rows-{len(cells.fragments)}.xml"
    tick = (lambda n: progress(n, total)) if progress is not None else (lambda n: None)
    with path.open("w", encoding="utf-8") as fh:
        n = RowWriter(cells, kinds).write(fh, rows, first=2, every=PROGRESS_EVERY, tick=tick)
    cells.fragments[placeholder] = path
    ws.append([placeholder])  # row 2; replaced by the file's rows 2..n+1 when the package is saved
    return n
