"""The break workbook, reopened with openpyxl: sheets, cells, formats, safety, the row cap."""
from __future__ import annotations

import csv
import re
import zipfile
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from recon.reports.model import SourceStatus
from recon.reports.workbook import (BREAK_COLUMNS, DATETIME_FORMAT, overflow_csv_path,
                                    write_workbook)
from tests.workbooks import (COL, FORMULA, LAST, UTC, brk, header, make_summary, row_of, summary_value,
                             values)

CNY2 = "#,##0.00;[Red]-#,##0.00"
JPY0 = "#,##0;[Red]-#,##0"
KWD3 = "#,##0.000;[Red]-#,##0.000"


@pytest.fixture()
def book(tmp_path: Path):
    path = write_workbook(make_summary(), tmp_path / "recon-2024-05-01.xlsx")
    return openpyxl.load_workbook(path)


def test_sheets_headers_frozen_filtered(book) -> None:
    assert book.sheetnames == ["Summary", "Breaks", "Cleared", "Aging", "Payouts", "Fees", "Channels",
                              "Positions", "Tolerances", "Receivers"]
    ws = book["Breaks"]
    assert header(ws) == [h for h, _ in BREAK_COLUMNS]
    assert header(ws)[:10] == ["break id", "category", "source", "currency", "difference",
                               "status", "reason", "owner", "due date", "comment"]
    assert header(ws)[-2:] == ["annotation version", "row check"]
    assert all(c.font.bold for c in ws[1])
    assert ws.freeze_panes == "B2"  # the break id stays in view
    assert ws.auto_filter.ref == f"A1:{LAST}6"
    assert ws.max_row == 6
    assert 8 <= ws.column_dimensions["D"].width <= 60
    assert ws.column_dimensions[COL["ledger file"]].width > ws.column_dimensions["D"].width
    for name in ("Fees", "Payouts"):
        assert book[name].freeze_panes == "A2"
    assert book["Fees"].auto_filter.ref == "A1:K4"
    assert book["Payouts"].auto_filter.ref == "A1:N3"


def test_amounts_are_numbers_in_the_currency_format(book) -> None:
    ws = book["Breaks"]
    b1, b2, b3, b4 = (row_of(ws, i) for i in ("B1", "B2", "B3", "B4"))
    assert b1["statement amount"].value == 12.3 and b1["statement amount"].data_type == "n"
    assert Decimal(str(b1["statement amount"].value)) == Decimal("12.30")
    assert b1["ledger amount"].value is None
    assert b1["statement amount"].number_format == CNY2
    assert b2["ledger amount"].value == -45.99 and b2["difference"].value == 45.99
    assert b2["ledger amount"].number_format == CNY2
    assert (b3["ledger amount"].value, b3["difference"].value) == (1500, -20)
    assert b3["difference"].number_format == JPY0
    assert b4["ledger amount"].value == 12.345 and b4["difference"].value == -0.005
    assert b4["statement amount"].number_format == KWD3


def test_booked_at_is_a_datetime_in_the_source_timezone(book) -> None:
    ws = book["Breaks"]
    b1, b2, b3 = (row_of(ws, i) for i in ("B1", "B2", "B3"))
    # 16:30:05Z in Shanghai
    assert b1["statement booked at"].value == datetime(2024, 5, 2, 0, 30, 5)
    assert b1["statement booked at"].number_format == DATETIME_FORMAT
    assert b1["timezone"].value == "Asia/Shanghai"
    assert b2["ledger booked at"].value == datetime(2024, 5, 1, 4, 0)  # 08:00Z in New York (EDT)
    assert b2["statement booked at"].value is None
    assert b3["statement booked at"].value == datetime(2024, 5, 1, 17, 0)
    assert b1["file"].value == "alipay_20240501.csv" and b1["line"].value == 12
    assert b2["ledger entry"].value == "L-77" and b2["file"].value is None


def test_source_text_is_never_a_formula(book) -> None:
    cell = row_of(book["Breaks"], "B1")["statement reference"]
    assert cell.data_type == "s"
    assert cell.value == FORMULA  # kept as the PSP wrote it, so it still matches the statement
    assert cell.quotePrefix


def test_no_formula_anywhere_in_the_package(tmp_path: Path) -> None:
    path = write_workbook(make_summary(), tmp_path / "w.xlsx")
    with zipfile.ZipFile(path) as z:
        sheets = [n for n in z.namelist() if n.startswith("xl/worksheets/sheet")]
        assert sheets and not any(b"<f>" in z.read(n) or b"<f " in z.read(n) for n in sheets)
    wb = openpyxl.load_workbook(path)
    source_file = [r for r in wb["Summary"].iter_rows(values_only=False)
                   if r[0].value == "icbc"][0][2]
    assert source_file.data_type == "s" and source_file.value.startswith("=cmd")


