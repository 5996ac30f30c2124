"""`recon annotations import`: the accountants' resolutions come back from the Breaks sheet.

The workbook names its run (custom property ``recon_run_id``, else the Summary's ``run id``).
The sheet is unprotected (sortable, filterable), so nothing here relies on protection or row
order: each row is found by its break id, every identity and amount cell (break id, category,
both sides' references, amounts, dates, file, line, …) is compared with what the warehouse says
for that run, and the hidden ``row check`` (:mod:`recon.reports.rowcheck`) proves the row's
``annotation version`` is the one recon wrote. Any difference refuses the whole workbook and
names each cell: ``Breaks!Q12: ledger amount 12.30 in the workbook, 12.00 in run …``. Rows
recon did not write (subtotals, totals, blank or note rows: no break id of the run and no check
value) are ignored and counted.

Versions: a break's annotations are numbered 1, 2, …; a row was written with the latest version
then known and its resolution cells pre-filled from it. A row whose resolution differs from
what it was written with is recorded as the next version, unless the warehouse has moved on
since (someone imported a newer annotation): then it is a conflict, listed (cell, break, yours
vs theirs) and not applied, and the newer annotation stays. A blank status or reason keeps the
one the row was written with (a comment alone changes only the comment). The same workbook
imported again adds nothing.
"""
from __future__ import annotations

import getpass
import hashlib
import logging
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl

from recon import warehouse
from recon.assemble import load_annotations, load_breaks
from recon.config import Config
from recon.errors import ReconError
from recon.money import to_decimal
from recon.reports.i18n import ZH
from recon.reports.model import Annotation, Break
from recon.reports.rowcheck import check_ok, warehouse_key
from recon.reports.safe import clean
from recon.reports.sheets.breaks import (BREAK_COLUMNS, HEADERS, IDENTITY_HEADERS, REASONS,
                                         STATUSES, break_values, describe, parse_choice)
from recon.reports.workbook import LANGUAGE_PROPERTY, RUN_PROPERTY

log = logging.getLogger(__name__)
MAX_LISTED = 50
MAX_OWNER = 64
_KINDS = dict(BREAK_COLUMNS)
Resolution = tuple[str, str | None, str | None, date | None, str | None]  # status … comment


class AnnotationImportError(ReconError):
    hint = "Nothing was recorded. Fix the cells named (or start from the workbook recon wrote)."


@dataclass(frozen=True)
class Conflict:
    """A row edited on an older version than the warehouse's latest annotation: not applied."""
    cell: str  # the row's status cell, e.g. "Breaks!F12"
    break_id: str
    yours: str
    theirs: str  # the warehouse's latest annotation, kept

    def __str__(self) -> str:
        return (f"{self.cell}: break {self.break_id}: yours {self.yours!r} was made on an older "
                f"version; kept theirs: {self.theirs}")


@dataclass(frozen=True)
class ImportResult:
    run_id: str
    workbook_sha: str
    rows: int  # break rows read
    recorded: int  # annotations appended
    unchanged: int  # rows whose resolution is what they were written with, or already recorded
    ignored: int = 0  # rows recon did not write (subtotals, totals, notes)
    conflicts: tuple[Conflict, ...] = ()


def _header_names() -> dict[str, str]:
    """Header text as written → English key (either language accepted)."""
    out = {h: h for h in HEADERS}
    out.update({ZH[h]: h for h in HEADERS if h in ZH})
    return out


def _sheet(wb, name: str):
    for n in (name, ZH[name]):
        if n in wb.sheetnames:
            return wb[n]
    return None


def _run_id(wb) -> tuple[str | None, str]:
    props = {p.name: p.value for p in wb.custom_doc_props}
    run_id, language = props.get(RUN_PROPERTY), props.get(LANGUAGE_PROPERTY, "en")
    summary = _sheet(wb, "Summary")
    if run_id is None and summary is not None:
        for row in summary.iter_rows(max_col=2, values_only=True):
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


def _version(found: Any) -> int | None:
    if isinstance(found, bool):
        return None
    if isinstance(found, int) or (isinstance(found, float) and found.is_integer()):
        return int(found) if found >= 0 else None
    return None


