"""`recon whatif` replays recorded days with a candidate configuration on a scratch copy: a
tolerance widened on two generated hard days lists exactly the links that appear (the
same-currency amount mismatches within the new tolerance, now linked by reference_tolerance),
the breaks they take away, and never writes the warehouse."""
from __future__ import annotations

import csv
import hashlib
from datetime import date

import openpyxl
import pytest

from connectors.archive import Archive
from connectors.local import fetch_local
from recon import config, pipeline, warehouse
from recon.cli import main
from recon.errors import ReconError
from recon.generate import generate_days
from recon.whatif import whatif
from tests.worlds import CONFIG

START, END = date(2026, 11, 20), date(2026, 11, 21)
TOLERANCE = 5000  # minor units: wider than every same-currency mismatch of this world


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """Two hard days loaded and matched through the pipeline, each a finished run; the module's
    tests only read its warehouse (a what-if never writes it)."""
    tmp_path = tmp_path_factory.mktemp("whatif")
    with pytest.MonkeyPatch.context() as monkeypatch:
        world = tmp_path / "world"
        generate_days(START, 2, world, seed=11, scale=300, scenario="hard")
        monkeypatch.setenv("RECON_HOME", str(tmp_path / "home"))
        monkeypatch.setenv("RECON_LEDGER_DIR", str(world / "ledger"))
        yield _record(config.load(CONFIG), world)


def _record(cfg, world):
    archive = Archive(cfg.archive)
    for day in (START, END):
        run_id = pipeline.new_run_id(day)
        pipeline.begin_run(cfg, run_id, day)
        statuses = [pipeline.load_ledger_file(cfg, f, day, run_id)
                    for f in fetch_local(world / "ledger", cfg.ledger.pattern, day, archive, source="ledger")]
        for s in cfg.sources:
            for f in fetch_local(world / s.sftp.remote_dir, s.sftp.pattern, s.file_date(day), archive,
                                 source=s.name):
                statuses.append(pipeline.load_statement(cfg, s, f, day, run_id))
        inputs = [x.sha256 for x in statuses if x.kind != "ledger" and x.status in pipeline.LOADED]
        pipeline.match(cfg, run_id, day, [s.name for s in cfg.sources], inputs)
        pipeline.finish_run(cfg, run_id, statuses, "breaks", {}, {})
    return cfg


def _candidate(tmp_path, tolerance: int) -> config.Config:
    text = CONFIG.read_text().replace('rate_card = "rate_cards/', f'rate_card = "{CONFIG.parent}/rate_cards/')
    assert text.count("amount_tolerance_minor = 0 ") == 2
    path = tmp_path / "candidate.toml"
    path.write_text(text.replace("amount_tolerance_minor = 0 ", f"amount_tolerance_minor = {tolerance} "))
    return config.load(path)


def _mismatches_within(cfg, tolerance: int) -> set[tuple[date, str, str]]:
    """The recorded runs' same-currency amount mismatches within ``tolerance``, on the day first seen."""
    con = warehouse.connect(cfg.warehouse)
    try:
        return set(warehouse.rows(con, """
            SELECT DISTINCT b.first_seen, b.ledger_entry_id, b.line_id
            FROM breaks b JOIN statement_lines s ON s.line_id = b.line_id
            JOIN ledger_entries l ON l.entry_id = b.ledger_entry_id
            WHERE b.category = 'amount_mismatch' AND l.currency = s.currency
              AND abs(b.difference_minor) <= ?""", [tolerance]))
    finally:
        con.close()


def test_a_widened_tolerance_lists_exactly_the_links_that_appear(recorded, tmp_path, capsys):
    cfg = recorded
    expected = _mismatches_within(cfg, TOLERANCE)
    assert len(expected) >= 3  # the hard world has same-currency mismatches on both days
    before = hashlib.sha256(cfg.warehouse.read_bytes()).hexdigest()

    result = whatif(cfg, _candidate(tmp_path, TOLERANCE), START, END, tmp_path / "review")

    new_links = {(c.business_date, c.ledger_entry_id, c.line_id) for c in result.changes
                 if c.item == "link" and c.after == "reference_tolerance"}
    assert new_links == expected
    # Each of them was a reference_mismatch link (the amount_mismatch break's pair) before.
    assert {c.before for c in result.changes if c.item == "link" and c.after == "reference_tolerance"} \
        == {"reference_mismatch"}
    # Their amount_mismatch breaks vanish: on the day first seen, and on the later day they were
    # carried to; no other amount mismatch does.
    gone = {(c.business_date, c.ledger_entry_id, c.line_id) for c in result.changes
            if c.item == "break" and c.change == "vanishes" and c.before == "amount_mismatch"}
    assert expected <= gone
    assert {(e, line) for _, e, line in gone} == {(e, line) for _, e, line in expected}
    # The warehouse was never written: same bytes, no what-if run in it.
    assert hashlib.sha256(cfg.warehouse.read_bytes()).hexdigest() == before
    con = warehouse.connect(cfg.warehouse)
    try:
        assert warehouse.scalar(con, "SELECT count(*) FROM runs WHERE run_id LIKE 'whatif-%'") == 0
    finally:
        con.close()

    # The CSV and the workbook list the same rows; the workbook's totals count them per day.
    with result.csv_path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(result.changes)
    assert {(r["business_date"], r["ledger_entry_id"], r["line_id"]) for r in rows
            if r["item"] == "link" and r["after"] == "reference_tolerance"} \
        == {(str(d), e, line) for d, e, line in expected}
    book = openpyxl.load_workbook(result.xlsx_path, read_only=True)
    totals = {(str(r[0])[:10], r[1]): r[2:] for r in book["Totals"].iter_rows(min_row=2, values_only=True)}
    for day in (START, END):
        changes = [c for c in result.changes if c.business_date == day and c.item == "link"]
        assert totals[(str(day), "link")] == tuple(sum(c.change == k for c in changes)
                                                   for k in ("appears", "vanishes", "changes"))

    # The command: the totals per day, exit 1 (something would change).
    code = main(["whatif", "--config", str(tmp_path / "candidate.toml"), "--from", str(START),
                 "--to", str(END), "--out", str(tmp_path / "cli")])
    out = capsys.readouterr().out
    assert code == 1
    assert out.splitlines()[0].startswith(f"{START}: ") and f"whatif {START}..{END}: " in out


def test_the_same_configuration_changes_nothing(recorded, tmp_path):
    cfg = recorded
    result = whatif(cfg, _candidate(tmp_path, 1), START, END, tmp_path / "review")
    assert result.changes == ()
    assert result.days == (START, END)


def test_a_range_without_runs_is_refused(recorded, tmp_path):
    cfg = recorded
    with pytest.raises(ReconError, match="no finished run between 2026-12-01 and 2026-12-02"):
        whatif(cfg, cfg, date(2026, 12, 1), date(2026, 12, 2), tmp_path / "review")
