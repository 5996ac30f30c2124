"""`recon whatif`: replay past days with candidate rules and settings, and list what would change.

A rule change is reviewed before it ships. Each day of the range is matched again as of its
recorded run (the same input files, ledger and annotation watermarks), with the candidate
configuration's rules, tolerances and rate cards, on a scratch copy of the warehouse: the
warehouse itself is never opened for writing. The first day carries the open items its recorded
run carried; each later day carries the replay's own open items, so a change's effect follows
through the range as it would have. Every link and break of the replay is compared with the
recorded run's: each that would appear, vanish or change (a link's rule, a break's category) is
one row, written as CSV and as a workbook sheet with the totals per day.
"""
from __future__ import annotations

import csv
import json
import logging
import shutil
import tempfile
from collections import Counter
from dataclasses import astuple, dataclass, fields
from datetime import date, datetime, timezone
from pathlib import Path

from recon import ratecard, warehouse
from recon.audit import get_run
from recon.config import Config
from recon.errors import ReconError
from recon.matching import run_cascade
from recon.money import format_amount
from recon.reports.safe import excel_text
from schemas import registry

log = logging.getLogger(__name__)

# A link's source and currency are its statement line's (a link always has a line or a payout).
LINKS = """SELECT m.kind, coalesce(m.ledger_entry_id, ''), coalesce(m.line_id, ''), coalesce(m.payout_id, ''),
                  m.rule, m.difference_minor, coalesce(s.source, ''), coalesce(s.currency, '')
           FROM matches m LEFT JOIN statement_lines s ON s.line_id = m.line_id
           WHERE m.run_id = ?"""
# A break's currency and amounts, to show the change in major units.
BREAKS = """SELECT break_id, category, source, coalesce(currency, ''), coalesce(reference, ''),
                   coalesce(ledger_entry_id, ''), coalesce(line_id, ''), ledger_amount_minor,
                   statement_amount_minor, difference_minor
            FROM breaks WHERE run_id = ? AND status = 'open'"""


@dataclass(frozen=True)
class Change:
    """One link or break that the candidate would make appear, vanish or change."""

    business_date: date
    item: str  # link | break
    change: str  # appears | vanishes | changes
    before: str  # the recorded run's rule (link) or category (break); '' when it appears
    after: str  # the replay's; '' when it vanishes
    source: str
    reference: str
    ledger_entry_id: str
    line_id: str
    payout_id: str
    currency: str
    ledger_amount: str  # major units, exact ('' where the side is absent)
    statement_amount: str
    difference: str


@dataclass(frozen=True)
class WhatIfResult:
    days: tuple[date, ...]
    changes: tuple[Change, ...]
    csv_path: Path
    xlsx_path: Path

    def totals(self) -> Counter:
        return Counter((c.item, c.change) for c in self.changes)


def recorded_runs(con, start: date, end: date) -> list[dict]:
    """The latest finished run (not a reproduction) of each business date in [start, end]."""
    ids = warehouse.rows(con, """
        SELECT arg_max(run_id, started_at) FROM runs
        WHERE business_date BETWEEN ? AND ? AND status IN ('reconciled', 'breaks') AND rerun_of IS NULL
        GROUP BY business_date ORDER BY business_date""", [start, end])
    if not ids:
        raise ReconError(f"no finished run between {start} and {end} to replay.",
                         hint="`recon runs list` shows the days that ran; replay a range that has runs.")
    return [get_run(con, run_id) for (run_id,) in ids]


def _input_shas(run: dict) -> list[str]:
    return [f["sha256"] for f in run["input_files"]
            if f.get("source") != "ledger" and f.get("status") in ("loaded", "corrected") and f.get("sha256")]


def _check_sources(base: Config, candidate: Config) -> None:
    missing = sorted({s.name for s in base.sources} - {s.name for s in candidate.sources})
    if missing:
        raise ReconError(f"the candidate configuration {candidate.path} has no source {', '.join(missing)}, "
                         "which the recorded runs read.",
                         hint="A what-if changes rules and settings of the same sources: copy the "
                              "configuration and change only what you want to review.")


def _replay_day(con, candidate: Config, run: dict, prev: str | None) -> str:
    replay_id = f"whatif-{run['business_date']:%Y%m%d}"
    sources = json.loads(run.get("sources") or "[]") or [s.name for s in candidate.sources]
    con.execute("INSERT INTO runs (run_id, business_date, started_at, status, code_version, config_sha256, "
                "sources, language) VALUES (?, ?, ?, 'running', 'whatif', ?, ?, 'en')",
                [replay_id, run["business_date"], datetime.now(timezone.utc), candidate.sha256,
                 json.dumps(sources)])
    run_cascade(con, candidate, run_id=replay_id, business_date=run["business_date"], sources=sources,
                watermark=run["ledger_watermark"], inputs=_input_shas(run), prev_run=prev,
                annotation_watermark=run["annotation_watermark"])
    con.execute("UPDATE runs SET status = 'breaks' WHERE run_id = ?", [replay_id])
    return replay_id


