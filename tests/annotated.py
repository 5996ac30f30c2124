"""A warehouse built row by row for the annotation tests, and what an accountant does to its
workbook (the fixture ``annotated_cfg`` in conftest.py builds it)."""
from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

import openpyxl

from recon import config, warehouse
from recon.assemble import build_summary
from recon.reports.workbook import BREAK_COLUMNS, write_workbook

ROOT = Path(__file__).resolve().parents[1]
D1, D2 = date(2026, 11, 21), date(2026, 11, 22)
UTC = timezone.utc
COL = {h: openpyxl.utils.get_column_letter(i) for i, (h, _) in enumerate(BREAK_COLUMNS, 1)}


def _break(run_id, day, break_id, category, reference, ledger, statement, **kw):
    row = dict(run_id=run_id, break_id=break_id, business_date=day, category=category,
               source="wechatpay", currency="CNY", reference=reference, psp_reference=None,
               ledger_entry_id=None, line_id=None, ledger_amount_minor=ledger,
               statement_amount_minor=statement,
               difference_minor=(statement or 0) - (ledger or 0),
               booked_at=datetime(2026, 11, 21, 3, 4, 5, tzinfo=UTC), rule="test", detail=None)
    row.update(kw)
    return row


def annotated_warehouse(tmp_path, monkeypatch):
    """The config of a warehouse built row by row: two runs (r1 on D1, r2 on D2), one statement
    line, and their breaks (missing, timing carried to D2, a new amount mismatch)."""
    monkeypatch.setenv("RECON_HOME", str(tmp_path / "var"))
    cfg = config.load(ROOT / "data" / "recon.toml")
    con = warehouse.connect(cfg.warehouse)
    for run_id, day in (("r1", D1), ("r2", D2)):
        con.execute("INSERT INTO runs (run_id, business_date, started_at, status, code_version, "
                    "config_sha256) VALUES (?, ?, ?, 'breaks', 'test', 'x')",
                    [run_id, day, datetime.combine(day, datetime.min.time(), UTC)])
    con.execute("INSERT INTO files (sha256, source, name, size, fetched_at, business_date, "
                "parse_status) VALUES ('f1', 'wechatpay', 'wechatpay_trade_20261121.csv', 1, "
                "now(), ?, 'loaded')", [D1])
    con.execute("INSERT INTO statement_lines (line_id, source, file_sha256, file_line, "
                "business_date, txn_type, amount_minor, currency, raw) VALUES "
                "('f1:12', 'wechatpay', 'f1', 12, ?, 'payment', 1230, 'CNY', '{}')", [D1])
    rows = [
        _break("r1", D1, "bk-missing", "missing_in_ledger", "ORD-1", None, 1230, line_id="f1:12",
               detail='=HYPERLINK("http://x","y")'),
        _break("r1", D1, "bk-timing", "timing", "ORD-2", 4599, None, ledger_entry_id="LE-2"),
        _break("r2", D2, "bk-timing", "timing", "ORD-2", 4599, None, ledger_entry_id="LE-2"),
        _break("r2", D2, "bk-new", "amount_mismatch", "ORD-3", 100, 90),
    ]
    for r in rows:
        con.execute(f"INSERT INTO breaks ({', '.join(r)}) VALUES ({', '.join('?' * len(r))})",
                    list(r.values()))
    con.close()
    return cfg


def workbook(cfg, run_id, day, path, language="en"):
    s = build_summary(cfg, run_id, day, datetime.combine(day, datetime.min.time(), UTC), [])
    return write_workbook(s, path, language=language)


def breaks_sheet(wb):
    return wb["Breaks"] if "Breaks" in wb.sheetnames else wb["差异明细"]


def rows_by_id(path) -> dict[str, int]:
    ws = breaks_sheet(openpyxl.load_workbook(path))
    return {r[0].value: r[0].row for r in ws.iter_rows(min_row=2)}


def annotate(path, out, edits: dict[str, object]) -> Path:
    """What an accountant does: type into cells, save (openpyxl keeps the properties)."""
    wb = openpyxl.load_workbook(path)
    ws = breaks_sheet(wb)
    for ref, value in edits.items():
        ws[ref] = value
    wb.save(out)
    return Path(out)
