"""camt files written by hand to the ISO 20022 message definitions (tests/data/spec/camt/):
batch entries split per TxDtls, entries without BookgDt, a repeated Stmt, a 13-decimal balance,
currencies outside the old 45-code table (MKD, NGN). Expected values are read off the files."""
from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from recon.errors import IntegrityError, ParseError
from schemas import registry

SPEC = Path(__file__).parent / "data" / "spec" / "camt"


def _parse(name: str, data: bytes | None = None):
    data = (SPEC / name).read_bytes() if data is None else data
    return registry.parse(registry.identify(data, name), data, name=name, source="bank",
                          sha256=hashlib.sha256(data).hexdigest(), business_date=date(2026, 3, 2),
                          timezone="Europe/Berlin")


def test_batch_entry_is_one_line_per_txdtls_and_valdt_stands_in_for_bookgdt():
    parsed = _parse("camt.053.001.02-batch-valdt.xml")
    assert parsed.quarantine.height == 0 and parsed.line_count == 5
    rows = parsed.frame.sort("file_line").select(
        "file_line", "amount_minor", "currency", "end_to_end_id", "bank_reference", "counterparty",
        "description", "value_date").rows()
    assert rows == [
        (57, 10000, "EUR", "E2E-PAYOUT-A", "TX-0001-A", "Alpha Payments Ltd", "Payout A 2026-03-01",
         date(2026, 3, 2)),
        (68, 15000, "EUR", "E2E-PAYOUT-B", "TX-0001-B", "Beta Pay GmbH", "Payout B 2026-03-01",
         date(2026, 3, 2)),
        (79, 5000, "EUR", "E2E-PAYOUT-C", "TX-0001-C", "Gamma SA", "Payout C 2026-03-01",
         date(2026, 3, 2)),
        (92, -2000, "EUR", None, "FEE-20260302", None, "Account fee March", date(2026, 3, 2)),
        (108, 525, "EUR", None, "INT-20260302", None, "Interest", date(2026, 3, 2)),
    ]
    booked = parsed.frame.sort("file_line")["booked_at"].to_list()
    # no BookgDt on the last two: ValDt (a date: midnight Berlin; a DtTm keeps its offset)
    assert booked[3] == datetime(2026, 3, 1, 23, 0, tzinfo=UTC)
    assert booked[4] == datetime(2026, 3, 2, 13, 30, tzinfo=UTC)
    raw = json.loads(parsed.frame.sort("file_line")["raw"][1])
    assert (raw["InstrId"], raw["TxId"], raw["TxDtls#"], raw["NtryAmt"], raw["PmtInfId"]) == \
        ("INSTR-B", "TXID-B", 2, "300.00", "PSP-PAYOUTS-0302")
    assert [c.name.rsplit(": ", 1)[-1] for c in parsed.checks][-1].endswith("Amt = Σ TxDtls amounts")
    assert parsed.checks[-1].found == "300.00 EUR from 3 TxDtls"


def test_notification_batch_with_a_returned_collection_inside():
    parsed = _parse("camt.054.001.08-batch.xml")
    assert parsed.frame.sort("file_line").select(
        "file_line", "amount_minor", "end_to_end_id", "bank_reference", "counterparty").rows() == [
        (23, 6000, "SDD-E2E-1", "DD-BATCH-77", "Customer One"),
        (29, 4500, "SDD-E2E-2", "DD-BATCH-77", "Customer Two"),
        (35, -2500, "SDD-E2E-0", "DD-BATCH-77", "Customer Zero")]
    assert parsed.frame["value_date"].unique().to_list() == [date(2026, 3, 3)]


def test_batch_whose_txdtls_do_not_add_up_is_refused_naming_the_entry():
    data = (SPEC / "camt.054.001.08-batch.xml").read_bytes().replace(
        b'<Amt Ccy="EUR">25.00</Amt>', b'<Amt Ccy="EUR">24.00</Amt>')
    with pytest.raises(IntegrityError) as err:
        _parse("camt.054.001.08-batch.xml", data)
    assert err.value.check == "Ntfctn NTF-0302-1: Ntry at line 14 (AcctSvcrRef DD-BATCH-77) " \
                              "Amt = Σ TxDtls amounts"
    assert (err.value.expected, err.value.found) == ("80.00 EUR", "81.00 EUR from 3 TxDtls")


def test_repeated_stmt_is_refused_naming_both_places():
    with pytest.raises(ParseError) as err:
        _parse("camt.053.001.13-repeated-stmt.xml")
    assert err.value.line == 22
    assert "Stmt Id 'STMT-MKD-0302' (ElctrncSeqNb 7) appears twice in the file, first at line 7, " \
           "again at line 22" in str(err.value)


def test_mkd_statement_loads_with_two_decimals():
    text = (SPEC / "camt.053.001.13-repeated-stmt.xml").read_text()
    first, second = text.index("<Stmt>"), text.rindex("<Stmt>")
    once = text[:second] + text[text.rindex("</Stmt>") + len("</Stmt>"):]
    assert once.count("<Stmt>") == 1 and first < second
    parsed = _parse("mkd.xml", once.encode())
    assert parsed.frame.select("amount_minor", "currency", "end_to_end_id").rows() == [
        (123050, "MKD", "E2E-MKD-1")]


def test_thirteen_decimal_balance_is_named_at_full_precision():
    with pytest.raises(IntegrityError) as err:
        _parse("camt.053.001.08-thirteen-decimals.xml")
    assert (err.value.expected, err.value.found) == ("101.5000000000001 NGN", "101.50 NGN")


def test_ngn_entry_with_a_zoned_booking_date_loads():
    data = (SPEC / "camt.053.001.08-thirteen-decimals.xml").read_bytes().replace(
        b"101.5000000000001", b"101.50")
    parsed = _parse("ngn.xml", data)
    assert parsed.frame.select("amount_minor", "currency", "booked_at").rows() == [
        (150, "NGN", datetime(2026, 3, 1, 23, 0, tzinfo=UTC))]


def test_entry_amount_with_more_decimals_than_the_currency_is_quarantined_by_value():
    data = (SPEC / "camt.053.001.08-thirteen-decimals.xml").read_bytes().replace(
        b"101.5000000000001", b"101.5000000000001").replace(
        b'<Amt Ccy="NGN">1.50</Amt>', b'<Amt Ccy="NGN">1.5000000000001</Amt>')
    parsed = _parse("ngn.xml", data)
    assert parsed.frame.height == 0
    assert parsed.quarantine.select("field", "value", "reason").rows() == [
        ("amount_minor", "1.5000000000001",
         "'1.5000000000001' is not an amount with at most 2 decimal places for NGN")]


@pytest.mark.parametrize("version", ["02", "04", "08", "13"])
def test_every_published_version_parses(version):
    data = (SPEC / "camt.053.001.02-batch-valdt.xml").read_bytes().replace(
        b"camt.053.001.02", f"camt.053.001.{version}".encode())
    assert _parse("v.xml", data).frame["amount_minor"].sum() == 28525
