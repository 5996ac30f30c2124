"""The Breaks sheet: every open break with both of its sides, the accountant's resolution columns
pre-filled with the latest annotation, the annotation trail.

The sheet is not protected: accountants sort, filter and insert subtotal rows, which Excel refuses
on locked cells of a protected sheet (and LibreOffice's sort did nothing there). What protection
pretended to guard is checked on import instead (:mod:`recon.annotations`): every identity and
amount cell is compared with the warehouse, and the hidden ``row check`` (an HMAC of the break's
identity, amounts and the ``annotation version`` the row was written with,
:mod:`recon.reports.rowcheck`) proves the version was not raised by hand. The columns for the
accountant (status, reason, owner, due date, comment) are shaded and carry drop-downs.
"""
from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from openpyxl.styles import PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from recon.money import to_decimal
from recon.reports.i18n import detail_text, value
from recon.reports.model import Annotation, Break
from recon.reports.rowcheck import row_check
from recon.reports.safe import excel_text
from recon.reports.sheets.cells import (OPEN_FILL, Cells, Column, Progress, Row, label,
                                        local_time, write_table)
from recon.reports.summary import category_label

# Reason codes and their labels (English, Simplified Chinese); either label imports.
REASONS: dict[str, tuple[str, str]] = {
    "timing": ("timing", "时间差"), "fee": ("fee", "手续费"),
    "bank_error": ("bank error", "银行差错"), "psp_error": ("PSP error", "渠道差错"),
    "ledger_error": ("ledger error", "账务差错"), "write_off": ("write-off", "核销"),
    "escalate": ("escalate", "上报"),
}
STATUSES: dict[str, tuple[str, str]] = {
    "open": ("open", "未处理"), "pending_psp": ("pending PSP", "待渠道回复"),
    "explained": ("explained", "已说明"), "resolved": ("resolved", "已解决"),
}
RESOLUTION_HEADERS = ("status", "reason", "owner", "due date", "comment")
HISTORY_SHOWN = 5
PAYOUT_CATEGORIES = ("unsettled", "payout_mismatch")


def _payout(b: Break) -> bool:
    """A break about a PSP payout (its three-way check; an ambiguous payout too)."""
    return b.category in PAYOUT_CATEGORIES or b.rule == "three_way_payout"

# kinds: id = source text kept whole (references, names); text = source free text, card numbers
# masked; amount = minor units in the row's currency; note = our annotation text; open /
# open_date = for the accountant (shaded, pre-filled with the latest annotation).
BREAK_COLUMNS: tuple[Column, ...] = (
    ("break id", "id"), ("category", "id"), ("source", "id"), ("currency", "id"),
    ("difference", "amount"),
    ("status", "open"), ("reason", "open"), ("owner", "open"), ("due date", "open_date"),
    ("comment", "open"), ("detail", "text"), ("first seen", "date"), ("age (days)", "int"),
    # the ledger side
    ("ledger entry", "id"), ("ledger version", "datetime"), ("ledger reference", "id"),
    ("ledger amount", "amount"), ("ledger booked at", "datetime"), ("ledger date", "date"),
    ("ledger counterparty", "text"), ("ledger description", "text"), ("ledger file", "id"),
    ("ledger line", "int"),
    # the statement side
    ("statement reference", "id"), ("PSP reference", "id"), ("payout id", "id"),
    ("statement amount", "amount"), ("statement booked at", "datetime"), ("value date", "date"),
    ("timezone", "id"), ("counterparty", "text"), ("description", "text"), ("file", "id"),
    ("line", "int"),
    # fee variances: the line's fee against the rate card's; payouts: the net of their items
    ("actual fee", "amount"), ("expected fee", "amount"), ("payout items net", "amount"),
    ("rule", "id"), ("latest annotation", "note"), ("history", "note"),
    ("annotation version", "int"), ("row check", "id"),
)
HEADERS = tuple(h for h, _ in BREAK_COLUMNS)
HIDDEN_HEADERS = ("annotation version", "row check")
# What import compares with the warehouse: every column the break itself determines.
IDENTITY_HEADERS = tuple(h for h, k in BREAK_COLUMNS if k not in ("open", "open_date", "note")
                         and h not in HIDDEN_HEADERS)


