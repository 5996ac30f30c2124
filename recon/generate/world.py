"""One PSP's business day as integers: its payments, refunds and injected discrepancies.

Payments of a day are indexed 0..scale-1; the merchant order id, the PSP's ids and every
attribute of payment ``i`` of day ``d`` are a pure function of (seed, d, psp, i), so today's
generation can recompute yesterday's cut-off spill-over and the original orders of today's refunds.
Refunds only ever reverse an order that carries no injected break, and an order of day X can
only be refunded on day X + (i % 8), so no order is refunded twice (the hard scenario's partial
refunds are refunded in parts on purpose, see ``recon.generate.hard``).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from recon.generate import hard
from recon.generate.fees import expected_fees
from recon.generate.hard import HardPlan
from recon.generate.spec import (BREAKS, DAY_END_S, DAY_START_S, DISPUTE_FEE_MINOR, HARD_END_S,
                                 HARD_REFUND_END_S, HOUR_WEIGHTS, LEDGER, LINE_CATEGORIES, MAX_LEDGER_LAG_S,
                                 PAYMENTS, QUIET_S, REFUND_LAG_P, REFUND_LAGS, REFUNDS, STRIPE, TIMING_LEDGER_S,
                                 TIMING_PSP_S, USER_POOL, Psp, breaks_per_category, fx_rate_micro, rng)
from recon.generate.truth import TruthRow, hard_breaks, transaction_breaks
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
        return int((~self.lines["is_refund"] & ~self.lines.get("is_dispute", False)).sum())

    @property
    def n_refunds(self) -> int:
        return int(self.lines["is_refund"].sum())


def _times(g: np.random.Generator, size: int) -> np.ndarray:
    hours = g.choice(24, size, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    sec = hours * 3600 + g.integers(0, 3600, size)
    return np.clip(sec, DAY_START_S, DAY_END_S - 1).astype(np.int64)



class World:
    """Memoised per (day, psp) for one generation run; holds nothing between runs."""

    def __init__(self, seed: int, scale: int, scenario: str = "standard"):
        self.seed, self.scale, self.k = seed, scale, breaks_per_category(scale)
        self.hard = scenario == "hard"
        self._payments: dict = {}
        self._breaks: dict = {}
        self._hard: dict = {}
        self._days: dict = {}

    def payments(self, day: date, psp: Psp) -> Payments:
        key = (day, psp.name)
        if key not in self._payments:
            g, n = rng(self.seed, day, psp, PAYMENTS), self.scale
            low, high, p = (np.array(c) for c in zip(*psp.amount_buckets))
            bucket = g.choice(len(p), n, p=p / p.sum())
            amount = g.integers(low[bucket], high[bucket], endpoint=True).astype(np.int64)
            self._payments[key] = Payments(
                amount=amount, sec=hard.times(g, n) if self.hard else _times(g, n),
                lag=g.integers(0, MAX_LEDGER_LAG_S + 1, n).astype(np.int64),
                method=g.choice(len(psp.methods), n, p=np.array(psp.method_p) / sum(psp.method_p)),
                user=g.integers(0, USER_POOL, n), product=g.integers(0, len(psp.products), n))
        return self._payments[key]

    def breaks(self, day: date, psp: Psp) -> BreakPlan:
        key = (day, psp.name)
        if key not in self._breaks:
            g, k = rng(self.seed, day, psp, BREAKS), self.k
            sec = self.payments(day, psp).sec
            quiet = np.flatnonzero((sec >= QUIET_S) & (sec < 86_400 - QUIET_S))  # see spec.QUIET_S
            chosen = g.choice(quiet, len(LINE_CATEGORIES) * k, replace=False)
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

    def hard_plan(self, day: date, psp: Psp) -> HardPlan:
        key = (day, psp.name)
        if key not in self._hard:
            self._hard[key] = hard.draw(self.seed, day, psp, self.scale, self.k,
                                        self.breaks(day, psp).taken(), self.payments(day, psp).amount)
        return self._hard[key]

    def taken(self, day: date, psp: Psp) -> np.ndarray:
        """Payments that carry an injection (never refunded by the regular refunds)."""
        std = self.breaks(day, psp).taken()
        return np.concatenate([std, self.hard_plan(day, psp).taken()]) if self.hard else std

    def users(self, day: date, psp: Psp) -> np.ndarray:
        """Customer per payment; the hard scenario's fuzzy/ambiguous charges get customers of their own."""
        user = self.payments(day, psp).user
        if not (self.hard and psp is STRIPE):
            return user
        hp, user = self.hard_plan(day, psp), user.copy()
        user[hp.items["fuzzy"]] = hp.special_user["fuzzy"]
        user[hp.items["ambiguous"]] = hp.special_user["ambiguous"]
        user[hp.items["decoy"]] = hp.special_user["ambiguous"]
        return user

    def _attrs(self, day: date, psp: Psp, idx: np.ndarray) -> dict[str, np.ndarray]:
        pay = self.payments(day, psp)
        return {"method": pay.method[idx], "user": self.users(day, psp)[idx], "product": pay.product[idx]}

    def refunds(self, day: date, psp: Psp) -> dict[str, np.ndarray]:
        """The day's refunds, numbered in time order, each of an earlier or same-day clean order."""
        g = rng(self.seed, day, psp, REFUNDS)
        lags = g.choice(REFUND_LAGS, max(1, self.scale // 20), p=np.array(REFUND_LAG_P))
        day_end = HARD_REFUND_END_S if self.hard else DAY_END_S
        parts = []
        for lag, wanted in enumerate(np.bincount(lags, minlength=REFUND_LAGS)):
            origin = day - timedelta(days=lag)
            pool = np.setdiff1d(np.arange(lag, self.scale, REFUND_LAGS), self.taken(origin, psp))
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
                sec = g.integers(earliest, np.maximum(earliest + 1, day_end))
            else:
                sec = hard.times(g, c) if self.hard else _times(g, c)
            parts.append({
                "sec": sec.astype(np.int64), "order_day": np.full(c, origin.toordinal()),
                "order_idx": idx, "amount": np.where(full, amount, partial).astype(np.int64),
                "lag": g.integers(0, MAX_LEDGER_LAG_S + 1, c).astype(np.int64),
                **{a: getattr(orig, a)[idx] for a in _ATTRS}})
        if self.hard:
            parts += self._partial_refunds(day, psp)
        if not parts:
            parts = [{c: np.zeros(0, np.int64) for c in ("sec", "order_day", "order_idx", "amount", "lag",
                                                         *_ATTRS)}]
        out = {c: np.concatenate([p[c] for p in parts]) for c in parts[0]}
        order = np.argsort(out["sec"], kind="stable")
        out = {c: v[order] for c, v in out.items()}
        out["refund_idx"] = np.arange(len(order))
        return out

    def _partial_refunds(self, day: date, psp: Psp) -> list[dict[str, np.ndarray]]:
        """Hard: part j+1 of each partially refunded order of day D-(j+1)."""
        parts = []
        for j in range(hard.PARTS):
            origin = day - timedelta(days=j + 1)
            hp = self.hard_plan(origin, psp)
            sel = hp.partial_amount[:, j] > 0
            idx = hp.items["partial"][sel]
            parts.append({"sec": hp.partial_sec[sel, j], "order_day": np.full(len(idx), origin.toordinal()),
                          "order_idx": idx, "amount": hp.partial_amount[sel, j], "lag": hp.partial_lag[sel, j],
                          **self._attrs(origin, psp, idx)})
        return parts

    def disputes(self, day: date, psp: Psp) -> dict[str, np.ndarray]:
        """Hard, Stripe: the day's k disputes (of orders 1..5 days old), numbered in time order."""
        today = self.hard_plan(day, psp)
        lag, k = today.dispute_lag, self.k
        origin = day - timedelta(days=lag)
        idx = self.hard_plan(origin, psp).items["dispute"][(lag - 1) * k:lag * k]
        out = {"sec": today.dispute_sec, "order_day": np.full(k, origin.toordinal()), "order_idx": idx,
               "amount": self.payments(origin, psp).amount[idx], "lag": today.dispute_ledger_lag,
               **self._attrs(origin, psp, idx)}
        out = {c: np.asarray(v).astype(np.int64) for c, v in out.items()}
        order = np.argsort(out["sec"], kind="stable")
        out = {c: v[order] for c, v in out.items()}
        out["number"] = np.arange(len(order))
        return out

    def psp_day(self, day: date, psp: Psp, card: RateCard) -> PspDay:
        key = (day, psp.name)
        if key not in self._days:
            self._days[key] = self._psp_day(day, psp, card)
        return self._days[key]

    def _psp_day(self, day: date, psp: Psp, card: RateCard) -> PspDay:
        n, pay, plan = self.scale, self.payments(day, psp), self.breaks(day, psp)
        prev_day = day - timedelta(days=1)
        prev, prev_plan = self.payments(prev_day, psp), self.breaks(prev_day, psp)
        refunds = self.refunds(day, psp)
        hp = self.hard_plan(day, psp) if self.hard else None
        fx = (np.concatenate([hp.items["fx"], hp.items["fx_break"]]) if hp is not None and psp is STRIPE
              else np.zeros(0, np.int64))
        gross, orig = pay.amount.copy(), np.zeros(n, np.int64)
        gross[fx] = hard.fx_gross(pay.amount[fx], fx_rate_micro(self.seed, day))
        orig[fx] = pay.amount[fx]
        fee = expected_fees(card, gross, np.zeros(n, bool), day, pay.method, psp.rate_methods)
        charged = fee.copy()
        charged[plan.items["fee_variance"]] += plan.overcharge
        copies = np.ones(n, np.int64)
        copies[plan.items["missing_in_statement"]] = 0
        copies[plan.items["timing"]] = 0
        copies[plan.items["duplicate"]] = 2
        if hp is not None:
            for kind in ("cutoff", "psp_late", "decoy"):
                copies[hp.items.get(kind, np.zeros(0, np.int64))] = 0
        today = np.repeat(np.arange(n), copies)
        spill = prev_plan.items["timing"]
        spill_fee = expected_fees(card, prev.amount[spill], np.zeros(len(spill), bool), day,
                                  prev.method[spill], psp.rate_methods)
        refund_fee = expected_fees(card, refunds["amount"], np.ones(len(refunds["amount"]), bool), day,
                                   refunds["method"], psp.rate_methods)
        blocks = [
            {"sec": pay.sec[today], "is_refund": False, "order_day": day.toordinal(), "order_idx": today,
             "refund_idx": -1, "amount": gross[today], "fee": charged[today], "expected_fee": fee[today],
             **self._attrs(day, psp, today)},
            {"sec": prev_plan.timing_psp_sec, "is_refund": False, "order_day": prev_day.toordinal(),
             "order_idx": spill, "refund_idx": -1, "amount": prev.amount[spill], "fee": spill_fee,
             "expected_fee": spill_fee, **{a: getattr(prev, a)[spill] for a in _ATTRS}},
            {"sec": refunds["sec"], "is_refund": True, "order_day": refunds["order_day"],
             "order_idx": refunds["order_idx"], "refund_idx": refunds["refund_idx"],
             "amount": refunds["amount"], "fee": refund_fee, "expected_fee": refund_fee,
             **{a: refunds[a] for a in _ATTRS}},
        ]
        disputes = self.disputes(day, psp) if hp is not None and psp is STRIPE else None
        truth = transaction_breaks(day, psp, pay, plan, prev_day, prev, prev_plan, fee, charged)
        if hp is not None:
            noise = np.full(n, -1, np.int64)
            noise[hp.items["noisy"]] = hp.noise
            no_order = np.zeros(n, bool)
            for kind in ("fuzzy", "ambiguous"):
                no_order[hp.items.get(kind, np.zeros(0, np.int64))] = True
            blocks[0] |= {"noise": noise[today], "orig": orig[today], "no_order": no_order[today]}
            blocks += self._hard_lines(day, psp, card, disputes)
            truth += hard_breaks(self, day, psp, card)
        lines = _stack(blocks)
        order = np.argsort(lines["sec"], kind="stable")  # duplicates stay adjacent
        lines = {c: v[order] for c, v in lines.items()}
        out = lines["is_refund"] | lines.get("is_dispute", False)
        signed = np.where(out, -lines["amount"], lines["amount"])
        net = int(signed.sum() - lines["fee"].sum())
        return PspDay(lines=lines, ledger=self._ledger(day, psp, pay, plan, refunds, disputes),
                      truth=truth, net_minor=net)

    def _hard_lines(self, day: date, psp: Psp, card: RateCard, disputes) -> list[dict]:
        """Hard: yesterday's cut-off shifts, the PSP lines two days late, the day's disputes."""
        blocks = []
        for lag, kind, when in ((1, "cutoff", "cut_psp_sec"), (2, "psp_late", "late_psp_sec")):
            origin = day - timedelta(days=lag)
            hp, amount = self.hard_plan(origin, psp), self.payments(origin, psp).amount
            idx = hp.items[kind]
            attrs = self._attrs(origin, psp, idx)
            fee = expected_fees(card, amount[idx], np.zeros(len(idx), bool), day, attrs["method"],
                                psp.rate_methods)
            blocks.append({"sec": getattr(hp, when), "is_refund": False, "order_day": origin.toordinal(),
                           "order_idx": idx, "refund_idx": -1, "amount": amount[idx], "fee": fee,
                           "expected_fee": fee, **attrs})
        if disputes is not None:
            fee = np.full(len(disputes["sec"]), DISPUTE_FEE_MINOR, np.int64)
            blocks.append({"sec": disputes["sec"], "is_refund": False, "is_dispute": True,
                           "order_day": disputes["order_day"], "order_idx": disputes["order_idx"],
                           "refund_idx": disputes["number"], "amount": disputes["amount"], "fee": fee,
                           "expected_fee": fee, **{a: disputes[a] for a in _ATTRS}})
        return blocks

    def _ledger(self, day, psp, pay, plan, refunds, disputes) -> dict[str, np.ndarray]:
        n = self.scale
        hp = self.hard_plan(day, psp) if self.hard else None
        keep = np.ones(n, bool)
        keep[plan.items["missing_in_ledger"]] = False
        sec = pay.sec - pay.lag
        sec[plan.items["timing"]] = plan.timing_ledger_sec
        amount = pay.amount.copy()
        amount[plan.items["amount_mismatch"]] += plan.mismatch_delta
        g = rng(self.seed, day, psp, LEDGER)
        has_ref = g.random(n + len(refunds["sec"])) < 0.7
        # hard: refunds booked under the ledger's own refund id, without the PSP's (drawn after
        # has_ref, so the other entries' draws are unchanged)
        own_ref = (g.random(len(refunds["sec"])) < hard.OWN_REFUND_ID_SHARE if hp is not None
                   else np.zeros(len(refunds["sec"]), bool))
        extra: dict[str, np.ndarray] = {}
        if hp is not None:
            keep[hp.items["ledger_late"]] = False
            sec[hp.items["cutoff"]] = hp.cut_ledger_sec
            has_ref = has_ref.copy()
            for kind in ("noisy", "fuzzy", "ambiguous", "decoy"):
                has_ref[hp.items.get(kind, np.zeros(0, np.int64))] = False
            is_eur = np.zeros(n, bool)
            if psp is STRIPE:
                amount[hp.items["fx_break"]] += hp.fx_delta
                amount[hp.items["decoy"]] = pay.amount[hp.items["ambiguous"]]
                is_eur[np.concatenate([hp.items["fx"], hp.items["fx_break"]])] = True
            extra = {"is_eur": is_eur}
        idx = np.flatnonzero(keep)
        blocks = [
            {"sec": sec[idx], "is_refund": False, "order_day": day.toordinal(), "order_idx": idx,
             "refund_idx": -1, "amount": amount[idx], "has_psp_ref": has_ref[:n][idx],
             **self._attrs(day, psp, idx), **{c: v[idx] for c, v in extra.items()}},
            {"sec": refunds["sec"] - refunds["lag"], "is_refund": True, "order_day": refunds["order_day"],
             "order_idx": refunds["order_idx"], "refund_idx": refunds["refund_idx"],
             "amount": -refunds["amount"], "has_psp_ref": has_ref[n:] & ~own_ref, "own_ref": own_ref,
             **{a: refunds[a] for a in _ATTRS}},
        ]
        if hp is not None:
            blocks += self._hard_ledger(day, psp, hp, sec, has_ref[:n], disputes)
        ledger = _stack(blocks)
        order = np.argsort(ledger["sec"], kind="stable")
        return {c: v[order] for c, v in ledger.items()}

    def _hard_ledger(self, day, psp, hp, sec, has_ref, disputes) -> list[dict]:
        """Hard: the ledger's duplicate bookings, yesterday's late bookings, the day's chargebacks."""
        dup = hp.items["ledger_dup"]
        later = sec[dup] + hp.dup_offset
        prev_day = day - timedelta(days=1)
        prev_hp, prev = self.hard_plan(prev_day, psp), self.payments(prev_day, psp)
        late = prev_hp.items["ledger_late"]
        blocks = [
            {"sec": np.where(later <= HARD_END_S, later, sec[dup] - hp.dup_offset), "is_refund": False,
             "order_day": day.toordinal(), "order_idx": dup, "refund_idx": -1,
             "amount": self.payments(day, psp).amount[dup], "has_psp_ref": has_ref[dup],
             **self._attrs(day, psp, dup)},
            {"sec": prev_hp.late_ledger_sec, "is_refund": False, "order_day": prev_day.toordinal(),
             "order_idx": late, "refund_idx": -1, "amount": prev.amount[late],
             "has_psp_ref": prev_hp.late_ledger_ref, **self._attrs(prev_day, psp, late)},
        ]
        if disputes is not None:
            blocks.append({"sec": disputes["sec"] - disputes["lag"], "is_refund": False,
                           "is_chargeback": True, "order_day": disputes["order_day"],
                           "order_idx": disputes["order_idx"], "refund_idx": -1,
                           "amount": -disputes["amount"], "has_psp_ref": False,
                           **{a: disputes[a] for a in _ATTRS}})
        return blocks


_BOOL = {"is_refund", "has_psp_ref", "is_dispute", "no_order", "is_chargeback", "is_eur", "own_ref"}
_DEFAULTS = {"noise": -1}


def _stack(blocks: list[dict]) -> dict[str, np.ndarray]:
    """Concatenate blocks of columns; a column a block lacks is False / 0 / -1 (noise) there."""
    cols: list[str] = []
    for block in blocks:
        cols += [c for c in block if c not in cols]
    out = {}
    for c in cols:
        dtype = bool if c in _BOOL else np.int64
        parts = []
        for block in blocks:
            size = len(block["sec"])
            value = block.get(c, _DEFAULTS.get(c, 0))
            parts.append(np.broadcast_to(np.asarray(value), size).astype(dtype))
        out[c] = np.concatenate(parts)
    return out
