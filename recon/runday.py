"""One business day, start to end: the one sequence every way of running a day goes through.

begin the run → fetch the ledger export and the sources → load them (each file's load starts as
soon as it is archived: ``Loads``) → match → reports → finish
(or, on any failure, record the run failed and raise). The nightly flow (Prefect tasks, or Dask
parts: flows/), ``recon rerun`` (an as-of replay from the archive), ``recon eval`` and the bench
differ only in how a stage runs: each stage is a method of ``Stages``, which they override. The
order, the timings, what the run records and when, are written here only.
"""
from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from connectors.archive import Fetched
from recon import pan, pipeline, runs
from recon.chaos import chaos_point
from recon.config import Config, Source
from recon.matching import MatchResult
from recon.outputs import sha256_of, write_reports
from recon.reports.model import RunSummary, SourceStatus

log = logging.getLogger(__name__)


@dataclass
class Day:
    """One run of one business day as it goes: what ``run_day`` and the stages share."""
    cfg: Config
    business_date: date
    run_id: str
    sources: list[Source]
    language: str = "en"
    started_at: datetime | None = None
    statuses: list[SourceStatus] = field(default_factory=list)  # ledger first, then the sources
    timings: dict[str, float] = field(default_factory=dict)
    result: MatchResult | None = None
    summary: RunSummary | None = None
    paths: dict[str, Path] = field(default_factory=dict)
    status: str = "running"
    loads: Loads | None = None  # the loads the fetch started, for the load stage to wait on

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.sources]

    @property
    def inputs(self) -> list[str]:
        """The sha256 of the statement files this run loaded: what its match reads of the day."""
        return [s.sha256 for s in self.statuses if s.kind != pipeline.LEDGER and s.status in pipeline.LOADED]

    @property
    def reports_dir(self) -> Path:
        return runs.reports_dir(self.cfg, self.business_date, self.run_id)


class Stages:
    """How each stage of a day runs; by default in this process, the fetches and the loads in
    threads. A subclass overrides what it runs differently; a stage that submits work returns
    something with ``result()`` (a future), which the sequence waits on in its own order."""

    workers = 32  # threads for the fetches and the loads (DuckDB serialises the writes)
    overlap = True  # each file's load starts in the fetch stage, as soon as it is archived

    def begin(self, day: Day) -> datetime:
        return runs.begin_run(day.cfg, day.run_id, day.business_date, day.names, day.language)

    @contextmanager
    def scope(self, day: Day):
        """Around fetch, load and match; yields the stages that run them (a Dask cluster's, say)."""
        with ThreadPoolExecutor(self.workers, thread_name_prefix=f"recon-{day.run_id}") as self._pool:
            yield self

    @contextmanager
    def timed(self, day: Day, name: str):
        """Times a stage into ``day.timings`` (a stage that fails is not timed)."""
        t = time.perf_counter()
        yield
        day.timings[name] = time.perf_counter() - t

    def submit(self, fn, *args, after=()):
        """``fn(*args)`` on the scope's threads, once everything in ``after`` is done."""
        def run():
            for earlier in after:
                earlier.result()
            return fn(*args)
        return self._pool.submit(run)

    def fetch_ledger(self, day: Day):
        return self.submit(pipeline.fetch_ledger, day.cfg, day.business_date)

    def fetch_source(self, day: Day, source: Source):
        return self.submit(pipeline.fetch_source, day.cfg, source, day.business_date)

    def fetch(self, day: Day) -> tuple[pipeline.Arrival, dict[str, pipeline.Arrival]]:
        """The ledger export's arrival and each source's, fetched concurrently. Each arrival's
        loads start as soon as it and those before it in the sequential order are in (``Loads``),
        while later files are still being archived and synced."""
        ledger = self.fetch_ledger(day)
        futures = {s.name: self.fetch_source(day, s) for s in day.sources}
        if not self.overlap:
            return ledger.result(), {name: fut.result() for name, fut in futures.items()}
        day.loads = loads = Loads(self, day)
        try:
            ledger = loads.arrived(None, ledger.result())
            arrivals = {s.name: loads.arrived(s, futures[s.name].result()) for s in day.sources}
        except BaseException:
            day.statuses.extend(loads.abandon())  # what did load is recorded with the failed run
            raise
        return ledger, arrivals

    def load_ledger(self, day: Day, f: Fetched, after: list):
        return self.submit(pipeline.load_ledger_file, day.cfg, f, day.business_date, day.run_id, after=after)

    def load_statement(self, day: Day, source: Source, f: Fetched, after: list):
        return self.submit(pipeline.load_statement, day.cfg, source, f, day.business_date, day.run_id,
                           after=after)

    def load(self, day: Day, ledger: pipeline.Arrival, arrivals: dict[str, pipeline.Arrival]) -> None:
        """Load the day's files concurrently (parsing overlaps; the warehouse serialises the writes)
        into ``day.statuses``, in the sequential order: the ledger first, then the sources as
        configured. The loads ``fetch`` started are waited on; the rest start here."""
        loads, day.loads = day.loads or Loads(self, day), None
        loads.arrived(None, ledger)
        for s in day.sources:
            loads.arrived(s, arrivals[s.name])
        day.statuses.extend(loads.statuses())

    def match(self, day: Day) -> MatchResult:
        return pipeline.match(day.cfg, day.run_id, day.business_date, day.names, day.inputs)

    def reports(self, day: Day) -> tuple[RunSummary, dict[str, Path]]:
        return write_reports(day.cfg, day.run_id, day.business_date, day.started_at, day.statuses,
                             day.language, day.reports_dir)

    def finish(self, day: Day) -> None:
        """Record the run reconciled or with breaks, its outputs' hashes, and its manifest."""
        day.status = "reconciled" if day.summary.reconciled else "breaks"
        outputs = {k: {"path": str(p), "sha256": sha256_of(p)} for k, p in day.paths.items()}
        runs.finish_run(day.cfg, day.run_id, day.statuses, day.status, outputs, day.timings,
                        finished_at=day.summary.finished_at, matched_lines=day.summary.matched_statement)
        runs.write_manifest(day.cfg, day.run_id, day.reports_dir / "manifest.json")

    def failed(self, day: Day, error: BaseException) -> None:
        """Record the run failed, with what it had loaded and how long each stage took."""
        day.status = "failed"
        runs.finish_run(day.cfg, day.run_id, day.statuses, "failed", {}, day.timings)


