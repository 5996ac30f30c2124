"""One run per warehouse: a lock file beside it, held (``fcntl.flock``) for the whole run.

DuckDB admits one writer at a time, but each stage of a run opens and closes its own
connection, so a second `recon run` could slip in between two stages, take the first for dead
and mark it interrupted. The run lock closes that gap: ``<warehouse>.lock`` is locked for the
run's life and holds, as JSON, who has it (pid, host, run id, business date, since when). The
kernel drops a flock when its process dies, however it dies, so a lock that can be taken means
no run is alive: only then are runs left ``running`` marked interrupted (pipeline.begin_run).

A second run waits ``[run] lock_wait_seconds`` (``RECON_LOCK_WAIT_SECONDS`` overrides; default
0) and then refuses with exit 2, naming the holder.
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import time
from contextlib import contextmanager
from datetime import date, datetime, timezone
from pathlib import Path

from recon import tuning
from recon.config import Config
from recon.errors import ReconError

log = logging.getLogger(__name__)
WAIT_ENV = tuning.LOCK_WAIT
POLL_S = 0.5


class RunLocked(ReconError):
    """Another run holds the warehouse's run lock."""

    runbook = "locked-warehouse"


def lock_path(cfg: Config) -> Path:
    return cfg.warehouse.with_name(cfg.warehouse.name + ".lock")


def wait_seconds(cfg: Config) -> float:
    return tuning.lock_wait_seconds(cfg.lock_wait_s)


def holder(cfg: Config) -> dict:
    """What the lock file says about its holder ({} if it says nothing readable)."""
    try:
        return json.loads(lock_path(cfg).read_text("utf-8") or "{}")
    except (OSError, ValueError):
        return {}


def _describe(h: dict) -> str:
    if not h:
        return "a process that has not written its name yet"
    return (f"run {h.get('run_id', '?')} for {h.get('business_date', '?')}, pid {h.get('pid', '?')} on "
            f"host {h.get('host', '?')}, since {h.get('since', '?')}")


@contextmanager
def hold(cfg: Config, run_id: str, business_date: date, wait_s: float | None = None):
    """Hold the warehouse's run lock for the block; wait up to ``wait_s`` (default: the configured
    wait) for another run to finish, else raise ``RunLocked`` naming it."""
    wait_s = wait_seconds(cfg) if wait_s is None else wait_s
    path = lock_path(cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait_s
        waited = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise RunLocked(
                        f"{cfg.warehouse}: another recon run holds this warehouse: {_describe(holder(cfg))} "
                        f"(lock file {path}); waited {wait_s:g} s.",
                        hint=f"Let it finish (`recon runs list` shows it running), then run again; or "
                             f"set [run] lock_wait_seconds / {WAIT_ENV} to wait for it. Nothing was "
                             f"changed.") from None
                if not waited:
                    log.warning("Waiting up to %g s for %s to release the warehouse", wait_s,
                                _describe(holder(cfg)))
                    waited = True
                time.sleep(POLL_S)
        me = {"run_id": run_id, "business_date": str(business_date), "pid": os.getpid(),
              "host": socket.gethostname(), "since": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode("utf-8"), 0)
        try:
            yield me
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def live_holder(cfg: Config) -> dict | None:
    """The holder of the run lock if it is a live process other than this one, else None."""
    path = lock_path(cfg)
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            h = holder(cfg)
            return None if h.get("pid") == os.getpid() and h.get("host") == socket.gethostname() else h
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
