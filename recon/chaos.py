"""Fault injection at stage boundaries, and the tally behind `make chaos`.

``chaos_point(name)`` is called by the pipeline between stages. It does nothing unless the
environment variable ``RECON_CHAOS_KILL_AT`` names that point, in which case the process kills
itself with SIGKILL: no cleanup, no ``finally``, no flush — what a power cut or the OOM killer
does. The chaos tests use it to prove that the next run of the day finishes with no duplicates
and the same result as an uninterrupted run.

``check(kind, name)`` records one injected fault or bad input and whether recon survived or
refused it; ``python -m recon.chaos report <tally>`` prints the one summary line from those
records (never from constants).
"""
from __future__ import annotations

import json
import logging
import os
import signal
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

KILL_ENV = "RECON_CHAOS_KILL_AT"
TALLY_ENV = "RECON_CHAOS_TALLY"
POINTS = ("after_archive", "in_load", "after_load", "after_match", "in_reports")
KINDS = ("fault", "bad_input")


def chaos_point(name: str) -> None:
    """Kill this process here (SIGKILL) if ``RECON_CHAOS_KILL_AT`` names this point."""
    if os.environ.get(KILL_ENV) == name:
        log.critical("chaos: killing process %d at %s", os.getpid(), name)
        for h in logging.getLogger().handlers:
            h.flush()
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class Check:
    kind: str
    name: str
    rows_lost: int = 0
    duplicates: int = 0


@contextmanager
def check(kind: str, name: str):
    """Record one chaos check in the tally file (if ``RECON_CHAOS_TALLY`` is set): it passed
    when the block finished without an exception. Set ``rows_lost``/``duplicates`` on the
    yielded object from what the block counted."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    c = Check(kind, name)
    ok = False
    try:
        yield c
        ok = True
    finally:
        _record({"kind": kind, "name": name, "ok": ok, "rows_lost": c.rows_lost,
                 "duplicates": c.duplicates})


def _record(rec: dict) -> None:
    path = os.environ.get(TALLY_ENV)
    if not path:
        return
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(rec, ensure_ascii=False) + "\n")


def summary_line(records: list[dict]) -> str:
    faults = [r for r in records if r["kind"] == "fault"]
    bad = [r for r in records if r["kind"] == "bad_input"]
    return (f"chaos: faults {sum(r['ok'] for r in faults)}/{len(faults)} survived, "
            f"bad inputs {sum(r['ok'] for r in bad)}/{len(bad)} refused, "
            f"rows lost {sum(r['rows_lost'] for r in records)}, "
            f"duplicates {sum(r['duplicates'] for r in records)}")


def report(path: Path) -> int:
    try:
        records = [json.loads(line) for line in Path(path).read_text("utf-8").splitlines() if line]
    except FileNotFoundError:
        records = []
    failed = [r for r in records if not r["ok"]]
    for r in failed:
        print(f"chaos: FAILED {r['kind']} {r['name']}", file=sys.stderr)
    print(summary_line(records))
    clean = records and not failed and not any(r["rows_lost"] or r["duplicates"] for r in records)
    return 0 if clean else 1


if __name__ == "__main__":  # python -m recon.chaos report <tally.jsonl>
    if len(sys.argv) != 3 or sys.argv[1] != "report":
        print("usage: python -m recon.chaos report <tally.jsonl>", file=sys.stderr)
        sys.exit(2)
    sys.exit(report(Path(sys.argv[2])))
