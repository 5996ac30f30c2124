"""Channel health (per source, business date and currency) and break aging: the arithmetic.

Rates are exact Decimals to 4 places (half-up) computed from counts or minor units, never floats:
success = successful payments / payment lines; refund and chargeback rates per payment line;
match = matched lines / lines of the date's latest run; fee = Σ fees / Σ payment gross.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from recon.reports.model import Break, ChannelDay

PLACES = Decimal("0.0001")
AGE_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0-1", 0, 1), ("2-3", 2, 3), ("4-7", 4, 7), ("8-30", 8, 30), (">30", 31, None))


def ratio(num: int, den: int) -> Decimal | None:
    if not den:
        return None
    return (Decimal(num) / Decimal(den)).quantize(PLACES, ROUND_HALF_UP)


@dataclass(frozen=True)
class ChannelRates:
    success: Decimal | None
    refund: Decimal | None
    chargeback: Decimal | None
    match: Decimal | None
    fee: Decimal | None


def rates(c: ChannelDay) -> ChannelRates:
    return ChannelRates(ratio(c.successful, c.payments), ratio(c.refunds, c.payments),
                        ratio(c.chargebacks, c.payments), ratio(c.matched, c.lines),
                        ratio(c.fee_minor, c.gross_minor))


def bucket(age_days: int | None) -> str:
    age = max(age_days or 0, 0)
    for name, lo, hi in AGE_BUCKETS:
        if age >= lo and (hi is None or age <= hi):
            return name
    return AGE_BUCKETS[-1][0]


@dataclass(frozen=True)
class AgingRow:
    source: str
    category: str
    currency: str
    counts: tuple[int, ...]  # per AGE_BUCKETS
    absolute_minor: int  # Σ |difference|
    oldest_days: int


def aging(breaks: tuple[Break, ...] | list[Break]) -> list[AgingRow]:
    names = [b[0] for b in AGE_BUCKETS]
    acc: dict[tuple[str, str, str], list[int]] = {}
    for b in breaks:
        row = acc.setdefault((b.source, b.category, b.currency), [0] * (len(names) + 2))
        row[names.index(bucket(b.age_days))] += 1
        row[-2] += abs(b.difference_minor)
        row[-1] = max(row[-1], b.age_days or 0)
    return [AgingRow(s, c, ccy, tuple(v[:-2]), v[-2], v[-1])
            for (s, c, ccy), v in sorted(acc.items())]
