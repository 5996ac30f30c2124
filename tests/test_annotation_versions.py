"""Annotation versions on the unprotected Breaks sheet: a stale workbook's edits are conflicts
(listed, not applied, the newer annotation kept); a comment alone keeps status and reason; a
sorted sheet with subtotal rows imports; a version raised by hand fails the row check."""
from __future__ import annotations

from datetime import date, datetime, timezone

import openpyxl
import pytest

from recon import warehouse
from recon.annotations import AnnotationImportError, import_workbook
from recon.cli import main
from tests.annotated import COL, D1, D2, annotate, rows_by_id, workbook

UTC = timezone.utc


@pytest.fixture
def cfg(annotated_cfg):
    return annotated_cfg


def stored(cfg) -> list[tuple]:
    con = warehouse.connect(cfg.warehouse)
    try:
        return con.execute("SELECT break_id, version, status, reason, owner, due_date, comment, "
                           "who FROM annotations ORDER BY break_id, version").fetchall()
    finally:
        con.close()


def test_a_stale_workbook_is_a_conflict_and_the_newer_annotation_stays(cfg, tmp_path,
                                                                        capsys) -> None:
    monday = workbook(cfg, "r1", D1, tmp_path / "mon.xlsx")
    t = rows_by_id(monday)["bk-timing"]
    mon_edit = annotate(monday, tmp_path / "mon-edit.xlsx", {
        f"{COL['status']}{t}": "explained", f"{COL['reason']}{t}": "timing"})
    assert import_workbook(cfg, mon_edit, who="lwang",
                           now=datetime(2026, 11, 21, 18, tzinfo=UTC)).recorded == 1
    tuesday = workbook(cfg, "r2", D2, tmp_path / "tue.xlsx")
    r = rows_by_id(tuesday)["bk-timing"]
    tue_edit = annotate(tuesday, tmp_path / "tue-edit.xlsx", {f"{COL['status']}{r}": "resolved"})
    assert import_workbook(cfg, tue_edit, who="zchen",
                           now=datetime(2026, 11, 22, 18, tzinfo=UTC)).recorded == 1

    # Monday's workbook again, with a further edit made on Monday's (older) version
    stale = annotate(mon_edit, tmp_path / "mon-stale.xlsx", {
        f"{COL['comment']}{t}": "waiting for the PSP"})
    res = import_workbook(cfg, stale, who="lwang")
    assert (res.recorded, len(res.conflicts)) == (0, 1)
    c = res.conflicts[0]
    assert (c.cell, c.break_id) == (f"Breaks!{COL['status']}{t}", "bk-timing")
    assert c.yours == "explained / timing: waiting for the PSP"
    assert c.theirs.startswith("version 2, resolved / timing (zchen, 2026-11-22 18:00)")
    assert str(c).startswith(f"Breaks!{COL['status']}{t}: break bk-timing: yours ")
    # from the command line: listed, exit 1
    assert main(["annotations", "import", str(stale), "--who", "lwang"]) == 1
    out = capsys.readouterr().out
    assert "0 annotations recorded" in out and "1 row(s) not applied" in out
    assert f"  Breaks!{COL['status']}{t}: break bk-timing: yours 'explained / timing: waiting " in out
    # the resolution stays the latest; Monday's first edit imported again adds nothing
    assert [x[1:4] for x in stored(cfg)] == [(1, "explained", "timing"), (2, "resolved", "timing")]
    again = import_workbook(cfg, mon_edit, who="lwang")
    assert (again.recorded, again.conflicts) == (0, ())


