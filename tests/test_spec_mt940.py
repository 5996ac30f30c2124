"""MT940 written by hand to the SWIFT MT940 message format (tests/data/spec/mt940/): a ``-`` line
inside a wrapped ``:86:``, lines of ``:86:`` text starting with ``-``, statement numbers by day of
year (61, then 63) whose balances chain, amounts in NGN."""
from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

import pytest

from recon.errors import IntegrityError, ParseError
from schemas import registry

SPEC = Path(__file__).parent / "data" / "spec" / "mt940"
FILE = "mt940-dash-in-86-day-of-year.sta"


def _parse(data: bytes):
    return registry.parse(registry.identify(data, FILE), data, name=FILE, source="bank",
                          sha256=hashlib.sha256(data).hexdigest(), business_date=date(2026, 3, 2),
                          timezone="Africa/Lagos")


def test_dash_lines_inside_86_are_text_and_day_of_year_numbers_chain():
    parsed = _parse((SPEC / FILE).read_bytes())
    assert parsed.frame.select("file_line", "value_date", "amount_minor", "currency",
                               "merchant_reference", "bank_reference", "description").rows() == [
        (6, date(2026, 3, 2), 2500050, "NGN", "PSP-PAYOUT-1", "NG-REF-1",
         "Payout from Example PSP - batch 2026-03-01, 14 transactions"),
        (10, date(2026, 3, 2), -120000, "NGN", None, "NG-REF-2", "- stamp duty - SMS alert fees"),
        (20, date(2026, 3, 4), -80025, "NGN", "INV-77", "NG-REF-3", "Supplier invoice 77")]
    assert json.loads(parsed.frame["raw"][0])[":86:"] == \
        "Payout from Example PSP\n-\nbatch 2026-03-01, 14 transactions"
    assert [(c.name, c.expected, c.found, c.ok) for c in parsed.checks] == [
        (":20:STMT-2026-061 :60F: + Σ:61: = :62F:", "173800.50 NGN", "173800.50 NGN", True),
        (":20:STMT-2026-063 :60F: + Σ:61: = :62F:", "173000.25 NGN", "173000.25 NGN", True),
        (":25:0123456789 :28C: follows 61/1", "62 or 61/2", "63/1", True)]


def test_a_number_skipped_where_the_balances_do_not_chain_is_a_gap():
    data = (SPEC / FILE).read_bytes().replace(b":60F:C260302NGN173800,50", b":60F:C260303NGN173900,50") \
        .replace(b":62F:C260304NGN173000,25", b":62F:C260304NGN173100,25")
    with pytest.raises(IntegrityError) as err:
        _parse(data)
    assert err.value.check == ":25:0123456789 :28C: follows 61/1 (balances do not chain: closing " \
                              "173800.50 NGN, then opening 173900.50 NGN)"
    assert (err.value.expected, err.value.found) == ("62 or 61/2", "63/1")


def test_a_dash_then_a_stray_tag_still_ends_the_message():
    data = (SPEC / FILE).read_bytes().replace(b"-\r\nbatch 2026-03-01, 14 transactions\r\n", b"-\r\n")
    with pytest.raises(ParseError, match="after the end of a message"):
        _parse(data)
