"""Prefect's temporary API server, started by recon before a run that has no PREFECT_API_URL.

Prefect starts it on the first flow call and waits PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS
for it, counting only its 0.1 s pauses between health checks: on a busy machine that is far longer
than the figure, and a server process that died is waited for to the end. Here the same start runs
in a thread while the caller watches the clock and the process: a server that exits is reported at
once, one that does not answer within the limit (recon's default 600 s, wall clock) as a
one-paragraph error (docs/operations.md#prefect-start-up). The flow then finds it running.
``begin_api`` starts it and returns the wait, so that the CLI imports the flow's modules while the
server starts in its own process (docs/performance.md, Prefect's fixed cost).
"""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

from recon.errors import ReconError

DEFAULT_TIMEOUT_S = 600


class PrefectStartError(ReconError):
    """Prefect's temporary API server did not start."""

    runbook = "prefect-start-up"


def _load() -> str:
    try:
        return f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    except OSError:
        return "load unknown"


def start_api(timeout_s: float | None = None) -> None:
    """Start the temporary API server unless an API is configured; returns once it answers."""
    begin_api(timeout_s)()


def begin_api(timeout_s: float | None = None) -> Callable[[], None]:
    """Start the temporary API server in the background (unless an API is configured) and return
    ``ready()``, which returns once it answers or raises PrefectStartError. Whatever the caller does
    in between (importing the flow's modules: ~1 CPU-s) overlaps the server's start-up, which runs
    in a subprocess; its clock starts here."""
    from prefect.settings import get_current_settings
    settings = get_current_settings()
    if settings.api.url or not settings.server.ephemeral.enabled:
        return lambda: None
    from prefect.server.api.server import SubprocessASGIServer
    server = SubprocessASGIServer()
    if server.running:
        return lambda: None
    limit = timeout_s or float(os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS")
                               or DEFAULT_TIMEOUT_S)
    failed: list[BaseException] = []

    def start() -> None:
        try:
            server.start(timeout=int(limit * 10))  # Prefect's own count; the clock below decides
        except BaseException as e:  # noqa: BLE001 - reported by the caller
            failed.append(e)

    started = time.monotonic()
    thread = threading.Thread(target=start, name="prefect-ephemeral-start", daemon=True)
    thread.start()
    return lambda: _wait(server, thread, failed, started, limit, settings.home)


def _wait(server, thread: threading.Thread, failed: list[BaseException], started: float, limit: float,
          home) -> None:
    while thread.is_alive():
        thread.join(0.5)
        proc = server.server_process
        if proc is not None and proc.poll() not in (None, 3):  # 3: port taken, Prefect retries
            raise PrefectStartError(
                f"Prefect's temporary API server exited with code {proc.returncode} while starting "
                f"(PREFECT_HOME={home}); nothing was run.",
                hint="Run `prefect server start --host 127.0.0.1` in that environment to see why, or "
                     "point PREFECT_API_URL at a running server.")
        if time.monotonic() - started > limit:
            raise PrefectStartError(
                f"Prefect's temporary API server did not answer within {limit:.0f} s ({_load()}, "
                f"PREFECT_HOME={home}); nothing was run.",
                hint="Run again when the machine is less busy, raise "
                     "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, or point PREFECT_API_URL at a "
                     "running server.")
    if failed:
        raise PrefectStartError(f"Prefect's temporary API server did not start: {failed[0]}; "
                                "nothing was run.",
                                hint="Point PREFECT_API_URL at a running server, or run again.")
