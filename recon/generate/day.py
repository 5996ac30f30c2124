"""``generate_day``: one business day of the synthetic world, written as the SFTP layout."""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Callable

from recon import ratecard
from recon.generate import camt053, ids, ledger, stripe, truth, wechat
from recon.generate.camt053 import Entry, Statement
from recon.generate.fmt import money_text
from recon.generate.spec import (CATEGORIES, DAY, PSPS, RATE_CARDS, STRIPE, USER_POOL, WECHAT, WX_MCHID,
                                 breaks_per_category, payout_id, rng)
from recon.generate.truth import TruthRow
from recon.generate.world import PspDay, World

log = logging.getLogger(__name__)
MIN_SCALE = 20


@dataclass(frozen=True)
class GeneratedDay:
    business_date: date
    paths: dict[str, Path] = field(default_factory=dict)   # ledger, wechatpay, stripe, bank, truth
    counts: dict[str, int] = field(default_factory=dict)   # rows per file, breaks per category


def _bank_statements(day: date, seed: int, payouts: dict[str, tuple[str, int]]
                     ) -> tuple[list[Statement], TruthRow]:
    """The D+1 statement carrying day D's payouts; one PSP's credit is short (payout_mismatch)."""
    g = rng(seed, day, None, DAY)
    short_psp = PSPS[int(g.integers(0, len(PSPS)))]
    pid, amount = payouts[short_psp.name]
    short = int(min(g.integers(100, 50_001), max(100, abs(amount) // 2)))
    credited = {p.name: payouts[p.name][1] for p in PSPS}
    credited[short_psp.name] -= short
    openings = {p.currency: int(g.integers(10_000_000, 500_000_000)) for p in PSPS}
    wx_id, _ = payouts[WECHAT.name]
    st_id, _ = payouts[STRIPE.name]
    wx = Entry(ref=f"B{day + timedelta(days=1):%Y%m%d}CNY0001", amount_minor=credited[WECHAT.name],
               end_to_end_id=wx_id, party="Tenpay Payment Technology Co., Ltd.",
               remittance=f"TENPAY SETTLEMENT {WX_MCHID} {day:%Y%m%d}", family="DMCT")
    st = Entry(ref=f"B{day + timedelta(days=1):%Y%m%d}USD0001", amount_minor=credited[STRIPE.name],
               end_to_end_id=st_id, party="STRIPE PAYMENTS UK LTD",
               remittance=f"STRIPE PAYOUT {st_id}", family="XBCT")
    statements = [Statement("CNY", openings["CNY"], (wx,)), Statement("USD", openings["USD"], (st,))]
    row = TruthRow("payout_mismatch", short_psp.name, pid, amount, credited[short_psp.name],
                   f"bank credited {money_text(credited[short_psp.name])} for payout "
                   f"{money_text(amount)} ({money_text(short)} short) on {day + timedelta(days=1)}")
    return statements, row


def generate_day(business_date: date, out_dir: Path, *, seed: int = 7, scale: int = 200,
                 progress: Callable[[str], None] | None = None) -> GeneratedDay:
    """Write day D's ledger, PSP files, the D+1 bank statement and the ground truth under out_dir.

    The same (business_date, seed, scale) always gives byte-identical files.
    """
    if scale < MIN_SCALE:
        raise ValueError(f"scale must be at least {MIN_SCALE} payments per PSP per day, found {scale}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, found {seed}")
    say = progress or (lambda _msg: None)
    d, out_dir = business_date, Path(out_dir)
    paths = {
        "ledger": out_dir / "ledger" / f"ledger_{d:%Y%m%d}.csv",
        "wechatpay": out_dir / "wechatpay" / f"wechatpay_trade_{d:%Y%m%d}.csv",
        "stripe": out_dir / "stripe" / f"stripe_itemized_{d:%Y%m%d}.csv",
        "bank": out_dir / "bank" / f"camt053_{d + timedelta(days=1):%Y%m%d}.xml",
        "truth": out_dir / f"ground_truth_{d:%Y%m%d}.csv",
    }
    for p in paths.values():
        p.parent.mkdir(parents=True, exist_ok=True)
    world, counts, truth_rows = World(seed, scale), Counter(), []
    days: list[tuple] = []
    payouts: dict[str, tuple[str, int]] = {}
    for psp in PSPS:
        say(f"building {psp.name} day {d}")
        card = ratecard.load(RATE_CARDS / f"{psp.name}.toml")
        psp_day: PspDay = world.psp_day(d, psp, card)
        customers = ids.customers(seed, psp, USER_POOL)
        pid = payout_id(psp, d, seed)
        say(f"writing {paths[psp.name].name}")
        if psp is WECHAT:
            counts[psp.name] = wechat.write(paths[psp.name], d, psp_day, card, customers)
        else:
            counts[psp.name] = stripe.write(paths[psp.name], d, psp_day, pid)
        payouts[psp.name] = (pid, psp_day.net_minor)
        truth_rows += psp_day.truth
        days.append((psp, psp_day, customers))
        log.info("%s: %s payments, %s refunds, %s injected breaks, payout %s %s %s", psp.name,
                 f"{psp_day.n_payments:,}", f"{psp_day.n_refunds:,}", f"{len(psp_day.truth):,}",
                 pid, money_text(psp_day.net_minor), psp.currency)
    say(f"writing {paths['ledger'].name}")
    counts["ledger"] = ledger.write(paths["ledger"], d, days)
    say(f"writing {paths['bank'].name}")
    statements, short_row = _bank_statements(d, seed, payouts)
    counts["bank"] = camt053.write(paths["bank"], d + timedelta(days=1), statements)
    truth_rows.append(short_row)
    say(f"writing {paths['truth'].name}")
    counts["truth"] = truth.write(paths["truth"], truth_rows)
    for category in CATEGORIES:
        counts[category] = sum(r.category == category for r in truth_rows)
    log.info("generated %s (seed %d, scale %d, %d breaks per category): %s", d, seed, scale,
             breaks_per_category(scale), ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    return GeneratedDay(business_date=d, paths=paths, counts=dict(counts))
