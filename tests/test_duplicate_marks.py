"""The duplicate marks taken from the first pass's join (mark_duplicates_first_pass.sql) are those
of the whole-day check (mark_duplicates.sql), and so is everything recorded after them: on three
consecutive generated hard days (the ledger's duplicate bookings, the PSP files' repeated lines,
items carried and cleared days later), each day matched from the same copy of a DuckDB file
each way, and once more by the first pass with half the rows it fetches ahead lost; and on
literal days that hit each branch the join cannot see by itself."""
from __future__ import annotations

import dataclasses
import shutil
from datetime import date, datetime, timedelta, timezone

import pytest

from connectors.archive import Archive
from connectors.local import fetch_local
import sql
from recon import config, matching, pipeline, routes, warehouse
from recon.generate import generate_days
from tests.tables import D, delivered, ledger, run_day, stmt, ts
from tests.worlds import CONFIG, TABLES as WORLD_TABLES, read_tables

START = date(2026, 11, 20)
TABLES = {**WORLD_TABLES,
          "reversal_links": "SELECT * FROM reversal_links ORDER BY ALL",
          "fee_report": "SELECT * FROM fee_report ORDER BY ALL"}


def insert_lines(con, st) -> None:
    warehouse.insert_frame(con, "statement_lines", st)
    delivered(con, st)  # their file is loaded: the source is not late


def _full_check(monkeypatch):
    """Make run_cascade mark the duplicates with mark_duplicates.sql before any rule."""
    monkeypatch.setattr(matching, "_marks_in_first_pass", lambda *a, **k: False)


