"""The nightly reconciliation flow: one Prefect task per stage, each a call into recon.pipeline.

Runs appear in the Prefect UI as "reconcile 2026-11-21" with tasks "fetch wechatpay",
"load stripe_itemized_20261121.csv", "match", "reports". Parameters are the business date, the
sources and the config path; nothing secret ever becomes a parameter.

On Dask (opt-in, flows/fanout.py: ``recon run --dask``, RECON_DASK_ADDRESS or ``[dask]``) fetch
and parse run on the workers ("fetch wechatpay", "parse stripe_itemized_20261121.csv") and each
file is stored here ("store stripe_itemized_20261121.csv"); the match runs here, its first
reference pass per hash partition on the workers (Dask tasks "match-part-3-<run>"); the reports
run here.

No ``from __future__ import annotations`` here: a served run pickles the flow's function by value
into a fresh process, where only the globals its code names travel with it, and Prefect's
parameter validation must resolve the annotations (``date``) there.
"""
import logging
import os
import shutil
import sys
import time
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from flows import lifecycle
from recon import config as config_mod
from recon import pan, pipeline, runlock
from recon.chaos import chaos_point
from recon.config import Config, Source
from recon.errors import EXIT_BREAKS, EXIT_RECONCILED
from recon.matching import MatchResult
from recon.partitions import Partitions
from recon.outputs import sha256_of, write_reports
from recon.reports.model import RunSummary, SourceStatus

log = logging.getLogger(__name__)
pan.install_log_masking()
DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "data" / "recon.toml"


def _retry_transfer(task, task_run, state) -> bool:
    """Retry the SFTP task only where another attempt can help (not a refused host key)."""
    try:
        state.result()
    except Exception as e:  # noqa: BLE001 - we only inspect the failure
        return bool(getattr(e, "retryable", False))
    return False


@task(name="fetch", task_run_name="fetch {source.name}", retries=2, retry_delay_seconds=[5, 30],
      retry_condition_fn=_retry_transfer, cache_policy=NO_CACHE)
def fetch_task(cfg: Config, source: Source, business_date: date) -> pipeline.Arrival:
    return pipeline.fetch_source(cfg, source, business_date)


@task(name="fetch ledger", task_run_name="fetch ledger export", cache_policy=NO_CACHE)
def fetch_ledger_task(cfg: Config, business_date: date) -> pipeline.Arrival:
    return pipeline.fetch_ledger(cfg, business_date)


@task(name="load ledger", task_run_name="load {f.name}", cache_policy=NO_CACHE)
def load_ledger_task(cfg: Config, f, business_date: date, run_id: str) -> SourceStatus:
    return pipeline.load_ledger_file(cfg, f, business_date, run_id)


@task(name="load statement", task_run_name="load {f.name}", cache_policy=NO_CACHE)
def load_task(cfg: Config, source: Source, f, business_date: date, run_id: str) -> SourceStatus:
    return pipeline.load_statement(cfg, source, f, business_date, run_id)


@task(name="match", task_run_name="match {business_date}", cache_policy=NO_CACHE)
def match_task(cfg: Config, run_id: str, business_date: date, sources: list[str],
               inputs: list[str], partitions: Partitions | None = None) -> MatchResult:
    return pipeline.match(cfg, run_id, business_date, sources, inputs, partitions)


@task(name="reports", task_run_name="reports {business_date}", cache_policy=NO_CACHE)
def report_task(cfg: Config, run_id: str, business_date: date, started_at, statuses: list[SourceStatus],
                language: str) -> tuple[RunSummary, dict[str, Path]]:
    return write_reports(cfg, run_id, business_date, started_at, statuses, language,
                         pipeline.reports_dir(cfg, business_date, run_id))


@contextmanager
def _dask_runner(cfg: Config):
    """The Dask task runner of this run, or None on Prefect's thread pool: the flow's own when it
    is a DaskTaskRunner (``nightly.with_options(task_runner=DaskTaskRunner(...))``, e.g. ``recon
    run --dask``), else one opened for the run when the environment or the config asks for it
    (closed after the match: the workers' memory is freed before the reports)."""
    from prefect.context import FlowRunContext
    runner = FlowRunContext.get().task_runner
    if _is_dask(runner):
        yield runner
        return
    if os.environ.get("RECON_DASK_ADDRESS", "").strip() or cfg.dask:  # asked for by env or [dask]
        from flows import fanout
        if spec := fanout.resolve(cfg):
            with fanout.task_runner(spec) as own:
                yield own
            return
    yield None


