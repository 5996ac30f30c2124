"""The workbook accountants work in, reopened: both sides of a break, sortable Breaks sheet,
print settings, the Chinese edition, the Channels trend scaled to its data."""
from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, datetime, timezone
from pathlib import Path

import openpyxl
import pytest

from recon.reports.model import ChannelDay, LedgerSide, StatementSide
from recon.reports.workbook import write_workbook
from tests.workbooks import brk, make_summary, rich_summary, row_of, values

UTC = timezone.utc
D = date(2024, 5, 1)
USD2 = "#,##0.00;[Red]-#,##0.00"


def two_sided():
    mismatch = replace(brk(
        "AM", "amount_mismatch", "USD", 30298, 30000, source="stripe", timezone="UTC",
        ledger_entry_id="LE-9", line_id="f1:7", rule="reference_mismatch",
        detail="same reference; ledger USD 30298, statement USD 30000 (minor units)"),
        ledger=LedgerSide("LE-9", datetime(2024, 5, 1, 23, 5, tzinfo=UTC), "INV-9", 30298, "USD",
                          datetime(2024, 5, 1, 9, 0, tzinfo=UTC), D, "ACME Ltd", "invoice 9",
                          "ledger_20240501.csv", 41),
        statement=StatementSide("f1:7", "INV-9", "ch_9", "po_77", 30000, "USD",
                                datetime(2024, 5, 1, 9, 1, tzinfo=UTC), date(2024, 5, 3),
                                "ACME LTD", "Payment INV-9", "stripe_20240501.csv", 7))
    fee = replace(brk(
        "FV", "fee_variance", "CNY", 600, 650, ledger_entry_id=None, line_id="f2:3",
        rule="rate_card", detail="fee charged 650 vs contracted 600 (minor units)"),
        statement=StatementSide("f2:3", "ORD-3", "2024050122001", None, 100000, "CNY",
                                datetime(2024, 5, 1, 2, 0, tzinfo=UTC), D, "张三", "商品",
                                "alipay_20240501.csv", 3))
    payout = brk("PM", "payout_mismatch", "USD", 1578651, 1555021, reference="po_1",
                 ledger_entry_id=None, line_id="bank:6", rule="three_way_payout",
                 detail="bank credited 1555021 in 1 line(s), payout 1578651 (minor units)")
    return replace(make_summary((mismatch, fee, payout)), check_key="k")


@pytest.fixture(scope="module")
def sided(tmp_path_factory):
    return openpyxl.load_workbook(write_workbook(two_sided(),
                                                 tmp_path_factory.mktemp("wb") / "s.xlsx"))


def test_the_breaks_sheet_sorts_and_filters(sided) -> None:
    ws = sided["Breaks"]
    # Excel never sorts locked cells of a protected sheet: no protection at all
    assert ws.protection.sheet is False
    assert ws.auto_filter.ref.startswith("A1:")


def test_an_amount_mismatch_shows_both_sides(sided) -> None:
    am = {h: c.value for h, c in row_of(sided["Breaks"], "AM").items()}
    assert {h: am[h] for h in ("ledger entry", "ledger version", "ledger reference",
                               "ledger amount", "ledger booked at", "ledger date",
                               "ledger counterparty", "ledger description", "ledger file",
                               "ledger line")} == {
        "ledger entry": "LE-9", "ledger version": datetime(2024, 5, 1, 23, 5),
        "ledger reference": "INV-9", "ledger amount": 302.98,
        "ledger booked at": datetime(2024, 5, 1, 9, 0), "ledger date": datetime(2024, 5, 1),
        "ledger counterparty": "ACME Ltd", "ledger description": "invoice 9",
        "ledger file": "ledger_20240501.csv", "ledger line": 41}
    assert {h: am[h] for h in ("statement reference", "PSP reference", "payout id",
                               "statement amount", "statement booked at", "value date",
                               "counterparty", "description", "file", "line")} == {
        "statement reference": "INV-9", "PSP reference": "ch_9", "payout id": "po_77",
        "statement amount": 300, "statement booked at": datetime(2024, 5, 1, 9, 1),
        "value date": datetime(2024, 5, 3), "counterparty": "ACME LTD",
        "description": "Payment INV-9", "file": "stripe_20240501.csv", "line": 7}
    assert am["difference"] == -2.98
    assert am["detail"] == "same reference; ledger USD 302.98, statement USD 300.00"
    row = row_of(sided["Breaks"], "AM")
    assert row["ledger amount"].number_format == USD2 and row["ledger amount"].data_type == "n"
    assert (am["actual fee"], am["expected fee"]) == (None, None)


def test_a_fee_variance_has_its_fees_in_their_own_columns(sided) -> None:
    fv = {h: c.value for h, c in row_of(sided["Breaks"], "FV").items()}
    assert (fv["actual fee"], fv["expected fee"], fv["difference"]) == (6.5, 6, 0.5)
    assert fv["ledger amount"] is None  # not the expected fee any more
    assert fv["statement amount"] == 1000  # the payment the fee was charged on
    assert fv["detail"] == "fee charged CNY 6.50 vs contracted CNY 6.00"
    assert (fv["counterparty"], fv["file"], fv["line"]) == ("张三", "alipay_20240501.csv", 3)


