"""Payout references where banks put them, in statements written by hand to the published specs
(tests/data/spec/payouts/): camt.053.001.08 (a Stripe payout id in Ustrd, in AddtlNtryInf, as
EndToEndId, in AddtlNtryInf beside an Ustrd: found in `raw`; a WeChat settlement known by its payer only), MT940 (`:86:` ?21/?22 SVWZ split across
sub-fields, the `:61:` customer reference, a Dutch /EREF/) and BAI2 (a 16's text, its customer
reference, its bank reference). Each file is parsed, loaded and cleared against the PSP payouts."""
from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import polars as pl
import pytest

from recon import warehouse
from recon.config_payouts import PayoutReferences
from schemas import registry
from tests.tables import D, delivered, run_day, stmt, ts

SPEC = Path(__file__).parent / "data" / "spec" / "payouts"
REFS = PayoutReferences(fields=("end_to_end_id", "bank_reference", "merchant_reference", "description", "raw"),
                        patterns={"stripe": r"\b(po_[A-Za-z0-9]+)\b"}, declared=True)


def configured(cfg):
    def one(s):
        if s.name == "bank":
            return dataclasses.replace(s, payout_references=REFS)
        if s.name == "wechatpay":  # WeChat bills carry no payout id: the day's net, found by payer
            return dataclasses.replace(s, payout_lag_days=0, payer_names=("财付通支付科技有限公司",),
                                       options={})
        return s
    return dataclasses.replace(cfg, sources=[one(s) for s in cfg.sources])


def psp_lines():
    stripe = []
    for n, (pid, net) in enumerate((("po_1Ab2", 941), ("po_3Ef4", 2059), ("po_5Gh6", 3000),
                                           ("po_7Jk8", 4000))):
        stripe += [dict(merchant_reference=f"ch{n}", amount_minor=net + 30, fee_minor=30, payout_id=pid,
                        booked_at=ts(1)),
                   dict(merchant_reference=None, psp_reference=pid, txn_type="payout", amount_minor=-net,
                        fee_minor=0, payout_id=pid, booked_at=ts(9))]
    stripe = stmt(*stripe, source="stripe", currency="USD").with_columns(
        pl.lit("s" * 64).alias("file_sha256"), pl.col("line_id").str.replace("^f+", "stripe"))
    wechat = stmt(dict(merchant_reference="ORD1", amount_minor=15000, fee_minor=90, booked_at=ts(1)))
    return stripe, wechat


def load(con, name):
    data = (SPEC / name).read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    parsed = registry.parse(registry.identify(data, name), data, name=name, source="bank", sha256=sha,
                            business_date=D, timezone="Asia/Shanghai")
    for frame in (*psp_lines(), parsed.frame):
        warehouse.insert_frame(con, "statement_lines", frame)
        delivered(con, frame)


@pytest.mark.parametrize(("name", "expected"), [
    ("camt.053.001.08-payout-references.xml",  # Ustrd, AddtlNtryInf, EndToEndId; the payer's name
     [(16, "payout_reference", "po_1Ab2", 0), (26, "payout_reference", "po_3Ef4", 0),
      (32, "payout_reference", "po_5Gh6", 0), (41, "payout_reference", "po_7Jk8", 0),  # raw: AddtlNtryInf
      (57, "payout_amount", "wechatpay 2026-11-21 CNY", 0)]),
    ("mt940-payout-references.sta",  # ?21+?22 SVWZ, :61: customer reference, /EREF/
     [(6, "payout_reference", "po_1Ab2", 0), (8, "payout_reference", "po_3Ef4", 0),
      (10, "payout_reference", "po_5Gh6", 0)]),
    ("bai2-payout-references.bai2",  # 16 text, customer reference, bank reference
     [(4, "payout_reference", "po_1Ab2", 0), (5, "payout_reference", "po_3Ef4", 0),
      (7, "payout_reference", "po_5Gh6", 0)]),
])
def test_payout_references_in_free_text_are_found(con, cfg, name, expected):
    load(con, name)
    run_day(con, configured(cfg), sources=("wechatpay", "stripe", "bank"))
    got = sorted(con.execute(
        "SELECT s.file_line, m.rule, m.payout_id, m.difference_minor FROM matches m "
        "JOIN statement_lines s ON s.line_id = m.line_id WHERE m.kind = 'payout_bank'").fetchall())
    assert got == expected
    statuses = dict(con.execute("SELECT payout_id, status FROM payouts").fetchall())
    assert statuses["po_1Ab2"] == statuses["po_3Ef4"] == statuses["po_5Gh6"] == "matched"
