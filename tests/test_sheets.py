"""Every sheet of the workbook, reopened: Summary (charts, run id), Breaks (protection,
drop-downs, annotations), Aging, Payouts, Fees, Channels (trend chart), Positions; Chinese labels;
the summary JSON's channel health and positions."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils import get_column_letter

from recon.reports.summary import summary_dict
from recon.reports.workbook import BREAK_COLUMNS, write_workbook
from tests.workbooks import rich_summary, row_of, summary_value, values

UTC = timezone.utc
D = date(2024, 5, 1)
HYPERLINK = '=HYPERLINK("http://x","y")'


@pytest.fixture(scope="module")
def path(tmp_path_factory) -> Path:
    return write_workbook(rich_summary(), tmp_path_factory.mktemp("wb") / "recon.xlsx")


@pytest.fixture(scope="module")
def book(path):
    return openpyxl.load_workbook(path)


def test_workbook_names_its_run(book) -> None:
    props = {p.name: p.value for p in book.custom_doc_props}
    assert props == {"recon_run_id": "run-2024-05-01-a1", "recon_language": "en"}
    assert summary_value(book["Summary"], "run id").value == "run-2024-05-01-a1"


def test_summary_tables_and_charts(book) -> None:
    ws = book["Summary"]
    rows = values(ws)
    assert rows[0] == ["Reconciliation 2024-05-01"]
    assert ["Missing in ledger", 1] in rows and ["Timing (cut-off)", 1] in rows
    assert ["Amount mismatch", 2] in rows  # per category, both currencies
    trend = [r for r in rows if r and r[-1:] == ["run-2024-05-01-a1"] and len(r) == 3]
    assert trend == [[datetime(2024, 5, 1), 0.95, "run-2024-05-01-a1"]]
    assert [datetime(2024, 4, 2), 0.92, "r2"] in rows
    charts = ws._charts
    assert len(charts) == 2
    kinds = sorted(type(c).__name__ for c in charts)
    assert kinds == ["BarChart", "LineChart"]


def test_breaks_sheet_resolution_columns(book) -> None:
    ws = book["Breaks"]
    header = [c.value for c in ws[1]]
    assert header == [h for h, _ in BREAK_COLUMNS]
    col = {h: get_column_letter(i) for i, h in enumerate(header, 1)}
    assert header[5:10] == ["status", "reason", "owner", "due date", "comment"]
    # sortable and filterable in Excel and LibreOffice: no protection of the sheet
    assert ws.protection.sheet is False
    assert ws.column_dimensions[col["row check"]].hidden is True
    assert ws.column_dimensions[col["annotation version"]].hidden is True
    b3 = row_of(ws, "B3")
    # the resolution columns start from the latest annotation
    assert [b3[h].value for h in ("status", "reason", "comment", "annotation version")] == [
        "resolved", "write-off", "written off, ticket 42", 2]
    assert b3["latest annotation"].value == (
        "resolved / write-off: written off, ticket 42 (zchen, 2024-04-22 09:30)")
    assert b3["history"].value == "explained / PSP error: PSP rounding (lwang, 2024-04-21 09:00)"
    assert b3["first seen"].value == datetime(2024, 4, 20) and b3["age (days)"].value == 11
    lists = {str(dv.sqref)[0]: (dv.type, dv.formula1)
             for dv in ws.data_validations.dataValidation}
    assert lists[col["reason"]] == (
        "list", '"timing,fee,bank error,PSP error,ledger error,write-off,escalate"')
    assert lists[col["status"]] == ("list", '"open,pending PSP,explained,resolved"')
    assert lists[col["due date"]][0] == "date"


def test_hyperlink_description_is_a_text_cell(book) -> None:
    cell = row_of(book["Breaks"], "B6")["detail"]
    assert cell.data_type == "s" and cell.value == HYPERLINK and cell.quotePrefix


def test_aging_buckets(book) -> None:
    rows = {(r[0], r[1], r[2]): r[3:] for r in values(book["Aging"])[1:]}
    assert values(book["Aging"])[0] == ["source", "category", "currency", "0-1", "2-3", "4-7",
                                        "8-30", ">30", "total", "amount", "age (days)"]
    assert rows[("alipay", "Amount mismatch", "JPY")] == [0, 0, 0, 1, 0, 1, 20, 11]
    assert rows[("alipay", "Timing (cut-off)", "CNY")] == [0, 0, 0, 0, 1, 1, 5, 61]
    assert rows[("alipay", "Missing in ledger", "CNY")] == [1, 0, 0, 0, 0, 1, 12.3, 0]


def test_channels_sheet_rates_and_trend_chart(book) -> None:
    ws = book["Channels"]
    rows = values(ws)
    assert rows[0][:4] == ["source", "date", "currency", "payment count"]
    stripe = [r for r in rows[1:] if r and r[0] == "stripe"][0]
    assert stripe[10:15] == [1, 0.02, 0.04, pytest.approx(0.9434), 0.032]
    assert ws.cell(row=4, column=11).number_format == "0.00%"
    assert len(ws._charts) == 1 and type(ws._charts[0]).__name__ == "LineChart"
    assert ["date", "alipay CNY match rate", "stripe USD match rate"] in rows
    assert [datetime(2024, 5, 1), 1, pytest.approx(0.9434)] in rows


def test_positions_sheet(book) -> None:
    rows = values(book["Positions"])
    assert rows[0] == ["source", "merchant", "sub-merchant", "currency", "lines", "payments",
                       "refunds", "chargebacks", "other", "fees", "owed", "in payouts", "paid",
                       "outstanding"]
    wx = [r for r in rows if r[0] == "wechatpay"][0]
    assert wx == ["wechatpay", "1900000109", "1900000201", "CNY", 4, 400, 0, 10, -1, 2.4,
                  386.6, 386.6, 380, 6.6]


def test_fees_and_payouts_still_there(book) -> None:
    assert values(book["Fees"])[0][-1] == "effective rate"
    assert values(book["Payouts"])[0][1] == "payout id"


def test_chinese_headers_and_lists(tmp_path: Path) -> None:
    wb = openpyxl.load_workbook(write_workbook(rich_summary(), tmp_path / "zh.xlsx", language="zh"))
    ws = wb["差异明细"]
    header = [c.value for c in ws[1]]
    assert header[:3] == ["差异编号", "类别", "渠道"] and header[5:7] == ["状态", "原因"]
    assert any(dv.formula1 == '"未处理,待渠道回复,已说明,已解决"'
               for dv in ws.data_validations.dataValidation)
    assert values(wb["汇总"])[0] == ["对账汇总 2024-05-01"]
    assert values(wb["账龄"])[0][3] == "0-1天"


def test_summary_json_channel_health_and_positions() -> None:
    d = summary_dict(rich_summary())
    stripe = [c for c in d["channels"] if c["source"] == "stripe"][0]
    assert stripe == {"source": "stripe", "business_date": "2024-05-01", "currency": "USD",
                      "payments": 50, "successful": 50, "refunds": 1, "chargebacks": 2,
                      "lines": 53, "matched": 50, "gross": "5000.00", "fees": "160.00",
                      "success_rate": "1.0000", "refund_rate": "0.0200",
                      "chargeback_rate": "0.0400", "match_rate": "0.9434", "fee_rate": "0.0320"}
    wx = d["positions"][1]
    assert (wx["owed"], wx["paid"], wx["outstanding"]) == ("386.60", "380.00", "6.60")
    assert Decimal(d["positions"][0]["owed"]) == Decimal("944.00")
