"""Each format parsed from a tiny literal file written per docs/formats.md."""
from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime

import pytest

from recon.errors import IntegrityError, ParseError
from schemas import registry
from schemas.canonical import LEDGER_COLUMNS, STATEMENT_COLUMNS
from schemas.ledger import parse_ledger
from schemas.validation import QUARANTINE_COLUMNS

DAY = date(2026, 11, 21)
WX_HEADER = ("交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,"
             "付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,"
             "退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注")
WX_SUMMARY = "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"


def wx_row(*fields: str) -> str:
    return ",".join("`" + f for f in fields)


WX_PAY = wx_row("2026-11-21 09:15:02", "wx8888", "1900000109", "", "", "4200001", "ORD0001", "oUser1",
                "NATIVE", "SUCCESS", "CMB_DEBIT", "CNY", "100.00", "0.00", "0", "0", "0.00", "0.00",
                "", "", "咖啡", "", "0.60", "0.60%", "100.00", "0.00", "")
WX_REFUND = wx_row("2026-11-21 23:59:59", "wx8888", "1900000109", "", "", "4200001", "ORD0001", "oUser1",
                   "NATIVE", "REFUND", "CMB_DEBIT", "CNY", "0.00", "0.00", "5000001", "RFD0001", "30.00",
                   "0.00", "ORIGINAL", "SUCCESS", "咖啡", "", "-0.18", "0.60%", "0.00", "30.00", "")


def wechat_bill(rows: list[str], totals: str) -> bytes:
    return "\r\n".join([WX_HEADER, *rows, WX_SUMMARY, totals, ""]).encode()


STRIPE_HEADER = ("balance_transaction_id,created_utc,created,available_on_utc,available_on,currency,gross,"
                 "fee,net,reporting_category,source_id,description,customer_facing_amount,"
                 "customer_facing_currency,automatic_payout_id,automatic_payout_effective_at,"
                 "payment_intent_id,payment_metadata[order_id],refund_metadata[refund_id],card_brand,"
                 "payment_method_type")
STRIPE = "\n".join([
    STRIPE_HEADER,
    "txn_1,2026-11-21 01:15:02,2026-11-21 09:15:02,2026-11-23 00:00:00,2026-11-23 08:00:00,usd,100.00,"
    "3.20,96.80,charge,ch_1,Order ORD0002,100.00,usd,po_9,2026-11-22 00:00:00,pi_1,ORD0002,,visa,card",
    "txn_2,2026-11-21 03:00:00,2026-11-21 11:00:00,2026-11-23 00:00:00,2026-11-23 08:00:00,usd,-20.00,"
    "0.00,-20.00,refund,re_1,Refund,20.00,usd,po_9,2026-11-22 00:00:00,pi_1,ORD0002,RFD0002,visa,card",
    "txn_3,2026-11-21 15:59:59,2026-11-21 23:59:59,2026-11-22 00:00:00,2026-11-22 08:00:00,usd,-76.80,"
    "0.00,-76.80,payout,po_9,STRIPE PAYOUT,,,po_9,2026-11-22 00:00:00,,,,,",
    "",
]).encode()


def camt(entries: str, opening="1000.00", closing="1100.00", summary=True) -> bytes:
    totals = """<TxsSummry><TtlNtries><NbOfNtries>2</NbOfNtries><Sum>140.00</Sum>
        <TtlNetNtry><Amt>100.00</Amt><CdtDbtInd>CRDT</CdtDbtInd></TtlNetNtry></TtlNtries></TxsSummry>"""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">
 <BkToCstmrStmt>
  <GrpHdr><MsgId>M1</MsgId><CreDtTm>2026-11-22T06:00:00+08:00</CreDtTm></GrpHdr>
  <Stmt>
   <Id>S1</Id><ElctrncSeqNb>1</ElctrncSeqNb>
   <Acct><Id><IBAN>CN00BANK0001</IBAN></Id><Ccy>CNY</Ccy></Acct>
   <Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="CNY">{opening}</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-22</Dt></Dt></Bal>
   <Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="CNY">{closing}</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-22</Dt></Dt></Bal>
   {totals if summary else ""}
{entries}
  </Stmt>
 </BkToCstmrStmt>
