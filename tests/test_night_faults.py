"""`recon run` against faults of the night, on real parts (sshd, Prefect's test harness, DuckDB):
a day with no files, a reports path that cannot be written, a full disk at the workbook's write,
a quarantine-only day, and a second run while the first holds the warehouse. Each is a case of
`make chaos` (recon.chaos)."""
from __future__ import annotations

import errno
import json
import os
import re
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import duckdb
import pytest

from recon import config, pipeline, runlock
from recon.chaos import check
from recon.generate import generate_day
from tests.receivers import config_copy
from tests.test_exit_codes import assert_one_paragraph as _one_paragraph
from tests.worlds import served

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "data" / "recon.toml"
DAY = date(2026, 11, 21)


@pytest.fixture
def world(tmp_path, monkeypatch):
    w = tmp_path / "world"
    generate_day(DAY, w, seed=5, scale=20)
    with served(w, tmp_path, monkeypatch) as sshd:
        yield sshd


def assert_one_paragraph(err: str, *needles: str) -> str:
    """``test_exit_codes.assert_one_paragraph`` on what recon itself wrote: the log records of
    Prefect's loggers (its console handler's "hh:mm:ss.fff | …" or "hh:mm:ss LEVEL prefect.…", with
    a failed task's traceback under them) are Prefect's own logging, configured apart from the
    CLI's error paragraph (PREFECT_LOGGING_*), and left out here."""
    ours, prefect = [], False
    for line in err.splitlines():
        if re.match(r"\d\d:\d\d:\d\d(\.\d+ \| | [A-Z]+ +prefect[.:])", line):
            prefect = True
        elif line.startswith("recon: "):
            prefect = False
        if not prefect:
            ours.append(line)
    return _one_paragraph("\n".join(ours), *needles)


def runs(cfg) -> list[tuple[str, str]]:
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    try:
        return con.execute("SELECT run_id, status FROM runs ORDER BY started_at").fetchall()
    finally:
        con.close()


def recon(*argv: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """`recon -q ARGV` in a subprocess, on the harness's Prefect API, with the test's environment."""
    from prefect.settings import PREFECT_API_URL
    environ = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), **(env or {})}
    return subprocess.run([sys.executable, "-m", "recon.cli", "-q", *argv], capture_output=True, text=True,
                          cwd=ROOT, env=environ, timeout=300)


def test_a_day_with_no_files_is_a_late_day(prefect_harness, world):
    with check("fault", "night: a day with no files at all"):
        out = recon("run", "--date", "2026-11-25", "--config", str(CONFIG))
        assert out.returncode == 1, out.stderr
        assert "Traceback" not in out.stderr
        for source in ("ledger", "wechatpay", "stripe", "bank"):
            assert f"  source {source:<12} missing" in out.stdout
        assert [s for _, s in runs(config.load(CONFIG))] == ["breaks"]


