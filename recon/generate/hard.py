"""The ``hard`` scenario's injections on top of the standard mix, per PSP and day.

Each day draws, from the payments the standard breaks left alone, distinct payment numbers for
every hard kind (``HardPlan``); like the standard plan it is a pure function of (seed, day, psp),
so the days around can recompute it: the next day finds the cut-off spill-over and the ledger
entries booked a day late, the day after next the PSP lines that come two days late, later days
the partial refunds and the chargebacks of the day's orders.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from recon.generate.spec import (CUTOFF_LEDGER_MAX_S, CUTOFF_PSP_MAX_S, HARD, HARD_END_S, HARD_START_S,
                                 HOUR_WEIGHTS, MAX_LEDGER_LAG_S, STRIPE, USER_POOL, Psp, rng)

# Per PSP and day, how many of each kind (× k). Stripe only: disputes, FX, fuzzy and ambiguous.
KINDS = {
    "noisy": 10,        # PSP merchant reference differs from the ledger's by case/spaces/hyphens/prefix
    "cutoff": 1,        # ledger up to 90 s before midnight, PSP line up to 120 s after: timing
    "psp_late": 1,      # ledger on D, the PSP line in D+2's file: missing_in_statement until D+2
    "ledger_late": 1,   # PSP line on D, the ledger entry in D+1's export: missing_in_ledger until D+1
    "ledger_dup": 1,    # the ledger books the payment twice: duplicate
    "partial": 1,       # refunded in 2-3 parts on D+1, D+2 (, D+3): not breaks
}
STRIPE_KINDS = {
    "dispute": 5,       # reserved for disputes: slot L (k orders) is disputed on D+L, L = 1..5
    "fx": 5,            # presented in EUR, settled in USD: not breaks
    "fx_break": 1,      # the ledger's EUR amount differs by >= 1.00: amount_mismatch
    "fuzzy": 3,         # no order id in the file, no PSP reference in the ledger: fuzzy match
    "ambiguous": 1,     # as fuzzy, but a second ledger entry (the decoy) fits too: ambiguous
    "decoy": 1,         # the ledger-only entry that makes the ambiguous charge ambiguous
}
# Of the day's refunds, this share the ledger books under the company's own refund id, without
# the PSP's refund id: only the original order pairs them (reversal_reference), not breaks.
OWN_REFUND_ID_SHARE = 0.1
NOISE = ("lower", "spaces", "hyphens", "inner_spaces", "prefix_ref", "prefix_order")
PARTS = 3               # at most this many partial refunds of one order, on D+1 .. D+3
DISPUTE_LAGS = 5        # a dispute arrives 1..5 days after its order
SPECIAL_DAYS = 7        # fuzzy/ambiguous customers rotate through 7 day-groups of special users


def kinds(psp: Psp) -> dict[str, int]:
    return KINDS | (STRIPE_KINDS if psp is STRIPE else {})


def special_pool(k: int) -> int:
    """How many special customers (beyond USER_POOL) the hard scenario's customer list holds."""
    return SPECIAL_DAYS * 4 * k


