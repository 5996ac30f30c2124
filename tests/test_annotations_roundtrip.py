"""The accountants' round trip on real parts: generated world → sshd → nightly flow → workbook →
annotated with openpyxl → `recon annotations import` → the next business day's workbook (and a
rerun of the day) shows the annotation for every break id that appears again; re-import adds
nothing; a tampered amount is refused naming its cell. Also: the journal and positions written
beside the workbook, and `recon journal`."""
from __future__ import annotations

import csv
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from recon import config, warehouse
from recon.annotations import AnnotationImportError, import_workbook
from recon.cli import main
from recon.generate import generate_day
from recon.reports.workbook import BREAK_COLUMNS
from tests.worlds import CONFIG, DAY, served

COL = {h: openpyxl.utils.get_column_letter(i) for i, (h, _) in enumerate(BREAK_COLUMNS, 1)}
pytestmark = pytest.mark.integration


def run_day(tmp: Path, day, monkeypatch, tag: str) -> dict:
    from flows.nightly import nightly
    with served(tmp / "world", tmp, monkeypatch, sshd_dir=tmp / f"sshd-{tag}"):
        return nightly(business_date=day, config_path=str(CONFIG))


def breaks_sheet(path) -> dict[str, dict[str, object]]:
    ws = openpyxl.load_workbook(path)["Breaks"]
    names = [h for h, _ in BREAK_COLUMNS]
    return {r[0].value: {**dict(zip(names, (c.value for c in r))), "row": r[0].row}
            for r in ws.iter_rows(min_row=2)}


def test_annotations_come_back_the_next_day(prefect_harness, tmp_path, monkeypatch, capsys):
    world = tmp_path / "world"
    generate_day(DAY, world, seed=7, scale=200)
    generate_day(DAY + timedelta(days=1), world, seed=7, scale=200)
    first = run_day(tmp_path, DAY, monkeypatch, "d1")
    book = Path(first["outputs"]["workbook"])
    assert Path(first["outputs"]["journal"]).exists() and Path(first["outputs"]["positions"]).exists()
    rows = breaks_sheet(book)
    assert len(rows) == 16  # day one: the bank credits of payouts before it are breaks too

    # the accountant explains every break (as they would, in Excel), then saves
    wb = openpyxl.load_workbook(book)
    ws = wb["Breaks"]
    for bid, r in rows.items():
        ws[f"{COL['reason']}{r['row']}"] = "timing"
        ws[f"{COL['status']}{r['row']}"] = "explained"
        ws[f"{COL['comment']}{r['row']}"] = f"checked {bid}"
    annotated = tmp_path / "annotated.xlsx"
    wb.save(annotated)
    cfg = config.load(CONFIG)
    assert main(["annotations", "import", str(annotated), "--who", "lwang"]) == 0
    assert "16 annotations recorded, 0 unchanged" in capsys.readouterr().out
    again = import_workbook(cfg, annotated, who="lwang")
    assert (again.recorded, again.unchanged) == (0, 16)

    # tampered amount: refused, naming the cell, nothing recorded
    some = next(r for r in rows.values() if isinstance(r["difference"], (int, float)))
    ws[f"{COL['difference']}{some['row']}"] = some["difference"] + 1
    wb.save(tmp_path / "tampered.xlsx")
    with pytest.raises(AnnotationImportError, match=rf"Breaks!{COL['difference']}{some['row']}: "
                                                    rf"difference .* in the workbook, .* in run "):
        import_workbook(cfg, tmp_path / "tampered.xlsx", who="mallory")
    con = warehouse.connect(cfg.warehouse)
    assert con.execute("SELECT count(*), count(DISTINCT who) FROM annotations").fetchone() == (16, 1)
    con.close()

    # the next business day: every break id that appears again shows its annotation
    second = run_day(tmp_path, DAY + timedelta(days=1), monkeypatch, "d2")
    rows2 = breaks_sheet(second["outputs"]["workbook"])
    carried = set(rows) & set(rows2)
    assert carried  # open breaks carry forward under their ids (most of the 16 with seed 7)
    for bid in carried:
        assert rows2[bid]["latest annotation"].startswith(f"explained / timing: checked {bid} (lwang")
        assert rows2[bid]["first seen"].date() == DAY and rows2[bid]["age (days)"] == 1
    for bid in set(rows2) - carried:
        assert rows2[bid]["latest annotation"] is None
    # and a rerun of the day itself shows all of them (same items, same break ids)
    rerun = run_day(tmp_path, DAY, monkeypatch, "d1b")
    rows3 = breaks_sheet(rerun["outputs"]["workbook"])
    assert set(rows3) == set(rows)
    assert all(r["latest annotation"].startswith("explained / timing: checked ")
               for r in rows3.values())

    # the journal for the day, from the command line, balances per currency
    out = tmp_path / "journal.csv"
    assert main(["journal", "--date", DAY.isoformat(), "--out", str(out)]) == 0
    lines = list(csv.DictReader(out.read_text("utf-8-sig").splitlines()))
    for ccy in {x["currency"] for x in lines}:
        mine = [x for x in lines if x["currency"] == ccy]
        assert sum(Decimal(x["debit"] or 0) for x in mine) == (
            sum(Decimal(x["credit"] or 0) for x in mine))