def test_a_reports_path_that_cannot_be_written(prefect_harness, world, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the reports folder should be")
    cfg_path = config_copy(tmp_path / "recon.toml", replace={
        'reports   = "${RECON_HOME:-../var}/reports"': f'reports   = "{blocker}/reports"'})
    with check("fault", "night: reports path under a file"):
        out = recon("run", "--date", "2026-11-21", "--config", str(cfg_path))
        assert out.returncode == 2
        assert_one_paragraph(out.stderr, f"{blocker}/reports/2026-11-21/", "a part of the path is a file",
                             "paths-and-permissions")
        assert [s for _, s in runs(config.load(cfg_path))] == ["failed"]


def test_reports_on_a_full_disk(prefect_harness, world, tmp_path, tmpfs):
    """The reports folder on a 16 kB tmpfs: the OS's own ENOSPC at the workbook's write."""
    tiny = tmpfs("16k", covered_by="test_the_workbook_write_fails")
    cfg_path = config_copy(tmp_path / "recon.toml", replace={
        'reports   = "${RECON_HOME:-../var}/reports"': f'reports   = "{tiny}/reports"'})
    with check("fault", "night: reports onto a full disk (tmpfs)"):
        out = recon("run", "--date", "2026-11-21", "--config", str(cfg_path))
        assert out.returncode == 2
        assert_one_paragraph(out.stderr, f"{tiny}/reports", "the disk is full", "full-disk")
        assert [s for _, s in runs(config.load(cfg_path))] == ["failed"]


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EACCES])
def test_the_workbook_write_fails(prefect_harness, world, monkeypatch, code):
    from flows.nightly import nightly
    from recon import outputs
    from recon.cli_errors import describe

    def fail(summary, path, **kw):
        raise OSError(code, os.strerror(code), str(path))
    monkeypatch.setattr(outputs, "write_workbook", fail)
    with check("fault", f"night: {errno.errorcode[code]} at the workbook's write"):
        with pytest.raises(OSError) as e:
            nightly(business_date=DAY, config_path=str(CONFIG))
        text, exit_code = describe(e.value)
        kind = {errno.ENOSPC: "the disk is full", errno.EACCES: "permission denied"}[code]
        assert exit_code == 2 and f"recon_2026-11-21.xlsx: {kind}" in text
        assert [s for _, s in runs(config.load(CONFIG))] == ["failed"]


LEDGER = """\
entry_id,business_date,booked_at,channel,txn_type,merchant_reference,psp_reference,original_reference,amount,currency,counterparty,description
LE1,2026-11-21,2026-11-21T10:10:04+08:00,stripe,payment,ORD-A1,ch_A1,,94.89,USD,cus_1,API credits
LE2,2026-11-21,2026-11-21T11:35:04+08:00,stripe,payment,ORD-A2,ch_A2,,87.04,USD,cus_2,API credits
"""
# Stripe's itemized balance-change report (docs/formats.md): two charges that match the ledger,
# and a third whose gross is not an amount: quarantined, line 4.
STRIPE = """\
balance_transaction_id,created_utc,created,available_on_utc,available_on,currency,gross,fee,net,reporting_category,source_id,description,customer_facing_amount,customer_facing_currency,automatic_payout_id,automatic_payout_effective_at,payment_intent_id,payment_metadata[order_id],refund_metadata[refund_id],card_brand,payment_method_type
txn_A1,2026-11-21 02:10:06,2026-11-21 10:10:06,2026-11-22 16:00:00,2026-11-23 00:00:00,usd,94.89,3.05,91.84,charge,ch_A1,API credits,94.89,usd,,,pi_A1,ORD-A1,,visa,card
txn_A2,2026-11-21 03:35:06,2026-11-21 11:35:06,2026-11-22 16:00:00,2026-11-23 00:00:00,usd,87.04,2.82,84.22,charge,ch_A2,API credits,87.04,usd,,,pi_A2,ORD-A2,,visa,card
txn_A3,2026-11-21 04:35:06,2026-11-21 12:35:06,2026-11-22 16:00:00,2026-11-23 00:00:00,usd,12.x0,0.65,11.35,charge,ch_A3,API credits,12.00,usd,,,pi_A3,ORD-A3,,visa,card
"""


def test_a_quarantine_only_day_is_not_reconciled(prefect_harness, tmp_path, monkeypatch, capsys):
    from flows.nightly import nightly
    w = tmp_path / "world"
    (w / "ledger").mkdir(parents=True)
    (w / "stripe").mkdir()
    (w / "ledger" / "ledger_20261121.csv").write_text(LEDGER, "utf-8")
    (w / "stripe" / "stripe_itemized_20261121.csv").write_text(STRIPE, "utf-8")
    with check("bad_input", "night: every line matched but one quarantined"), served(w, tmp_path, monkeypatch):
        result = nightly(business_date=DAY, config_path=str(CONFIG), sources=["stripe"])
        assert result["breaks"] == {} and result["pending"] == []
        assert result["quarantined"] == 1 and result["exit_code"] == 1
        summary = json.loads(Path(result["outputs"]["summary"]).read_text("utf-8"))
        assert summary["reconciled"] is False and summary["counts"]["matched_ledger"] == 2
        from recon import alerts
        cfg = config.load(CONFIG)
        from recon.assemble import build_summary, latest_run
        run_id, started, statuses = latest_run(cfg, DAY)
        note = alerts.run_notification(cfg, build_summary(cfg, run_id, DAY, started, statuses), 1)
        assert note.headline == ("recon 2026-11-21: NOT RECONCILED (exit 1), sources 2 (ledger, stripe) "
                                 "received, 0 late, 0 rejected, 0 missing, 1 lines quarantined, "
                                 "0 items pending (source late)")
        assert any(f.kind == "quarantine" for f in note.findings), (note.findings, statuses)


