"""Wall time, CPU time and peak resident memory per stage (RSS sampled from /proc/self/status by a
thread). CPU time is the process's, all threads: CPU over wall shows how many of the cores a
stage kept busy.

DuckDB and polars release the GIL while they work, so a 10 ms sampler sees their allocations;
``resource.getrusage`` gives the process's high-water mark as a cross-check.
"""
from __future__ import annotations

import resource
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

GB = 1024 ** 3


def rss_bytes() -> int:
    with open("/proc/self/status", "rb") as fh:
        for line in fh:
            if line.startswith(b"VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def max_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@dataclass
class Stage:
    name: str
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    peak_bytes: int = 0
    start_bytes: int = 0


@dataclass
class Meter:
    """``with meter.stage("load ledger"): ...`` records the stage's time and peak RSS."""

    interval: float = 0.01
    stages: list[Stage] = field(default_factory=list)
    _current: Stage | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self):
        self._thread = threading.Thread(target=self._sample, name="rss-sampler", daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            stage = self._current
            if stage is not None:
                stage.peak_bytes = max(stage.peak_bytes, rss_bytes())

    @contextmanager
    def stage(self, name: str):
        s = Stage(name, start_bytes=rss_bytes())
        s.peak_bytes = s.start_bytes
        self._current = s
        t, cpu = time.perf_counter(), time.process_time()
        try:
            yield s
        finally:
            s.seconds = time.perf_counter() - t
            s.cpu_seconds = time.process_time() - cpu
            s.peak_bytes = max(s.peak_bytes, rss_bytes())
            self._current = None
            self.stages.append(s)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()

    def total(self, names=None) -> float:
        return sum(s.seconds for s in self.stages if names is None or s.name in names)

    def peak(self, names=None) -> int:
        return max((s.peak_bytes for s in self.stages if names is None or s.name in names), default=0)
