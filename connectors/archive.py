"""The raw archive: every fetched file stored once under its sha256, never changed afterwards.

Layout: ``<root>/sha256/ab/<sha256>`` (read-only), plus ``<root>/tmp/`` where transports stage
downloads so that the final step is a rename inside one filesystem, plus ``<root>/index.jsonl``
(append-only): which bytes each source delivered under each name, in order, so that the same
name with new bytes is recognised as a correction of the earlier file, which is kept. Reruns read inputs back with
``read``, which re-hashes, so a file altered on disk is reported instead of silently reused.

Also here: the records and errors every transport shares (``Fetched``, ``MissingFile``).
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import stat
import tempfile
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from recon.errors import ReconError
from schemas.bytecount import count_byte

log = logging.getLogger(__name__)

_SHA256 = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1 << 20
_WRITE_BITS = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH


class ArchiveCorrupted(ReconError):
    """An archived file's bytes no longer hash to the name it is stored under."""

    def __init__(self, path: Path, expected: str, found: str):
        self.path, self.expected, self.found = path, expected, found
        super().__init__(
            f"archived file {path} is corrupted: expected sha256 {expected}, found {found}.",
            hint="The archive is immutable, so the file was changed on disk; restore it from a "
                 "backup or fetch the original again, and find out what wrote to the archive "
                 "(runbook: docs/operations.md#archive-corrupted).")


class ArchiveMissing(ReconError):
    """A sha256 that a run or manifest refers to is not in the archive."""

    def __init__(self, path: Path, sha256: str):
        self.path, self.sha256 = path, sha256
        super().__init__(f"sha256 {sha256} is not in the archive (expected at {path}).",
                         hint="Check that the archive path in the config is the one the run used, "
                              "or restore the file from a backup.")


class MissingFile(ReconError):
    """The day's file is not (yet) where the source publishes it."""

    def __init__(self, source: str, where: str, expected: str):
        self.source, self.where, self.expected = source, where, expected
        super().__init__(f"{source}: no file matching {expected!r} in {where}.",
                         hint="The file is late or was never sent: check with the sender, or "
                              "check the source's pattern and directory in the config "
                              "(runbook: docs/operations.md#late-file).")


@dataclass(frozen=True)
class ArchivedFile:
    sha256: str
    path: Path
    size: int
    new: bool  # False when the same bytes were archived before


@dataclass(frozen=True)
class Fetched:
    """One file a transport brought into the archive, and where it came from."""

    source: str
    remote_path: str
    name: str
    size: int
    sha256: str
    archive_path: Path
    new: bool  # False when the same bytes were archived before
    # The sha256 of the file this source delivered earlier under the same name, when these bytes
    # differ from it: this file is a correction; the original stays archived.
    correction_of: str | None = None


_INDEX_LOCK = threading.Lock()


class HashingWriter:
    """A staging file written through its sha256: a transport writes the bytes once and the
    archive stores them without reading them back (``Archive.put(tmp, sha256=w.sha256)``)."""

    def __init__(self, fh):
        self._fh, self._h = fh, hashlib.sha256()

    def write(self, data: bytes) -> int:
        self._h.update(data)  # hashlib releases the GIL on big chunks: transports run in parallel
        return self._fh.write(data)

    def tell(self) -> int:
        return self._fh.tell()

    @property
    def sha256(self) -> str:
        return self._h.hexdigest()


# The local copy's block: few and long calls that release the GIL. Copying while the day's loads
# parse in other threads, each GIL hand-back waits for a parser's switch interval: 1 MiB blocks
# made a 165 MB copy several times slower than 64 MiB ones.
_COPY_BLOCK = 64 << 20


def copy_hashed(source: Path, tmp: Path) -> str:
    """Copy ``source`` to ``tmp``, hashing the bytes on the way; their sha256."""
    h, buf = hashlib.sha256(), bytearray(_COPY_BLOCK)
    view = memoryview(buf)
    with open(source, "rb", buffering=0) as fin, open(tmp, "wb", buffering=0) as fout:
        while n := fin.readinto(buf):
            h.update(view[:n])  # releases the GIL on big blocks, as do the read and the write
            _write_all(fout, view[:n])
    return h.hexdigest()


