"""BAI2 written by hand to the BAI2 specification (Cash Management Balance Reporting
Specifications, version 2; tests/data/spec/bai2/): 01 and 02 on one physical line, a 03 whose
summary group runs on into its 88, a 16 cut before its customer reference, a 16 whose text runs
on into an 88 holding a slash, and the 49/98/99 trailers on one line."""
from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

import pytest

from recon.errors import IntegrityError
from schemas import registry

SPEC = Path(__file__).parent / "data" / "spec" / "bai2"
FILE = "bai2-continuations-several-per-line.bai2"
LINES = [(100000, "CR-1", "BR-1", "PAYOUT PSP-A 2026-03-01", date(2026, 3, 2)),
         (-12345, "CR-2", "BR-2", "CHECK 1001 PAID TO SUPPLIER A/B", date(2026, 3, 2)),
         (250000, "CR-3", "BR-3", "WIRE IN", date(2026, 3, 3))]


def _parse(data: bytes):
    assert registry.identify(data, FILE) == "bai2"
    return registry.parse("bai2", data, name=FILE, source="bank",
                          sha256=hashlib.sha256(data).hexdigest(), business_date=date(2026, 3, 2),
                          timezone="America/New_York")


def _rows(parsed):
    return parsed.frame.select("amount_minor", "merchant_reference", "bank_reference",
                               "description", "value_date").rows()


def test_continuations_of_03_and_16_and_records_sharing_a_line():
    parsed = _parse((SPEC / FILE).read_bytes())
    assert _rows(parsed) == LINES
    assert parsed.frame["file_line"].to_list() == [4, 6, 7]
    assert json.loads(parsed.frame["raw"][2])["funds"] == "260303,"
    # 49 = Σ 03 amounts (010 500000, 015 612345, 040 100000 via the 88) + Σ 16 amounts
    assert [(c.name, c.expected, c.found) for c in parsed.checks] == [
        ("49 account 9876543210 control total", "1574690", "1574690"),
        ("49 account 9876543210 number of records", "8", "8"),
        ("98 group (line 1) control total", "1574690", "1574690"),
        ("98 group (line 1) number of accounts", "1", "1"),
        ("98 group (line 1) number of records", "10", "10"),
        ("99 file control total", "1574690", "1574690"),
        ("99 file number of groups", "1", "1"),
        ("99 file number of records", "12", "12")]


def test_a_file_of_fixed_length_blocks_on_one_physical_line():
    data = (SPEC / FILE).read_bytes().replace(b"612345,3\n88,Z,", b"612345,3,Z,/\n88,") \
        .replace(b"\n", b" " * 7)
    parsed = _parse(data)
    assert _rows(parsed) == LINES
    # one physical line: each line is numbered by its record's position (01 = 1, 88s folded)
    assert parsed.frame["file_line"].to_list() == [4, 5, 6]
    assert all(c.ok for c in parsed.checks) and len(parsed.checks) == 8


def test_88_continues_a_group_header_and_a_trailer():
    data = (SPEC / FILE).read_bytes().replace(
        b"2/02,RECEIVER,BANKID,1,260302,2400,USD,2/", b"2/\n02,RECEIVER,BANKID,1/\n88,260302,2400,USD,2/"
    ).replace(b"49,1574690,8/98,1574690,1,10/99,1574690,1,12/",
              b"49,1574690/\n88,9/\n98,1574690,1,12/\n99,1574690,1,14/")
    parsed = _parse(data)
    assert _rows(parsed) == LINES
    # the 88s count as records: 03..49 with the 49's own 88 = 9; 02 + its 88 + 9 + 98 = 12
    assert [(c.expected, c.found) for c in parsed.checks if "records" in c.name] == [
        ("9", "9"), ("12", "12"), ("14", "14")]


def test_a_wrong_record_count_is_an_integrity_error():
    data = (SPEC / FILE).read_bytes().replace(b"49,1574690,8/", b"49,1574690,7/")
    with pytest.raises(IntegrityError) as err:
        _parse(data)
    assert err.value.check.startswith("49 account 9876543210 number of records")
    assert (err.value.expected, err.value.found) == ("7", "8")
