"""The roll-forward's arithmetic on literal break movements, and the fee rate's sign."""
from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timezone

from recon.reports.fees import format_rate
from recon.reports.model import effective_rate_percent
from recon.reports.rollforward import Movement, bridge, cleared
from tests.workbooks import make_summary

D = date(2026, 11, 22)


def mv(bid, movement, before, after, **kw):
    return Movement(bid, kw.pop("category", "timing"), "wechatpay", "CNY", f"ORD{bid}", date(2026, 11, 21),
                    movement, before, after, D, **kw)


def test_bridge_closes_and_says_why() -> None:
    moves = (
        mv("a", "continuing", -500, -500),
        mv("b", "continuing", 300, 200, fix_at=datetime(2026, 11, 22, 5, tzinfo=timezone.utc),
           fix_by="ana", fix_why="ORDb keyed wrong", fix_file="fix.csv", category="amount_mismatch"),
        mv("c", "auto_cleared", 1_000, None, cleared_on=D, cleared_detail=f"cleared on {D} by exact_reference"),
        mv("d", "resolved", -70, None, note_who="lwang", note_reason="write_off",
           note_at=datetime(2026, 11, 22, 1, tzinfo=timezone.utc), note_status="resolved"),
        mv("e", "left", 40, None),
        mv("f", "new", None, -900),
    )
    s = make_summary()
    open_now = tuple(replace(s.breaks[0], break_id=i, source="wechatpay", currency="CNY",
                             difference_minor=v) for i, v in (("a", -500), ("b", 200), ("f", -900)))
    (row,) = bridge(moves, open_now)
    assert (row.opening_count, row.new_count, row.auto_count, row.resolved_count,
            row.corrected_count, row.closing_count) == (5, 1, 1, 1, -1, 3)
    assert (row.opening_minor, row.new_minor, row.auto_minor, row.resolved_minor,
            row.corrected_minor, row.closing_minor) == (1_910, 900, 1_000, 70, -140, 1_600)
    assert (row.check_count, row.check_minor) == (0, 0)
    assert [m.break_id for m in cleared(moves)] == ["c", "d", "e"]
    assert moves[2].why == f"cleared on {D} by exact_reference"
    assert moves[3].why == "resolved by lwang on 2026-11-22 01:00 UTC: write_off"
    assert moves[4].how == "no longer raised" and moves[1].how == "continuing"
    assert moves[1].why == "still open; ledger corrected 2026-11-22 05:00 UTC by ana (fix.csv): ORDb keyed wrong"
    (short,) = bridge(moves, open_now[:2])  # one open break fewer than the movements say
    assert (short.check_count, short.check_minor) == (-1, -900)


def test_no_negative_zero_rate() -> None:
    assert format_rate(effective_rate_percent(0, -32_973)) == "0.0000%"
    assert format_rate(effective_rate_percent(-1, 10_000_000)) == "0.0000%"  # -0.00001 %
    assert format_rate(effective_rate_percent(-522, -86_791)) == "0.6014%"


def test_summary_sheet_shows_the_bridge_and_a_tie_out_difference(tmp_path) -> None:
    import openpyxl

    from recon.reports.rollforward import BridgeRow
    from recon.reports.tieout import TieOut
    from recon.reports.workbook import write_workbook
    s = replace(make_summary(), bridge=(BridgeRow("wechatpay", "CNY", 2, 300, 1, 50, 1, 100, 0, 0, 0, 0, 2, 250),),
                tie_out=(TieOut("stripe", "USD", "fee actual", "fee report actual fee", 55_994,
                                "positions fees on payments and refunds", 55_919, 75),))
    for language, ok, title in (("en", "ok", "Roll-forward of open breaks"), ("zh", "一致", "未结差异滚动")):
        ws = openpyxl.load_workbook(write_workbook(s, tmp_path / f"{language}.xlsx", language=language)).worksheets[0]
        rows = [[c.value for c in r] for r in ws.iter_rows()]
        at = next(i for i, r in enumerate(rows) if r[0] == title)
        assert rows[at + 2][:9] == ["wechatpay", "CNY", 2, 1, 1, 0, 0, 2, ok]
        assert rows[at + 3][2:9] == [3, 0.5, 1, 0, 0, 2.5, ok]
        facts = {r[0]: r[1] for r in rows[:20]}
        assert facts["tie-out" if language == "en" else "勾稽核对"] == "1 differences"
        diff = next(r for r in rows if r[2] == "fee actual")
        assert diff[:8] == ["stripe", "USD", "fee actual", "fee report actual fee", 559.94,
                            "positions fees on payments and refunds", 559.19, 0.75]
