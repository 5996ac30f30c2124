"""Register the nightly flow with a Prefect server on its cron schedule and serve it.

Schedules need a real server (DESIGN.md: on an ephemeral API `serve(cron=…)` registers but never
schedules): start one on loopback with `prefect server start --host 127.0.0.1` and point
PREFECT_API_URL at it. Scheduled runs reconcile "yesterday" in the config's timezone: the day
before the run's scheduled start (flows/lifecycle.py).

Prefect's runner polls in a thread of its own; the main thread keeps SIGINT and SIGTERM. On either,
the runner is asked to stop (its runs cancelled, the schedule paused, as `flow.serve` does) for at
most STOP_GRACE_S seconds, then the process exits 0 — also when the server has gone away, where
Prefect's own shutdown would keep retrying it.
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
import time

from prefect.schedules import Cron

from flows.nightly import nightly
from recon.config import Config
from recon.errors import EXIT_ERROR, ReconError

log = logging.getLogger(__name__)
DEPLOYMENT = "nightly"
STOP_GRACE_S = 10.0


def schedule_for(cfg: Config) -> Cron:
    return Cron(cfg.schedule, timezone=cfg.timezone)


def deployment_kwargs(cfg: Config, config_path: str) -> dict:
    return dict(name=DEPLOYMENT, schedules=[schedule_for(cfg)], parameters={"config_path": config_path},
                description="Reconcile yesterday's statements against the ledger", tags=["recon"])


def serve(cfg: Config, config_path: str) -> int:
    """Serve until SIGINT or SIGTERM; returns the exit code (0 when stopped by a signal)."""
    if not os.environ.get("PREFECT_API_URL"):
        raise ReconError(
            "PREFECT_API_URL is not set: a schedule needs a running Prefect server, and without one "
            "the cron would be registered with a temporary server that never triggers it.",
            hint="Start one with `prefect server start --host 127.0.0.1` and set "
                 "PREFECT_API_URL=http://127.0.0.1:4200/api, then run `recon serve` again.")
    from prefect.runner import Runner

    received: list[str] = []
    done = threading.Event()

    def on_signal(signum, frame) -> None:
        received.append(signal.Signals(signum).name)
        done.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    runner = Runner(name=DEPLOYMENT)
    runner.add_flow(nightly, **deployment_kwargs(cfg, config_path))  # registers the deployment
    print(f"recon serve: serving {DEPLOYMENT} on cron {cfg.schedule!r} ({cfg.timezone}) with "
          f"{os.environ['PREFECT_API_URL']}", file=sys.stderr, flush=True)
    failure: list[BaseException] = []
    loops: list[asyncio.AbstractEventLoop] = []

    async def start() -> None:
        loops.append(asyncio.get_running_loop())
        await runner.start()

    def run() -> None:  # off the main thread: Prefect then leaves SIGTERM to us
        try:
            asyncio.run(start())
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            failure.append(e)
        finally:
            done.set()

    thread = threading.Thread(target=run, name="prefect-runner", daemon=True)
    thread.start()
    while not done.wait(1.0):
        pass
    if not received:
        error = failure[0] if failure else RuntimeError("the runner stopped")
        print(f"recon serve: the Prefect runner stopped: {type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_ERROR
    print(f"recon serve: {received[0]} received, stopping (at most {STOP_GRACE_S:.0f} s)", file=sys.stderr)
    deadline = time.monotonic() + STOP_GRACE_S
    if loops and not failure:
        try:  # cancels the runs in progress; leaving start() then pauses the schedule
            asyncio.run_coroutine_threadsafe(runner.astop(), loops[0]).result(STOP_GRACE_S)
            thread.join(max(0.0, deadline - time.monotonic()))
        except Exception as e:  # noqa: BLE001 - stopping anyway; the server may be gone
            log.warning("Prefect runner did not stop cleanly: %s", type(e).__name__)
    print(f"recon serve: stopped ({received[0]})", file=sys.stderr, flush=True)
    return 0
