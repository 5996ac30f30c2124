"""The break workbook accountants work through: sheets Summary, Breaks, Fees and Payouts.

Written with openpyxl's write-only mode, so a day with a million breaks streams to disk instead of
holding a cell object per value. Consequences of streaming, chosen on purpose:

- column widths are fitted to the header and the first ``WIDTH_SAMPLE`` rows (the ``<cols>``
  element precedes the rows in the file), capped at ``MAX_WIDTH``;
- the Summary sheet is created first (it is the first tab) but filled last, once the Breaks sheet
  knows whether it was cut and how much source text had to be cleaned.

Every text that came from a bank or PSP goes through :mod:`recon.reports.safe`: formula-like text
is stored as a string cell with Excel's quote prefix (the text itself is unchanged, so it still
matches the statement), control characters are removed, card numbers in free text are masked.
Amounts are Decimal numbers with the currency's places as a per-cell number format; times are
shown in the break's timezone. The file is byte-for-byte reproducible: document properties and
zip entry times come from ``summary.started_at``, never from the clock.
"""
from __future__ import annotations

import csv
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime, timezone
from functools import lru_cache
from itertools import chain, islice
from pathlib import Path
from typing import Any
from zipfile import ZIP_DEFLATED, ZipFile, ZipInfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.xml.functions import tostring

from recon.money import exponent, to_decimal
from recon.reports.fees import fee_rows
from recon.reports.model import Break, RunSummary
from recon.reports.safe import clean, excel_text
from recon.reports.summary import (break_totals, category_label, match_rate,
                                   payout_difference_minor)

log = logging.getLogger(__name__)

EXCEL_MAX_ROWS = 1_048_576
DEFAULT_MAX_ROWS = 1_000_000
WIDTH_SAMPLE = 10_000
MAX_WIDTH = 60
PROGRESS_EVERY = 10_000
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
DATE_FORMAT = "yyyy-mm-dd"
PERCENT_FORMAT = "0.00%"
RATE_FORMAT = "0.0000%"
LANGUAGES = ("en", "zh")
RESOLUTION_STATUSES = ("open", "explained", "resolved")
_ERROR_CODES = frozenset(("#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A"))

Progress = Callable[[int, int], None]  # (rows written, rows to write) on the Breaks sheet
Column = tuple[str, str]  # (header, kind)
Row = tuple[Sequence[Any], str | None]  # (values, the row's currency for its amounts)

# kinds: id = source text kept whole (references, names); text = source free text, card numbers
# masked; amount = minor units in the row's currency; blank = for the accountant to fill in.
BREAK_COLUMNS: tuple[Column, ...] = (
    ("break id", "id"), ("category", "id"), ("source", "id"), ("reference", "id"),
    ("PSP reference", "id"), ("currency", "id"), ("ledger amount", "amount"),
    ("statement amount", "amount"), ("difference", "amount"), ("booked at", "datetime"),
    ("timezone", "id"), ("file", "id"), ("line", "int"), ("ledger entry", "id"), ("rule", "id"),
    ("detail", "text"), ("reason", "blank"), ("status", "blank"), ("comment", "blank"),
)
RESOLUTION_HEADERS = ("reason", "status", "comment")
FEE_COLUMNS: tuple[Column, ...] = (
    ("source", "id"), ("date", "date"), ("currency", "id"), ("method", "id"), ("type", "id"),
    ("count", "int"), ("gross", "amount"), ("actual fee", "amount"), ("expected fee", "amount"),
    ("variance", "amount"), ("effective rate", "rate"),
)
PAYOUT_COLUMNS: tuple[Column, ...] = (
    ("source", "id"), ("payout id", "id"), ("currency", "id"), ("items", "int"),
    ("settled net", "amount"), ("declared", "amount"), ("bank credit", "amount"),
    ("difference", "amount"), ("status", "id"), ("bank line", "id"),
)


def amount_format(places: int) -> str:
    body = "#,##0" + ("." + "0" * places if places else "")
    return f"{body};[Red]-{body}"


def overflow_csv_path(workbook_path: Path) -> Path:
    """Where the full break list goes when the Breaks sheet is cut: beside the workbook."""
    return Path(workbook_path).with_suffix(".breaks.csv")


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


def _break_values(b: Break, language: str) -> Row:
    booked, tz = local_time(b.booked_at, b.timezone)
    return ([b.break_id, category_label(b.category, language), b.source, b.reference,
             b.psp_reference, b.currency, b.ledger_amount_minor, b.statement_amount_minor,
             b.difference_minor, booked, tz, b.file_name, b.file_line, b.ledger_entry_id, b.rule,
             b.detail, None, None, None], b.currency)