def _write_all(fout, data: memoryview) -> None:
    while data:  # an unbuffered write may take fewer bytes than given
        data = data[fout.write(data):]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Archive:
    """Content-addressed, write-once store of raw input files."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.staging = self.root / "tmp"

    def path(self, sha: str) -> Path:
        if not _SHA256.fullmatch(sha):
            raise ValueError(f"expected a lower-case hex sha256, found {sha!r}")
        return self.root / "sha256" / sha[:2] / sha

    def temp_path(self, hint: str = "") -> Path:
        """A fresh, empty staging file on the archive's filesystem, for a transport to fill."""
        self.staging.mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", hint)[:80]
        fd, name = tempfile.mkstemp(prefix=f".{safe}.", suffix=".part", dir=self.staging)
        os.close(fd)
        return Path(name)

    def __contains__(self, sha: str) -> bool:
        return self.path(sha).is_file()

    def put(self, tmp_path: Path, sha256: str | None = None) -> ArchivedFile:
        """Store the bytes of ``tmp_path`` under their sha256 and consume ``tmp_path``.
        ``sha256``: the digest a ``HashingWriter`` computed while writing them (else read here)."""
        tmp_path = Path(tmp_path)
        sha = sha256 or sha256_file(tmp_path)
        size = tmp_path.stat().st_size
        dest = self.path(sha)
        if dest.exists():
            if dest.stat().st_size != size:
                raise ArchiveCorrupted(dest, sha, f"(a file of {dest.stat().st_size} bytes, "
                                                  f"not {size})")
            tmp_path.unlink()
            return ArchivedFile(sha, dest, size, new=False)
        dest.parent.mkdir(parents=True, exist_ok=True)
        staged = tmp_path
        if tmp_path.stat().st_dev != dest.parent.stat().st_dev:
            # os.replace is only atomic within one filesystem: copy next to the destination first.
            fd, name = tempfile.mkstemp(prefix=f".{sha}.", dir=dest.parent)
            os.close(fd)
            staged = Path(name)
            shutil.copyfile(tmp_path, staged)
        try:
            with open(staged, "rb+") as f:
                os.fsync(f.fileno())
            # Read-only before the rename, so the file is never visible writable under its name.
            # Its read bits as created under the process umask (recon/permissions.py: 0400 by default).
            os.chmod(staged, stat.S_IMODE(os.stat(staged).st_mode) & ~_WRITE_BITS)
            os.replace(staged, dest)
            _fsync_dir(dest.parent)
        finally:
            if staged != tmp_path:
                staged.unlink(missing_ok=True)
        tmp_path.unlink(missing_ok=True)
        log.debug("archived %s (%d bytes)", sha, size)
        return ArchivedFile(sha, dest, size, new=True)

    @property
    def index_path(self) -> Path:
        return self.root / "index.jsonl"

    def deliveries(self, source: str, name: str) -> list[str]:
        """The distinct sha256s ``source`` delivered under ``name``, oldest first."""
        return _deliveries(self.index_path, source, name)

    def record_delivery(self, source: str, name: str, sha: str) -> str | None:
        """Note that ``source`` delivered ``sha`` under ``name``; return the sha256 of the earlier
        delivery under that name that these bytes correct, or None (first delivery, or the same
        bytes again). Stable: asking again about the same bytes gives the same answer."""
        self.path(sha)  # validates the digest
        self.root.mkdir(parents=True, exist_ok=True)
        with _INDEX_LOCK, open(self.index_path, "a+", encoding="utf-8") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)  # other processes fetching into this archive
            try:
                seen = _deliveries(self.index_path, source, name)
                if sha in seen:
                    i = seen.index(sha)
                    return seen[i - 1] if i else None
                f.write(json.dumps({"source": source, "name": name, "sha256": sha,
                                    "at": datetime.now(timezone.utc).isoformat()},
                                   ensure_ascii=False, sort_keys=True) + "\n")
                f.flush()
                os.fsync(f.fileno())
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)
        if seen:
            log.warning("%s: %s delivered again with different bytes (sha256 %s…): a correction of "
                        "%s…; both are archived", source, name, sha[:12], seen[-1][:12])
            return seen[-1]
        return None

    def open(self, sha: str, whole_below: int = 256 << 20, *, verify: bool = True) -> bytes | FileView:
        """The archived file, re-hashed: its bytes, or, from ``whole_below`` bytes on, a FileView
        that reads it a range at a time (a big file is never held whole in memory).

        ``verify=False`` skips re-hashing a big file, for the one case where that proves nothing:
        the run that has just stored these bytes, hashed as they were written (``Fetched.new``),
        parsing them moments later. Every other read (reruns, backfills, audits, a file another
        run stored) re-hashes (its cost: docs/performance.md, "Figures behind design choices")."""
        path = self.path(sha)
        try:
            size = path.stat().st_size
        except FileNotFoundError as e:
            raise ArchiveMissing(path, sha) from e
        if size < whole_below:
            return self.read(sha, verify=verify)
        if verify and (found := sha256_file(path)) != sha:
            raise ArchiveCorrupted(path, sha, found)
        return FileView(path)

    def read(self, sha: str, *, verify: bool = True) -> bytes:
        """The archived bytes, re-hashed; ``ArchiveCorrupted`` if they no longer match.
        ``verify=False``: not re-hashed, for the run that has just stored them (see ``open``)."""
        path = self.path(sha)
        try:
            data = path.read_bytes()
        except FileNotFoundError as e:
            raise ArchiveMissing(path, sha) from e
        if not verify:
            return data
        found = hashlib.sha256(data).hexdigest()
        if found != sha:
            raise ArchiveCorrupted(path, sha, found)
        return data


