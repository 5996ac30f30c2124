"""Unit tests of the bank formats on small files built in code (tests/bank_samples.py)."""
from __future__ import annotations

import json
from datetime import date

import polars as pl
import pytest

from recon.errors import ConfigError, IntegrityError, ParseError
from schemas import bai2, bankcsv, camt052, camt053, camt054, mt940, mt942, registry, swift
from tests import bank_samples as s

KW = {"source": "bank", "sha256": "ab" * 32, "business_date": date(2026, 1, 2),
      "timezone": "Europe/Berlin"}


def _parse(module, text: str, name: str = "f", **extra):
    return module.parse(text.encode("utf-8"), name=name, **KW, **extra)


@pytest.mark.parametrize(("text", "fmt"), [
    (s.MT940, "mt940"), (s.MT942, "mt942"), (s.BAI2, "bai2"), (s.CAMT054, "camt054"),
    (s.camt052(), "camt052")])
def test_exactly_one_format_claims_each_sample(text, fmt):
    assert registry.identify(text.encode("utf-8"), "x") == fmt
    assert not bankcsv.identify(s.BANKCSV.encode(), "x.csv")


def test_mt940_maps_german_and_dutch_details():
    parsed = _parse(mt940, s.MT940)
    rows = parsed.frame.sort("file_line").to_dicts()
    assert [r["amount_minor"] for r in rows] == [-25050, 123456]
    assert parsed.frame.schema["amount_minor"] == pl.Int64
    german, dutch = rows
    assert german["end_to_end_id"] == "E2E-123" and german["merchant_reference"] == "ORD-4711"
    assert german["description"] == "Rechnung 2025-12 Nr. 9"
    assert german["counterparty"] == "Muster GmbH Berlin"
    assert german["bank_reference"] == "BANKREF1" and german["value_date"] == date(2026, 1, 2)
    # entry date 31 Dec of a 2 Jan value date: the year before (booked midnight Berlin = 23:00 UTC)
    assert german["booked_at"].isoformat() == "2025-12-30T23:00:00+00:00"
    assert dutch["end_to_end_id"] == "NL-E2E-9" and dutch["counterparty"] == "Acme B.V."
    assert dutch["description"] == "Invoice 77" and dutch["merchant_reference"] is None
    assert json.loads(german["raw"])[":86:"].startswith("166?00SEPA")
    assert [c.ok for c in parsed.checks] == [True]


def test_mt940_unbalanced_is_an_integrity_error_naming_both_sides():
    with pytest.raises(IntegrityError, match=r"expected 1984\.07 EUR, found 1984\.06 EUR"):
        _parse(mt940, s.MT940.replace(":62F:C260102EUR1984,06", ":62F:C260102EUR1984,07"))


def test_mt940_reversals_and_statement_sequence_gap():
    second = s.MT940.replace(":28C:00041/001", ":28C:00043/001").replace(
        ":60F:C251231EUR1000,00", ":60F:C260102EUR1984,06").replace(
        ":62F:C260102EUR1984,06", ":62F:C260102EUR2968,12")
    # the balances chain (1984.06 closes, 1984.06 opens): the skipped number 42 is no gap
    assert [c.ok for c in _parse(mt940, s.MT940 + "\n" + second).checks] == [True, True, True]
    broken = second.replace(":60F:C260102EUR1984,06", ":60F:C260102EUR1984,00").replace(
        ":62F:C260102EUR2968,12", ":62F:C260102EUR2968,06")
    with pytest.raises(IntegrityError, match=r":28C: follows 41/1 \(balances do not chain: closing "
                                             r"1984\.06 EUR, then opening 1984\.00 EUR\)"):
        _parse(mt940, s.MT940 + "\n" + broken)
    assert swift._SIGN == {"C": 1, "D": -1, "RC": -1, "RD": 1}
    line = swift.statement_line("2601020102RCR204,88NRTINONREF//X", "f", 1)
    assert (line["mark"], line["funds"], line["amount"]) == ("RC", "R", "204,88")


def test_mt940_broken_structure_is_a_parse_error_with_line():
    with pytest.raises(ParseError, match=r"line 6: expected :61:"):
        _parse(mt940, s.MT940.replace(":61:2601021231D250,50", ":61:26XX021231D250,50"))


