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
    assert "wechatpay_trade_20261121.csv" in out and "camt053_20261121.xml" in out
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


def test_parse_writes_canonical_lines_and_refuses_an_unbalanced_file(tmp_path, capsys):
    import polars as pl

    from recon.generate import generate_day
    day = generate_day(date(2026, 11, 21), tmp_path / "world", seed=3, scale=50)
    out = tmp_path / "lines.parquet"
    assert cli.main(["parse", str(day.paths["wechatpay"]), "--out", str(out),
                     "--timezone", "Asia/Shanghai", "--date", "2026-11-21"]) == 0
    lines = pl.read_parquet(out)
    assert lines["amount_minor"].dtype == pl.Int64 and lines["source"][0] == "wechatpay_trade"
    assert lines.height == sum(1 for ln in day.paths["wechatpay"].read_text("utf-8").splitlines()
                               if ln.startswith("`20"))
    capsys.readouterr()
    # The same bill with its summary's fee total changed no longer balances: exit 2, one paragraph.
    body, last = day.paths["wechatpay"].read_bytes().decode("utf-8").rstrip("\r\n").rsplit("\r\n", 1)
    fields = last.split(",")
    fields[4] = "`123456.78"
    bad = tmp_path / "wechatpay_trade_bad.csv"
    bad.write_bytes((body + "\r\n" + ",".join(fields) + "\r\n").encode("utf-8"))
    assert cli.main(["parse", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("recon: wechatpay_trade_bad.csv") and "expected" in err and "found" in err


def test_ledger_load_with_a_quarantined_row_exits_1(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RECON_HOME", str(tmp_path / "var"))
    export = tmp_path / "ledger_20261121.csv"
    export.write_text(
        "entry_id,business_date,booked_at,channel,txn_type,merchant_reference,psp_reference,"
        "original_reference,amount,currency,counterparty,description\n"
        "E1,2026-11-21,2026-11-21T09:15:02+08:00,stripe,payment,ORD1,,,12.30,USD,,\n"
        "E2,2026-11-21,2026-11-21T09:16:02+08:00,stripe,payment,ORD2,,,twelve,USD,,\n", encoding="utf-8")
    assert cli.main(["ledger", "load", str(export)]) == 1  # quarantined lines are never "all fine"
    out = capsys.readouterr().out
    assert "ledger_20261121.csv: loaded, " in out and "1 quarantined" in out
