"""The nightly flow's Prefect tasks, one per stage, each a call into recon.pipeline, and the
stages of ``recon.runday`` that run as these tasks on Prefect's thread pool.

Runs appear in the Prefect UI with tasks "fetch wechatpay", "load stripe_itemized_20261121.csv",
"match", "reports". Nothing secret ever becomes a task parameter.
"""
from datetime import date
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from recon import pipeline
from recon.config import Config, Source
from recon.matching import MatchResult
from recon.outputs import write_reports
from recon.partitions import Partitions
from recon.reports.model import RunSummary, SourceStatus
from recon.runday import Day, Stages


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


class TaskStages(Stages):
    """The day's stages as Prefect tasks, submitted to the flow's task runner: each file's load
    task as soon as its fetch task has archived it (``recon.runday.Loads``)."""

    def fetch_ledger(self, day: Day):
        return fetch_ledger_task.submit(day.cfg, day.business_date)

    def fetch_source(self, day: Day, source: Source):
        return fetch_task.submit(day.cfg, source, day.business_date)

    def load_ledger(self, day: Day, f, after: list):
        return load_ledger_task.submit(day.cfg, f, day.business_date, day.run_id, wait_for=after)

    def load_statement(self, day: Day, source: Source, f, after: list):
        return load_task.submit(day.cfg, source, f, day.business_date, day.run_id, wait_for=after)

    def match(self, day: Day) -> MatchResult:
        return match_task(day.cfg, day.run_id, day.business_date, day.names, day.inputs)

    def reports(self, day: Day) -> tuple[RunSummary, dict[str, Path]]:
        return report_task(day.cfg, day.run_id, day.business_date, day.started_at, day.statuses,
                           day.language)
