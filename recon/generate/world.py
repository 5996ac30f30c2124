"""One PSP's business day as integers: its payments, refunds and injected discrepancies.

Payments of a day are indexed 0..scale-1; the merchant order id, the PSP's ids and every
attribute of payment ``i`` of day ``d`` are a pure function of (seed, d, psp, i), so today's
generation can recompute yesterday's cut-off spill-over and the original orders of today's refunds.
Refunds only ever reverse an order that carries no injected break, and an order of day X can
only be refunded on day X + (i % 8), so no order is refunded twice.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from recon.generate.fees import expected_fees
from recon.generate.spec import (BREAKS, DAY_END_S, DAY_START_S, HOUR_WEIGHTS, LEDGER, LINE_CATEGORIES,
                                 MAX_LEDGER_LAG_S, PAYMENTS, REFUND_LAG_P, REFUND_LAGS, REFUNDS,
                                 TIMING_LEDGER_S, TIMING_PSP_S, USER_POOL, Psp, breaks_per_category, rng)
from recon.generate.truth import TruthRow, transaction_breaks
from recon.ratecard import RateCard

_ATTRS = ("method", "user", "product")


@dataclass(frozen=True)
class Payments:
    """The day's regular payments; arrays indexed by payment number."""
    amount: np.ndarray   # int64 minor units, > 0
    sec: np.ndarray      # PSP time, seconds after local midnight
    lag: np.ndarray      # the ledger books the payment this many seconds earlier
    method: np.ndarray
    user: np.ndarray
    product: np.ndarray


@dataclass(frozen=True)
class BreakPlan:
    """Distinct payment numbers per injected category, and each injection's parameters."""
    items: dict[str, np.ndarray]
    mismatch_delta: np.ndarray     # ledger amount - PSP amount, |delta| >= 1.00
    overcharge: np.ndarray         # PSP fee - rate card fee, 0.01..5.00
    timing_ledger_sec: np.ndarray  # 23:59:3x on the day
    timing_psp_sec: np.ndarray     # 00:00:0x on the next day

    def taken(self) -> np.ndarray:
        return np.concatenate(list(self.items.values()))


@dataclass(frozen=True)
class PspDay:
    """What one PSP's day looks like on both sides, ready for the format writers."""
    lines: dict[str, np.ndarray]   # the PSP file's lines in file order (duplicates included)
    ledger: dict[str, np.ndarray]  # the ledger entries booked through this PSP on the day
    truth: list[TruthRow]
    net_minor: int                 # Σ net of the lines: what the day's payout settles

    @property
    def n_payments(self) -> int:
        return int((~self.lines["is_refund"]).sum())

    @property
    def n_refunds(self) -> int:
        return int(self.lines["is_refund"].sum())


