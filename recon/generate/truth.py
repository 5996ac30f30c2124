"""The answer key (``ground_truth_YYYYMMDD.csv``): the breaks a perfect reconciler raises NEW on the
run of business day D, given everything delivered up to D in a world of consecutive days [S, E].

``clears_on`` is the business day whose run auto-clears the break because its counterpart
arrives (empty when that is after E). A break already open from an earlier day of the world is
not listed again. Rows with an ``origin`` exist only where that day is before the world's first
day S: the counterpart was delivered before the world began (the first day's view of yesterday's
cut-off spill-over, of a late bank credit, ...); inside the world they are not new breaks.
"""
from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import NamedTuple

import polars as pl

from recon.generate.fmt import money_text
from recon.generate.ids import order_ref
from recon.generate.spec import STRIPE, Psp, fx_rate_micro

COLUMNS = ("category", "source", "key", "ledger_amount", "statement_amount", "clears_on", "note")


class TruthRow(NamedTuple):
    category: str
    source: str
    key: str
    ledger_minor: int | None
    statement_minor: int | None
    note: str
    clears_on: date | None = None  # the run that auto-clears it (counterpart arrives)
    origin: date | None = None     # listed only if this day is before the world's first day


def _hms(sec: int) -> str:
    return f"{sec // 3600:02d}:{sec % 3600 // 60:02d}:{sec % 60:02d}"


def transaction_breaks(day: date, psp: Psp, pay, plan, prev_day: date, prev, prev_plan,
                       fee, charged) -> list[TruthRow]:
    """Rows for the breaks injected on ``psp``'s lines of ``day`` (all keyed by order id)."""
    items, name, rows = plan.items, psp.name, []
    amount = pay.amount

    def add(category, d, i, ledger, statement, note, clears_on=None, origin=None):
        rows.append(TruthRow(category, name, order_ref(psp, d, int(i)),
                             None if ledger is None else int(ledger),
                             None if statement is None else int(statement), note, clears_on, origin))

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
            f"ledger {day} {_hms(int(ls))}; {name} line {nxt} {_hms(int(ps))} is in the {nxt:%Y%m%d} file",
            clears_on=nxt)
    for i, ls, ps in zip(prev_plan.items["timing"], prev_plan.timing_ledger_sec, prev_plan.timing_psp_sec):
        add("timing", prev_day, i, prev.amount[i], prev.amount[i],
            f"ledger {prev_day} {_hms(int(ls))} (previous day's ledger); {name} line {day} "
            f"{_hms(int(ps))} is in this day's file", origin=prev_day)
    for i in items["fee_variance"]:
        add("fee_variance", day, i, fee[i], charged[i],
            f"fee {money_text(int(charged[i]))} charged; rate card {money_text(int(fee[i]))} "
            f"(amounts are fees)")
    return rows


def hard_breaks(world, day: date, psp: Psp, card) -> list[TruthRow]:
    """Rows for the hard scenario's injections that are breaks (``world``: a hard World)."""
    name, rows = psp.name, []
    hp, pay = world.hard_plan(day, psp), world.payments(day, psp)
    nxt, after = day + timedelta(days=1), day + timedelta(days=2)

    def add(category, d, i, ledger, statement, note, clears_on=None, origin=None):
        rows.append(TruthRow(category, name, order_ref(psp, d, int(i)),
                             None if ledger is None else int(ledger),
                             None if statement is None else int(statement), note, clears_on, origin))

    for i, ls, ps in zip(hp.items["cutoff"], hp.cut_ledger_sec, hp.cut_psp_sec):
        add("timing", day, i, pay.amount[i], pay.amount[i],
            f"cut-off shift: ledger {day} {_hms(int(ls))}; {name} line {nxt} {_hms(int(ps))} "
            f"is in the {nxt:%Y%m%d} file", clears_on=nxt)
    for i, ps in zip(hp.items["psp_late"], hp.late_psp_sec):
        add("missing_in_statement", day, i, pay.amount[i], None,
            f"ledger payment; its {name} line comes on {after} {_hms(int(ps))} (the {after:%Y%m%d} file)",
            clears_on=after)
    for i, ls in zip(hp.items["ledger_late"], hp.late_ledger_sec):
        add("missing_in_ledger", day, i, None, pay.amount[i],
            f"{name} payment; the ledger books it on {nxt} {_hms(int(ls))} (the {nxt:%Y%m%d} export)",
            clears_on=nxt)
    for i in hp.items["ledger_dup"]:
        add("duplicate", day, i, pay.amount[i], pay.amount[i],
            "the ledger books this payment twice (two entry ids, same reference, amount and type)")
    if psp is STRIPE:
        rate = fx_rate_micro(world.seed, day)
        for i, delta in zip(hp.items["fx_break"], hp.fx_delta):
            eur = int(pay.amount[i])
            add("amount_mismatch", day, i, eur + delta, eur,
                f"FX: ledger EUR {money_text(eur + int(delta))}, customer_facing_amount EUR "
                f"{money_text(eur)} (settled in USD at {rate / 1e6:.6f}); amounts are EUR")
        for i, j in zip(hp.items["ambiguous"], hp.items["decoy"]):
            a = int(pay.amount[i])
            rows.append(TruthRow(
                "ambiguous", name, f"ch_3{day:%Y%m%d}{int(i):014d}", a, a,
                f"charge without order id fits ledger entries {order_ref(psp, day, int(i))} and "
                f"{order_ref(psp, day, int(j))} (same amount, day and customer email)"))
    # Counterparts delivered before the world began: the first days' view of them.
    prev_day, two_back = day - timedelta(days=1), day - timedelta(days=2)
    prev_hp, prev = world.hard_plan(prev_day, psp), world.payments(prev_day, psp)
    for i, ls, ps in zip(prev_hp.items["cutoff"], prev_hp.cut_ledger_sec, prev_hp.cut_psp_sec):
        add("timing", prev_day, i, prev.amount[i], prev.amount[i],
            f"cut-off shift: ledger {prev_day} {_hms(int(ls))} (previous day's ledger); {name} line "
            f"{day} {_hms(int(ps))} is in this day's file", origin=prev_day)
    for i in prev_hp.items["ledger_late"]:
        add("missing_in_statement", prev_day, i, prev.amount[i], None,
            f"ledger entry booked a day late; its {name} line was in the {prev_day:%Y%m%d} file",
            origin=prev_day)
    old_hp, old = world.hard_plan(two_back, psp), world.payments(two_back, psp)
    for i in old_hp.items["psp_late"]:
        add("missing_in_ledger", two_back, i, None, old.amount[i],
            f"{name} line two days late; its ledger entry was in the {two_back:%Y%m%d} export",
            origin=two_back)
    return rows


def in_world(rows: list[TruthRow], first: date, last: date) -> list[TruthRow]:
    """The rows a run of a world [first, last] raises new; clears_on beyond ``last`` left empty."""
    return [r._replace(clears_on=r.clears_on if r.clears_on is not None and r.clears_on <= last else None)
            for r in rows if r.origin is None or r.origin < first]


def write(path: Path, rows: list[TruthRow]) -> int:
    def text(v):
        return None if v is None else money_text(v)

    frame = pl.DataFrame(
        [(r.category, r.source, r.key, text(r.ledger_minor), text(r.statement_minor),
          None if r.clears_on is None else r.clears_on.isoformat(), r.note)
         for r in rows], schema={c: pl.String for c in COLUMNS}, orient="row")
    frame = frame.sort(["category", "source", "key"], maintain_order=True)
    frame.write_csv(path, line_terminator="\n", null_value="")
    return frame.height
