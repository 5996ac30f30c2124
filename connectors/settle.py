"""When a file found at a source is complete: the settle rule shared by every transport.

A file is taken only once it is settled: not under a temporary name (a dot-file, ``.part``,
``.tmp``, …), its done marker there where the source writes one (``{name}.done``, ``{name}.ok``,
…), its size and mtime the same at two looks ``settle_s`` seconds apart (and unchanged while
it was copied), and, where its format has one, its end record there (``complete``: e.g.
schemas/trailers.py, passed in by the caller). A file not settled yet is "not yet arrived": nothing of it is archived, and the
next poll or run takes it. Never a partial file loaded as complete.
"""
from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from connectors.archive import MissingFile

__all__ = ["DEFAULT_SETTLE_S", "TEMP_SUFFIXES", "UNFINISHED", "Complete", "Entry", "NotReady",
           "candidates", "changed", "is_temporary"]

# On by default: a file must keep its size and mtime this long before it is taken.
DEFAULT_SETTLE_S = 5.0
# How uploaders commonly name a file they are still writing (besides a leading dot).
TEMP_SUFFIXES = (".part", ".partial", ".filepart", ".tmp", ".temp", ".crdownload", ".lock", "~")
# complete(path of the copied bytes) -> whether the format's end record is there.
Complete = Callable[[Path], bool]
UNFINISHED = "no end record yet (the format's trailer)"


@dataclass(frozen=True)
class Entry:
    """One regular file as listed at the source."""
    name: str
    size: int
    mtime: float


class NotReady(MissingFile):
    """Files matching the day's pattern are there but still being written: none were taken."""

    def __init__(self, source: str, where: str, expected: str, waiting: dict[str, str]):
        super().__init__(source, where, expected)
        self.waiting = dict(waiting)
        listed = "; ".join(f"{n}: {why}" for n, why in sorted(waiting.items()))
        self.message = (f"{source}: {len(waiting)} file{'' if len(waiting) == 1 else 's'} matching "
                        f"{expected!r} in {where} still being written ({listed}); not taken.")
        self.hint = "Not yet arrived: a later poll or run takes it once it is complete."
        self.args = (str(self),)


def is_temporary(name: str) -> bool:
    return name.startswith(".") or name.lower().endswith(TEMP_SUFFIXES)


def candidates(entries: Iterable[Entry], expected: str,
               marker_for: Callable[[str], str | None]) -> tuple[list[Entry], dict[str, str]]:
    """The files matching ``expected`` that may be taken, and those still being written
    (name → why). ``marker_for(name)`` is the name of its done marker, or None (none written)."""
    entries = sorted(entries, key=lambda e: e.name)
    listed = {e.name for e in entries}
    markers = {marker_for(e.name) for e in entries} - {None}
    ready, waiting = [], {}
    for e in entries:
        if e.name in markers or not fnmatch.fnmatchcase(e.name, expected):
            continue
        marker = marker_for(e.name)
        if is_temporary(e.name):
            waiting[e.name] = "temporary name"
        elif marker is not None and marker not in listed:
            waiting[e.name] = f"no done marker {marker!r} yet"
        else:
            ready.append(e)
    return ready, waiting


def changed(before: Entry, after: Entry, what: str) -> str | None:
    """Why ``after`` is not the file ``before`` was (``what``: over what it changed), or None."""
    if (after.size, after.mtime) == (before.size, before.mtime):
        return None
    if after.size != before.size:
        return f"size {before.size:,} → {after.size:,} bytes {what}"
    return f"modified {what} (size {after.size:,} bytes)"
