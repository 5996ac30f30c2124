"""Risk signals: a channel (PSP source and currency) on the business date against its own
recent history, its rate card and its earlier days' payments.

| signal | fires when |
| --- | --- |
| ``success_rate_drop`` | baseline success rate − today's ≥ ``success_rate_drop`` |
| ``refund_rate_spike`` / ``chargeback_rate_spike`` | today's rate − baseline ≥ ``*_rate_rise`` |
| ``fee_rate_drift`` | \\|actual − expected fee\\| / gross of the day's payments ≥ ``fee_rate_drift`` |
| ``payout_late`` | a payout's delay (first seen → bank credit, or still open) ≥ usual + ``payout_delay_days`` |
| ``large_break`` | a break first seen today with \\|difference\\| ≥ ``large_break[currency]`` |
| ``repeated_reference`` | a payment reference already paid on an earlier day (possible double charge) |

The baseline of a rate is the mean over the previous ``history_days`` business dates that had at
least ``min_payments`` payment lines; with fewer than ``min_history_days`` of them no rate signal
fires (a new channel has no "usual" yet). Rates are exact Decimals (recon.reports.channels), never
floats. The rate signals read the channel health the report model already holds; payouts and
repeated references are queries of their own (sql/signal_*.sql). Nothing is written to the
warehouse: a rerun computes the same signals from what its original read.
"""
from __future__ import annotations

import logging
import statistics
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

import sql
from recon import warehouse
from recon.config import Config, SignalsConfig
from recon.money import format_amount
from recon.reports.channels import PLACES, rates
from recon.reports.model import ChannelDay, FeeLine, RunSummary, Signal

log = logging.getLogger(__name__)

KINDS = ("success_rate_drop", "refund_rate_spike", "chargeback_rate_spike", "fee_rate_drift",
         "payout_late", "large_break", "repeated_reference")
_RATES = (("success_rate_drop", "success", -1, "success_rate_drop"),
          ("refund_rate_spike", "refund", 1, "refund_rate_rise"),
          ("chargeback_rate_spike", "chargeback", 1, "chargeback_rate_rise"))


def _q(value: Decimal) -> Decimal:
    return value.quantize(PLACES, ROUND_HALF_UP)


def rate_signals(channels: tuple[ChannelDay, ...] | list[ChannelDay], day: date,
                 cfg: SignalsConfig) -> list[Signal]:
    """Success, refund and chargeback rates of ``day`` against each channel's previous days."""
    by_channel: dict[tuple[str, str], dict[date, ChannelDay]] = defaultdict(dict)
    for c in channels:
        by_channel[(c.source, c.currency)][c.business_date] = c
    out = []
    for (source, ccy), days in sorted(by_channel.items()):
        today = days.get(day)
        if today is None or today.payments < max(cfg.min_payments, 1):
            continue
        start = day - timedelta(days=cfg.history_days)
        past = [rates(c) for d, c in sorted(days.items())
                if start <= d < day and c.payments >= max(cfg.min_payments, 1)]
        if len(past) < max(cfg.min_history_days, 1):
            continue
        now = rates(today)
        for kind, attr, sign, knob in _RATES:
            threshold: Decimal = getattr(cfg, knob)
            baseline = _q(sum((getattr(r, attr) for r in past), Decimal(0)) / len(past))
            observed = getattr(now, attr)
            if sign * (observed - baseline) >= threshold:
                out.append(Signal(kind, source, day, ccy, str(observed), str(baseline), str(threshold),
                                  f"{attr} rate {observed} against {baseline} over the previous "
                                  f"{len(past)} days ({today.payments} payments)"))
    return out


def fee_signals(fees: tuple[FeeLine, ...] | list[FeeLine], day: date, cfg: SignalsConfig) -> list[Signal]:
    """The day's payments per channel: effective fee rate against the rate card's expected rate."""
    acc: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for f in fees:
        if f.business_date != day or f.txn_type != "payment":
            continue
        a = acc[(f.source, f.currency)]
        a[0] += f.count
        a[1] += f.gross_minor
        a[2] += f.actual_fee_minor
        a[3] += f.expected_fee_minor
    out = []
    for (source, ccy), (n, gross, actual, expected) in sorted(acc.items()):
        if n < max(cfg.min_payments, 1) or not gross:
            continue
        effective, card = _q(Decimal(actual) / gross), _q(Decimal(expected) / gross)
        if abs(effective - card) >= cfg.fee_rate_drift:
            out.append(Signal("fee_rate_drift", source, day, ccy, str(effective), str(card),
                              str(cfg.fee_rate_drift),
                              f"fees {format_amount(actual, ccy)} on {format_amount(gross, ccy)} of "
                              f"{n} payments; the rate card expects {format_amount(expected, ccy)}"))
    return out


