"""The stages of one business day as plain functions; recon.runday sequences them.

fetch (SFTP / ledger drop folder) → archive → parse + control totals → validate (quarantine)
→ load (DuckDB) → match cascade → reports. Each stage opens its own warehouse connection, so
the stages can run as separate Prefect tasks, and writes nothing unless it succeeded. The run's
own bookkeeping (begin, finish, manifest) is recon.runs, named here too for the stages' callers.
"""
from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timezone
from itertools import chain
from pathlib import Path

import polars as pl

from connectors.archive import Archive
from connectors.local import fetch_local
from connectors.sftp import Fetched, LateFile, MissingFile, fetch_day
from recon import lineage, pan, redact, tuning, warehouse
from recon.chaos import chaos_point
from recon.config import Config, Source
from recon.errors import IntegrityError, ParseError
from recon.matching import MatchResult, run_cascade
from recon.partitions import Partitions, in_process
from recon.reports.model import SourceStatus
from recon import runs
from schemas import registry, trailers
from schemas.ledger import parse_ledger_parts

log = logging.getLogger(__name__)
LEDGER = "ledger"
LOADED = ("loaded", "corrected")  # statuses of a file whose lines the day's run reads
# The run's bookkeeping (recon.runs), named here too for the stages' callers.
begin_run, finish_run, new_run_id = runs.begin_run, runs.finish_run, runs.new_run_id
reports_dir, select_sources, write_manifest = runs.reports_dir, runs.select_sources, runs.write_manifest


@dataclass(frozen=True)
class Arrival:
    """What a fetch stage found for one source: its files, or why there are none."""
    source: str
    files: tuple[Fetched, ...] = ()
    missing: str = ""
    late: bool = False  # still missing at the source's deadline


def fetch_source(cfg: Config, source: Source, business_date: date) -> Arrival:
    """Pull the source's file(s) for the business day (over SFTP, or from its local folder) into
    the archive; a file not settled yet has not arrived."""
    day = source.file_date(business_date)
    try:
        complete = trailers.checker(source.format)  # where the format has an end record
        if source.local is not None:
            loc = source.local
            files = fetch_local(loc.path, loc.pattern, day, Archive(cfg.archive), source=source.name,
                                settle_s=loc.settle_s, done_marker=loc.done_marker, complete=complete)
        else:
            files = fetch_day(source.sftp, day, Archive(cfg.archive), source=source.name,
                              complete=complete)
    except MissingFile as e:
        log.warning("%s: no file for %s: %s", source.name, day, e)
        return Arrival(source.name, missing=str(e), late=isinstance(e, LateFile))
    return Arrival(source.name, tuple(files))


def fetch_ledger(cfg: Config, business_date: date) -> Arrival:
    try:
        files = fetch_local(cfg.ledger.directory, cfg.ledger.pattern, business_date,
                            Archive(cfg.archive), source=LEDGER, settle_s=cfg.ledger.settle_s,
                            done_marker=cfg.ledger.done_marker)
    except MissingFile as e:
        log.warning("ledger: no export for %s: %s", business_date, e)
        return Arrival(LEDGER, missing=str(e))
    return Arrival(LEDGER, tuple(files))


def _already_loaded(con, f: Fetched) -> SourceStatus | None:
    seen = warehouse.file_seen(con, f.sha256)
    if seen is None or seen["parse_status"] != "loaded":
        return None
    log.info("%s: %s already loaded (same bytes, sha256 %s…): nothing new", f.source, f.name, f.sha256[:12])
    return SourceStatus(f.source, "", f.name, f.sha256, "loaded", seen["line_count"] or 0, 0, "ok",
                        "already loaded by an earlier run")


@dataclass
class Prepared:
    """One file parsed, control-checked, validated and masked, ready to store. Made without the
    warehouse (only the archive is read), so it can run anywhere: a thread, a Dask worker."""
    source: str
    kind: str
    f: Fetched
    frame: pl.DataFrame | None = None  # valid rows (STATEMENT_COLUMNS or LEDGER_COLUMNS)
    quarantine: pl.DataFrame | None = None
    checks: str = "n/a"  # "ok" when the file's own control totals were checked and held
    error: str = ""  # set when the file was rejected (nothing of it loads)
    failed_check: str = ""  # the control total that rejected it ("" when unreadable)


