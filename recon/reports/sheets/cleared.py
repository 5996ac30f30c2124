"""The Cleared sheet: every break that left since the run whose open items this run carried, and
why (auto-cleared: matched on a date by a rule; resolved: by whom, when, with what reason; the
ledger corrected: when, by whom, why), then the bank statement gaps of the day (the previous
closing balance is not this opening balance, or the sequence skips)."""
from __future__ import annotations

from typing import Any

from recon.reports.model import RunSummary
from recon.reports.rollforward import cleared
from recon.reports.sheets.cells import Cells, Column, label, write_table
from recon.reports.summary import category_label

CLEARED_COLUMNS: tuple[Column, ...] = (
    ("break id", "id"), ("category", "id"), ("source", "id"), ("currency", "id"),
    ("reference", "id"), ("first seen", "date"), ("left on", "date"), ("how", "id"),
    ("amount", "amount"), ("by", "id"), ("why", "text"),
)
GAP_HEADERS = ("source", "account", "currency", "previous date", "date", "previous closing",
               "opening", "difference", "previous sequence", "sequence")


def write_cleared(ws: Any, cells: Cells, s: RunSummary, language: str) -> int:
    def by(m) -> str | None:
        return {"resolved": m.note_who, "left": m.fix_by}.get(m.movement)

    rows = (([m.break_id, category_label(m.category, language), m.source, m.currency or None,
              m.reference or None, m.first_seen, m.cleared_on or m.business_date,
              label(m.how, language), m.before_minor, by(m), m.why], m.currency or None)
            for m in cleared(s.movements))

    def gaps(_n: int):
        yield []
        yield [cells.styled(label("Statement gaps", language), cells.section)]
        yield [cells.styled(label(h, language), cells.head) for h in GAP_HEADERS]
        for g in s.statement_gaps:
            diff = (None if g.opening_minor is None or g.previous_closing_minor is None
                    else g.opening_minor - g.previous_closing_minor)
            yield [cells.text(g.source, False), cells.text(g.account, True), g.currency,
                   cells.make(g.previous_date, "date", None), cells.make(g.business_date, "date", None),
                   cells.amount(g.previous_closing_minor, g.currency),
                   cells.amount(g.opening_minor, g.currency), cells.amount(diff, g.currency),
                   cells.text(g.previous_sequence, False), cells.text(g.sequence, False)]
        if not s.statement_gaps:
            yield [label("none", language)]

    return write_table(ws, cells, CLEARED_COLUMNS, rows, language=language, after=gaps)
