"""PSP formats of issue 3, each built in its documented layout with its quirks (tests/psp_samples.py)."""
from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime

import polars as pl
import pytest

from recon.errors import IntegrityError, ParseError
from schemas import registry
from schemas.canonical import STATEMENT_COLUMNS
from tests import psp_samples as s

DAY = date(2026, 11, 21)


def parse(data: bytes, name: str, fmt: str | None = None, tz="Asia/Shanghai", options=None):
    found = registry.identify(data, name)
    if fmt:
        assert found == fmt
    parsed = registry.parse(found, data, name=name, source="psp", sha256=hashlib.sha256(data).hexdigest(),
                            business_date=DAY, timezone=tz, options=options)
    assert parsed.frame.schema == pl.Schema(STATEMENT_COLUMNS)
    for c in ("amount_minor", "fee_minor", "net_minor", "orig_amount_minor"):
        assert parsed.frame.schema[c] == pl.Int64
    assert_attributes_match_raw(parsed.frame, registry.card_type_field(found))
    return parsed


def assert_attributes_match_raw(frame: pl.DataFrame, card_field: str | None) -> None:
    """The canonical merchant_id / sub_merchant_id / card_type hold what the positions and the fee
    check read out of raw before those columns existed: the first non-empty of the same fields."""
    def first(raw: dict, fields) -> str:
        return next((raw[f] for f in fields if raw.get(f)), "")
    for row in frame.select("merchant_id", "sub_merchant_id", "card_type", "raw").to_dicts():
        raw = json.loads(row["raw"])
        assert row["merchant_id"] == first(raw, ("商户号", "account")), row
        assert row["sub_merchant_id"] == first(
            raw, ("特约商户号", "connected_account", "payment_metadata[sub_merchant]")), row
        assert row["card_type"] == (None if card_field is None else raw.get(card_field) or ""), row


def col(parsed, name):
    return parsed.frame[name].to_list()


def test_wechat_fundflow_signs_types_payout_and_totals():
    p = parse(s.wx_fundflow(), "fundflow.csv", "wechatpay_fundflow")
    assert col(p, "txn_type") == ["payment", "fee", "refund", "payout"]
    assert col(p, "amount_minor") == [10000, -60, -3000, -100000]
    assert col(p, "payout_id") == [None, None, None, "WD20261121"]
    assert col(p, "merchant_reference")[2] == "RFD0001"
    assert col(p, "booked_at")[0] == datetime(2026, 11, 21, 1, 15, 2, tzinfo=UTC)
    assert col(p, "file_line") == [2, 3, 4, 5]
    assert all(c.ok for c in p.checks) and len(p.checks) == 6


def test_wechat_fundflow_summary_off_by_one_cent():
    with pytest.raises(IntegrityError) as err:
        parse(s.wx_fundflow(summary=("4", "1", "100.00", "3", "1030.61")), "f.csv")
    assert err.value.expected == "1030.61" and err.value.found == "1030.60"


def test_wechat_fundflow_broken_running_balance():
    rows = [("2026-11-21 09:15:02", "1", "F1", "交易", "交易", "收入", "100.00", "1100.00", "", "", "O1"),
            ("2026-11-21 09:16:02", "2", "F2", "交易", "交易", "收入", "50.00", "1149.00", "", "", "O2")]
    with pytest.raises(IntegrityError, match="账户结余") as err:
        parse(s.wx_fundflow(rows, ("2", "2", "150.00", "0", "0.00")), "f.csv")
    assert (err.value.expected, err.value.found) == ("1150.00", "1149.00")


def test_wechat_fundflow_unknown_business_type_is_quarantined():
    rows = [("2026-11-21 09:15:02", "1", "F1", "神秘", "神秘业务", "收入", "1.00", "1.00", "", "", "O1")]
    p = parse(s.wx_fundflow(rows, ("1", "1", "1.00", "0", "0.00")), "f.csv")
    assert p.frame.height == 0
    q = p.quarantine.row(0, named=True)
    assert (q["file_line"], q["field"], q["value"]) == (2, "txn_type", "神秘业务")


