"""CODA, Norma 43, the WeChat Pay 分账 bill and Adyen's settlement xlsx (issue 28, item 4).

Each format has a file written by hand to its published layout (tests/data/spec/, the Adyen
workbook built here with openpyxl); the expected lines and amounts are read off the file by hand
and written literally below. A refused copy of each shows the control-total message naming what
the file says against what its lines add up to.
"""
from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from recon.errors import ConfigError, IntegrityError, ParseError
from schemas import registry
from schemas.canonical import STATEMENT_COLUMNS

SPEC = Path(__file__).parent / "data" / "spec"
DAY = date(2026, 1, 2)


def parse(data: bytes, name: str, fmt: str, tz: str = "Europe/Brussels", options=None):
    assert registry.identify(data, name) == fmt  # exactly one format claims it
    parsed = registry.parse(fmt, data, name=name, source="s", sha256=hashlib.sha256(data).hexdigest(),
                            business_date=DAY, timezone=tz, options=options)
    assert parsed.frame.schema == pl.Schema(STATEMENT_COLUMNS)
    return parsed


def cols(parsed, *names):
    return [tuple(r[n] for n in names) for r in parsed.frame.sort("file_line").to_dicts()]


# --- CODA ----------------------------------------------------------------------------------------

CODA = (SPEC / "coda_v2_three_movements.cod").read_bytes()


def test_coda_movements_balances_and_trailer():
    parsed = parse(CODA, "coda.cod", "coda")
    assert cols(parsed, "file_line", "amount_minor", "currency", "value_date") == [
        (3, 25000, "EUR", date(2026, 1, 2)), (6, -12050, "EUR", date(2026, 1, 2)),
        (10, 35, "EUR", date(2026, 1, 1))]
    credit, debit, interest = parsed.frame.sort("file_line").to_dicts()
    # structured communication 101 (OGM) → merchant_reference; 2.2 customer ref; 2.3 counterparty
    assert credit["merchant_reference"] == "090933755493"
    assert credit["end_to_end_id"] == "E2E-INV-4711" and credit["counterparty"] == "ACME SPRL"
    assert credit["bank_reference"] == "EBA26002A00001" and credit["payment_method"] == "00150000"
    assert json.loads(credit["raw"])["counterparty_account"].startswith("BE71096123456769")
    # the communication runs on from 2.1 into 2.2 in the middle of a word
    assert debit["description"] == "Invoice 2026-001 office supplies and printer paper delivery 12/2025"
    raw = json.loads(debit["raw"])
    assert raw["information"][0]["communication"].startswith("Office Depot BV Industrielaan 1")
    assert raw["information"][0]["communication"].endswith("1000 Brussel")
    assert raw["free_communication"] == "New tariffs from 1 February 2026"
    assert interest["description"] == "Interest Q4 2025"
    # entry date 2 Jan 2026, midnight in Brussels
    assert credit["booked_at"] == datetime(2026, 1, 1, 23, 0, tzinfo=UTC)
    assert [(c.expected, c.found, c.ok) for c in parsed.checks] == [
        ("1129.85 EUR", "1129.85 EUR", True), ("10", "10", True), ("120.50", "120.50", True),
        ("250.35", "250.35", True)]
    assert parsed.quarantine.height == 0


def test_coda_globalisation_details_stay_with_their_movement():
    lines = CODA.decode().split("\n")
    detail = ("2100010001EBA26002A00001       0000000000250000020126001500000ACME batch part 1"
              .ljust(115) + "02012600100 0")
    assert len(detail) == 128
    lines.insert(5, detail)  # after movement 1's 2.3; counted by record 9, not in its sums
    text = "\n".join(lines).replace("9               000010", "9               000011")
    parsed = parse(text.encode(), "coda.cod", "coda")
    assert parsed.frame.height == 3
    details = json.loads(parsed.frame.sort("file_line")["raw"][0])["details"]
    assert [(d["detail"], d["amount"]) for d in details] == [("0001", "000000000250000")]


def test_coda_record_8_of_another_account_is_a_parse_error():
    bad = CODA.replace(b"8001BE68539007547034", b"8001BE68539007547099")
    with pytest.raises(ParseError, match="expected the record 8 of account BE68539007547034"):
        parse(bad, "coda.cod", "coda")


