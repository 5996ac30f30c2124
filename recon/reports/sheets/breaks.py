"""The Breaks sheet: every open break, the accountant's resolution columns, the annotation trail.

Columns are locked (sheet protection) except ``reason``, ``status`` and ``comment``, which carry
drop-down validation. Protection is a courtesy, not a control: ``recon annotations import``
compares every locked cell with the warehouse (:mod:`recon.annotations`). ``latest annotation``
and ``history`` come from the annotations table by break_id, so a break carried to the next day
shows what was said about it before.
"""
from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from openpyxl.styles import PatternFill, Protection
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from recon.money import to_decimal
from recon.reports.model import Annotation, Break
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
    "explained": ("explained", "已说明"), "resolved": ("resolved", "已解决"),
}
RESOLUTION_HEADERS = ("reason", "status", "comment")
HISTORY_SHOWN = 5

# kinds: id = source text kept whole (references, names); text = source free text, card numbers
# masked; amount = minor units in the row's currency; note = our annotation text (read-only);
# open = for the accountant to fill in (unlocked).
BREAK_COLUMNS: tuple[Column, ...] = (
    ("break id", "id"), ("category", "id"), ("source", "id"), ("reference", "id"),
    ("PSP reference", "id"), ("currency", "id"), ("ledger amount", "amount"),
    ("statement amount", "amount"), ("difference", "amount"), ("booked at", "datetime"),
    ("timezone", "id"), ("file", "id"), ("line", "int"), ("ledger entry", "id"), ("rule", "id"),
    ("detail", "text"), ("first seen", "date"), ("age (days)", "int"),
    ("latest annotation", "note"), ("history", "note"),
    ("reason", "open"), ("status", "open"), ("comment", "open"),
)
# What import compares with the warehouse: every column the break itself determines.
LOCKED_HEADERS = tuple(h for h, k in BREAK_COLUMNS
                       if k != "open" and h not in ("latest annotation", "history"))


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
    if a.comment:
        text += f": {a.comment}"
    return f"{text} ({a.who}, {a.annotated_at:%Y-%m-%d %H:%M})"


def break_values(b: Break, language: str, notes: Sequence[Annotation] = ()) -> Row:
    booked, tz = local_time(b.booked_at, b.timezone)
    latest = describe(notes[-1], language) if notes else None
    history = " | ".join(describe(a, language) for a in reversed(notes[:-1][-HISTORY_SHOWN:]))
    return ([b.break_id, category_label(b.category, language), b.source, b.reference,
             b.psp_reference, b.currency, b.ledger_amount_minor, b.statement_amount_minor,
             b.difference_minor, booked, tz, b.file_name, b.file_line, b.ledger_entry_id, b.rule,
             b.detail, b.first_seen, b.age_days, latest, history or None, None, None, None],
            b.currency)


def _validation(ws: Any, header: str, choices: list[str], rows: int) -> None:
    col = get_column_letter([h for h, _ in BREAK_COLUMNS].index(header) + 1)
    dv = DataValidation(type="list", formula1='"' + ",".join(choices) + '"', allow_blank=True,
                        showErrorMessage=True, errorTitle=header,
                        error="Choose one of: " + ", ".join(choices))
    dv.add(f"{col}2:{col}{max(rows, 1) + 1}")
    ws.data_validations.append(dv)


def write_breaks(ws: Any, cells: Cells, breaks: Sequence[Break], language: str,
                 annotations: dict[str, tuple[Annotation, ...]],
                 progress: Progress | None) -> int:
    lang = 1 if language == "zh" else 0
    _validation(ws, "reason", [v[lang] for v in REASONS.values()], len(breaks))
    _validation(ws, "status", [v[lang] for v in STATUSES.values()], len(breaks))
    p = ws.protection
    p.sheet = True  # locked cells stay locked; sorting, filtering and widths stay allowed
    p.autoFilter = p.sort = p.formatColumns = p.formatRows = False
    p.selectLockedCells = p.selectUnlockedCells = False
    for i, (_, kind) in enumerate(BREAK_COLUMNS, 1):
        if kind == "open":  # column style: empty cells need no cell of their own to be editable
            dim = ws.column_dimensions[get_column_letter(i)]
            dim.protection = Protection(locked=False)
            dim.fill = PatternFill("solid", fgColor=OPEN_FILL)
    rows = (break_values(b, language, annotations.get(b.break_id, ())) for b in breaks)
    return write_table(ws, cells, BREAK_COLUMNS, rows, language=language, total=len(breaks),
                       progress=progress, xml_rows=True)


def write_breaks_csv(breaks: Sequence[Break], path: Path, *, language: str = "en",
                     annotations: dict[str, tuple[Annotation, ...]] | None = None) -> Path:
    """Every break, same columns as the Breaks sheet: UTF-8 with BOM, text escaped for Excel."""
    path = Path(path)
    notes = annotations or {}
    tmp = path.with_name(path.name + ".partial")
    with tmp.open("w", encoding="utf-8-sig", newline="") as fh:
        out = csv.writer(fh, lineterminator="\r\n")
        out.writerow([label(h, language) for h, _ in BREAK_COLUMNS])
        for b in breaks:
            values, ccy = break_values(b, language, notes.get(b.break_id, ()))
            out.writerow([_csv_value(v, k, ccy) for v, (_, k) in zip(values, BREAK_COLUMNS)])
    tmp.replace(path)
    return path


def _csv_value(value: Any, kind: str, currency: str | None) -> Any:
    if value is None:
        return ""
    if kind in ("id", "text", "note"):
        return excel_text(value, mask=kind != "id")
    if kind == "amount":
        return to_decimal(value, currency or "")
    if kind == "datetime":
        return value.isoformat(sep=" ")
    return value
