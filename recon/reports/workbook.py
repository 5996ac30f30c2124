"""The day's workbook: Summary, Breaks, Cleared, Aging, Payouts, Fees, Channels, Positions,
Tolerances and Receivers (分账 per receiver) sheets.

Written with openpyxl's write-only mode, so a day with a million breaks streams to disk instead of
holding a cell object per value (one module per sheet in :mod:`recon.reports.sheets`). The Breaks
sheet's rows, the only table that grows with the day, are written as XML text into a file beside
the workbook and spliced into the package when it is saved (:mod:`recon.reports.sheets.xmlrows`:
the same cells, ~4x faster than a cell object each).
Consequences of streaming, chosen on purpose:

- column widths are fitted to the header and the first ``WIDTH_SAMPLE`` rows (the ``<cols>``
  element precedes the rows in the file), capped at ``MAX_WIDTH``;
- the Summary sheet is created first (it is the first tab) but filled last, once the Breaks sheet
  knows whether it was cut and how much source text had to be cleaned.

Sheet names, headers and the values recon writes follow the language (:mod:`recon.reports.i18n`);
the code refers to each sheet by its English name (``SHEETS``). Every sheet prints landscape with
the run and business date in its header and "page x of y" in its footer (``cells.print_setup``).

The workbook names its run twice, for ``recon annotations import``: the Summary's ``run id`` and
the custom document properties ``recon_run_id`` / ``recon_language``. The file is byte-for-byte
reproducible: document properties and zip entry times come from ``summary.started_at``, never
from the clock.
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from openpyxl import Workbook
from openpyxl.packaging.custom import StringProperty
from openpyxl.xml.functions import tostring
from zipfile import ZIP_DEFLATED, ZipFile, ZipInfo

from recon.reports.model import RunSummary
from recon.reports.sheets import tables, xmlrows
from recon.reports.sheets.breaks import (BREAK_COLUMNS, RESOLUTION_HEADERS, write_breaks,
                                         write_breaks_csv)
from recon.reports.sheets.cells import (DATETIME_FORMAT, LANGUAGES, Cells, Progress,
                                        amount_format, label, local_time)
from recon.reports.sheets.cleared import write_cleared
from recon.reports.sheets.summary import summary_rows, write_summary
from recon.reports.sheets.tables import FEE_COLUMNS, PAYOUT_COLUMNS
from recon.reports.sheets.receivers import write_receivers
from recon.reports.sheets.tolerances import write_tolerances

log = logging.getLogger(__name__)

__all__ = ["BREAK_COLUMNS", "DATETIME_FORMAT", "FEE_COLUMNS", "PAYOUT_COLUMNS",
           "RESOLUTION_HEADERS", "SHEETS", "amount_format", "local_time", "overflow_csv_path",
           "write_breaks_csv", "write_workbook"]

EXCEL_MAX_ROWS = 1_048_576
DEFAULT_MAX_ROWS = 1_000_000
SHEETS = ("Summary", "Breaks", "Cleared", "Aging", "Payouts", "Fees", "Channels", "Positions",
          "Tolerances", "Receivers")
RUN_PROPERTY = "recon_run_id"
LANGUAGE_PROPERTY = "recon_language"


def overflow_csv_path(workbook_path: Path) -> Path:
    """Where the full break list goes when the Breaks sheet is cut: beside the workbook."""
    return Path(workbook_path).with_suffix(".breaks.csv")


def _save_reproducibly(wb: Workbook, path: Path, when: datetime,
                       fragments: dict[str, Path] | None = None) -> None:
    """Save, then rewrite the package with fixed timestamps (openpyxl stamps the clock) and each
    placeholder row of ``fragments`` replaced by the rows in its file (xmlrows.py)."""
    if when.tzinfo is not None:
        when = when.astimezone(timezone.utc).replace(tzinfo=None)
    fd, raw = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".raw")
    os.close(fd)
    tmp = path.with_name(path.name + ".partial")
    try:
        wb.save(raw)
        wb.properties.created = wb.properties.modified = when
        core = tostring(wb.properties.to_tree())
        stamp = max(when, datetime(1980, 1, 1)).timetuple()[:6]
        with ZipFile(raw) as src, ZipFile(tmp, "w", ZIP_DEFLATED, allowZip64=True) as dst:
            for info in src.infolist():
                entry = ZipInfo(info.filename, date_time=stamp)
                entry.compress_type = ZIP_DEFLATED
                if info.filename == "docProps/core.xml":
                    dst.writestr(entry, core)
                    continue
                cut = _placeholder(src, info, fragments or {})
                if cut is not None:
                    (before, after), rows = cut
                    entry.file_size = len(before) + rows.stat().st_size + len(after)
                    with dst.open(entry, "w") as fout:
                        fout.write(before)
                        for block in xmlrows.chunks(rows):
                            fout.write(block)
                        fout.write(after)
                    continue
                entry.file_size = info.file_size  # lets zipfile choose ZIP64 for a huge sheet
                with src.open(info) as fin, dst.open(entry, "w") as fout:
                    shutil.copyfileobj(fin, fout, 1 << 20)
        tmp.replace(path)
    finally:
        Path(raw).unlink(missing_ok=True)
        tmp.unlink(missing_ok=True)


def _placeholder(src: ZipFile, info: ZipInfo, fragments: dict[str, Path]
                 ) -> tuple[tuple[bytes, bytes], Path] | None:
    """A worksheet holding one of the placeholder rows: its XML around that row, and the rows."""
    if not fragments or not info.filename.startswith("xl/worksheets/") or info.file_size > 64 << 20:
        return None  # the sheet of a placeholder holds its header and that one row only
    data = src.read(info)
    for placeholder, rows in fragments.items():
        if (cut := xmlrows.splice(data, placeholder)) is not None:
            return cut, rows
    return None


def write_workbook(summary: RunSummary, path: Path, *, language: str = "en",
                   progress: Progress | None = None, max_rows: int = DEFAULT_MAX_ROWS) -> Path:
    """Write the day's workbook to ``path``; beyond ``max_rows`` breaks also ``*.breaks.csv``.

    ``progress(done, total)`` is called every 10,000 rows of the Breaks sheet and at its end.
    """
    if language not in LANGUAGES:
        raise ValueError(f"language {language!r}: expected one of {', '.join(LANGUAGES)}")
    if not 0 < max_rows < EXCEL_MAX_ROWS:
        raise ValueError(f"max_rows {max_rows}: expected 1 to {EXCEL_MAX_ROWS - 1} (one row is "
                         "the header)")
    path = Path(path)
    wb = Workbook(write_only=True)
    for name in SHEETS:
        wb.create_sheet(label(name, language))
    wb.properties.creator = "recon"
    wb.properties.title = f"Reconciliation {summary.business_date.isoformat()}"
    wb.properties.identifier = summary.run_id
    wb.custom_doc_props.append(StringProperty(name=RUN_PROPERTY, value=summary.run_id))
    wb.custom_doc_props.append(StringProperty(name=LANGUAGE_PROPERTY, value=language))
    rows_dir = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.rows-"))
    try:
        cells = Cells(wb, rows_dir)
        cells.language = language
        cells.page_title = (f"{label('business date', language)} "
                            f"{summary.business_date.isoformat()}")
        cells.page_run = f"{label('run id', language)} {summary.run_id}"
        _write_sheets(wb, summary, path, language, progress, max_rows, cells)
    finally:
        shutil.rmtree(rows_dir, ignore_errors=True)
    return path


def _write_sheets(wb: Workbook, summary: RunSummary, path: Path, language: str,
                  progress: Progress | None, max_rows: int, cells: Cells) -> None:
    ws = {name: wb[label(name, language)] for name in SHEETS}

    breaks = summary.breaks
    note = ""
    if len(breaks) > max_rows:
        csv_path = write_breaks_csv(breaks, overflow_csv_path(path), language=language,
                                    annotations=summary.annotations, run_id=summary.run_id,
                                    key=summary.check_key)
        note = (f"Breaks sheet shows {max_rows:,} of {len(breaks):,}; the full list is in "
                f"{csv_path.name}")
        log.warning("%s", note)
        if language == "zh":
            note = f"差异明细显示 {len(breaks):,} 条中的 {max_rows:,} 条；完整清单见 {csv_path.name}"
        breaks = breaks[:max_rows]
    shown = write_breaks(ws["Breaks"], cells, breaks, language, summary.annotations, progress,
                         run_id=summary.run_id, key=summary.check_key)
    write_cleared(ws["Cleared"], cells, summary, language)
    tables.write_aging(ws["Aging"], cells, summary, language)
    tables.write_payouts(ws["Payouts"], cells, summary, language)
    tables.write_fees(ws["Fees"], cells, summary, language)
    tables.write_channels(ws["Channels"], cells, summary, language)
    tables.write_positions(ws["Positions"], cells, summary, language)
    write_tolerances(ws["Tolerances"], cells, summary, language)
    write_receivers(ws["Receivers"], cells, summary, language)
    write_summary(ws["Summary"], *summary_rows(summary, cells, language, note), cells=cells)

    _save_reproducibly(wb, path, summary.started_at, cells.fragments)
    log.info("Workbook: %d of %d breaks, %d fee rows, %d payouts, %d positions, %d links within "
             "tolerance → %s; source text: %d control characters removed, %d card numbers masked, "
             "%d formula-like texts kept as text", shown, len(summary.breaks), len(summary.fees),
             len(summary.payouts), len(summary.positions), len(summary.tolerances), path,
             cells.removed, cells.masked, cells.quoted)
