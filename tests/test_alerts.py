"""The night's notification, delivered for real: a day with a late source (Stripe) and a rejected
file (WeChat Pay, summary count off by one) runs through the nightly flow under Prefect, and the
e-mail (aiosmtpd on 127.0.0.1) and webhook (http.server on 127.0.0.1) that arrive are asserted.
A receiver that is down does not fail the run; a run that crashes sends its failure alert."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from recon.generate import generate_day
from tests.receivers import HttpReceiver, SmtpReceiver, config_copy, free_port
from tests.worlds import served

DAY = date(2026, 11, 21)
TOKEN = "tok-3f9c-not-for-logs"
pytestmark = pytest.mark.integration


@pytest.fixture
def bad_night(tmp_path, monkeypatch):
    """A generated day whose Stripe file never comes (deadline passed) and whose WeChat Pay bill
    does not balance; the config sends alerts to whatever RECON_ALERT_* / RECON_SMTP_* say."""
    world = tmp_path / "world"
    day = generate_day(DAY, world, seed=7, scale=50)
    day.paths["stripe"].unlink()
    bill = day.paths["wechatpay"]
    text = bill.read_text("utf-8")
    summary_row = text.rstrip("\n").rsplit("\n", 1)[1]
    count = summary_row.split(",")[0]
    bill.write_text(text.replace(summary_row, summary_row.replace(count, f"`{int(count[1:]) + 1}", 1)), "utf-8")
    cfg = config_copy(tmp_path / "recon.toml", replace={
        'smtp_to = ["payment-ops@example.com"]': 'smtp_to = ["ops@example.com", "cfo@example.com"]',
        "max_open_breaks = 50": "max_open_breaks = 1"},
        after={'  remote_dir = "stripe"\n': '  deadline = "00:00:01"\n  poll_s = 0.1\n'})
    monkeypatch.setenv("RECON_ALERT_WEBHOOK_TOKEN", TOKEN)
    with served(world, tmp_path, monkeypatch):
        yield cfg


def _receivers_env(monkeypatch, smtp_port: int, url: str):
    monkeypatch.setenv("RECON_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("RECON_SMTP_PORT", str(smtp_port))
    monkeypatch.setenv("RECON_SMTP_FROM", "recon@payments.example")
    monkeypatch.setenv("RECON_ALERT_WEBHOOK_URL", url)


def test_late_source_and_rejected_file_reach_email_and_webhook(prefect_harness, bad_night, monkeypatch, caplog):
    from flows.nightly import nightly
    with SmtpReceiver() as smtp, HttpReceiver() as hook:
        _receivers_env(monkeypatch, smtp.port, hook.url)
        result = nightly(business_date=DAY, config_path=str(bad_night))
    assert result["sources"] == {"ledger": "loaded", "wechatpay": "rejected", "stripe": "late", "bank": "loaded"}
    assert result["exit_code"] == 1
    assert result["notifications"] == {"webhook": "sent", "email": "sent"}

    (path, headers, body), = hook.requests
    assert path == "/hooks/recon" and headers["Authorization"] == f"Bearer {TOKEN}"
    headline, detail = body["text"].split("\n")
    # The late and the rejected source's ledger items wait as pending, one line per source, not breaks.
    pending = {p["source"]: p["items"] for p in result["pending"]}
    assert set(pending) == {"stripe", "wechatpay"} and all(pending.values())
    assert headline == ("recon 2026-11-21: NOT RECONCILED (exit 1), sources 2 (bank, ledger) received, "
                        "1 (stripe) late, 1 (wechatpay) rejected, 0 missing, 0 lines quarantined, "
                        f"{sum(pending.values())} items pending (source late)")
    assert detail.startswith(f"breaks {sum(result['breaks'].values())}: ")
    assert "above threshold: open breaks" in detail and "> 1" in detail
    assert body["status"] == "breaks" and body["exit_code"] == 1 and body["run_id"] == result["run_id"]
    assert body["sources"] == result["sources"]
    assert {c: v["count"] for c, v in body["breaks"].items()} == result["breaks"]
    kinds = {f["kind"]: f for f in body["findings"]}
    assert kinds["source_late"]["message"] == "stripe: late, no file by its deadline"
    assert kinds["source_late"]["runbook"] == "late-file"
    assert kinds["file_rejected"]["message"].startswith("wechatpay: wechatpay_trade_20261121.csv rejected: ")
    assert kinds["file_rejected"]["runbook"] == "integrity-error"
    assert kinds["open_breaks"]["runbook"] == "breaks-above-threshold"
    assert kinds["pending"]["runbook"] == "late-file"

    mail, = smtp.messages
    assert smtp.envelopes == [("recon@payments.example", ["ops@example.com", "cfo@example.com"])]
    assert mail["Subject"] == headline
    text = mail.get_content().replace("\r\n", "\n")
    if dump := __import__("os").environ.get("RECON_ALERT_DUMP"):  # for reading the bodies by eye
        Path(dump).write_text(f"{text}\n---\n{__import__('json').dumps(body, indent=1)}", "utf-8")
    assert text.startswith(f"{headline}\n{detail}\n\n")
    assert "- stripe: late, no file by its deadline (see docs/operations.md#late-file)" in text
    assert "(see docs/operations.md#integrity-error)" in text
    assert TOKEN not in caplog.text and TOKEN not in text


def test_receivers_down_do_not_fail_or_hide_the_run(prefect_harness, bad_night, monkeypatch, caplog):
    from flows.nightly import nightly
    _receivers_env(monkeypatch, free_port(), f"http://127.0.0.1:{free_port()}/down")
    result = nightly(business_date=DAY, config_path=str(bad_night))
    assert result["status"] == "breaks" and result["exit_code"] == 1
    assert Path(result["outputs"]["summary"]).is_file()
    assert set(result["notifications"]) == {"webhook", "email"}
    assert all(v.startswith("failed: ") for v in result["notifications"].values())
    assert "not delivered" in caplog.text and TOKEN not in caplog.text


def test_a_crashed_run_sends_its_failure_alert(prefect_harness, bad_night, monkeypatch):
    from flows.nightly import nightly
    from recon import pipeline

    def crash(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(pipeline, "match", crash)
    with HttpReceiver() as hook:
        _receivers_env(monkeypatch, free_port(), hook.url)
        with pytest.raises(RuntimeError, match="disk on fire"):
            nightly(business_date=DAY, config_path=str(bad_night))
    (_, _, body), = hook.requests
    assert body["status"] == "failed" and body["exit_code"] == 2
    assert body["text"].split("\n")[0].startswith("recon 2026-11-21: RUN FAILED (exit 2), sources ")
    assert "disk on fire" in body["text"]
    assert [f["runbook"] for f in body["findings"] if f["kind"] == "run_failed"] == ["run-crash"]