def choice_label(table: dict[str, tuple[str, str]], code: str | None, language: str) -> str:
    if not code:
        return ""
    en, zh = table.get(code, (code, code))
    return zh if language == "zh" else en


def parse_choice(table: dict[str, tuple[str, str]], text: str) -> str | None:
    """The code for a label in either language (or the code itself); None when not a choice."""
    t = text.strip().lower()
    for code, labels in table.items():
        if t == code or t in (x.lower() for x in labels):
            return code
    return None


def describe(a: Annotation, language: str = "en") -> str:
    parts = [choice_label(STATUSES, a.status, language) or a.status]
    if a.reason:
        parts.append(choice_label(REASONS, a.reason, language))
    text = " / ".join(parts)
    if a.owner:
        text += f" [{a.owner}" + (f", {a.due_date:%Y-%m-%d}]" if a.due_date else "]")
    if a.comment:
        text += f": {a.comment}"
    return f"{text} ({a.who}, {a.annotated_at:%Y-%m-%d %H:%M})"


def _amounts(b: Break) -> tuple[int | None, ...]:
    """(ledger amount, statement amount, actual fee, expected fee, payout items' net): a fee
    variance compares the line's fee with the rate card's, a payout the bank credit (or the PSP's
    declared payout) with the net of its items; neither has a ledger amount."""
    if b.category == "fee_variance":
        line = b.statement.amount_minor if b.statement is not None else None
        return None, line, b.statement_amount_minor, b.ledger_amount_minor, None
    if _payout(b):
        return None, b.statement_amount_minor, None, None, b.ledger_amount_minor
    return b.ledger_amount_minor, b.statement_amount_minor, None, None, None


def break_values(b: Break, language: str, notes: Sequence[Annotation] = (), *,
                 run_id: str = "", key: str = "") -> Row:
    l, s = b.ledger, b.statement
    tz = b.timezone
    at = lambda ts: local_time(ts, tz)[0]  # noqa: E731
    booked_tz = local_time(b.booked_at, tz)[1] if b.booked_at is not None else tz
    last = notes[-1] if notes else None
    version = last.version if last is not None else 0
    history = " | ".join(describe(a, language) for a in reversed(notes[:-1][-HISTORY_SHOWN:]))
    ledger_amount, statement_amount, actual_fee, expected_fee, items_net = _amounts(b)
    detail = detail_text(b.detail, b.currency, language)
    # without a side read from the warehouse (a model built by hand), the break's own fields
    on_ledger = b.ledger_entry_id is not None
    on_stmt = b.line_id is not None or not on_ledger
    payout = _payout(b)
    values = [
        b.break_id, category_label(b.category, language), b.source, b.currency,
        b.difference_minor,
        choice_label(STATUSES, last.status, language) if last else None,
        choice_label(REASONS, last.reason, language) if last and last.reason else None,
        last.owner if last else None, last.due_date if last else None,
        last.comment if last else None,
        detail, b.first_seen, b.age_days,
        b.ledger_entry_id, l.version.replace(tzinfo=None) if l and l.version else None,
        l.reference if l else (b.reference if on_ledger and not on_stmt else None),
        ledger_amount,
        at(l.booked_at) if l else (at(b.booked_at) if on_ledger and not on_stmt else None),
        l.business_date if l else None,
        l.counterparty if l else None, l.description if l else None,
        l.file_name if l else (b.file_name if on_ledger and not on_stmt else None),
        l.file_line if l else (b.file_line if on_ledger and not on_stmt else None),
        (s.reference if s else (b.reference if on_stmt and not payout else None)),
        s.psp_reference if s else b.psp_reference,
        b.reference if payout else (s.payout_id if s else None),
        statement_amount,
        at(s.booked_at) if s else (at(b.booked_at) if on_stmt else None),
        s.value_date if s else None, booked_tz,
        s.counterparty if s else None, s.description if s else None,
        s.file_name if s else (b.file_name if on_stmt else None),
        s.file_line if s else (b.file_line if on_stmt else None),
        actual_fee, expected_fee, items_net,
        value(b.rule, language), describe(last, language) if last else None, history or None,
        version, row_check(key, run_id, b, version),
    ]
    return values, b.currency


