"""Reading hooks shared by the PSP bill parsers (WeChat fund flow, Alipay, Adyen, PayPal, UnionPay).

Each hook is one small function so a format module stays a column mapping plus its control totals
(STYLE.md §2): find the table inside a text with preamble and footer lines, read it as text columns
with physical line numbers, turn local times into UTC, and build the control-total checks.
"""
from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from datetime import date

import polars as pl

from recon.errors import ParseError
from schemas import quirks
from schemas.encoding import decode  # noqa: F401 (re-exported for the PSP modules)
from schemas.validation import ControlCheck, ParsedFile
from schemas.validation import finish as _finish

PAD = " \t`\u3000"  # WeChat backticks, Alipay spaces and tabs, full-width spaces
_QUOTE_PAD = re.compile(r'"[ \t]+(?=,|$)')  # `"3985734"<TAB>,`: padding after a quoted value


def text_of(data: bytes, name: str, *, declared: str | None = None) -> list[str]:
    """The file's lines (BOM removed, CRLF/CR normalised) via ``schemas.encoding``."""
    return decode(data, name, declared=declared).split("\n")


def has_words(data: bytes, words: Iterable[str], *, encodings=("utf-8", "gb18030"),
              head: int = 4096) -> bool:
    """Cheap identification: every word occurs in the first bytes, in one of the encodings."""
    chunk = data[:head]
    return any(all(w.encode(enc) in chunk for w in words) for enc in encodings)


def find_line(lines: list[str], test, name: str, what: str, start: int = 0) -> int:
    for i in range(start, len(lines)):
        if test(lines[i]):
            return i
    raise ParseError(name, None, f"expected {what}")


def table(lines: list[str], header: int, end: int, name: str, required: list[str]) -> pl.DataFrame:
    """Lines ``header`` .. ``end`` (exclusive) as a text table with ``file_line`` (1-based, physical).

    Column names and values are stripped of padding (spaces, tabs, backticks); a trailing empty
    column (a line ending in a comma) is dropped. Columns are then looked up by name only.
    """
    names = [c.strip(PAD) for c in next(csv.reader([_QUOTE_PAD.sub('"', lines[header])]))]
    quirks.require_columns(names, required, name)
    block = "\n".join(_QUOTE_PAD.sub('"', ln) for ln in lines[header:end]).encode("utf-8")
    block = quirks.requote_backtick_rows(block)  # WeChat: a comma inside a value is text
    frame = quirks.read_text_csv(block, name, first_line=header + 1)
    renames = {old: new if new else f"_blank{i}" for i, (old, new)
               in enumerate(zip(frame.columns[:-1], names, strict=False))}
    frame = frame.rename(renames)
    frame = frame.drop([c for c in frame.columns if c.startswith("_blank")])
    values = [c for c in frame.columns if c != "file_line"]
    return frame.with_columns([pl.col(c).str.strip_chars(PAD).fill_null("") for c in values])


def local_to_utc(text: pl.Expr, timezone: str, fmt: str = "%Y-%m-%d %H:%M:%S") -> pl.Expr:
    """Naive local time text in ``timezone`` → UTC; null if unreadable or impossible."""
    return (text.str.strip_chars().str.to_datetime(fmt, strict=False, time_unit="us")
            .dt.replace_time_zone(timezone, ambiguous="null", non_existent="null")
            .dt.convert_time_zone("UTC"))


def base(sha256: str, source: str, business_date: date) -> list[pl.Expr]:
    """The lineage columns every statement line carries."""
    return [quirks.line_id(sha256), pl.lit(source).alias("source"), pl.lit(sha256).alias("file_sha256"),
            pl.col("file_line"), pl.lit(business_date).alias("business_date")]


def raw(frame: pl.DataFrame) -> pl.Expr:
    return quirks.raw_json(_original(frame))


def audit(frame: pl.DataFrame, raw: bool = True) -> list[pl.Expr]:
    """raw (unless ``raw=False``) and the canonical attributes read from the same original fields
    (quirks.audit; none of these formats declares a card-type field)."""
    return quirks.audit(_original(frame), raw=raw)


def _original(frame: pl.DataFrame) -> list[str]:
    return [c for c in frame.columns if c != "file_line" and not c.startswith("_")]


def count_check(label: str, expected: str | int | None, found: int) -> ControlCheck:
    shown = "(none)" if expected is None else str(expected).strip()
    return ControlCheck(label, shown, str(found), shown == str(found))


def sum_check(label: str, expected_text: str | None, rows: pl.DataFrame, amount: pl.Expr) -> ControlCheck:
    """Σ ``amount`` (exact amount text per row) over ``rows`` against a total written as text.

    Compared in ten-thousandths (quirks.CHECK_EXPONENT): an unreadable value in the rows or in
    the total makes the check fail and says so, it is never left out silently.
    """
    found = rows.select(quirks.check_units(amount).sum().alias("sum"),
                        (quirks.check_units(amount).is_null()).sum().alias("bad")).row(0, named=True)
    expected = None if expected_text is None else pl.select(
        quirks.check_units(pl.lit(expected_text.replace(",", "")))).item()
    shown = quirks.show_units(found["sum"] if rows.height else 0)
    if found["bad"]:
        shown += f" ({found['bad']} unreadable values left out)"
    want = expected_text if expected is None else quirks.show_units(expected)
    ok = expected is not None and not found["bad"] and expected == (found["sum"] or 0)
    return ControlCheck(label, want or "(none)", shown, ok)


_NUMBER = re.compile(r"-?[\d,]+(?:\.\d+)?")


def numbers(text: str) -> list[str]:
    return _NUMBER.findall(text)


def strip_grouping(text: pl.Expr, decimal: str = ".") -> pl.Expr:
    """Locale number text → plain ``-1234.56`` text (grouping removed, decimal comma turned)."""
    text = text.str.strip_chars().str.replace_all("\u00a0", "").str.replace_all(" ", "")
    if decimal == ",":
        return text.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True)
    return text.str.replace_all(",", "", literal=True)


def finish(frame: pl.DataFrame, checks, *, file_name: str, source: str, required=(),
           originals: pl.DataFrame | None = None, raw: bool = True) -> ParsedFile:
    """validation.finish, with empty text fields turned into nulls (a blank reference is no reference)."""
    text = [c for c, t in frame.schema.items()
            if t == pl.String and c != "raw" and c not in quirks.ATTRIBUTES]  # '' is "none" there
    frame = frame.with_columns([pl.when(pl.col(c) != "").then(pl.col(c)).alias(c) for c in text])
    return _finish(frame, checks, file_name=file_name, source=source, required=required,
                   originals=originals, raw=raw)