class _Cells:
    """Turns values into write-only cells of the right type and style, counting cleaned text."""

    def __init__(self, wb: Workbook):
        self._ws = wb.worksheets[0]
        self.removed = self.masked = self.quoted = 0
        self.bold = self._style(font=Font(bold=True))
        self.todo = self._style(font=Font(bold=True), fill=PatternFill("solid", fgColor="FFF2CC"))
        self.alert = self._style(font=Font(bold=True, color="C00000"))
        self.quote = self._style(quotePrefix=True)
        self.datetime = self._style(number_format=DATETIME_FORMAT)
        self.date = self._style(number_format=DATE_FORMAT)
        self.percent = self._style(number_format=PERCENT_FORMAT)
        self.rate = self._style(number_format=RATE_FORMAT)
        self._amount: dict[str, Any] = {}

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

    def text(self, value: Any, mask: bool) -> Any:
        if value is None or value == "":
            return None
        c = clean(value, mask=mask)
        self.removed += c.removed
        self.masked += c.masked
        if c.formula_like or c.text in _ERROR_CODES:
            self.quoted += 1
            cell = WriteOnlyCell(self._ws)
            cell._value, cell.data_type, cell._style = c.text, "s", self.quote
            return cell
        return c.text

    def amount(self, minor: int | None, currency: str | None) -> Any:
        if minor is None:
            return None
        assert currency is not None
        style = self._amount.get(currency)
        if style is None:
            style = self._amount[currency] = self._style(
                number_format=amount_format(exponent(currency)))
        return self.styled(to_decimal(minor, currency), style)

    def make(self, value: Any, kind: str, currency: str | None) -> Any:
        if value is None:
            return None
        if kind == "id":
            return self.text(value, mask=False)
        if kind == "text":
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


def _width(value: Any, kind: str) -> int:
    if value is None:
        return 0
    if kind in ("datetime", "date"):
        return 19 if kind == "datetime" else 10
    if kind == "amount":
        return len(f"{value:,}") + 2  # minor units: as wide as the amount with its separator
    s = str(value)
    return (len(s) + len(s.encode("utf-8"))) // 2  # CJK (3 bytes) counts 2, ASCII counts 1


def _fit(ws: Any, kinds_rows: Iterable[tuple[Sequence[str], Sequence[Any]]], ncols: int) -> None:
    widths = [8] * ncols
    for kinds, values in kinds_rows:
        for i, (kind, v) in enumerate(zip(kinds, values)):
            widths[i] = max(widths[i], _width(v, kind) + 2)
    for i, w in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(i)].width = min(w, MAX_WIDTH)


def _write_table(ws: Any, cells: _Cells, columns: Sequence[Column], rows: Iterable[Row], *,
                 total: int = 0, progress: Progress | None = None) -> int:
    """Header, frozen below it, rows, autofilter over all of it. Returns the rows written."""
    headers = [h for h, _ in columns]
    kinds = [k for _, k in columns]
    it: Iterator[Row] = iter(rows)
    sample = list(islice(it, WIDTH_SAMPLE))
    _fit(ws, chain([(["id"] * len(headers), headers)], ((kinds, v) for v, _ in sample)),
         len(columns))
    ws.freeze_panes = "A2"
    ws.append([cells.styled(h, cells.todo if h in RESOLUTION_HEADERS and "blank" in kinds
                            else cells.bold) for h in headers])
    make, n = cells.make, 0
    for values, ccy in chain(sample, it):
        ws.append([make(v, k, ccy) for v, k in zip(values, kinds)])
        n += 1
        if progress is not None and n % PROGRESS_EVERY == 0:
            progress(n, total)
    ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{n + 1}"
    if progress is not None:
        progress(n, total)
    return n


def _write_breaks(ws: Any, cells: _Cells, breaks: Sequence[Break], language: str,
                  progress: Progress | None) -> int:
    col = get_column_letter([h for h, _ in BREAK_COLUMNS].index("status") + 1)
    dv = DataValidation(type="list", formula1='"' + ",".join(RESOLUTION_STATUSES) + '"',
                        allow_blank=True, showErrorMessage=True, errorTitle="status",
                        error="Choose one of: " + ", ".join(RESOLUTION_STATUSES))
    dv.add(f"{col}2:{col}{max(len(breaks), 1) + 1}")
    ws.data_validations.append(dv)
    rows = (_break_values(b, language) for b in breaks)
    return _write_table(ws, cells, BREAK_COLUMNS, rows, total=len(breaks), progress=progress)


