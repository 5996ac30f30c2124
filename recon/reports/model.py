"""The typed report model: what one reconciled day says, before any file is written.

The pipeline fills these from the warehouse; the writers (workbook, fee CSV, summary JSON) only
format them. Money stays in integer minor units with its currency; writers convert with
``recon.money.to_decimal``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from datetime import date, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from recon.chain import ChainGap
    from recon.reports.receivers import ReceiverPosition
    from recon.reports.rollforward import BridgeRow, Movement
    from recon.reports.tieout import TieOut

# The accountants' words for each category (English, Simplified Chinese).
CATEGORY_LABELS: dict[str, tuple[str, str]] = {
    "missing_in_ledger": ("Missing in ledger", "长款"),
    "missing_in_statement": ("Missing in statement", "短款"),
    "amount_mismatch": ("Amount mismatch", "金额不符"),
    "currency_mismatch": ("Currency mismatch", "币种不符"),
    "status_mismatch": ("Status mismatch", "状态不符"),
    "duplicate": ("Duplicate", "重复"),
    "timing": ("Timing (cut-off)", "时间差"),
    "fee_variance": ("Fee variance", "手续费差异"),
    "payout_mismatch": ("Payout mismatch", "结算不符"),
    "unsettled": ("Unsettled", "未结算"),
    "ambiguous": ("Ambiguous", "多重匹配"),
    "allocation_mismatch": ("Allocation mismatch", "分账不符"),
}


@dataclass(frozen=True)
class SourceStatus:
    source: str
    kind: str  # psp | bank | ledger
    file_name: str | None  # None when no file arrived
    sha256: str | None
    status: str  # loaded | duplicate (same bytes seen before) | missing | rejected
    lines: int = 0
    quarantined: int = 0
    control_total: str = ""  # "ok", "n/a", or the failure text
    error: str = ""


@dataclass(frozen=True)
class LedgerSide:
    """The ledger entry of a break as the run read it (its latest version up to the run's ledger
    watermark): the entry id and version (recorded_at) identify the row of ``ledger_entries``."""
    entry_id: str
    version: datetime | None
    reference: str | None
    amount_minor: int | None
    currency: str | None
    booked_at: datetime | None
    business_date: date | None
    counterparty: str | None = None
    description: str | None = None
    file_name: str | None = None
    file_line: int | None = None


@dataclass(frozen=True)
class StatementSide:
    """The statement line of a break: the bank's or PSP's own fields, and its file and line."""
    line_id: str
    reference: str | None
    psp_reference: str | None
    payout_id: str | None
    amount_minor: int | None
    currency: str | None
    booked_at: datetime | None
    value_date: date | None
    counterparty: str | None = None
    description: str | None = None
    file_name: str | None = None
    file_line: int | None = None


@dataclass(frozen=True)
class Break:
    break_id: str
    category: str
    source: str
    currency: str
    ledger_amount_minor: int | None
    statement_amount_minor: int | None
    difference_minor: int  # statement − ledger (or found − expected for fee/payout breaks)
    reference: str  # merchant reference, or payout id for payout breaks
    psp_reference: str | None
    booked_at: datetime | None  # UTC; writers show it in the source's timezone
    timezone: str
    ledger_entry_id: str | None
    line_id: str | None
    file_name: str | None
    file_line: int | None
    rule: str  # the rule or check that raised it
    detail: str = ""
    first_seen: date | None = None  # the first business date this break_id was open
    age_days: int | None = None  # business date − first_seen
    ledger: LedgerSide | None = None  # both sides, where the break has them (Breaks sheet)
    statement: StatementSide | None = None


@dataclass(frozen=True)
class Annotation:
    """One accountant's note on a break, from an imported workbook (append-only). ``version``
    counts a break's annotations from 1; a workbook row carries the version it was written with."""
    break_id: str
    status: str  # open | pending_psp | explained | resolved
    reason: str | None  # a code of recon.reports.sheets.breaks.REASONS
    comment: str | None
    who: str
    annotated_at: datetime
    workbook_sha: str | None = None
    version: int = 0
    owner: str | None = None
    due_date: date | None = None


