"""Annotations round trip on a warehouse built row by row: write the day's workbook, annotate it
with openpyxl as an accountant would, import, see the annotation pre-filled on the next day's
workbook; re-import adds nothing; tampered identity cells and values outside the lists are
refused by cell. Versions, conflicts and subtotal rows: test_annotation_versions.py."""
from __future__ import annotations

import hashlib
from datetime import datetime

import openpyxl
import pytest

from recon import warehouse
from recon.annotations import AnnotationImportError, import_workbook
from tests.annotated import COL, D1, D2, annotate, rows_by_id, workbook



@pytest.fixture
def cfg(annotated_cfg):
    return annotated_cfg


def test_round_trip_to_the_next_day(cfg, tmp_path) -> None:
    day1 = workbook(cfg, "r1", D1, tmp_path / "d1.xlsx")
    row = rows_by_id(day1)["bk-timing"]
    edited = annotate(day1, tmp_path / "d1-annotated.xlsx", {
        f"{COL['reason']}{row}": "timing", f"{COL['status']}{row}": "explained",
        f"{COL['comment']}{row}": "ledger booked after cut-off"})
    first = import_workbook(cfg, edited, who="lwang")
    assert (first.run_id, first.rows, first.recorded, first.unchanged) == ("r1", 2, 1, 0)
    assert first.workbook_sha == hashlib.sha256(edited.read_bytes()).hexdigest()
    again = import_workbook(cfg, edited, who="someone-else")
    assert (again.recorded, again.unchanged) == (0, 1)
    con = warehouse.connect(cfg.warehouse)
    stored = con.execute("SELECT break_id, status, reason, comment, who, workbook_sha "
                         "FROM annotations").fetchall()
    con.close()
    assert stored == [("bk-timing", "explained", "timing", "ledger booked after cut-off",
                       "lwang", first.workbook_sha)]

    day2 = workbook(cfg, "r2", D2, tmp_path / "d2.xlsx")
    ws = openpyxl.load_workbook(day2)["Breaks"]
    r = rows_by_id(day2)["bk-timing"]
    latest = ws[f"{COL['latest annotation']}{r}"].value
    assert latest.startswith("explained / timing: ledger booked after cut-off (lwang, ")
    assert ws[f"{COL['first seen']}{r}"].value == datetime(2026, 11, 21)
    assert ws[f"{COL['age (days)']}{r}"].value == 1
    # today's resolution cells start from the latest annotation, version 1
    assert [ws[f"{COL[h]}{r}"].value for h in ("status", "reason", "comment",
                                               "annotation version")] == [
        "explained", "timing", "ledger booked after cut-off", 1]

    # a second annotation on day 2 becomes the latest (version 2); the first moves to history
    edited2 = annotate(day2, tmp_path / "d2-annotated.xlsx", {f"{COL['status']}{r}": "resolved"})
    assert import_workbook(cfg, edited2, who="zchen").recorded == 1
    day2b = workbook(cfg, "r2", D2, tmp_path / "d2b.xlsx")
    ws = openpyxl.load_workbook(day2b)["Breaks"]
    assert ws[f"{COL['latest annotation']}{r}"].value.startswith(
        "resolved / timing: ledger booked after cut-off (zchen, ")
    assert ws[f"{COL['history']}{r}"].value.startswith("explained / timing: ledger booked")
    assert ws[f"{COL['annotation version']}{r}"].value == 2


def test_tampered_identity_cells_are_refused_by_name(cfg, tmp_path) -> None:
    day1 = workbook(cfg, "r1", D1, tmp_path / "d1.xlsx")
    rows = rows_by_id(day1)
    m, t = rows["bk-missing"], rows["bk-timing"]
    assert openpyxl.load_workbook(day1)["Breaks"].protection.sheet is False  # sortable
    bad = annotate(day1, tmp_path / "bad.xlsx", {
        f"{COL['statement amount']}{m}": 12.0, f"{COL['line']}{m}": 13,
        f"{COL['ledger reference']}{t}": "ORD-X", f"{COL['status']}{t}": "resolved"})
    with pytest.raises(AnnotationImportError) as e:
        import_workbook(cfg, bad, who="x")
    msg = str(e.value)
    assert f"Breaks!{COL['statement amount']}{m}: statement amount 12 in the workbook, 12.30 in run r1" in msg
    assert f"Breaks!{COL['line']}{m}: line 13 in the workbook, 12 in run r1" in msg
    assert (f"Breaks!{COL['ledger reference']}{t}: ledger reference ORD-X in the workbook, ORD-2 "
            "in run r1") in msg
    assert "Nothing was recorded" in msg
    con = warehouse.connect(cfg.warehouse)
    assert con.execute("SELECT count(*) FROM annotations").fetchone()[0] == 0
    con.close()


def test_values_outside_the_lists_and_unknown_ids_are_refused(cfg, tmp_path) -> None:
    day1 = workbook(cfg, "r1", D1, tmp_path / "d1.xlsx")
    t = rows_by_id(day1)["bk-timing"]
    bad = annotate(day1, tmp_path / "bad.xlsx", {
        f"{COL['reason']}{t}": "because", f"{COL['status']}{t}": "done",
        "A10": "bk-nope", f"{COL['row check']}10": "0" * 32})
    with pytest.raises(AnnotationImportError) as e:
        import_workbook(cfg, bad)
    msg = str(e.value)
    assert f"Breaks!{COL['reason']}{t}: reason 'because' is not one of timing, fee" in msg
    assert (f"Breaks!{COL['status']}{t}: status 'done' is not one of open, pending PSP, "
            "explained, resolved") in msg
    assert "Breaks!A10: break id 'bk-nope' is not a break of run r1" in msg


def test_chinese_workbook_imports_chinese_choices(cfg, tmp_path) -> None:
    day1 = workbook(cfg, "r1", D1, tmp_path / "zh.xlsx", language="zh")
    t = rows_by_id(day1)["bk-timing"]
    edited = annotate(day1, tmp_path / "zh-annotated.xlsx", {
        f"{COL['reason']}{t}": "银行差错", f"{COL['status']}{t}": "已解决"})
    assert import_workbook(cfg, edited, who="王").recorded == 1
    con = warehouse.connect(cfg.warehouse)
    assert con.execute("SELECT status, reason, who, version FROM annotations").fetchall() == [
        ("resolved", "bank_error", "王", 1)]
    con.close()
