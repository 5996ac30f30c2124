"""Pick one business day's files up from a local folder (the ledger export; a statement source
whose files land by other means: a mounted share, a download job) into the archive.

The same contract as ``connectors.sftp.fetch_day``: files matched by pattern, taken only once
settled (connectors/settle.py), copied to staging, checked unchanged by the copy, archived once
by sha256, with the same lineage (``Fetched.remote_path`` is the file's path in the folder).
"""
from __future__ import annotations

import logging
import os
import time
from datetime import date
from pathlib import Path

from connectors.archive import Archive, Fetched, MissingFile, copy_hashed, summarize
from connectors.settle import UNFINISHED, Complete, Entry, NotReady, candidates, changed
from recon.errors import TransferError

__all__ = ["Fetched", "MissingFile", "NotReady", "fetch_local"]

log = logging.getLogger(__name__)


def _entry(path: Path) -> Entry:
    st = path.stat()
    return Entry(path.name, st.st_size, st.st_mtime)


def fetch_local(directory: Path, filename_pattern: str, day: date, archive: Archive, *,
                source: str, settle_s: float = 0.0, done_marker: str | None = None,
                complete: Complete | None = None) -> list[Fetched]:
    """Archive every settled file in ``directory`` matching ``filename_pattern.format(date=day)``.

    ``settle_s``: a file's size and mtime must stay the same this long before it is taken;
    ``done_marker`` (e.g. ``"{name}.done"``): the file beside it that says it is complete;
    ``complete``: whether the copied bytes end with the format's end record.
    Raises ``MissingFile`` when none match, ``NotReady`` when those that do are still being
    written (nothing of them archived).
    """
    directory = Path(directory)
    expected = filename_pattern.format(date=day)
    try:
        with os.scandir(directory) as it:
            entries = [_entry(Path(e.path)) for e in it if e.is_file()]
    except OSError as e:
        raise TransferError(f"{source}: cannot list the folder {directory} "
                            f"({e.strerror or type(e).__name__}).",
                            hint="Check the directory in the config and that it is mounted.") from e
    marker_for = (lambda n: None) if done_marker is None else \
        (lambda n: done_marker.format(name=n, date=day))
    ready, waiting = candidates(entries, expected, marker_for)
    if not ready and not waiting:
        raise MissingFile(source, str(directory), expected)
    if ready and settle_s > 0:
        time.sleep(settle_s)
        for e in ready:
            if why := changed(e, _entry(directory / e.name), f"within {settle_s:g} s"):
                waiting[e.name] = why
    fetched = []
    for e in ready:
        if e.name in waiting:
            continue
        path = directory / e.name
        tmp = archive.temp_path(path.name)
        try:
            before = _entry(path)
            try:
                sha = copy_hashed(path, tmp)
            except PermissionError as err:
                raise TransferError(f"{source}: permission denied reading {path} (as uid "
                                    f"{os.geteuid()}); not retried, nothing of it was archived.",
                                    hint="Make the file readable by the account recon runs as, "
                                         "then run the day again.") from err
            got = tmp.stat().st_size
            why = changed(before, _entry(path), "while it was copied")
            if why is None and got != before.size:
                why = f"copied {got:,} of {before.size:,} bytes"
            if why is None and complete is not None and not complete(tmp):
                why = UNFINISHED
            if why:
                waiting[e.name] = why
                continue
            stored = archive.put(tmp, sha256=sha)
        finally:
            tmp.unlink(missing_ok=True)
        fetched.append(Fetched(source=source, remote_path=str(path), name=path.name,
                               size=stored.size, sha256=stored.sha256, archive_path=stored.path,
                               new=stored.new,
                               correction_of=archive.record_delivery(source, path.name, stored.sha256)))
    if waiting:
        raise NotReady(source, str(directory), expected, waiting)
    log.info("%s", summarize(source, fetched))
    return fetched
