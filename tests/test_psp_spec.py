"""WeChat Pay and Stripe files written by hand to the published layouts (tests/data/spec/): the
lines, amounts and references each must give, asserted literally; and the refusals that must say
what is wrong (duplicate header, a configured column absent, no format claiming a file)."""
from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from recon import cli
from recon.errors import ParseError
from schemas import registry

SPEC = Path(__file__).parent / "data" / "spec"
DAY = date(2026, 11, 21)


def parse(path: Path, tz: str = "Asia/Shanghai", options: dict | None = None, data: bytes | None = None):
    data = path.read_bytes() if data is None else data
    fmt = registry.identify(data, path.name)
    parsed = registry.parse(fmt, data, name=path.name, source="psp", sha256=hashlib.sha256(data).hexdigest(),
                            business_date=DAY, timezone=tz, options=options)
    return fmt, parsed


def rows(parsed, *cols):
    return [tuple(r[c] for c in cols) for r in parsed.frame.sort("file_line").to_dicts()]


WX_CURRENT = [  # line, type, amount, fee, net, fee_exact, WeChat id, merchant ref, original ref
    (2, "payment", 12500, 75, 12425, None, "4200000008202611210000000001", "ORD-1001", None),
    (3, "refund", -11500, -69, -11431, None, "50000000012026112100000000001", "RF-1001", "ORD-1001"),
    (4, "payment", 50, None, None, "0.00300", "4200000008202611210000000002", "ORD-1002", None),
]
WX_COLS = ("file_line", "txn_type", "amount_minor", "fee_minor", "net_minor", "fee_exact", "psp_reference",
           "merchant_reference", "original_reference")


@pytest.mark.parametrize("file", ["all_current_bom_crlf.csv", "all_current_gbk.csv", "all_current_utf16.csv",
                                  "all_current_mixed.csv"])
def test_wechat_current_layout_in_every_encoding_and_line_end(file):
    fmt, parsed = parse(SPEC / "wechatpay" / file)
    assert fmt == "wechatpay_trade" and parsed.quarantine.height == 0 and parsed.line_count == 3
    assert rows(parsed, *WX_COLS) == WX_CURRENT
    assert [(c.name, c.expected, c.found, c.ok) for c in parsed.checks] == [
        ("总交易单数 = number of rows", "3", "3", True),
        ("应结订单总金额 = Σ应结订单金额", "125.50", "125.50", True),
        ("退款总金额 = Σ退款金额", "115.00", "115.00", True),
        ("充值券退款总金额 = Σ充值券退款金额", "0.00", "0.00", True),
        ("手续费总金额 = Σ手续费", "0.063", "0.063", True),
        ("订单总金额 = Σ订单金额", "125.50", "125.50", True),
        ("申请退款总金额 = Σ申请退款金额", "115.00", "115.00", True),
    ]
    first = parsed.frame.row(0, named=True)
    assert first["booked_at"] == datetime(2026, 11, 21, 1, 15, 2, tzinfo=UTC)
    assert (first["currency"], first["payment_method"], first["merchant_id"], first["payout_id"]) == \
        ("CNY", "JSAPI", "1230000109", None)


def test_wechat_payout_id_only_from_the_configured_template():
    _, parsed = parse(SPEC / "wechatpay" / "all_current_bom_crlf.csv",
                      options={"payout_id_template": "TENPAY-{商户号}-{bill_date:%Y%m%d}"})
    assert set(parsed.frame["payout_id"]) == {"TENPAY-1230000109-20261121"}
    with pytest.raises(ParseError, match="'结算号' is neither"):
        parse(SPEC / "wechatpay" / "all_current_bom_crlf.csv", options={"payout_id_template": "{结算号}"})
    with pytest.raises(ParseError, match="expected source options among payout_id_template"):
        parse(SPEC / "wechatpay" / "all_current_bom_crlf.csv", options={"payout_id": "x"})


