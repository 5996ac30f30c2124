"""What the nightly flow needs around its body when Prefect starts it: the business date of a run
started without one, and an alert for a run that fails or crashes where the body's own
``except`` branch cannot send one (parameter validation, the config load, a killed process).

A scheduled run carries no parameters but the config path: its day is the day before the run's
scheduled start, in the config's timezone (a run that starts late still reconciles its own night).
"""
from __future__ import annotations

import logging
import tomllib
from datetime import date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from recon import config as config_mod
from recon.config_ops import AlertsConfig, _alerts

log = logging.getLogger(__name__)
DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "data" / "recon.toml"
# Flow runs whose failure the flow body has already alerted (the hook then sends nothing more).
_ALERTED: set[str] = set()


def business_day(timezone: str, scheduled: datetime | None = None) -> date:
    """The day before ``scheduled`` (default: now) in ``timezone``."""
    zone = ZoneInfo(timezone)
    at = scheduled.astimezone(zone) if scheduled is not None else datetime.now(zone)
    return at.date() - timedelta(days=1)


def scheduled_start() -> datetime | None:
    """When the current flow run was scheduled to start (None outside a flow run)."""
    from prefect.context import FlowRunContext
    ctx = FlowRunContext.get()
    run = ctx.flow_run if ctx is not None else None
    return getattr(run, "expected_start_time", None)


def mark_alerted(flow_run_id) -> None:
    _ALERTED.add(str(flow_run_id))


def _alerts_only(path: Path) -> AlertsConfig:
    """The [alerts] table of a config that does not load as a whole (best effort)."""
    doc = tomllib.loads(Path(path).read_text("utf-8"))
    reader = config_mod._Reader(Path(path), doc.get("alerts", {}), "alerts")
    return _alerts(reader if "alerts" in doc else None)


def _error_of(state) -> BaseException:
    """The exception that failed the run, else one carrying the state's message."""
    try:
        result = state.result(raise_on_failure=False)
    except Exception:  # noqa: BLE001 - the result may not be retrievable; the message is enough
        result = None
    if isinstance(result, BaseException) and type(result).__name__ not in ("FailedRun", "CrashedRun"):
        return result
    return RuntimeError(state.message or f"the flow run ended {state.name}")


def alert_failure(flow, flow_run, state) -> None:
    """Prefect on_failure / on_crashed hook of the nightly flow: send the failed-run alert unless
    the flow body has sent it. A config that does not load is the error reported, to the
    channels of its [alerts] table. Never raises."""
    from recon import alerts
    if str(flow_run.id) in _ALERTED:
        return
    params = flow_run.parameters or {}
    path = Path(params.get("config_path") or DEFAULT_CONFIG)
    try:
        cfg = config_mod.load(path)
        error, timezone = _error_of(state), cfg.timezone
    except Exception as e:  # noqa: BLE001
        error, timezone = e, "UTC"
        try:
            cfg = SimpleNamespace(alerts=_alerts_only(path))  # alerts.send reads only .alerts
        except Exception as e2:  # noqa: BLE001
            log.error("Failed-run alert not sent for flow run %s: the config %s does not load (%s)",
                      flow_run.name, path, e2)
            return
    try:
        day = date.fromisoformat(str(params["business_date"])[:10])
    except (KeyError, TypeError, ValueError):
        day = business_day(timezone, flow_run.expected_start_time)
    if not alerts.configured(cfg.alerts):
        return
    log.info("Flow run %s %s outside the flow body: sending the failed-run alert", flow_run.name, state.name)
    alerts.notify_failure(cfg, f"flow run {flow_run.name}", day, [], error)
