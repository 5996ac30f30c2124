"""A statement line's audit copy is the archive: each line of a line-oriented format keeps its
place in its archived file, (``file_sha256``, ``byte_offset``, ``byte_length``), instead of a
``raw`` copy of its fields in the warehouse.

The spans are found at store time from the file's bytes and the lines' ``file_line`` alone, in
one forward pass over the file (numpy over 16 MB blocks), whatever the parser did:

- offsets are into the statement file as the format reads it: the archived bytes themselves, or,
  for a gzip file or a zip of one member (``schemas.archives.unwrap``), into that member's
  decompressed bytes (an offset into a compressed stream addresses nothing; the archived file's
  sha256 still vouches for the member);
- a span is the line's bytes without its line end (LF, CRLF or a bare CR: each ends one line, as
  the parsers count them), and line 1 starts after a byte-order mark;
- UTF-16 and UTF-32 files are scanned by code unit (a 0x0A byte inside a UTF-16 character is not a
  line end); GB18030/GBK, UTF-8 and 8-bit code pages by byte (none of their multi-byte
  characters contains 0x0A or 0x0D).

Reading a line back (``recon trace``, the fee check's ``card_type_field``) re-hashes the archived
file first (``Archive.open``): a file changed on disk is refused (``ArchiveCorrupted``), never
quoted. Formats whose lines are not one physical line (camt XML entries, MT940/MT942 and BAI2
records, CODA/Norma 43, zipped Alipay bills, spreadsheets) keep ``raw``, as do lines loaded by
earlier versions (their spans are NULL and trace counts lines as before).
"""
from __future__ import annotations

import logging
import mmap
from pathlib import Path

import numpy as np
import polars as pl

from connectors.archive import Archive
from recon.errors import ReconError
from schemas import archives, encoding

log = logging.getLogger(__name__)

# Line-oriented formats whose statement lines are physical lines of the file (header-row CSV read
# by schemas.quirks.read_text_csv; a row with a quoted line break spans its lines, see
# FileSpans._quoted_breaks): these store spans and no raw copy. Any other format keeps raw.
SPANNED = frozenset({"wechatpay_trade", "stripe_itemized", "bankcsv", "wechatpay_fundflow",
                     "wechatpay_personal", "stripe_payments", "adyen_settlement", "paypal_activity"})

_WHOLE_BELOW = 256 << 20  # Archive.open reads a file whole below this size
_BLOCK = 1 << 20  # cache-sized: larger blocks ran slower (fresh pages for every temporary)
_DTYPES = {("utf-16-le", 2): "<u2", ("utf-16-be", 2): ">u2", ("utf-32-le", 4): "<u4",
           ("utf-32-be", 4): ">u4"}


class LineOutsideFile(ReconError):
    """A stored line number the archived file does not have."""


def spanned(fmt: str | None) -> bool:
    """Whether lines of ``fmt`` are stored with their span and without ``raw``."""
    return fmt in SPANNED


def without_copy(frame: pl.DataFrame, fmt: str | None) -> pl.DataFrame:
    """The parsed frame without ``raw`` where the format's lines keep a span instead (so nothing
    downstream, PAN masking included, spends time on a column that is not stored)."""
    return frame.drop("raw") if spanned(fmt) and "raw" in frame.columns else frame


def member(data, name: str):
    """The statement file the format reads: a gzip/zip wrapper opened (bounded), else ``data``."""
    head = bytes(data[:4])
    if archives.is_gzip(head) or archives.is_zip(head):
        return archives.unwrap(bytes(data[:len(data)]), name)[0]
    return data