</Document>
""".encode()


CAMT_ENTRIES = """   <Ntry>
    <NtryRef>1</NtryRef><Amt Ccy="CNY">120.00</Amt><CdtDbtInd>CRDT</CdtDbtInd>
    <Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>2026-11-22</Dt></BookgDt><ValDt><Dt>2026-11-23</Dt></ValDt>
    <AcctSvcrRef>BANKREF1</AcctSvcrRef>
    <NtryDtls><TxDtls><Refs><EndToEndId>WX1900000109-20261121</EndToEndId></Refs>
      <RltdPties><Dbtr><Pty><Nm>Tenpay Payment Technology Co., Ltd.</Nm></Pty></Dbtr></RltdPties>
      <RmtInf><Ustrd>TENPAY SETTLEMENT 1900000109 20261121</Ustrd></RmtInf></TxDtls>
      <TxDtls><Refs><EndToEndId>SECOND</EndToEndId></Refs></TxDtls></NtryDtls>
   </Ntry>
   <Ntry>
    <NtryRef>2</NtryRef><Amt Ccy="CNY">20.00</Amt><CdtDbtInd>DBIT</CdtDbtInd>
    <Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>2026-11-22</Dt></BookgDt><ValDt><Dt>2026-11-22</Dt></ValDt>
    <AcctSvcrRef>BANKREF2</AcctSvcrRef>
    <NtryDtls><TxDtls><Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs>
      <RltdPties><Cdtr><Pty><Nm>Landlord Ltd</Nm></Pty></Cdtr></RltdPties></TxDtls></NtryDtls>
   </Ntry>"""


# The demo's source options (data/recon.toml): how its WeChat payout ids and Stripe references are read.
OPTIONS = {"wechatpay_trade": {"payout_id_template": "WX{商户号}-{bill_date:%Y%m%d}"},
           "stripe_itemized": {"refund_reference_column": "refund_metadata[refund_id]"}}


def run(data: bytes, name: str, business_date: date = DAY):
    sha = hashlib.sha256(data).hexdigest()
    fmt = registry.identify(data, name)
    return fmt, sha, registry.parse(fmt, data, name=name, source="src", sha256=sha,
                                    business_date=business_date, timezone="Asia/Shanghai",
                                    options=OPTIONS.get(fmt))


def test_wechat_payment_and_refund():
    data = wechat_bill([WX_PAY, WX_REFUND], wx_row("2", "100.00", "30.00", "0.00", "0.42", "100.00", "30.00"))
    fmt, sha, parsed = run(b"\xef\xbb\xbf" + data, "wechatpay_trade_20261121.csv")
    assert fmt == "wechatpay_trade"
    assert parsed.frame.schema == STATEMENT_COLUMNS and parsed.quarantine.height == 0
    assert parsed.line_count == 2 and all(c.ok for c in parsed.checks) and len(parsed.checks) == 7
    pay, refund = parsed.frame.to_dicts()
    assert (pay["txn_type"], pay["amount_minor"], pay["fee_minor"], pay["net_minor"]) == ("payment", 10000, 60, 9940)
    assert (refund["txn_type"], refund["amount_minor"], refund["fee_minor"], refund["net_minor"]) == ("refund", -3000, -18, -2982)
    assert (pay["psp_reference"], pay["merchant_reference"]) == ("4200001", "ORD0001")
    assert (refund["psp_reference"], refund["merchant_reference"]) == ("5000001", "RFD0001")
    assert pay["payout_id"] == refund["payout_id"] == "WX1900000109-20261121"
    assert pay["booked_at"] == datetime(2026, 11, 21, 1, 15, 2, tzinfo=UTC)
    assert refund["booked_at"] == datetime(2026, 11, 21, 15, 59, 59, tzinfo=UTC)
    assert (pay["file_line"], refund["file_line"]) == (2, 3)
    assert pay["line_id"] == f"{sha[:16]}:2" and pay["business_date"] == DAY
    assert (pay["currency"], pay["payment_method"], pay["counterparty"], pay["description"], pay["status"]) == \
        ("CNY", "NATIVE", "oUser1", "咖啡", "SUCCESS")
    raw = json.loads(pay["raw"])
    assert raw["应结订单金额"] == "100.00" and list(raw) == sorted(raw)
    # What the clearing positions group by, taken out of the line (WeChat has no card type).
    assert (pay["merchant_id"], pay["sub_merchant_id"], pay["card_type"]) == ("1900000109", "", None)


def test_wechat_wrong_summary_total_rejects_file():
    data = wechat_bill([WX_PAY, WX_REFUND], wx_row("2", "100.01", "30.00", "0.00", "0.42", "100.00", "30.00"))
    with pytest.raises(IntegrityError) as err:
        run(data, "wechatpay_trade_20261121.csv")
    assert err.value.check == "应结订单总金额 = Σ应结订单金额"
    assert (err.value.expected, err.value.found) == ("100.01", "100.00")
    assert "expected 100.01, found 100.00" in str(err.value)


def test_wechat_wrong_count_rejects_file():
    data = wechat_bill([WX_PAY], wx_row("2", "100.00", "0.00", "0.00", "0.60", "100.00", "0.00"))
    with pytest.raises(IntegrityError, match="总交易单数"):
        run(data, "wechatpay_trade_20261121.csv")


def test_wechat_inexact_amount_is_quarantined_and_others_load():
    bad = WX_PAY.replace("`100.00,`0.00,`0,", "`12.345,`0.00,`0,").replace("`ORD0001", "`ORD0009")
    data = wechat_bill([WX_PAY, bad, WX_REFUND],
                       wx_row("3", "112.345", "30.00", "0.00", "1.02", "200.00", "30.00"))
    _, sha, parsed = run(data, "wechatpay_trade_20261121.csv")
    assert parsed.frame["merchant_reference"].to_list() == ["ORD0001", "RFD0001"]
    assert parsed.line_count == 3
    assert parsed.quarantine.schema == QUARANTINE_COLUMNS
    assert parsed.quarantine.to_dicts() == [{
        "file_sha256": sha, "file_name": "wechatpay_trade_20261121.csv", "source": "src",
        "file_line": 3, "field": "amount_minor", "value": "12.345",
        "reason": "'12.345' is not an amount with at most 2 decimal places for CNY"}]


def test_wechat_missing_columns_is_a_parse_error():
    data = wechat_bill([WX_PAY], wx_row("1", "100.00", "0.00", "0.00", "0.60", "100.00", "0.00"))
    data = data.replace("手续费,费率".encode(), "xx,费率".encode(), 1)
    with pytest.raises(ParseError, match="missing 手续费"):
        registry.parse("wechatpay_trade", data, name="f.csv", source="s", sha256="0" * 64,
                       business_date=DAY, timezone="Asia/Shanghai")


def test_stripe_charge_refund_payout():
    fmt, sha, parsed = run(STRIPE, "stripe_itemized_20261121.csv")
    assert fmt == "stripe_itemized" and parsed.checks == () and parsed.quarantine.height == 0
    charge, refund, payout = parsed.frame.to_dicts()
    assert (charge["txn_type"], charge["amount_minor"], charge["fee_minor"], charge["net_minor"]) == ("payment", 10000, 320, 9680)
    assert (refund["txn_type"], refund["amount_minor"], refund["fee_minor"], refund["net_minor"]) == ("refund", -2000, 0, -2000)
    assert (payout["txn_type"], payout["amount_minor"], payout["net_minor"]) == ("payout", -7680, -7680)
    assert (charge["psp_reference"], charge["merchant_reference"], charge["payout_id"]) == ("ch_1", "ORD0002", "po_9")
    assert (refund["psp_reference"], refund["merchant_reference"]) == ("re_1", "RFD0002")
    assert payout["psp_reference"] == payout["payout_id"] == "po_9"
    assert charge["booked_at"] == datetime(2026, 11, 21, 1, 15, 2, tzinfo=UTC)
    assert charge["currency"] == "USD" and charge["value_date"] == date(2026, 11, 23)
    assert charge["payment_method"] == "card" and charge["file_line"] == 2
    assert (charge["orig_amount_minor"], charge["orig_currency"]) == (10000, "USD")
    # The card type the rate card prices by (card_brand), '' where the line has none.
    assert [r["card_type"] for r in (charge, refund, payout)] == ["visa", "visa", ""]
    assert {(r["merchant_id"], r["sub_merchant_id"]) for r in (charge, refund, payout)} == {("", "")}


def test_stripe_net_not_gross_minus_fee_is_quarantined():
    data = STRIPE.replace(b"3.20,96.80", b"3.20,96.70")
    _, _, parsed = run(data, "stripe_itemized_20261121.csv")
    assert parsed.frame.height == 2
    (q,) = parsed.quarantine.to_dicts()
    assert (q["file_line"], q["field"], q["value"]) == (2, "net_minor", "96.70")
    assert q["reason"] == "net 9670 is not amount 10000 − fee 320 (minor units)"


def test_camt_entries_signs_references_and_totals():
    fmt, sha, parsed = run(camt(CAMT_ENTRIES), "camt053_20261122.xml", date(2026, 11, 22))
    assert fmt == "camt053" and parsed.quarantine.height == 0
    assert [c.name for c in parsed.checks] == [
        "Stmt S1: OPBD + Σ entries = CLBD", "Stmt S1: TxsSummry TtlNtries NbOfNtries",
        "Stmt S1: TxsSummry TtlNtries Sum", "Stmt S1: TxsSummry TtlNtries TtlNetNtry"]
    credit, debit = parsed.frame.to_dicts()
    assert (credit["txn_type"], credit["amount_minor"], credit["currency"]) == ("transfer", 12000, "CNY")
    assert debit["amount_minor"] == -2000 and debit["end_to_end_id"] is None
    assert credit["end_to_end_id"] == "WX1900000109-20261121"  # the first TxDtls
    assert credit["counterparty"] == "Tenpay Payment Technology Co., Ltd."
    assert debit["counterparty"] == "Landlord Ltd"
    assert credit["description"] == "TENPAY SETTLEMENT 1900000109 20261121"
    assert (credit["bank_reference"], credit["status"]) == ("BANKREF1", "BOOK")
    assert credit["booked_at"] == datetime(2026, 11, 21, 16, 0, tzinfo=UTC)  # midnight in Shanghai
    assert credit["value_date"] == date(2026, 11, 23)
    lines = camt(CAMT_ENTRIES).decode().splitlines()
    assert [lines[r["file_line"] - 1].strip() for r in (credit, debit)] == ["<Ntry>", "<Ntry>"]
    assert credit["fee_minor"] is None and credit["payout_id"] is None


def test_camt_closing_balance_off_by_a_cent_rejects_file():
    with pytest.raises(IntegrityError) as err:
        run(camt(CAMT_ENTRIES, closing="1100.01"), "camt053_20261122.xml")
    assert err.value.check == "Stmt S1: OPBD + Σ entries = CLBD"
    assert (err.value.expected, err.value.found) == ("1100.01 CNY", "1100.00 CNY")


@pytest.mark.parametrize("data, what", [
    (b"<Document><BkToCstmrStmt/>", "well-formed"),
    (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x "y">]>'
     b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">&x;</Document>', "DOCTYPE"),
    (b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.052.001.08"/>', "namespace"),
])
def test_camt_structural_problems_are_parse_errors(data, what):
    with pytest.raises(ParseError, match=what):
        registry.parse("camt053", data, name="x.xml", source="bank", sha256="0" * 64,
                       business_date=DAY, timezone="Asia/Shanghai")


def test_identify_refuses_unknown_files():
    for data in (b"hello,world\n1,2\n", b"", b"<html/>"):
        with pytest.raises(ParseError, match="claimed by none"):
            registry.identify(data, "mystery.txt")


def test_ledger_export():
    data = "\n".join([
        "entry_id,business_date,booked_at,channel,txn_type,merchant_reference,psp_reference,"
        "original_reference,amount,currency,counterparty,description",
        "L1,2026-11-21,2026-11-21T09:15:02+08:00,wechatpay,payment,ORD0001,4200001,,100.00,CNY,oUser1,咖啡",
        "L2,2026-11-21,2026-11-21T23:59:59+08:00,wechatpay,refund,RFD0001,,ORD0001,-30.00,CNY,oUser1,咖啡",
        "L3,2026-11-21,2026-11-21T10:00:00+08:00,stripe,payment,ORD0002,ch_1,,1.005,USD,,x",
        "",
    ]).encode()
    frame, quarantine = parse_ledger(data, name="ledger_20261121.csv", sha256="ab" * 32)
    assert frame.schema == LEDGER_COLUMNS
    assert frame.select("entry_id", "source", "amount_minor", "original_reference").rows() == [
        ("L1", "wechatpay", 10000, None), ("L2", "wechatpay", -3000, "ORD0001")]
    assert frame["booked_at"][0] == datetime(2026, 11, 21, 1, 15, 2, tzinfo=UTC)
    assert quarantine.select("file_line", "field", "value", "source").rows() == [
        (4, "amount_minor", "1.005", "ledger")]


def test_generated_day_parses_cleanly(tmp_path):
    """The synthetic world's files (recon.generate, written to the same spec) load without loss."""
    generator = pytest.importorskip("recon.generate.day", reason="the generator is not in this checkout")
    generator.generate_day(DAY, tmp_path, seed=7)
    for path in sorted(p for p in tmp_path.rglob("*") if p.is_file() and not p.name.startswith("ground")):
        data = path.read_bytes()
        if path.name.startswith("ledger"):
            frame, quarantine = parse_ledger(data, name=path.name, sha256=hashlib.sha256(data).hexdigest())
        else:
            _, _, parsed = run(data, path.name)
            frame, quarantine = parsed.frame, parsed.quarantine
            assert all(c.ok for c in parsed.checks)
        assert frame.height > 0 and quarantine.height == 0, path.name
