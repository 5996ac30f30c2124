"""The first reference pass per hash partition (matching.Partitions, the match "beyond one
machine") links, breaks and leaves open exactly what the single-process cascade does: on a
generated hard day (duplicates, ambiguous pairs, timing, amount and fee differences) loaded
through the real pipeline into a DuckDB file, matched twice from the same copy."""
from __future__ import annotations

import shutil
from datetime import datetime, timezone

import duckdb

from connectors.archive import Archive
from connectors.local import fetch_local
from recon import config, pipeline, warehouse
from recon.generate import generate_day
from recon.matching import run_cascade
from recon.partitions import Partitions, partition_candidates
from tests.worlds import CONFIG, DAY, TABLES, read_tables



def _loaded_day(tmp_path, monkeypatch):
    world = tmp_path / "world"
    generate_day(DAY, world, seed=11, scale=300, scenario="hard")
    monkeypatch.setenv("RECON_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("RECON_LEDGER_DIR", str(world / "ledger"))
    cfg = config.load(CONFIG)
    run_id = pipeline.new_run_id(DAY)
    pipeline.begin_run(cfg, run_id, DAY)
    archive = Archive(cfg.archive)
    for f in fetch_local(world / "ledger", cfg.ledger.pattern, DAY, archive, source="ledger"):
        pipeline.load_ledger_file(cfg, f, DAY, run_id)
    for s in cfg.sources:
        for f in fetch_local(world / s.sftp.remote_dir, s.sftp.pattern, s.file_date(DAY), archive, source=s.name):
            assert pipeline.load_statement(cfg, s, f, DAY, run_id).status == "loaded"
    return cfg, run_id


def _match(path, cfg, run_id, watermark, partitions=None) -> dict:
    con = warehouse.connect(path)
    try:
        run_cascade(con, cfg, run_id=run_id, business_date=DAY, sources=[s.name for s in cfg.sources],
                    watermark=watermark, partitions=partitions)
        return {name: con.execute(q).fetchall() for name, q in TABLES.items()}
    finally:
        con.close()


def test_partitioned_first_pass_gives_exactly_the_single_process_results(tmp_path, monkeypatch):
    cfg, run_id = _loaded_day(tmp_path, monkeypatch)
    single, split = tmp_path / "single.duckdb", tmp_path / "split.duckdb"
    shutil.copy(cfg.warehouse, single)
    shutil.copy(cfg.warehouse, split)
    calls: list[dict] = []

    def local_map(args: list[dict]) -> list[dict]:  # what Dask does, here: one call per partition
        out = [partition_candidates(**a) for a in args]
        calls.extend(out)
        return out

    watermark = datetime.now(timezone.utc)  # the ledger as recorded so far (loaded just before)
    expected = _match(single, cfg, run_id, watermark)
    got = _match(split, cfg, run_id, watermark, Partitions(4, tmp_path / "parts", local_map))

    assert len(expected["matches"]) > 500 and len(expected["breaks"]) > 20
    for name in TABLES:
        assert got[name] == expected[name], name
    # Really split: every partition ran once, the bulk spread over them, and nothing is left behind.
    assert sorted(c["part"] for c in calls) == [0, 1, 2, 3]
    assert sum(c["pairs"] for c in calls) >= 500 and all(c["pairs"] > 50 for c in calls)
    assert not (tmp_path / "parts").exists()
    con = duckdb.connect(str(split), read_only=True)
    try:
        assert con.execute("SELECT count(DISTINCT rule) FROM matches").fetchone()[0] >= 3
    finally:
        con.close()


def test_match_partitions_setting_runs_the_first_pass_split_in_process(tmp_path, monkeypatch):
    """RECON_MATCH_PARTITIONS=3: pipeline.match runs the first pass in 3 partitions one after
    another, each in a DuckDB of its own spilling under the run's staging directory, and records
    exactly what one join records; the staging directory is gone afterwards."""
    import dataclasses

    import pytest

    from recon import partitions
    from recon.errors import ReconError

    cfg, run_id = _loaded_day(tmp_path, monkeypatch)
    single, split = tmp_path / "single.duckdb", tmp_path / "split.duckdb"
    shutil.copy(cfg.warehouse, single)
    shutil.copy(cfg.warehouse, split)
    sources = [s.name for s in cfg.sources]
    pairs: list[int] = []
    real = partitions.partition_candidates

    def counted(**kw):  # the real function, its pair count kept
        out = real(**kw)
        pairs.append(out["pairs"])
        return out

    monkeypatch.setattr(partitions, "partition_candidates", counted)
    pipeline.match(dataclasses.replace(cfg, warehouse=single), run_id, DAY, sources)
    assert pairs == []  # unset: one join
    monkeypatch.setenv("RECON_MATCH_PARTITIONS", "3")
    pipeline.match(dataclasses.replace(cfg, warehouse=split), run_id, DAY, sources)
    assert len(pairs) == 3 and all(n > 50 for n in pairs)
    got, expected = (read_tables(p) for p in (split, single))
    assert len(expected["matches"]) > 500
    for name in TABLES:
        assert got[name] == expected[name], name
    assert not (cfg.archive.parent / "staging" / run_id / "match").exists()

    monkeypatch.setenv("RECON_MATCH_PARTITIONS", "sixteen")
    with pytest.raises(ReconError, match=r"RECON_MATCH_PARTITIONS='sixteen': expected a whole number"):
        pipeline.match(dataclasses.replace(cfg, warehouse=split), run_id, DAY, sources)
