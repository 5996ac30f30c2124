"""``generate_day``: one business day of the synthetic world, written as the SFTP layout."""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Callable

import numpy as np

from recon import ratecard
from recon.generate import camt053, hard, ids, ledger, stripe, truth, wechat
from recon.generate.camt053 import Entry, Statement
from recon.generate.fmt import money_text
from recon.generate.spec import (CATEGORIES, DAY, HARD_BANK, PSPS, RATE_CARDS, SCENARIOS, STRIPE, USER_POOL,
                                 WECHAT, WX_MCHID, Psp, breaks_per_category, is_split_day, late_psp, payout_id,
                                 rng)
from recon.generate.truth import TruthRow
from recon.generate.world import PspDay, World

log = logging.getLogger(__name__)
MIN_SCALE = 20
MIN_SCALE_HARD = 100
HARD_CATEGORIES = (*CATEGORIES, "ambiguous", "unsettled")


@dataclass(frozen=True)
class GeneratedDay:
    business_date: date
    paths: dict[str, Path] = field(default_factory=dict)   # ledger, wechatpay, stripe, bank, truth
    counts: dict[str, int] = field(default_factory=dict)   # rows per file, breaks per category


def _before_world(psp: Psp, pid: str, credited: int, payout_day: date) -> TruthRow:
    return TruthRow("missing_in_ledger", "bank", pid, None, credited,
                    f"bank credit for {psp.name} payout of {payout_day}; that payout was delivered "
                    f"before the world began")


def _bank_statements(day: date, seed: int, payouts: dict[str, tuple[str, int]], seen: bool,
                     payout_day: date | None = None) -> tuple[list[Statement], list[TruthRow]]:
    """The statement of ``day``: the credits of the PSP payouts of ``payout_day`` (default the day
    before: T+1); one PSP's credit is short (payout_mismatch). ``seen``: whether the run read that
    day's PSP files; if not, each credit is a bank line no payout explains (missing_in_ledger)."""
    paid = payout_day or day - timedelta(days=1)
    row, credited, openings = _short_payout(seed, day, paid, payouts)
    statements = [Statement(p.currency, openings[p.currency],
                            (_credit(p, paid, payouts[p.name][0], credited[p.name],
                                     f"B{day:%Y%m%d}{p.currency}0001"),)) for p in PSPS]
    if not seen:
        return statements, [_before_world(p, payouts[p.name][0], credited[p.name], paid) for p in PSPS]
    return statements, [row]