def test_coda_amount_the_currency_cannot_hold_is_quarantined():
    # 0.355 EUR (15 digits, 3 decimals): not exact in cents; balances changed to match
    bad = (CODA.replace(b"000000000000350010126", b"000000000000355010126")
           .replace(b"0000000001129850020126", b"0000000001129855020126")
           .replace(b"000000000250350", b"000000000250355"))
    parsed = parse(bad, "coda.cod", "coda")
    assert parsed.frame.height == 2
    q = parsed.quarantine.to_dicts()
    assert [(r["file_line"], r["field"], r["value"]) for r in q] == [(10, "amount_minor", "0.355")]
    assert "at most 2 decimal places for EUR" in q[0]["reason"]


def test_coda_wrong_version_and_record_length_are_parse_errors():
    kw = {"name": "c.cod", "source": "s", "sha256": "0" * 64, "business_date": DAY, "timezone": "UTC"}
    with pytest.raises(ParseError, match="version code 2 in position 128, found '1'"):
        registry.parse("coda", CODA[:127] + b"1" + CODA[128:], **kw)
    with pytest.raises(ParseError, match="128 characters, found 129"):
        registry.parse("coda", CODA.replace(b"\n", b" \n", 1), **kw)


# --- Norma 43 ------------------------------------------------------------------------------------

N43 = (SPEC / "norma43_two_accounts.n43").read_bytes()


def test_norma43_two_accounts():
    parsed = parse(N43, "extracto.n43", "norma43", tz="Europe/Madrid")
    assert cols(parsed, "file_line", "amount_minor", "currency", "merchant_reference", "payment_method") == [
        (2, 25000, "EUR", "FAC-2026-001", "04"), (4, -8999, "EUR", None, "03"),
        (5, 123456, "EUR", "TPV000000001", "12"), (9, 1000, "EUR", "COVER-0001", "04")]
    first, bill, card, cover = parsed.frame.sort("file_line").to_dicts()
    # record 23 concepts join the description; record 24 is the original-currency amount
    assert first["description"] == "TRANSF ACME SA ACME SOLUCIONES SA FACTURA 2026-001"
    assert first["bank_reference"] == "0000012345"
    assert (card["orig_amount_minor"], card["orig_currency"]) == (134000, "USD")
    assert bill["value_date"] == date(2026, 1, 1) and bill["description"] == "RECIBO LUZ ENE"
    assert bill["booked_at"] == datetime(2026, 1, 1, 23, 0, tzinfo=UTC)  # 2 Jan, Madrid
    assert json.loads(cover["raw"])["account"] == "2100 0418 0200051333"
    assert [(c.expected, c.found) for c in parsed.checks] == [
        ("1", "1"), ("89.99 EUR", "89.99 EUR"), ("2", "2"), ("1484.56 EUR", "1484.56 EUR"),
        ("2894.57 EUR", "2894.57 EUR"),
        ("0", "0"), ("0.00 EUR", "0.00 EUR"), ("1", "1"), ("10.00 EUR", "10.00 EUR"),
        ("0.00 EUR", "0.00 EUR"), ("10", "10")]
    assert all(c.ok for c in parsed.checks)


# A control total changed in the file: an integrity error naming the record, expected and found.
CONTROL_TOTALS = [  # (format, file, the spec's bytes, changed to, the error, and in it too)
    ("coda", CODA, b"0000000001129850020126", b"0000000001129860020126",
     r"record 8 new balance.*expected 1129\.86 EUR, found 1129\.85 EUR", ""),
    ("coda", CODA, b"9               000010000000000120500", b"9               000011000000000120600",
     r"record 9 number of records.*expected 11, found 10", "record 9 debit movement"),
    ("norma43", N43, b"0000200000000148456", b"0000200000000148457",
     r"account 2100 0418 0200051332 record 33 total credits.*expected 1484\.57 EUR, found 1484\.56 EUR", ""),
    ("norma43", N43, b"88999999999999999999000010", b"88999999999999999999000009",
     r"record 88 number of records.*expected 9, found 10", ""),
]


@pytest.mark.parametrize("fmt, data, spec, changed, error, also", CONTROL_TOTALS)
def test_a_control_total_off_is_refused(fmt, data, spec, changed, error, also):
    assert data.count(spec) == 1
    with pytest.raises(IntegrityError, match=error) as err:
        parse(data.replace(spec, changed), f"statement.{fmt}", fmt)
    assert also in str(err.value)


def test_norma43_record_33_of_another_account_is_a_parse_error():
    bad = N43.replace(b"33210004180200051333", b"33210004180200051399")
    with pytest.raises(ParseError, match="expected the record 33 of account 2100 0418 0200051333"):
        parse(bad, "extracto.n43", "norma43")