class Spans:
    """The spans of one file's lines, asked for part by part in file order: the file is scanned
    forward once (a part asking for an earlier line starts the scan again from the top)."""

    def __init__(self, data):
        self.data, self.size = data, len(data)
        try:  # in memory: a block is a view of it, not a copy (the copies cost more than the scan)
            self._memory = memoryview(data).cast("B")
        except TypeError:  # a FileView: read a block at a time
            self._memory = None
        found, self.bom, self.unit = encoding.code_unit(bytes(data[:4096]))
        self.dtype = np.dtype(_DTYPES.get((found, self.unit), "u1"))
        self._restart()

    def _restart(self) -> None:
        self._first = 1  # the line number of _starts[0]
        self._starts = np.empty(0, np.int64)
        self._ends = np.empty(0, np.int64)
        self._found: list[tuple[np.ndarray, np.ndarray]] = []  # blocks' (starts, ends) not joined yet
        self._count = 0  # lines found: len(_starts) and those in _found
        self._pos = self._line_start = self.bom  # scanned up to _pos; the open line starts at _line_start
        self._prev_cr = False

    def _add(self, starts: np.ndarray, ends: np.ndarray) -> None:
        """Lines found by a block, joined to _starts/_ends once per ``locate`` (not per block)."""
        self._found.append((starts, ends))
        self._count += len(starts)

    def _join(self) -> None:
        if self._found:
            self._starts = np.concatenate([self._starts, *(s for s, _ in self._found)])
            self._ends = np.concatenate([self._ends, *(e for _, e in self._found)])
            self._found = []

    def locate(self, lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(offsets, lengths) in bytes of the 1-based physical ``lines``."""
        if lines.size == 0:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        lo, hi = int(lines.min()), int(lines.max())
        if lo < self._first:
            self._restart()
        self._join()
        drop = min(lo - self._first, len(self._starts))  # lines before the part: never asked again
        if drop > 0:
            self._starts, self._ends = self._starts[drop:], self._ends[drop:]
            self._first += drop
            self._count -= drop
        while self._first + self._count <= hi and self._scan():
            pass
        self._join()
        if lo < self._first or self._first + len(self._starts) <= hi:
            raise LineOutsideFile(f"line {hi} is not in the file's {self._first + len(self._starts) - 1} lines.",
                                  hint="The stored line numbers and the archived bytes disagree: the "
                                       "parser and the archive are out of step; report it.")
        at = lines.astype(np.int64) - self._first
        starts = self._starts[at]
        return starts, self._ends[at] - starts

    def _scan(self) -> bool:
        """Find the line ends of the next block; False at the end of the file."""
        if self._pos >= self.size:
            return False
        u = self.unit
        n = min(max(_BLOCK // u, 1), (self.size - self._pos) // u)  # whole code units in this block
        if n == 0:  # a stray byte short of a unit at the very end
            self._pos = self.size
            return self._close()
        end = self._pos + (n + 1) * u  # one unit more: after a CR
        raw = self._memory[self._pos:end] if self._memory is not None else bytes(self.data[self._pos:end])
        units = np.frombuffer(raw[:len(raw) - len(raw) % u], self.dtype)
        block = units[:n]
        lf = np.flatnonzero(block == 10)
        n_cr = int(np.count_nonzero(block == 13))
        if n_cr:
            before_lf = np.where(lf > 0, units[np.maximum(lf - 1, 0)] == 13,
                                 self._prev_cr) if lf.size else np.empty(0, bool)
            ends_lf = lf - before_lf
            # A CRLF file: every CR of the block right before one of its LFs (no bare CR), found
            # from the LFs alone, without a second pass over the block.
            crlf_only = int(before_lf[lf > 0].sum()) == n_cr
            bare = np.empty(0, np.int64) if crlf_only else np.flatnonzero(block == 13)
            if bare.size:
                bare = bare[np.append(units, 0)[bare + 1] != 10]  # 0 past the end of the file
            if bare.size:
                order = np.argsort(np.concatenate([lf, bare]), kind="stable")
                terms = np.concatenate([lf, bare])[order]
                ends = np.concatenate([ends_lf, bare])[order]
            else:
                terms, ends = lf, ends_lf
            self._prev_cr = bool(block[-1] == 13)  # then not crlf_only: its LF is in the next block
        else:
            terms, ends = lf, lf.copy()
            if lf.size and lf[0] == 0 and self._prev_cr:  # a CRLF cut between two blocks
                ends[0] = -1
            self._prev_cr = False
        base = self._pos
        if terms.size:
            term_bytes = base + terms.astype(np.int64) * u
            starts = np.concatenate([[self._line_start], term_bytes[:-1] + u])
            self._add(starts, base + ends.astype(np.int64) * u)
            self._line_start = int(term_bytes[-1]) + u
        self._pos = base + n * u
        if self._pos >= self.size:
            return self._close()
        return True

    def _close(self) -> bool:
        """The last line when the file does not end with a line end."""
        if self._line_start < self.size:
            self._add(np.array([self._line_start], np.int64),
                      np.array([self.size - (self.size - self._line_start) % self.unit], np.int64))
            self._line_start = self.size
        return False


class FileSpans:
    """``with_spans`` for the parts of one archived file (opened lazily, only for a spanned format)."""

    def __init__(self, archive_root: Path, sha256: str, name: str, fmt: str | None):
        self.archive_root, self.sha256, self.name, self.fmt = archive_root, sha256, name, fmt
        self._spans: Spans | None = None

    def with_spans(self, frame: pl.DataFrame) -> pl.DataFrame:
        """``frame`` with ``byte_offset`` and ``byte_length`` of each ``file_line`` (and without
        ``raw``), or as it is for a format that keeps raw."""
        if not spanned(self.fmt) or frame.height == 0:
            return frame
        if self._spans is None:
            # Not re-hashed: the prepare step that parsed these lines read the same bytes verified
            # (or this run stored them, hashing them as they were written).
            self._spans = Spans(member(_unverified(self.archive_root, self.sha256), self.name))
        lines = frame["file_line"].to_numpy()
        offsets, lengths = self._spans.locate(lines)
        lengths = self._quoted_breaks(lines, offsets, lengths)
        return without_copy(frame, self.fmt).with_columns(pl.Series("byte_offset", offsets, pl.Int64),
                                                          pl.Series("byte_length", lengths, pl.Int32))


    def _quoted_breaks(self, lines: np.ndarray, offsets: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """A row whose quoted field holds a line break (RFC 4180; schemas.quirks reads it, numbered
        by its first line) spans the lines until its quotes balance. Only rows followed by a gap
        in the line numbers (or the last) can be such rows, so the rest are never looked at."""
        if self._spans.unit != 1 or lines.size == 0:
            return lengths
        order = np.argsort(lines, kind="stable")
        gap = np.append(np.diff(lines[order]) > 1, True)
        data, lengths = self._spans.data, lengths.copy()
        for i in order[gap]:
            end, line = int(offsets[i] + lengths[i]), int(lines[i])
            while bytes(data[offsets[i]:end]).count(b'"') % 2:
                try:
                    start, length = self._spans.locate(np.array([line + 1]))
                except LineOutsideFile:
                    break
                line, end = line + 1, int(start[0] + length[0])
            lengths[i] = end - offsets[i]
        return lengths


def _unverified(archive_root: Path, sha256: str):
    """The archived file, not re-hashed: mapped read-only where ``Archive.open`` would read it
    whole (the scan reads each page once; a copy in memory cost as much as the scan), else, for a
    big file, ``Archive.open``'s FileView (a range at a time: the mapping's pages would count
    towards the run's memory)."""
    archive = Archive(archive_root)
    path = archive.path(sha256)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        size = 0  # Archive.open says what is missing
    if not 0 < size < _WHOLE_BELOW:
        return archive.open(sha256, _WHOLE_BELOW, verify=False)
    with open(path, "rb") as fh:
        return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)


