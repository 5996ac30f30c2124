"""Text safety, the summary JSON and the fee CSV."""
from __future__ import annotations

import csv
import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from recon.reports.fees import effective_rate_percent, write_fee_report
from recon.reports.model import FeeLine
from recon.reports.safe import clean, excel_text, mask_pan, mask_pans, strip_controls
from recon.reports.summary import summary_dict, summary_json, write_summary_json
from tests.workbooks import FORMULA, make_summary  # the shared hand-built day

# --- safe.py --------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    (FORMULA, "'" + FORMULA),
    ("+1 (555) 010", "'+1 (555) 010"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1+1", "' =1+1"),
    ("\r=1+1", "' =1+1"),
    ("  =1+1", "'  =1+1"),
    ("ORD-1=2", "ORD-1=2"),
    ("淘宝订单 2024", "淘宝订单 2024"),
    ("", ""),
    (None, ""),
])
def test_excel_text_neutralises_formulas(text: str | None, expected: str) -> None:
    assert excel_text(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("4111 1111 1111 1111", "411111******1111"),
    ("card 4111-1111-1111-1111 declined", "card 411111******1111 declined"),
    ("amex 378282246310005.", "amex 378282*****0005."),
    ("unionpay 6212345678901232 ok", "unionpay 621234******1232 ok"),
    ("ref 2024 4111 1111 1111 1111", "ref 2024 411111******1111"),
    ("4111 1111 1111 1112", "4111 1111 1111 1112"),  # fails Luhn
    ("123456789012", "123456789012"),  # 12 digits: too short
    ("202405011234567890123456", "202405011234567890123456"),  # one 24-digit reference
    ("12.30 vs 12.40 on 2024-05-01", "12.30 vs 12.40 on 2024-05-01"),
])
def test_mask_pan(text: str, expected: str) -> None:
    assert mask_pan(text) == expected


def test_controls_are_removed_and_counted() -> None:
    assert strip_controls("a\x00b\x1bc\x7fd\u202ee") == ("abcde", 4)
    assert strip_controls("line1\r\nline2\tx") == ("line1  line2 x", 3)
    assert strip_controls("a\ufffeb\uffffc\ud800d") == ("abcd", 3)  # XML cannot carry them
    c = clean("=1\x07 card 4111111111111111")
    assert (c.text, c.removed, c.masked, c.formula_like) == ("=1 card 411111******1111", 1, 1, True)
    assert mask_pans("4111111111111111 and 5555555555554444") == (
        "411111******1111 and 555555******4444", 2)


def test_identifiers_are_not_masked_unless_asked() -> None:
    psp_reference = "8535296932728620"  # a 16-digit PSP reference that happens to pass Luhn
    assert clean(psp_reference).text == "853529******8620"
    assert clean(psp_reference, mask=False).text == psp_reference
    assert excel_text("-" + psp_reference, mask=False) == "'-" + psp_reference

# --- summary.py -----------------------------------------------------------------------------


def _walk(value: object) -> list[object]:
    if isinstance(value, dict):
        return [x for v in value.values() for x in _walk(v)]
    if isinstance(value, list):
        return [x for v in value for x in _walk(v)]
    return [value]