def _validation(ws: Any, header: str, rows: int, **kw: Any) -> None:
    col = get_column_letter(HEADERS.index(header) + 1)
    dv = DataValidation(allow_blank=True, showErrorMessage=True, errorTitle=header, **kw)
    dv.add(f"{col}2:{col}{max(rows, 1) + 1}")
    ws.data_validations.append(dv)


def _choices(ws: Any, header: str, choices: list[str], rows: int) -> None:
    _validation(ws, header, rows, type="list", formula1='"' + ",".join(choices) + '"',
                error="Choose one of: " + ", ".join(choices))


def write_breaks(ws: Any, cells: Cells, breaks: Sequence[Break], language: str,
                 annotations: dict[str, tuple[Annotation, ...]],
                 progress: Progress | None, *, run_id: str = "", key: str = "") -> int:
    lang = 1 if language == "zh" else 0
    n = len(breaks)
    _choices(ws, "status", [v[lang] for v in STATUSES.values()], n)
    _choices(ws, "reason", [v[lang] for v in REASONS.values()], n)
    _validation(ws, "owner", n, type="textLength", operator="lessThanOrEqual", formula1="64",
                error="At most 64 characters")
    _validation(ws, "due date", n, type="date", operator="greaterThan", formula1="36526",
                error="A date (yyyy-mm-dd) after 2000-01-01")
    for i, (h, kind) in enumerate(BREAK_COLUMNS, 1):
        dim = ws.column_dimensions[get_column_letter(i)]
        if kind in ("open", "open_date"):  # column style: the empty cells are shaded too
            dim.fill = PatternFill("solid", fgColor=OPEN_FILL)
        if h in HIDDEN_HEADERS:
            dim.hidden = True
    rows = (break_values(b, language, annotations.get(b.break_id, ()), run_id=run_id, key=key)
            for b in breaks)
    written = write_table(ws, cells, BREAK_COLUMNS, rows, language=language, total=n,
                          progress=progress, xml_rows=True, freeze="B2")
    for h in HIDDEN_HEADERS:  # fitted after the rows: set hidden again on the fitted dimension
        ws.column_dimensions[get_column_letter(HEADERS.index(h) + 1)].hidden = True
    return written


def write_breaks_csv(breaks: Sequence[Break], path: Path, *, language: str = "en",
                     annotations: dict[str, tuple[Annotation, ...]] | None = None,
                     run_id: str = "", key: str = "") -> Path:
    """Every break, same columns as the Breaks sheet: UTF-8 with BOM, text escaped for Excel."""
    path = Path(path)
    notes = annotations or {}
    tmp = path.with_name(path.name + ".partial")
    with tmp.open("w", encoding="utf-8-sig", newline="") as fh:
        out = csv.writer(fh, lineterminator="\r\n")
        out.writerow([label(h, language) for h, _ in BREAK_COLUMNS])
        for b in breaks:
            values, ccy = break_values(b, language, notes.get(b.break_id, ()), run_id=run_id,
                                       key=key)
            out.writerow([_csv_value(v, k, ccy) for v, (_, k) in zip(values, BREAK_COLUMNS)])
    tmp.replace(path)
    return path


def _csv_value(value: Any, kind: str, currency: str | None) -> Any:
    if value is None:
        return ""
    if kind in ("id", "text", "note", "open"):
        return excel_text(value, mask=kind != "id")
    if kind == "amount":
        return to_decimal(value, currency or "")
    if kind == "datetime":
        return value.isoformat(sep=" ")
    if kind in ("date", "open_date"):
        return value.isoformat()
    return value
