"""RECON_LOAD_WORKERS: a day's loads are started together; set, no more than this many parse and
store at once (less memory); a malformed value is refused with what was expected."""
from __future__ import annotations

import threading
import time

import pytest

from recon import pipeline, tuning
from recon.errors import ReconError


def test_load_workers_default_is_no_limit_and_a_bad_value_is_refused(monkeypatch):
    monkeypatch.delenv(tuning.LOAD_WORKERS, raising=False)
    assert tuning.load_workers() is None  # no limit
    monkeypatch.setenv(tuning.LOAD_WORKERS, "3")
    assert tuning.load_workers() == 3
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv(tuning.LOAD_WORKERS, bad)
        with pytest.raises(ReconError, match="RECON_LOAD_WORKERS=.*expected a whole number"):
            tuning.load_workers()


def test_no_more_loads_at_once_than_the_slots(monkeypatch):
    monkeypatch.setattr(pipeline, "_SLOTS", [threading.BoundedSemaphore(2)])
    monkeypatch.setattr(pipeline, "already_loaded", lambda *a: None)
    monkeypatch.setattr(pipeline, "prepare_ledger_parts", lambda cfg, f: None)
    running, most = [0], [0]
    lock = threading.Lock()

    def store(*args):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        return "stored"

    monkeypatch.setattr(pipeline, "store_ledger", store)
    threads = [threading.Thread(target=pipeline.load_ledger_file, args=(None, None, None, None))
               for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most[0] == 2
