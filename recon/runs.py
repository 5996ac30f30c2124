"""Run bookkeeping: a run's row in the ``runs`` table from its start to its end, its manifest, and
where its reports go. Every way of running a day (recon.runday) records itself through these."""
from __future__ import annotations

import dataclasses
import json
import logging
import uuid
from datetime import date, datetime, timezone
from pathlib import Path

from recon import __version__, permissions, ratecard, redact, warehouse
from recon.config import Config, Source
from recon.errors import ReconError
from recon.reports.model import SourceStatus
from schemas import registry

log = logging.getLogger(__name__)


def new_run_id(business_date: date) -> str:
    return f"{business_date:%Y%m%d}-{datetime.now(timezone.utc):%H%M%S}-{uuid.uuid4().hex[:6]}"


def begin_run(cfg: Config, run_id: str, business_date: date, sources: list[str] | None = None,
              language: str = "en") -> datetime:
    """Start a night's run: what an interrupted run left is recovered, the run recorded as
    'running', the configured rate cards loaded. Returns when it started."""
    started = datetime.now(timezone.utc)
    permissions.apply(cfg.umask)  # before the run creates anything: warehouse, archive, reports
    con = warehouse.connect(cfg.warehouse)
    try:
        recover_interrupted(cfg, con, run_id)
        record_run(con, cfg, run_id, business_date, started, sources or [s.name for s in cfg.sources],
                   language)
        warehouse.load_rate_cards(con, {s.name: ratecard.load(s.rate_card)
                                        for s in cfg.sources if s.rate_card},
                                  {s.name: registry.card_type_field(s.format) for s in cfg.sources})
    finally:
        con.close()
    return started


def recover_interrupted(cfg: Config, con, run_id: str) -> None:
    """A run still 'running' was killed mid-way only if no other live process holds the run lock
    (recon.runlock: the kernel drops it when its holder dies): mark it interrupted, and clear the
    files it left half-loaded (they load again when fetched)."""
    from recon import runlock
    if alive := runlock.live_holder(cfg):
        log.warning("Run %s (pid %s on %s) is still running: not marked interrupted",
                    alive.get("run_id"), alive.get("pid"), alive.get("host"))
        return
    stale = warehouse.rows(con, "UPDATE runs SET status = 'interrupted' WHERE status = 'running' "
                                "AND run_id <> ? RETURNING run_id", [run_id])
    for (old,) in stale:
        log.warning("Run %s never finished (killed?); marked interrupted", old)
    for sha, name in warehouse.rows(con, "SELECT sha256, name FROM files WHERE parse_status = 'loading'"):
        log.warning("%s was left half-loaded by an interrupted run: its lines are cleared and it "
                    "loads again when fetched", name)
        with warehouse.transaction(con):
            warehouse.clear_file(con, sha)
            con.execute("DELETE FROM files WHERE sha256 = ?", [sha])


def record_run(con, cfg: Config, run_id: str, business_date: date, started: datetime, sources: list[str],
               language: str, *, code_version: str = __version__, rerun_of: str | None = None) -> None:
    """The run's row, 'running' until ``finish_run``; ``rerun_of``: the run it reproduces."""
    con.execute("INSERT INTO runs (run_id, business_date, started_at, status, code_version, "
                "config_sha256, rerun_of, sources, language) VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?)",
                [run_id, business_date, started, code_version, cfg.sha256, rerun_of, json.dumps(sources),
                 language])


_CARRIED = object()


def record_watermarks(run_id: str, ledger: datetime, annotations: datetime, carried_from=_CARRIED):
    """What the match read as of (ledger, annotations) and whose open items it carried (default:
    the match result's), recorded on the run in the cascade's closing transaction
    (``run_cascade(record=...)``): what ``recon rerun`` replays."""
    def record(con, result) -> None:
        carried = result.carried_from if carried_from is _CARRIED else carried_from
        con.execute("UPDATE runs SET ledger_watermark = ?, annotation_watermark = ?, carried_from = ? "
                    "WHERE run_id = ?", [ledger, annotations, carried, run_id])
    return record


def finish_run(cfg: Config, run_id: str, statuses: list[SourceStatus], status: str,
               outputs: dict[str, dict], timings: dict[str, float],
               finished_at: datetime | None = None, matched_lines: int | None = None) -> None:
    """Record how the run ended, what it read and wrote; ``matched_lines``: how many of its day's
    statement lines it matched (the report model's matched_statement), which later runs' match-rate
    history reads instead of counting this run's links again."""
    con = warehouse.connect(cfg.warehouse)
    try:
        inputs = [{**dataclasses.asdict(s), "error": redact.error_text(s.error) if s.error else s.error}
                  for s in statuses]
        con.execute("UPDATE runs SET finished_at = ?, status = ?, input_files = ?, outputs = ?, "
                    "timings = ?, matched_lines = ? WHERE run_id = ?",
                    [finished_at or datetime.now(timezone.utc), status, json.dumps(inputs, sort_keys=True),
                     json.dumps(outputs, sort_keys=True), json.dumps(timings, sort_keys=True), matched_lines,
                     run_id])
    finally:
        con.close()


def write_manifest(cfg: Config, run_id: str, path: Path) -> Path:
    """The run's manifest beside its reports: what went in, with what, and what came out."""
    from recon.audit import get_run, write_json
    con = warehouse.connect(cfg.warehouse)
    try:
        run = get_run(con, run_id)
    finally:
        con.close()
    write_json(run, path)
    return path


def select_sources(cfg: Config, names: list[str] | None) -> list[Source]:
    if not names:
        return list(cfg.sources)
    unknown = [n for n in names if n not in {s.name for s in cfg.sources}]
    if unknown:
        raise ReconError(f"unknown source(s) {', '.join(unknown)}: the config {cfg.path} declares "
                         f"{', '.join(s.name for s in cfg.sources)}.", hint="Check --sources.")
    return [s for s in cfg.sources if s.name in names]


def reports_dir(cfg: Config, business_date: date, run_id: str) -> Path:
    return cfg.reports / f"{business_date:%Y-%m-%d}" / run_id
