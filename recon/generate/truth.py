"""The answer key: one row per injected discrepancy (``ground_truth_YYYYMMDD.csv``)."""
from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import NamedTuple

import polars as pl

from recon.generate.fmt import money_text
from recon.generate.ids import order_ref
from recon.generate.spec import Psp

COLUMNS = ("category", "source", "key", "ledger_amount", "statement_amount", "note")


class TruthRow(NamedTuple):
    category: str
    source: str
    key: str
    ledger_minor: int | None
    statement_minor: int | None
    note: str


def _hms(sec: int) -> str:
    return f"{sec // 3600:02d}:{sec % 3600 // 60:02d}:{sec % 60:02d}"


def transaction_breaks(day: date, psp: Psp, pay, plan, prev_day: date, prev, prev_plan,
                       fee, charged) -> list[TruthRow]:
    """Rows for the breaks injected on ``psp``'s lines of ``day`` (all keyed by order id)."""
    items, name, rows = plan.items, psp.name, []
    amount = pay.amount

    def add(category, d, i, ledger, statement, note):
        rows.append(TruthRow(category, name, order_ref(psp, d, int(i)),
                             None if ledger is None else int(ledger),
                             None if statement is None else int(statement), note))

    for i in items["missing_in_ledger"]:
        add("missing_in_ledger", day, i, None, amount[i], f"{name} payment with no ledger entry")
    for i in items["missing_in_statement"]:
        add("missing_in_statement", day, i, amount[i], None, f"ledger payment with no {name} line")
    for i, delta in zip(items["amount_mismatch"], plan.mismatch_delta):
        add("amount_mismatch", day, i, amount[i] + delta, amount[i],
            f"ledger amount differs from {name} by {money_text(int(delta))}")
    for i in items["duplicate"]:
        add("duplicate", day, i, amount[i], amount[i],
            f"{name} line appears twice; both copies are in the file totals and the payout")
    nxt = day + timedelta(days=1)
    for i, ls, ps in zip(items["timing"], plan.timing_ledger_sec, plan.timing_psp_sec):
        add("timing", day, i, amount[i], amount[i],
            f"ledger {day} {_hms(int(ls))}; {name} line {nxt} {_hms(int(ps))} is in the {nxt:%Y%m%d} file")
    for i, ls, ps in zip(prev_plan.items["timing"], prev_plan.timing_ledger_sec, prev_plan.timing_psp_sec):
        add("timing", prev_day, i, prev.amount[i], prev.amount[i],
            f"ledger {prev_day} {_hms(int(ls))} (previous day's ledger); {name} line {day} "
            f"{_hms(int(ps))} is in this day's file")
    for i in items["fee_variance"]:
        add("fee_variance", day, i, fee[i], charged[i],
            f"fee {money_text(int(charged[i]))} charged; rate card {money_text(int(fee[i]))} "
            f"(amounts are fees)")
    return rows


def write(path: Path, rows: list[TruthRow]) -> int:
    def text(v):
        return None if v is None else money_text(v)

    frame = pl.DataFrame(
        [(r.category, r.source, r.key, text(r.ledger_minor), text(r.statement_minor), r.note)
         for r in rows], schema={c: pl.String for c in COLUMNS}, orient="row")
    frame = frame.sort(["category", "source", "key"], maintain_order=True)
    frame.write_csv(path, line_terminator="\n", null_value="")
    return frame.height