def test_card_number_masked_and_controls_removed(book) -> None:
    ws = book["Breaks"]
    assert row_of(ws, "B2")["detail"].value == "card 411111******1111 declined"
    assert row_of(ws, "B5")["detail"].value == "bell and newline"
    note = summary_value(book["Summary"], "source text").value
    assert "2 control characters removed, 1 card numbers masked" in note


def test_summary_sheet(book) -> None:
    ws = book["Summary"]
    assert summary_value(ws, "run id").value == "run-2024-05-01-a1"
    assert summary_value(ws, "business date").value == datetime(2024, 5, 1)
    assert summary_value(ws, "code version").value == "0.1.0+g631f89c"
    assert summary_value(ws, "reconciled").value == "no"
    rate = summary_value(ws, "match rate")
    assert rate.value == 0.95 and rate.number_format == "0.00%"
    assert summary_value(ws, "breaks").value == 5
    rows = values(ws)
    assert ["source", "kind", "file", "sha256", "status", "lines", "quarantined",
            "control total", "error"] in rows
    assert ["alipay", "psp", "alipay_20240501.csv", "abababababab", "loaded", 120, 1,
            "ok"] in rows
    assert ["stripe", "psp", None, None, "missing", 0, 0, None, "no file by 06:00"] in rows
    assert ["CNY", 100, 12345.67] in rows and ["JPY", 52, 99000] in rows
    assert ["exact_reference", 140] in rows
    assert ["Amount mismatch", "JPY", 1, -20, 20] in rows
    assert ["Amount mismatch", "KWD", 1, -0.005, 0.005] in rows
    assert ["Missing in ledger", "CNY", 1, 12.3, 12.3] in rows
    kwd = [r for r in ws.iter_rows() if r[0].value == "Amount mismatch" and r[1].value == "KWD"]
    assert kwd[0][3].number_format == KWD3


def test_fees_and_payouts_sheets(book) -> None:
    fees = book["Fees"]
    assert header(fees) == ["source", "date", "currency", "method", "type", "count", "gross",
                            "actual fee", "expected fee", "variance", "effective rate"]
    wallet = [r for r in fees.iter_rows(min_row=2) if r[3].value == "wallet"][0]
    assert wallet[1].value == datetime(2024, 5, 1)
    assert [c.value for c in wallet[5:10]] == [10, 1000, 6, 5.5, 0.5]
    assert Decimal(str(wallet[10].value)) == Decimal("0.006")
    assert wallet[10].number_format == "0.0000%"
    card = [r for r in fees.iter_rows(min_row=2) if r[3].value == "+card"][0]
    assert card[3].data_type == "s" and card[3].quotePrefix
    pays = book["Payouts"]
    assert header(pays) == ["source", "payout id", "currency", "items", "settled net",
                            "declared", "bank credit", "difference", "status", "bank line", "matched by",
                            "ledger entry", "ledger amount", "ledger difference"]
    rows = {r[1]: list(r) for r in pays.iter_rows(min_row=2, values_only=True)}
    assert rows["po_1"] == ["stripe", "po_1", "USD", 3, 100, 100, 99.9, -0.1, "payout_mismatch",
                            "bank:7", None, None, None, None]
    assert rows["po_2"] == ["alipay", "po_2", "CNY", 5, 500, 500, None, 0, "unsettled", None, None, None, None,
                            None]


def test_chinese_labels(tmp_path: Path) -> None:
    wb = openpyxl.load_workbook(write_workbook(make_summary(), tmp_path / "zh.xlsx",
                                               language="zh"))
    assert row_of(wb["差异明细"], "B1")["category"].value == "长款"
    assert row_of(wb["差异明细"], "B2")["category"].value == "短款"
    assert row_of(wb["差异明细"], "B3")["category"].value == "金额不符"
    assert ["长款", "CNY", 1, 12.3, 12.3] in values(wb["汇总"])
    with pytest.raises(ValueError, match="language 'fr'"):
        write_workbook(make_summary(), tmp_path / "fr.xlsx", language="fr")


