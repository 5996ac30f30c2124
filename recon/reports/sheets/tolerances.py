"""The Tolerances sheet: every link a rule made within a tolerance, with its difference.

Matching is exact by default; a source that allows an amount tolerance (or an FX residue) gets
links whose amounts differ. Such a link is matched, not a break, but its difference is never
silent: one row per pair or aggregate group, both references, both amounts in major units and
the difference (statement − ledger), and the Summary counts them per currency.
"""
from __future__ import annotations

from typing import Any

from recon.reports.i18n import value
from recon.reports.model import RunSummary
from recon.reports.sheets.cells import Cells, Column, write_table

TOLERANCE_COLUMNS: tuple[Column, ...] = (
    ("rule", "id"), ("source", "id"), ("currency", "id"), ("ledger reference", "id"),
    ("statement reference", "id"), ("ledger amount", "amount"), ("statement amount", "amount"),
    ("difference", "amount"), ("items", "int"), ("ledger entry", "id"), ("statement line", "id"),
)


def write_tolerances(ws: Any, cells: Cells, s: RunSummary, language: str) -> int:
    rows = (([value(t.rule, language), t.source, t.currency, t.ledger_reference,
              t.statement_reference, t.ledger_amount_minor, t.statement_amount_minor,
              t.difference_minor, t.items, t.ledger_entry_id, t.line_id], t.currency)
            for t in s.tolerances)
    return write_table(ws, cells, TOLERANCE_COLUMNS, rows, language=language)
