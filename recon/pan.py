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

import polars as pl

from recon.reports.safe import compact, mask_pans

__all__ = ["STATEMENT_TEXT", "LEDGER_TEXT", "QUARANTINE_TEXT", "REFERENCES", "PanFilter",
           "install_log_masking", "mask_frame", "mask_text"]

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