def effective_rate_percent(fee_minor: int, gross_minor: int) -> Decimal | None:
    """``fee / gross`` in percent, 4 places, half-up; None when there is no gross to divide by.
    Both amounts are in the same currency's minor units, so the exponent cancels."""
    if gross_minor == 0:
        return None
    rate = (Decimal(fee_minor) * 100 / Decimal(gross_minor)).quantize(Decimal("0.0001"), ROUND_HALF_UP)
    return abs(rate) if rate.is_zero() else rate  # never "-0.0000%" (no fee on a refund's gross)


@dataclass(frozen=True)
class FeeLine:
    source: str
    business_date: date
    currency: str
    payment_method: str
    txn_type: str
    count: int
    gross_minor: int
    actual_fee_minor: int
    expected_fee_minor: int

    @property
    def variance_minor(self) -> int:
        return self.actual_fee_minor - self.expected_fee_minor

    @property
    def effective_rate_percent(self) -> Decimal | None:
        return effective_rate_percent(self.actual_fee_minor, self.gross_minor)


@dataclass(frozen=True)
class PayoutLine:
    source: str
    payout_id: str
    currency: str
    settled_items: int
    settled_net_minor: int  # Σ net of the items the payout settles
    declared_minor: int | None  # the PSP's payout row, where the format has one
    bank_credit_minor: int | None
    bank_line_id: str | None
    status: str  # matched | payout_mismatch | unsettled | in_transit (credit expected later) | ambiguous
    first_seen: date | None = None  # the business date of its items (earlier: carried unsettled)
    matched_by: str | None = None  # the rule that found its bank credit (payout_reference, payout_amount)
    ledger_entry_id: str | None = None  # the ledger's expected settlement linked this run (ledger_payout)
    ledger_amount_minor: int | None = None  # as booked (its sign is the ledger's)
    ledger_difference_minor: int | None = None  # payout − |ledger amount|


@dataclass(frozen=True)
class DayRate:
    """One business date's latest run: how many statement lines it matched (Summary trend)."""
    business_date: date
    run_id: str
    statement_lines: int
    matched_statement: int


@dataclass(frozen=True)
class ChannelDay:
    """Channel health of one source, business date and currency (counts of statement lines)."""
    source: str
    business_date: date
    currency: str
    payments: int  # payment lines (attempts)
    successful: int  # payment lines not failed/closed/revoked
    refunds: int
    chargebacks: int
    lines: int  # non-payout lines
    matched: int  # of them matched by that date's latest run
    gross_minor: int  # Σ payment amounts
    fee_minor: int  # Σ fees on all lines


@dataclass(frozen=True)
class Position:
    """Net settlement position of one merchant / sub-merchant (分账, 代收代付) and currency."""
    source: str
    merchant: str
    sub_merchant: str  # "" for the merchant's own business
    currency: str
    lines: int
    payments_minor: int
    refunds_minor: int  # positive: money returned to customers
    chargebacks_minor: int  # positive
    other_minor: int  # adjustments and other signed PSP lines
    fees_minor: int  # positive = charged
    in_payouts_minor: int  # Σ net of the lines already in a payout
    paid_minor: int  # what reached the bank for them (payout differences allocated, see clearing)
    fee_returns_minor: int = 0  # of fees_minor: fees given back on refunds, positive
    other_fees_minor: int = 0  # of fees_minor: fees on lines neither payment nor refund

    @property
    def owed_minor(self) -> int:
        """payments − refunds − chargebacks ± other − fees."""
        return (self.payments_minor - self.refunds_minor - self.chargebacks_minor
                + self.other_minor - self.fees_minor)

    @property
    def outstanding_minor(self) -> int:
        return self.owed_minor - self.paid_minor


@dataclass(frozen=True)
class Signal:
    """One risk signal of a channel on the business date (recon/signals.py): what was observed
    against that channel's usual value or its rate card, and the threshold it crossed."""
    kind: str  # success_rate_drop | refund_rate_spike | chargeback_rate_spike | fee_rate_drift | payout_late | large_break | repeated_reference
    source: str
    business_date: date
    currency: str
    observed: str  # a rate ("0.1250"), a number of days, or an amount in the currency's places
    baseline: str  # the channel's usual value, or the rate card's expected rate
    threshold: str
    detail: str = ""
    reference: str | None = None  # the break, payout or payment reference it is about