def line_bytes(archive: Archive, sha256: str, offset: int, length: int, *, _cache: dict | None = None) -> bytes:
    """The bytes of a stored span, read from the archived file after re-hashing it
    (``ArchiveCorrupted`` when it no longer matches its sha256; ``ArchiveMissing`` when gone)."""
    data = _cache.get(sha256) if _cache is not None else None
    if data is None:
        data = member(archive.open(sha256), sha256[:12])
        if _cache is not None:
            _cache[sha256] = data
    if offset < 0 or offset + length > len(data):
        raise LineOutsideFile(f"the span {offset}+{length} is outside archived file {sha256} "
                              f"({len(data)} bytes).",
                              hint="The warehouse and the archive disagree about this file; check that "
                                   "the config's archive is the one the load used.")
    return bytes(data[offset:offset + length])


def decode_line(span: bytes, head: bytes, declared: str | None = None) -> str:
    """A span as text: in the file's UTF-16/32 when its head says so, else UTF-8, else the
    declared encoding or the guess ``schemas.encoding`` makes (GB18030 for Chinese bills,
    CP1252); bytes valid in none are shown as escapes."""
    found, _, _ = encoding.code_unit(head)
    if found:
        return span.decode(found, errors="backslashreplace")
    try:
        return span.decode("utf-8")
    except UnicodeDecodeError:
        guess = encoding.encoding_of(span, declared=declared) or "utf-8"
        return span.decode(guess, errors="backslashreplace")