def _short_payout(seed: int, day: date, paid: date, payouts: dict[str, tuple[str, int]]
                  ) -> tuple[TruthRow, dict[str, int], dict[str, int]]:
    """The bank day's draws, in their order (the standard and the hard scenario share them): one
    PSP's credit for the payouts of ``paid`` is short (its payout_mismatch row), what each PSP is
    credited, each currency's opening balance."""
    g = rng(seed, paid, None, DAY)
    short_psp = PSPS[int(g.integers(0, len(PSPS)))]
    pid, amount = payouts[short_psp.name]
    short = int(min(g.integers(100, 50_001), max(100, abs(amount) // 2)))
    credited = {p.name: payouts[p.name][1] for p in PSPS}
    credited[short_psp.name] -= short
    openings = {p.currency: int(g.integers(10_000_000, 500_000_000)) for p in PSPS}
    row = TruthRow("payout_mismatch", short_psp.name, pid, amount, credited[short_psp.name],
                   f"bank credited {money_text(credited[short_psp.name])} for payout "
                   f"{money_text(amount)} ({money_text(short)} short) on {day}")
    return row, credited, openings


def _credit(psp: Psp, payout_day: date, pid: str, amount: int, ref: str) -> Entry:
    if psp is WECHAT:
        return Entry(ref=ref, amount_minor=amount, end_to_end_id=pid, party="Tenpay Payment Technology Co., Ltd.",
                     remittance=f"TENPAY SETTLEMENT {WX_MCHID} {payout_day:%Y%m%d}", family="DMCT")
    return Entry(ref=ref, amount_minor=amount, end_to_end_id=pid, party="STRIPE PAYMENTS UK LTD",
                 remittance=f"STRIPE PAYOUT {pid}", family="XBCT")


def _credits(seed: int, psp: Psp, payout_day: date, pid: str, amount: int) -> list[tuple[Psp, date, str, int]]:
    """Hard: the bank credit(s) of one payout; WeChat's arrive as two on split days."""
    if psp is not WECHAT or not is_split_day(seed, payout_day):
        return [(psp, payout_day, pid, amount)]
    first = amount * int(rng(seed, payout_day, WECHAT, HARD_BANK).integers(30, 71)) // 100
    return [(psp, payout_day, pid, first), (psp, payout_day, pid, amount - first)]


def _hard_bank_statements(day: date, seed: int, payouts: dict[str, tuple[str, int]],
                          late_before: tuple[Psp, str, int] | None, first: date
                          ) -> tuple[list[Statement], list[TruthRow]]:
    """The statement of ``day`` in the hard scenario: as the standard one (the day before's
    payouts, one PSP's credit short), but one day in four one PSP's credit is held back a day
    (unsettled on this run), the credit held back the day before arrives, and WeChat's credit is
    split in two one day in three. ``first``: the world's first day (what the runs have seen)."""
    paid, nxt = day - timedelta(days=1), day + timedelta(days=1)
    seen = paid >= first
    short_row, credited, openings = _short_payout(seed, day, paid, payouts)  # the standard draws
    late = late_psp(seed, paid)
    rows = [short_row] if seen else []
    statements = []
    for psp in PSPS:
        due = []
        if late_before is not None and late_before[0] is psp:
            due += _credits(seed, psp, paid - timedelta(days=1), late_before[1], late_before[2])
        lpid, lamount = payouts[psp.name]
        if psp is late:
            if seen:
                rows.append(TruthRow("unsettled", psp.name, lpid, lamount, None,
                                     f"no bank credit for payout {money_text(lamount)} of {paid} on {day}; "
                                     f"it is booked on {nxt}", clears_on=nxt))
        else:
            due += _credits(seed, psp, paid, lpid, credited[psp.name])
            if not seen:
                rows.append(_before_world(psp, lpid, credited[psp.name], paid))
        entries = tuple(_credit(p, pday, ppid, amt, f"B{day:%Y%m%d}{psp.currency}{n:04d}")
                        for n, (p, pday, ppid, amt) in enumerate(due, 1))
        statements.append(Statement(psp.currency, openings[psp.currency], entries))
    two_back = paid - timedelta(days=1)
    if late_before is not None and two_back < first:
        rows.append(_before_world(late_before[0], late_before[1], late_before[2], two_back)._replace(
            note=f"bank credit for {late_before[0].name} payout of {two_back}, held back a day; that "
                 f"payout was delivered before the world began"))
    return statements, rows


def _paths(d: date, out_dir: Path) -> dict[str, Path]:
    return {
        "ledger": out_dir / "ledger" / f"ledger_{d:%Y%m%d}.csv",
        "wechatpay": out_dir / "wechatpay" / f"wechatpay_trade_{d:%Y%m%d}.csv",
        "stripe": out_dir / "stripe" / f"stripe_itemized_{d:%Y%m%d}.csv",
        "bank": out_dir / "bank" / f"camt053_{d:%Y%m%d}.xml",
        "truth": out_dir / f"ground_truth_{d:%Y%m%d}.csv",
    }


def _check(scale: int, seed: int, scenario: str) -> None:
    if scenario not in SCENARIOS:
        raise ValueError(f"scenario must be one of {', '.join(SCENARIOS)}, found {scenario!r}")
    least = MIN_SCALE_HARD if scenario == "hard" else MIN_SCALE
    if scale < least:
        raise ValueError(f"scale must be at least {least} payments per PSP per day"
                         f"{' in the hard scenario' if scenario == 'hard' else ''}, found {scale}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, found {seed}")


def generate_day(business_date: date, out_dir: Path, *, seed: int = 7, scale: int = 200,
                 scenario: str = "standard", progress: Callable[[str], None] | None = None,
                 world: tuple[date, date] | None = None) -> GeneratedDay:
    """Write day D's ledger, PSP files, bank statement (D-1's payouts credited) and ground truth.

    The same (business_date, seed, scale, scenario) always gives byte-identical files. ``world``
    is the first and last day of the world D belongs to (default: D alone); only the ground truth
    depends on it (what is new on D, what clears within the world).
    """
    _check(scale, seed, scenario)
    first, last = world or (business_date, business_date)
    if not first <= business_date <= last:
        raise ValueError(f"business date {business_date} is outside the world {first} .. {last}")
    return _generate(business_date, Path(out_dir), World(seed, scale, scenario), {}, first, last,
                     progress or (lambda _msg: None))


def generate_days(start: date, days: int, out_dir: Path, *, seed: int = 7, scale: int = 200,
                  scenario: str = "standard", progress: Callable[[str], None] | None = None
                  ) -> list[GeneratedDay]:
    """Write ``days`` consecutive business days from ``start`` into one tree: a world whose ground
    truth lists on each day only the breaks new on that day's run (see ``recon.generate.truth``)."""
    _check(scale, seed, scenario)
    if days < 1:
        raise ValueError(f"days must be at least 1, found {days}")
    w, customers = World(seed, scale, scenario), {}
    last = start + timedelta(days=days - 1)
    say = progress or (lambda _msg: None)
    return [_generate(start + timedelta(days=i), Path(out_dir), w, customers, start, last, say)
            for i in range(days)]


def _customers(world: World, psp: Psp, cache: dict):
    if psp.name not in cache:
        if world.hard and psp is STRIPE:
            cache[psp.name] = ids.emails(ids.customers(world.seed, psp, USER_POOL + hard.special_pool(world.k)))
        else:
            cache[psp.name] = ids.customers(world.seed, psp, USER_POOL)
    return cache[psp.name]


def _generate(d: date, out_dir: Path, world: World, customer_cache: dict, first: date, last: date,
              say: Callable[[str], None]) -> GeneratedDay:
    seed, scale = world.seed, world.scale
    paths = _paths(d, out_dir)
    for p in paths.values():
        p.parent.mkdir(parents=True, exist_ok=True)
    counts, truth_rows = Counter(), []
    days: list[tuple] = []
    cards = {psp.name: ratecard.load(RATE_CARDS / f"{psp.name}.toml") for psp in PSPS}
    for psp in PSPS:
        say(f"building {psp.name} day {d}")
        card = cards[psp.name]
        psp_day: PspDay = world.psp_day(d, psp, card)
        customers = _customers(world, psp, customer_cache)
        pid = payout_id(psp, d, seed)
        say(f"writing {paths[psp.name].name}")
        if psp is WECHAT:
            counts[psp.name] = wechat.write(paths[psp.name], d, psp_day, card, customers)
        else:
            counts[psp.name] = stripe.write(paths[psp.name], d, psp_day, pid,
                                            customers if world.hard else None)
        truth_rows += psp_day.truth
        days.append((psp, psp_day, customers))
        log.info("%s: %s payments, %s refunds, %s injected breaks, payout %s %s %s", psp.name,
                 f"{psp_day.n_payments:,}", f"{psp_day.n_refunds:,}", f"{len(psp_day.truth):,}",
                 pid, money_text(psp_day.net_minor), psp.currency)
    say(f"writing {paths['ledger'].name}")
    counts["ledger"] = ledger.write(paths["ledger"], d, days)
    say(f"writing {paths['bank'].name}")
    # The bank file of D is D's: it carries the payouts of D-1 (T+1); D's own are in transit.
    prev = d - timedelta(days=1)
    paid = {p.name: (payout_id(p, prev, seed), world.psp_day(prev, p, cards[p.name]).net_minor) for p in PSPS}
    if world.hard:
        two_back = prev - timedelta(days=1)
        held = late_psp(seed, two_back)
        late_before = None if held is None else (
            held, payout_id(held, two_back, seed), world.psp_day(two_back, held, cards[held.name]).net_minor)
        statements, bank_rows = _hard_bank_statements(d, seed, paid, late_before, first)
    else:
        statements, bank_rows = _bank_statements(d, seed, paid, seen=prev >= first)
    counts["bank"] = camt053.write(paths["bank"], d, statements)
    truth_rows = truth.in_world(truth_rows + bank_rows, first, last)
    say(f"writing {paths['truth'].name}")
    counts["truth"] = truth.write(paths["truth"], truth_rows)
    for category in (HARD_CATEGORIES if world.hard else CATEGORIES):
        counts[category] = sum(r.category == category for r in truth_rows)
    log.info("generated %s (seed %d, scale %d, %d breaks per category): %s", d, seed, scale,
             breaks_per_category(scale), ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    return GeneratedDay(business_date=d, paths=paths, counts=dict(counts))


def generate_day_sliced(business_date: date, out_dir: Path, *, seed: int = 7, scale: int,
                        slice_scale: int = 5_000_000,
                        progress: Callable[[str], None] | None = None) -> GeneratedDay:
    """Day D of the standard scenario at a scale whose world does not fit in memory (the world
    holds every array of a day, and of the days before that its refunds reach back to, at once:
    11.8 GB at 5M payments per PSP), written a slice at a time into the same four files.

    Each slice is the world of ``slice_scale`` payments per PSP under a seed of its own (``seed``
    × 1000 + slice), its order and refund numbers moved past the slices before it, so that no
    reference repeats across slices; the files are the slices' rows one after another (the ledger
    numbered on, each slice in booking order), WeChat's summary block and Stripe's payout row once
    at the end over every slice, and the day's bank statement credits the payouts of the whole day. No
    ground truth file: each slice's truth names its references before the renumbering. The same
    (business_date, seed, scale, slice_scale) always gives the same bytes."""
    _check(scale, seed, "standard")
    if slice_scale < MIN_SCALE:
        raise ValueError(f"slice_scale must be at least {MIN_SCALE}, found {slice_scale}")
    say = progress or (lambda _msg: None)
    d = business_date
    paths = {k: v for k, v in _paths(d, Path(out_dir)).items() if k != "truth"}
    for p in paths.values():
        p.parent.mkdir(parents=True, exist_ok=True)
    cards = {psp.name: ratecard.load(RATE_CARDS / f"{psp.name}.toml") for psp in PSPS}
    pids = {psp.name: payout_id(psp, d, seed) for psp in PSPS}
    counts, net = Counter(), Counter()
    wx_totals = np.zeros(4, dtype=object)  # rows, paid, refunded, fees: Python ints, exact
    sizes = [min(slice_scale, scale - lo) for lo in range(0, scale, slice_scale)]
    with open(paths["ledger"], "wb") as led, open(paths[WECHAT.name], "wb") as wx, \
            open(paths[STRIPE.name], "wb") as st:
        offset = 0
        wx.write(wechat.BOM)
        for n, size in enumerate(sizes):
            say(f"slice {n + 1}/{len(sizes)}: {size:,} payments per PSP from order {offset:,}")
            world, first = World(seed * 1000 + n, size), n == 0
            days = []
            for psp in PSPS:
                psp_day = _renumbered(world.psp_day(d, psp, cards[psp.name]), offset)
                customers = _customers(world, psp, {})
                if psp is WECHAT:
                    frame, totals = wechat.rows(d, psp_day, cards[psp.name], customers)
                    frame.write_csv(wx, line_terminator="\r\n", quote_style="necessary", include_header=first)
                    wx_totals += np.array(totals, dtype=object)
                else:
                    frame = stripe.rows(d, psp_day, pids[psp.name])
                    frame.write_csv(st, line_terminator="\n", quote_style="necessary", null_value="",
                                    include_header=first)
                counts[psp.name] += frame.height
                net[psp.name] += psp_day.net_minor
                days.append((psp, psp_day, customers))
            frame = ledger.rows(d, days, first_entry=counts["ledger"] + 1)
            frame.write_csv(led, line_terminator="\n", quote_style="necessary", null_value="",
                            include_header=first)
            counts["ledger"] += frame.height
            offset += size
            del world, days, frame
        wx.write(wechat.summary(*(int(v) for v in wx_totals)))
        row = stripe.payout_row(d, pids[STRIPE.name], net[STRIPE.name])
        row.write_csv(st, line_terminator="\n", quote_style="necessary", null_value="", include_header=False)
        counts[STRIPE.name] += 1
    # No day before it: the bank file of D credits D's own payouts (the same day).
    statements, _ = _bank_statements(d, seed, {p.name: (pids[p.name], net[p.name]) for p in PSPS}, seen=True,
                                     payout_day=d)
    counts["bank"] = camt053.write(paths["bank"], d, statements)
    log.info("generated %s in %d slices (seed %d, scale %d): %s", d, len(sizes), seed, scale,
             ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    return GeneratedDay(business_date=d, paths=paths, counts=dict(counts))


def _renumbered(psp_day: PspDay, offset: int) -> PspDay:
    """``psp_day`` with its order and refund numbers moved up by ``offset`` (new arrays: the
    world's own, which later days read, are left as they are)."""
    def moved(cols: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = dict(cols)
        out["order_idx"] = np.asarray(cols["order_idx"]) + offset
        ridx = np.asarray(cols["refund_idx"])
        out["refund_idx"] = np.where(ridx >= 0, ridx + offset, ridx)
        return out
    return replace(psp_day, lines=moved(psp_day.lines), ledger=moved(psp_day.ledger))
