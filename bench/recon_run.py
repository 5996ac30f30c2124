"""recon end to end on a cached day, without SFTP: the same stage functions the nightly flow calls
(recon.pipeline), each timed with its peak RSS; the reports as ``flows.nightly.report_task`` writes
them, with the workbook capped and the full break list written to parquet beside it."""
from __future__ import annotations

import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
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
        from connectors.archive import Archive
        from connectors.local import fetch_local
        from recon import config, pipeline, warehouse
        from recon.assemble import build_summary
        from recon.reports.fees import write_fee_report
        from recon.reports.summary import write_summary_json
        from recon.reports.workbook import write_workbook
        from schemas import validation

    cfg = config.load(CONFIG)
    if start_from is not None:
        cfg.warehouse.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(start_from, cfg.warehouse)
    run_id = pipeline.new_run_id(day)
    validate = Timer(validation._validate)
    validation._validate = validate  # measured, not changed: validate_* look it up at call time
    statuses, files = [], {}
    try:
        with meter.stage("archive"):
            archive = Archive(cfg.archive)
            started_at = pipeline.begin_run(cfg, run_id, day)
            # As the nightly flow's fetch tasks do: concurrently (threads; hashing releases the GIL).
            fetches = [("ledger", data_dir / "ledger", cfg.ledger.pattern, day)]
            fetches += [(s.name, data_dir / s.sftp.remote_dir, s.sftp.pattern, s.file_date(day))
                        for s in cfg.sources]
            def fetch(f):
                fetched = fetch_local(f[1], f[2], f[3], archive, source=f[0])
                if consume:
                    for one in fetched:
                        Path(one.remote_path).unlink()
                return fetched

            with ThreadPoolExecutor(1 if consume else len(fetches)) as pool:
                got = list(pool.map(fetch, fetches))
            ledger, files = got[0], {name: fetched for (name, *_), fetched in zip(fetches[1:], got[1:])}
        # As the nightly flow does: the files load concurrently (threads; polars parses with the
        # GIL released, the warehouse serialises the writes), statuses in the sequential order.
        jobs = [("ledger", f, lambda f=f: pipeline.load_ledger_file(cfg, f, day, run_id)) for f in ledger]
        jobs += [(s.name, f, lambda s=s, f=f: pipeline.load_statement(cfg, s, f, day, run_id))
                 for s in cfg.sources for f in files[s.name]]

        def timed(job):
            t = time.perf_counter()
            status = job[2]()
            return status, time.perf_counter() - t

        with meter.stage("load (concurrent)"), ThreadPoolExecutor(len(jobs) or 1) as pool:
            done = list(pool.map(timed, jobs))
        statuses += [status for status, _ in done]
        load_seconds = {f"{name} {f.name}": round(sec, 3) for (name, f, _), (_, sec) in zip(jobs, done)}
        if consume:  # out of the timed stages: the match and the reports never read the archive
            for f in [*ledger, *(one for fs in files.values() for one in fs)]:
                Path(f.archive_path).unlink()
        with meter.stage("match"):
            result = pipeline.match(cfg, run_id, day, [s.name for s in cfg.sources])
        out = pipeline.reports_dir(cfg, day, run_id)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"workbook": out / f"recon_{day:%Y-%m-%d}.xlsx",
                 "breaks": out / f"breaks_{day:%Y-%m-%d}.parquet",
                 "fees": out / f"fees_{day:%Y-%m-%d}.csv",
                 "summary": out / f"summary_{day:%Y-%m-%d}.json"}
        with meter.stage("report model"):
            summary = build_summary(cfg, run_id, day, started_at, statuses,
                                    {k: str(v) for k, v in paths.items()})
        with meter.stage("break list"):
            con = warehouse.connect(cfg.warehouse)
            try:
                con.execute(f"COPY (SELECT * FROM breaks WHERE run_id = $run_id ORDER BY category, "
                            f"source, reference, break_id) TO '{paths['breaks']}' (FORMAT parquet)",
                            {"run_id": run_id})
            finally:
                con.close()
        with meter.stage("workbook"):
            write_workbook(summary, paths["workbook"], max_rows=workbook_rows)
        with meter.stage("fee report + summary"):
            write_fee_report(summary, paths["fees"])
            write_summary_json(summary, paths["summary"])
        with meter.stage("finish run"):
            status = "reconciled" if summary.reconciled else "breaks"
            pipeline.finish_run(cfg, run_id, statuses, status, {}, {},
                                matched_lines=summary.matched_statement)
    finally:
        validation._validate = validate.fn
    return {
        "run_id": run_id, "status": status, "warehouse": str(cfg.warehouse),
        "sources": {s.source: {"status": s.status, "lines": s.lines, "quarantined": s.quarantined}
                    for s in statuses},
        "matched_by_rule": result.matched_by_rule, "breaks_by_category": result.breaks_by_category,
        "breaks": len(summary.breaks), "workbook_rows": min(len(summary.breaks), workbook_rows),
        "load_seconds_per_file": load_seconds,
        "validation_seconds": validate.seconds, "validated_rows": validate.rows,
        "outputs": {k: str(v) for k, v in paths.items()},
        "archived": {name: str(f.archive_path) for name, fs in [("ledger", ledger), *files.items()]
                     for f in fs},
    }