# Bytes of a high-volume file read at a time (recon.tuning, RECON_PART_MB); the file itself is
# read a range at a time (Archive.open).
PART_BYTES = tuning.part_bytes()
# Files parsed and stored at once in this process (RECON_LOAD_WORKERS; unset: no limit). A day's
# loads start together; a limit bounds their memory.
_SLOTS: list = []
_SLOTS_LOCK = threading.Lock()


def _load_slot():
    with _SLOTS_LOCK:
        if not _SLOTS:
            n = tuning.load_workers()
            _SLOTS.append(threading.BoundedSemaphore(n) if n else contextlib.nullcontext())
        return _SLOTS[0]


def prepare_statement(cfg: Config, source: Source, f: Fetched, business_date: date) -> Prepared:
    """Parse, check control totals, validate (pandera) and mask one statement file, whole."""
    return next(prepare_statement_parts(cfg, source, f, business_date, part_bytes=None))


def prepare_statement_parts(cfg: Config, source: Source, f: Fetched, business_date: date,
                            part_bytes: int | None = PART_BYTES) -> Iterator[Prepared]:
    """``prepare_statement`` a part at a time (see ``registry.parse_parts``). A file found bad
    part-way yields a rejected Prepared last: its store clears what it wrote of it."""
    data = Archive(cfg.archive).open(f.sha256, verify=not f.new) \
        if registry.reads_parts(source.format, source.options) else Archive(cfg.archive).read(f.sha256)
    try:
        for parsed in registry.parse_parts(source.format, data, name=f.name, source=source.name,
                                           sha256=f.sha256, business_date=business_date,
                                           timezone=source.timezone, options=source.options,
                                           part_bytes=part_bytes, raw=not lineage.spanned(source.format)):
            # Card numbers in free text never reach the warehouse (references are left as sent).
            frame = lineage.without_copy(parsed.frame, source.format)  # its span is stored instead
            yield Prepared(source.name, source.kind, f, pan.mask_frame_fast(frame, pan.STATEMENT_TEXT),
                           pan.mask_frame_fast(parsed.quarantine, pan.QUARANTINE_TEXT),
                           "ok" if parsed.checks else "n/a")
    except (ParseError, IntegrityError) as e:
        # Never the file's own text, which the error (or its cause) may quote; logged outside the
        # except block, so that no handler can print the cause's traceback with it.
        error, check = redact.error_text(e), getattr(e, "check", "")
    else:
        return
    log.error("%s: %s rejected: %s", source.name, f.name, error)
    yield Prepared(source.name, source.kind, f, error=error, failed_check=check)


def prepare_ledger(cfg: Config, f: Fetched) -> Prepared:
    """Parse, validate and mask one ledger export, whole."""
    return next(prepare_ledger_parts(cfg, f, part_bytes=None))


def prepare_ledger_parts(cfg: Config, f: Fetched, part_bytes: int | None = PART_BYTES) -> Iterator[Prepared]:
    data = Archive(cfg.archive).open(f.sha256, verify=not f.new)  # hashed as this run stored it
    try:
        for valid, quarantine in parse_ledger_parts(data, name=f.name, sha256=f.sha256, part_bytes=part_bytes,
                                                    layout=cfg.ledger.layout):  # validated
            yield Prepared(LEDGER, LEDGER, f, pan.mask_frame_fast(valid, pan.LEDGER_TEXT),
                           pan.mask_frame_fast(quarantine, pan.QUARANTINE_TEXT))
    except ParseError as e:
        error = redact.error_text(e)  # as in prepare_statement_parts
    else:
        return
    log.error("ledger: %s rejected: %s", f.name, error)
    yield Prepared(LEDGER, LEDGER, f, error=error)


def load_statement(cfg: Config, source: Source, f: Fetched, business_date: date, run_id: str) -> SourceStatus:
    """Parse, check control totals, validate and load one statement file, a part at a time. A file
    that fails its control totals or cannot be parsed is recorded as rejected and loads nothing."""
    if done := already_loaded(cfg, f, source.kind):
        return done
    with _load_slot():
        return store_statement(cfg, prepare_statement_parts(cfg, source, f, business_date), business_date, run_id)


