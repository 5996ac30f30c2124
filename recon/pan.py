"""Card numbers (PANs) never stored, logged or reported in full.

A PAN is a Luhn-valid run of 13–19 digits not beginning with 0 (no issued card number does) and
not touching a letter (then it is part of an identifier), spaces or dashes allowed between
digits; it is shown
as its first 6 and last 4 digits (what PCI DSS permits to display). The digit rules are those of
``recon.reports.safe`` (one definition: the reports mask exactly what the warehouse masks).

- :func:`mask_frame` masks free-text columns of a polars frame before it is loaded: a vectorised
  regular expression finds the few candidate cells, and only those get the Luhn check;
- :func:`mask_text` masks one string;
- :class:`PanFilter` / :func:`install_log_masking` mask every log record, whichever logger
  (recon, Prefect, paramiko) wrote it.

Identifiers are not free text: a 16-digit PSP reference passes Luhn one time in ten. So the
reference columns are never masked, and a digit run inside ``raw`` that equals one of the row's
own references is left as it is (the audit copy keeps the identifiers it is matched by).
"""
from __future__ import annotations

import logging
import re

import numpy as np
import polars as pl

from recon.reports.safe import compact, mask_pans

__all__ = ["STATEMENT_TEXT", "LEDGER_TEXT", "QUARANTINE_TEXT", "REFERENCES", "PanFilter",
           "install_log_masking", "mask_frame", "mask_frame_fast", "mask_text"]

# Free-text columns of the canonical frames (schemas/canonical.py, schemas/validation.py), and
# the merchant ids copied out of raw: masked as raw is, so they always equal what raw holds.
STATEMENT_TEXT = ("description", "counterparty", "merchant_id", "sub_merchant_id", "raw")
LEDGER_TEXT = ("description", "counterparty")
QUARANTINE_TEXT = ("value", "reason")
REFERENCES = ("psp_reference", "merchant_reference", "original_reference", "payout_id",
              "end_to_end_id", "bank_reference", "line_id", "entry_id")

CANDIDATE = r"[0-9](?:[ -]?[0-9]){12}"  # at least 13 digits with single separators
_CANDIDATE_RE = re.compile(CANDIDATE)


def mask_text(s: str | None, keep: frozenset[str] = frozenset()) -> str | None:
    """``s`` with every PAN masked; digit runs whose digits are in ``keep`` are left alone."""
    if s is None or not _CANDIDATE_RE.search(s):
        return s
    return mask_pans(s, keep)[0]


def mask_frame(frame: pl.DataFrame, columns: tuple[str, ...] | list[str] = STATEMENT_TEXT) -> pl.DataFrame:
    """A copy of ``frame`` with PANs masked in ``columns`` (those present; the input is not changed).

    Vectorised: ``str.contains`` picks candidate cells; only those are checked digit by digit.
    """
    columns = [c for c in columns if c in frame.columns and frame.schema[c] == pl.String]
    if not columns or frame.height == 0:
        return frame
    hit = pl.any_horizontal([pl.col(c).str.contains(CANDIDATE).fill_null(False) for c in columns])
    idx = frame.with_row_index("__row").filter(hit)
    if idx.height == 0:
        return frame
    refs = [c for c in REFERENCES if c in frame.columns and frame.schema[c] == pl.String]
    fixed = {c: [] for c in columns}
    for row in idx.iter_rows(named=True):
        keep = frozenset(compact(row[r]) for r in refs if row[r])
        for c in columns:
            fixed[c].append(mask_text(row[c], keep))
    patch = pl.DataFrame({"__row": idx["__row"], **{f"__m_{c}": pl.Series(v, dtype=pl.String)
                                                    for c, v in fixed.items()}})
    return (frame.with_row_index("__row").join(patch, on="__row", how="left", maintain_order="left")
            .with_columns([pl.coalesce(f"__m_{c}", c).alias(c) for c in columns])
            .select(frame.columns))


class PanFilter(logging.Filter):
    """Masks PANs in a record's message (after %-formatting) and in its exception text."""

    def filter(self, record: logging.LogRecord) -> bool:
        _mask_record(record)
        return True


def _mask_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a malformed record is logging's problem, not ours
        return
    masked = mask_text(message)
    if masked != message:
        record.msg, record.args = masked, None
    if record.exc_info and not record.exc_text:
        record.exc_text = mask_text(logging.Formatter().formatException(record.exc_info))
    elif record.exc_text:
        record.exc_text = mask_text(record.exc_text)


_installed = False