def _match(cfg: Config, runner, run_id: str, business_date: date, sources: list[str], inputs: list[str],
           dask: dict | None) -> MatchResult:
    """The match task here; on Dask its first reference pass per hash partition on the workers
    (flows/fanout.match_partitions), where they ran added to ``dask``."""
    if runner is None:
        return match_task(cfg, run_id, business_date, sources, inputs)
    from flows import fanout
    try:
        return match_task(cfg, run_id, business_date, sources, inputs,
                          fanout.match_partitions(cfg, runner, run_id, dask["placement"]))
    finally:
        shutil.rmtree(fanout.staging_root(cfg) / run_id, ignore_errors=True)


def _fetch_and_load(cfg: Config, runner, selected: list[Source], business_date: date, run_id: str,
                    statuses: list[SourceStatus], timings: dict[str, float]) -> dict | None:
    """Fetch and load the day's files, filling ``statuses`` (ledger first, then the sources as
    configured). On Dask (flows/fanout.py) when ``runner`` is a Dask task runner; returns then
    where the worker tasks ran."""
    if runner is not None:
        from flows import fanout
        return fanout.fetch_and_load(cfg, runner, selected, business_date, run_id, statuses, timings)
    t = time.perf_counter()
    ledger_future = fetch_ledger_task.submit(cfg, business_date)
    futures = {s.name: fetch_task.submit(cfg, s, business_date) for s in selected}
    arrivals = {name: fut.result() for name, fut in futures.items()}
    ledger_arrival = ledger_future.result()
    chaos_point("after_archive")
    timings["fetch"] = time.perf_counter() - t

    t = time.perf_counter()
    if ledger_arrival.missing:
        statuses.append(pipeline.missing_status(None, ledger_arrival))
    # The files load concurrently (parsing overlaps; the warehouse serialises the writes);
    # statuses keep the sequential order: ledger first, then the sources as configured.
    # The same bytes arriving twice load after the first (then as "already loaded").
    first: dict[str, object] = {}

    def after(f) -> list:
        return [first[f.sha256]] if f.sha256 in first else []

    loads: list = []
    for f in ledger_arrival.files:
        loads.append(load_ledger_task.submit(cfg, f, business_date, run_id, wait_for=after(f)))
        first.setdefault(f.sha256, loads[-1])
    for s in selected:
        arrival = arrivals[s.name]
        if arrival.missing:
            loads.append(pipeline.missing_status(s, arrival))
        for f in arrival.files:
            loads.append(load_task.submit(cfg, s, f, business_date, run_id, wait_for=after(f)))
            first.setdefault(f.sha256, loads[-1])
    statuses.extend(x if isinstance(x, SourceStatus) else x.result() for x in loads)
    timings["load"] = time.perf_counter() - t
    return None


def _is_dask(runner) -> bool:
    module = sys.modules.get("prefect_dask.task_runners")  # never imported: not a Dask runner
    return module is not None and isinstance(runner, module.DaskTaskRunner)


def yesterday(cfg: Config) -> date:
    """The day a run without a date reconciles: the day before its scheduled start (a direct call's
    start is now), in the config's timezone."""
    return lifecycle.business_day(cfg.timezone, lifecycle.scheduled_start())


def _run_name() -> str:
    from prefect.runtime import flow_run
    params = flow_run.parameters
    try:
        day = params.get("business_date") or yesterday(config_mod.load(params.get("config_path") or DEFAULT_CONFIG))
    except Exception:  # noqa: BLE001 - a config that does not load fails the body, which says why
        day = "(config not loaded)"
    return f"reconcile {day}"


@flow(name="recon-nightly", flow_run_name=_run_name, log_prints=False, validate_parameters=True,
      on_failure=[lifecycle.alert_failure], on_crashed=[lifecycle.alert_failure])