HOLDER = textwrap.dedent("""
    import sys
    from datetime import date
    from recon import config, pipeline, runlock
    cfg = config.load(sys.argv[1])
    with runlock.hold(cfg, "20261121-063000-feed01", date(2026, 11, 21)):
        pipeline.begin_run(cfg, "20261121-063000-feed01", date(2026, 11, 21))
        print("held", flush=True)
        sys.stdin.read()
""")


def hold_in_another_process(cfg_path: Path) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-c", HOLDER, str(cfg_path)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True, cwd=ROOT, env=os.environ.copy())
    assert p.stdout.readline().strip() == "held"
    return p


def test_a_second_run_refuses_naming_the_holder_and_leaves_it_running(prefect_harness, world, caplog):
    cfg = config.load(CONFIG)
    holder = hold_in_another_process(CONFIG)
    try:
        with check("fault", "night: a second run while the first holds the warehouse"):
            out = recon("run", "--date", "2026-11-21", "--config", str(CONFIG))
            assert out.returncode == 2
            assert_one_paragraph(out.stderr, "another recon run holds this warehouse",
                                 "run 20261121-063000-feed01 for 2026-11-21", f"pid {holder.pid} on host",
                                 "since 20", "locked-warehouse")
            assert runs(cfg) == [("20261121-063000-feed01", "running")]
            # Even a caller that skips the lock does not take the live run for dead.
            pipeline.begin_run(cfg, "20261121-070000-beef02", DAY)
            assert ("20261121-063000-feed01", "running") in runs(cfg)
            assert "is still running: not marked interrupted" in caplog.text
            # rerun is a run too: it refuses the same way.
            out = recon("rerun", "--date", "2026-11-21")
            assert out.returncode == 2
            assert_one_paragraph(out.stderr, f"pid {holder.pid}")
    finally:
        holder.kill()  # dies holding the lock: the kernel releases it
        holder.wait()
    # The holder is gone: the next run marks what it left running interrupted, then reconciles.
    assert recon("run", "--date", "2026-11-21", "--config", str(CONFIG)).returncode == 1
    status = dict(runs(cfg))
    assert status["20261121-063000-feed01"] == "interrupted" and status["20261121-070000-beef02"] == "interrupted"
    assert list(status.values()).count("breaks") == 1


def test_a_second_run_waits_for_the_first(tmp_path, monkeypatch):
    monkeypatch.setenv("RECON_HOME", str(tmp_path / "var"))
    cfg = config.load(CONFIG)
    holder = hold_in_another_process(CONFIG)
    with check("fault", "night: a second run waits for the first to finish"):
        import threading
        threading.Timer(1.0, holder.stdin.close).start()  # the first run finishes a second later
        monkeypatch.setenv(runlock.WAIT_ENV, "120")
        with runlock.hold(cfg, "second", DAY) as me:
            assert me["pid"] == os.getpid() and runlock.holder(cfg)["run_id"] == "second"
        assert holder.wait(timeout=60) == 0
    monkeypatch.setenv(runlock.WAIT_ENV, "soon")
    with pytest.raises(Exception, match="RECON_LOCK_WAIT_SECONDS='soon'"):
        runlock.wait_seconds(cfg)