def test_alipay_trade_gbk_padded_with_footer_totals():
    p = parse(s.alipay_trade(), "20881234_20261121_业务明细.csv", "alipay_trade")
    assert col(p, "txn_type") == ["payment", "payment", "refund"]
    assert col(p, "amount_minor") == [10000, 5000, -3000]
    assert col(p, "fee_minor") == [60, 30, -18]
    assert col(p, "net_minor") == [9940, 4970, -2982]
    assert col(p, "psp_reference")[0] == "2026112122001"
    assert col(p, "merchant_reference") == ["ORD0001", "ORD0002", "RFD0001"]
    assert col(p, "file_line") == [6, 7, 8]
    assert len(p.checks) == 6 and all(c.ok for c in p.checks)


def test_alipay_trade_zipped_with_summary_member():
    data = s.zipped({"20881234_20261121_业务明细.csv": s.alipay_trade(),
                     "20881234_20261121_业务明细(汇总).csv": "#支付宝业务汇总查询\n".encode("gbk")})
    p = parse(data, "20881234_20261121.csv.zip", "alipay_trade")
    assert col(p, "amount_minor") == [10000, 5000, -3000]


def test_alipay_trade_footer_count_wrong():
    footer = ["#交易合计：3笔，商家实收共150.00元", "#退款合计：1笔，商家实收共-30.00元"]
    with pytest.raises(IntegrityError, match="交易合计") as err:
        parse(s.alipay_trade(footer=footer), "b.csv")
    assert (err.value.expected, err.value.found) == ("3", "2")


def test_alipay_trade_footer_sum_wrong():
    footer = ["#交易合计：2笔，共150.01元", "#退款合计：1笔，共-30.00元"]
    with pytest.raises(IntegrityError) as err:
        parse(s.alipay_trade(footer=footer), "b.csv")
    assert (err.value.expected, err.value.found) == ("150.01", "150.00")


def test_alipay_trade_without_end_marker_is_a_parse_error():
    data = s.alipay_trade().replace("#-----------------------------------------业务明细列表结束".encode("gbk"), b"#")
    with pytest.raises(ParseError, match="列表结束"):
        parse(data, "b.csv")


def test_alipay_account_movements_payout_and_balance():
    p = parse(s.alipay_account(), "账务明细.csv", "alipay_account")
    assert col(p, "txn_type") == ["payment", "fee", "payout"]
    assert col(p, "amount_minor") == [10000, -60, -100000]
    assert col(p, "payout_id") == [None, None, "TX20261121"]
    assert col(p, "bank_reference") == ["A001", "A002", "A003"]
    assert all(c.ok for c in p.checks)


def test_alipay_account_expense_total_wrong():
    with pytest.raises(IntegrityError, match="支出合计"):
        parse(s.alipay_account(footer=["#支出合计：2笔，共-1000.00元", "#收入合计：1笔，共100.00元"]), "a.csv")


@pytest.mark.parametrize("order", ["v1", "reordered"])
def test_adyen_both_column_orders(order):
    columns = s.ADYEN_V1 if order == "v1" else list(reversed(s.ADYEN_V1))
    p = parse(s.adyen(columns, bom=order == "reordered"), "settlement_detail_report_batch_42.csv",
              "adyen_settlement")
    assert col(p, "txn_type") == ["payment", "payment", "refund", "fee", "transfer", "payout"]
    assert col(p, "amount_minor") == [10000, 4600, -3000, -200, 1000, -12140]
    assert col(p, "fee_minor") == [150, 100, 10, None, None, None]
    assert col(p, "net_minor") == [9850, 4500, -3010, -200, 1000, -12140]
    assert col(p, "currency") == ["EUR"] * 6
    assert col(p, "orig_amount_minor")[1] == 5000 and col(p, "orig_currency")[1] == "USD"
    assert col(p, "fx_rate")[1] == "0.92"
    assert col(p, "psp_reference")[2] == "8815901" and col(p, "original_reference")[2] == "8815001"
    assert col(p, "merchant_reference")[2] == "RFD0001"
    assert set(col(p, "payout_id")) == {"AcmeEU:42"}
    assert col(p, "booked_at")[0] == datetime(2026, 11, 21, 9, 15, 2, tzinfo=UTC)
    assert [c.ok for c in p.checks] == [True]


def test_adyen_payout_not_matching_batch():
    rows = [dict(r) for r in s.ADYEN_ROWS]
    rows[-1]["Net Debit (NC)"] = "121.41"
    with pytest.raises(IntegrityError, match="MerchantPayout") as err:
        parse(s.adyen(rows=rows), "sdr.csv")
    assert (err.value.expected, err.value.found) == ("121.41", "121.40")