class FileView:
    """A file read a range at a time with the few ``bytes`` operations the part-wise CSV parsers
    use (``len``, slices, ``find``, ``rfind``, ``count`` of one byte, ``startswith``): searches
    scan blocks of the file, so only the block and the slices asked for are ever in memory."""

    BLOCK = 16 << 20

    def __init__(self, path: Path):
        self.path = Path(path)
        self._fh = open(self.path, "rb")  # noqa: SIM115 - closed with the view
        self._size = os.fstat(self._fh.fileno()).st_size

    def __del__(self):
        self._fh.close()

    def __len__(self) -> int:
        return self._size

    def _range(self, start: int | None, end: int | None) -> tuple[int, int]:
        start, end, _ = slice(start, end).indices(self._size)
        return start, max(start, end)

    def __getitem__(self, key: slice) -> bytes:
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError("FileView supports plain slices only")
        start, end = self._range(key.start, key.stop)
        return os.pread(self._fh.fileno(), end - start, start)

    def startswith(self, prefix: bytes) -> bool:
        return self[:len(prefix)] == prefix

    def find(self, sub: bytes, start: int | None = 0, end: int | None = None) -> int:
        start, end = self._range(start, end)
        at = start
        while at < end:
            stop = min(end, at + self.BLOCK + len(sub) - 1)
            found = self[at:stop].find(sub)
            if found >= 0:
                return at + found
            at += self.BLOCK
        return -1

    def rfind(self, sub: bytes, start: int | None = 0, end: int | None = None) -> int:
        start, end = self._range(start, end)
        stop = end
        while stop > start:
            at = max(start, stop - self.BLOCK)
            found = self[at:min(end, stop + len(sub) - 1)].rfind(sub)
            if found >= 0:
                return at + found
            stop = at
        return -1

    def count(self, sub: bytes, start: int | None = 0, end: int | None = None) -> int:
        if len(sub) != 1:
            raise ValueError("FileView.count counts a single byte")
        start, end = self._range(start, end)
        return sum(count_byte(self[at:min(end, at + self.BLOCK)], sub[0]) for at in range(start, end, self.BLOCK))


def _deliveries(index: Path, source: str, name: str) -> list[str]:
    shas: list[str] = []
    try:
        text = index.read_text(encoding="utf-8")
    except FileNotFoundError:
        return shas
    for line in text.splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue  # a line torn by a crash mid-append: the next delivery re-records it
        if rec.get("source") == source and rec.get("name") == name and rec["sha256"] not in shas:
            shas.append(rec["sha256"])
    return shas


def summarize(source: str, fetched: list[Fetched]) -> str:
    """The one log line per source and day: "stripe: 1 file fetched, 3,412,554 bytes, new"."""
    n, new = len(fetched), sum(f.new for f in fetched)
    total = sum(f.size for f in fetched)
    corrections = sum(f.correction_of is not None and f.new for f in fetched)
    if new == n:
        status = "new"
    elif new == 0:
        status = "already archived"
    else:
        status = f"{new} new, {n - new} already archived"
    if corrections:
        status += f", {corrections} correction{'' if corrections == 1 else 's'}"
    return f"{source}: {n:,} file{'' if n == 1 else 's'} fetched, {total:,} bytes, {status}"
