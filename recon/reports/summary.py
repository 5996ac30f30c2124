"""The machine-readable summary of one reconciled day (``summary.json``).

Amounts are decimal strings in the currency's places ("12.30", "1500", "0.125"), never floats;
ratios are decimal strings too. Keys are sorted and lists keep the model's order, so identical
summaries give identical bytes.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from recon.money import to_decimal
from recon.reports.fees import effective_rate_percent, fee_rows, format_rate
from recon.reports.model import CATEGORY_LABELS, Break, PayoutLine, RunSummary
from recon.reports.rollforward import cleared
from recon.reports.safe import mask_pan

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BreakTotal:
    category: str
    currency: str
    count: int
    net_minor: int  # Σ difference
    absolute_minor: int  # Σ |difference|: what the category moves, whatever the sign


def category_order(category: str) -> tuple[int, str]:
    """The accountants' order (CATEGORY_LABELS), unknown categories after it, alphabetically."""
    keys = list(CATEGORY_LABELS)
    return (keys.index(category), "") if category in keys else (len(keys), category)


def category_label(category: str, language: str = "en") -> str:
    en, zh = CATEGORY_LABELS.get(category, (category, category))
    return zh if language == "zh" else en


def break_totals(breaks: tuple[Break, ...] | list[Break]) -> list[BreakTotal]:
    """Count and amounts of the breaks per category and currency, in the accountants' order."""
    acc: dict[tuple[str, str], list[int]] = {}
    for b in breaks:
        tot = acc.setdefault((b.category, b.currency), [0, 0, 0])
        tot[0] += 1
        tot[1] += b.difference_minor
        tot[2] += abs(b.difference_minor)
    keys = sorted(acc, key=lambda k: (category_order(k[0]), k[1]))
    return [BreakTotal(cat, ccy, *acc[(cat, ccy)]) for cat, ccy in keys]


def payout_difference_minor(p: PayoutLine) -> int | None:
    """What arrived (the bank credit, or the PSP's declared payout until it does) − settled net."""
    arrived = p.bank_credit_minor if p.bank_credit_minor is not None else p.declared_minor
    return None if arrived is None else arrived - p.settled_net_minor


def match_rate(summary: RunSummary) -> Decimal:
    """Matched statement lines / statement lines, exact to 4 places (1 when there are none)."""
    if not summary.statement_lines:
        return Decimal("1.0000")
    rate = Decimal(summary.matched_statement) / Decimal(summary.statement_lines)
    return rate.quantize(Decimal("0.0001"), ROUND_HALF_UP)


def _amount(minor: int | None, currency: str) -> str | None:
    return None if minor is None else str(to_decimal(minor, currency))


def _fee_totals(summary: RunSummary) -> dict[str, dict[str, dict[str, Any]]]:
    """Σ per source and currency (amounts in different currencies are never added)."""
    acc: dict[tuple[str, str], list[int]] = {}
    for r in fee_rows(summary.fees):
        tot = acc.setdefault((r.source, r.currency), [0, 0, 0, 0])
        for i, v in enumerate((r.count, r.gross_minor, r.actual_fee_minor, r.expected_fee_minor)):
            tot[i] += v
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for (source, ccy), (n, g, a, e) in acc.items():
        out.setdefault(source, {})[ccy] = {
            "count": n, "gross": _amount(g, ccy), "actual_fee": _amount(a, ccy),
            "expected_fee": _amount(e, ccy), "variance": _amount(a - e, ccy),
            "effective_rate": format_rate(effective_rate_percent(a, g))}
    return out


def _breaks(summary: RunSummary) -> dict[str, Any]:
    by_category: dict[str, dict[str, Any]] = {}
    for t in break_totals(summary.breaks):
        cat = by_category.setdefault(t.category, {
            "label": category_label(t.category, "en"), "label_zh": category_label(t.category, "zh"),
            "count": 0, "by_currency": {}})
        cat["count"] += t.count
        cat["by_currency"][t.currency] = {
            "count": t.count, "amount": _amount(t.net_minor, t.currency),
            "absolute_amount": _amount(t.absolute_minor, t.currency)}
    return {"total": len(summary.breaks), "by_category": by_category}


