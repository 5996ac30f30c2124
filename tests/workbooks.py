"""A hand-built day for the workbook tests: its breaks, summary and the readers of a written sheet."""
from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timezone

import openpyxl

from recon.reports.model import (Annotation, Break, ChannelDay, CurrencyTotal, DayRate, FeeLine,
                                 PayoutLine, Position, RunSummary, SourceStatus)
from recon.reports.workbook import BREAK_COLUMNS

UTC = timezone.utc
COL = {h: openpyxl.utils.get_column_letter(i) for i, (h, _) in enumerate(BREAK_COLUMNS, 1)}
LAST = COL["row check"]
STARTED = datetime(2024, 5, 2, 1, 15, 0, tzinfo=UTC)
FORMULA = '=HYPERLINK("http://x")'


def brk(break_id: str, category: str, currency: str, ledger: int | None, statement: int | None,
        **kw: object) -> Break:
    fields: dict[str, object] = dict(
        break_id=break_id, category=category, source="alipay", currency=currency,
        ledger_amount_minor=ledger, statement_amount_minor=statement,
        difference_minor=(statement or 0) - (ledger or 0), reference=f"ORD-{break_id}",
        psp_reference=f"PSP-{break_id}", booked_at=datetime(2024, 5, 1, 8, 0, tzinfo=UTC),
        timezone="Asia/Shanghai", ledger_entry_id=None, line_id=f"sha:{break_id}",
        file_name="alipay_20240501.csv", file_line=10, rule="exact_reference", detail="")
    fields.update(kw)
    return Break(**fields)  # type: ignore[arg-type]


def make_summary(breaks: tuple[Break, ...] | None = None) -> RunSummary:
    if breaks is None:
        breaks = (
            brk("B1", "missing_in_ledger", "CNY", None, 1230, reference=FORMULA,
                booked_at=datetime(2024, 5, 1, 16, 30, 5, tzinfo=UTC), file_line=12),
            brk("B2", "missing_in_statement", "USD", -4599, None, source="stripe",
                timezone="America/New_York", detail="card 4111 1111 1111 1111 declined",
                file_name=None, file_line=None, ledger_entry_id="L-77", line_id=None),
            brk("B3", "amount_mismatch", "JPY", 1500, 1480, timezone="Asia/Tokyo"),
            brk("B4", "amount_mismatch", "KWD", 12345, 12340, timezone="Asia/Kuwait"),
            brk("B5", "fee_variance", "CNY", 600, 650, detail="bell\x07 and\nnewline"),
        )
    return RunSummary(
        run_id="run-2024-05-01-a1", business_date=date(2024, 5, 1), started_at=STARTED,
        finished_at=datetime(2024, 5, 2, 1, 17, 30, tzinfo=UTC), code_version="0.1.0+g631f89c",
        config_sha256="c0ffee" * 10 + "abcd",
        sources=(
            SourceStatus("alipay", "psp", "alipay_20240501.csv", "ab" * 32, "loaded", 120, 1, "ok"),
            SourceStatus("stripe", "psp", None, None, "missing", error="no file by 06:00"),
            SourceStatus("icbc", "bank", "=cmd|' /C calc'!A0.txt", "cd" * 32, "loaded", 40, 0,
                         "n/a"),
        ),
        ledger_entries=150, statement_lines=160, matched_ledger=148, matched_statement=152,
        matched_by_rule={"exact_reference": 140, "reference_amount_window": 12},
        matched_amounts=(CurrencyTotal("CNY", 100, 1234567), CurrencyTotal("JPY", 52, 99000)),
        quarantined=1, breaks=breaks,
        fees=(
            FeeLine("alipay", date(2024, 5, 1), "CNY", "wallet", "payment", 10, 100000, 600, 550),
            FeeLine("alipay", date(2024, 5, 1), "CNY", "+card", "refund", 1, 3, 1, 0),
            FeeLine("stripe", date(2024, 5, 1), "USD", "card", "chargeback", 2, 0, 3000, 3000),
        ),
        payouts=(
            PayoutLine("stripe", "po_1", "USD", 3, 10000, 10000, 9990, "bank:7", "payout_mismatch"),
            PayoutLine("alipay", "po_2", "CNY", 5, 50000, 50000, None, None, "unsettled"),
        ),
        outputs={"workbook": "out/recon-2024-05-01.xlsx"},
    )


def header(ws) -> list[object]:
    return [c.value for c in ws[1]]


def row_of(ws, break_id: str) -> dict[str, object]:
    names = [h for h, _ in BREAK_COLUMNS]
    for row in ws.iter_rows(min_row=2):
        if row[0].value == break_id:
            return dict(zip(names, row))
    raise AssertionError(f"{break_id} not on the Breaks sheet")


def values(ws) -> list[list[object]]:
    """Every row's values without the trailing empty cells of a shorter table."""
    out = []
    for row in ws.iter_rows(values_only=True):
        row = list(row)
        while row and row[-1] is None:
            row.pop()
        out.append(row)
    return out


def summary_value(ws, label: str):
    for row in ws.iter_rows():
        if row[0].value == label:
            return row[1]
    raise AssertionError(f"no {label!r} on the Summary sheet")


D = date(2024, 5, 1)
HYPERLINK = '=HYPERLINK("http://x","y")'


def rich_summary():
    s = make_summary()
    breaks = tuple(replace(b, first_seen=date(2024, 4, 20) if b.break_id == "B3" else D,
                           age_days=11 if b.break_id == "B3" else 0) for b in s.breaks)
    breaks += (brk("B6", "timing", "CNY", 500, None, detail=HYPERLINK, first_seen=date(2024, 3, 1),
                   age_days=61),)
    notes = {"B3": (
        Annotation("B3", "explained", "psp_error", "PSP rounding", "lwang",
                   datetime(2024, 4, 21, 9, 0, tzinfo=UTC), version=1),
        Annotation("B3", "resolved", "write_off", "written off, ticket 42", "zchen",
                   datetime(2024, 4, 22, 9, 30, tzinfo=UTC), version=2))}
    history = tuple(DayRate(date(2024, 4, d), f"r{d}", 100, 90 + d % 10) for d in range(2, 31)) + (
        DayRate(D, s.run_id, 160, 152),)
    channels = (
        ChannelDay("alipay", date(2024, 4, 30), "CNY", 100, 98, 3, 1, 104, 100, 1_000_000, 6_000),
        ChannelDay("alipay", D, "CNY", 120, 119, 6, 0, 126, 126, 2_000_000, 12_000),
        ChannelDay("stripe", D, "USD", 50, 50, 1, 2, 53, 50, 500_000, 16_000),
    )
    positions = (
        Position("alipay", "2088001", "", "CNY", 10, 100_000, 5_000, 0, 0, 600, 94_400, 94_400),
        Position("wechatpay", "1900000109", "1900000201", "CNY", 4, 40_000, 0, 1_000, -100, 240,
                 38_660, 38_000),
    )
    return replace(s, breaks=breaks, annotations=notes, history=history, channels=channels,
                   positions=positions)