def test_summary_dict_has_decimal_strings_and_no_floats() -> None:
    d = summary_dict(make_summary())
    assert not any(isinstance(v, float) for v in _walk(d))
    assert d["run_id"] == "run-2024-05-01-a1" and d["business_date"] == "2024-05-01"
    assert d["reconciled"] is False
    assert d["match_rate"] == "0.9500"
    assert d["counts"] == {"ledger_entries": 150, "statement_lines": 160, "matched_ledger": 148,
                           "matched_statement": 152, "quarantined": 1, "breaks": 5}
    assert d["matched_by_rule"] == {"exact_reference": 140, "reference_amount_window": 12}
    assert d["matched_amounts"]["CNY"] == {"count": 100, "amount": "12345.67"}
    assert d["matched_amounts"]["JPY"] == {"count": 52, "amount": "99000"}
    cats = d["breaks"]["by_category"]
    assert d["breaks"]["total"] == 5
    assert list(cats) == ["missing_in_ledger", "missing_in_statement", "amount_mismatch",
                          "fee_variance"]
    assert cats["missing_in_ledger"]["label_zh"] == "长款"
    assert cats["missing_in_statement"]["by_currency"]["USD"] == {
        "count": 1, "amount": "45.99", "absolute_amount": "45.99"}
    assert cats["amount_mismatch"]["count"] == 2
    assert cats["amount_mismatch"]["by_currency"]["KWD"]["amount"] == "-0.005"
    assert cats["amount_mismatch"]["by_currency"]["JPY"]["amount"] == "-20"
    assert d["sources"][1] == {"source": "stripe", "kind": "psp", "file_name": None,
                               "sha256": None, "status": "missing", "lines": 0, "quarantined": 0,
                               "control_total": "", "error": "no file by 06:00"}
    assert d["fees"]["alipay"]["CNY"] == {"count": 11, "gross": "1000.03", "actual_fee": "6.01",
                                          "expected_fee": "5.50", "variance": "0.51",
                                          "effective_rate": "0.6010%"}
    assert d["payouts"][0]["difference"] == "-0.10" and d["payouts"][1]["bank_credit"] is None
    assert d["outputs"] == {"workbook": "out/recon-2024-05-01.xlsx"}


def test_summary_json_round_trips_and_is_deterministic(tmp_path: Path) -> None:
    path = write_summary_json(make_summary(), tmp_path / "summary.json")
    text = path.read_text(encoding="utf-8")
    assert json.loads(text) == summary_dict(make_summary())
    assert "长款" in text  # ensure_ascii=False
    assert text == summary_json(make_summary())
    assert text == json.dumps(json.loads(text), ensure_ascii=False, sort_keys=True, indent=2) + "\n"
    assert '"amount": "12.30"' in text


def test_a_reconciled_summary() -> None:
    s = replace(make_summary(()), sources=(make_summary().sources[0],), quarantined=0)
    d = summary_dict(s)
    assert d["reconciled"] is True and d["breaks"] == {"total": 0, "by_category": {}}
    assert d["pending"] == []
    # No break, but a quarantined line: not reconciled, and the count says why.
    d = summary_dict(replace(s, quarantined=3))
    assert d["reconciled"] is False and d["quarantined"] == 3 and d["counts"]["quarantined"] == 3

# --- fees.py --------------------------------------------------------------------------------


def test_fee_csv_is_exact(tmp_path: Path) -> None:
    path = write_fee_report(make_summary(), tmp_path / "fees.csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    rows = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    assert rows[0] == ["source", "business_date", "currency", "payment_method", "txn_type",
                       "count", "gross", "actual_fee", "expected_fee", "variance",
                       "effective_rate"]
    assert rows[1:] == [
        ["alipay", "2024-05-01", "CNY", "'+card", "refund", "1", "0.03", "0.01", "0.00", "0.01",
         "33.3333%"],
        ["alipay", "2024-05-01", "CNY", "wallet", "payment", "10", "1000.00", "6.00", "5.50",
         "0.50", "0.6000%"],
        ["stripe", "2024-05-01", "USD", "card", "chargeback", "2", "0.00", "30.00", "30.00",
         "0.00", ""],
    ]


def test_fee_lines_of_one_key_are_summed_and_rates_round_half_up(tmp_path: Path) -> None:
    line = FeeLine("tenpay", date(2024, 5, 1), "JPY", "wallet", "payment", 1, 8000, 25, 24)
    s = replace(make_summary(), fees=(line, line))
    rows = list(csv.reader(write_fee_report(s, tmp_path / "f.csv").read_text(
        encoding="utf-8-sig").splitlines()))
    assert rows[1:] == [["tenpay", "2024-05-01", "JPY", "wallet", "payment", "2", "16000", "50",
                         "48", "2", "0.3125%"]]
    assert str(effective_rate_percent(1, 2_000_000)) == "0.0001"  # 0.00005: a tie, half-up
    assert str(effective_rate_percent(-600, -100000)) == "0.6000"
    assert effective_rate_percent(5, 0) is None
