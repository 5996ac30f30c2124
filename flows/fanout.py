"""The nightly flow beyond one machine: fetch and parse fanned out on Dask (``prefect-dask``).

Opt-in, by (first found) ``recon run --dask [ADDRESS|local[:N]]`` (the flow then runs with
``nightly.with_options(task_runner=DaskTaskRunner(...))``), the environment variable
``RECON_DASK_ADDRESS`` (same values, or ``off``), or a ``[dask]`` table in the config (``address``
or ``n_workers``). Without any of them the flow runs as it always did, on Prefect's thread pool.

What runs where:

- on Dask workers: ``fetch <source>`` (SFTP into the shared archive: writes are atomic renames,
  the delivery index is flock'ed) and ``parse <file>`` (parse, control totals, pandera, PAN
  masking: ``pipeline.prepare_*``, which read only the archive). A parsed file travels back as
  parquet in the run's staging directory ``<archive>/../staging/<run_id>/<source>/`` (beside the
  archive, which workers must share anyway), not through Dask: the flow then holds one file's
  frames at a time, a worker's memory is released as soon as it has written, and nothing big
  crosses the scheduler. The staging directory is removed once every file is stored.
- in the flow's own process: the ledger fetch (the drop folder is local to the flow's machine),
  the already-loaded check and ``store <file>`` (DuckDB admits one writing process per file:
  ``store`` refuses to run on a worker), then match and reports, in the same order as always.

Workers load the config themselves from the same path (their own environment supplies the
``${VAR}`` values, SFTP secrets included: nothing secret travels through Dask) and refuse a
config file whose bytes differ from the flow's.
"""
from __future__ import annotations

import functools
import logging
import os
import pickle
import shutil
import socket
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE

from connectors.archive import Fetched
from flows import cluster
from flows.cluster import DaskUnavailable
from flows.tasks import TaskStages, _retry_transfer, fetch_ledger_task, match_task
from recon import config as config_mod
from recon import pan, partitions, pipeline
from recon.config import Config, Source
from recon.errors import ReconError
from recon.matching import MatchResult
from recon.reports.model import SourceStatus
from recon.runday import Day

log = logging.getLogger(__name__)
pan.install_log_masking()  # workers import this module to run its tasks: their logs are masked too
# Which cluster a run uses (flows/cluster.py), named here too for its callers.
ENV, parse_spec, resolve, task_runner = cluster.ENV, cluster.parse_spec, cluster.resolve, cluster.task_runner
LEDGER = pipeline.LEDGER


def _on_worker() -> str | None:
    """The address of the Dask worker this code runs on, or None in any other process/thread."""
    try:
        from distributed import get_worker
        return get_worker().address
    except (ImportError, ValueError):
        return None


# --- the worker side -------------------------------------------------------------------------

@dataclass(frozen=True)
class ConfigRef:
    """The flow's config as workers find it: its path and the sha256 of its bytes."""
    path: str
    sha256: str

    def load(self) -> Config:
        return _load_config(self.path, self.sha256)


@functools.lru_cache(maxsize=4)
def _load_config(path: str, sha256: str) -> Config:
    cfg = config_mod.load(path)
    if cfg.sha256 != sha256:
        raise ReconError(f"Dask worker {_on_worker() or socket.gethostname()}: the config {path} has "
                         f"sha256 {cfg.sha256[:12]}…, the flow's has {sha256[:12]}….",
                         hint="Workers must run the same code and config as the flow: deploy both "
                              "from one checkout, then run again.")
    return cfg


@dataclass(frozen=True)
class Where:
    """Which process ran a task: the Dask worker's address and host, and its pid."""
    worker: str
    host: str
    pid: int


def _here() -> Where:
    return Where(_on_worker() or "", socket.gethostname(), os.getpid())


