"""One set of numbers: the fee report, the journal, the positions and the payouts of a run tie to
each other to the minor unit, proved on every run by ``sql/check_tie_out.sql`` (zero rows pass).

The check reads the report model itself (the figures every writer prints), put into in-memory
tables; its offending rows are shown on the Summary sheet, written to the summary JSON, logged,
and make the run's outcome warn. A currency never adds to another: every figure is per source
and currency.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import duckdb

import sql
from recon.money import to_decimal
from recon.reports.fees import fee_rows
from recon.reports.journal import Accounts, JournalLine, journal_lines
from recon.reports.model import RunSummary

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TieOut:
    """One check whose two sides differ (amounts in the currency's minor units)."""
    source: str  # '' for a check over the whole currency (the journal balances)
    currency: str
    check: str
    left: str
    left_minor: int
    right: str
    right_minor: int
    difference_minor: int

    def text(self) -> str:
        def amount(v: int) -> str:
            return f"{to_decimal(v, self.currency)} {self.currency}"
        where = f"{self.source} {self.currency}".strip()
        return (f"{where}: {self.check}: {self.left} {amount(self.left_minor)} vs {self.right} "
                f"{amount(self.right_minor)} (difference {amount(self.difference_minor)})")


def check(summary: RunSummary, accounts: Accounts, lines: list[JournalLine] | None = None
          ) -> tuple[TieOut, ...]:
    """The offending differences between the run's reports (empty: they tie)."""
    lines = journal_lines(summary, accounts) if lines is None else lines
    con = duckdb.connect(":memory:")
    try:
        tables = {
            "tie_fees": ("source VARCHAR, currency VARCHAR, gross_minor BIGINT, fee_minor BIGINT",
                         [(r.source, r.currency, r.gross_minor, r.actual_fee_minor)
                          for r in fee_rows(summary.fees)]),
            "tie_positions": ("source VARCHAR, currency VARCHAR, payments_minor BIGINT, refunds_minor "
                              "BIGINT, fees_minor BIGINT, other_fees_minor BIGINT, paid_minor BIGINT",
                              [(p.source, p.currency, p.payments_minor, p.refunds_minor, p.fees_minor,
                                p.other_fees_minor, p.paid_minor) for p in summary.positions]),
            "tie_journal": ("source VARCHAR, currency VARCHAR, key VARCHAR, debit_minor BIGINT, "
                            "credit_minor BIGINT",
                            [(x.source, x.currency, x.key, x.debit_minor, x.credit_minor)
                             for x in lines]),
            "tie_payouts": ("source VARCHAR, currency VARCHAR, of_day BOOLEAN, bank_credit_minor BIGINT",
                            [(p.source, p.currency, p.first_seen == summary.business_date,
                              p.bank_credit_minor) for p in summary.payouts
                             if p.currency and p.bank_credit_minor is not None]),
        }
        for name, (columns, rows) in tables.items():
            con.execute(f"CREATE TABLE {name} ({columns})")
            if rows:
                con.executemany(f"INSERT INTO {name} VALUES ({', '.join('?' * len(rows[0]))})", rows)
        found = tuple(TieOut(*r) for r in con.execute(sql.load("check_tie_out"),
                                                      {"sales": accounts.sales}).fetchall())
    finally:
        con.close()
    if found:
        for t in found:
            log.warning("Tie-out differs: %s", t.text())
    else:
        log.info("Tie-out: fee report, journal, positions and payouts agree (%d journal lines)", len(lines))
    return found
