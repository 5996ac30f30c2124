"""The formats whose lines are stored with their span in the archive (recon.lineage.SPANNED) are
parsed for the store without their ``raw`` copy (registry.parse(raw=False)): the same lines, the
same quarantine rows with their texts and reasons, and no JSON built per line."""
from __future__ import annotations

import hashlib
import os
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from recon import lineage
from schemas import quirks, registry
from schemas.validation import QUARANTINE_COLUMNS, WITHOUT_RAW
from tests import bank_samples as b
from tests import psp_samples as s
from tests import test_lineage

DAY = date(2026, 11, 21)
SPEC = Path(__file__).parent / "data" / "spec"
CONFORMANCE = Path(os.environ.get("RECON_CONFORMANCE_DIR",
                                  Path(__file__).resolve().parents[2] / "shared/conformance"))
WX = (SPEC / "wechatpay" / "all_current.txt").read_bytes()
STRIPE = (SPEC / "stripe" / "balance_change_from_activity.itemized.3.csv").read_bytes()
BANK = b.BANKCSV.encode("cp1252")

# name → (format, bytes, file name, options, the quarantine rows as (line, field, value))
SAMPLES = {
    "wechat bill": ("wechatpay_trade", WX, "all_current.csv", None, []),
    "wechat bill, an impossible time": (
        "wechatpay_trade", WX.replace(b"`2026-11-21 14:30:00", b"`2026-11-31 14:30:00"), "all_current.csv",
        None, [(3, "booked_at", "2026-11-31 14:30:00")]),
    "stripe report": ("stripe_itemized", STRIPE, "itemized.csv", None, []),
    "stripe report, a currency recon does not know": (
        "stripe_itemized", STRIPE.replace(b'"usd","-970.70"', b'"xyz","-970.70"'), "itemized.csv", None,
        [(3, "amount_minor", "-970.70"), (3, "currency", "xyz"), (3, "net_minor", "-970.70"),
         (3, "fee_minor", "0.00")]),
    "wechat fund flow, an impossible time": (
        "wechatpay_fundflow", s.wx_fundflow().replace(b"2026-11-21 12:00:00", b"2026-11-31 12:00:00"),
        "fundflow.csv", None, [(4, "booked_at", "2026-11-31 12:00:00")]),
    "adyen settlement": ("adyen_settlement", s.adyen(), "settlement_detail_report_batch_1.csv", None, []),
    "paypal activity": ("paypal_activity", s.paypal_activity(), "Download.CSV", None, []),
    "bank csv, an impossible date": (
        "bankcsv", BANK.replace(b"02.01.2026;02.01.2026;Acme", b"31.02.2026;02.01.2026;Acme"), "u.csv",
        b.BANKCSV_OPTIONS, [(5, "booked_at", "31.02.2026")]),
}
PUBLISHED = {"wechatpay_personal": "wechatpay/deg-wechat-personal-records.csv",
             "stripe_payments": "stripe/thepag-stripe-payments-export-2016.csv",
             "paypal_activity": "paypal/alfystar-paypal-activity-French_sample.csv"}


def _parse(fmt: str, data: bytes, name: str, options, raw: bool, part_bytes=None):
    parts = list(registry.parse_parts(fmt, data, name=name, source="psp", sha256=hashlib.sha256(data).hexdigest(),
                                      business_date=DAY, timezone="Asia/Shanghai", options=options,
                                      part_bytes=part_bytes, raw=raw))
    return (pl.concat([p.frame for p in parts]), pl.concat([p.quarantine for p in parts]),
            [c for p in parts for c in p.checks])


def _same_but_raw(fmt: str, data: bytes, name: str, options, monkeypatch, part_bytes=None):
    """Parsed with and without raw (the latter with raw's JSON refused): equal but for raw."""
    frame, quarantine, checks = _parse(fmt, data, name, options, True, part_bytes)
    with monkeypatch.context() as m:
        m.setattr(quirks, "raw_json", lambda columns: pytest.fail("raw built for a spanned format"))
        lean, lean_q, lean_checks = _parse(fmt, data, name, options, False, part_bytes)
    assert "raw" in frame.columns and lean.schema == pl.Schema(WITHOUT_RAW)
    assert lean.equals(frame.drop("raw")) and lean.height == frame.height
    assert lean_q.schema == pl.Schema(QUARANTINE_COLUMNS) and lean_q.equals(quarantine)
    assert lean_checks == checks
    return lean, lean_q