def nightly(business_date: date | None = None, sources: list[str] | None = None,
            config_path: str | None = None, language: str = "en") -> dict:
    """Reconcile one business day (default: yesterday in the config's timezone, from the run's
    scheduled start): fetch, load, match, report. Returns the run's outcome."""
    cfg = config_mod.load(config_path or DEFAULT_CONFIG)
    business_date = business_date or yesterday(cfg)
    selected = pipeline.select_sources(cfg, sources)
    run_id = pipeline.new_run_id(business_date)
    with runlock.hold(cfg, run_id, business_date):  # one run per warehouse; a second waits or refuses
        return _reconcile(cfg, business_date, selected, run_id, language)


def _reconcile(cfg: Config, business_date: date, selected: list[Source], run_id: str, language: str) -> dict:
    started_at = pipeline.begin_run(cfg, run_id, business_date, [s.name for s in selected], language)
    timings: dict[str, float] = {}
    statuses: list[SourceStatus] = []
    try:
        with _dask_runner(cfg) as runner:
            dask = _fetch_and_load(cfg, runner, selected, business_date, run_id, statuses, timings)
            chaos_point("after_load")

            t = time.perf_counter()
            inputs = [s.sha256 for s in statuses if s.kind != "ledger" and s.status in pipeline.LOADED]
            _match(cfg, runner, run_id, business_date, [s.name for s in selected], inputs, dask)
            chaos_point("after_match")
            timings["match"] = time.perf_counter() - t

        t = time.perf_counter()
        summary, paths = report_task(cfg, run_id, business_date, started_at, statuses, language)
        timings["reports"] = time.perf_counter() - t
    except BaseException as e:
        pipeline.finish_run(cfg, run_id, statuses, "failed", {}, timings)
        if isinstance(e, Exception):  # a failed-run alert; never masks the error itself
            from recon import alerts
            from prefect.runtime import flow_run
            alerts.notify_failure(cfg, run_id, business_date, statuses, e)
            lifecycle.mark_alerted(flow_run.id)
        raise
    status = "reconciled" if summary.reconciled else "breaks"
    outputs = {k: {"path": str(p), "sha256": sha256_of(p)} for k, p in paths.items()}
    pipeline.finish_run(cfg, run_id, statuses, status, outputs, timings, finished_at=summary.finished_at,
                        matched_lines=summary.matched_statement)
    pipeline.write_manifest(cfg, run_id, pipeline.reports_dir(cfg, business_date, run_id) / "manifest.json")
    for name, n in summary.breaks_by_category.items():
        log.info("Breaks %s: %d", name, n)
    from recon import alerts
    exit_code = EXIT_RECONCILED if summary.reconciled else EXIT_BREAKS
    gaps = alerts.statement_gaps(cfg, business_date)  # reported whether or not alerts are configured
    notified = alerts.notify_run(cfg, summary, exit_code, gaps)  # never raises: failures are reported in it
    from prefect.runtime import flow_run
    return {
        "run_id": run_id, "flow_run_id": str(flow_run.id), "business_date": business_date.isoformat(), "status": status,
        "exit_code": EXIT_RECONCILED if summary.reconciled else EXIT_BREAKS,
        "breaks": summary.breaks_by_category, "sources": {s.source: s.status for s in statuses},
        "quarantined": summary.quarantined,
        "pending": [{"source": p.source, "currency": p.currency, "items": p.items,
                     "amount_minor": p.amount_minor, "oldest": str(p.oldest)} for p in summary.pending],
        "outputs": {k: str(p) for k, p in paths.items()}, "timings": timings,
        "signals": [{"kind": g.kind, "source": g.source, "currency": g.currency} for g in summary.signals],
        "notifications": notified,
        # fee report, journal, positions and payouts that do not tie (recon/reports/tieout.py)
        "tie_out": [t.text() for t in summary.tie_out or ()],
        "dask": dask,  # None on the thread pool; else scheduler, workers and where each task ran
        "statement_gaps": [{"source": g.source, "account": g.account, "previous_date": str(g.previous_date),
                            "balance_gap": g.balance_gap, "sequence_gap": g.sequence_gap} for g in gaps],
    }


if __name__ != "flows.nightly":  # pragma: no cover - loaded from its path (`prefect deploy flows/nightly.py:nightly`)
    # Prefect then imports this file as a module named "nightly", which Dask workers cannot import
    # when they unpickle the flow run's context: hand out the package's flow instead.
    from flows.nightly import nightly  # noqa: F811