def already_loaded(cfg: Config, f: Fetched, kind: str) -> SourceStatus | None:
    """The status of a file whose same bytes an earlier run loaded (then nothing is parsed)."""
    con = warehouse.connect(cfg.warehouse)
    try:
        done = _already_loaded(con, f)
    finally:
        con.close()
    return SourceStatus(**{**done.__dict__, "kind": kind}) if done else None


def _n_quarantined(quarantine: pl.DataFrame) -> int:
    return quarantine.select(pl.col("file_line").n_unique()).item() if quarantine.height else 0


def store_statement(cfg: Config, prepared: Prepared | Iterable[Prepared], business_date: date,
                    run_id: str) -> SourceStatus:
    """Write a prepared statement file (or its parts, in order) to the warehouse.

    The file is recorded as 'loading', each part is committed on its own (DuckDB keeps a
    transaction's rows in memory: one transaction for a 10M-line file would not fit), and the
    file becomes 'loaded' last. Nothing reads the lines of a file that is not 'loaded'; a file
    found bad part-way is cleared and recorded as rejected; one left 'loading' by a killed run is
    cleared by the next run's ``begin_run``."""
    parts = iter([prepared] if isinstance(prepared, Prepared) else prepared)
    p = next(parts)
    f = p.f
    fmt = _format_of(cfg, p.source)
    con = warehouse.connect(cfg.warehouse)
    try:
        if done := _already_loaded(con, f):
            return SourceStatus(**{**done.__dict__, "kind": p.kind})

        def record(status, lines=None, control_total="", error=""):
            warehouse.record_file(con, sha256=f.sha256, source=p.source, name=f.name,
                                  remote_path=f.remote_path, size=f.size, business_date=business_date,
                                  fmt=fmt, status=status, line_count=lines,
                                  control_total=control_total, error=error)

        lines = n_q = 0
        spans = lineage.FileSpans(cfg.archive, f.sha256, f.name, fmt)  # each line's place in the archive
        if not p.error:
            with warehouse.transaction(con):
                warehouse.clear_file(con, f.sha256)
                record("loading")
            for p in chain([p], parts):
                if p.error:
                    break
                with warehouse.transaction(con):
                    lines += warehouse.insert_frame(con, "statement_lines", spans.with_spans(p.frame))
                    warehouse.insert_frame(con, "quarantine",
                                           p.quarantine.with_columns(pl.lit(run_id).alias("run_id")))
                n_q += _n_quarantined(p.quarantine)
        if p.error:
            with warehouse.transaction(con):
                warehouse.clear_file(con, f.sha256)
                record("rejected", control_total=p.failed_check or "parse", error=p.error)
            return SourceStatus(p.source, p.kind, f.name, f.sha256, "rejected",
                                control_total=p.failed_check or "n/a", error=p.error)
        chaos_point("in_load")
        corrects = getattr(f, "correction_of", None)
        with warehouse.transaction(con):
            record("loaded", lines, p.checks)
            if corrects:  # same name, new bytes: this delivery replaces the earlier one from now on
                con.execute("UPDATE files SET superseded_by = ? WHERE sha256 = ?", [f.sha256, corrects])
        if corrects:
            log.warning("%s: %s is a corrected delivery: it replaces sha256 %s… (kept in the archive; "
                        "earlier runs can still be reproduced with it)", p.source, f.name, corrects[:12])
        log.info("%s: %s loaded: %d lines, %d quarantined, control totals %s",
                 p.source, f.name, lines, n_q, p.checks)
        return SourceStatus(p.source, p.kind, f.name, f.sha256, "corrected" if corrects else "loaded",
                            lines, n_q, p.checks, f"corrects {corrects}" if corrects else "")
    finally:
        con.close()


def _format_of(cfg: Config, source: str) -> str:
    return next(s.format for s in cfg.sources if s.name == source)


def load_ledger_file(cfg: Config, f: Fetched, business_date: date | None, run_id: str | None) -> SourceStatus:
    """Append a ledger export (append-only; a changed row is a correction, an equal row nothing).
    An export whose bytes were loaded before adds nothing: re-reading it must never undo a
    correction recorded since."""
    if done := already_loaded(cfg, f, LEDGER):
        return done
    with _load_slot():
        return store_ledger(cfg, prepare_ledger_parts(cfg, f), business_date, run_id)