def _portable(e: BaseException, what: str) -> BaseException:
    """``e`` itself when it survives the trip back to the flow (pickle), else a ReconError with its
    text: an error class whose ``__init__`` takes other arguments than its message would fail to
    unpickle in the flow and hide what went wrong on the worker."""
    try:
        pickle.loads(pickle.dumps(e))
        return e
    except Exception:  # noqa: BLE001 - any failure to round-trip
        return ReconError(f"{what} on Dask worker {_on_worker() or socket.gethostname()}: "
                          f"{type(e).__name__}: {e}")


@task(name="fetch", task_run_name="fetch {source}", retries=2, retry_delay_seconds=[5, 30],
      retry_condition_fn=_retry_transfer, cache_policy=NO_CACHE)
def fetch_on_worker(config: ConfigRef, source: str, business_date: date) -> tuple[pipeline.Arrival, Where]:
    """SFTP → the shared archive, on a Dask worker."""
    try:
        cfg = config.load()
        return pipeline.fetch_source(cfg, cfg.source(source), business_date), _here()
    except Exception as e:
        if (p := _portable(e, f"fetch {source}")) is e:
            raise
        raise p from None


@dataclass(frozen=True)
class Staged:
    """A parsed file as a worker left it: its parts as parquet under the staging root, or why it
    was rejected (then no parts: a file rejected part-way stores nothing either way)."""
    source: str
    kind: str
    rel: str  # <run_id>/<source>/<sha256>/, holding part-NNNNN.{lines,quarantine}.parquet
    parts: int
    checks: str
    error: str
    failed_check: str
    lines: int
    where: Where


staging_root = pipeline.staging_root  # flows/nightly.py and the tests name it here too


def _part(directory: Path, i: int, what: str) -> Path:
    return directory / f"part-{i:05d}.{what}.parquet"