def test_a_comment_alone_keeps_status_and_reason(cfg, tmp_path) -> None:
    day1 = workbook(cfg, "r1", D1, tmp_path / "d1.xlsx")
    t = rows_by_id(day1)["bk-timing"]
    import_workbook(cfg, annotate(day1, tmp_path / "a.xlsx", {
        f"{COL['status']}{t}": "pending PSP", f"{COL['reason']}{t}": "psp_error",
        f"{COL['owner']}{t}": "lwang", f"{COL['due date']}{t}": datetime(2026, 11, 28)}),
        who="lwang")
    day2 = workbook(cfg, "r2", D2, tmp_path / "d2.xlsx")
    r = rows_by_id(day2)["bk-timing"]
    ws = openpyxl.load_workbook(day2)["Breaks"]
    assert [ws[f"{COL[h]}{r}"].value for h in ("status", "reason", "owner", "due date")] == [
        "pending PSP", "PSP error", "lwang", datetime(2026, 11, 28)]  # carried, pre-filled
    # the comment only; and on a workbook whose status and reason cells were cleared
    import_workbook(cfg, annotate(day2, tmp_path / "b.xlsx", {
        f"{COL['comment']}{r}": "PSP ticket 4411 opened"}), who="zchen")
    day2b = workbook(cfg, "r2", D2, tmp_path / "d2b.xlsx")
    import_workbook(cfg, annotate(day2b, tmp_path / "c.xlsx", {
        f"{COL['status']}{r}": None, f"{COL['reason']}{r}": None,
        f"{COL['comment']}{r}": "PSP answered"}), who="zchen")
    assert stored(cfg) == [
        ("bk-timing", 1, "pending_psp", "psp_error", "lwang", date(2026, 11, 28), None, "lwang"),
        ("bk-timing", 2, "pending_psp", "psp_error", "lwang", date(2026, 11, 28),
         "PSP ticket 4411 opened", "zchen"),
        ("bk-timing", 3, "pending_psp", "psp_error", "lwang", date(2026, 11, 28),
         "PSP answered", "zchen")]


def test_sorted_sheet_with_subtotal_and_blank_rows_imports(cfg, tmp_path) -> None:
    day2 = workbook(cfg, "r2", D2, tmp_path / "d2.xlsx")
    wb = openpyxl.load_workbook(day2)
    ws = wb["Breaks"]
    rows = [[c.value for c in r] for r in ws.iter_rows(min_row=2)]
    rows.reverse()  # sorted the other way, as Excel's sort would leave it
    ws.delete_rows(2, ws.max_row)
    for i, values in enumerate(rows, start=2):
        for j, v in enumerate(values, start=1):
            ws.cell(i, j, v)
    n = len(rows) + 2
    ws[f"A{n + 1}"] = "Grand Total"  # a subtotal row, a blank row and a note
    ws[f"{COL['difference']}{n + 1}"] = f"=SUBTOTAL(9,{COL['difference']}2:{COL['difference']}{n})"
    ws[f"A{n + 3}"] = "checked by lwang"
    new = {r[0]: i for i, r in enumerate(rows, start=2)}["bk-new"]
    ws[f"{COL['status']}{new}"] = "explained"
    ws[f"{COL['reason']}{new}"] = "bank error"
    wb.save(tmp_path / "sorted.xlsx")
    res = import_workbook(cfg, tmp_path / "sorted.xlsx", who="lwang")
    assert (res.rows, res.recorded, res.ignored, res.conflicts) == (2, 1, 2, ())
    assert [x[:4] for x in stored(cfg)] == [("bk-new", 1, "explained", "bank_error")]


def test_a_version_raised_by_hand_fails_the_row_check(cfg, tmp_path) -> None:
    day1 = workbook(cfg, "r1", D1, tmp_path / "d1.xlsx")
    t = rows_by_id(day1)["bk-timing"]
    import_workbook(cfg, annotate(day1, tmp_path / "a.xlsx", {
        f"{COL['status']}{t}": "resolved"}), who="zchen")
    # the stale workbook's version raised to pass over the newer annotation
    bad = annotate(day1, tmp_path / "bad.xlsx", {
        f"{COL['status']}{t}": "explained", f"{COL['annotation version']}{t}": 1})
    with pytest.raises(AnnotationImportError) as e:
        import_workbook(cfg, bad, who="lwang")
    assert (f"Breaks!{COL['row check']}{t}: the row check does not match break bk-timing at "
            "annotation version 1") in str(e.value)
    assert [x[2] for x in stored(cfg)] == ["resolved"]