# --- WeChat Pay 分账 bill --------------------------------------------------------------------------

WX = (SPEC / "wechatpay_profitsharing_20260102.csv").read_bytes()


def test_wechat_profitsharing_allocations_and_return():
    parsed = parse(WX, "profitsharing.csv", "wechatpay_profitsharing", tz="Asia/Shanghai")
    assert cols(parsed, "file_line", "amount_minor", "psp_reference", "sub_merchant_id") == [
        (2, -1230, "4200001234202601020000000001", "1900000201"),
        (3, -500, "4200001234202601020000000001", "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"),
        (4, -370, "4200001234202601020000000002", "1900000201"),
        (5, 200, "4200001234202601020000000001", "1900000201")]
    rows = parsed.frame.sort("file_line").to_dicts()
    back = rows[3]
    assert back["merchant_reference"] == "R20260102001"
    assert back["bank_reference"] == "30000000022026010200000003"
    assert back["description"] == "用户部分退款 退款单 50300000012026010200000001"
    assert {r["merchant_id"] for r in rows} == {"1900000109"}  # 分账出资商户号
    assert {r["currency"] for r in rows} == {"CNY"} and [r["txn_type"] for r in rows] == [
        "allocation", "allocation", "allocation", "allocation_return"]
    assert rows[1]["payment_method"] == "PERSONAL_OPENID" and rows[1]["net_minor"] == -500
    assert rows[0]["booked_at"] == datetime(2026, 1, 2, 2, 15, tzinfo=UTC)  # 10:15 Beijing
    assert [(c.expected, c.found, c.ok) for c in parsed.checks] == [
        ("4", "4", True), ("21.00", "21.00", True), ("2.00", "2.00", True)]


def test_wechat_profitsharing_summary_mismatch_is_refused():
    bad = WX.replace("`4,`21.00,`2.00".encode(), "`4,`21.30,`2.00".encode())
    with pytest.raises(IntegrityError, match=r"分账总金额.*expected 21\.30, found 21\.00"):
        parse(bad, "profitsharing.csv", "wechatpay_profitsharing")


def test_wechat_profitsharing_unknown_direction_is_quarantined_or_configured():
    odd = WX.replace("`回退,".encode(), "`退还,".encode()).replace(
        "`4,`21.00,`2.00".encode(), "`4,`21.00".encode()).replace(
        "总条数,分账总金额,回退总金额".encode(), "总条数,分账总金额".encode())
    parsed = parse(odd, "p.csv", "wechatpay_profitsharing", tz="Asia/Shanghai")
    q = parsed.quarantine.to_dicts()
    assert [(r["file_line"], r["field"], r["value"]) for r in q] == [(5, "txn_type", "退还")]
    parsed = parse(odd, "p.csv", "wechatpay_profitsharing", tz="Asia/Shanghai",
                   options={"directions": {"退还": 1}})
    assert parsed.quarantine.height == 0 and parsed.frame.sort("file_line")["amount_minor"][-1] == 200
    with pytest.raises(ConfigError, match="s.options.directions"):
        parse(odd, "p.csv", "wechatpay_profitsharing", options={"directions": {"退还": "in"}})


# --- Adyen settlement details xlsx ---------------------------------------------------------------

HEADER = ["Company Account", "Merchant Account", "Psp Reference", "Merchant Reference",
          "Payment Method", "Creation Date", "TimeZone", "Type", "Modification Reference",
          "Gross Currency", "Gross Debit (GC)", "Gross Credit (GC)", "Exchange Rate", "Net Currency",
          "Net Debit (NC)", "Net Credit (NC)", "Commission (NC)", "Markup (NC)", "Scheme Fees (NC)",
          "Interchange (NC)", "Payment Method Variant", "Modification Merchant Reference",
          "Batch Number"]
