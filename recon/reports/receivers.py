"""Split-settlement (分账) positions per receiver: what the day's profit-sharing bills allocated to
each receiver and took back (回退), its net, and what is still open after the run on either side
(bill lines without a ledger entry, ledger allocations without a bill line).

The per-order check (allocated − returned + unfrozen = settled) is a break, not a position:
sql/check_allocations.sql. The sheet is the workbook's Receivers (分账接收方).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sql

RULE = "allocation_receiver"


@dataclass(frozen=True)
class ReceiverPosition:
    """One receiver (分账接收方账号) and currency; money out to the receiver is positive."""
    receiver: str
    currency: str
    lines: int  # the day's allocation and return lines
    allocated_minor: int
    returned_minor: int
    open_minor: int  # its bill lines no ledger entry matched (open breaks, carried ones included)
    ledger_open_minor: int  # its ledger allocations no bill line matched

    @property
    def net_minor(self) -> int:
        return self.allocated_minor - self.returned_minor


COLUMNS = ("receiver", "currency", "lines", "allocated", "returned", "net", "open (bill)",
           "open (ledger)")


def bill_sources(cfg) -> list[str]:
    """The sources cleared per receiver: those whose cascade includes allocation_receiver."""
    return [s.name for s in cfg.sources if RULE in s.matching.rules and s.kind == "psp"]


def receiver_positions(con, run_id: str, business_date: date, sources: list[str],
                       inputs: list[str]) -> tuple[ReceiverPosition, ...]:
    if not sources:
        return ()
    cur = con.execute(sql.load("report_receivers"), {"run_id": run_id, "business_date": business_date,
                                                     "inputs": inputs, "sources": sources})
    return tuple(ReceiverPosition(*row) for row in cur.fetchall())