def test_every_spanned_format_can_be_parsed_without_raw():
    assert lineage.SPANNED <= {f for f, m in registry.FORMATS.items() if getattr(m, "RAW_OPTIONAL", False)}


@pytest.mark.parametrize("label", SAMPLES)
def test_without_raw_the_same_lines_and_quarantine_rows(label, monkeypatch):
    fmt, data, name, options, expected = SAMPLES[label]
    frame, quarantine = _same_but_raw(fmt, data, name, options, monkeypatch)
    assert frame.height > 0
    assert quarantine.select("file_line", "field", "value").rows() == expected
    assert all(quarantine["reason"]) and set(quarantine["file_name"]) <= {name}


def test_a_bill_read_in_parts_without_raw_is_the_same(monkeypatch):
    data = WX.replace(b"`2026-11-21 14:30:00", b"`2026-11-31 14:30:00")
    _, quarantine = _same_but_raw("wechatpay_trade", data, "all_current.csv", None, monkeypatch, part_bytes=200)
    assert quarantine["reason"].to_list() == ["'2026-11-31 14:30:00' is not a date-time in the form this format uses"]


@pytest.mark.parametrize("fmt", PUBLISHED)
def test_published_files_without_raw_are_the_same(fmt, monkeypatch):
    path = CONFORMANCE / PUBLISHED[fmt]
    if not path.is_file():
        pytest.skip(f"{path} is absent (the conformance corpus lives beside the repository)")
    frame, _ = _same_but_raw(fmt, path.read_bytes(), path.name, None, monkeypatch)
    assert frame.height > 0


def test_a_format_that_keeps_raw_ignores_the_hint():
    data = s.alipay_trade()
    assert not lineage.spanned("alipay_trade")
    frame, _, _ = _parse("alipay_trade", data, "alipay.csv", None, False)
    assert frame["raw"].null_count() == 0 and frame.height == 3


def test_the_load_builds_no_raw_for_a_spanned_format(monkeypatch, tmp_path):
    """The pipeline's prepare step asks for no raw where the store keeps a span: WeChat and Stripe
    load with raw's JSON refused, and their lines are stored with spans."""
    from recon import warehouse
    monkeypatch.setattr(quirks, "raw_json", lambda columns: pytest.fail("raw built for a spanned format"))
    cfg, _, _ = _load(tmp_path)
    con = warehouse.connect(cfg.warehouse)
    try:
        counts = dict(warehouse.rows(con, "SELECT source, count(*) FROM statement_lines WHERE raw IS NULL "
                                          "AND byte_offset IS NOT NULL GROUP BY source"))
    finally:
        con.close()
    assert counts["wechatpay"] == 3 and counts["stripe"] > 20


def _load(tmp_path):
    """test_lineage's ``loaded`` (WeChat's GBK bill and a gzip Stripe report through the pipeline's
    prepare and store steps), called here after raw's JSON is refused."""
    return test_lineage.loaded.__wrapped__(tmp_path)


def test_recon_parse_shows_raw_only_when_asked(tmp_path, capsys):
    from recon import cli
    path = tmp_path / "itemized.csv"
    path.write_bytes(STRIPE)
    assert cli.main(["parse", str(path), "--timezone", "UTC", "--date", "2026-11-21"]) == 0
    plain = pl.read_csv(capsys.readouterr().out.encode())
    assert cli.main(["parse", str(path), "--timezone", "UTC", "--date", "2026-11-21", "--raw"]) == 0
    full = pl.read_csv(capsys.readouterr().out.encode())
    assert "raw" not in plain.columns and plain.height == full.height == 2
    assert full["raw"][1].startswith('{"available_on":"2026-11-22 08:00:00"') and '"net":"-970.70"' in full["raw"][1]
