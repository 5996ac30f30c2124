"""The nightly flow end to end on real parts: generated world → real sshd → Prefect → DuckDB file
→ reports, scored against the generator's ground truth on the demo day and three other seeds."""
from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from recon import config
from recon.assemble import break_keys
from recon.evaluate import read_truth, score
from recon.generate import generate_day
from tests.worlds import CONFIG, DAY, served

ROOT = Path(__file__).resolve().parents[1]
# A one-day world: its bank file credits the payouts of the day before, which recon never saw
# (missing_in_ledger); its own payouts are in transit (payout_mismatch: tests/test_eval.py).
CATEGORIES = {"missing_in_ledger", "missing_in_statement", "amount_mismatch", "duplicate", "timing",
              "fee_variance"}

pytestmark = pytest.mark.integration


def night(tmp: Path, seed: int, monkeypatch, scale: int = 200):
    from flows.nightly import nightly
    world = tmp / "world"
    day = generate_day(DAY, world, seed=seed, scale=scale)
    with served(world, tmp, monkeypatch):
        result = nightly(business_date=DAY, config_path=str(CONFIG))
    return day, result, config.load(CONFIG)


@pytest.mark.parametrize("seed", [7, 11, 23, 42])
def test_every_injected_break_found_and_nothing_else(prefect_harness, tmp_path, monkeypatch, seed):
    day, result, cfg = night(tmp_path, seed, monkeypatch)
    truth = read_truth(day.paths["truth"])
    assert {c for c, _, _ in truth} == CATEGORIES
    scores = score(break_keys(cfg, result["run_id"]), truth)
    for category in CATEGORIES:
        s = scores[category]
        assert (s.precision, s.recall) == (1.0, 1.0), (category, s)
    assert scores["all"].found == scores["all"].expected == len(truth)
    assert result["status"] == "breaks" and result["exit_code"] == 1
    assert result["sources"] == {"ledger": "loaded", "wechatpay": "loaded", "stripe": "loaded", "bank": "loaded"}


def test_nightly_outputs_and_rerun_is_idempotent(prefect_harness, tmp_path, monkeypatch):
    day, first, cfg = night(tmp_path, 7, monkeypatch)
    summary = json.loads(Path(first["outputs"]["summary"]).read_text("utf-8"))
    truth = read_truth(day.paths["truth"])
    assert summary["business_date"] == "2026-11-21"
    assert summary["reconciled"] is False
    wb = openpyxl.load_workbook(first["outputs"]["workbook"])
    assert {"Summary", "Breaks"} <= set(wb.sheetnames)
    assert wb["Breaks"].max_row - 1 == len(truth)  # one row per break under the header

    # Same files again (redelivered, same bytes): nothing new is stored or loaded, same breaks.
    with served(tmp_path / "world", tmp_path, monkeypatch, sshd_dir=tmp_path / "sshd2"):
        from flows.nightly import nightly
        second = nightly(business_date=DAY, config_path=str(CONFIG))
    assert break_keys(cfg, second["run_id"]) == break_keys(cfg, first["run_id"])
    import duckdb
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM files").fetchone()[0] == 4
        lines = con.execute("SELECT count(*), count(DISTINCT line_id) FROM statement_lines").fetchone()
        assert lines[0] == lines[1]
        dup = con.execute("SELECT count(*) FROM (SELECT entry_id FROM ledger_entries GROUP BY entry_id "
                          "HAVING count(*) > 1)").fetchone()[0]
        assert dup == 0
        runs = con.execute("SELECT status FROM runs ORDER BY started_at").fetchall()
        assert runs == [("breaks",), ("breaks",)]
    finally:
        con.close()


def test_flow_and_task_runs_have_names_people_understand(prefect_harness, tmp_path, monkeypatch):
    import asyncio

    from prefect.client.orchestration import get_client

    _, result, _ = night(tmp_path, 11, monkeypatch, scale=50)

    async def names():
        async with get_client() as client:
            run = await client.read_flow_run(result["flow_run_id"])
            tasks = await client.read_task_runs()
            return run, {t.name for t in tasks if t.flow_run_id == run.id}

    run, task_names = asyncio.run(names())
    assert run.name == "reconcile 2026-11-21"
    assert run.state.is_completed()
    assert {"fetch wechatpay", "fetch stripe", "fetch bank", "fetch ledger export",
            "match 2026-11-21", "reports 2026-11-21"} <= task_names
    assert any(n.startswith("load wechatpay_trade_20261121") for n in task_names)