def test_row_cap_writes_the_rest_to_csv(tmp_path: Path) -> None:
    breaks = tuple(brk(f"B{i}", "timing", "CNY", 100 * i, None) for i in range(1, 8)) + (
        brk("B8", "duplicate", "USD", None, 250, reference=FORMULA),)
    path = tmp_path / "recon-2024-05-01.xlsx"
    seen: list[tuple[int, int]] = []
    write_workbook(make_summary(breaks), path, max_rows=5,
                   progress=lambda done, total: seen.append((done, total)))
    wb = openpyxl.load_workbook(path)
    ws = wb["Breaks"]
    assert ws.max_row == 6 and [r[0].value for r in ws.iter_rows(min_row=2)] == [
        "B1", "B2", "B3", "B4", "B5"]
    assert ws.auto_filter.ref == f"A1:{LAST}6"
    assert seen[-1] == (5, 5)
    csv_path = overflow_csv_path(path)
    assert csv_path == tmp_path / "recon-2024-05-01.breaks.csv"
    note = summary_value(wb["Summary"], "note").value
    assert note == f"Breaks sheet shows 5 of 8; the full list is in {csv_path.name}"
    raw = csv_path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    assert rows[0] == [h for h, _ in BREAK_COLUMNS] and len(rows) == 9
    b8 = dict(zip(rows[0], rows[8]))
    assert b8["statement reference"] == "'" + FORMULA
    assert (b8["statement amount"], b8["difference"], b8["ledger amount"]) == ("2.50", "2.50", "")
    assert b8["statement booked at"] == "2024-05-01 16:00:00" and b8["category"] == "Duplicate"
    with pytest.raises(ValueError, match="max_rows"):
        write_workbook(make_summary(breaks), path, max_rows=2_000_000)


def test_reproducible_bytes_and_properties(tmp_path: Path) -> None:
    a = write_workbook(make_summary(), tmp_path / "a.xlsx")
    b = write_workbook(make_summary(), tmp_path / "b.xlsx")
    assert a.read_bytes() == b.read_bytes()
    with zipfile.ZipFile(a) as z:
        assert {i.date_time for i in z.infolist()} == {(2024, 5, 2, 1, 15, 0)}
    props = openpyxl.load_workbook(a).properties
    assert props.creator == "recon"
    assert props.created == props.modified == datetime(2024, 5, 2, 1, 15, 0)
    assert not list(tmp_path.glob("*.partial")) and not list(tmp_path.glob("*.raw"))


def test_a_reconciled_day_and_an_unknown_timezone(tmp_path: Path) -> None:
    s = replace(make_summary(()), sources=(make_summary().sources[0],), quarantined=0)
    wb = openpyxl.load_workbook(write_workbook(s, tmp_path / "ok.xlsx"))
    assert summary_value(wb["Summary"], "reconciled").value == "yes"
    # A quarantined line is never "reconciled", breaks or not.
    wb = openpyxl.load_workbook(write_workbook(replace(s, quarantined=1), tmp_path / "q.xlsx"))
    assert summary_value(wb["Summary"], "reconciled").value == "no"
    assert summary_value(wb["Summary"], "quarantined rows").value == 1
    assert wb["Breaks"].max_row == 1 and wb["Breaks"].auto_filter.ref == f"A1:{LAST}1"
    odd = brk("B9", "timing", "CNY", 1, None, timezone="Mars/Olympus")
    wb = openpyxl.load_workbook(write_workbook(make_summary((odd,)), tmp_path / "tz.xlsx"))
    row = row_of(wb["Breaks"], "B9")
    assert row["statement booked at"].value == datetime(2024, 5, 1, 8, 0)
    assert row["timezone"].value == "UTC"


def _cells(path: Path) -> dict[str, list[tuple]]:
    wb = openpyxl.load_workbook(path)
    return {ws.title: [(c.coordinate, c.value, c.data_type, c.number_format, c.quotePrefix,
                        c.protection.locked, c.font.b, c.fill.fgColor.rgb, c.alignment.wrap_text)
                       for row in ws.iter_rows() for c in row] for ws in wb.worksheets}


