"""The ``real`` scenario: a world as a real company's books and its counterparties deliver it.

On top of the standard world's payments, refunds and injected breaks (missing on either side,
duplicates, amount and fee variances), per business day D:

- ``wechatpay/wechatpay_trade_D.csv``: the WeChat Pay ALL trade bill as published (wechat.py);
- ``wechatpay_profitsharing/wechatpay_profitsharing_D.csv``: the 分账 bill (real_psp.py);
- ``stripe/stripe_payout_recon_D.csv``: Stripe's itemized payout reconciliation report;
- ``bank/camt053_D.xml``: camt.053.001.08 of day D itself (real_bank.py): the settlements of
  D-1 (payout D+1) and the bank-only movements of D, no statement lag;
- ``ledger/buchungen_D.csv``: the company's journal in its own layout (real_ledger.py) with
  payout rows, failed/pending attempts, refunds without the PSP's refund id, 分账 allocations
  and the bank-only movements;
- ``ground_truth_D.csv``: the breaks a perfect reconciler raises new on D (truth.py);
- ``real_items_D.csv``: every item of the scenario's realities with its cause, so that the eval
  can say why an unexpected break was raised (not a file any run reads).

Cross-midnight items are booked up to 15 minutes either side of the cut-off (timing, cleared the
next day); the Stripe payout of the world's first day never reaches the bank (unsettled), the
next day's is credited short (payout_mismatch, on the day of the credit).
"""
from __future__ import annotations

import csv
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from recon import ratecard
from recon.generate import ids, real_bank, real_ledger, real_psp, wechat
from recon.generate.day import GeneratedDay
from recon.generate.fmt import money_text
from recon.generate.real_ledger import Booking
from recon.generate.spec import (DAY_END_S, PSPS, RATE_CARDS, STRIPE, USER_POOL, WECHAT, Psp, rng)
from recon.generate.truth import TruthRow, in_world
from recon.generate import truth as truth_file
from recon.generate.world import World

REAL_TIMING, ATTEMPTS, OPENING, SHORT = 15, 14, 16, 17  # RNG streams of this scenario
CROSS_MIDNIGHT_S = 15 * 60    # timing items: either side up to 15 minutes from midnight
PAYOUT_LAG_DAYS = 1           # both PSPs pay a day's net the next day
PAYOUT_WINDOW_DAYS = 2        # a payout credit may come up to this many days after its expected day
PAYOUT_SEC = 75_600           # the company books its expected settlement at 21:00
SHARING_SOURCE = "wechatpay_profitsharing"
ITEM_COLUMNS = ("source", "key", "cause")


class RealWorld(World):
    """The standard world, its timing items spread up to 15 minutes around midnight."""

    def __init__(self, seed: int, scale: int):
        super().__init__(seed, scale, "standard")
        self._spread: set = set()

    def breaks(self, day: date, psp: Psp):
        key = (day, psp.name)
        plan = super().breaks(day, psp)
        if key in self._spread:
            return plan
        g = rng(self.seed, day, psp, REAL_TIMING)
        k = len(plan.items["timing"])
        plan = replace(plan, timing_ledger_sec=86_400 - g.integers(1, CROSS_MIDNIGHT_S + 1, k),
                       timing_psp_sec=g.integers(0, CROSS_MIDNIGHT_S, k))
        self._breaks[key] = plan
        self._spread.add(key)
        return plan


def paths(d: date, out: Path) -> dict[str, Path]:
    return {"ledger": out / "ledger" / f"buchungen_{d:%Y%m%d}.csv",
            "wechatpay": out / "wechatpay" / f"wechatpay_trade_{d:%Y%m%d}.csv",
            SHARING_SOURCE: out / SHARING_SOURCE / f"wechatpay_profitsharing_{d:%Y%m%d}.csv",
            "stripe": out / "stripe" / f"stripe_payout_recon_{d:%Y%m%d}.csv",
            "bank": out / "bank" / f"camt053_{d:%Y%m%d}.xml",
            "truth": out / f"ground_truth_{d:%Y%m%d}.csv",
            "items": out / f"real_items_{d:%Y%m%d}.csv"}


def settlement_ref(psp: Psp, d: date) -> str:
    """The company's own voucher number of the settlement it expects from ``psp`` for day ``d``."""
    return f"ABR-{psp.letter}-{d:%Y%m%d}"


