"""Auditors' tools: runs list/show/diff and break lineage down to the archived bytes."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from recon import audit, config, pipeline
from recon.generate import generate_day
from tests.worlds import served

ROOT = Path(__file__).resolve().parents[1]
DAY = date(2026, 11, 21)
pytestmark = pytest.mark.integration


def run_day(cfg, day: date) -> str:
    """The nightly stages as plain functions (what the flow's tasks call)."""
    run_id = pipeline.new_run_id(day)
    started = pipeline.begin_run(cfg, run_id, day)
    statuses = [pipeline.load_ledger_file(cfg, f, day, run_id)
                for f in pipeline.fetch_ledger(cfg, day).files]
    for s in cfg.sources:
        for f in pipeline.fetch_source(cfg, s, day).files:
            statuses.append(pipeline.load_statement(cfg, s, f, day, run_id))
    pipeline.match(cfg, run_id, day, [s.name for s in cfg.sources])
    pipeline.finish_run(cfg, run_id, statuses, "breaks", {}, {"total": 0.0})
    assert started
    return run_id


@pytest.fixture
def world(tmp_path, monkeypatch):
    w = tmp_path / "world"
    for d in (DAY, date(2026, 11, 22), date(2026, 11, 23)):
        generate_day(d, w, seed=9, scale=60)
    with served(w, tmp_path, monkeypatch):
        yield config.load(ROOT / "data" / "recon.toml")


def test_runs_list_show_diff_and_trace(world):
    cfg = world
    first = run_day(cfg, DAY)
    second = run_day(cfg, DAY)  # the same day again: same inputs, same breaks
    nxt = run_day(cfg, date(2026, 11, 22))

    runs = audit.list_runs(cfg)
    assert [r["run_id"] for r in runs] == [first, second, nxt]
    assert runs[0]["inputs"] == 4 and runs[0]["open_breaks"] > 0

    shown = audit.show_run(cfg, first)
    assert {i["source"] for i in shown["input_files"]} == {"ledger", "wechatpay", "stripe", "bank"}
    assert all(len(i["sha256"]) == 64 for i in shown["input_files"])
    assert shown["config_sha256"] == cfg.sha256 and shown["ledger_watermark"] is not None

    same = audit.diff_runs(cfg, first, second)
    assert not same["breaks_only_in_a"] and not same["breaks_only_in_b"] and not same["breaks_changed"]
    assert not same["inputs_only_in_a"] and not same["config_changed"]
    other = audit.diff_runs(cfg, second, nxt)
    assert other["inputs_only_in_b"] and other["breaks_only_in_b"]

    from recon import warehouse
    con = warehouse.connect(cfg.warehouse)
    try:
        (bid, ref), = warehouse.rows(con, "SELECT break_id, reference FROM breaks WHERE run_id = ? AND "
                                          "category = 'amount_mismatch' ORDER BY break_id LIMIT 1", [first])
    finally:
        con.close()
    t = audit.trace(cfg, bid, first)
    assert t["break"]["category"] == "amount_mismatch"
    (entry,) = t["ledger_entries"]
    assert entry["merchant_reference"] == ref and ref in entry["raw_bytes"]
    (line,) = t["statement_lines"]
    assert line["file_name"].startswith("wechatpay_trade_") and f"`{ref}," in line["raw_bytes"]
    assert t["evidence"][0]["rule"] == "reference_mismatch"
    text = audit.format_trace(t)
    assert f"line {line['file_line']}" in text and "no annotations yet" in text


def test_unknown_run_and_break_are_clear_errors(world):
    from recon.errors import ReconError
    with pytest.raises(ReconError, match="no run 'nope'.*recon runs list"):
        audit.show_run(world, "nope")
    with pytest.raises(ReconError, match="no break 'feedfacefeedface'"):
        audit.trace(world, "feedfacefeedface")


def test_trace_of_a_carried_payout_break_shows_the_payout_line_of_its_day(world):
    """A payout break is raised by the run whose bank file carries the credit (the day after the
    payout's). Seen again the next day, it traces back to the payout line of the PSP file that
    brought the payout, as the day's own break does."""
    from recon import warehouse
    cfg = world
    run_day(cfg, DAY)
    run_day(cfg, date(2026, 11, 22))
    nxt = run_day(cfg, date(2026, 11, 23))
    con = warehouse.connect(cfg.warehouse)
    try:
        found = warehouse.rows(con, "SELECT break_id, reference, first_seen FROM breaks WHERE run_id = ? "
                                    "AND category = 'payout_mismatch' ORDER BY first_seen", [nxt])
    finally:
        con.close()
    (old_bid, old_ref, old_seen), (new_bid, new_ref, new_seen) = found
    assert (old_seen, new_seen) == (date(2026, 11, 22), date(2026, 11, 23))
    for bid, ref, name in ((old_bid, old_ref, "stripe_itemized_20261121.csv"),
                           (new_bid, new_ref, "stripe_itemized_20261122.csv")):
        t = audit.trace(cfg, bid, nxt)
        psp = [ln for ln in t["statement_lines"] if ln["source"] == "stripe"]
        assert [(ln["file_name"], ln["payout_id"], ln["txn_type"]) for ln in psp] == [(name, ref, "payout")]
        assert ref in psp[0]["raw_bytes"]