def write_breaks_csv(breaks: Sequence[Break], path: Path, *, language: str = "en") -> Path:
    """Every break, same columns as the Breaks sheet: UTF-8 with BOM, text escaped for Excel."""
    path = Path(path)
    tmp = path.with_name(path.name + ".partial")
    with tmp.open("w", encoding="utf-8-sig", newline="") as fh:
        out = csv.writer(fh, lineterminator="\r\n")
        out.writerow([h for h, _ in BREAK_COLUMNS])
        for b in breaks:
            values, ccy = _break_values(b, language)
            out.writerow([_csv_value(v, k, ccy) for v, (_, k) in zip(values, BREAK_COLUMNS)])
    tmp.replace(path)
    return path


def _csv_value(value: Any, kind: str, currency: str | None) -> Any:
    if value is None:
        return ""
    if kind in ("id", "text"):
        return excel_text(value, mask=kind == "text")
    if kind == "amount":
        return to_decimal(value, currency or "")
    if kind == "datetime":
        return value.isoformat(sep=" ")
    return value


def _summary_rows(s: RunSummary, cells: _Cells, language: str, note: str) -> list[list[Any]]:
    """The Summary sheet: run facts, then sources, matched, matched by rule, breaks by category."""
    c = cells
    facts: list[tuple[str, Any, str]] = [
        ("run id", s.run_id, "id"), ("business date", s.business_date, "date"),
        ("started at (UTC)", local_time(s.started_at, "UTC")[0], "datetime"),
        ("finished at (UTC)", local_time(s.finished_at, "UTC")[0], "datetime"),
        ("code version", s.code_version, "id"), ("config sha256", s.config_sha256, "id"),
        ("reconciled", "yes" if s.reconciled else "no", "id"),
        ("match rate", match_rate(s), "percent"),
        ("ledger entries", s.ledger_entries, "int"), ("statement lines", s.statement_lines, "int"),
        ("matched ledger entries", s.matched_ledger, "int"),
        ("matched statement lines", s.matched_statement, "int"),
        ("quarantined rows", s.quarantined, "int"), ("breaks", len(s.breaks), "int"),
    ]
    rows: list[list[Any]] = [[c.styled("Reconciliation", c.bold)]]
    rows += [[label, c.make(v, kind, None)] for label, v, kind in facts]
    tables: list[list[Any]] = [[], [c.styled("Sources", c.bold)]]
    tables.append([c.styled(h, c.bold) for h in (
        "source", "kind", "file", "sha256", "status", "lines", "quarantined", "control total",
        "error")])
    for x in s.sources:
        tables.append([c.text(x.source, False), x.kind, c.text(x.file_name, False),
                       (x.sha256 or "")[:12] or None, x.status, x.lines, x.quarantined,
                       c.text(x.control_total, True), c.text(x.error, True)])
    tables += [[], [c.styled("Matched", c.bold)],
               [c.styled(h, c.bold) for h in ("currency", "count", "amount")]]
    tables += [[t.currency, t.count, c.amount(t.amount_minor, t.currency)]
               for t in sorted(s.matched_amounts, key=lambda t: t.currency)]
    tables += [[], [c.styled("Matched by rule", c.bold)],
               [c.styled(h, c.bold) for h in ("rule", "count")]]
    tables += [[c.text(rule, False), n] for rule, n in sorted(s.matched_by_rule.items())]
    tables += [[], [c.styled("Breaks by category", c.bold)],
               [c.styled(h, c.bold) for h in ("category", "currency", "count",
                                              "sum of differences", "sum of |differences|")]]
    tables += [[category_label(t.category, language), t.currency, t.count,
                c.amount(t.net_minor, t.currency), c.amount(t.absolute_minor, t.currency)]
               for t in break_totals(s.breaks)]
    if note:
        rows.append(["note", c.styled(note, c.alert)])
    if c.removed or c.masked or c.quoted:
        rows.append(["source text", f"{c.removed} control characters removed, {c.masked} card "
                                    f"numbers masked, {c.quoted} formula-like texts kept as text"])
    return rows + tables


def _plain(v: Any) -> Any:
    return getattr(v, "value", v)