def generate_real_days(start: date, days: int, out_dir: Path, *, seed: int = 7, scale: int = 200
                       ) -> list[GeneratedDay]:
    """Write ``days`` consecutive business days of the real world from ``start`` into out_dir."""
    if days < 1 or scale < 50 or seed < 0:
        raise ValueError(f"the real scenario needs days >= 1, scale >= 50, seed >= 0; found days {days}, "
                         f"scale {scale}, seed {seed}")
    world, out = RealWorld(seed, scale), Path(out_dir)
    cards = {p.name: ratecard.load(RATE_CARDS / f"{p.name}.toml") for p in PSPS}
    customers = {p.name: ids.customers(seed, p, USER_POOL) for p in PSPS}
    g = rng(seed, start, None, OPENING)
    balances = {"CNY": int(g.integers(10_000_000, 500_000_000)), "USD": int(g.integers(10_000_000, 500_000_000))}
    last = start + timedelta(days=days - 1)
    result = []
    for i in range(days):
        d = start + timedelta(days=i)
        result.append(_day(world, d, out, cards, customers, balances, start, last))
    return result


def _net(world: RealWorld, d: date, psp: Psp, cards) -> int:
    return world.psp_day(d, psp, cards[psp.name]).net_minor


def _day(world: RealWorld, d: date, out: Path, cards, customers, balances: dict[str, int],
         first: date, last: date) -> GeneratedDay:
    seed, p = world.seed, paths(d, out)
    for path in p.values():
        path.parent.mkdir(parents=True, exist_ok=True)
    counts, rows, items, bookings = {}, [], [], []
    for psp in PSPS:
        psp_day = world.psp_day(d, psp, cards[psp.name])
        if psp is WECHAT:
            counts[psp.name] = wechat.write(p[psp.name], d, psp_day, cards[psp.name], customers[psp.name])
        else:
            counts[psp.name] = real_psp.stripe_write(p[psp.name], d, psp_day, seed,
                                                     lambda od, ix: ids.order_ref(STRIPE, od, ix))
        rows += psp_day.truth
        bookings += _psp_bookings(world, d, psp, psp_day, customers[psp.name], items)
        bookings += _attempts(world, d, psp, items)
        pid = real_psp.payout_of(seed, d) if psp is STRIPE else ""
        bookings.append(Booking(PAYOUT_SEC, psp.name, "payout", -psp_day.net_minor, psp.currency,
                                settlement_ref(psp, d), pid, description=f"Erwartete Auszahlung {d:%d.%m.%Y}"))
        items.append((psp.name, settlement_ref(psp, d), f"ledger payout ({'po_ id' if pid else 'no id'})"))
        if pid:
            items += [(psp.name, pid, "Stripe payout (po_ only in bank free text)"),
                      (psp.name, pid, "ledger payout (po_ id)")]
    share = real_psp.sharing(world, d, customers[WECHAT.name])
    counts[SHARING_SOURCE] = real_psp.sharing_write(p[SHARING_SOURCE], d, share)
    for k in range(len(share.sec)):
        order, _, own = real_psp.sharing_refs(d, share, k)
        back = bool(share.back[k])
        amount = int(share.amount[k])
        bookings.append(Booking(int(share.sec[k]), "wechatpay", "allocation_return" if back else "allocation",
                                amount if back else -amount, "CNY", own, order, receiver=share.receiver[k],
                                description="分账回退" if back else "分账"))
        cause = "分账 return (回退)" if back else "分账 allocation"
        items += [(SHARING_SOURCE, own, cause), ("wechatpay", own, cause)]
    lines, bank_rows = _bank_lines(world, d, cards, first, last)
    for line in lines:
        items.append(("bank", line.key, _bank_cause(line)))
        if line.ledger_type is not None:
            bookings.append(Booking(line.sec, "bank", line.ledger_type, line.amount_minor, line.currency,
                                    line.ledger_ref or "", counterparty=line.party or "",
                                    description=line.ustrd or line.addtl or ""))
            items.append(("bank", line.ledger_ref or "", f"bank-only {line.ledger_type} (ledger side)"))
    counts["bank"] = real_bank.write(p["bank"], d, lines, balances)
    for line in lines:
        balances[line.currency] += line.amount_minor
    counts["ledger"] = real_ledger.write(p["ledger"], d, bookings)
    truth = in_world(rows + bank_rows, first, last)
    counts["truth"] = truth_file.write(p["truth"], truth)
    counts["items"] = _write_items(p["items"], items)
    return GeneratedDay(business_date=d, paths=p, counts=counts)


