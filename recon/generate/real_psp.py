"""The ``real`` scenario's PSP files beyond the WeChat ALL bill: Stripe's itemized payout
reconciliation report and WeChat's profit-sharing (分账) bill, with the day's 分账 plan.

Stripe: ``payout_reconciliation.itemized.5`` (Stripe's default columns: ``created`` and the
payout's effective time in the run's timezone, no ``created_utc``) plus the metadata column the
account asks for, ``payment_metadata[order_id]`` (on a refund row: the charge's order id). The
payout itself is not a row of this report; its id is on every row it settles.
WeChat 分账: the bill of ``GET /v3/profitsharing/bills`` as schemas/wechatpay_profitsharing.py
reads it: a backtick before every value, then 总条数/分账总金额/回退总金额.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from recon.generate.fmt import money_text, stamps
from recon.generate.real_ids import profitsharing_id, sharing_request_id, stripe_id
from recon.generate.spec import DAY_END_S, STRIPE, WECHAT, WX_MCHID, rng
from recon.generate.world import PspDay

SHARING = 11                 # RNG stream of the 分账 plan
PLATFORM = "1900000201"      # the platform merchant that takes a commission (商户号, 10 digits)
STRIPE_COLUMNS = ["automatic_payout_id", "automatic_payout_effective_at", "balance_transaction_id",
                  "created", "available_on", "currency", "gross", "fee", "net", "reporting_category",
                  "source_id", "description", "customer_facing_amount", "customer_facing_currency",
                  "payment_metadata[order_id]"]
SHARING_HEADER = ("分账发起时间,分账方商户号,分账出资商户号,微信订单号,微信分账/回退单号,资金流向,"
                  "商户分账/回退单号,分账接收方类型,分账接收方账号,金额（元）,业务状态,分账描述,备注").split(",")


def payout_of(seed: int, day: date) -> str:
    return stripe_id("po_", seed, day, "payout", 0)


def charge_id(seed: int, order_day: date, idx: int) -> str:
    return stripe_id("ch_", seed, order_day, "charge", idx)


def wechat_order_id(order_day: date, idx: int) -> str:
    return f"4200{order_day:%Y%m%d}{idx:016d}"


def stripe_write(path: Path, day: date, psp_day: PspDay, seed: int, order_ref) -> int:
    """Write the day's payout reconciliation report; returns its rows. ``order_ref(day, idx)``:
    the merchant's order id of an order."""
    lines = psp_day.lines
    payout = payout_of(seed, day)
    arrival = f"{day + timedelta(days=1)} 00:00:00"
    rows = []
    for k in range(len(lines["sec"])):
        refund = bool(lines["is_refund"][k])
        odate, idx = date.fromordinal(int(lines["order_day"][k])), int(lines["order_idx"][k])
        amount, fee = int(lines["amount"][k]), int(lines["fee"][k])
        gross = -amount if refund else amount
        product = STRIPE.products[int(lines["product"][k])]
        if refund:
            ridx = int(lines["refund_idx"][k])
            txn = stripe_id("txn_", seed, day, "txn_refund", ridx)
            source = stripe_id("re_", seed, day, "refund", ridx)
        else:
            txn = stripe_id("txn_", seed, odate, "txn_charge", idx)
            source = charge_id(seed, odate, idx)
        created = stamps(day, int(lines["sec"][k]))[1]
        rows.append([payout, arrival, txn, created, arrival, "usd", money_text(gross), money_text(fee),
                     money_text(gross - fee), "refund" if refund else "charge", source,
                     f"REFUND FOR CHARGE ({product})" if refund else product, money_text(amount), "usd",
                     order_ref(odate, idx)])
    frame = pl.DataFrame(rows, schema={c: pl.String for c in STRIPE_COLUMNS}, orient="row")
    frame.write_csv(path, line_terminator="\n", quote_style="necessary", null_value="")
    return frame.height


@dataclass(frozen=True)
class Sharing:
    """One day's 分账 rows (allocations and returns), numbered in time order."""
    order_day: np.ndarray   # ordinal of the order's day
    order_idx: np.ndarray
    back: np.ndarray        # bool: a return (回退) of an earlier allocation
    personal: np.ndarray    # bool: the receiver is a person (openid), else the platform merchant
    receiver: list[str]
    amount: np.ndarray      # minor units, > 0
    sec: np.ndarray
    request: np.ndarray     # number of the company's request (商户分账/回退单号) on the day
    returned: np.ndarray    # allocations: the part returned the next day (0: none)