def _write(frame: pl.DataFrame, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    frame.write_parquet(tmp, compression="zstd", statistics=False)
    os.replace(tmp, path)  # the flow never reads a half-written file


@task(name="parse", task_run_name="parse {f.name}", cache_policy=NO_CACHE)
def prepare_on_worker(config: ConfigRef, source: str, f: Fetched, business_date: date, run_id: str) -> Staged:
    """Parse, control totals, pandera, PAN masking of one archived file, on a Dask worker, a part
    at a time (``pipeline.prepare_*_parts``: a big file never sits whole in memory), each part
    written as parquet into the run's staging directory."""
    rel = f"{run_id}/{source}/{f.sha256}"
    out = None
    try:
        cfg = config.load()
        out = staging_root(cfg) / rel
        parts = (pipeline.prepare_ledger_parts(cfg, f) if source == LEDGER
                 else pipeline.prepare_statement_parts(cfg, cfg.source(source), f, business_date))
        kind = LEDGER if source == LEDGER else cfg.source(source).kind
        n = lines = 0
        checks = error = failed = ""
        for p in parts:
            if p.error:
                error, failed = p.error, p.failed_check
                break
            out.mkdir(parents=True, exist_ok=True)
            _write(p.frame, _part(out, n, "lines"))
            _write(p.quarantine, _part(out, n, "quarantine"))
            n, lines, checks = n + 1, lines + p.frame.height, p.checks
        if error:  # nothing of a rejected file is stored: drop what was staged of it
            shutil.rmtree(out, ignore_errors=True)
            n = lines = 0
        return Staged(source, kind, rel, n, checks or "n/a", error, failed, lines, _here())
    except Exception as e:
        if out is not None:
            shutil.rmtree(out, ignore_errors=True)
        if (portable := _portable(e, f"parse {f.name}")) is e:
            raise
        raise portable from None


def match_partition_on_worker(directory: str, part: int, rule: str, mode: str, key: str) -> dict:
    """One hash partition of the first reference pass (``partitions.partition_candidates``): reads
    its open items from the run's staging directory, writes its candidate pairs back there. A
    plain Dask task (submitted from inside the flow's "match" task, where Prefect cannot submit
    tasks of its own to the runner), named "match-part-N-<run>" on the Dask dashboard."""
    return {**partitions.partition_candidates(directory, part, rule, mode, key), **_here().__dict__}


# --- the flow side ---------------------------------------------------------------------------

def match_partitions(cfg: Config, runner, run_id: str, placement: list[dict]) -> partitions.Partitions:
    """The first reference pass fanned out: two partitions per worker, one Dask task each
    ("match-part-3-<run>"), the parquet in the run's staging directory; where each ran is added
    to ``placement`` ("match part 3")."""
    client = runner.client
    n = 2 * max(1, len(client.scheduler_info()["workers"]))

    def run(calls: list[dict]) -> list[dict]:
        futures = [client.submit(match_partition_on_worker, c["directory"], c["part"], c["rule"], c["mode"],
                                 c["key"], key=f"match-part-{c['part']}-{run_id}", pure=False)
                   for c in calls]
        done = client.gather(futures)
        placement.extend({"task": f"match part {d['part']}", "worker": d["worker"], "host": d["host"],
                          "pid": d["pid"]} for d in done)
        return done
    return partitions.Partitions(n, staging_root(cfg) / run_id / "match", run)


@contextmanager
def _workers_report_here(client):
    """Workers report their task runs to the flow's Prefect API. Without PREFECT_API_URL the flow
    talks to an ephemeral server it started on 127.0.0.1; the workers are told its address (else
    each worker process would start a server of its own, ~10 s each, and the runs would not show)."""
    from prefect.settings import PREFECT_API_URL, temporary_settings
    if PREFECT_API_URL.value():
        yield
        return
    from prefect.server.api.server import SubprocessASGIServer
    server = SubprocessASGIServer()
    if not server.running:
        yield
        return
    host = client.scheduler.address.split("://")[-1].rsplit(":", 1)[0]
    if host not in ("127.0.0.1", "localhost", "::1", "[::1]"):
        log.warning("Dask scheduler %s is not on this machine but the Prefect API is an ephemeral one "
                    "on 127.0.0.1: set PREFECT_API_URL to a Prefect server both can reach, or the "
                    "worker tasks will not be recorded with this flow run", client.scheduler.address)
    with temporary_settings({PREFECT_API_URL: server.api_url}):
        yield


@task(name="store", task_run_name="store {f.name}", cache_policy=NO_CACHE)
def store_task(cfg: Config, f: Fetched, staged: Staged, business_date: date, run_id: str) -> SourceStatus:
    """Write one staged file to the warehouse (one transaction), in the flow's process."""
    if worker := _on_worker():
        raise ReconError(f"store {f.name} was sent to Dask worker {worker}; it writes the DuckDB "
                         "warehouse, which admits one writing process: it must run in the flow.",
                         hint="This is a bug in flows/fanout.py: call store_task directly in the flow.")
    if done := pipeline.already_loaded(cfg, f, staged.kind):  # the same bytes earlier in this run
        return done
    store = pipeline.store_ledger if staged.kind == LEDGER else pipeline.store_statement
    status = store(cfg, _staged_parts(cfg, f, staged), business_date, run_id)
    shutil.rmtree(staging_root(cfg) / staged.rel, ignore_errors=True)  # stored (or refused): not needed again
    return status


def _staged_parts(cfg: Config, f: Fetched, staged: Staged):
    """The staged parts as ``Prepared``, read one at a time as the store asks for them, then the
    rejection if there was one (what ``pipeline.prepare_*_parts`` yielded on the worker)."""
    directory = staging_root(cfg) / staged.rel
    for i in range(staged.parts):
        yield pipeline.Prepared(staged.source, staged.kind, f, pl.read_parquet(_part(directory, i, "lines")),
                                pl.read_parquet(_part(directory, i, "quarantine")), staged.checks)
    if staged.error:
        yield pipeline.Prepared(staged.source, staged.kind, f, error=staged.error, failed_check=staged.failed_check)
    elif not staged.parts:
        raise ReconError(f"parse {f.name} staged no part and no rejection under {directory}.",
                         hint="This is a bug in flows/fanout.py; run again with --dask off.")


class _Later:
    """A stage's result worked out when the sequence asks for it, in its order (a store, here)."""

    def __init__(self, fn):
        self.result = fn


class DaskStages(TaskStages):
    """The day's fetch and parse on Dask workers, each file stored here (one at a time, in the
    flow's usual order, while later files are still parsing), the first reference pass of the
    match per hash partition on the workers. ``where``: the scheduler, the workers and where each
    worker task ran."""

    overlap = False  # the parses begin once every file is fetched (they overlap the stores)

    def __init__(self, day: Day, runner):
        self.runner = runner
        self.ref = ConfigRef(str(day.cfg.path), day.cfg.sha256)
        t = time.perf_counter()
        try:
            self.client = runner.client  # connects, or starts the LocalCluster
        except (OSError, TimeoutError) as e:
            raise DaskUnavailable(f"the Dask cluster at {runner.address or 'a new LocalCluster'} could not be "
                                  f"reached or started ({type(e).__name__}: {e}); nothing was loaded.") from e
        day.timings["dask_connect"] = time.perf_counter() - t
        self.where = {"scheduler": self.client.scheduler.address, "workers": [], "placement": []}
        self._parses: dict[tuple[str, str], object] = {}
        self._staged: dict[tuple[str, str], Staged] = {}

    def fetch(self, day: Day):
        with _workers_report_here(self.client):
            return super().fetch(day)

    def fetch_ledger(self, day: Day):
        # here (the drop folder is local to the flow), while the workers fetch the sources
        return _Later(lambda: fetch_ledger_task(day.cfg, day.business_date))

    def fetch_source(self, day: Day, source: Source):
        future = self.runner.submit(fetch_on_worker, {"config": self.ref, "source": source.name,
                                                      "business_date": day.business_date})

        def placed() -> pipeline.Arrival:
            arrival, where = future.result()
            self.where["placement"].append({"task": f"fetch {source.name}", **where.__dict__})
            return arrival
        return _Later(placed)

    def load(self, day: Day, ledger: pipeline.Arrival, arrivals: dict[str, pipeline.Arrival]) -> None:
        with _workers_report_here(self.client):
            super().load(day, ledger, arrivals)
        shutil.rmtree(staging_root(day.cfg) / day.run_id, ignore_errors=True)  # every file stored
        self.where["workers"] = sorted(self.client.scheduler_info()["workers"])

    def load_ledger(self, day: Day, f: Fetched, after: list):
        return self._parse_then_store(day, LEDGER, LEDGER, f)

    def load_statement(self, day: Day, source: Source, f: Fetched, after: list):
        return self._parse_then_store(day, source.name, source.kind, f)

    def _parse_then_store(self, day: Day, source: str, kind: str, f: Fetched):
        """The file's parse submitted now; its store when the sequence asks for its status. The
        same bytes twice: parsed once, stored once, then "already loaded"."""
        if done := pipeline.already_loaded(day.cfg, f, kind):
            return done
        key = (source, f.sha256)
        if key not in self._parses:
            self._parses[key] = self.runner.submit(prepare_on_worker, {
                "config": self.ref, "source": source, "f": f, "business_date": day.business_date,
                "run_id": day.run_id})

        def store() -> SourceStatus:
            if key not in self._staged:
                self._staged[key] = self._parses[key].result()
                self.where["placement"].append({"task": f"parse {f.name}", **self._staged[key].where.__dict__})
            return store_task(day.cfg, f, self._staged[key], day.business_date, day.run_id)
        return _Later(store)

    def match(self, day: Day) -> MatchResult:
        try:
            return match_task(day.cfg, day.run_id, day.business_date, day.names, day.inputs,
                              match_partitions(day.cfg, self.runner, day.run_id, self.where["placement"]))
        finally:
            shutil.rmtree(staging_root(day.cfg) / day.run_id, ignore_errors=True)