BOOKED = datetime(2026, 1, 2, 10, 0, 0)
ROWS = [  # amounts as numbers, as Excel stores them: floats such as 10.1, 0.3, 99.99
    ["Acme", "AcmeEU", "8816000000000001", "ORDER-1", "visa", BOOKED, "CET", "Settled", None,
     "EUR", None, 10.1, None, "EUR", None, 9.8, 0.12, None, 0.08, 0.1, "visacredit", None, 7],
    ["Acme", "AcmeEU", "8816000000000002", "ORDER-2", "mc", BOOKED, "CET", "Settled", None,
     "EUR", None, 99.99, None, "EUR", None, 98.0, 1.0, None, 0.3, 0.69, "mccredit", None, 7],
    ["Acme", "AcmeEU", "8816000000000001", "ORDER-1", "visa", BOOKED, "CET", "Refunded",
     "8816000000000003", "EUR", 5.05, None, None, "EUR", 5.05, None, None, None, None, None,
     "visacredit", "REFUND-1", 7],
    ["Acme", "AcmeEU", None, None, None, BOOKED, "CET", "Fee", None, None, None, None, None, "EUR",
     0.3, None, None, None, None, None, None, None, 7],
    ["Acme", "AcmeEU", None, None, None, BOOKED, "CET", "MerchantPayout", None, None, None, None,
     None, "EUR", 102.45, None, None, None, None, None, None, None, 7],
]


def workbook(rows) -> bytes:
    wb = openpyxl.Workbook()
    sheet = wb.active
    sheet.title = "Settlement details"
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_adyen_xlsx_floats_become_exact_minor_units():
    parsed = parse(workbook(ROWS), "settlement_detail_report_batch_7.xlsx", "adyen_settlement_xlsx")
    assert cols(parsed, "file_line", "txn_type", "amount_minor", "fee_minor", "net_minor") == [
        (2, "payment", 1010, 30, 980), (3, "payment", 9999, 199, 9800),
        (4, "refund", -505, 0, -505), (5, "fee", -30, None, -30), (6, "payout", -10245, None, -10245)]
    rows = parsed.frame.sort("file_line").to_dicts()
    assert rows[2]["psp_reference"] == "8816000000000003"
    assert rows[2]["original_reference"] == "8816000000000001"
    assert {r["payout_id"] for r in rows} == {"AcmeEU:7"}  # integral float 7 → "7", as in the CSV
    assert rows[0]["booked_at"] == datetime(2026, 1, 2, 9, 0, tzinfo=UTC)  # 10:00 CET
    assert json.loads(rows[0]["raw"])["Gross Credit (GC)"] == "10.1"
    assert [(c.expected, c.found, c.ok) for c in parsed.checks] == [("102.45", "102.45", True)]


def test_adyen_xlsx_payout_not_equal_to_its_batch_is_refused():
    rows = [list(r) for r in ROWS]
    rows[-1][14] = 102.46
    with pytest.raises(IntegrityError, match=r"MerchantPayout = Σ net of the batch.*expected 102\.46, "
                                             r"found 102\.45"):
        parse(workbook(rows), "s.xlsx", "adyen_settlement_xlsx")


def test_adyen_xlsx_float_noise_goes_and_extra_places_are_quarantined():
    rows = [list(r) for r in ROWS[:2]]  # no payout row: the lines stand alone
    rows[0][15] = 99.99  # stored by openpyxl as 99.98999999999999: Excel's 15 digits read 99.99
    rows[0][11], rows[0][16], rows[0][18], rows[0][19] = 99.99, 0.0, 0.0, 0.0
    rows[1][15] = 98.005  # three places in EUR: not rounded, quarantined with its text
    data = workbook(rows)
    assert b"<v>99.98999999999999</v>" in zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml")
    parsed = parse(data, "s.xlsx", "adyen_settlement_xlsx")
    assert cols(parsed, "file_line", "amount_minor", "fee_minor", "net_minor") == [(2, 9999, 0, 9999)]
    assert json.loads(parsed.frame["raw"][0])["Net Credit (NC)"] == "99.99"
    q = parsed.quarantine.filter(pl.col("field") == "amount_minor").to_dicts()
    assert [(r["file_line"], r["value"]) for r in q] == [(3, "98.005")]


def test_adyen_xlsx_formula_is_refused():
    rows = [list(r) for r in ROWS]
    rows[-1][14] = "=SUM(P2:P3)"
    with pytest.raises(ParseError, match=r"formula '=SUM\(P2:P3\)' in cell O6"):
        parse(workbook(rows), "s.xlsx", "adyen_settlement_xlsx")


def test_adyen_csv_is_not_claimed_by_the_xlsx_reader_and_vice_versa():
    text = ",".join(HEADER) + "\n"
    assert registry.identify(text.encode(), "s.csv") == "adyen_settlement"
    assert registry.identify(workbook([]), "s.xlsx") == "adyen_settlement_xlsx"
