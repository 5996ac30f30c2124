"""The `recon` command: help with examples, exit codes, one-paragraph errors."""
from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from recon import cli

ROOT = Path(__file__).resolve().parents[1]
RECON = [sys.executable, "-m", "recon.cli"]


@pytest.mark.parametrize("argv", [[], ["generate"], ["run"], ["ledger", "load"], ["identify"],
                                  ["serve"], ["demo"]])
def test_every_command_has_help_with_an_example(argv):
    out = subprocess.run(RECON + argv + ["--help"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0
    assert "example" in out.stdout


def test_generate_writes_the_world(tmp_path, capsys):
    assert cli.main(["generate", "--date", "2026-11-21", "--out", str(tmp_path), "--scale", "50"]) == 0
    out = capsys.readouterr().out
    assert "wechatpay_trade_20261121.csv" in out and "camt053_20261122.xml" in out
    assert (tmp_path / "ground_truth_20261121.csv").is_file()


def test_bad_date_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["generate", "--date", "21/11/2026", "--out", "x"])
    assert e.value.code == 2
    assert "expected a date as YYYY-MM-DD" in capsys.readouterr().err


def test_config_error_exits_2_with_one_paragraph(tmp_path, capsys):
    bad = tmp_path / "recon.toml"
    bad.write_text("[paths]\nwarehouse = 'w.duckdb'\n", "utf-8")
    assert cli.main(["ledger", "load", str(tmp_path / "x.csv"), "--config", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"recon: {bad}: ")
    assert "\n" not in err


def test_ledger_load_appends_once(tmp_path, monkeypatch, capsys):
    from recon.generate import generate_day
    day = generate_day(date(2026, 11, 21), tmp_path / "world", seed=3, scale=50)
    monkeypatch.setenv("RECON_HOME", str(tmp_path / "var"))
    args = ["ledger", "load", str(day.paths["ledger"])]
    assert cli.main(args) == 0
    first = capsys.readouterr().out
    assert cli.main(args) == 0  # same bytes again: recorded once, no new entries
    con = duckdb.connect(str(tmp_path / "var" / "warehouse.duckdb"), read_only=True)
    try:
        entries, distinct = con.execute("SELECT count(*), count(DISTINCT entry_id) FROM ledger_entries").fetchone()
        files = con.execute("SELECT count(*) FROM files WHERE source = 'ledger'").fetchone()[0]
    finally:
        con.close()
    rows = sum(1 for _ in day.paths["ledger"].open(encoding="utf-8")) - 1
    assert entries == distinct == rows
    assert files == 1
    assert f"{rows} entries" in first
