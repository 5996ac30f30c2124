"""`recon annotations import`: the accountants' resolutions come back from the Breaks sheet.

The workbook names its run (custom property ``recon_run_id``, else the Summary's ``run id``).
Every locked cell of every row (break id, category, amounts, references, file, line, …) is
compared with what the warehouse says for that run, whatever the sheet protection says (it is
easy to remove), and every resolution value with the drop-down lists. Any difference refuses the
whole workbook and names each cell: ``Breaks!H12: statement amount 12.30 in the workbook, 12.00
in run …``. Otherwise each row with a reason, status or comment that differs from the break's
latest annotation is appended to ``annotations`` (who, when, the workbook's sha256); an
unchanged row, or the same workbook imported again, adds nothing.
"""
from __future__ import annotations

import getpass
import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl

from recon import warehouse
from recon.assemble import load_annotations, load_breaks
from recon.config import Config
from recon.errors import ReconError
from recon.money import to_decimal
from recon.reports.safe import clean
from recon.reports.sheets.breaks import (BREAK_COLUMNS, LOCKED_HEADERS, REASONS, STATUSES,
                                         break_values, parse_choice)
from recon.reports.sheets.cells import ZH
from recon.reports.workbook import LANGUAGE_PROPERTY, RUN_PROPERTY

log = logging.getLogger(__name__)
MAX_LISTED = 50
_KINDS = dict(BREAK_COLUMNS)


class AnnotationImportError(ReconError):
    hint = "Nothing was recorded. Fix the cells named (or start from the workbook recon wrote)."


@dataclass(frozen=True)
class ImportResult:
    run_id: str
    workbook_sha: str
    rows: int  # break rows read
    recorded: int  # annotations appended
    unchanged: int  # rows with a resolution equal to the latest annotation


def _header_names(language: str) -> dict[str, str]:
    """Header text as written → English key (either language accepted)."""
    out = {h: h for h, _ in BREAK_COLUMNS}
    out.update({ZH[h]: h for h, _ in BREAK_COLUMNS if h in ZH})
    return out


def _run_id(wb) -> tuple[str | None, str]:
    props = {p.name: p.value for p in wb.custom_doc_props}
    run_id, language = props.get(RUN_PROPERTY), props.get(LANGUAGE_PROPERTY, "en")
    if run_id is None and "Summary" in wb.sheetnames:
        for row in wb["Summary"].iter_rows(max_col=2, values_only=True):
            if row[0] in ("run id", ZH["run id"]):
                run_id = row[1]
                break
    return run_id, language


def _show(value: Any, kind: str, currency: str | None, *, minor: bool = False) -> str:
    """A value for the message: the workbook's as found, the run's (minor units) converted."""
    if value is None or value == "":
        return "(empty)"
    if kind == "amount" and minor and currency:
        return str(to_decimal(value, currency))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return str(value)


def _same(found: Any, expected: Any, kind: str, currency: str | None) -> bool:
    """A workbook cell against the value recon wrote there (same cleaning and conversions)."""
    if expected is None or expected == "":
        return found is None or found == ""
    if found is None:
        return False
    if kind == "amount":
        try:
            return Decimal(str(found)) == to_decimal(expected, currency or "")
        except ArithmeticError:
            return False
    if kind == "datetime":
        return isinstance(found, datetime) and abs((found - expected).total_seconds()) < 1
    if kind == "date":
        got = found.date() if isinstance(found, datetime) else found
        return got == expected
    if kind == "int":
        return isinstance(found, (int, float)) and found == expected
    return str(found) == clean(expected, mask=kind == "text").text


