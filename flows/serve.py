"""Register the nightly flow with a Prefect server on its cron schedule and serve it.

Schedules need a real server (DESIGN.md: on an ephemeral API `serve(cron=…)` registers but never
schedules): start one on loopback with `prefect server start --host 127.0.0.1` and point
PREFECT_API_URL at it. Scheduled runs reconcile "yesterday" in the config's timezone.
"""
from __future__ import annotations

import logging
import os

from prefect.schedules import Cron

from flows.nightly import nightly
from recon.config import Config
from recon.errors import ReconError

log = logging.getLogger(__name__)
DEPLOYMENT = "nightly"


def schedule_for(cfg: Config) -> Cron:
    return Cron(cfg.schedule, timezone=cfg.timezone)


def deployment_kwargs(cfg: Config, config_path: str) -> dict:
    return dict(name=DEPLOYMENT, schedules=[schedule_for(cfg)], parameters={"config_path": config_path},
                description="Reconcile yesterday's statements against the ledger", tags=["recon"])


def serve(cfg: Config, config_path: str) -> None:
    if not os.environ.get("PREFECT_API_URL"):
        raise ReconError(
            "PREFECT_API_URL is not set: a schedule needs a running Prefect server, and without one "
            "the cron would be registered with a temporary server that never triggers it.",
            hint="Start one with `prefect server start --host 127.0.0.1` and set "
                 "PREFECT_API_URL=http://127.0.0.1:4200/api, then run `recon serve` again.")
    log.info("Serving %s on cron %r (%s)", DEPLOYMENT, cfg.schedule, cfg.timezone)
    nightly.serve(**deployment_kwargs(cfg, config_path))