def _amount(minor, currency: str) -> str:
    return "" if minor is None or not currency else format_amount(int(minor), currency)


def _changed(before: dict, after: dict):
    """(key, before, after, change) for every key one side lacks or whose rule/category (the first
    value) differs."""
    for key in sorted(before.keys() | after.keys()):
        b, a = before.get(key), after.get(key)
        if b is None or a is None or b[0] != a[0]:
            yield key, b, a, "appears" if b is None else "vanishes" if a is None else "changes"


def _diff_links(con, day: date, before_id: str, after_id: str) -> list[Change]:
    def links(run_id):
        return {r[:4]: r[4:] for r in warehouse.rows(con, LINKS, [run_id])}
    out = []
    for (_, entry, line, payout), b, a, change in _changed(links(before_id), links(after_id)):
        _, diff, source, currency = a or b
        out.append(Change(day, "link", change, b[0] if b else "", a[0] if a else "", source, "",
                          entry, line, payout, currency, "", "", _amount(diff, currency)))
    return out


def _diff_breaks(con, day: date, before_id: str, after_id: str) -> list[Change]:
    def breaks(run_id):
        return {r[0]: r[1:] for r in warehouse.rows(con, BREAKS, [run_id])}
    out = []
    for _, b, a, change in _changed(breaks(before_id), breaks(after_id)):
        _, source, currency, reference, entry, line, led, st, diff = a or b
        out.append(Change(day, "break", change, b[0] if b else "", a[0] if a else "", source, reference,
                          entry, line, "", currency, _amount(led, currency), _amount(st, currency),
                          _amount(diff, currency)))
    return out


def whatif(base: Config, candidate: Config, start: date, end: date, out_dir: Path,
           keep_scratch: bool = False) -> WhatIfResult:
    """Replay [start, end] with ``candidate`` on a scratch copy of ``base``'s warehouse and write
    the changes to ``out_dir``. The scratch copy is removed unless ``keep_scratch``."""
    if end < start:
        raise ReconError(f"--to {end} is before --from {start}.", hint="Give the range oldest day first.")
    _check_sources(base, candidate)
    if not Path(base.warehouse).exists():
        raise ReconError(f"no warehouse at {base.warehouse}: nothing has run to replay.",
                         hint="Point --base-config (or RECON_HOME) at the warehouse the runs wrote.")
    scratch = Path(tempfile.mkdtemp(prefix=f"recon-whatif-{start:%Y%m%d}-{end:%Y%m%d}-"))
    log.info("What-if scratch copy of %s: %s", base.warehouse, scratch)
    try:
        copy = scratch / "warehouse.duckdb"
        shutil.copy2(base.warehouse, copy)
        con = warehouse.connect(copy)
        try:
            warehouse.load_rate_cards(con, {s.name: ratecard.load(s.rate_card)
                                            for s in candidate.sources if s.rate_card},
                                      {s.name: registry.card_type_field(s.format) for s in candidate.sources})
            runs = recorded_runs(con, start, end)
            changes: list[Change] = []
            prev = runs[0]["carried_from"]
            for i, run in enumerate(runs, 1):
                log.info("What-if day %d of %d: %s (recorded run %s)", i, len(runs), run["business_date"],
                         run["run_id"])
                prev = _replay_day(con, candidate, run, prev)
                day_changes = (_diff_links(con, run["business_date"], run["run_id"], prev)
                               + _diff_breaks(con, run["business_date"], run["run_id"], prev))
                log.info("What-if %s: %d links and breaks would change", run["business_date"], len(day_changes))
                changes.extend(day_changes)
        finally:
            con.close()
    finally:
        if keep_scratch:
            log.info("What-if scratch copy kept: %s", scratch)
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"whatif_{start:%Y%m%d}_{end:%Y%m%d}"
    result = WhatIfResult(tuple(r["business_date"] for r in runs), tuple(changes),
                          out_dir / f"{stem}.csv", out_dir / f"{stem}.xlsx")
    _write_csv(result)
    _write_xlsx(result)
    return result


HEADER = [f.name for f in fields(Change)]


def _write_csv(result: WhatIfResult) -> None:
    with result.csv_path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        for c in result.changes:
            w.writerow([excel_text(v, mask=False) if isinstance(v, str) else v for v in astuple(c)])


def _write_xlsx(result: WhatIfResult) -> None:
    from openpyxl import Workbook
    wb = Workbook(write_only=True)
    totals = wb.create_sheet("Totals")
    totals.append(["business_date", "item", "appears", "vanishes", "changes"])
    for day in result.days:
        for item in ("link", "break"):
            n = Counter(c.change for c in result.changes if c.business_date == day and c.item == item)
            totals.append([day, item, n["appears"], n["vanishes"], n["changes"]])
    sheet = wb.create_sheet("Changes")
    sheet.freeze_panes = "A2"
    sheet.append(HEADER)
    for c in result.changes:
        sheet.append([excel_text(v, mask=False) if isinstance(v, str) else v for v in astuple(c)])
    wb.save(result.xlsx_path)
