"""The nightly reconciliation flow: ``recon.runday.run_day`` with its stages as Prefect tasks.

Runs appear in the Prefect UI as "reconcile 2026-11-21" with tasks "fetch wechatpay",
"load stripe_itemized_20261121.csv", "match", "reports" (flows/tasks.py). Parameters are the
business date, the sources and the config path; nothing secret ever becomes a parameter.

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
import sys
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from prefect import flow

from flows import fanout, lifecycle
from flows.tasks import TaskStages
from recon import config as config_mod
from recon import pan, pipeline, runlock, tuning
from recon.config import Config
from recon.errors import EXIT_BREAKS, EXIT_RECONCILED
from recon.runday import Day, run_day

log = logging.getLogger(__name__)
pan.install_log_masking()
DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "data" / "recon.toml"


class FlowStages(TaskStages):
    """The flow's stages: Prefect tasks on its thread pool, or fetch, load and match on Dask
    (flows/fanout.py) when the flow's task runner is a DaskTaskRunner (``nightly.with_options(
    task_runner=DaskTaskRunner(...))``, e.g. ``recon run --dask``) or the environment or the config
    asks for one (then opened for the run and closed after the match: the workers' memory is
    freed before the reports). A failed run is alerted."""

    dask: dict | None = None  # scheduler, workers and where each task ran; None on the thread pool

    @contextmanager
    def scope(self, day: Day):
        from prefect.context import FlowRunContext
        runner = FlowRunContext.get().task_runner
        if _is_dask(runner):
            with self._on_dask(day, runner) as stages:
                yield stages
            return
        if tuning.dask_address() or day.cfg.dask:  # asked for by env or [dask]
            if spec := fanout.resolve(day.cfg):
                with fanout.task_runner(spec) as own, self._on_dask(day, own) as stages:
                    yield stages
                return
        yield self

    @contextmanager
    def _on_dask(self, day: Day, runner):
        stages = fanout.DaskStages(day, runner)
        self.dask = stages.where
        yield stages

    def failed(self, day: Day, error: BaseException) -> None:
        super().failed(day, error)
        if isinstance(error, Exception):  # a failed-run alert; never masks the error itself
            from prefect.runtime import flow_run

            from recon import alerts
            alerts.notify_failure(day.cfg, day.run_id, day.business_date, day.statuses, error)
            lifecycle.mark_alerted(flow_run.id)


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


def _reconcile(cfg: Config, business_date: date, selected: list, run_id: str, language: str) -> dict:
    stages = FlowStages()
    day = run_day(cfg, business_date, stages, sources=selected, run_id=run_id, language=language)
    summary = day.summary
    for name, n in summary.breaks_by_category.items():
        log.info("Breaks %s: %d", name, n)
    from recon import alerts
    exit_code = EXIT_RECONCILED if summary.reconciled else EXIT_BREAKS
    gaps = alerts.statement_gaps(cfg, business_date)  # reported whether or not alerts are configured
    notified = alerts.notify_run(cfg, summary, exit_code, gaps)  # never raises: failures are reported in it
    from prefect.runtime import flow_run
    return {
        "run_id": run_id, "flow_run_id": str(flow_run.id), "business_date": business_date.isoformat(),
        "status": day.status, "exit_code": exit_code,
        "breaks": summary.breaks_by_category, "sources": {s.source: s.status for s in day.statuses},
        "quarantined": summary.quarantined,
        "pending": [{"source": p.source, "currency": p.currency, "items": p.items,
                     "amount_minor": p.amount_minor, "oldest": str(p.oldest)} for p in summary.pending],
        "outputs": {k: str(p) for k, p in day.paths.items()}, "timings": day.timings,
        "signals": [{"kind": g.kind, "source": g.source, "currency": g.currency} for g in summary.signals],
        "notifications": notified,
        # fee report, journal, positions and payouts that do not tie (recon/reports/tieout.py)
        "tie_out": [t.text() for t in summary.tie_out or ()],
        "dask": stages.dask,  # None on the thread pool; else scheduler, workers and where each task ran
        "statement_gaps": [{"source": g.source, "account": g.account, "previous_date": str(g.previous_date),
                            "balance_gap": g.balance_gap, "sequence_gap": g.sequence_gap} for g in gaps],
    }


if __name__ != "flows.nightly":  # pragma: no cover - loaded from its path (`prefect deploy flows/nightly.py:nightly`)
    # Prefect then imports this file as a module named "nightly", which Dask workers cannot import
    # when they unpickle the flow run's context: hand out the package's flow instead.
    from flows.nightly import nightly  # noqa: F811