class Loads:
    """The day's loads in the sequential order (the ledger first, then the sources as configured),
    each started once its arrival and those before it are in: archiving a big file overlaps the
    loads of the files archived before it. The same bytes arriving twice load after the first in
    this order (then "already loaded"), whichever of them was archived first."""

    def __init__(self, stages: Stages, day: Day):
        self.stages, self.day = stages, day
        self.started: list = []  # futures (or a SourceStatus for a missing file), in order
        self._first: dict[str, object] = {}  # sha256 -> the load of its first arrival
        self._seen: set[str | None] = set()  # the arrivals whose loads were started (None: ledger)

    def arrived(self, source: Source | None, arrival: pipeline.Arrival) -> pipeline.Arrival:
        """Start the loads of ``source``'s arrival (``None``: the ledger export's), once."""
        name = None if source is None else source.name
        if name in self._seen:
            return arrival
        self._seen.add(name)
        if arrival.missing:
            self.started.append(pipeline.missing_status(source, arrival))
        for f in arrival.files:
            after = [self._first[f.sha256]] if f.sha256 in self._first else []
            self.started.append(self.stages.load_ledger(self.day, f, after) if source is None
                                else self.stages.load_statement(self.day, source, f, after))
            self._first.setdefault(f.sha256, self.started[-1])
        return arrival

    def statuses(self):
        """Each load's status, in order (a failed load raises its error)."""
        return (x if isinstance(x, SourceStatus) else x.result() for x in self.started)

    def abandon(self) -> list[SourceStatus]:
        """The fetch failed: cancel the loads not begun, wait for those that were; the statuses
        of the files that did load (a failed load's error is logged: the fetch's is raised)."""
        # A thread's or Prefect's future; not one whose result() would begin the work (fanout.py).
        begun = [x for x in self.started if isinstance(x, Future) or hasattr(x, "wait")]
        for x in begun:
            if isinstance(x, Future):
                x.cancel()  # only stops what has not begun
        done = []
        for x in begun:
            if isinstance(x, Future) and x.cancelled():
                continue
            try:
                done.append(x.result())
            except Exception as e:  # noqa: BLE001 - reported, the fetch's failure is the run's
                log.warning("a load begun before the fetch failed did not finish: %s", e)
        return done


def run_day(cfg: Config, business_date: date, stages: Stages | None = None, *,
            sources: list[Source] | None = None, run_id: str | None = None, language: str = "en") -> Day:
    """Run one business day (``sources``: default all configured) through ``stages``."""
    pan.install_log_masking()  # card numbers never reach a log, whoever runs the day
    stages = stages or Stages()
    day = Day(cfg, business_date, run_id or runs.new_run_id(business_date),
              list(cfg.sources if sources is None else sources), language)
    day.started_at = stages.begin(day)
    try:
        with stages.scope(day) as active:
            with active.timed(day, "fetch"):
                ledger, arrivals = active.fetch(day)
                chaos_point("after_archive")  # every file archived; loads may be under way
            with active.timed(day, "load"):
                active.load(day, ledger, arrivals)
            chaos_point("after_load")
            with active.timed(day, "match"):
                day.result = active.match(day)
                chaos_point("after_match")
        with stages.timed(day, "reports"):
            day.summary, day.paths = stages.reports(day)
    except BaseException as e:
        stages.failed(day, e)
        raise
    stages.finish(day)
    return day