def _psp_bookings(world: RealWorld, d: date, psp: Psp, psp_day, customers, items: list) -> list[Booking]:
    """The ledger's payments and refunds through ``psp`` on ``d``: a refund names only its order."""
    led, out = psp_day.ledger, []
    for k in range(len(led["sec"])):
        odate, idx = date.fromordinal(int(led["order_day"][k])), int(led["order_idx"][k])
        order = ids.order_ref(psp, odate, idx)
        refund = bool(led["is_refund"][k])
        psp_ref = ""
        if not refund and led["has_psp_ref"][k]:
            psp_ref = (real_psp.wechat_order_id(odate, idx) if psp is WECHAT
                       else real_psp.charge_id(world.seed, odate, idx))
        out.append(Booking(int(led["sec"][k]), psp.name, "refund" if refund else "payment", int(led["amount"][k]),
                           psp.currency, order, psp_ref, order if refund else "",
                           counterparty=customers[int(led["user"][k])],
                           description=psp.products[int(led["product"][k])]))
        if refund:
            ridx = int(led["refund_idx"][k])
            own = f"RFD{d:%Y%m%d}{psp.letter}{ridx:08d}"  # what WeChat echoes as 商户退款单号
            items += [(psp.name, order, "refund without the PSP's refund id"),
                      (psp.name, own, "refund without the PSP's refund id (PSP side)")]
            if psp is STRIPE:
                items.append((psp.name, real_psp.stripe_id("re_", world.seed, d, "refund", ridx),
                              "refund without the PSP's refund id (PSP side)"))
    for day in (d - timedelta(days=1), d):  # yesterday's spill-over is in today's PSP file
        for idx in world.breaks(day, psp).items["timing"]:
            items.append((psp.name, ids.order_ref(psp, day, int(idx)), "cross-midnight (up to 15 min)"))
    return out


def _attempts(world: RealWorld, d: date, psp: Psp, items: list) -> list[Booking]:
    """Failed and pending payment attempts: in the ledger, never in the PSP's bill."""
    g = rng(world.seed, d, psp, ATTEMPTS)
    m = max(2, world.scale // 40)
    status = np.where(g.random(m) < 0.7, "FAILED", "PENDING")
    amount = g.integers(100, 50_000, m)
    sec = g.integers(3_600, DAY_END_S - 3_600, m)
    out = []
    for j in range(m):
        order = ids.order_ref(psp, d, world.scale + j)  # order numbers no payment of the day has
        out.append(Booking(int(sec[j]), psp.name, "payment", int(amount[j]), psp.currency, order,
                           status=str(status[j]), description="Zahlungsversuch"))
        items.append((psp.name, order, f"status {status[j]} attempt"))
    return out


def _bank_lines(world: RealWorld, d: date, cards, first: date, last: date
                ) -> tuple[list[real_bank.BankLine], list[TruthRow]]:
    """Day d's bank lines: yesterday's settlements (Stripe's of the world's first day never comes),
    then the bank-only movements; and the truth rows of the bank side."""
    prev, seed = d - timedelta(days=PAYOUT_LAG_DAYS), world.seed
    lines, rows = [], []
    wx = real_bank.payout_credit(d, 1, "CNY", _net(world, prev, WECHAT, cards), None)
    lines.append(wx)
    n = {"CNY": 1, "USD": 0}
    if prev != first:
        pid, net = real_psp.payout_of(seed, prev), _net(world, prev, STRIPE, cards)
        short = 0
        if prev == first + timedelta(days=1):  # the world's one short payout credit
            short = int(min(rng(seed, d, STRIPE, SHORT).integers(100, 50_001), max(100, abs(net) // 2)))
            rows.append(TruthRow("payout_mismatch", "stripe", pid, net, net - short,
                                 f"bank credited {money_text(net - short)} on {d} for Stripe payout "
                                 f"{money_text(net)} of {prev} ({money_text(short)} short)"))
        lines.append(real_bank.payout_credit(d, 1, "USD", net - short, pid))
        n["USD"] = 1
    lines += real_bank.bank_only(seed, d, n)
    if d == first:  # the credits of the payouts of the day before the world: no counterpart in it
        for line in lines[:len([x for x in lines if x.kind == "payout_credit"])]:
            rows.append(TruthRow("missing_in_ledger", "bank", line.key, None, line.amount_minor,
                                 f"bank credit of a {prev} payout, settled before the world began",
                                 origin=prev))
    due = first + timedelta(days=PAYOUT_LAG_DAYS + PAYOUT_WINDOW_DAYS)
    if d == due:
        pid = real_psp.payout_of(seed, first)
        amount = _net(world, first, STRIPE, cards)
        rows.append(TruthRow("unsettled", "stripe", pid, amount, None,
                             f"Stripe payout {money_text(amount)} of {first}, expected in the bank on "
                             f"{first + timedelta(days=PAYOUT_LAG_DAYS)}, not credited by {d}"))
    return lines, rows


def _bank_cause(line: real_bank.BankLine) -> str:
    if line.kind == "payout_credit":
        return ("bank credit of a WeChat payout (no id, payer 财付通)" if line.currency == "CNY"
                else "bank credit of a Stripe payout (po_ in free text)")
    return f"bank-only {line.kind} (bank side)"


def _write_items(path: Path, items: list[tuple[str, str, str]]) -> int:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(ITEM_COLUMNS)
        w.writerows(items)
    return len(items)
