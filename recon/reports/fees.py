"""The fee report: actual against contracted fees per source, day, currency, method and type.

A CSV for Excel (UTF-8 with BOM, CRLF) whose amounts are exact decimal text in the currency's
places and whose effective rate is computed with Decimal from minor units: ``actual fee / gross``
as a percentage with 4 places, half-up (``0.6000%``). Nothing here passes through a float.
"""
from __future__ import annotations

import csv
import logging
from decimal import Decimal
from pathlib import Path

from recon.money import to_decimal
from recon.reports.model import FeeLine, RunSummary, effective_rate_percent
from recon.reports.safe import excel_text

log = logging.getLogger(__name__)

__all__ = ["FEE_COLUMNS", "effective_rate_percent", "fee_rows", "format_rate", "write_fee_report"]
FEE_COLUMNS = ("source", "business_date", "currency", "payment_method", "txn_type", "count",
               "gross", "actual_fee", "expected_fee", "variance", "effective_rate")


def fee_rows(fees: tuple[FeeLine, ...] | list[FeeLine]) -> list[FeeLine]:
    """The report's rows: fee lines of the same source/date/currency/method/type summed, sorted."""
    acc: dict[tuple, list[int]] = {}
    for f in fees:
        key = (f.source, f.business_date, f.currency, f.payment_method, f.txn_type)
        tot = acc.setdefault(key, [0, 0, 0, 0])
        tot[0] += f.count
        tot[1] += f.gross_minor
        tot[2] += f.actual_fee_minor
        tot[3] += f.expected_fee_minor
    return [FeeLine(*key, *tot) for key, tot in sorted(acc.items())]


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
                excel_text(r.source, mask=False), r.business_date.isoformat(), excel_text(ccy, mask=False),
                excel_text(r.payment_method, mask=False), excel_text(r.txn_type, mask=False),
                r.count,
                to_decimal(r.gross_minor, ccy), to_decimal(r.actual_fee_minor, ccy),
                to_decimal(r.expected_fee_minor, ccy), to_decimal(r.variance_minor, ccy),
                format_rate(r.effective_rate_percent),
            ))
    tmp.replace(path)
    log.info("Fee report: %d rows from %d fee lines → %s", len(rows), len(summary.fees), path)
    return path
