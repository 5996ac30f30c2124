"""A late source is pending, not a flood of breaks: its ledger items wait, counted and aged, until
the file comes (then they match as normal) or the deadline passes (then they are breaks).

Generated days Monday 2026-11-23 to Wednesday 2026-11-25, run stage by stage on real parts
(archive, parsers, DuckDB file, the match cascade, the report model), without SFTP or Prefect."""
from __future__ import annotations

from datetime import date

import duckdb
import pytest

from connectors.archive import Archive
from connectors.local import fetch_local
from recon import config, pipeline
from recon.assemble import build_summary
from recon.chaos import check
from recon.generate import generate_days
from recon.pending import pending_after
from tests.worlds import CONFIG

MON, TUE, WED = date(2026, 11, 23), date(2026, 11, 24), date(2026, 11, 25)


@pytest.fixture
def world(tmp_path, monkeypatch):
    w = tmp_path / "world"
    generate_days(MON, 3, w, seed=5, scale=60)
    monkeypatch.setenv("RECON_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("RECON_LEDGER_DIR", str(w / "ledger"))
    return w


def run_day(cfg, world, day: date, skip: tuple[str, ...] = ()) -> tuple[str, list]:
    """One night of ``day`` without the sources in ``skip`` (their file has not arrived)."""
    archive = Archive(cfg.archive)
    run_id = pipeline.new_run_id(day)
    started = pipeline.begin_run(cfg, run_id, day)
    statuses = [pipeline.load_ledger_file(cfg, f, day, run_id)
                for f in fetch_local(world / "ledger", cfg.ledger.pattern, day, archive, source="ledger")]
    for s in cfg.sources:
        if s.name in skip:
            statuses.append(pipeline.missing_status(s, pipeline.Arrival(s.name, missing="late", late=True)))
            continue
        for f in fetch_local(world / s.sftp.remote_dir, s.sftp.pattern, s.file_date(day), archive, source=s.name):
            statuses.append(pipeline.load_statement(cfg, s, f, day, run_id))
    inputs = [s.sha256 for s in statuses if s.kind != "ledger" and s.status in pipeline.LOADED]
    pipeline.match(cfg, run_id, day, [s.name for s in cfg.sources], inputs)
    pipeline.finish_run(cfg, run_id, statuses, "breaks", {}, {})
    return run_id, statuses, started


def q(cfg, query: str, params=()):
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    try:
        return con.execute(query, list(params)).fetchall()
    finally:
        con.close()


def stripe_side(cfg, run_id: str) -> dict:
    """{(status, category): n} of the run's ledger-side unmatched stripe items."""
    return dict(((s, c), n) for s, c, n in q(
        cfg, "SELECT status, category, count(*) FROM breaks WHERE run_id = ? AND source = 'stripe' "
             "AND rule = 'unmatched_ledger' GROUP BY 1, 2", [run_id]))


def test_pending_after_counts_business_days():
    assert pending_after(WED, 2) == MON and pending_after(TUE, 2) == date(2026, 11, 20)  # Friday
    assert pending_after(MON, 1) == date(2026, 11, 20) and pending_after(MON, 0) is None


def test_late_source_waits_as_pending_then_matches_when_its_file_arrives(world, tmp_path, monkeypatch):
    cfg = config.load(CONFIG)
    with check("fault", "psp file late: its ledger items pending, not breaks"):
        run1, statuses, started = run_day(cfg, world, MON, skip=("stripe",))
        entries = q(cfg, "SELECT count(*), sum(abs(amount_minor)) FROM ledger_entries WHERE source = 'stripe' "
                         "AND business_date = ?", [MON])[0]
        dup = q(cfg, "SELECT count(*) FROM breaks WHERE run_id = ? AND source = 'stripe' AND category = "
                     "'duplicate' AND line_id IS NULL", [run1])[0][0]
        # Every stripe ledger item of Monday waits: none is a break (open), all are pending.
        sides = stripe_side(cfg, run1)
        assert not any(status == "open" for status, _ in sides)
        pending = sum(sides.values())
        assert pending == entries[0] - dup and pending > 50
        summary = build_summary(cfg, run1, MON, started, statuses)
        assert [(p.source, p.currency, p.items, p.oldest, p.age_days) for p in summary.pending] == [
            ("stripe", "USD", pending, MON, 0)]
        assert summary.pending[0].amount_minor == q(
            cfg, "SELECT sum(abs(ledger_amount_minor)) FROM breaks WHERE run_id = ? AND status = 'pending'",
            [run1])[0][0]
        assert not any(b.source == "stripe" and b.category == "missing_in_statement" for b in summary.breaks)
        assert summary.reconciled is False

        # Tuesday: the file arrives and Monday is run again: the items match as normal, exactly as
        # on a night where the file was on time (a fresh warehouse for comparison).
        run2, statuses, started = run_day(cfg, world, MON)
        assert q(cfg, "SELECT count(*) FROM breaks WHERE run_id = ? AND status = 'pending'", [run2]) == [(0,)]
        late = stripe_side(cfg, run2)
        monkeypatch.setenv("RECON_HOME", str(tmp_path / "on-time"))
        on_time = config.load(CONFIG)
        run3, *_ = run_day(on_time, world, MON)
        assert late == stripe_side(on_time, run3) and all(status == "open" for status, _ in late)
        assert sum(late.values()) < pending / 10  # the real breaks, not a flood


def test_late_source_items_become_breaks_after_the_deadline(world):
    cfg = config.load(CONFIG)
    with check("fault", "psp file never arrives: pending items become breaks at the deadline"):
        run_mon, *_ = run_day(cfg, world, MON, skip=("stripe",))
        mon_pending = q(cfg, "SELECT ledger_entry_id FROM breaks WHERE run_id = ? AND status = 'pending'", [run_mon])
        assert mon_pending
        # Tuesday: Tuesday's stripe file comes, Monday's never does: Monday's items still wait (1 day).
        run_tue, statuses, started = run_day(cfg, world, TUE)
        tue = q(cfg, "SELECT b.status, b.first_seen, count(*) FROM breaks b JOIN ledger_entries l "
                     "ON l.entry_id = b.ledger_entry_id WHERE b.run_id = ? AND b.source = 'stripe' "
                     "AND l.business_date = ? AND b.rule = 'unmatched_ledger' GROUP BY 1, 2", [run_tue, MON])
        assert [(s, f) for s, f, _ in tue] == [("pending", MON)]
        summary = build_summary(cfg, run_tue, TUE, started, statuses)
        assert [(p.source, p.oldest, p.age_days) for p in summary.pending] == [("stripe", MON, 1)]
        # Wednesday: two business days without Monday's file: they are missing_in_statement breaks,
        # aged from Monday; none is lost on the way.
        run_wed, *_ = run_day(cfg, world, WED)
        wed = q(cfg, "SELECT b.status, b.category, b.first_seen, count(*) FROM breaks b JOIN ledger_entries l "
                     "ON l.entry_id = b.ledger_entry_id WHERE b.run_id = ? AND b.source = 'stripe' "
                     "AND l.business_date = ? AND b.rule = 'unmatched_ledger' GROUP BY 1, 2, 3", [run_wed, MON])
        assert [(s, c, f) for s, c, f, _ in wed] == [("open", "missing_in_statement", MON)]
        assert sum(n for *_, n in wed) == sum(n for *_, n in tue)
        # Nothing lost: each of Monday's pending items is still waiting on Tuesday or was matched
        # by Tuesday's lines (booked just before Monday's cut-off, settled in Tuesday's file).
        matched_tue = q(cfg, "SELECT count(DISTINCT ledger_entry_id) FROM matches WHERE run_id = ? AND "
                             "ledger_entry_id IN (SELECT ledger_entry_id FROM breaks WHERE run_id = ? AND "
                             "status = 'pending')", [run_tue, run_mon])[0][0]
        assert sum(n for *_, n in tue) + matched_tue == len(mon_pending)