def _write_summary(ws: Any, rows: list[list[Any]]) -> None:
    ncols = max(len(r) for r in rows)
    fitted = [r for r in rows if len(r) > 1]  # one-cell titles and notes may overflow freely
    _fit(ws, ((["auto"] * len(r), [_plain(v) for v in r]) for r in fitted), ncols)
    for r in rows:
        ws.append(r)


def _save_reproducibly(wb: Workbook, path: Path, when: datetime) -> None:
    """Save, then rewrite the package with fixed timestamps (openpyxl stamps the clock)."""
    if when.tzinfo is not None:
        when = when.astimezone(timezone.utc).replace(tzinfo=None)
    fd, raw = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".raw")
    os.close(fd)
    tmp = path.with_name(path.name + ".partial")
    try:
        wb.save(raw)
        wb.properties.created = wb.properties.modified = when
        core = tostring(wb.properties.to_tree())
        stamp = max(when, datetime(1980, 1, 1)).timetuple()[:6]
        with ZipFile(raw) as src, ZipFile(tmp, "w", ZIP_DEFLATED, allowZip64=True) as dst:
            for info in src.infolist():
                entry = ZipInfo(info.filename, date_time=stamp)
                entry.compress_type = ZIP_DEFLATED
                if info.filename == "docProps/core.xml":
                    dst.writestr(entry, core)
                    continue
                entry.file_size = info.file_size  # lets zipfile choose ZIP64 for a huge sheet
                with src.open(info) as fin, dst.open(entry, "w") as fout:
                    shutil.copyfileobj(fin, fout, 1 << 20)
        tmp.replace(path)
    finally:
        Path(raw).unlink(missing_ok=True)
        tmp.unlink(missing_ok=True)


def write_workbook(summary: RunSummary, path: Path, *, language: str = "en",
                   progress: Progress | None = None, max_rows: int = DEFAULT_MAX_ROWS) -> Path:
    """Write the day's workbook to ``path``; beyond ``max_rows`` breaks also ``*.breaks.csv``.

    ``progress(done, total)`` is called every 10,000 rows of the Breaks sheet and at its end.
    """
    if language not in LANGUAGES:
        raise ValueError(f"language {language!r}: expected one of {', '.join(LANGUAGES)}")
    if not 0 < max_rows < EXCEL_MAX_ROWS:
        raise ValueError(f"max_rows {max_rows}: expected 1 to {EXCEL_MAX_ROWS - 1} (one row is "
                         "the header)")
    path = Path(path)
    wb = Workbook(write_only=True)
    ws = {name: wb.create_sheet(name) for name in ("Summary", "Breaks", "Fees", "Payouts")}
    wb.properties.creator = "recon"
    wb.properties.title = f"Reconciliation {summary.business_date.isoformat()}"
    cells = _Cells(wb)

    breaks = summary.breaks
    note = ""
    if len(breaks) > max_rows:
        csv_path = write_breaks_csv(breaks, overflow_csv_path(path), language=language)
        note = (f"Breaks sheet shows {max_rows:,} of {len(breaks):,}; the full list is in "
                f"{csv_path.name}")
        log.warning("%s", note)
        breaks = breaks[:max_rows]
    shown = _write_breaks(ws["Breaks"], cells, breaks, language, progress)

    fees = (([r.source, date.fromisoformat(r.business_date), r.currency, r.payment_method,
              r.txn_type, r.count, r.gross_minor, r.actual_fee_minor, r.expected_fee_minor,
              r.variance_minor,
              None if r.effective_rate_percent is None else r.effective_rate_percent / 100],
             r.currency) for r in fee_rows(summary.fees))
    _write_table(ws["Fees"], cells, FEE_COLUMNS, fees)
    payouts = (([p.source, p.payout_id, p.currency, p.settled_items, p.settled_net_minor,
                 p.declared_minor, p.bank_credit_minor, payout_difference_minor(p), p.status,
                 p.bank_line_id], p.currency) for p in summary.payouts)
    _write_table(ws["Payouts"], cells, PAYOUT_COLUMNS, payouts)
    _write_summary(ws["Summary"], _summary_rows(summary, cells, language, note))

    _save_reproducibly(wb, path, summary.started_at)
    log.info("Workbook: %d of %d breaks, %d fee rows, %d payouts → %s; source text: %d control "
             "characters removed, %d card numbers masked, %d formula-like texts kept as text",
             shown, len(summary.breaks), len(summary.fees), len(summary.payouts), path,
             cells.removed, cells.masked, cells.quoted)
    return path
