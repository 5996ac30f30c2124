"""PSP exports of the public conformance corpus: alipay/ wechatpay/ paypal/ stripe/ other-psp/ twint/ ofx/.

Each supported file parses (and agrees with the source project's golden output where one sits
beside it), each file broken on purpose is rejected, and each file of a format recon does not read
is skipped with the reason — after checking that no format wrongly claims it.
"""
from __future__ import annotations

import csv
import hashlib
import os
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from recon import pan
from recon.errors import IntegrityError, ParseError
from schemas import registry
from tests.test_psp_formats import assert_attributes_match_raw
from tests.conformance_table import record

ROOT = Path(os.environ.get("RECON_CONFORMANCE_DIR", Path(__file__).resolve().parents[2] / "shared/conformance"))
FOLDERS = ("alipay", "wechatpay", "paypal", "stripe", "other-psp", "twint", "ofx")
UNSUPPORTED = {
    "deg-wechat-personal-records.xlsx": "format not supported: Excel workbook (the same bill as the "
                                        ".csv beside it, which is parsed)",
    "deg-jd-pay-records.csv": "format not supported: JD Pay personal bill (a consumer export, not a "
                              "merchant settlement file)",
    "deg-meituan-records.csv": "format not supported: Meituan personal bill (a consumer export)",
    "twint": "format not supported: TWINT business export (semicolon CSV with localised, "
             "scrambled test headers; no merchant-settlement layout published)",
    "ofx": "format not supported: OFX (personal-finance download; bank statements come as camt, "
           "MT940, BAI2 or bank CSV)",
}
# file → (format, lines the file holds, lines quarantined, why)
EXPECT = {
    "deg-alipay-personal-records-gbk.csv": ("alipay_personal", 10, 0),
    "deg-wechat-personal-records.csv": ("wechatpay_personal", 27, 0),
    "alfystar-paypal-activity-French_sample.csv": ("paypal_activity", 184, None),
    "laurynas-paypal-DDR-20150907.01.008.CSV": ("paypal_report", 7, 0),
    "thepag-stripe-payments-export-2016.csv": ("stripe_payments", 10, 0),
}


def _negative() -> set[str]:
    path = ROOT / "provenance.tsv"
    if not path.is_file():
        return set()
    with path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return {Path(r["local_file"]).name for r in rows
            if "negative" in r["expected_result"] or re.search(r"wrong|invalid|unsupported|parseError|"
                                                               r"invalid_checksum", r["local_file"])}


def _params():
    files = [p for d in FOLDERS if (ROOT / d).is_dir() for p in sorted((ROOT / d).iterdir())
             if ".expected" not in p.name and not p.name.endswith(".expected.txt")]
    if not files:
        return [pytest.param(None, marks=pytest.mark.skip(
            reason=f"conformance corpus not found at {ROOT} (set RECON_CONFORMANCE_DIR)"))]
    return [pytest.param(p, id=f"{p.parent.name}/{p.name}") for p in files]


def _parse(path: Path, fmt: str | None = None):
    data = path.read_bytes()
    fmt = fmt or registry.identify(data, path.name)
    tz = "America/Los_Angeles" if "paypal" in fmt else "UTC" if "stripe" in fmt else "Asia/Shanghai"
    return fmt, registry.parse(fmt, data, name=path.name, source=path.parent.name,
                               sha256=hashlib.sha256(data).hexdigest(), business_date=date(2026, 1, 1),
                               timezone=tz)


def _golden(path: Path) -> list[tuple[str, str, int]]:
    """(date, orderId, |amount| in fen) of every transaction in double-entry-generator's beancount."""
    text = path.read_text(encoding="utf-8")
    out = []
    for block in re.split(r"\n(?=\d{4}-\d{2}-\d{2} \*)", text):
        m = re.match(r"(\d{4}-\d{2}-\d{2}) \*", block)
        order = re.search(r'orderId: "([^"]*)"', block)
        # the money moved is the sum of the debited postings (a withdrawal fee is its own posting)
        amounts = [Decimal(a) for a in re.findall(r"^\s+\S+\s+([\d.]+) CNY", block, re.M)]
        if m and order and amounts:
            out.append((m.group(1), order.group(1), int(sum(amounts) * 100)))
    return out


@pytest.mark.parametrize("path", _params())
def test_psp_conformance_file(path: Path):
    folder_reason = UNSUPPORTED.get(path.name) or UNSUPPORTED.get(path.parent.name)
    if path.name in _negative():
        with pytest.raises((ParseError, IntegrityError)):
            _parse(path)
        record(path.parent.name, path.name, "rejected")
        return
    if folder_reason:
        with pytest.raises(ParseError, match="claimed by none"):
            registry.identify(path.read_bytes(), path.name)
        pytest.skip(folder_reason)
    fmt_expected, lines, quarantined = EXPECT[path.name]
    try:
        fmt, parsed = _parse(path)
        assert fmt == fmt_expected
        assert parsed.line_count == lines
        if quarantined is not None:
            assert parsed.quarantine.height == quarantined
        golden = path.with_name(path.stem + ".beancount.expected")
        if golden.is_file():
            _compare_golden(parsed, golden)
        _check_specifics(path.name, parsed)
        assert_attributes_match_raw(parsed.frame, registry.card_type_field(fmt))
        # None of these real exports has a card number in its text: masking leaves every line as
        # sent (PayPal's 3M38516514197343D once lost its middle digits to it).
        assert pan.mask_frame_fast(parsed.frame, pan.STATEMENT_TEXT).equals(parsed.frame)
    except Exception:
        record(path.parent.name, path.name, "failed")
        raise
    record(path.parent.name, path.name, "parsed")


def _compare_golden(parsed, golden: Path) -> None:
    frame = parsed.frame.select(
        pl.col("booked_at").dt.convert_time_zone("Asia/Shanghai").dt.strftime("%Y-%m-%d").alias("d"),
        pl.col("psp_reference").fill_null("/"), pl.col("amount_minor").abs().alias("a"))
    ours = {tuple(r) for r in frame.iter_rows()}
    expected = _golden(golden)
    assert expected, f"no transactions read from {golden.name}"
    missing = [e for e in expected if e not in ours]
    assert not missing, f"golden transactions not in the parse: {missing}"


def _check_specifics(name: str, parsed) -> None:
    f = parsed.frame
    if name.startswith("thepag-stripe"):
        assert f["status"].value_counts().sort("status").rows() == [("Failed", 5), ("Paid", 5)]
        assert f.filter(pl.col("status") == "Paid")["fee_minor"].sum() == 378 + 146 + 51 + 755 + 86
        assert f["amount_minor"].sum() == 4000 * 5 + 12000 * 2 + 714 + 25000 + 1924
    if name.startswith("alfystar-paypal"):
        # The account converts from Congolese francs (CDF, 2 decimals in ISO 4217 list one): the
        # 92 CDF conversion rows and the 46 payments they fund (orig_currency CDF) all load, and
        # each currency's conversions net to zero.
        assert parsed.quarantine.height == 0
        assert f.filter(pl.col("currency") == "CDF").height == 92
        assert f.filter(pl.col("orig_currency") == "CDF").height == 46
        assert f.group_by("currency").agg(pl.col("amount_minor").sum()).sort("currency").rows() == [
            ("CDF", 0), ("EUR", 0), ("USD", 0)]
        assert f["txn_type"].value_counts().rows() == [("transfer", 184)]
    if name.startswith("laurynas-paypal-DDR"):
        assert [c.found for c in parsed.checks] == ["7"] * 5
        assert f["amount_minor"].sum() == -(221 + 322 + 533 + 4212 + 433 + 234 + 432)
