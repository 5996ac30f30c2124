"""The check value of a Breaks row: what lets the sheet stay unprotected (sortable, filterable).

Each row carries, in a hidden column, an HMAC-SHA256 of the run, the break's identity and amounts
and the annotation version the row was written with, keyed by a secret kept in the warehouse
(table ``workbook_keys``, made on first use). ``recon annotations import`` compares the row's
cells with the warehouse and recomputes the check from the warehouse's break and the row's
version: a row whose version was raised by hand (to pass over a newer annotation) or whose
check cell was copied from another row is refused, naming the cell. The key never leaves the
warehouse; the workbook holds only the MACs.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timezone

from recon.reports.model import Break

CHECK_CHARS = 32  # 128 bits of the MAC, as hex


def warehouse_key(con) -> str:
    """The warehouse's key, created on first use (one row in ``workbook_keys``)."""
    row = con.execute("SELECT secret FROM workbook_keys ORDER BY created_at LIMIT 1").fetchone()
    if row is not None:
        return row[0]
    con.execute("INSERT INTO workbook_keys VALUES (?, ?)",
                [secrets.token_hex(32), datetime.now(timezone.utc)])
    return con.execute("SELECT secret FROM workbook_keys ORDER BY created_at LIMIT 1").fetchone()[0]


def row_check(key: str, run_id: str, b: Break, version: int) -> str:
    """The row's check value: hex HMAC-SHA256 over the fields that identify the break and its
    amounts, and the annotation version (``None`` fields as empty)."""
    fields = (run_id, b.break_id, b.category, b.source, b.currency, b.ledger_amount_minor,
              b.statement_amount_minor, b.difference_minor, b.ledger_entry_id, b.line_id,
              version)
    msg = "\x1f".join("" if f is None else str(f) for f in fields).encode("utf-8")
    return hmac.digest(key.encode("utf-8"), msg, hashlib.sha256).hex()[:CHECK_CHARS]


def check_ok(key: str, run_id: str, b: Break, version: int, found: object) -> bool:
    return isinstance(found, str) and hmac.compare_digest(found, row_check(key, run_id, b, version))