@pytest.mark.parametrize("decimal", [".", ","])
def test_paypal_activity_both_locales_and_conversion_link(decimal):
    p = parse(s.paypal_activity(decimal), "Download.CSV", "paypal_activity", tz="America/Los_Angeles")
    assert col(p, "txn_type") == ["payment", "refund", "transfer", "transfer", "transfer"]
    assert col(p, "amount_minor") == [123456, -10000, -5000, 5000, -5435]
    assert col(p, "fee_minor") == [3610, -290, 0, 0, 0]
    assert col(p, "net_minor") == [119846, -9710, -5000, 5000, -5435]
    assert (col(p, "orig_amount_minor")[2], col(p, "orig_currency")[2]) == (-5435, "USD")
    assert col(p, "original_reference")[3:] == ["3PAY", "3PAY"]
    assert col(p, "booked_at")[0] == datetime(2026, 11, 21, 17, 15, 2, tzinfo=UTC)


def test_paypal_activity_mixed_locales_refused():
    data = s.paypal_activity(".").replace(b'"-36.10"', b'"-36,10"')
    with pytest.raises(ParseError, match="one number format"):
        parse(data, "Download.CSV")


def test_paypal_activity_declared_locale_wins():
    p = parse(s.paypal_activity(","), "Download.CSV", options={"decimal": ","})
    assert col(p, "amount_minor")[0] == 123456


def test_paypal_trr_records_and_counts():
    p = parse(s.paypal_trr(), "TRR-20261121.01.010.CSV", "paypal_report")
    assert col(p, "txn_type") == ["payment", "refund", "payout"]
    assert col(p, "amount_minor") == [10000, -3000, -6767]
    assert col(p, "fee_minor") == [320, -87, 0]
    assert col(p, "original_reference")[1] == "1AB"
    assert col(p, "booked_at")[0] == datetime(2026, 11, 21, 17, 15, 2, tzinfo=UTC)
    assert len(p.checks) == 5 and all(c.ok for c in p.checks)


def test_paypal_trr_footer_count_wrong():
    with pytest.raises(IntegrityError, match="SF") as err:
        parse(s.paypal_trr(footer_count="4"), "TRR.CSV")
    assert (err.value.expected, err.value.found) == ("4", "3")


def test_paypal_trr_truncated():
    data = s.paypal_trr().rsplit(b'"RC"', 1)[0]
    with pytest.raises(ParseError, match="FF"):
        parse(data, "TRR.CSV")


def test_unionpay_fixed_width_with_trailer():
    p = parse(s.unionpay(), "INN26112101ACOMN", "unionpay_acom")
    assert col(p, "txn_type") == ["payment", "refund"]
    assert col(p, "amount_minor") == [10000, -3000]
    assert col(p, "fee_minor") == [38, -11]
    assert col(p, "net_minor") == [9962, -2989]
    assert col(p, "psp_reference") == ["632509123456", "632509123457"]
    assert col(p, "value_date") == [DAY, DAY]
    assert col(p, "payout_id")[0] == "UP898310058120001-1121"
    assert col(p, "booked_at")[0] == datetime(2026, 11, 21, 1, 15, 2, tzinfo=UTC)
    assert all(c.ok for c in p.checks) and len(p.checks) == 2


def test_unionpay_without_trailer_and_trailer_wrong():
    assert parse(s.unionpay(trailer=False), "INN26112101ACOMN").checks == ()
    with pytest.raises(IntegrityError, match="总金额") as err:
        parse(s.unionpay(total=13001), "INN26112101ACOMN")
    assert (err.value.expected, err.value.found) == ("13001", "13000")


def test_unionpay_layout_is_a_table():
    from schemas import unionpay
    assert all(isinstance(f, str) and isinstance(a, int) and isinstance(w, int) for f, a, w in unionpay.LAYOUT)


def test_no_two_psp_formats_claim_one_sample():
    samples = {"wechatpay_fundflow": s.wx_fundflow(), "alipay_trade": s.alipay_trade(),
               "alipay_account": s.alipay_account(), "adyen_settlement": s.adyen(),
               "paypal_activity": s.paypal_activity(), "paypal_report": s.paypal_trr(),
               "unionpay_acom": s.unionpay()}
    for fmt, data in samples.items():
        claims = [n for n, m in registry.FORMATS.items() if m.identify(data, "x")]
        assert claims == [fmt]