def _rate(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _channels(summary: RunSummary) -> list[dict[str, Any]]:
    """Channel health per source, business date and currency, the last 30 days, oldest first."""
    from recon.reports.channels import rates
    out = []
    for c in sorted(summary.channels, key=lambda c: (c.business_date, c.source, c.currency)):
        r = rates(c)
        out.append({
            "source": c.source, "business_date": c.business_date.isoformat(),
            "currency": c.currency, "payments": c.payments, "successful": c.successful,
            "refunds": c.refunds, "chargebacks": c.chargebacks, "lines": c.lines,
            "matched": c.matched, "gross": _amount(c.gross_minor, c.currency),
            "fees": _amount(c.fee_minor, c.currency), "success_rate": _rate(r.success),
            "refund_rate": _rate(r.refund), "chargeback_rate": _rate(r.chargeback),
            "match_rate": _rate(r.match), "fee_rate": _rate(r.fee)})
    return out


def signals_list(summary: RunSummary) -> list[dict[str, Any]]:
    """The day's risk signals (recon/signals.py), in their detection order."""
    return [{"kind": g.kind, "source": g.source, "business_date": g.business_date.isoformat(),
             "currency": g.currency, "observed": g.observed, "baseline": g.baseline,
             "threshold": g.threshold, "reference": g.reference, "detail": mask_pan(g.detail)}
            for g in summary.signals]


def summary_dict(summary: RunSummary) -> dict[str, Any]:
    s = summary
    return {
        "run_id": s.run_id,
        "business_date": s.business_date.isoformat(),
        "started_at": s.started_at.isoformat(),
        "finished_at": s.finished_at.isoformat(),
        "code_version": s.code_version,
        "config_sha256": s.config_sha256,
        "reconciled": s.reconciled,
        "sources": [
            {"source": x.source, "kind": x.kind, "file_name": x.file_name, "sha256": x.sha256,
             "status": x.status, "lines": x.lines, "quarantined": x.quarantined,
             "control_total": mask_pan(x.control_total), "error": mask_pan(x.error)}
            for x in s.sources
        ],
        "counts": {
            "ledger_entries": s.ledger_entries, "statement_lines": s.statement_lines,
            "matched_ledger": s.matched_ledger, "matched_statement": s.matched_statement,
            "quarantined": s.quarantined, "breaks": len(s.breaks),
        },
        "match_rate": str(match_rate(s)),
        "matched_by_rule": dict(s.matched_by_rule),
        "matched_amounts": {
            t.currency: {"count": t.count, "amount": _amount(t.amount_minor, t.currency)}
            for t in s.matched_amounts
        },
        "quarantined": s.quarantined,
        "pending": [{"source": p.source, "currency": p.currency, "items": p.items,
                     "amount": _amount(p.amount_minor, p.currency), "oldest": p.oldest.isoformat(),
                     "age_days": p.age_days} for p in s.pending],
        "breaks": _breaks(s),
        "within_tolerance": {
            "count": len(s.tolerances),
            "by_currency": {ccy: {"count": n, "absolute_amount": _amount(total, ccy)}
                            for ccy, (n, total) in s.within_tolerance.items()},
        },
        "fees": _fee_totals(s),
        "payouts": [
            {"source": p.source, "payout_id": p.payout_id, "currency": p.currency,
             "settled_items": p.settled_items,
             "settled_net": _amount(p.settled_net_minor, p.currency),
             "declared": _amount(p.declared_minor, p.currency),
             "bank_credit": _amount(p.bank_credit_minor, p.currency),
             "bank_line_id": p.bank_line_id,
             "difference": _amount(payout_difference_minor(p), p.currency),
             "status": p.status}
            for p in s.payouts
        ],
        "channels": _channels(s),
        "signals": signals_list(s),
        "positions": [
            {"source": p.source, "merchant": p.merchant, "sub_merchant": p.sub_merchant,
             "currency": p.currency, "lines": p.lines,
             **{k: _amount(v, p.currency) for k, v in (
                 ("payments", p.payments_minor), ("refunds", p.refunds_minor),
                 ("chargebacks", p.chargebacks_minor), ("other", p.other_minor),
                 ("fees", p.fees_minor), ("owed", p.owed_minor),
                 ("in_payouts", p.in_payouts_minor), ("paid", p.paid_minor),
                 ("outstanding", p.outstanding_minor))}}
            for p in s.positions
        ],
        "receivers": [
            {"receiver": p.receiver, "currency": p.currency, "lines": p.lines,
             **{k: _amount(v, p.currency) for k, v in (
                 ("allocated", p.allocated_minor), ("returned", p.returned_minor), ("net", p.net_minor),
                 ("open", p.open_minor), ("ledger_open", p.ledger_open_minor))}}
            for p in s.receivers
        ],
        "roll_forward": [
            {"source": r.source, "currency": r.currency,
             **{f"{k}_count": getattr(r, f"{k}_count") for k in _BRIDGE},
             **{f"{k}_amount": _amount(getattr(r, f"{k}_minor"), r.currency) if r.currency
                else getattr(r, f"{k}_minor") for k in _BRIDGE},
             "check_count": r.check_count, "check_amount": _amount(r.check_minor, r.currency)
             if r.currency else r.check_minor}
            for r in s.bridge],
        "cleared": [
            {"break_id": m.break_id, "category": m.category, "source": m.source,
             "currency": m.currency, "reference": m.reference, "how": m.how,
             "amount": _amount(m.before_minor, m.currency) if m.currency else m.before_minor,
             "why": mask_pan(m.why)}
            for m in cleared(s.movements)],
        "statement_gaps": [
            {"source": g.source, "account": mask_pan(g.account), "currency": g.currency,
             "previous_date": g.previous_date.isoformat(), "business_date": g.business_date.isoformat(),
             "previous_closing": _amount(g.previous_closing_minor, g.currency),
             "opening": _amount(g.opening_minor, g.currency), "previous_sequence": g.previous_sequence,
             "sequence": g.sequence, "balance_gap": g.balance_gap, "sequence_gap": g.sequence_gap}
            for g in s.statement_gaps],
        "tie_out": None if s.tie_out is None else {
            "agrees": not s.tie_out,
            "differences": [{"source": t.source, "currency": t.currency, "check": t.check,
                             "left": t.left, "left_amount": _amount(t.left_minor, t.currency),
                             "right": t.right, "right_amount": _amount(t.right_minor, t.currency),
                             "difference": _amount(t.difference_minor, t.currency)}
                            for t in s.tie_out]},
        "outputs": dict(s.outputs),
    }


_BRIDGE = ("opening", "new", "auto", "resolved", "corrected", "closing")


def summary_json(summary: RunSummary) -> str:
    return json.dumps(summary_dict(summary), ensure_ascii=False, sort_keys=True, indent=2) + "\n"


def write_summary_json(summary: RunSummary, path: Path) -> Path:
    path = Path(path)
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(summary_json(summary), encoding="utf-8")
    tmp.replace(path)
    log.info("Summary JSON: %d sources, %d breaks → %s", len(summary.sources),
             len(summary.breaks), path)
    return path