def test_recon_run_exit_codes(prefect_harness, tmp_path, monkeypatch, capsys):
    from recon import cli
    world = tmp_path / "world"
    generate_day(DAY, world, seed=5, scale=50)
    with served(world, tmp_path, monkeypatch) as sshd:
        assert cli.main(["run", "--date", "2026-11-21", "--config", str(CONFIG)]) == 1  # breaks found
        out = capsys.readouterr().out
        assert "breaks" in out and "recon_2026-11-21.xlsx" in out
        # A host key that is not the pinned one: refused, the run fails, exit 2, one paragraph.
        other = tmp_path / "other_known_hosts"
        other.write_text(f"[127.0.0.1]:{sshd.port} ssh-ed25519 "
                         "AAAAC3NzaC1lZDI1NTE5AAAAIGJ0v7Y6ZQ7bq5QpU5oJtq8rY4m2mJq1n0F1yQk0bqBf\n")
        monkeypatch.setenv("RECON_SFTP_KNOWN_HOSTS", str(other))
        assert cli.main(["run", "--date", "2026-11-21", "--config", str(CONFIG), "--sources", "stripe"]) == 2
    err = capsys.readouterr().err
    assert "HOST KEY MISMATCH" in err
    import duckdb
    con = duckdb.connect(str(config.load(CONFIG).warehouse), read_only=True)
    try:
        assert con.execute("SELECT status FROM runs ORDER BY started_at").fetchall() == [("breaks",), ("failed",)]
    finally:
        con.close()


