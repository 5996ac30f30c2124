"""One night as plain stage functions (no Prefect), with ``chaos_point`` at every stage boundary.

Run as ``python -m tests.chaos_driver <config> <YYYY-MM-DD>`` in a subprocess; with
``RECON_CHAOS_KILL_AT`` set it SIGKILLs itself at that point. ``in_load`` is inside a load's
open transaction: after the lines are inserted, before the file is recorded and committed.
Prints the run id as the last line when it finishes.
"""
from __future__ import annotations

import sys
from datetime import date

from recon import config, pipeline, warehouse
from recon.assemble import build_summary
from recon.chaos import chaos_point
from recon.reports.summary import write_summary_json
from recon.reports.workbook import write_workbook


def _record_file_with_chaos(original):
    def record_file(con, **kw):
        if kw.get("status") == "loaded":
            chaos_point("in_load")
        return original(con, **kw)
    return record_file


def run_day(config_path: str, day: str) -> str:
    cfg = config.load(config_path)
    business_date = date.fromisoformat(day)
    run_id = pipeline.new_run_id(business_date)
    started = pipeline.begin_run(cfg, run_id, business_date)
    ledger = pipeline.fetch_ledger(cfg, business_date)
    arrivals = {s.name: pipeline.fetch_source(cfg, s, business_date) for s in cfg.sources}
    chaos_point("after_archive")
    statuses = [pipeline.load_ledger_file(cfg, f, business_date, run_id) for f in ledger.files]
    for s in cfg.sources:
        statuses += [pipeline.load_statement(cfg, s, f, business_date, run_id)
                     for f in arrivals[s.name].files]
    chaos_point("after_load")
    pipeline.match(cfg, run_id, business_date, [s.name for s in cfg.sources])
    chaos_point("after_match")
    out = pipeline.reports_dir(cfg, business_date, run_id)
    out.mkdir(parents=True, exist_ok=True)
    summary = build_summary(cfg, run_id, business_date, started, statuses)
    write_workbook(summary, out / "recon.xlsx")
    chaos_point("in_reports")
    write_summary_json(summary, out / "summary.json")
    pipeline.finish_run(cfg, run_id, statuses, "reconciled" if summary.reconciled else "breaks", {}, {})
    return run_id


if __name__ == "__main__":
    warehouse.record_file = _record_file_with_chaos(warehouse.record_file)
    print(run_day(sys.argv[1], sys.argv[2]))
