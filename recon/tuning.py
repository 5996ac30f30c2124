"""Tuning: the per-machine settings that change how fast or in how much memory a run goes, never
what it finds. Each is read here and only here, from the environment (README, "Environment"),
at the moment it is needed; a malformed value is refused with what was expected.

| variable | default | read by |
| --- | --- | --- |
| RECON_PART_MB | 64 | the loads: MB of a big file parsed, validated and stored at a time |
| RECON_LOAD_WORKERS | all | the loads: files parsed and stored at once |
| RECON_MATCH_PARTITIONS | 1 | the match: hash partitions of the first reference pass |
| RECON_MATCH_ROUTE | bulk | the match: ``bulk`` (first pass) or ``reference`` (plain cascade) |
| RECON_DUCKDB_THREADS | DuckDB's | every warehouse connection |
| RECON_DUCKDB_MEMORY_LIMIT | DuckDB's | every warehouse connection, e.g. ``12GB`` |
| RECON_DUCKDB_TEMP | beside the warehouse | where DuckDB spills beyond its memory limit |
| RECON_DASK_ADDRESS | off (or ``[dask]``) | the flow: fan out to Dask (flows/fanout.py) |
| RECON_LOCK_WAIT_SECONDS | ``lock_wait_s`` | how long a second run waits for the run lock |
| RECON_KEEP_STEPS | off | the match: a folder each step's tables are copied to (debugging) |
"""
from __future__ import annotations

import os

from recon.errors import ReconError

PART_MB = "RECON_PART_MB"
LOAD_WORKERS = "RECON_LOAD_WORKERS"
MATCH_PARTITIONS = "RECON_MATCH_PARTITIONS"
MATCH_ROUTE = "RECON_MATCH_ROUTE"
DUCKDB_THREADS = "RECON_DUCKDB_THREADS"
DUCKDB_MEMORY_LIMIT = "RECON_DUCKDB_MEMORY_LIMIT"
DUCKDB_TEMP = "RECON_DUCKDB_TEMP"
DASK_ADDRESS = "RECON_DASK_ADDRESS"
LOCK_WAIT = "RECON_LOCK_WAIT_SECONDS"
KEEP_STEPS = "RECON_KEEP_STEPS"
ROUTES = ("bulk", "reference")


def _env(name: str) -> str:
    return os.environ.get(name, "").strip()


def part_bytes() -> int:
    """Bytes of a high-volume file read, converted, validated and stored at a time: bounds a big
    file's memory (one part's text table, canonical frame and raw audit copy at once, a small
    multiple of the part's bytes) whatever the file's size."""
    return int(_env(PART_MB) or "64") << 20


def load_workers() -> int | None:
    """Files parsed and stored at once (None: all the day's files). Fewer lowers the loads' peak
    memory; on 2 cores two at once took about as much CPU as four, but a later start."""
    raw = _env(LOAD_WORKERS)
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise ReconError(f"{LOAD_WORKERS}={raw!r}: expected a whole number of files loaded at once, "
                         f"1 or more.", hint="Unset it (all at once) or set it to e.g. 2.")
    return int(raw)


def match_partitions() -> int:
    """How many hash partitions the first reference pass runs in, one after another, when no Dask
    runner partitions it (unset or 1: one join)."""
    raw = _env(MATCH_PARTITIONS)
    if not raw:
        return 1
    if not raw.isdigit() or int(raw) < 1:
        raise ReconError(f"{MATCH_PARTITIONS}={raw!r}: expected a whole number of partitions, 1 "
                         f"or more.", hint="Set it to e.g. 16 for a day whose first pass does not fit "
                         "in memory as one join (100M rows a side still does at 12 GB), or unset it.")
    return int(raw)


def match_route(route: str | None = None) -> str:
    """The match's route: ``route`` when a caller chose one, else the environment's, else bulk."""
    chosen = route or _env(MATCH_ROUTE) or "bulk"
    if chosen not in ROUTES:
        raise ReconError(f"{MATCH_ROUTE}={chosen!r}: expected one of {', '.join(ROUTES)}.",
                         hint="Unset it (bulk, the default) or set it to reference to run the plain "
                              "cascade, e.g. to compare the two.")
    return chosen


def duckdb_threads() -> int | None:
    raw = _env(DUCKDB_THREADS)
    return int(raw) if raw else None


def duckdb_memory_limit() -> str | None:
    return _env(DUCKDB_MEMORY_LIMIT) or None


def duckdb_temp() -> str | None:
    return _env(DUCKDB_TEMP) or None


def dask_address() -> str:
    """The raw ``RECON_DASK_ADDRESS`` ("" when unset); flows/fanout.parse_spec reads its value."""
    return _env(DASK_ADDRESS)


def keep_steps() -> str:
    """A folder each step of the match copies the tables it wrote to ("" when unset: none)."""
    return _env(KEEP_STEPS)


def lock_wait_seconds(configured: float) -> float:
    """How long a second run waits for the run lock: the environment's, else ``configured``."""
    raw = _env(LOCK_WAIT)
    if not raw:
        return configured
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value < 0:
        raise ReconError(f"{LOCK_WAIT}={raw!r}: expected a number of seconds, 0 or more.",
                         hint="Set it to how long a second run should wait for the first, or unset it.")
    return value