def test_a_corrected_file_replaces_the_original_without_double_counting(prefect_harness, tmp_path, monkeypatch):
    import csv
    import io

    import duckdb

    from connectors.archive import Archive
    from flows.nightly import nightly
    world = tmp_path / "world"
    generate_day(DAY, world, seed=21, scale=60)
    with served(world, tmp_path, monkeypatch):
        first = nightly(business_date=DAY, config_path=str(CONFIG))
        # Stripe re-delivers the day's report under the same name: one charge was 1.00 short.
        path = world / "stripe" / "stripe_itemized_20261121.csv"
        original = path.read_bytes()
        rows = list(csv.DictReader(io.StringIO(original.decode("utf-8"))))
        charge = next(r for r in rows if r["reporting_category"] == "charge"
                      and r["payment_metadata[order_id]"].startswith("ORD20261121"))
        payout = next(r for r in rows if r["reporting_category"] == "payout")
        for r, delta in ((charge, 100), (payout, -100)):
            for col in ("gross", "net"):
                cents = round(float(r[col]) * 100) + delta  # test data only: exact for 2-place text
                r[col] = f"{'-' if cents < 0 else ''}{abs(cents) // 100}.{abs(cents) % 100:02d}"
        out = io.StringIO()
        w = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        path.write_bytes(out.getvalue().encode("utf-8"))
        second = nightly(business_date=DAY, config_path=str(CONFIG))
        # the next day's bank file credits the day's payouts (as the PSP first declared them)
        generate_day(date(2026, 11, 22), world, seed=21, scale=60)
        third = nightly(business_date=date(2026, 11, 22), config_path=str(CONFIG))
    assert first["sources"]["stripe"] == "loaded" and second["sources"]["stripe"] == "corrected"
    cfg = config.load(CONFIG)
    before, after = break_keys(cfg, first["run_id"]), break_keys(cfg, second["run_id"])
    ref = charge["payment_metadata[order_id]"]
    assert after - before >= {("amount_mismatch", "stripe", ref)}
    assert not {k for k in after - before if k[0] == "duplicate"}  # the corrected lines are not duplicates
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    try:
        (old_sha, new_sha), = con.execute("SELECT sha256, superseded_by FROM files WHERE source = 'stripe'"
                                          " AND superseded_by IS NOT NULL").fetchall()
        import sql

        def stripe_fees(run_id):  # the fee report's stripe lines: (lines, gross) of the run's inputs
            report = sql.load("report_fees").rstrip().rstrip(";")
            return con.execute(f"SELECT sum(count), sum(gross_minor) FROM ({report}) WHERE source = 'stripe'",
                               {"run_id": run_id}).fetchone()
        lines_before, gross_before = stripe_fees(first["run_id"])
        # each run records how many of its day's lines it matched, for later runs' history
        assert [con.execute("SELECT matched_lines FROM runs WHERE run_id = ?", [r["run_id"]]).fetchone()[0]
                for r in (first, second)] == [
            json.loads(Path(r["outputs"]["summary"]).read_text("utf-8"))["counts"]["matched_statement"]
            for r in (first, second)]
        # the corrected report counts once, with its own amounts (+1.00 on the charge)
        assert stripe_fees(second["run_id"]) == (lines_before, gross_before + 100)
        # The payout now declares 1.00 more than the bank credits the next day: a payout break of
        # that day's run, whose trace shows the payout line of the corrected delivery only (the
        # replaced one's stays stored).
        pid = payout["automatic_payout_id"]
        (bid,), = con.execute("SELECT break_id FROM breaks WHERE run_id = ? AND category = 'payout_mismatch' "
                              "AND reference = ?", [third["run_id"], pid]).fetchall()
        assert con.execute("SELECT count(*) FROM statement_lines WHERE payout_id = ? AND txn_type = 'payout' "
                           "AND source = 'stripe'", [pid]).fetchone()[0] == 2
    finally:
        con.close()
    from recon import audit
    traced = audit.trace(cfg, bid, third["run_id"])
    stripe_payouts = [ln for ln in traced["statement_lines"] if ln["source"] == "stripe"]
    assert [ln["file_sha256"] for ln in stripe_payouts] == [new_sha]
    assert abs(stripe_payouts[0]["amount_minor"]) == abs(Decimal(payout["gross"]) * 100)
    assert traced["break"]["category"] == "payout_mismatch"
    archive = Archive(cfg.archive)
    assert archive.read(old_sha) == original and archive.read(new_sha) == path.read_bytes()
    # The summary reads the run's own files: the replaced delivery's lines (kept for reruns) are
    # in no count, position or channel of the second run; the charge is 1.00 more.
    a, b = (json.loads(Path(r["outputs"]["summary"]).read_text("utf-8")) for r in (first, second))
    assert b["counts"]["statement_lines"] == a["counts"]["statement_lines"]
    pos_a, pos_b = ({p["source"]: p for p in s["positions"] if not p["sub_merchant"].startswith("(")}
                    for s in (a, b))  # not the (duplicate lines) / (payout difference) rows
    assert pos_b["stripe"]["lines"] == pos_a["stripe"]["lines"]
    assert Decimal(pos_b["stripe"]["payments"]) == Decimal(pos_a["stripe"]["payments"]) + 1
    assert pos_b["wechatpay"] == pos_a["wechatpay"]
    ch_a, ch_b = ({c["source"]: c for c in s["channels"]} for s in (a, b))
    assert (ch_b["stripe"]["lines"], ch_b["stripe"]["payments"]) == (
        ch_a["stripe"]["lines"], ch_a["stripe"]["payments"])
    assert Decimal(ch_b["stripe"]["gross"]) == Decimal(ch_a["stripe"]["gross"]) + 1


def test_backfill_reconciles_a_range_in_order_carrying_open_items(prefect_harness, tmp_path, monkeypatch):
    import duckdb

    from flows.backfill import backfill
    from recon.generate import generate_days
    world = tmp_path / "world"
    generate_days(DAY, 3, world, seed=4, scale=60)
    with served(world, tmp_path, monkeypatch):
        results = backfill(start=DAY, end=date(2026, 11, 23), config_path=str(CONFIG))
    assert [r["business_date"] for r in results] == ["2026-11-21", "2026-11-22", "2026-11-23"]
    # Statement gaps are reported with no alert channel configured: the generated world draws each
    # day's opening balance afresh, so every day after the first breaks the chain (both accounts).
    assert results[0]["statement_gaps"] == []
    for r in results[1:]:
        assert {(g["source"], g["balance_gap"]) for g in r["statement_gaps"]} == {("bank", True)}
        assert len(r["statement_gaps"]) == 2
    con = duckdb.connect(str(config.load(CONFIG).warehouse), read_only=True)
    try:
        carried = con.execute("SELECT run_id, carried_from FROM runs ORDER BY business_date").fetchall()
        cleared = con.execute("SELECT count(*) FROM breaks WHERE status = 'auto_cleared'").fetchone()[0]
    finally:
        con.close()
    assert carried[0][1] is None and carried[1][1] == carried[0][0] and carried[2][1] == carried[1][0]
    assert cleared > 0  # yesterday's cut-off items cleared when their lines arrived
