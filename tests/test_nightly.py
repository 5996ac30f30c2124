"""The nightly flow end to end on real parts: generated world → real sshd → Prefect → DuckDB file
→ reports, scored against the generator's ground truth on the demo day and three other seeds."""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import openpyxl
import pytest

from connectors.sshd import LocalSshd
from recon import config
from recon.assemble import break_keys
from recon.demo import demo_env
from recon.evaluate import read_truth, score
from recon.generate import generate_day

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "data" / "recon.toml"
DAY = date(2026, 11, 21)
CATEGORIES = {"missing_in_ledger", "missing_in_statement", "amount_mismatch", "duplicate", "timing",
              "fee_variance", "payout_mismatch"}

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def prefect_harness():
    from prefect.testing.utilities import prefect_test_harness
    with prefect_test_harness(server_startup_timeout=120):
        yield


def night(tmp: Path, seed: int, monkeypatch, scale: int = 200):
    from flows.nightly import nightly
    world = tmp / "world"
    day = generate_day(DAY, world, seed=seed, scale=scale)
    with LocalSshd(world, tmp / "sshd") as sshd:
        for k, v in demo_env(tmp, sshd, world).items():
            monkeypatch.setenv(k, v)
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
    with LocalSshd(tmp_path / "world", tmp_path / "sshd2") as sshd:
        for k, v in demo_env(tmp_path, sshd, tmp_path / "world").items():
            monkeypatch.setenv(k, v)
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
    with LocalSshd(world, tmp_path / "sshd") as sshd:
        for k, v in demo_env(tmp_path, sshd, world).items():
            monkeypatch.setenv(k, v)
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
