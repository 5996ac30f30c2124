"""Mangled PSP files end in a ParseError, an IntegrityError or quarantined rows — never another
exception, a float, or a half-loaded line (hypothesis, bounded)."""
from __future__ import annotations

import hashlib
from datetime import date

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recon.errors import IntegrityError, ParseError
from schemas import registry
from tests import psp_samples as s

SAMPLES = {
    "wechatpay_fundflow": s.wx_fundflow(), "alipay_trade": s.alipay_trade(),
    "alipay_account": s.alipay_account(), "adyen_settlement": s.adyen(),
    "paypal_activity": s.paypal_activity(), "paypal_report": s.paypal_trr(), "unionpay_acom": s.unionpay(),
}
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def outcome(data: bytes, fmt: str | None = None) -> str:
    try:
        fmt = fmt or registry.identify(data, "mangled")
        parsed = registry.parse(fmt, data, name="mangled", source="psp", timezone="Asia/Shanghai",
                                sha256=hashlib.sha256(data).hexdigest(), business_date=date(2026, 11, 21))
    except (ParseError, IntegrityError):
        return "error"
    frame = parsed.frame
    for column in ("amount_minor", "fee_minor", "net_minor", "orig_amount_minor"):
        assert frame.schema[column] == pl.Int64
    assert not any(t in (pl.Float32, pl.Float64) for t in frame.schema.values())
    assert parsed.line_count == frame.height + parsed.quarantine["file_line"].n_unique()
    assert frame.height == 0 or frame["amount_minor"].abs().max() < 10**18
    return "quarantined" if parsed.quarantine.height else "loaded"


@pytest.mark.parametrize("fmt", sorted(SAMPLES))
@FAST
@given(cut=st.floats(0.05, 0.98))
def test_truncated(fmt, cut):
    data = SAMPLES[fmt]
    outcome(data[: int(len(data) * cut)])


@pytest.mark.parametrize("fmt", sorted(SAMPLES))
@FAST
@given(at=st.floats(0, 0.999), byte=st.integers(0, 255))
def test_byte_flipped(fmt, at, byte):
    data = bytearray(SAMPLES[fmt])
    data[int(len(data) * at)] = byte
    outcome(bytes(data))


@FAST
@given(delta=st.sampled_from([-1, 1]), which=st.integers(0, 4))
def test_fundflow_totals_off_by_one(delta, which):
    good = ["4", "1", "100.00", "3", "1030.60"]
    if which in (0, 1, 3):
        good[which] = str(int(good[which]) + delta)
    else:
        good[which] = f"{float(good[which]) + delta / 100:.2f}"  # test data text only, never parsed as float
    assert outcome(s.wx_fundflow(summary=tuple(good))) == "error"


@FAST
@given(day=st.sampled_from(["2026-02-30 10:00:00", "2026-13-01 00:00:00", "2026-11-21 25:00:00",
                            "21/11/2026 10:00", ""]))
def test_impossible_dates_are_quarantined(day):
    rows = [(day, "1", "F1", "交易", "交易", "收入", "1.00", "1.00", "", "", "O1")]
    data = s.wx_fundflow(rows, ("1", "1", "1.00", "0", "0.00"))
    assert outcome(data) == "quarantined"


@FAST
@given(amount=st.sampled_from(["99999999999999999.99", "1.001", "1e3", "12,34", "-", "１.00"]))
def test_bad_amounts_never_load(amount):
    rows = [("2026-11-21 10:00:00", "1", "F1", "交易", "交易", "收入", amount, amount, "", "", "O1")]
    data = s.wx_fundflow(rows, ("1", "1", amount, "0", "0.00"))
    assert outcome(data) in ("error", "quarantined")


@FAST
@given(amount=st.sampled_from(["10000000000000000.00", "100.001", "abc"]))
def test_adyen_bad_amounts(amount):
    rows = [dict(r) for r in s.ADYEN_ROWS]
    rows[0]["Net Credit (NC)"] = amount
    assert outcome(s.adyen(rows=rows)) in ("error", "quarantined")
