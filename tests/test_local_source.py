"""A statement source read from a local folder ([sources.local]): the settle rule, the archive and
the lineage of SFTP, end to end through `recon run` and `recon trace`."""
from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path

import duckdb
import pytest

from connectors.archive import Archive
from connectors.local import fetch_local
from connectors.settle import NotReady
from recon import config
from recon.chaos import check
from recon.errors import ReconError, TransferError
from recon.generate import generate_day
from tests.faultproxy import growing
from tests.worlds import config_head, local_psp

ROOT = Path(__file__).resolve().parents[1]
DAY = date(2026, 11, 21)
NAME = "stripe_itemized_20261121.csv"

CONFIG = config_head("{home}") + """
[ledger]
directory = "{world}/ledger"
pattern = "ledger_{{date:%Y%m%d}}.csv"
settle_s = 0.2
""" + local_psp("stripe", "stripe_itemized", "USD", "stripe_itemized_{{date:%Y%m%d}}.csv",
                extra='rate_card = "{root}/data/rate_cards/stripe.toml"\n', local_extra="  settle_s = 0.2\n")


def _config(tmp_path: Path, world: Path) -> Path:
    path = tmp_path / "recon.toml"
    path.write_text(CONFIG.format(home=tmp_path / "var", world=world, root=ROOT), "utf-8")
    return path


def test_config_takes_a_local_source_and_refuses_both_transports(tmp_path):
    cfg = config.load(_config(tmp_path, tmp_path / "world"))
    [s] = cfg.sources
    assert (s.transport, s.sftp, s.local.path, s.local.settle_s) == ("local", None, tmp_path / "world" / "stripe", 0.2)
    assert s.local.filename(DAY) == NAME and cfg.ledger.settle_s == 0.2
    both = _config(tmp_path, tmp_path / "world")
    both.write_text(both.read_text() + '  [sources.sftp]\n  host = "h"\n', "utf-8")
    with pytest.raises(ReconError, match=r"sources\[0\]\.sftp: expected exactly one of"):
        config.load(both)


def test_growing_file_in_a_local_folder_is_not_taken_until_it_settles(tmp_path, archive):
    with check("fault", "local folder: file still being written (growing size)"):
        drop = tmp_path / "drop"
        drop.mkdir()
        path = drop / NAME
        path.write_bytes(b"id,amount\n")
        with growing(path), pytest.raises(NotReady) as err:
            fetch_local(drop, "stripe_itemized_{date:%Y%m%d}.csv", DAY, archive, source="stripe",
                        settle_s=0.3)
        assert NAME in str(err.value) and "not taken" in str(err.value)
        assert not (archive.root / "sha256").exists()
        [got] = fetch_local(drop, "stripe_itemized_{date:%Y%m%d}.csv", DAY, archive, source="stripe",
                            settle_s=0.3)
        assert archive.read(got.sha256) == path.read_bytes() and got.remote_path == str(path)


def test_local_done_marker_and_unreadable_file(tmp_path, archive):
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / NAME).write_bytes(b"complete\n")
    with pytest.raises(NotReady, match=r"no done marker 'stripe_itemized_20261121.csv.ok'"):
        fetch_local(drop, "stripe_itemized_*.csv", DAY, archive, source="stripe", done_marker="{name}.ok")
    (drop / (NAME + ".ok")).write_bytes(b"")
    [got] = fetch_local(drop, "stripe_itemized_*.csv", DAY, archive, source="stripe", done_marker="{name}.ok")
    assert got.name == NAME and archive.read(got.sha256) == b"complete\n"
    if os.geteuid() == 0:
        return  # root reads a chmod 000 file: the SFTP test checks permissions with sftp_as
    os.chmod(drop / NAME, 0)
    with pytest.raises(TransferError, match="permission denied reading"):
        fetch_local(drop, "stripe_itemized_*.csv", DAY, Archive(tmp_path / "a2"), source="stripe")


@pytest.mark.integration
def test_recon_run_reconciles_a_local_source_and_trace_reaches_its_line(prefect_harness, tmp_path, capsys):
    from recon import cli
    world = tmp_path / "world"
    generate_day(DAY, world, seed=7, scale=30)
    cfg_path = _config(tmp_path, world)
    code = cli.main(["run", "--date", DAY.isoformat(), "--config", str(cfg_path)])
    run = capsys.readouterr()
    assert code == 1, run.err[-3000:]  # the generated day has breaks by design
    assert re.search(r"source stripe +loaded", run.out) and "Traceback" not in run.err
    cfg = config.load(cfg_path)
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    try:
        [(remote, status, lines)] = con.execute(
            "SELECT remote_path, parse_status, line_count FROM files WHERE source = 'stripe'").fetchall()
        bid, line_id = con.execute(
            "SELECT break_id, line_id FROM breaks WHERE source = 'stripe' AND line_id IS NOT NULL "
            "ORDER BY break_id LIMIT 1").fetchone()
        file_line, ref = con.execute("SELECT file_line, psp_reference FROM statement_lines WHERE line_id = ?",
                                     [line_id]).fetchone()
    finally:
        con.close()
    assert (remote, status) == (str(world / "stripe" / NAME), "loaded") and lines > 0
    assert cli.main(["trace", bid, "--config", str(cfg_path)]) == 0
    out = capsys.readouterr().out
    assert f"{NAME} line {file_line}" in out
    raw = (world / "stripe" / NAME).read_text("utf-8").splitlines()[file_line - 1]
    assert ref in raw and f"    | {raw}" in out
