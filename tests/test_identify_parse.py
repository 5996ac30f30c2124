"""identify and parse agree: every sample file of every format that identify claims, parse reads
(no "missing column" after a claim), and every line is loaded or quarantined. The samples: the
builders of tests/psp_samples.py, the hand-written spec files (tests/data/spec/), and the
generator's WeChat layouts and Stripe report types with and without metadata columns."""
from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from recon import ratecard
from recon.generate import ids, stripe, wechat
from recon.generate.spec import RATE_CARDS, STRIPE, USER_POOL, WECHAT
from recon.generate.world import World
from schemas import registry
from tests import psp_samples as s

DAY = date(2026, 11, 21)
SPEC = Path(__file__).parent / "data" / "spec"


def _agree(data: bytes, name: str, want: str | None = None) -> str:
    fmt = registry.identify(data, name)
    assert want is None or fmt == want, (name, fmt)
    parsed = registry.parse(fmt, data, name=name, source="psp", sha256=hashlib.sha256(data).hexdigest(),
                            business_date=DAY, timezone="Asia/Shanghai")
    quarantined = parsed.quarantine["file_line"].n_unique() if parsed.quarantine.height else 0
    assert parsed.line_count == parsed.frame.height + quarantined > 0, name
    return fmt


SAMPLES = {"wechatpay_fundflow": s.wx_fundflow, "alipay_trade": s.alipay_trade,
           "alipay_account": s.alipay_account, "adyen_settlement": s.adyen,
           "paypal_activity": s.paypal_activity, "paypal_report": s.paypal_trr, "unionpay_acom": s.unionpay}


@pytest.mark.parametrize("fmt", list(SAMPLES))
def test_psp_samples(fmt):
    _agree(SAMPLES[fmt](), f"{fmt}.csv", fmt)


@pytest.mark.parametrize("path", sorted(SPEC.glob("*/*.csv")), ids=lambda p: p.name)
def test_spec_files(path):
    _agree(path.read_bytes(), path.name)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    world, out = World(7, 40), tmp_path_factory.mktemp("agree")
    card = {p.name: ratecard.load(RATE_CARDS / f"{p.name}.toml") for p in (WECHAT, STRIPE)}
    files = {}
    for layout in ("current", "older"):
        path = out / f"wechatpay_{layout}.csv"
        wechat.write(path, DAY, world.psp_day(DAY, WECHAT, card[WECHAT.name]), card[WECHAT.name],
                     ids.customers(7, WECHAT, USER_POOL), layout=layout)
        files[f"wechat {layout}"] = path.read_bytes()
    path = out / "stripe.csv"
    stripe.write(path, DAY, world.psp_day(DAY, STRIPE, card[STRIPE.name]), "po_1Agree")
    full = pl.read_csv(path, infer_schema=False)
    for report_type in stripe.REPORT_COLUMNS:
        for metadata in (False, True):
            files[f"{report_type} metadata={metadata}"] = stripe.report(full, report_type, metadata).write_csv(
                null_value="").encode()
    return files


def test_generated_layouts_and_report_types(generated):
    for name, data in generated.items():
        assert _agree(data, name) == ("wechatpay_trade" if name.startswith("wechat") else "stripe_itemized")


def test_literal_samples_of_the_parser_tests():
    from tests import bank_samples, test_parsers as t
    wx = t.wechat_bill([t.WX_PAY, t.WX_REFUND], t.wx_row("2", "100.00", "30.00", "0.00", "0.42", "100.00", "30.00"))
    assert _agree(wx, "wx.csv") == "wechatpay_trade"
    assert _agree(t.STRIPE, "stripe.csv") == "stripe_itemized"
    assert _agree(t.camt(t.CAMT_ENTRIES), "camt.xml") == "camt053"
    assert _agree(bank_samples.camt052().encode(), "camt052.xml") == "camt052"