@pytest.mark.parametrize("file", ["all_older.txt", "all_older_cr.csv"])
def test_wechat_older_layout_with_sub_fen_fee(file):
    fmt, parsed = parse(SPEC / "wechatpay" / file)
    assert fmt == "wechatpay_trade" and parsed.quarantine.height == 0
    assert rows(parsed, *WX_COLS) == [
        (2, "payment", 1, None, None, "0.00020", "1009360611202611210040393756", "20261121212520177109431", None),
        (3, "payment", 8800, 176, 8624, None, "1010020611202611210040396072", "20261121211522713086491", None),
        (4, "refund", -2000, -40, -1960, None, "2001020611202611210000000001", "RF20261121001",
         "20261121211522713086491"),
    ]
    assert [(c.name, c.found, c.ok) for c in parsed.checks] == [
        ("总交易单数 = number of rows", "3", True), ("总交易额 = Σ总金额", "88.01", True),
        ("总退款金额 = Σ退款金额", "20.00", True), ("总企业红包退款金额 = Σ企业红包退款金额", "0.00", True),
        ("手续费总金额 = Σ手续费", "1.3602", True)]
    # 子商户号 `0`: an ordinary merchant's bill, no sub-merchant (raw keeps the 0 as written)
    assert set(parsed.frame["sub_merchant_id"]) == {""} and '"子商户号":"0"' in parsed.frame["raw"][0]


def test_wechat_fee_total_off_by_a_hundred_thousandth_is_refused():
    text = (SPEC / "wechatpay" / "all_current.txt").read_text("utf-8").replace("`0.06300", "`0.06301")
    from recon.errors import IntegrityError
    with pytest.raises(IntegrityError, match="手续费总金额") as e:
        parse(SPEC / "wechatpay" / "x.csv", data=text.encode())
    assert "0.06301" in str(e.value) and "0.063" in str(e.value)


def test_stripe_payout_reconciliation_5_without_metadata():
    fmt, parsed = parse(SPEC / "stripe" / "payout_reconciliation.itemized.5.csv", tz="America/Los_Angeles")
    assert fmt == "stripe_itemized" and parsed.quarantine.height == 0 and parsed.checks == ()
    assert rows(parsed, "file_line", "txn_type", "amount_minor", "fee_minor", "net_minor", "psp_reference",
                "merchant_reference", "payout_id") == [
        (2, "payment", 10000, 320, 9680, "ch_3QxAb1LkdIwHu7ix0xY9zW8v", None, "po_1QyZaBLkdIwHu7ixRtG5x2Lm"),
        (3, "refund", -2500, 0, -2500, "re_3QxCd4LkdIwHu7ix1mN6oP5q", None, "po_1QyZaBLkdIwHu7ixRtG5x2Lm"),
        (4, "chargeback", -5000, 1500, -6500, "dp_1QxEf6LkdIwHu7ix2zA9bC0d", None, "po_1QyZaBLkdIwHu7ixRtG5x2Lm"),
    ]
    # no created_utc in this report: `created` is in the run's timezone (the source's)
    assert parsed.frame["booked_at"][0] == datetime(2026, 11, 21, 17, 15, 2, tzinfo=UTC)
    assert parsed.frame["value_date"].to_list() == [date(2026, 11, 23), date(2026, 11, 21), date(2026, 11, 21)]


def test_stripe_configured_metadata_column_absent_is_refused_by_name():
    with pytest.raises(ParseError, match=r"'payment_metadata\[order_id\]' that the source option "
                                         r"merchant_reference_column names"):
        parse(SPEC / "stripe" / "payout_reconciliation.itemized.5.csv",
              options={"merchant_reference_column": "payment_metadata[order_id]"})


def test_stripe_metadata_columns_as_configured_reference_sources():
    text = (SPEC / "stripe" / "payout_reconciliation.itemized.5.csv").read_text("utf-8").splitlines()
    text = [text[0] + ",payment_metadata[order_id],refund_metadata[refund_id]",
            text[1] + ",1001,", text[2] + ",1001,RF-1001", text[3] + ",,"]
    _, parsed = parse(SPEC / "stripe" / "x.csv", data="\n".join(text).encode(),
                      options={"refund_reference_column": "refund_metadata[refund_id]"})
    assert rows(parsed, "merchant_reference", "original_reference") == [
        ("1001", None), ("RF-1001", "1001"), (None, None)]