def store_ledger(cfg: Config, prepared: Prepared | Iterable[Prepared], business_date: date | None,
                 run_id: str | None) -> SourceStatus:
    """Write a prepared ledger export (or its parts, in order): new and changed entries only, a
    part per transaction under the same 'loading' protocol as ``store_statement``."""
    parts = iter([prepared] if isinstance(prepared, Prepared) else prepared)
    p = next(parts)
    f = p.f
    if p.error:
        return SourceStatus(LEDGER, LEDGER, f.name, f.sha256, "rejected", error=p.error)
    con = warehouse.connect(cfg.warehouse)
    try:
        if done := _already_loaded(con, f):
            return SourceStatus(**{**done.__dict__, "kind": LEDGER})

        def record(status, day, lines=None):
            warehouse.record_file(con, sha256=f.sha256, source=LEDGER, name=f.name, remote_path=f.remote_path,
                                  size=f.size, business_date=day, fmt="ledger_csv", status=status,
                                  line_count=lines, control_total="n/a" if status == "loaded" else "")

        recorded_at = datetime.now(timezone.utc)
        lines = new = same = n_q = 0
        days: list[date] = []
        held: dict[str, int] = {}
        with warehouse.transaction(con):
            warehouse.clear_file(con, f.sha256)
            record("loading", business_date or date.today())
        for p in chain([p], parts):
            if p.error:
                break
            with warehouse.transaction(con):
                n, m = warehouse.load_ledger(con, p.frame, sha256=f.sha256, recorded_at=recorded_at)
                warehouse.insert_frame(con, "quarantine", p.quarantine.with_columns(pl.lit(run_id).alias("run_id")))
            new, same, lines = new + n, same + m, lines + p.frame.height
            n_q += _n_quarantined(p.quarantine)
            for hold, n_held in p.frame.filter(pl.col("hold").is_not_null())["hold"].value_counts().rows():
                held[hold] = held.get(hold, 0) + n_held
            if p.frame.height:
                days.append(p.frame["business_date"].min())
        if p.error:
            with warehouse.transaction(con):
                warehouse.clear_file(con, f.sha256)
                con.execute("DELETE FROM files WHERE sha256 = ?", [f.sha256])  # as before: not recorded
            return SourceStatus(LEDGER, LEDGER, f.name, f.sha256, "rejected", error=p.error)
        with warehouse.transaction(con):
            record("loaded", business_date or (min(days) if days else date.today()), lines)
        log.info("ledger: %s: %d entries new, %d unchanged, %d quarantined", f.name, new, same, n_q)
        for hold, n_held in sorted(held.items()):
            log.info("ledger: %s: ledger entries kept but not matched (%s): %d", f.name, hold, n_held)
        return SourceStatus(LEDGER, LEDGER, f.name, f.sha256, "loaded", lines, n_q, "n/a")
    finally:
        con.close()


def match(cfg: Config, run_id: str, business_date: date, sources: list[str],
          inputs: list[str] | None = None, partitions: Partitions | None = None) -> MatchResult:
    """Match the day as of now: the ledger and annotations recorded so far, the open items of the
    latest earlier run, and ``inputs`` (the day's files this run loaded; default all). What it
    used is recorded on the run so that ``recon rerun`` can reproduce it. ``partitions``: the first
    reference pass per hash partition (on Dask: flows/fanout.match_partitions; else, with
    ``RECON_MATCH_PARTITIONS=N``, N partitions one after another in this process)."""
    if partitions is None and (n := tuning.match_partitions()) > 1:
        partitions = in_process(n, staging_root(cfg) / run_id / "match")
    con = warehouse.connect(cfg.warehouse)
    try:
        watermark = datetime.now(timezone.utc)
        return run_cascade(con, cfg, run_id=run_id, business_date=business_date, sources=sources,
                           watermark=watermark, inputs=inputs, partitions=partitions,
                           record=runs.record_watermarks(run_id, watermark, watermark))
    finally:
        con.close()


def staging_root(cfg: Config) -> Path:
    """Beside the archive (which the flow and every Dask worker must share): ``<archive>/../staging``."""
    return cfg.archive.parent / "staging"


def missing_status(source: Source | None, arrival: Arrival) -> SourceStatus:
    kind = source.kind if source else LEDGER
    return SourceStatus(arrival.source, kind, None, None, "late" if arrival.late else "missing",
                        error=arrival.missing)