def _times(g: np.random.Generator, size: int) -> np.ndarray:
    hours = g.choice(24, size, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    sec = hours * 3600 + g.integers(0, 3600, size)
    return np.clip(sec, DAY_START_S, DAY_END_S - 1).astype(np.int64)


class World:
    """Memoised per (day, psp) for one generation run; holds nothing between runs."""

    def __init__(self, seed: int, scale: int):
        self.seed, self.scale, self.k = seed, scale, breaks_per_category(scale)
        self._payments: dict = {}
        self._breaks: dict = {}

    def payments(self, day: date, psp: Psp) -> Payments:
        key = (day, psp.name)
        if key not in self._payments:
            g, n = rng(self.seed, day, psp, PAYMENTS), self.scale
            low, high, p = (np.array(c) for c in zip(*psp.amount_buckets))
            bucket = g.choice(len(p), n, p=p / p.sum())
            amount = g.integers(low[bucket], high[bucket], endpoint=True).astype(np.int64)
            self._payments[key] = Payments(
                amount=amount, sec=_times(g, n),
                lag=g.integers(0, MAX_LEDGER_LAG_S + 1, n).astype(np.int64),
                method=g.choice(len(psp.methods), n, p=np.array(psp.method_p) / sum(psp.method_p)),
                user=g.integers(0, USER_POOL, n), product=g.integers(0, len(psp.products), n))
        return self._payments[key]

    def breaks(self, day: date, psp: Psp) -> BreakPlan:
        key = (day, psp.name)
        if key not in self._breaks:
            g, k = rng(self.seed, day, psp, BREAKS), self.k
            chosen = g.choice(self.scale, len(LINE_CATEGORIES) * k, replace=False)
            items = {c: np.sort(chosen[i * k:(i + 1) * k]) for i, c in enumerate(LINE_CATEGORIES)}
            amount = self.payments(day, psp).amount
            magnitude = g.integers(100, 5_001, k)
            down = (g.random(k) < 0.5) & (amount[items["amount_mismatch"]] - magnitude >= 100)
            self._breaks[key] = BreakPlan(
                items=items, mismatch_delta=np.where(down, -magnitude, magnitude).astype(np.int64),
                overcharge=np.minimum(g.integers(1, 501, k),
                                      np.maximum(1, amount[items["fee_variance"]] // 4)).astype(np.int64),
                timing_ledger_sec=TIMING_LEDGER_S + g.integers(0, 10, k),
                timing_psp_sec=TIMING_PSP_S + g.integers(0, 10, k))
        return self._breaks[key]

    def refunds(self, day: date, psp: Psp) -> dict[str, np.ndarray]:
        """The day's refunds, numbered in time order, each of an earlier or same-day clean order."""
        g = rng(self.seed, day, psp, REFUNDS)
        lags = g.choice(REFUND_LAGS, max(1, self.scale // 20), p=np.array(REFUND_LAG_P))
        parts = []
        for lag, wanted in enumerate(np.bincount(lags, minlength=REFUND_LAGS)):
            origin = day - timedelta(days=lag)
            pool = np.setdiff1d(np.arange(lag, self.scale, REFUND_LAGS), self.breaks(origin, psp).taken())
            c = int(min(wanted, len(pool)))
            if c == 0:
                continue
            idx = np.sort(g.choice(pool, c, replace=False))
            orig = self.payments(origin, psp)
            amount = orig.amount[idx]
            partial = g.integers(1, np.maximum(amount, 2))  # 1 .. amount-1
            full = (g.random(c) < 0.5) | (amount < 2)
            if lag == 0:
                earliest = orig.sec[idx] + 5
                sec = g.integers(earliest, np.maximum(earliest + 1, DAY_END_S))
            else:
                sec = _times(g, c)
            parts.append({
                "sec": sec.astype(np.int64), "order_day": np.full(c, origin.toordinal()),
                "order_idx": idx, "amount": np.where(full, amount, partial).astype(np.int64),
                "lag": g.integers(0, MAX_LEDGER_LAG_S + 1, c).astype(np.int64),
                **{a: getattr(orig, a)[idx] for a in _ATTRS}})
        out = {c: np.concatenate([p[c] for p in parts]) for c in parts[0]}
        order = np.argsort(out["sec"], kind="stable")
        out = {c: v[order] for c, v in out.items()}
        out["refund_idx"] = np.arange(len(order))
        return out

    def psp_day(self, day: date, psp: Psp, card: RateCard) -> PspDay:
        n, pay, plan = self.scale, self.payments(day, psp), self.breaks(day, psp)
        prev_day = day - timedelta(days=1)
        prev, prev_plan = self.payments(prev_day, psp), self.breaks(prev_day, psp)
        refunds = self.refunds(day, psp)
        fee = expected_fees(card, pay.amount, np.zeros(n, bool), day, pay.method, psp.rate_methods)
        charged = fee.copy()
        charged[plan.items["fee_variance"]] += plan.overcharge
        copies = np.ones(n, np.int64)
        copies[plan.items["missing_in_statement"]] = 0
        copies[plan.items["timing"]] = 0
        copies[plan.items["duplicate"]] = 2
        today = np.repeat(np.arange(n), copies)
        spill = prev_plan.items["timing"]
        spill_fee = expected_fees(card, prev.amount[spill], np.zeros(len(spill), bool), day,
                                  prev.method[spill], psp.rate_methods)
        refund_fee = expected_fees(card, refunds["amount"], np.ones(len(refunds["amount"]), bool), day,
                                   refunds["method"], psp.rate_methods)
        blocks = [  # (sec, is_refund, order_day, order_idx, refund_idx, amount, fee, expected, attrs)
            (pay.sec[today], False, day.toordinal(), today, -1, pay.amount[today], charged[today],
             fee[today], {a: getattr(pay, a)[today] for a in _ATTRS}),
            (prev_plan.timing_psp_sec, False, prev_day.toordinal(), spill, -1, prev.amount[spill],
             spill_fee, spill_fee, {a: getattr(prev, a)[spill] for a in _ATTRS}),
            (refunds["sec"], True, refunds["order_day"], refunds["order_idx"], refunds["refund_idx"],
             refunds["amount"], refund_fee, refund_fee, {a: refunds[a] for a in _ATTRS}),
        ]
        lines = _stack(blocks)
        order = np.argsort(lines["sec"], kind="stable")  # duplicates stay adjacent
        lines = {c: v[order] for c, v in lines.items()}
        signed = np.where(lines["is_refund"], -lines["amount"], lines["amount"])
        net = int(signed.sum() - lines["fee"].sum())
        return PspDay(lines=lines, ledger=self._ledger(day, psp, pay, plan, refunds),
                      truth=transaction_breaks(day, psp, pay, plan, prev_day, prev, prev_plan, fee,
                                               charged),
                      net_minor=net)

    def _ledger(self, day, psp, pay, plan, refunds) -> dict[str, np.ndarray]:
        n = self.scale
        keep = np.ones(n, bool)
        keep[plan.items["missing_in_ledger"]] = False
        sec = pay.sec - pay.lag
        sec[plan.items["timing"]] = plan.timing_ledger_sec
        amount = pay.amount.copy()
        amount[plan.items["amount_mismatch"]] += plan.mismatch_delta
        has_ref = rng(self.seed, day, psp, LEDGER).random(n + len(refunds["sec"])) < 0.7
        idx = np.flatnonzero(keep)
        blocks = [
            (sec[idx], False, day.toordinal(), idx, -1, amount[idx], has_ref[:n][idx],
             {a: getattr(pay, a)[idx] for a in _ATTRS}),
            (refunds["sec"] - refunds["lag"], True, refunds["order_day"], refunds["order_idx"],
             refunds["refund_idx"], -refunds["amount"], has_ref[n:], {a: refunds[a] for a in _ATTRS}),
        ]
        ledger = _stack(blocks, ("has_psp_ref",))
        order = np.argsort(ledger["sec"], kind="stable")
        return {c: v[order] for c, v in ledger.items()}


def _stack(blocks, names=("fee", "expected_fee")) -> dict[str, np.ndarray]:
    cols = ("sec", "is_refund", "order_day", "order_idx", "refund_idx", "amount", *names)
    out: dict[str, list] = {c: [] for c in (*cols, *_ATTRS)}
    for block in blocks:
        size = len(block[0])
        for c, v in zip(cols, block[:-1]):
            out[c].append(np.broadcast_to(np.asarray(v), size))
        for a in _ATTRS:
            out[a].append(np.asarray(block[-1][a]))
    dtypes = {"is_refund": bool, "has_psp_ref": bool}
    return {c: np.concatenate(v).astype(dtypes.get(c, np.int64)) for c, v in out.items()}
