"""Process killed between stages, and a warehouse locked by another process (issue 8).

The stages run as plain functions in a subprocess (tests/chaos_driver.py) that SIGKILLs itself
at a chosen point; the day is then run again normally, and must end with no duplicate statement
lines, ledger rows or quarantine rows and exactly the breaks of an uninterrupted run.
"""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from connectors.sshd import LocalSshd
from recon import config, warehouse
from recon.assemble import break_keys
from recon.chaos import KILL_ENV, POINTS, chaos_point, check
from recon.demo import demo_env
from recon.generate import generate_day

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "data" / "recon.toml"
DAY = date(2026, 11, 21)


@pytest.fixture(scope="module")
def served_day(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("chaos")
    world = tmp / "world"
    generate_day(DAY, world, seed=13, scale=40)
    with LocalSshd(world, tmp / "sshd") as sshd:
        yield tmp, sshd, world


def _env(tmp: Path, sshd, world: Path, home: str) -> dict[str, str]:
    env = {**os.environ, **demo_env(tmp / home, sshd, world), "PYTHONPATH": str(ROOT)}
    env.pop(KILL_ENV, None)
    return env


def _start(env: dict, kill_at: str | None = None) -> subprocess.Popen:
    if kill_at:
        env = {**env, KILL_ENV: kill_at}
    return subprocess.Popen([sys.executable, "-m", "tests.chaos_driver", str(CONFIG), DAY.isoformat()],
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


def _run_here(env: dict, monkeypatch) -> str:
    """The day run again normally, in this process (the stages as plain functions)."""
    from tests.chaos_driver import run_day
    for k, v in env.items():
        if k.startswith("RECON_"):
            monkeypatch.setenv(k, v)
    return run_day(str(CONFIG), DAY.isoformat())


def _state(env: dict, run_id: str, monkeypatch) -> dict:
    for k, v in env.items():
        if k.startswith("RECON_"):
            monkeypatch.setenv(k, v)
    cfg = config.load(CONFIG)
    breaks = break_keys(cfg, run_id)
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    try:
        one = lambda q: con.execute(q).fetchone()[0]  # noqa: E731
        return {
            "breaks": breaks,
            "lines": one("SELECT count(*) FROM statement_lines"),
            "duplicate_lines": one("SELECT count(*) - count(DISTINCT line_id) FROM statement_lines"),
            "ledger": one("SELECT count(*) FROM ledger_entries"),
            "duplicate_ledger": one("SELECT count(*) FROM (SELECT entry_id FROM ledger_entries "
                                    "GROUP BY entry_id HAVING count(*) > 1)"),
            "quarantine": one("SELECT count(*) FROM quarantine"),
            "duplicate_quarantine": one("SELECT count(*) FROM (SELECT file_sha256, file_line, field "
                                        "FROM quarantine GROUP BY ALL HAVING count(*) > 1)"),
            "files": one("SELECT count(*) FROM files WHERE parse_status = 'loaded'"),
        }
    finally:
        con.close()


def test_killed_at_every_stage_boundary_then_rerun_gives_the_uninterrupted_result(served_day, monkeypatch):
    tmp, sshd, world = served_day
    envs = {p: _env(tmp, sshd, world, f"killed_{p}") for p in POINTS}
    # One subprocess per kill point, all at once (each has its own warehouse and archive).

    killed = {p: _start(envs[p], p) for p in POINTS}
    baseline_env = _env(tmp, sshd, world, "baseline")
    baseline = _state(baseline_env, _run_here(baseline_env, monkeypatch), monkeypatch)
    assert baseline["breaks"] and baseline["lines"] and baseline["ledger"]
    for p in POINTS:
        with check("fault", f"process killed ({p}), day run again") as c:
            code, _, err = _finish(killed[p])
            assert code == -9, f"{p}: expected SIGKILL, got {code}: {err[-2000:]}"
            got = _state(envs[p], _run_here(envs[p], monkeypatch), monkeypatch)
            c.duplicates = (got["duplicate_lines"] + got["duplicate_ledger"]
                            + got["duplicate_quarantine"])
            c.rows_lost = max(0, baseline["lines"] - got["lines"]) + max(0, baseline["ledger"] - got["ledger"])
            assert c.duplicates == 0 and c.rows_lost == 0, (p, got, baseline)
            assert got == baseline, p


def test_chaos_point_does_nothing_unless_named(monkeypatch):
    monkeypatch.delenv(KILL_ENV, raising=False)
    chaos_point("after_load")
    monkeypatch.setenv(KILL_ENV, "after_match")
    chaos_point("after_load")  # another point: still alive


_HOLDER = """
import duckdb, sys, time
con = duckdb.connect(sys.argv[1])
con.execute("INSERT INTO runs (run_id, business_date, started_at, status, code_version, config_sha256) VALUES ('held', DATE '2026-11-21', now(), 'running', 'v', 'c')")
print("ready", flush=True)
time.sleep(60)
"""


def test_warehouse_locked_by_another_process_is_a_clear_error_and_no_corruption(tmp_path):
    with check("fault", "warehouse file locked by another process"):
        path = tmp_path / "warehouse.duckdb"
        con = warehouse.connect(path)
        con.execute("INSERT INTO runs (run_id, business_date, started_at, status, code_version, "
                    "config_sha256) VALUES ('before', DATE '2026-11-20', now(), 'breaks', 'v', 'c')")
        con.close()
        holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(path)], stdout=subprocess.PIPE,
                                  text=True)
        try:
            assert holder.stdout.readline().strip() == "ready"
            size_before = path.stat().st_size
            with pytest.raises(warehouse.WarehouseLocked) as err:
                warehouse.connect(path)
            msg = str(err.value)
            assert str(path) in msg and "locked by another process" in msg and "Nothing was changed" in msg
            assert path.stat().st_size == size_before
        finally:
            holder.kill()
            holder.wait()
        con = warehouse.connect(path)  # the holder was killed mid-session: its committed row survives
        try:
            assert sorted(r[0] for r in con.execute("SELECT run_id FROM runs").fetchall()) == ["before", "held"]
        finally:
            con.close()