def import_workbook(cfg: Config, path: Path, *, who: str | None = None,
                    now: datetime | None = None) -> ImportResult:
    path = Path(path)
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    who = who or getpass.getuser()
    wb = openpyxl.load_workbook(path, read_only=False, data_only=False)
    run_id, language = _run_id(wb)
    if not run_id:
        raise AnnotationImportError(f"{path}: the workbook does not say which run it belongs to "
                                    f"(no {RUN_PROPERTY} property, no 'run id' on Summary).")
    if "Breaks" not in wb.sheetnames:
        raise AnnotationImportError(f"{path}: no Breaks sheet.")
    ws = wb["Breaks"]
    names = _header_names(language)
    header = [c.value for c in ws[1]]
    col = {names[h]: i for i, h in enumerate(header) if h in names}
    missing = [h for h, _ in BREAK_COLUMNS if h not in col]
    if missing:
        raise AnnotationImportError(f"{path}: Breaks!1: columns missing from the header: "
                                    f"{', '.join(missing)}.")
    con = warehouse.connect(cfg.warehouse)
    try:
        breaks = {b.break_id: b for b in load_breaks(con, cfg, run_id)}
        if not breaks and not con.execute("SELECT count(*) FROM runs WHERE run_id = ?",
                                          [run_id]).fetchone()[0]:
            raise AnnotationImportError(f"{path}: run {run_id} is not in {cfg.warehouse}.")
        latest = {k: v[-1] for k, v in load_annotations(con, set(breaks)).items()}
        errors: list[str] = []
        pending: list[tuple] = []
        seen: dict[str, int] = {}
        unchanged = rows = 0
        order = [h for h, _ in BREAK_COLUMNS]
        for r, row in enumerate(ws.iter_rows(min_row=2), start=2):
            cells = {h: row[col[h]] for h in order if col[h] < len(row)}
            value = {h: (c.value if c is not None else None) for h, c in cells.items()}
            if all(v in (None, "") for v in value.values()):
                continue
            rows += 1
            bid = value.get("break id")
            ref = lambda h: f"Breaks!{cells[h].coordinate}"  # noqa: E731
            b = breaks.get(str(bid)) if bid is not None else None
            if b is None:
                errors.append(f"{ref('break id')}: break id {bid!r} is not a break of run {run_id}")
                continue
            if bid in seen:
                errors.append(f"{ref('break id')}: break id {bid} appears again (first on row "
                              f"{seen[bid]})")
                continue
            seen[bid] = r
            expected, ccy = break_values(b, language)
            for h, want in zip(order, expected):
                if h not in LOCKED_HEADERS:
                    continue
                if not _same(value.get(h), want, _KINDS[h], ccy):
                    errors.append(f"{ref(h)}: {h} {_show(value.get(h), _KINDS[h], ccy)} in the "
                                  f"workbook, {_show(want, _KINDS[h], ccy, minor=True)} in run {run_id}")
            reason_text = str(value.get("reason") or "").strip()
            status_text = str(value.get("status") or "").strip()
            comment = str(value.get("comment") or "").strip() or None
            reason = parse_choice(REASONS, reason_text) if reason_text else None
            status = parse_choice(STATUSES, status_text) if status_text else None
            if reason_text and reason is None:
                errors.append(f"{ref('reason')}: reason {reason_text!r} is not one of "
                              f"{', '.join(v[0] for v in REASONS.values())}")
            if status_text and status is None:
                errors.append(f"{ref('status')}: status {status_text!r} is not one of "
                              f"{', '.join(v[0] for v in STATUSES.values())}")
            if not (reason or status or comment):
                continue
            status = status or "open"
            last = latest.get(b.break_id)
            if last is not None and (last.status, last.reason, last.comment) == (
                    status, reason, comment):
                unchanged += 1
                continue
            pending.append((b.break_id, status, reason, comment))
        if errors:
            shown = errors[:MAX_LISTED]
            more = f"\n  … and {len(errors) - MAX_LISTED} more" if len(errors) > MAX_LISTED else ""
            raise AnnotationImportError(
                f"{path}: refused, {len(errors)} problem(s) against run {run_id}:\n  "
                + "\n  ".join(shown) + more + "\n")
        when = now or datetime.now(timezone.utc)
        if pending:
            con.executemany(
                "INSERT INTO annotations (break_id, status, reason, comment, who, annotated_at, "
                "workbook_sha) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(*p, who, when, sha) for p in pending])
    finally:
        con.close()
    log.info("Annotations from %s (run %s): %d rows, %d recorded, %d unchanged", path.name,
             run_id, rows, len(pending), unchanged)
    return ImportResult(run_id, sha, rows, len(pending), unchanged)
