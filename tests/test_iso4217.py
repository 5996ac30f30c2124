"""The ISO 4217 table (recon/iso4217.csv, SIX list one and list three of 2026-01-01)."""
from __future__ import annotations

import pytest

from recon.money import EXPONENTS, HISTORIC, PUBLISHED, MoneyError, exponent, to_minor
from schemas.validation import _reason


def test_the_whole_published_list_is_there():
    assert PUBLISHED == "2026-01-01"
    assert len(EXPONENTS) == 165  # 178 codes in list one, 13 without a minor unit
    assert (to_minor("1234.50", "MKD"), to_minor("99.99", "NGN"), to_minor("7", "CLP"),
            to_minor("1.0001", "CLF"), to_minor("2.5", "ZWG")) == (123450, 9999, 7, 10001, 250)
    assert {c: EXPONENTS[c] for c in ("JPY", "KWD", "UYW", "ISK", "VND")} == \
        {"JPY": 0, "KWD": 3, "UYW": 4, "ISK": 0, "VND": 0}


@pytest.mark.parametrize("code, message", [
    ("HRK", "historic currency code HRK (withdrawn 2023-01)"),
    ("DEM", "historic currency code DEM (withdrawn 2002-03)"),
    ("XAU", "XAU (Gold) has no minor unit in ISO 4217"),
    ("XYZ", "unknown currency 'XYZ': expected an ISO 4217 code (list one published 2026-01-01)"),
])
def test_codes_without_an_exponent_are_refused_by_name(code, message):
    assert code not in EXPONENTS
    with pytest.raises(MoneyError, match=message.replace("(", r"\(").replace(")", r"\)")):
        exponent(code)


def test_a_historic_code_in_a_file_is_quarantined_as_historic():
    assert HISTORIC["HRK"] == "2023-01"
    assert _reason("currency", "isin(...)", "HRK", {}).startswith(
        "historic currency code HRK (withdrawn 2023-01)")