def test_a_payout_break_has_the_items_net_in_its_own_column(sided) -> None:
    pm = {h: c.value for h, c in row_of(sided["Breaks"], "PM").items()}
    assert (pm["ledger amount"], pm["statement amount"], pm["payout items net"]) == (
        None, 15550.21, 15786.51)
    assert pm["payout id"] == "po_1" and pm["difference"] == -236.3
    assert pm["detail"] == "bank credited USD 15550.21 in 1 line(s), payout USD 15786.51"


def test_print_settings_of_every_sheet(tmp_path: Path) -> None:
    wb = openpyxl.load_workbook(write_workbook(rich_summary(), tmp_path / "p.xlsx"))
    for ws in wb.worksheets:
        assert ws.page_setup.orientation == "landscape" and ws.page_setup.paperSize == 9
        assert ws.oddHeader.left.text == "business date 2024-05-01"
        assert ws.oddHeader.right.text == "&A"
        assert ws.oddFooter.left.text == "run id run-2024-05-01-a1"
        assert ws.oddFooter.right.text == "page &P of &N"
        if ws.title != "Summary":
            assert ws.print_title_rows == "$1:$1"  # the header row on every page
    breaks = wb["Breaks"]
    # too wide for one readable page: several pages wide, break id repeated on each
    assert breaks.page_setup.fitToWidth >= 3 and breaks.page_setup.fitToHeight == 0
    assert breaks.print_title_cols == "$A:$A"
    assert wb["Fees"].page_setup.fitToWidth == 1  # 11 columns fit one page


def _has_cjk(text: str) -> bool:
    return bool(re.search(r"[\u3000-\u9fff\uff00-\uffef]", text))


def test_the_chinese_edition_is_complete(tmp_path: Path) -> None:
    wb = openpyxl.load_workbook(write_workbook(rich_summary(), tmp_path / "zh.xlsx",
                                               language="zh"))
    assert wb.sheetnames == ["汇总", "差异明细", "已清差异", "账龄", "结算单", "手续费", "渠道", "结算头寸", "容差匹配", "分账接收方"]
    for ws in wb.worksheets:
        header = [c.value for c in ws[1] if isinstance(c.value, str)]
        assert header and all(_has_cjk(h) for h in header), (ws.title, header)
        assert ws.oddFooter.right.text == "第 &P 页，共 &N 页"
    summary = values(wb["汇总"])
    labels = [r[0] for r in summary if r and isinstance(r[0], str)]
    codes = {"alipay", "stripe", "icbc", "CNY", "JPY", "USD"}  # source names, ISO currencies
    english = [t for t in labels
               if re.fullmatch(r"[A-Za-z][A-Za-z ()|,0-9-]*", t) and t not in codes]
    assert english == [], english  # headings, facts, "started at (UTC)" …
    assert ["开始时间(UTC)", datetime(2024, 5, 2, 1, 15)] in summary
    assert any(r[:2] == ["alipay", "支付渠道"] for r in summary if len(r) > 1)
    breaks = wb["差异明细"]
    names = [c.value for c in breaks[1]]
    b3 = dict(zip(names, next(r for r in breaks.iter_rows(values_only=True) if r[0] == "B3")))
    assert b3["规则"] == "订单号精确匹配"
    assert b3["状态"] == "已解决" and b3["原因"] == "核销"
    payouts = values(wb["结算单"])
    assert payouts[1][8] == "结算不符" and payouts[2][8] == "未结算"
    assert sorted(r[4] for r in values(wb["手续费"])[1:]) == sorted(["收款", "退款", "拒付"])


def test_detail_texts_in_chinese_and_major_units(tmp_path: Path) -> None:
    wb = openpyxl.load_workbook(write_workbook(two_sided(), tmp_path / "zh.xlsx", language="zh"))
    ws = wb["差异明细"]
    names = [c.value for c in ws[1]]
    rows = {r[0]: dict(zip(names, r)) for r in ws.iter_rows(min_row=2, values_only=True)}
    assert rows["AM"]["说明"] == "订单号相同；账面 USD 302.98，对账单 USD 300.00"
    assert rows["FV"]["说明"] == "实收手续费 CNY 6.50，合同应收 CNY 6.00"
    assert rows["FV"]["规则"] == "费率卡"


def test_channels_axis_follows_the_data_and_a_first_day_has_a_note(tmp_path: Path) -> None:
    wb = openpyxl.load_workbook(write_workbook(rich_summary(), tmp_path / "c.xlsx"))
    chart = wb["Channels"]._charts[0]
    # the rates run 94-100 %: the axis ends at 100 %, never 120 %
    assert (chart.y_axis.scaling.min, chart.y_axis.scaling.max) == (0, 1)
    low = replace(rich_summary(), channels=(
        ChannelDay("alipay", date(2024, 4, 30), "CNY", 100, 98, 3, 1, 100, 40, 1_000_000, 6_000),
        ChannelDay("alipay", D, "CNY", 100, 98, 3, 1, 100, 52, 1_000_000, 6_000)))
    chart = openpyxl.load_workbook(write_workbook(low, tmp_path / "l.xlsx"))["Channels"]._charts[0]
    assert chart.y_axis.scaling.max == pytest.approx(0.6)  # 52 % rounded up to the next 10 %
    first = replace(rich_summary(), channels=(rich_summary().channels[1],))
    ws = openpyxl.load_workbook(write_workbook(first, tmp_path / "f.xlsx"))["Channels"]
    assert ws._charts == []
    assert ["The match rate trend starts with the second business date: only one so far."] in \
        values(ws)
