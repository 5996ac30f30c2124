"""Audit-grade reruns: a past run reproduced from the archive and its manifest, byte for byte."""
from __future__ import annotations

import os
import stat
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from connectors.archive import Archive, ArchiveCorrupted
from recon import audit, cli, config, warehouse
from recon.errors import ReconError
from recon.generate import generate_days
from recon.rerun import rerun
from tests.worlds import served

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "data" / "recon.toml"
D1 = date(2026, 11, 21)
pytestmark = pytest.mark.integration


@pytest.fixture
def three_days(prefect_harness, tmp_path, monkeypatch):
    from flows.nightly import nightly
    world = tmp_path / "world"
    generate_days(D1, 3, world, seed=13, scale=80)
    with served(world, tmp_path, monkeypatch):
        runs = [nightly(business_date=date(2026, 11, 21 + i), config_path=str(CONFIG)) for i in range(3)]
        yield config.load(CONFIG), runs, world


def test_rerun_reproduces_a_past_day_after_corrections_and_annotations(three_days, tmp_path, capsys):
    cfg, runs, world = three_days
    day1 = runs[0]["run_id"]
    con = warehouse.connect(cfg.warehouse)
    try:
        # A clean match of day 1 whose ledger amount the accountants now correct ...
        (entry_id, ref, amount), = warehouse.rows(con, """
            SELECT e.entry_id, e.merchant_reference, e.amount_minor FROM matches m
            JOIN ledger_entries e ON e.entry_id = m.ledger_entry_id
            WHERE m.run_id = ? AND m.rule = 'exact_reference' AND e.txn_type = 'payment'
            ORDER BY e.entry_id LIMIT 1""", [day1])
        # ... and a break of day 1 they explain.
        (bid,), = warehouse.rows(con, "SELECT break_id FROM breaks WHERE run_id = ? AND status = 'open' "
                                      "ORDER BY break_id LIMIT 1", [day1])
        con.execute("INSERT INTO annotations (break_id, status, reason, comment, who, annotated_at, "
                    "workbook_sha) VALUES (?, 'explained', 'timing', 'arrives tomorrow', 'ana', ?, 'wb')",
                    [bid, datetime.now(timezone.utc)])
    finally:
        con.close()
    export = next((world / "ledger").glob("ledger_20261121.csv")).read_text("utf-8").splitlines()
    header, rows = export[0], [r for r in export[1:] if r.startswith(entry_id + ",")]
    cols = header.split(",")
    fields = rows[0].split(",")
    fields[cols.index("amount")] = f"{(amount + 100) / 100:.2f}"
    corrected = tmp_path / "ledger_20261121_correction.csv"
    corrected.write_text(header + "\n" + ",".join(fields) + "\n", "utf-8")
    assert cli.main(["ledger", "load", str(corrected), "--config", str(CONFIG)]) == 0

    # 1. The rerun of day 1 sees the ledger and annotations as the night saw them: identical.
    first = rerun(cfg, D1)
    assert first.original == day1 and first.identical, first.differences
    second = rerun(cfg, D1, day1)
    assert second.identical
    originals = audit.show_run(cfg, day1)["outputs"]
    for name in second.outputs:  # byte for byte, twice (the scratch copies are removed)
        assert second.hashes[name] == first.hashes[name] == originals[name]["sha256"]
    assert not Path(first.scratch).exists() and Path(first.scratch).name.startswith(f"recon-rerun-{day1}-")
    assert cli.main(["rerun", "--date", "2026-11-21", "--config", str(CONFIG)]) == 0
    assert "identical" in capsys.readouterr().out

    # 2. A normal run of day 1 now differs by exactly that correction.
    from flows.nightly import nightly
    again = nightly(business_date=D1, config_path=str(CONFIG))
    d = audit.diff_runs(cfg, day1, again["run_id"])
    assert not d["inputs_only_in_a"] and not d["inputs_only_in_b"] and not d["breaks_only_in_a"]
    assert [(cat, src, r) for _, cat, src, r in d["breaks_only_in_b"]] == [("amount_mismatch", "wechatpay", ref)] \
        or [(cat, src, r) for _, cat, src, r in d["breaks_only_in_b"]] == [("amount_mismatch", "stripe", ref)]
    assert d["breaks_changed"] == []


def test_rerun_refuses_a_tampered_archive(three_days):
    cfg, runs, _ = three_days
    inputs = audit.show_run(cfg, runs[0]["run_id"])["input_files"]
    victim = next(i for i in inputs if i["source"] == "wechatpay")
    path = Archive(cfg.archive).path(victim["sha256"])
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    data = bytearray(path.read_bytes())
    data[200] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ArchiveCorrupted) as err:
        rerun(cfg, D1)
    assert victim["sha256"] in str(err.value)


def test_rerun_refuses_when_the_archived_file_no_longer_parses_to_the_lines_loaded(three_days):
    cfg, runs, _ = three_days
    inputs = audit.show_run(cfg, runs[0]["run_id"])["input_files"]
    victim = next(i for i in inputs if i["source"] == "stripe")
    con = warehouse.connect(cfg.warehouse)
    try:  # as if the parser read one amount differently when the run loaded the file
        con.execute("UPDATE statement_lines SET amount_minor = amount_minor + 1 WHERE line_id = "
                    "(SELECT min(line_id) FROM statement_lines WHERE file_sha256 = ?)", [victim["sha256"]])
    finally:
        con.close()
    with pytest.raises(ReconError, match="different ones") as err:
        rerun(cfg, D1)
    assert victim["file_name"] in str(err.value) and victim["sha256"][:12] in str(err.value)