def test_the_first_pass_marks_what_the_whole_day_check_marks_over_three_hard_days(tmp_path, monkeypatch, caplog):
    caplog.set_level("INFO", logger="recon.matching")
    world = tmp_path / "world"
    days = generate_days(START, 3, world, seed=11, scale=300, scenario="hard")
    monkeypatch.setenv("RECON_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("RECON_LEDGER_DIR", str(world / "ledger"))
    cfg = config.load(CONFIG)
    sources = [s.name for s in cfg.sources]
    archive = Archive(cfg.archive)
    used = []
    carried = 0
    for g in days:
        day = g.business_date
        run_id = pipeline.new_run_id(day)
        pipeline.begin_run(cfg, run_id, day)
        for f in fetch_local(world / "ledger", cfg.ledger.pattern, day, archive, source="ledger"):
            pipeline.load_ledger_file(cfg, f, day, run_id)
        for s in cfg.sources:
            for f in fetch_local(world / s.sftp.remote_dir, s.sftp.pattern, s.file_date(day), archive, source=s.name):
                assert pipeline.load_statement(cfg, s, f, day, run_id).status == "loaded"
        joined, whole = tmp_path / f"joined-{day}.duckdb", tmp_path / f"whole-{day}.duckdb"
        leaky, plain = tmp_path / f"leaky-{day}.duckdb", tmp_path / f"plain-{day}.duckdb"
        for p in (joined, whole, leaky, plain):
            shutil.copy(cfg.warehouse, p)

        def working_set():  # the log line of the last match, which each route counts its own way
            lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Working set for")]
            caplog.clear()
            assert len(lines) == 1, lines
            return lines[0]

        calls = []
        real = matching._marks_in_first_pass
        monkeypatch.setattr(matching, "_marks_in_first_pass", lambda *a, **k: calls.append(real(*a, **k)) or calls[-1])
        pipeline.match(dataclasses.replace(cfg, warehouse=joined), run_id, day, sources)
        assert calls == [True]  # the configuration's first rule: the exact merchant reference, every source
        counted_by_join = working_set()
        _full_check(monkeypatch)
        pipeline.match(dataclasses.replace(cfg, warehouse=whole), run_id, day, sources)
        assert working_set() == counted_by_join  # the first pass's join counts what the views count
        monkeypatch.setattr(matching, "_marks_in_first_pass", real)

        # The first pass's route again, its rows fetched ahead (first_pass_fetch.sql) half lost:
        # the marks and the set-aside read the rest from the day, and nothing changes.
        real_load = sql.load
        lost = []

        def leaky_load(name):
            if name != "first_pass_fetch":
                return real_load(name)
            return real_load(name) + (
                "\nCREATE OR REPLACE TEMP TABLE lost AS SELECT (SELECT count(*) FROM work_stmt_fetched "
                "WHERE hash(line_id) % 2 = 0) + (SELECT count(*) FROM work_ledger_fetched "
                "WHERE hash(entry_id) % 2 = 0) AS n;\n"
                "DELETE FROM work_stmt_fetched WHERE hash(line_id) % 2 = 0;\n"
                "DELETE FROM work_ledger_fetched WHERE hash(entry_id) % 2 = 0;\n")
        monkeypatch.setattr(sql, "load", leaky_load)
        real_set_aside = routes.Cascade.close

        def close(self):
            if not self.aside:
                lost.append(self.con.execute("SELECT n FROM lost").fetchone()[0])
            real_set_aside(self)
        monkeypatch.setattr(routes.Cascade, "close", close)
        pipeline.match(dataclasses.replace(cfg, warehouse=leaky), run_id, day, sources)
        assert working_set() == counted_by_join
        monkeypatch.setattr(sql, "load", real_load)
        monkeypatch.setattr(routes.Cascade, "close", real_set_aside)
        assert lost and lost[0] > 10, lost  # rows the readers had to find in the day

        # The plain reference cascade (no bulk first pass at all): the same tables again.
        monkeypatch.setenv("RECON_MATCH_ROUTE", "reference")
        pipeline.match(dataclasses.replace(cfg, warehouse=plain), run_id, day, sources)
        monkeypatch.delenv("RECON_MATCH_ROUTE")
        assert working_set() == counted_by_join

        got, expected, patched, reference = (read_tables(p, TABLES) for p in (joined, whole, leaky, plain))
        for name in TABLES:
            assert got[name] == expected[name], (day, name)
            assert patched[name] == expected[name], (day, name, "fetch half lost")
            assert reference[name] == expected[name], (day, name, "reference route")
        dup = [b for b in expected["breaks"] if "duplicate" in b]
        used.append((day, len(expected["matches"]), len(dup)))
        carried = max(carried, len(expected["open_items"]))
        # The next day carries this run's open items: continue from the joined copy, finished.
        shutil.copy(joined, cfg.warehouse)
        c = warehouse.connect(cfg.warehouse)
        try:
            c.execute("UPDATE runs SET status = 'breaks' WHERE run_id = ?", [run_id])
        finally:
            c.close()
    assert all(m > 500 and d > 0 for _day, m, d in used), used
    assert carried > 20


@pytest.fixture(params=["first_pass", "whole_day"])
def marks(request, monkeypatch):
    if request.param == "whole_day":
        _full_check(monkeypatch)
    return request.param


def _duplicates(con, day=D):
    return sorted(r[0] for r in con.execute(
        "SELECT coalesce(ledger_entry_id, line_id) FROM breaks WHERE run_id = ? AND category = 'duplicate'",
        [f"run-{day}"]).fetchall())


def _links(con, day=D):
    return sorted(con.execute("SELECT ledger_entry_id, line_id, rule FROM matches WHERE run_id = ? "
                              "AND kind = 'ledger_statement' AND rule <> 'reference_mismatch'",
                              [f"run-{day}"]).fetchall(), key=str)


def test_a_line_repeating_last_weeks_line_leaves_its_entry_to_the_later_passes(con, cfg, marks):  # noqa: F811
    """Line L2 repeats L1 of two days earlier (same reference and amount), and the day's entry E
    has that key too: L2 is a duplicate, so E has no candidate in the first pass and matches
    nothing by its merchant reference (L1 was linked on its own day); it is open, missing in the
    statement. Line N2 has no merchant reference and repeats N1 of the same file by its PSP
    reference; lines B1 and B2 have a blank merchant reference and the same amount, which is no
    key: neither is a duplicate."""
    insert_lines(con, stmt(
        dict(merchant_reference="ORD-S", amount_minor=700, business_date=D - timedelta(days=2),
             booked_at=ts(1), file_sha256="1" * 64)))
    warehouse.load_ledger(con, ledger(dict(entry_id="E", merchant_reference="ORD-S", amount_minor=700,
                                           booked_at=ts(2)),
                                      dict(entry_id="F", merchant_reference="ORD-F", amount_minor=800,
                                           booked_at=ts(2))),
                          sha256="c" * 64, recorded_at=datetime(2026, 11, 22, tzinfo=timezone.utc))
    insert_lines(con, stmt(
        dict(merchant_reference="ORD-S", amount_minor=700, booked_at=ts(2), file_sha256="2" * 64),
        dict(merchant_reference="ORD-F", amount_minor=800, booked_at=ts(2), file_sha256="2" * 64, file_line=3),
        dict(merchant_reference=None, psp_reference="4200001", amount_minor=900, booked_at=ts(2),
             file_sha256="2" * 64, file_line=4),
        dict(merchant_reference=None, psp_reference=" 4200001", amount_minor=900, booked_at=ts(3),
             file_sha256="2" * 64, file_line=5),
        dict(merchant_reference="  ", amount_minor=300, booked_at=ts(2), file_sha256="2" * 64, file_line=6),
        dict(merchant_reference="  ", amount_minor=300, booked_at=ts(3), file_sha256="2" * 64, file_line=7)))
    run_day(con, cfg)
    line = "2" * 16
    assert _duplicates(con) == [f"{line}:2", f"{line}:5"]
    assert _links(con) == [("F", f"{line}:3", "exact_reference")]
    assert ("missing_in_statement", "ORD-S") in {(c, r) for c, r in con.execute(
        "SELECT category, reference FROM breaks WHERE run_id = ? AND status = 'open'", [f"run-{D}"]).fetchall()}


def test_an_entry_repeating_a_carried_entry_is_a_duplicate_and_the_carried_one_is_linked(con, cfg, marks):  # noqa: F811
    """Day 1: entry A (ORD-A, 500) has no line and is carried. Day 2: entry B books ORD-A, 500 again
    and the line for it arrives: B repeats A (earlier in the week) and is a duplicate, and the
    line links to the carried A, clearing A's break as a timing difference."""
    day1 = D - timedelta(days=1)
    warehouse.load_ledger(con, ledger(dict(entry_id="A", merchant_reference="ORD-A", amount_minor=500,
                                           business_date=day1, booked_at=ts(1))),
                          sha256="a" * 64, recorded_at=datetime(2026, 11, 21, tzinfo=timezone.utc))
    run_day(con, cfg, day=day1)
    assert _duplicates(con, day1) == []
    warehouse.load_ledger(con, ledger(dict(entry_id="B", merchant_reference="ORD-A", amount_minor=500,
                                           booked_at=ts(2))),
                          sha256="b" * 64, recorded_at=datetime(2026, 11, 22, tzinfo=timezone.utc))
    insert_lines(con, stmt(
        dict(merchant_reference="ORD-A", amount_minor=500, booked_at=ts(2), file_sha256="2" * 64)))
    run_day(con, cfg)
    assert _duplicates(con) == ["B"]
    assert _links(con) == [("A", f"{'2' * 16}:2", "exact_reference")]
