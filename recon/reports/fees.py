"""The fee report: actual against contracted fees per source, day, currency, method and type.

A CSV for Excel (UTF-8 with BOM, CRLF) whose amounts are exact decimal text in the currency's
places and whose effective rate is computed with Decimal from minor units: ``actual fee / gross``
as a percentage with 4 places, half-up (``0.6000%``). Nothing here passes through a float.
"""
from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from recon.money import to_decimal
from recon.reports.model import FeeLine, RunSummary
from recon.reports.safe import excel_text

log = logging.getLogger(__name__)

RATE_PLACES = Decimal("0.0001")  # of a percent
FEE_COLUMNS = ("source", "business_date", "currency", "payment_method", "txn_type", "count",
               "gross", "actual_fee", "expected_fee", "variance", "effective_rate")


@dataclass(frozen=True)
class FeeRow:
    """One line of the fee report: FeeLines of the same key summed."""

    source: str
    business_date: str  # ISO date
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


def effective_rate_percent(fee_minor: int, gross_minor: int) -> Decimal | None:
    """``fee / gross`` in percent, 4 places, half-up; None when there is no gross to divide by.

    Both amounts are in the same currency's minor units, so the exponent cancels.
    """
    if gross_minor == 0:
        return None
    return (Decimal(fee_minor) * 100 / Decimal(gross_minor)).quantize(RATE_PLACES, ROUND_HALF_UP)


def fee_rows(fees: tuple[FeeLine, ...] | list[FeeLine]) -> list[FeeRow]:
    """The report's rows: one per source/date/currency/method/type, in that sort order."""
    acc: dict[tuple[str, str, str, str, str], list[int]] = {}
    for f in fees:
        key = (f.source, f.business_date.isoformat(), f.currency, f.payment_method, f.txn_type)
        tot = acc.setdefault(key, [0, 0, 0, 0])
        tot[0] += f.count
        tot[1] += f.gross_minor
        tot[2] += f.actual_fee_minor
        tot[3] += f.expected_fee_minor
    return [FeeRow(*key, *tot) for key, tot in sorted(acc.items())]


def format_rate(rate: Decimal | None) -> str:
    return "" if rate is None else f"{rate}%"


def write_fee_report(summary: RunSummary, path: Path) -> Path:
    path = Path(path)
    rows = fee_rows(summary.fees)
    tmp = path.with_name(path.name + ".partial")
    with tmp.open("w", encoding="utf-8-sig", newline="") as fh:
        out = csv.writer(fh, lineterminator="\r\n")
        out.writerow(FEE_COLUMNS)
        for r in rows:
            ccy = r.currency
            out.writerow((
                excel_text(r.source, mask=False), r.business_date, excel_text(ccy, mask=False),
                excel_text(r.payment_method, mask=False), excel_text(r.txn_type, mask=False),
                r.count,
                to_decimal(r.gross_minor, ccy), to_decimal(r.actual_fee_minor, ccy),
                to_decimal(r.expected_fee_minor, ccy), to_decimal(r.variance_minor, ccy),
                format_rate(r.effective_rate_percent),
            ))
    tmp.replace(path)
    log.info("Fee report: %d rows from %d fee lines → %s", len(rows), len(summary.fees), path)
    return path