def _due(found: Any) -> date | None | str:
    """The due date cell as a date; the cell's text when it is not one."""
    if found is None or found == "":
        return None
    if isinstance(found, datetime):
        return found.date()
    if isinstance(found, date):
        return found
    try:
        return date.fromisoformat(str(found).strip())
    except ValueError:
        return str(found)


def _values(a: Annotation | None) -> Resolution | None:
    return None if a is None else (a.status, a.reason, a.owner, a.due_date, a.comment)


def _describe_mine(v: Resolution) -> str:
    status, reason, owner, due, comment = v
    text = " / ".join(x for x in (status, reason) if x)
    if owner:
        text += f" [{owner}" + (f", {due}]" if due else "]")
    return text + (f": {comment}" if comment else "")


class _Reader:
    """Reads one Breaks sheet against a run: errors by cell, conflicts, what to record."""

    def __init__(self, ws, col: dict[str, int], run_id: str, language: str,
                 breaks: dict[str, Break], notes: dict[str, tuple[Annotation, ...]], key: str,
                 sha: str):
        self.ws, self.col, self.run_id, self.language, self.sha = ws, col, run_id, language, sha
        self.breaks, self.notes, self.key = breaks, notes, key
        self.errors: list[str] = []
        self.conflicts: list[Conflict] = []
        self.pending: list[tuple] = []
        self.seen: dict[str, int] = {}
        self.rows = self.unchanged = self.ignored = 0

    def read(self) -> None:
        for r, row in enumerate(self.ws.iter_rows(min_row=2), start=2):
            cells = {h: row[i] for h, i in self.col.items() if i < len(row)}
            value = {h: c.value for h, c in cells.items()}
            if all(v in (None, "") for v in value.values()):
                continue
            self._row(r, cells, value)

    def _row(self, r: int, cells: dict, value: dict) -> None:
        ref = lambda h: f"{self.ws.title}!{cells[h].coordinate}"  # noqa: E731
        bid = value.get("break id")
        b = self.breaks.get(str(bid)) if bid not in (None, "") else None
        if b is None and value.get("row check") in (None, ""):
            # not a row recon wrote: a subtotal, a total, a note
            typed = [h for h in ("status", "reason", "owner", "due date", "comment")
                     if value.get(h) not in (None, "")]
            if typed:
                self.errors.append(f"{ref(typed[0])}: row {r} has a {typed[0]} but no break of "
                                   f"run {self.run_id} in its break id ({bid!r})")
            else:
                self.ignored += 1
            return
        self.rows += 1
        if b is None:
            self.errors.append(f"{ref('break id')}: break id {bid!r} is not a break of run "
                               f"{self.run_id}")
            return
        if b.break_id in self.seen:
            self.errors.append(f"{ref('break id')}: break id {bid} appears again (first on row "
                               f"{self.seen[b.break_id]})")
            return
        self.seen[b.break_id] = r
        before = len(self.errors)
        expected, ccy = break_values(b, self.language)
        for h, want in zip(HEADERS, expected):
            if h in IDENTITY_HEADERS and not _same(value.get(h), want, _KINDS[h], ccy):
                self.errors.append(f"{ref(h)}: {h} {_show(value.get(h), _KINDS[h], ccy)} in the "
                                   f"workbook, {_show(want, _KINDS[h], ccy, minor=True)} in run "
                                   f"{self.run_id}")
        version = _version(value.get("annotation version"))
        notes = self.notes.get(b.break_id, ())
        by_version = {a.version: a for a in notes}
        if version is None or (version and version not in by_version):
            self.errors.append(f"{ref('annotation version')}: annotation version "
                               f"{value.get('annotation version')!r} of break {b.break_id}: "
                               f"expected 0 to {notes[-1].version if notes else 0}")
            return
        if len(self.errors) == before and not check_ok(self.key, self.run_id, b, version,
                                                       value.get("row check")):
            self.errors.append(f"{ref('row check')}: the row check does not match break "
                               f"{b.break_id} at annotation version {version}: the version or "
                               f"the check was changed, or copied from another row")
        mine = self._resolution(ref, value, by_version.get(version))
        if mine is None:
            return
        base = _values(by_version.get(version)) or ("open", None, None, None, None)
        latest = notes[-1] if notes else None
        if mine == base or mine == _values(latest) or any(
                a.workbook_sha == self.sha and _values(a) == mine for a in notes):
            self.unchanged += 1  # as written, as the latest, or this very file imported before
        elif latest is not None and latest.version > version:
            self.conflicts.append(Conflict(ref("status"), b.break_id, _describe_mine(mine),
                                           f"version {latest.version}, "
                                           + describe(latest, self.language)))
        else:
            self.pending.append((b.break_id, *mine, version + 1))

    def _resolution(self, ref, value: dict, base: Annotation | None) -> Resolution | None:
        """The row's status, reason, owner, due date and comment (None: nothing filled in)."""
        text = {h: str(value.get(h) or "").strip() for h in ("status", "reason", "owner",
                                                              "comment")}
        status = parse_choice(STATUSES, text["status"]) if text["status"] else None
        reason = parse_choice(REASONS, text["reason"]) if text["reason"] else None
        due = _due(value.get("due date"))
        if text["status"] and status is None:
            self.errors.append(f"{ref('status')}: status {text['status']!r} is not one of "
                               f"{', '.join(v[0] for v in STATUSES.values())}")
        if text["reason"] and reason is None:
            self.errors.append(f"{ref('reason')}: reason {text['reason']!r} is not one of "
                               f"{', '.join(v[0] for v in REASONS.values())}")
        if isinstance(due, str):
            self.errors.append(f"{ref('due date')}: due date {due!r} is not a date (yyyy-mm-dd)")
            due = None
        if len(text["owner"]) > MAX_OWNER:
            self.errors.append(f"{ref('owner')}: owner has {len(text['owner'])} characters, at "
                               f"most {MAX_OWNER}")
        owner, comment = text["owner"] or None, text["comment"] or None
        if not (status or reason or owner or due or comment):
            return None
        # a blank status or reason keeps the one the row was written with
        status = status or (base.status if base else "open")
        reason = reason or (base.reason if base else None)
        return status, reason, owner, due, comment


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
    ws = _sheet(wb, "Breaks")
    if ws is None:
        raise AnnotationImportError(f"{path}: no Breaks sheet.")
    names = _header_names()
    col = {names[c.value]: i for i, c in enumerate(ws[1]) if c.value in names}
    missing = [h for h in HEADERS if h not in col]
    if missing:
        raise AnnotationImportError(f"{path}: {ws.title}!1: columns missing from the header: "
                                    f"{', '.join(missing)}.")
    con = warehouse.connect(cfg.warehouse)
    try:
        breaks = {b.break_id: b for b in load_breaks(con, cfg, run_id)}
        if not breaks and not con.execute("SELECT count(*) FROM runs WHERE run_id = ?",
                                          [run_id]).fetchone()[0]:
            raise AnnotationImportError(f"{path}: run {run_id} is not in {cfg.warehouse}.")
        reader = _Reader(ws, col, run_id, language, breaks,
                         load_annotations(con, set(breaks)), warehouse_key(con), sha)
        reader.read()
        errors = reader.errors
        if errors:
            shown = errors[:MAX_LISTED]
            more = f"\n  … and {len(errors) - MAX_LISTED} more" if len(errors) > MAX_LISTED else ""
            raise AnnotationImportError(
                f"{path}: refused, {len(errors)} problem(s) against run {run_id}:\n  "
                + "\n  ".join(shown) + more + "\n")
        when = now or datetime.now(timezone.utc)
        if reader.pending:
            con.executemany(
                "INSERT INTO annotations (break_id, status, reason, owner, due_date, comment, "
                "version, who, annotated_at, workbook_sha) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(*p, who, when, sha) for p in reader.pending])
    finally:
        con.close()
    for c in reader.conflicts:
        log.warning("Annotation not applied: %s", c)
    log.info("Annotations from %s (run %s): %d rows, %d recorded, %d unchanged, %d conflicts, "
             "%d other rows ignored", path.name, run_id, reader.rows, len(reader.pending),
             reader.unchanged, len(reader.conflicts), reader.ignored)
    return ImportResult(run_id, sha, reader.rows, len(reader.pending), reader.unchanged,
                        reader.ignored, tuple(reader.conflicts))
