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


def test_a_run_with_an_opted_in_tolerance_counts_and_lists_its_link(tmp_path: Path, cfg) -> None:
    """End to end: the cascade links ORD1 0.01 apart within amount_tolerance_minor = 1; the run's
    report model (recon.assemble) counts it in summary.json and lists it on the Tolerances sheet;
    the exact pair ORD2 is in neither."""
    from datetime import datetime, timezone

    from recon import ratecard, warehouse
    from recon.assemble import build_summary
    from tests.tables import D, delivered, ledger, run_day, stmt, ts, with_matching

    cfg = replace(with_matching(cfg, "wechatpay", amount_tolerance_minor=1), warehouse=tmp_path / "w.duckdb")
    con = warehouse.connect(cfg.warehouse)
    try:
        warehouse.load_rate_cards(con, {s.name: ratecard.load(s.rate_card) for s in cfg.sources if s.rate_card})
        st = stmt(dict(merchant_reference="ORD1", amount_minor=10001, fee_minor=60, booked_at=ts(1)),
                  dict(merchant_reference="ORD2", amount_minor=5000, fee_minor=30, booked_at=ts(2)))
        warehouse.insert_frame(con, "statement_lines", st)
        delivered(con, st)
        warehouse.load_ledger(con, ledger(dict(entry_id="L1", merchant_reference="ORD1", amount_minor=10000,
                                               booked_at=ts(1)),
                                          dict(entry_id="L2", merchant_reference="ORD2", amount_minor=5000,
                                               booked_at=ts(2))),
                              sha256="l" * 64, recorded_at=datetime(2026, 11, 22, tzinfo=timezone.utc))
        run_day(con, cfg)
    finally:
        con.close()
    summary = build_summary(cfg, f"run-{D}", D, datetime(2026, 11, 22, tzinfo=timezone.utc), [])
    assert [b.category for b in summary.breaks if b.category != "fee_variance"] == []
    data = json.loads(summary_json(summary))
    assert data["within_tolerance"] == {"count": 1, "by_currency": {"CNY": {"count": 1, "absolute_amount": "0.01"}}}
    rows = values(openpyxl.load_workbook(write_workbook(summary, tmp_path / "t.xlsx"))["Tolerances"])
    assert rows[1:] == [["reference_tolerance", "wechatpay", "CNY", "ORD1", "ORD1", 100, Decimal("100.01"),
                         Decimal("0.01"), 2, "L1", "f" * 16 + ":2"]]