def test_mt942_checks_90d_and_90c():
    parsed = _parse(mt942, s.MT942)
    assert parsed.frame["amount_minor"].to_list() == [-1000, 1525]
    assert all(c.ok for c in parsed.checks) and len(parsed.checks) == 4
    with pytest.raises(IntegrityError, match=":90C: sum of entries"):
        _parse(mt942, s.MT942.replace(":90C:1EUR15,25", ":90C:1EUR15,26"))


def test_bai2_details_continuations_and_totals():
    parsed = _parse(bai2, s.BAI2)
    rows = parsed.frame.sort("file_line").to_dicts()
    assert [r["amount_minor"] for r in rows] == [12345, 0]
    assert rows[0]["description"] == "ACH CREDIT, ACME CORP INVOICE 42, PAID"
    assert (rows[0]["bank_reference"], rows[0]["merchant_reference"]) == ("BREF1", "CREF1")
    assert rows[0]["value_date"] == date(2026, 1, 3)
    assert len(parsed.checks) == 8 and all(c.ok for c in parsed.checks)
    with pytest.raises(IntegrityError, match="Invalid|49 account 123456789 control total"):
        _parse(bai2, s.BAI2.replace("16,165,12345", "16,165,12346"))
    with pytest.raises(IntegrityError, match="number of records"):
        _parse(bai2, s.BAI2.replace("88,INVOICE 42, PAID/\n", ""))


def test_camt054_notification_and_copy_indicator():
    parsed = _parse(camt054, s.CAMT054)
    row = parsed.frame.row(0, named=True)
    assert (row["amount_minor"], row["end_to_end_id"], row["counterparty"]) == (1230, "E2E-1", "Payer Ltd")
    assert json.loads(row["raw"])["CpyDplctInd"] == "DUPL"
    with pytest.raises(IntegrityError, match="TxsSummry TtlNtries Sum"):
        _parse(camt054, s.CAMT054.replace("<Sum>12.30</Sum>", "<Sum>12.31</Sum>"))


def test_camt052_pending_entries_and_pagination_gap():
    parsed = _parse(camt052, s.camt052((1, 2)))
    assert parsed.frame["status"].to_list() == ["PDNG", "PDNG"]
    assert json.loads(parsed.frame["raw"][0])["PgNb"] == "1"
    with pytest.raises(IntegrityError, match="pages without a gap"):
        _parse(camt052, s.camt052((1, 3)))
    assert not camt053.identify(s.camt052().encode(), "x")


def test_camt_refuses_doctype():
    evil = s.CAMT054.replace('<?xml version="1.0" encoding="UTF-8"?>',
                             '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x "y">]>')
    with pytest.raises(ParseError, match="DOCTYPE"):
        _parse(camt054, evil)


def test_bankcsv_mapping_debit_credit_decimal_comma_cp1252_footer():
    data = s.BANKCSV.encode("cp1252")
    parsed = bankcsv.parse(data, name="u.csv", **KW, options=s.BANKCSV_OPTIONS)
    rows = parsed.frame.sort("file_line").to_dicts()
    assert [r["amount_minor"] for r in rows] == [-123456, 9990]
    assert rows[0]["counterparty"] == "Müller GmbH" and rows[0]["value_date"] == date(2026, 1, 3)
    assert [r["file_line"] for r in rows] == [4, 5]
    # an undeclared footer is not dropped silently: it is a row, and quarantined
    loose = bankcsv.parse(data, name="u.csv", **KW, options={**s.BANKCSV_OPTIONS, "footer_prefixes": []})
    assert loose.quarantine.filter(pl.col("field") == "booked_at")["value"].to_list() == ["Kontostand"]
    with pytest.raises(ParseError, match="line 5: expected 7 fields"):
        bankcsv.parse(data.replace(b";;99,90;EUR", b";99,90;EUR"), name="u.csv", **KW,
                      options=s.BANKCSV_OPTIONS)


def test_bankcsv_bad_rows_are_quarantined_and_mapping_is_required():
    text = s.BANKCSV.replace("02.01.2026;02.01.2026;Acme", "31.02.2026;02.01.2026;Acme")
    parsed = bankcsv.parse(text.encode("cp1252"), name="u.csv", **KW, options=s.BANKCSV_OPTIONS)
    assert parsed.frame.height == 1
    assert parsed.quarantine.row(0, named=True)["value"] == "31.02.2026"
    with pytest.raises(ConfigError):
        bankcsv.parse(b"a,b\n", name="u.csv", **KW, options={"columns": {"booked": "a"}})
