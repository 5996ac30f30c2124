"""Late sources: their ledger items wait as pending, not breaks, until the file or the deadline.

When a source's statement for a business date has not arrived, its ledger entries of that date
would each become a missing_in_statement break: a thousand rows for one late file. Instead they
are kept as ``breaks`` rows with status ``pending`` (sql/pending_late.sql): counted, aged (their
first_seen carries from day to day), listed once per source and currency in the summary, the
workbook and the alert, and left out of the breaks. They match as normal when the file is
loaded; entries older than the source's deadline (``[sources.matching] late_pending_days``
business days; default 2, 0 turns this off) are breaks again.
"""
from __future__ import annotations

from datetime import date, timedelta

from recon.reports.model import PendingSource


def pending_after(business_date: date, days: int) -> date | None:
    """The last business date (Mon–Fri) whose entries of a late source are breaks on
    ``business_date``; later ones wait as pending. None: never pending (``days`` 0)."""
    if days <= 0:
        return None
    d = business_date
    while days:
        d -= timedelta(days=1)
        days -= d.weekday() < 5
    return d


def work_pending(con, cfg, sources: list[str], business_date: date) -> None:
    """work_pending: per source of the run, the last business date whose late items are breaks
    (NULL: never pending) and its deadline in business days; read by sql/pending_late.sql."""
    con.execute("CREATE OR REPLACE TEMP TABLE work_pending (source VARCHAR, pending_after DATE, "
                "pending_days INTEGER)")
    rows = [[s.name, pending_after(business_date, s.matching.late_pending_days), s.matching.late_pending_days]
            for s in cfg.sources if s.name in sources]
    if rows:
        con.executemany("INSERT INTO work_pending VALUES (?, ?, ?)", rows)


def load_pending(con, run_id: str, business_date: date) -> tuple[PendingSource, ...]:
    rows = con.execute(
        "SELECT source, currency, count(*), sum(abs(ledger_amount_minor))::BIGINT, "
        "min(coalesce(first_seen, business_date)) FROM breaks WHERE run_id = ? AND status = 'pending' "
        "GROUP BY source, currency ORDER BY source, currency", [run_id]).fetchall()
    return tuple(PendingSource(s, c, n, a or 0, o, (business_date - o).days) for s, c, n, a, o in rows)