def _allocations(world, day: date, customers: pl.Series) -> Sharing:
    g = rng(world.seed, day, WECHAT, SHARING)
    pay = world.payments(day, WECHAT)
    pool = np.setdiff1d(np.arange(world.scale), world.taken(day, WECHAT))
    m = max(2, world.scale // 25)
    idx = np.sort(g.choice(pool, min(m, len(pool)), replace=False))
    two = g.random(len(idx)) < 0.5
    platform_pct, person_pct = g.integers(3, 11, len(idx)), g.integers(1, 6, len(idx))
    sec = np.minimum(pay.sec[idx] + g.integers(60, 3_600, len(idx)), DAY_END_S - 1)
    returned_share = np.where(g.random(len(idx)) < 0.3, g.integers(50, 101, len(idx)), 0)
    order, personal, receiver, amount, secs, request, returned = [], [], [], [], [], [], []
    for n, i in enumerate(idx):
        base = int(pay.amount[i])
        cut = max(1, base * int(platform_pct[n]) // 100)
        parts = [(False, PLATFORM, cut, max(0, cut * int(returned_share[n]) // 100))]
        if two[n]:
            parts.append((True, customers[int(pay.user[i])], max(1, base * int(person_pct[n]) // 100), 0))
        for is_person, who, value, back in parts:
            order.append(int(i))
            personal.append(is_person)
            receiver.append(who)
            amount.append(value)
            secs.append(int(sec[n]))
            request.append(n)
            returned.append(back)
    size = len(order)
    return Sharing(np.full(size, day.toordinal()), np.array(order, np.int64), np.zeros(size, bool),
                   np.array(personal, bool), receiver, np.array(amount, np.int64), np.array(secs, np.int64),
                   np.array(request, np.int64), np.array(returned, np.int64))


def sharing(world, day: date, customers: pl.Series) -> Sharing:
    """The day's allocations of the day's orders, then the returns of yesterday's allocations."""
    today = _allocations(world, day, customers)
    prev = _allocations(world, day - timedelta(days=1), customers)
    sel = np.flatnonzero(prev.returned > 0)
    g = rng(world.seed, day, WECHAT, SHARING + 1)
    first = int(today.request.max()) + 1 if len(today.request) else 0
    sec = g.integers(3_600, DAY_END_S - 3_600, len(sel))
    return Sharing(
        np.concatenate([today.order_day, prev.order_day[sel]]),
        np.concatenate([today.order_idx, prev.order_idx[sel]]),
        np.concatenate([today.back, np.ones(len(sel), bool)]),
        np.concatenate([today.personal, prev.personal[sel]]),
        today.receiver + [prev.receiver[int(k)] for k in sel],
        np.concatenate([today.amount, prev.returned[sel]]),
        np.concatenate([today.sec, sec]),
        np.concatenate([today.request, first + np.arange(len(sel))]),
        np.concatenate([today.returned, np.zeros(len(sel), np.int64)]))


def sharing_refs(day: date, s: Sharing, k: int) -> tuple[str, str, str]:
    """(微信订单号, 微信分账/回退单号, 商户分账/回退单号) of row ``k``."""
    back = bool(s.back[k])
    order = wechat_order_id(date.fromordinal(int(s.order_day[k])), int(s.order_idx[k]))
    return (order, profitsharing_id(day, int(s.request[k]), back),
            sharing_request_id(day, int(s.request[k]), back))


def sharing_write(path: Path, day: date, s: Sharing) -> int:
    """Write the 分账 bill (rows in time order); returns its data rows."""
    lines = [",".join(SHARING_HEADER)]
    allocated = returned = 0
    for k in np.argsort(s.sec, kind="stable"):
        k = int(k)
        order, wx_id, own = sharing_refs(day, s, k)
        back, amount = bool(s.back[k]), int(s.amount[k])
        allocated += 0 if back else amount
        returned += amount if back else 0
        values = [stamps(day, int(s.sec[k]))[1], WX_MCHID, WX_MCHID, order, wx_id, "回退" if back else "分账",
                  own, "PERSONAL_OPENID" if s.personal[k] else "MERCHANT_ID", s.receiver[k],
                  money_text(amount), "SUCCESS", "用户退款回退" if back else ("导购佣金" if s.personal[k] else "平台服务费"),
                  ""]
        lines.append(",".join(f"`{v}" for v in values))
    lines += ["", "总条数,分账总金额,回退总金额",
              f"`{len(s.sec)},`{money_text(allocated)},`{money_text(returned)}", ""]
    path.write_bytes("\r\n".join(lines).encode("utf-8"))
    return len(s.sec)
