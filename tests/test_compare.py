"""bench/compare.py: two warehouses, table by table, by hash."""
from __future__ import annotations

import shutil
from datetime import date

from bench import compare
from recon import warehouse

D = date(2026, 11, 21)


def _warehouse(path, run_id: str, amount: int):
    con = warehouse.connect(path)
    try:
        con.execute("INSERT INTO runs (run_id, business_date, started_at, status, code_version, config_sha256) "
                    "VALUES (?, ?, now(), 'breaks', 't', 't')", [run_id, D])
        con.execute("INSERT INTO breaks (run_id, break_id, business_date, category, source, reference, "
                    "statement_amount_minor, difference_minor, rule) "
                    "VALUES (?, 'b1', ?, 'missing_in_ledger', 'wechatpay', 'ORD8', ?, ?, 'none')",
                    [run_id, D, amount, amount])
    finally:
        con.close()


def test_the_same_rows_under_another_run_id_are_equal_and_a_changed_amount_is_not(tmp_path, capsys):
    a, b, c = tmp_path / "a.duckdb", tmp_path / "b" / "var" / "warehouse.duckdb", tmp_path / "c.duckdb"
    b.parent.mkdir(parents=True)
    _warehouse(a, "20261121-010101-aaaaaa", 8000)
    _warehouse(b, "20261121-020202-bbbbbb", 8000)  # another run of the same day: the same rows
    _warehouse(c, "20261121-010101-aaaaaa", 8001)
    assert compare.main([str(a), str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "matches          equal  (0 rows / 0 rows)"
    assert out[1] == "breaks           equal  (1 rows / 1 rows)"
    assert compare.main([str(a), str(c)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split()[:2] for ln in lines if "different" in ln] == [["breaks", "different"]]
    shutil.rmtree(tmp_path / "b")