def times(g: np.random.Generator, size: int) -> np.ndarray:
    """Regular booking times of the hard scenario: 00:20:10 .. 23:36:40 local."""
    hours = g.choice(24, size, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    sec = hours * 3600 + g.integers(0, 3600, size)
    return (HARD_START_S + sec * (HARD_END_S - HARD_START_S) // 86_400).astype(np.int64)


@dataclass(frozen=True)
class HardPlan:
    items: dict[str, np.ndarray]   # payment numbers per kind, disjoint, disjoint from the standard plan
    noise: np.ndarray              # per noisy item: index into NOISE
    cut_ledger_sec: np.ndarray     # cutoff: ledger time on D (86_310 .. 86_399)
    cut_psp_sec: np.ndarray        # cutoff: PSP time on D+1 (0 .. 120)
    late_psp_sec: np.ndarray       # psp_late: the PSP line's time on D+2
    late_ledger_sec: np.ndarray    # ledger_late: the ledger entry's time on D+1
    late_ledger_ref: np.ndarray    # ledger_late: whether that entry carries the PSP reference
    dup_offset: np.ndarray         # ledger_dup: the copy is booked this many seconds from the original
    fx_delta: np.ndarray           # fx_break: ledger EUR - customer-facing EUR, |delta| >= 1.00
    partial_amount: np.ndarray     # (k, PARTS): the refund on D+1+j, 0 = none
    partial_sec: np.ndarray        # (k, PARTS): its PSP time
    partial_lag: np.ndarray        # (k, PARTS): the ledger books it this many seconds earlier
    dispute_lag: int               # today's k disputes are of slot L of the orders of D-L
    dispute_sec: np.ndarray        # (k,) their times today
    dispute_ledger_lag: np.ndarray
    special_user: dict[str, np.ndarray]  # fuzzy / ambiguous: customers no other line of the day has

    def taken(self) -> np.ndarray:
        return np.concatenate(list(self.items.values()))


def draw(seed: int, day: date, psp: Psp, scale: int, k: int, standard_taken: np.ndarray,
         amount: np.ndarray) -> HardPlan:
    g = rng(seed, day, psp, HARD)
    wanted = kinds(psp)
    pool = np.setdiff1d(np.arange(scale), standard_taken)
    total = sum(wanted.values()) * k
    if total > len(pool):
        raise ValueError(f"scale {scale} is too small for the hard scenario: {psp.name} needs "
                         f"{total + len(standard_taken)} distinct payments a day")
    chosen = g.choice(pool, total, replace=False)
    items, at = {}, 0
    for kind, n in wanted.items():
        part = chosen[at:at + n * k]
        # the i-th decoy pairs with the i-th ambiguous charge: those two stay in drawn order
        items[kind] = part if kind in ("ambiguous", "decoy", "dispute") else np.sort(part)
        at += n * k
    nk = len(items["partial"])
    n_parts = g.integers(2, PARTS + 1, nk)
    share = g.integers(10, 31, (nk, PARTS))  # percent of the order; at most 90 % in all
    parts = np.maximum(1, amount[items["partial"]][:, None] * share // 100)
    parts[np.arange(PARTS)[None, :] >= n_parts[:, None]] = 0
    fx_break = items.get("fx_break", np.zeros(0, np.int64))
    magnitude = g.integers(100, 5_001, len(fx_break))
    down = (g.random(len(fx_break)) < 0.5) & (amount[fx_break] - magnitude >= 100)
    n_disputes = k if psp is STRIPE else 0
    ordinal = day.toordinal() % SPECIAL_DAYS
    special = USER_POOL + ordinal * 4 * k + np.arange(4 * k)
    dup_offset = g.integers(60, 601, k)
    return HardPlan(
        items=items, noise=g.integers(0, len(NOISE), len(items["noisy"])),
        cut_ledger_sec=86_400 - g.integers(1, CUTOFF_LEDGER_MAX_S + 1, k),
        cut_psp_sec=g.integers(0, CUTOFF_PSP_MAX_S + 1, k),
        late_psp_sec=times(g, k), late_ledger_sec=times(g, k),
        late_ledger_ref=g.random(k) < 0.7,
        dup_offset=dup_offset,
        fx_delta=np.where(down, -magnitude, magnitude).astype(np.int64),
        partial_amount=parts.astype(np.int64), partial_sec=times(g, nk * PARTS).reshape(nk, PARTS),
        partial_lag=g.integers(0, MAX_LEDGER_LAG_S + 1, (nk, PARTS)).astype(np.int64),
        dispute_lag=int(g.integers(1, DISPUTE_LAGS + 1)),
        dispute_sec=times(g, n_disputes),
        dispute_ledger_lag=g.integers(0, MAX_LEDGER_LAG_S + 1, n_disputes).astype(np.int64),
        special_user={"fuzzy": special[:3 * k], "ambiguous": special[3 * k:]} if psp is STRIPE else {},
    )


def fx_gross(eur_minor: np.ndarray, rate_micro: int) -> np.ndarray:
    """USD settled for an EUR amount: EUR × rate rounded half-up to the cent (exact integers)."""
    return (2 * eur_minor * rate_micro + 1_000_000) // 2_000_000
