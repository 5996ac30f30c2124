"""The Receivers sheet (分账接收方): split-settlement positions per receiver (recon/reports/receivers.py)."""
from __future__ import annotations

from typing import Any

from recon.reports.model import RunSummary
from recon.reports.sheets.cells import Cells, Column, write_table

RECEIVER_COLUMNS: tuple[Column, ...] = (
    ("receiver", "id"), ("currency", "id"), ("lines", "int"), ("allocated", "amount"),
    ("returned", "amount"), ("net", "amount"), ("open (bill)", "amount"), ("open (ledger)", "amount"),
)


def write_receivers(ws: Any, cells: Cells, s: RunSummary, language: str) -> int:
    rows = (([p.receiver, p.currency, p.lines, p.allocated_minor, p.returned_minor, p.net_minor,
              p.open_minor, p.ledger_open_minor], p.currency) for p in s.receivers)
    return write_table(ws, cells, RECEIVER_COLUMNS, rows, language=language)
