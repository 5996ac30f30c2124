"""Adyen Settlement Details Report as ``.xlsx`` → the same lines as the CSV (``schemas.adyen``).

The workbook's first sheet has the CSV's columns (found by header name in row 1). Each row is
turned into the CSV's text, and ``schemas.adyen`` maps it and checks each batch's
MerchantPayout, so both downloads of one report load identically; ``file_line`` is the sheet's
row number.

Cells to text, exactly: a number in an xlsx is a binary float, often written with noise in its
last digits (openpyxl stores 99.99 as ``99.98999999999999``, a different double). Excel keeps and
shows 15 significant digits, so the value is the float to 15 significant digits, as a Decimal
(``Decimal(format(value, ".15g"))``: 99.99, 10.1, 0.3), written out without exponent (an
integral float as an integer, so Batch Number 7.0 is ``7`` as in the CSV). Whether that fits
the currency is then checked where every amount is, in ``recon.money``: a value with more places
than the currency's exponent (10.123 EUR) is not rounded; its row is quarantined with that text.
Dates become ``YYYY-MM-DD HH:MM:SS``.

Bounded: the archive is checked by ``schemas.archives`` (member count, sizes, compression ratio)
before openpyxl opens it, read-only (streaming; openpyxl parses through defusedxml when it is
installed); at most ``MAX_ROWS`` rows and ``MAX_COLUMNS`` columns are read. A formula cell is
refused: recon does not evaluate formulas, and Adyen's report has none.
"""
from __future__ import annotations

import csv
import io
import zipfile
from datetime import date, datetime
from decimal import Decimal

import openpyxl

from recon.errors import ParseError
from schemas import adyen, archives
from schemas.validation import ParsedFile

NAME = "adyen_settlement_xlsx"
MAX_ROWS = 1_048_576  # an Excel sheet's own limit
MAX_COLUMNS = 256
_SNIFF = 1 << 20  # bytes of a member read to identify the report


def identify(data: bytes, name: str) -> bool:
    if not archives.is_zip(data):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = set(z.namelist())
            if "xl/workbook.xml" not in names:
                return False
            chunk = b"".join(z.open(m).read(_SNIFF) for m in
                             ("xl/sharedStrings.xml", "xl/worksheets/sheet1.xml") if m in names)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError, RuntimeError):
        return False
    return all(w.encode("utf-8") in chunk for w in adyen._IDENTIFYING)


def parse(data: bytes, *, name: str, source: str, sha256: str, business_date: date,
          timezone: str, options: dict | None = None) -> ParsedFile:
    archives.read_members(data, name)  # bounds first: refuses a bomb before openpyxl inflates it
    text = _as_csv(_rows(data, name))
    return adyen.parse(text.encode("utf-8"), name=name, source=source, sha256=sha256,
                       business_date=business_date, timezone=timezone, options=options)


def _rows(data: bytes, name: str) -> list[list[str]]:
    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises several types for a broken package
        raise ParseError(name, None, f"expected an .xlsx workbook ({exc})") from exc
    try:
        sheet = wb.worksheets[0]
        out = []
        for number, row in enumerate(sheet.iter_rows(), start=1):
            if number > MAX_ROWS:
                raise ParseError(name, number, f"expected at most {MAX_ROWS} rows in the sheet")
            if len(row) > MAX_COLUMNS:
                raise ParseError(name, number, f"expected at most {MAX_COLUMNS} columns, found "
                                               f"{len(row)}")
            out.append([_text(cell, name, number) for cell in row])
    finally:
        wb.close()
    while out and not any(out[-1]):
        out.pop()
    return out


def _text(cell, name: str, row: int) -> str:
    value = getattr(cell, "value", None)
    if getattr(cell, "data_type", None) == "f" or (isinstance(value, str) and value.startswith("=")):
        raise ParseError(name, row, f"expected values, found the formula {str(value)[:40]!r} in "
                                    f"cell {getattr(cell, 'coordinate', '?')}: recon does not "
                                    f"evaluate formulas; download the report from Adyen again")
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        exact = Decimal(format(value, ".15g"))  # Excel's 15 significant digits
        if not exact.is_finite():
            return repr(value)
        return str(int(exact)) if exact == exact.to_integral_value() else format(exact, "f")
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    # a line break inside a cell would split the CSV line: one space, as in the Excel view
    return " ".join(str(value).replace("\r", "\n").split("\n")).strip()


def _as_csv(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    width = max((len(r) for r in rows), default=0)
    for row in rows:
        writer.writerow(row + [""] * (width - len(row)))
    return buffer.getvalue()
