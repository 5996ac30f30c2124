"""Pick one business day's files up from a local drop folder (the ledger export) into the archive.

The same contract as ``connectors.sftp.fetch_day``: files matched by pattern, copied to staging,
size checked against the source, archived once by sha256.
"""
from __future__ import annotations

import fnmatch
import logging
from datetime import date
from pathlib import Path

from connectors.archive import Archive, Fetched, MissingFile, copy_hashed, summarize
from recon.errors import TransferError

__all__ = ["Fetched", "MissingFile", "fetch_local"]

log = logging.getLogger(__name__)


def fetch_local(directory: Path, filename_pattern: str, day: date, archive: Archive, *,
                source: str) -> list[Fetched]:
    """Archive every file in ``directory`` matching ``filename_pattern.format(date=day)``."""
    directory = Path(directory)
    expected = filename_pattern.format(date=day)
    try:
        # Hidden names are how exporters commonly mark files still being written.
        paths = sorted(p for p in directory.iterdir()
                       if p.is_file() and not p.name.startswith(".")
                       and fnmatch.fnmatchcase(p.name, expected))
    except OSError as e:
        raise TransferError(f"{source}: cannot list the drop folder {directory} "
                            f"({e.strerror or type(e).__name__}).",
                            hint="Check the directory in the config and that it is mounted.") from e
    if not paths:
        raise MissingFile(source, str(directory), expected)
    fetched = []
    for path in paths:
        before = path.stat().st_size
        tmp = archive.temp_path(path.name)
        try:
            sha = copy_hashed(path, tmp)
            got, after = tmp.stat().st_size, path.stat().st_size
            if not got == before == after:
                raise TransferError(f"{source}: {path} changed while it was copied ({before:,} "
                                    f"bytes before, {after:,} after, {got:,} copied).",
                                    hint="The exporter is probably still writing it; run again "
                                         "once the file is complete.")
            stored = archive.put(tmp, sha256=sha)
        finally:
            tmp.unlink(missing_ok=True)
        fetched.append(Fetched(source=source, remote_path=str(path), name=path.name,
                               size=stored.size, sha256=stored.sha256, archive_path=stored.path,
                               new=stored.new,
                               correction_of=archive.record_delivery(source, path.name, stored.sha256)))
    log.info("%s", summarize(source, fetched))
    return fetched
