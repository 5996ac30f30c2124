"""Collects conformance outcomes so the run ends with one table: format × files passed/rejected.

Tests call ``record(fmt, file_name, outcome)`` with outcome "parsed" (loaded, totals balanced,
expected results agree) or "rejected" (broken on purpose and refused with a clear error) or
"failed"; conftest prints the table in the terminal summary.
"""
from __future__ import annotations

from collections import defaultdict

RESULTS: dict[str, dict[str, str]] = defaultdict(dict)


def record(fmt: str, file_name: str, outcome: str) -> None:
    RESULTS[fmt][file_name] = outcome


def table() -> list[str]:
    if not RESULTS:
        return []
    lines = [f"{'format':<16}{'files':>6}{'parsed':>8}{'rejected':>10}{'failed':>8}"]
    for fmt in sorted(RESULTS):
        outcomes = list(RESULTS[fmt].values())
        lines.append(f"{fmt:<16}{len(outcomes):>6}{outcomes.count('parsed'):>8}"
                     f"{outcomes.count('rejected'):>10}{outcomes.count('failed'):>8}")
    return lines