def test_breaks_rows_written_as_xml_read_back_as_openpyxl_writes_them(tmp_path: Path, monkeypatch) -> None:
    """The Breaks sheet's rows are written as XML text (sheets/xmlrows.py); the same summary
    written through openpyxl's cells reads back identically, cell for cell and style for style,
    over hostile text: formulas, error codes, controls, card numbers, markup, spaces, CJK."""
    from recon.reports import workbook
    from recon.reports.model import Annotation

    texts = [FORMULA, "+1", "-2", "@x", "\t=1", "#N/A", "#DIV/0!", "a & b <c> \"d\" 'e'",
             "  padded  ", "\x00\x01", "bell\x07", "card 4111-1111-1111-1111", "4012888888881881",
             "微信支付 退款", "line\r\nbreak", "x" * 40_000, "", "0", "\ufffe"]
    breaks = tuple(
        brk(f"X{i}", ["amount_mismatch", "missing_in_ledger", "fee_variance"][i % 3],
            ["CNY", "JPY", "KWD", "USD"][i % 4], None if i % 5 == 0 else 1000 * i - 7,
            None if i % 7 == 0 else -(37 * i), reference=t, psp_reference=t or None, detail=t,
            file_name=t or None, file_line=None if i % 2 else i, ledger_entry_id=t or None,
            timezone=["Asia/Shanghai", "America/New_York", "Nowhere/Unknown"][i % 3],
            booked_at=None if i % 6 == 0 else datetime(2024, 3, 10, 6, 59, i, tzinfo=UTC),
            first_seen=date(2024, 4, 1 + i) if i % 2 else None, age_days=i if i % 2 else None)
        for i, t in enumerate(texts))
    notes = {"X1": (Annotation("X1", "explained", "timing", "=cmd", "ana", datetime(2024, 5, 1, 9)),
                    Annotation("X1", "resolved", None, "ok & done", "bo", datetime(2024, 5, 2, 9)))}
    summary = replace(make_summary(breaks), annotations=notes)
    # a file named like the placeholder row (a fixed text would splice the rows into the Summary)
    summary = replace(summary, sources=summary.sources + (
        SourceStatus("alipay", "psp", "recon rows placeholder 0", "ef" * 32, "loaded", 1, 0, "ok"),))
    fast = write_workbook(summary, tmp_path / "fast.xlsx")

    class OpenpyxlCells(workbook.Cells):
        def __init__(self, wb, rows_dir=None):
            super().__init__(wb, None)

    monkeypatch.setattr(workbook, "Cells", OpenpyxlCells)
    slow = write_workbook(summary, tmp_path / "slow.xlsx")
    a, b = _cells(fast), _cells(slow)
    assert a == b
    assert len(a["Breaks"]) == len(BREAK_COLUMNS) * (len(texts) + 1)
    assert not list(tmp_path.glob(".*rows-*"))  # the rows' files are removed
    # every placeholder row was replaced (the file name above is not one: no token)
    with zipfile.ZipFile(fast) as z:
        assert not any(re.search(rb"recon rows placeholder \d+ [0-9a-f]{32}", z.read(n))
                       for n in z.namelist())
    breaks_sheet = {c[0]: c for c in a["Breaks"]}
    ref, detail, ledger = COL["PSP reference"], COL["detail"], COL["ledger amount"]
    # text, quote-prefixed
    assert breaks_sheet[f"{ref}2"][1:5] == (FORMULA, "s", "General", True)
    assert breaks_sheet[f"{detail}13"][1] == "card 411111******1111"
    assert breaks_sheet[f"{ledger}3"][1:4] == (993, "n", JPY0)
    # a fee variance: the rate card's fee in its own column, not in "ledger amount"
    assert breaks_sheet[f"{ledger}4"][1] is None
    assert breaks_sheet[f"{COL['expected fee']}4"][1:4] == (1.993, "n", KWD3)
    assert breaks_sheet[f"{detail}20"][1] is None  # U+FFFE, which XML cannot carry, is removed
    assert breaks_sheet[f"{ref}17"][1] == "x" * 32_767  # Excel's cell limit
    assert "recon rows placeholder 0" in [c[1] for c in a["Summary"]]


def test_amounts_are_written_as_their_exact_decimal_text(tmp_path: Path) -> None:
    """The Breaks sheet's amounts go into the XML as decimal text, never through a float (openpyxl
    writes ``%.16g`` of a float: 1234567890123456.78 would become 1234567890123457)."""
    big = brk("BIG", "amount_mismatch", "CNY", 123456789012345678, 123456789012345600)
    path = write_workbook(make_summary((big,)), tmp_path / "big.xlsx")
    with zipfile.ZipFile(path) as z:
        sheet = next(z.read(n) for n in z.namelist()
                     if n.startswith("xl/worksheets/") and b"BIG" in z.read(n))
    assert b"<v>1234567890123456.78</v>" in sheet and b"<v>-0.78</v>" in sheet


def test_repeated_source_text_is_cleaned_and_counted_at_every_use(tmp_path: Path) -> None:
    """The writers clean each distinct text once (a day's rows repeat their texts): every cell
    still holds its cleaned text, and the Summary counts what cleaning did at each use."""
    detail = "=card 4111 1111 1111 1111\x07 declined"

    def written(n: int) -> openpyxl.Workbook:
        breaks = tuple(brk(f"R{i}", "amount_mismatch", "CNY", 100, 90 + i, detail=detail)
                       for i in range(n))
        return openpyxl.load_workbook(write_workbook(make_summary(breaks), tmp_path / f"r{n}.xlsx"))

    def counts(book: openpyxl.Workbook) -> list[int]:  # removed, masked, quoted
        return [int(n) for n in re.findall(r"\d+", summary_value(book["Summary"], "source text").value)]

    book = written(3)
    cells = [row_of(book["Breaks"], f"R{i}")["detail"] for i in range(3)]
    assert [(c.value, c.data_type, c.quotePrefix) for c in cells] == [
        ("=card 411111******1111 declined", "s", True)] * 3
    # the other sheets' text (the example's sources and fees) counts the same with or without them
    assert [a - b for a, b in zip(counts(book), counts(written(0)))] == [3, 3, 3]
