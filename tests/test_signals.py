"""Risk signals, the statement chain check and the [alerts]/[signals] config on tiny literal inputs."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from recon import chain, config
from recon.config import SignalsConfig
from recon.errors import ConfigError, IntegrityError
from recon.reports.model import ChannelDay, FeeLine
from recon.signals import fee_signals, payout_signals, rate_signals
from tests.receivers import config_copy

D = date(2026, 11, 10)
S = SignalsConfig(history_days=7, min_history_days=3, min_payments=20, refund_rate_rise=Decimal("0.05"),
                  success_rate_drop=Decimal("0.05"), chargeback_rate_rise=Decimal("0.02"),
                  fee_rate_drift=Decimal("0.0010"))


def day(d: date, payments=100, ok=98, refunds=4, chargebacks=0, source="stripe") -> ChannelDay:
    return ChannelDay(source, d, "USD", payments, ok, refunds, chargebacks, payments + refunds,
                      payments, 1_000_000, 29_000)


def test_refund_spike_and_success_drop_against_the_channels_own_days():
    past = [day(D - timedelta(days=i)) for i in range(1, 6)]
    assert rate_signals([*past, day(D)], D, S) == []
    spiked = rate_signals([*past, day(D, refunds=9, ok=90)], D, S)
    assert [(g.kind, g.observed, g.baseline) for g in spiked] == [
        ("success_rate_drop", "0.9000", "0.9800"), ("refund_rate_spike", "0.0900", "0.0400")]
    # rise of exactly the threshold fires; just below does not
    assert [g.kind for g in rate_signals([*past, day(D, refunds=8, ok=98)], D, S)] == []
    assert [g.kind for g in rate_signals([*past, day(D, refunds=9)], D, S)] == ["refund_rate_spike"]


def test_no_rate_signal_without_enough_history_or_volume():
    two = [day(D - timedelta(days=i)) for i in (1, 2)]
    assert rate_signals([*two, day(D, refunds=50)], D, S) == []
    small = [day(D - timedelta(days=i), payments=10, ok=10, refunds=0) for i in range(1, 6)]
    assert rate_signals([*small, day(D, refunds=50)], D, S) == []
    other_channel = [day(D - timedelta(days=i), source="wechatpay") for i in range(1, 6)]
    assert rate_signals([*other_channel, day(D, refunds=50)], D, S) == []


def fee(actual: int, expected: int, txn="payment", n=50) -> FeeLine:
    return FeeLine("stripe", D, "USD", "card", txn, n, 1_000_000, actual, expected)


def test_fee_rate_drift_against_the_rate_card():
    assert fee_signals([fee(29_000, 29_000)], D, S) == []
    assert fee_signals([fee(29_900, 29_000)], D, S) == []  # 9 bps
    g, = fee_signals([fee(30_000, 29_000), fee(0, 500, txn="refund")], D, S)
    assert (g.kind, g.observed, g.baseline, g.threshold) == ("fee_rate_drift", "0.0300", "0.0290", "0.0010")
    assert fee_signals([fee(30_000, 29_000, n=5)], D, S) == []


def test_payout_later_than_usual():
    rows = [{"source": "stripe", "payout_id": f"po_{i}", "currency": "USD", "first_seen": D - timedelta(days=i),
             "settled_on": D - timedelta(days=i - 1), "delay_days": 1} for i in range(2, 7)]
    late = {"source": "stripe", "payout_id": "po_late", "currency": "USD", "first_seen": D - timedelta(days=2),
            "settled_on": None, "delay_days": 2}
    on_time = {"source": "stripe", "payout_id": "po_ok", "currency": "USD", "first_seen": D - timedelta(days=1),
               "settled_on": D, "delay_days": 1}
    assert [(g.reference, g.observed, g.baseline) for g in payout_signals([*rows, late, on_time], D, S)] == [
        ("po_late", "2", "1")]


def test_statement_chain_gap_is_a_query_over_balances():
    rows = [("CN01", "CNY", D - timedelta(days=1), "100", 5_000, 7_000),
            ("CN01", "CNY", D, "101", 7_000, 9_000),
            ("US01", "USD", D - timedelta(days=1), "100", 1_000, 2_000),
            ("US01", "USD", D, "102", 2_500, 3_000)]
    gaps = chain.check(rows, D)
    assert [(g["account"], g["balance_gap"], g["sequence_gap"], g["prev_closing_minor"], g["opening_minor"])
            for g in gaps] == [("US01", True, True, 2_000, 2_500)]
    assert chain.check(rows[:2], D) == []


def test_alerts_and_signals_config_read_and_checked(tmp_path, monkeypatch):
    monkeypatch.setenv("RECON_ALERT_WEBHOOK_URL", "http://127.0.0.1:9/hook")
    cfg = config.load(config_copy(tmp_path / "ok.toml"))
    assert cfg.alerts.webhook_url == "http://127.0.0.1:9/hook" and cfg.alerts.smtp_host is None
    assert cfg.alerts.max_open_amount["CNY"] == 1_000_000 and cfg.signals.large_break["USD"] == 100_000
    bad = config_copy(tmp_path / "bad.toml", replace={'smtp_password_env = "RECON_SMTP_PASSWORD"':
                                                      'smtp_password_env = "hunter2!"'})
    with pytest.raises(ConfigError, match=r"alerts\.smtp_password_env: expected the name of an environment"):
        config.load(bad)
    bad = config_copy(tmp_path / "bad2.toml", replace={'refund_rate_rise = "0.03"': 'refund_rate_rise = "3%"'})
    with pytest.raises(ConfigError, match=r"signals\.refund_rate_rise: expected a fraction"):
        config.load(bad)
    bad = config_copy(tmp_path / "bad3.toml", replace={"history_days = 14": "history_dayz = 14"})
    with pytest.raises(ConfigError, match=r"signals\.history_dayz: unknown key"):
        config.load(bad)


def test_errors_point_to_their_runbook_section():
    assert str(IntegrityError("f.csv", "count", 3, 2)).endswith("(runbook: docs/operations.md#integrity-error)")
    from recon.warehouse import WarehouseLocked
    assert "docs/operations.md#locked-warehouse" in str(WarehouseLocked("locked", hint="wait"))
