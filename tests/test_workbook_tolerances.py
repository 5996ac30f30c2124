"""Links made within a tolerance are never silent: the Tolerances sheet lists each, the Summary
counts them with Σ |difference| per currency, summary.json carries the same (both languages)."""
from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import openpyxl

from recon.reports.model import ToleranceLink
from recon.reports.summary import summary_json
from recon.reports.workbook import write_workbook
from tests.test_workbook import make_summary

LINKS = (
    ToleranceLink("reference_tolerance", "alipay", "CNY", "ORD1", "ord-1", 10000, 10001, 1, "L1", "S1"),
    ToleranceLink("reversal_reference", "alipay", "CNY", "CRN7", "RFD7", -2500, -2502, -2, "L7", "S7"),
    ToleranceLink("aggregate_reference", "stripe", "USD", "ORD9", "ORD9", 30000, 29995, -5, items=3),
)


def values(ws):
    """The sheet's values; numbers Excel stores as doubles read back as the decimals they show."""
    return [[Decimal(str(c)) if isinstance(c, float) else c for c in row] for row in ws.iter_rows(values_only=True)]


def test_the_tolerances_sheet_lists_each_link_in_major_units(tmp_path: Path) -> None:
    wb = openpyxl.load_workbook(write_workbook(replace(make_summary(), tolerances=LINKS), tmp_path / "t.xlsx"))
    rows = values(wb["Tolerances"])
    assert rows[0] == ["rule", "source", "currency", "ledger reference", "statement reference", "ledger amount",
                       "statement amount", "difference", "items", "ledger entry", "statement line"]
    assert rows[1:] == [
        ["reference_tolerance", "alipay", "CNY", "ORD1", "ord-1", 100, Decimal("100.01"), Decimal("0.01"), 2,
         "L1", "S1"],
        ["reversal_reference", "alipay", "CNY", "CRN7", "RFD7", -25, Decimal("-25.02"), Decimal("-0.02"), 2,
         "L7", "S7"],
        ["aggregate_reference", "stripe", "USD", "ORD9", "ORD9", 300, Decimal("299.95"), Decimal("-0.05"), 3,
         None, None],
    ]
    summary = values(wb["Summary"])
    assert ["linked within tolerance", 3] in [r[:2] for r in summary]
    at = next(i for i, r in enumerate(summary) if r[0] == "Linked within tolerance")
    assert [r[:3] for r in summary[at + 1:at + 4]] == [["currency", "count", "sum of |differences|"],
                                                        ["CNY", 2, Decimal("0.03")], ["USD", 1, Decimal("0.05")]]


def test_the_chinese_edition_names_them_in_chinese(tmp_path: Path) -> None:
    wb = openpyxl.load_workbook(write_workbook(replace(make_summary(), tolerances=LINKS), tmp_path / "zh.xlsx",
                                               language="zh"))
    rows = values(wb["容差匹配"])
    assert rows[0][:5] == ["规则", "渠道", "币种", "账面订单号", "对账单订单号"]
    assert rows[2][0] == "原订单号匹配(退款/拒付)"
    assert ["容差内匹配笔数", 3] in [r[:2] for r in values(wb["汇总"])]


def test_summary_json_counts_them_per_currency() -> None:
    data = json.loads(summary_json(replace(make_summary(), tolerances=LINKS)))
    assert data["within_tolerance"] == {"count": 3, "by_currency": {
        "CNY": {"count": 2, "absolute_amount": "0.03"}, "USD": {"count": 1, "absolute_amount": "0.05"}}}
    assert json.loads(summary_json(make_summary()))["within_tolerance"] == {"count": 0, "by_currency": {}}
