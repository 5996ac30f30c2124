"""recon end to end on a cached day, without SFTP: ``recon.runday.run_day``, the sequence the
nightly flow runs, with the bench's stages (bench/stages.py): each stage timed with its peak RSS."""
from __future__ import annotations

import os
import shutil
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "data" / "recon.toml"


class Timer:
    """Accumulates the time spent in one function (here: pandera validation inside parsing)."""

    def __init__(self, fn):
        self.fn, self.seconds, self.rows = fn, 0.0, 0

    def __call__(self, frame, *args, **kwargs):
        t = time.perf_counter()
        try:
            return self.fn(frame, *args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - t
            self.rows += frame.height


def run_recon(data_dir: Path, work_dir: Path, day: date, meter, *, workbook_rows: int,
              memory_limit: str, start_from: Path | None = None, consume: bool = False) -> dict:
    """``start_from``: a warehouse file to start from (bench.prior: earlier business days).
    ``consume``: the files are archived one after another, each generated file deleted once its
    copy is in the archive, and each archive copy deleted once loaded (nothing after the loads
    reads the archive): a disk that holds the day once, not twice, and not beside the match's
    spill. The run is thrown away: only a bench may do this to recon's archive."""
    if work_dir.exists():
        shutil.rmtree(work_dir)
    work_dir.mkdir(parents=True)
    os.environ.update({"RECON_HOME": str(work_dir), "RECON_LEDGER_DIR": str(data_dir / "ledger"),
                       "RECON_DUCKDB_MEMORY_LIMIT": memory_limit, "RECON_DUCKDB_THREADS": "2"})

    with meter.stage("import"):
        from bench.stages import BenchStages
        from recon import config
        from recon.runday import run_day
        from schemas import validation

    cfg = config.load(CONFIG)
    if start_from is not None:
        cfg.warehouse.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(start_from, cfg.warehouse)
    validate = Timer(validation._validate)
    validation._validate = validate  # measured, not changed: validate_* look it up at call time
    stages = BenchStages(data_dir, meter, workbook_rows, consume)
    try:
        run = run_day(cfg, day, stages)
    finally:
        validation._validate = validate.fn
    summary, result = run.summary, run.result
    return {
        "run_id": run.run_id, "status": run.status, "warehouse": str(cfg.warehouse),
        "sources": {s.source: {"status": s.status, "lines": s.lines, "quarantined": s.quarantined}
                    for s in run.statuses},
        "matched_by_rule": result.matched_by_rule, "breaks_by_category": result.breaks_by_category,
        "breaks": len(summary.breaks), "workbook_rows": min(len(summary.breaks), workbook_rows),
        "load_seconds_per_file": stages.load_seconds,
        "validation_seconds": validate.seconds, "validated_rows": validate.rows,
        "outputs": {k: str(v) for k, v in run.paths.items()},
        "archived": {name: str(f.archive_path) for name, fs in stages.fetched.items() for f in fs},
    }
