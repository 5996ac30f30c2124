"""A warehouse that already holds earlier business days, for the bench's steady state.

A nightly run never starts from an empty warehouse: the duplicate checks look back over the
last 7 business days of statement lines and ledger versions, and the reversal links over earlier
payments. ``template`` loads the cached day once, copies its ledger entries and statement lines
into each of the ``days`` business days before it (every id and reference prefixed ``P<k>-``, so
that no earlier item is a duplicate of, a counterpart of or an original for the day's), drops the
day's own rows, and keeps the result beside the cached day (built once per scale and ``days``).
``bench.run --prior-days N`` starts each recon run from a copy of it.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from datetime import date
from pathlib import Path

# Re-keyed per prior day k: every column that names an item or links it to another one.
_LEDGER_KEYS = ("entry_id", "merchant_reference", "psp_reference", "original_reference")
_LINE_KEYS = ("line_id", "merchant_reference", "psp_reference", "original_reference", "payout_id",
              "end_to_end_id", "bank_reference")


def template(data_dir: Path, root: Path, day: date, days: int, memory_limit: str, say=print) -> Path:
    """The warehouse file holding ``days`` re-keyed copies of the day before ``day``."""
    out = root / f"prior-{data_dir.name}-{days}d"
    marker = out / "built.json"
    if marker.exists():
        return out / "warehouse.duckdb"
    if out.exists():
        shutil.rmtree(out)  # a build that was interrupted half-way
    out.mkdir(parents=True)
    os.environ.update({"RECON_HOME": str(out), "RECON_LEDGER_DIR": str(data_dir / "ledger"),
                       "RECON_DUCKDB_MEMORY_LIMIT": memory_limit, "RECON_DUCKDB_THREADS": "2"})
    from connectors.archive import Archive
    from connectors.local import fetch_local
    from recon import config, pipeline, warehouse
    from bench.recon_run import CONFIG

    t = time.perf_counter()
    cfg = config.load(CONFIG)
    run_id = pipeline.new_run_id(day)
    pipeline.begin_run(cfg, run_id, day)
    archive = Archive(cfg.archive)
    say(f"building {days} earlier business days for the steady-state bench in {out} (cached)")
    for f in fetch_local(data_dir / "ledger", cfg.ledger.pattern, day, archive, source="ledger"):
        pipeline.load_ledger_file(cfg, f, day, run_id)
    for s in cfg.sources:
        for f in fetch_local(data_dir / s.sftp.remote_dir, s.sftp.pattern, s.file_date(day), archive,
                             source=s.name):
            pipeline.load_statement(cfg, s, f, day, run_id)
    con = warehouse.connect(cfg.warehouse)
    try:
        shas = [sha for (sha,) in warehouse.rows(con, "SELECT sha256 FROM files")]
        for k in range(1, days + 1):
            for table, keys in (("ledger_entries", _LEDGER_KEYS), ("statement_lines", _LINE_KEYS)):
                rekey = ", ".join(f"'P{k}-' || {c} AS {c}" for c in keys)
                ref_key = warehouse.REF_KEY[table].replace("merchant_reference", f"('P{k}-' || merchant_reference)") \
                    .replace("psp_reference", f"('P{k}-' || psp_reference)")  # of the re-keyed references
                rekey += ref_key
                con.execute(f"INSERT INTO {table} SELECT * REPLACE ({rekey}, business_date - {k} AS business_date, "
                            f"'p{k}' || file_sha256[3:] AS file_sha256) FROM {table} "
                            f"WHERE file_sha256 IN (SELECT unnest($shas))", {"shas": shas})
            say(f"  day {k}/{days} before {day} copied ({time.perf_counter() - t:.0f} s)")
        for table in ("ledger_entries", "statement_lines", "quarantine"):
            con.execute(f"DELETE FROM {table} WHERE file_sha256 IN (SELECT unnest($shas))", {"shas": shas})
        for table in ("files", "runs", "rate_cards"):
            con.execute(f"DELETE FROM {table}")
        counts = dict(zip(("ledger_entries", "statement_lines"), con.execute(
            "SELECT (SELECT count(*) FROM ledger_entries), (SELECT count(*) FROM statement_lines)").fetchone()))
        con.execute("CHECKPOINT")
    finally:
        con.close()
    for name in ("archive", "reports"):
        shutil.rmtree(out / name, ignore_errors=True)
    marker.write_text(json.dumps({"days": days, "before": day.isoformat(), **counts,
                                  "seconds": round(time.perf_counter() - t, 1)}, indent=2))
    return out / "warehouse.duckdb"