def install_log_masking() -> None:
    """Mask PANs in every log record from now on, whatever logger or handler it goes to
    (the record factory runs before any handler, including Prefect's API log handler)."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _mask_record(record)
        return record

    logging.setLogRecordFactory(factory)
    _installed = True


# The loads' fast path: mask_frame's result, found vectorised (moved from recon.pipeline so that
# masking lives in one module).
_LONG_RUN = r"[0-9](?:[ -]?[0-9]){12,}"  # a maximal digit run (safe._DIGIT_RUN_RE) of 13+ digits


_DOUBLED_DIGIT = np.array([0, 2, 4, 6, 8, 1, 3, 5, 7, 9], dtype=np.uint8)  # d → digit sum of 2d
_DOUBLED_AT = np.arange(19)[::-1] % 2 == 1  # of 19 digits: every second one from the right


def _luhn_ok(digits: pl.Series) -> pl.Series:
    """recon.reports.safe.luhn_ok, vectorised, for ASCII digit strings of at most 19 characters:
    left-padded with zeros to 19 (zeros add nothing to the sum) and read as one digit matrix."""
    if digits.len() == 0:
        return pl.Series(digits.name, [], dtype=pl.Boolean)
    text = digits.str.zfill(19).str.join("").item().encode("ascii")
    d = np.frombuffer(text, dtype=np.uint8).reshape(-1, 19) - ord("0")
    total = np.where(_DOUBLED_AT, _DOUBLED_DIGIT[d], d).sum(axis=1, dtype=np.int32)
    return pl.Series(digits.name, total % 10 == 0)


def mask_frame_fast(frame: pl.DataFrame, columns: tuple[str, ...]) -> pl.DataFrame:
    """``mask_frame(frame, columns)``, the same bytes, without walking every row in Python: what
    the loads call on every part of every file.

    ``pan.mask_frame`` walks every row with a 13-digit run; PSP exports have one on every line
    (order ids, balance-transaction ids in ``raw``), far too slow for a big file. A row can
    only change where a digit run of 13+ digits that is not one of the row's own references either
    has separators (Python decides which groups form a card) or is itself a Luhn-valid 13–19
    digit number not beginning with 0 (``safe._is_pan``), and that touches no letter
    (``safe._glued``); those rows alone are found here, vectorised, and the few that a plain
    replacement cannot mask exactly go through ``pan.mask_frame``.
    """
    cols = [c for c in columns if c in frame.columns and frame.schema[c] == pl.String]
    if not cols or frame.height == 0:
        return frame
    refs = [c for c in REFERENCES if c in frame.columns and frame.schema[c] == pl.String]
    row = pl.int_range(pl.len(), dtype=pl.Int64).alias("__row")
    found = pl.concat([_long_runs(frame, c, row) for c in cols])
    # A run touching a letter is part of an identifier, never a card (safe._glued); where a cell
    # holds the same digits glued and free, _mask_plain (which masks equal pieces) cannot tell
    # them apart: those rows go to pan.mask_frame below, as do rows whose runs did not pair up.
    glued = found.filter(pl.col("glued"))
    odd = found.filter(pl.col("glued").is_null())["__row"]
    runs = found.filter(~pl.col("glued")).drop("glued")
    runs = runs.with_columns(pl.col("run").str.replace_all("[ -]", "").alias("digits"))
    plain = runs.filter((pl.col("digits") == pl.col("run")) & (pl.col("digits").str.len_bytes() <= 19))
    suspect = pl.concat([runs.filter(pl.col("digits") != pl.col("run")),
                         plain.filter(_luhn_ok(plain["digits"]) & ~plain["digits"].str.starts_with("0"))])
    if refs and suspect.height:
        keep = pl.concat([frame.select(row, pl.col(r).str.replace_all("[ -]", "").alias("digits"))
                          .join(suspect.select("__row").unique(), on="__row", how="semi")
                          for r in refs]).drop_nulls("digits")
        suspect = suspect.join(keep, on=["__row", "digits"], how="anti")
    if suspect.height == 0 and odd.len() == 0:
        return frame
    # A row whose every suspect run is plain (no separators) is masked here: each such run is a
    # whole card (Luhn-valid, 13–19 digits, not beginning with 0, touching no letter), shown as
    # first 6 + one "*" per hidden digit + last 4, exactly what safe._mask_run does with it.
    # Rows with a separated run go to pan.mask_frame, which decides which digit groups form a card.
    separated = pl.concat([
        suspect.filter(pl.col("digits") != pl.col("run"))["__row"],
        suspect.join(glued.select("__row", "__col", pl.col("run").alias("digits")),
                     on=["__row", "__col", "digits"], how="semi")["__row"],
        odd])
    nul = frame.select(row, pl.any_horizontal(pl.col(c).str.contains("\x00", literal=True).fill_null(False)
                                              for c in cols).alias("nul")).filter("nul")["__row"]
    separated = pl.concat([separated, nul]).unique()  # NUL is _mask_plain's marker: never there
    fast = (suspect.filter(~pl.col("__row").is_in(separated.implode()))
            .select("__row", "__col", "digits").unique())
    out = frame
    if fast.height:
        out = _mask_plain(out, cols, fast)
    if separated.len() == 0:
        return out
    need = separated.sort()
    fixed = mask_frame(frame[need].select(*cols, *refs), cols)  # the same row: texts + its references
    return out.with_columns(out[c].scatter(need, fixed[c]) for c in cols)


# A cell can only change where it holds a maximal digit run that touches no letter and is either
# plain with 13-19 digits, or has 13+ digits and a separator (safe.mask_pans masks nothing else).
# Matched by one DFA pass without captures, this keeps the extraction below to the few cells that
# can hold a card: PSP ids such as ``ch_32026112000000000012291`` (23 digits) or
# ``txn_320261120C0000000012291`` (glued) are on every line and can not. A superset, not a
# decision: a run found here is still judged exactly by _long_runs and what follows.
_PLAIN_CANDIDATE = r"(?:^|[^0-9A-Za-z])[0-9]{13,19}(?:[^0-9A-Za-z]|$)"
_SEPARATED_CANDIDATE = "|".join(  # k digits before the run's first separator, 13+ digits in all
    [rf"[0-9]{{{k}}}[ -][0-9](?:[ -]?[0-9]){{{12 - k},}}" for k in range(1, 13)] + [r"[0-9]{13}[ -][0-9]"])
_CANDIDATE_CELL = f"{_PLAIN_CANDIDATE}|{_SEPARATED_CANDIDATE}"
_BEFORE_RUN = rf"(?:^|[^0-9]){_LONG_RUN}"  # a 13+ digit run with the character before it
_AFTER_RUN = rf"{_LONG_RUN}(?:[^0-9]|$)"  # ... with the character after it


def _long_runs(frame: pl.DataFrame, c: str, row: pl.Expr) -> pl.DataFrame:
    """Every maximal run of 13+ digits (single separators allowed) in the cells of column ``c``
    that may hold a card (``_CANDIDATE_CELL``): ``__row``, ``__col``, ``run``, and ``glued`` (it
    touches an ASCII letter; NULL when a cell's runs did not pair up, which sends the row to
    pan.mask_frame).

    Polars' regular expressions have no look-around, so each run is extracted twice: with the
    character before it, and with the character after it. Neither pattern can start inside a run
    or take a character of the next run, so both list the same runs in the same order."""
    text = pl.col(c)
    cells = (frame.select(row, text).filter(text.str.contains(_CANDIDATE_CELL))
             .select("__row", pl.lit(c).alias("__col"), text.str.extract_all(_BEFORE_RUN).alias("before"),
                     text.str.extract_all(_AFTER_RUN).alias("after"))
             .filter(pl.col("before").list.len() > 0))
    paired = pl.col("before").list.len() == pl.col("after").list.len()
    odd = cells.filter(~paired).select("__row", "__col", pl.lit(None, pl.String).alias("run"),
                                       pl.lit(None, pl.Boolean).alias("glued"))
    runs = (cells.filter(paired).explode(["before", "after"])
            .select("__row", "__col", pl.col("before").str.replace(r"^[^0-9]", "").alias("run"),
                    (pl.col("before").str.contains("^[A-Za-z]")
                     | pl.col("after").str.contains("[A-Za-z]$")).alias("glued")))
    return pl.concat([runs, odd])


def _mask_plain(frame: pl.DataFrame, cols: list[str], runs: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with the plain digit runs ``runs`` (``__row``, ``__col``, ``digits``) masked.

    Each cell holding such a run is cut at its 13+ digit runs (wrapped in NUL, then split: the
    pieces alternate text between runs and whole runs), the listed runs are replaced, the pieces
    rejoined. Only the cells where a run was found are cut (a run equal to it elsewhere in the
    row is found in its own cell too: maximal runs are found per cell)."""
    n = pl.col("piece").str.len_chars()
    for c in cols:
        hits = (runs.filter(pl.col("__col") == c).select("__row", pl.col("digits").alias("piece"))
                .with_columns(pl.lit(True).alias("__hit")))
        if hits.height == 0:
            continue
        rows = hits["__row"].unique().sort()
        cells = (frame[rows].select(pl.Series("__row", rows),
                                    pl.col(c).str.replace_all(f"({_LONG_RUN})", "\x00${1}\x00")
                                    .str.split("\x00").alias("piece"))
                 .with_columns(pl.int_range(pl.len()).alias("__i")).explode("piece")
                 .join(hits, on=["__row", "piece"], how="left", maintain_order="left"))
        masked = (cells.with_columns(pl.when(pl.col("__hit"))
                                     .then(pl.col("piece").str.head(6) + pl.lit("*" * 9).str.head(n - 10)
                                           + pl.col("piece").str.tail(4))
                                     .otherwise(pl.col("piece")).alias("piece"))
                  .group_by("__i", maintain_order=True)
                  .agg(pl.first("__row"), pl.col("piece").str.join("")))
        frame = frame.with_columns(frame[c].scatter(masked["__row"], masked["piece"]))
    return frame