@dataclass(frozen=True)
class ToleranceLink:
    """A link a rule made within a tolerance (difference ≠ 0): matched, and its difference reported
    on its own (the Tolerances sheet, the Summary). A pair, or an aggregate group (no entry or line
    id; its key as both references, its sums as the amounts). Amounts in the ledger's currency."""
    rule: str
    source: str
    currency: str
    ledger_reference: str | None
    statement_reference: str | None
    ledger_amount_minor: int
    statement_amount_minor: int
    difference_minor: int  # statement − ledger
    ledger_entry_id: str | None = None
    line_id: str | None = None
    items: int = 2  # entries and lines it links


@dataclass(frozen=True)
class CurrencyTotal:
    currency: str
    count: int
    amount_minor: int


@dataclass(frozen=True)
class PendingSource:
    """One source's (and currency's) ledger items waiting for its late statement."""
    source: str
    currency: str
    items: int
    amount_minor: int  # Σ |ledger amount|
    oldest: date  # the earliest business date among them (first seen pending)
    age_days: int  # calendar days from ``oldest`` to the run's business date


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    business_date: date
    started_at: datetime
    finished_at: datetime
    code_version: str
    config_sha256: str
    sources: tuple[SourceStatus, ...]
    ledger_entries: int
    statement_lines: int
    matched_ledger: int
    matched_statement: int
    matched_by_rule: dict[str, int]
    matched_amounts: tuple[CurrencyTotal, ...]
    quarantined: int
    breaks: tuple[Break, ...]
    fees: tuple[FeeLine, ...] = ()
    payouts: tuple[PayoutLine, ...] = ()
    annotations: dict[str, tuple[Annotation, ...]] = field(default_factory=dict)  # oldest first
    history: tuple[DayRate, ...] = ()  # the last 30 business dates, oldest first
    channels: tuple[ChannelDay, ...] = ()  # the last 30 business dates
    positions: tuple[Position, ...] = ()
    signals: tuple[Signal, ...] = ()  # risk signals of the business date (recon/signals.py)
    tolerances: tuple[ToleranceLink, ...] = ()  # links made within a tolerance (difference ≠ 0)
    check_key: str = ""  # the warehouse's key for the Breaks rows' check values (recon/reports/rowcheck.py)
    # Since the run whose open items this one carried (recon/reports/rollforward.py): each
    # break's move, the roll-forward per source and currency, and bank statement gaps (chain.py).
    movements: tuple[Movement, ...] = ()
    bridge: tuple[BridgeRow, ...] = ()
    statement_gaps: tuple[ChainGap, ...] = ()
    tie_out: tuple[TieOut, ...] | None = None  # the offending differences (recon/reports/tieout.py)
    outputs: dict[str, str] = field(default_factory=dict)  # name → path
    pending: tuple[PendingSource, ...] = ()  # ledger items waiting for a late source (recon/pending.py)
    receivers: tuple[ReceiverPosition, ...] = ()  # split settlement (分账) per receiver

    @property
    def breaks_by_category(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for b in self.breaks:
            out[b.category] = out.get(b.category, 0) + 1
        return dict(sorted(out.items()))

    @property
    def within_tolerance(self) -> dict[str, tuple[int, int]]:
        """Links made within a tolerance per currency: (count, Σ |difference|), by currency."""
        out: dict[str, tuple[int, int]] = {}
        for t in self.tolerances:
            n, total = out.get(t.currency, (0, 0))
            out[t.currency] = (n + 1, total + abs(t.difference_minor))
        return dict(sorted(out.items()))

    @property
    def match_rate(self) -> float:
        """Share of statement lines matched — a ratio for display, never money."""
        return self.matched_statement / self.statement_lines if self.statement_lines else 1.0

    @property
    def reconciled(self) -> bool:
        """Nothing open: no break, no quarantined line, every source's file loaded."""
        return (not self.breaks and not self.quarantined and not self.pending
                and all(s.status in ("loaded", "corrected", "duplicate") for s in self.sources))
