"""Net settlement positions per merchant / sub-merchant and currency (分账, 代收代付).

owed = payments − refunds − chargebacks ± other − fees over the day's PSP lines (duplicates
excluded); in payouts = Σ net of those lines already assigned to a payout; paid = Σ net of the
lines whose payout reached the bank, plus that payout's difference (bank credit − settled net)
when the payout settles a single position. A payout shared by several positions keeps its
difference on a separate row, sub-merchant ``(payout difference)``: nobody's share is guessed.
The day's duplicate lines are owed by nobody (the break workbook lists them), but a payout that
carries them paid for them: what it paid is on a row of its own, sub-merchant ``(duplicate
lines)``, so that the positions' paid adds up to the bank credits (the journal holds it in suspense).
"""
from __future__ import annotations

import csv
import logging
from datetime import date
from pathlib import Path

import sql
from recon.money import to_decimal
from recon.reports.model import PayoutLine, Position, RunSummary
from recon.reports.safe import excel_text

log = logging.getLogger(__name__)
UNALLOCATED = "(payout difference)"
DUPLICATES = "(duplicate lines)"
POSITION_CSV_COLUMNS = ("source", "merchant", "sub_merchant", "currency", "lines", "payments",
                        "refunds", "chargebacks", "other", "fees", "owed", "in_payouts", "paid",
                        "outstanding")


def outstanding(p: Position) -> int:
    return p.outstanding_minor


def positions(con, run_id: str, business_date: date, psp_sources: list[str],
              payouts: tuple[PayoutLine, ...], inputs: list[str]) -> tuple[Position, ...]:
    """``inputs``: the sha256 of the files the run read (the day's lines are theirs alone)."""
    cur = con.execute(sql.load("report_positions"),
                      {"run_id": run_id, "business_date": business_date, "sources": psp_sources,
                       "inputs": inputs})
    names = [d[0] for d in cur.description]
    parts = [dict(zip(names, r)) for r in cur.fetchall()]
    by_payout = {(p.source, p.payout_id): p for p in payouts}
    members: dict[tuple[str, str], set[tuple]] = {}
    for r in parts:
        if r["payout_id"] is not None and not r["duplicate"]:
            members.setdefault((r["source"], r["payout_id"]), set()).add(
                (r["source"], r["merchant"], r["sub_merchant"], r["currency"]))
    acc: dict[tuple, list[int]] = {}
    for r in parts:
        key = (r["source"], r["merchant"], DUPLICATES if r["duplicate"] else r["sub_merchant"], r["currency"])
        tot = acc.setdefault(key, [0] * 10)
        tot[0] += r["lines"]
        if not r["duplicate"]:
            for i, k in ((1, "payments_minor"), (2, "refunds_minor"), (3, "chargebacks_minor"),
                         (4, "other_minor"), (5, "fees_minor"), (8, "fee_returns_minor"),
                         (9, "other_fees_minor")):
                tot[i] += r[k]
        if r["payout_id"] is None:
            continue
        tot[6] += r["net_minor"]
        payout = by_payout.get((r["source"], r["payout_id"]))
        if payout is not None and payout.bank_credit_minor is not None:
            tot[7] += r["net_minor"]
    for (source, payout_id), keys in sorted(members.items()):
        p = by_payout.get((source, payout_id))
        if p is None or p.bank_credit_minor is None:
            continue
        diff = p.bank_credit_minor - p.settled_net_minor
        if not diff:
            continue
        if len(keys) == 1:
            acc[next(iter(keys))][7] += diff
        else:
            merchants = {k[1] for k in keys}
            merchant = merchants.pop() if len(merchants) == 1 else ""
            row = acc.setdefault((source, merchant, UNALLOCATED, p.currency), [0] * 10)
            row[7] += diff
    return tuple(Position(s, m, sub, ccy, *tot) for (s, m, sub, ccy), tot in sorted(acc.items()))


def write_positions_csv(summary: RunSummary, path: Path) -> Path:
    path = Path(path)
    tmp = path.with_name(path.name + ".partial")
    with tmp.open("w", encoding="utf-8-sig", newline="") as fh:
        out = csv.writer(fh, lineterminator="\r\n")
        out.writerow(POSITION_CSV_COLUMNS)
        for p in summary.positions:
            ccy = p.currency
            out.writerow((excel_text(p.source, mask=False), excel_text(p.merchant, mask=False),
                          excel_text(p.sub_merchant, mask=False), ccy, p.lines,
                          *(to_decimal(v, ccy) for v in (
                              p.payments_minor, p.refunds_minor, p.chargebacks_minor,
                              p.other_minor, p.fees_minor, p.owed_minor, p.in_payouts_minor,
                              p.paid_minor, p.outstanding_minor))))
    tmp.replace(path)
    log.info("Positions: %d rows → %s", len(summary.positions), path)
    return path
