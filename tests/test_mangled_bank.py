"""Mangled bank files end in a ParseError/IntegrityError or a ParsedFile whose bad rows are in
quarantine: never another exception, never a float column, never a partial load."""
from __future__ import annotations

import re
from datetime import date

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from recon.errors import IntegrityError, ParseError
from schemas import bai2, bankcsv, camt052, camt054, mt940, mt942
from schemas.validation import ParsedFile
from tests import bank_samples as s

KW = {"source": "bank", "sha256": "cd" * 32, "business_date": date(2026, 1, 2),
      "timezone": "Europe/Berlin"}
SAMPLES = {
    "mt940": (mt940, s.MT940.encode("latin-1"), None),
    "mt942": (mt942, s.MT942.encode(), None),
    "bai2": (bai2, s.BAI2.encode(), None),
    "camt054": (camt054, s.CAMT054.encode(), None),
    "camt052": (camt052, s.camt052().encode(), None),
    "bankcsv": (bankcsv, s.BANKCSV.encode("cp1252"), s.BANKCSV_OPTIONS),
}
FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _outcome(fmt: str, data: bytes) -> ParsedFile | None:
    module, _, options = SAMPLES[fmt]
    extra = {"options": options} if options else {}
    try:
        parsed = module.parse(data, name="m", **KW, **extra)
    except (ParseError, IntegrityError):
        return None  # rejected whole: nothing to load
    assert isinstance(parsed, ParsedFile)
    for frame in (parsed.frame, parsed.quarantine):
        assert not any(dtype.is_float() for dtype in frame.schema.values())
    assert parsed.frame.schema["amount_minor"] == pl.Int64
    assert parsed.frame["amount_minor"].null_count() == 0
    assert parsed.frame.height + parsed.quarantine["file_line"].n_unique() == parsed.line_count
    return parsed


@pytest.mark.parametrize("fmt", SAMPLES)
def test_samples_parse(fmt):
    parsed = _outcome(fmt, SAMPLES[fmt][1])
    assert parsed is not None and parsed.quarantine.height == 0 and parsed.frame.height >= 1


@pytest.mark.parametrize("fmt", SAMPLES)
@FAST
@given(data=st.data())
def test_truncated_or_flipped(fmt, data):
    raw = SAMPLES[fmt][1]
    at = data.draw(st.integers(0, len(raw) - 1))
    if data.draw(st.booleans()):
        mangled = raw[:at]
    else:
        mangled = raw[:at] + bytes([data.draw(st.integers(0, 255))]) + raw[at + 1:]
    _outcome(fmt, mangled)


@pytest.mark.parametrize("fmt", ["camt054", "camt052"])
def test_a_damaged_encoding_declaration_is_a_parse_error_on_line_1(fmt):
    """One flipped byte in ``encoding="UTF-8"`` made expat raise LookupError (found by the test
    above): it is the file's fault, so it must be a ParseError that says what was expected."""
    data = SAMPLES[fmt][1].replace(b'<?xml version="1.0"?>', b'<?xml version="1.0" encoding="UTF-8"?>')
    assert b'encoding="UTF-8"' in data and SAMPLES[fmt][0].parse(data, name="m", **KW).frame.height
    with pytest.raises(ParseError) as e:
        SAMPLES[fmt][0].parse(data.replace(b'encoding="UTF-8"', b'encoding="U-F-8"', 1), name="m", **KW)
    assert e.value.line == 1 and "known encoding" in str(e.value) and "U-F-8" in str(e.value)


# a control total or amount nudged by one unit; an impossible date; a huge amount; too many decimals
_EDITS = {
    "mt940": [(":62F:C260102EUR1984,06", ":62F:C260102EUR1984,07"),
              (":61:2601021231D250,50", ":61:2602301231D250,50"),
              ("D250,50", "D1234567890123456,50"), ("D250,50", "D250,505")],
    "mt942": [(":90D:1EUR10,00", ":90D:1EUR10,01"), ("260102D10,00", "261302D10,00"),
              ("D10,00", "D99999999999999999,00"), ("D10,00", "D10,001")],
    "bai2": [("49,224690", "49,224691"), ("260103", "260231"),
             ("16,165,12345", "16,165,1234567890123456789"), ("16,165,12345", "16,165,123.45")],
    "camt054": [("<Sum>12.30</Sum>", "<Sum>12.31</Sum>"), ("<Dt>2026-01-02</Dt>", "<Dt>2026-02-30</Dt>"),
                (">12.30</Amt>", ">1234567890123456.30</Amt>"), (">12.30</Amt>", ">12.305</Amt>")],
    "camt052": [("<PgNb>2</PgNb>", "<PgNb>3</PgNb>"), ("<Dt>2026-01-02</Dt>", "<Dt>2026-13-02</Dt>"),
                (">1.00</Amt>", ">99999999999999999.00</Amt>"), (">1.00</Amt>", ">1.001</Amt>")],
    "bankcsv": [("02.01.2026;03.01.2026", "30.02.2026;03.01.2026"), ("1.234,56", "1.234.567.890.123.456,56"),
                ("99,90", "99,901"), ("99,90", "99,9O")],
}


@pytest.mark.parametrize("fmt", SAMPLES)
@FAST
@given(edit=st.integers(0, 3), repeat=st.integers(1, 3))
def test_semantic_mangling(fmt, edit, repeat):
    old, new = _EDITS[fmt][edit]
    text = SAMPLES[fmt][1]
    assert old.encode("latin-1") in text, (fmt, old)
    parsed = _outcome(fmt, text.replace(old.encode("latin-1"), new.encode("latin-1"), repeat))
    if parsed is not None:  # loaded: the bad line must be in quarantine, not in the frame
        assert parsed.quarantine.height >= 1, (fmt, new)


def test_an_off_by_one_total_loads_nothing():
    with pytest.raises(IntegrityError) as err:
        mt940.parse(s.MT940.replace(":62F:C260102EUR1984,06", ":62F:C260102EUR1984,07").encode("latin-1"),
                    name="m", **KW)
    assert re.search(r"expected 1984\.07 EUR, found 1984\.06 EUR", str(err.value))