def break_signals(summary: RunSummary, cfg: SignalsConfig) -> list[Signal]:
    """Breaks raised today (first seen on the business date) at least as large as configured."""
    out = []
    for b in summary.breaks:
        limit = cfg.large_break.get(b.currency)
        if limit is None or b.first_seen not in (None, summary.business_date):
            continue
        if abs(b.difference_minor) >= limit:
            out.append(Signal("large_break", b.source, summary.business_date, b.currency,
                              format_amount(abs(b.difference_minor), b.currency), "",
                              format_amount(limit, b.currency),
                              f"{b.category} {b.break_id} ({b.reference})", b.break_id))
    return out


def payout_signals(rows: list[dict], day: date, cfg: SignalsConfig) -> list[Signal]:
    """Payouts settled today, or still open, later than their channel's usual delay."""
    usual: dict[str, list[int]] = defaultdict(list)
    for r in rows:
        if r["settled_on"] is not None and r["settled_on"] < day:
            usual[r["source"]].append(r["delay_days"])
    out = []
    for r in rows:
        history = usual.get(r["source"], [])
        if len(history) < max(cfg.min_history_days, 1):
            continue
        if not (r["settled_on"] == day or r["settled_on"] is None):
            continue
        normal = int(statistics.median_low(history))
        if r["delay_days"] >= normal + max(cfg.payout_delay_days, 1):
            state = f"credited {r['settled_on']}" if r["settled_on"] else "still not credited"
            out.append(Signal("payout_late", r["source"], day, r["currency"] or "",
                              str(r["delay_days"]), str(normal), str(cfg.payout_delay_days),
                              f"payout {r['payout_id']} first seen {r['first_seen']}, {state}: "
                              f"{r['delay_days']} days (usually {normal})", r["payout_id"]))
    return out


def repeat_signals(rows: list[dict]) -> list[Signal]:
    return [Signal("repeated_reference", r["source"], r["business_date"], r["currency"],
                   format_amount(r["amount_minor"], r["currency"]),
                   format_amount(r["earlier_amount_minor"], r["currency"]), "",
                   f"{r['field']} {r['reference']} already paid on {r['earlier_date']}; "
                   f"line {r['line_id']}", r["reference"])
            for r in rows]


def _rows(con, name: str, params: dict) -> list[dict]:
    cur = con.execute(sql.load(name), params)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def detect(cfg: Config, summary: RunSummary, run_id: str | None = None) -> tuple[Signal, ...]:
    """Every signal of the summary's business date, in a stable order. ``run_id`` is the
    warehouse run the summary was built from (a rerun's own id; default the summary's)."""
    s, day = cfg.signals, summary.business_date
    run_id = run_id or summary.run_id
    psps = [src.name for src in cfg.sources if src.kind == "psp"]
    found = rate_signals(summary.channels, day, s) + fee_signals(summary.fees, day, s)
    found += break_signals(summary, s)
    con = warehouse.connect(cfg.warehouse)
    try:
        as_of = warehouse.scalar(con, "SELECT coalesce(annotation_watermark, started_at) FROM runs "
                                      "WHERE run_id = ?", [run_id]) or datetime.now(timezone.utc)
        payouts = _rows(con, "signal_payout_delay", {"run_id": run_id, "business_date": day,
                                                     "as_of": as_of, "days": s.history_days})
        inputs = [x.sha256 for x in summary.sources
                  if x.kind != "ledger" and x.sha256 and x.status in ("loaded", "corrected")]
        repeats = _rows(con, "signal_repeated_reference", {"business_date": day, "sources": psps,
                                                           "days": s.repeated_reference_days,
                                                           "inputs": inputs, "as_of": as_of})
    finally:
        con.close()
    found += payout_signals(payouts, day, s) + repeat_signals(repeats)
    found.sort(key=lambda g: (KINDS.index(g.kind), g.source, g.currency, g.reference or ""))
    for kind in KINDS:
        n = sum(1 for g in found if g.kind == kind)
        if n:
            log.info("Signals %s: %d", kind, n)
    return tuple(found)