def test_stripe_balance_change_3_with_quoted_header():
    fmt, parsed = parse(SPEC / "stripe" / "balance_change_from_activity.itemized.3.csv")
    assert fmt == "stripe_itemized" and parsed.quarantine.height == 0
    assert rows(parsed, "file_line", "txn_type", "amount_minor", "fee_minor", "net_minor", "orig_amount_minor",
                "orig_currency", "description") == [
        (2, "payment", 100000, 2930, 97070, 92000, "EUR", "Order 2001, gift wrap"),
        (3, "payout", -97070, 0, -97070, None, None, "STRIPE PAYOUT"),
    ]
    assert parsed.frame["booked_at"][0] == datetime(2026, 11, 21, 1, 15, 2, tzinfo=UTC)


def test_duplicated_header_column_is_refused_naming_both_places():
    text = (SPEC / "stripe" / "payout_reconciliation.itemized.5.csv").read_text("utf-8")
    data = text.replace("customer_facing_currency\n", "gross\n", 1).encode()
    assert registry.identify(data, "dup.csv") == "stripe_itemized"
    with pytest.raises(ParseError, match=r"'gross' is column 7 and column 14"):
        parse(SPEC / "stripe" / "dup.csv", data=data)


def test_claimed_by_none_says_which_formats_came_closest():
    text = (SPEC / "stripe" / "balance_change_from_activity.itemized.3.csv").read_text("utf-8")
    data = text.replace('"fee",', '"fees",', 1).encode()
    with pytest.raises(ParseError, match=r"claimed by none; closest: stripe_itemized: the header lacks fee"):
        registry.identify(data, "x.csv")


def test_identify_and_parse_agree_on_every_spec_file():
    """What identify claims, parse reads: none of these is refused for its header after being claimed."""
    for path in sorted(SPEC.glob("*/*.csv")):
        fmt, parsed = parse(path)
        assert parsed.line_count == parsed.frame.height + parsed.quarantine["file_line"].n_unique(), path


def test_parse_exits_1_when_every_line_is_quarantined(tmp_path, capsys):
    text = (SPEC / "wechatpay" / "all_current.txt").read_text("utf-8").replace("`CNY,", "`XXX,")
    bad = tmp_path / "wechatpay_trade_20261121.csv"
    bad.write_text(text, "utf-8")
    assert cli.main(["parse", str(bad), "--date", "2026-11-21", "--out", str(tmp_path / "out.csv")]) == 1
    err = capsys.readouterr().err
    assert "every one of its 3 lines is quarantined" in err
    assert "quarantined line 2, field currency: XXX" in err and "quarantined line 4, field currency" in err


def test_bank_csv_declared_column_named_twice_is_refused():
    from tests.bank_samples import BANKCSV, BANKCSV_OPTIONS
    data = BANKCSV.replace("Währung\n", "Währung;Soll\n", 1).replace(";EUR\n", ";EUR;1,00\n").encode("cp1252")
    with pytest.raises(ParseError, match=r"'Soll' is column 5 and column 8"):
        registry.parse("bankcsv", data, name="bank.csv", source="bank", sha256="0" * 64, business_date=DAY,
                       timezone="Europe/Berlin", options=BANKCSV_OPTIONS)


def test_stripe_cr_only_reads_the_same_lines_and_a_long_row_is_named():
    path = SPEC / "stripe" / "payout_reconciliation.itemized.5.csv"
    text = path.read_text("utf-8")
    _, parsed = parse(path, data=text.replace("\n", "\r").encode())
    assert rows(parsed, "file_line", "amount_minor") == [(2, 10000), (3, -2500), (4, -5000)]
    long_row = text.replace("Order 1001,100.00,usd\n", "Order 1001, gift,100.00,usd\n", 1)
    with pytest.raises(ParseError, match=r"line 2: expected 14 fields as in the header, found 15"):
        parse(path, data=long_row.encode())


def test_header_read_from_a_head_that_cuts_a_character():
    from schemas import csvhead
    line = "交易时间,商户号," * 400  # no line end within the first 8 KiB; 3-byte characters cut there
    assert csvhead.header_names((line + "\r`x\r").encode(), "f.csv")[:3] == ["交易时间", "商户号", "交易时间"]