def line_text(archive: Archive, sha256: str, offset: int, length: int, declared: str | None = None,
              _cache: dict | None = None) -> str:
    """``line_bytes`` decoded for display (``decode_line``)."""
    cache = {} if _cache is None else _cache
    span = line_bytes(archive, sha256, offset, length, _cache=cache)
    return decode_line(span, bytes(cache[sha256][:4096]), declared)


# The fee check's card type for a rate card whose card_type_field is not the format's own
# (warehouse.MACROS line_fees): lines stored without raw have the field read here, once per run,
# from the archived file parsed again (verified), into the temporary table line_card_field.
CARD_FIELD_FILES = """
WITH fields AS (
    SELECT source, any_value(card_field) AS card_field FROM rate_cards GROUP BY source
    HAVING bool_or(card_type <> '*') AND NOT bool_and(coalesce(card_canonical, false))
)
SELECT DISTINCT s.source, s.file_sha256, fl.name, fl.business_date, f.card_field
FROM statement_lines s JOIN fields f ON f.source = s.source JOIN files fl ON fl.sha256 = s.file_sha256
WHERE s.business_date = $day AND s.raw IS NULL AND s.byte_offset IS NOT NULL
  AND s.txn_type IN ('payment', 'refund') AND s.fee_minor IS NOT NULL AND f.card_field IS NOT NULL
ORDER BY 1, 2
"""


def read_card_fields(con, cfg, business_date) -> int:
    """Fill ``line_card_field`` (line_id, card_type) for the day's priced lines stored without
    raw whose source's rate card reads a field the parser does not copy; how many lines."""
    from schemas import registry
    con.execute("DELETE FROM line_card_field")
    files = con.execute(CARD_FIELD_FILES, {"day": business_date}).fetchall()
    sources = {s.name: s for s in cfg.sources}
    archive = Archive(cfg.archive)
    n = 0
    for source, sha, name, file_day, field in files:
        src = sources.get(source)
        if src is None:
            log.warning("%s: no longer configured: its lines of %s are priced without their %s",
                        source, business_date, field)
            continue
        data = archive.open(sha)  # re-hashed: ArchiveCorrupted if the file changed on disk
        for parsed in registry.parse_parts(src.format, data, name=name, source=source, sha256=sha,
                                           business_date=file_day, timezone=src.timezone,
                                           options=src.options, part_bytes=None):
            if parsed.frame.height == 0:
                continue
            con.register("archived_raw", parsed.frame.select("line_id", "raw").to_arrow())
            try:
                n += con.execute(
                    "INSERT INTO line_card_field SELECT a.line_id, json_extract_string(a.raw, $path) "
                    "FROM archived_raw a WHERE a.line_id IN (SELECT line_id FROM statement_lines "
                    "WHERE file_sha256 = $sha AND business_date = $day AND raw IS NULL)",
                    {"path": f'$."{field}"', "sha": sha, "day": business_date}).fetchone()[0]
            finally:
                con.unregister("archived_raw")
    if files:
        log.info("Card types of %d lines of %s read from %d archived files (%s)", n, business_date,
                 len(files), ", ".join(sorted({f[0] for f in files})))
    return n
