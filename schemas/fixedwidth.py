"""Reading hooks shared by the fixed-width bank formats (CODA, Norma 43): records, fields, dates.

A record is one physical line of a fixed length; fields are cut by the 1-based positions the
standards print, so each format module reads like its specification. Amounts stay text until
``frame`` turns them into minor units exactly (``recon.money.minor_expr``): an amount the
currency cannot hold exactly becomes null and its line is quarantined with the original text.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import polars as pl

from recon.errors import ParseError
from recon.money import EXPONENTS, exponent_expr, minor_expr
from schemas import encoding, quirks
from schemas.validation import ParsedFile, finish


@dataclass
class Record:
    text: str
    line: int  # physical line in the file, 1-based

    def at(self, first: int, last: int) -> str:
        """Positions ``first``..``last`` inclusive, 1-based, as the standards number them."""
        return self.text[first - 1:last]


def records(text: str, name: str, width: int, what: str) -> list[Record]:
    """Non-blank lines as records of exactly ``width`` characters (trailing blanks that a transfer
    stripped are put back); a longer line is a ParseError, never cut."""
    out = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        if len(line) > width:
            raise ParseError(name, number, f"expected {what} records of {width} characters, "
                                           f"found {len(line)}")
        out.append(Record(line.ljust(width), number))
    return out


def digits(record: Record, first: int, last: int, name: str, what: str) -> int:
    text = record.at(first, last)
    if not text.isdigit() or not text.isascii():
        raise ParseError(name, record.line, f"expected {what} as {last - first + 1} digits at "
                                            f"positions {first}-{last}, found {text!r}")
    return int(text)


def day(text: str, order: str) -> date | None:
    """``DDMMYY`` or ``YYMMDD`` (``order``) → date in 2000-2099; None for zeros or no date."""
    if len(text) != 6 or not text.isdigit() or text == "000000":
        return None
    d, m, y = (text[:2], text[2:4], text[4:]) if order == "DDMMYY" else (text[4:], text[2:4], text[:2])
    try:
        return date(2000 + int(y), int(m), int(d))
    except ValueError:
        return None


def units_text(count: int, decimals: int) -> str:
    """An integer count with implied decimals → plain decimal text (``123450``, 3 → ``123.450``)."""
    return str(Decimal(count).scaleb(-decimals))


def show(count: int | None, decimals: int, currency: str = "") -> str:
    if count is None:
        return "(unreadable)"
    value = quirks.show_units(count * 10 ** (quirks.CHECK_EXPONENT - decimals))
    return f"{value} {currency}".strip()


_SCHEMA = {"file_line": pl.Int64, "amount": pl.String, "currency": pl.String,
           "booked": pl.Date, "booked_text": pl.String, "value_date": pl.Date,
           "value_text": pl.String, "txn_type": pl.String, "bank_reference": pl.String,
           "merchant_reference": pl.String, "end_to_end_id": pl.String,
           "payment_method": pl.String, "counterparty": pl.String, "description": pl.String,
           "orig_amount": pl.String, "orig_currency": pl.String}


def frame(lines: list[dict], *, sha256: str, source: str, business_date: date,
          timezone: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Canonical frame and originals from one dict per statement line (keys of ``_SCHEMA``;
    ``amount`` and ``orig_amount`` signed decimal text, ``booked`` the booking day, midnight in
    ``timezone``)."""
    tz = ZoneInfo(timezone)
    rows = [{**{k: ln.get(k) for k in _SCHEMA},
             "booked_at": None if ln["booked"] is None
             else datetime.combine(ln["booked"], time(), tz).astimezone(UTC),
             "raw": json.dumps(ln["raw"], ensure_ascii=False, sort_keys=True)} for ln in lines]
    schema = {**_SCHEMA, "booked_at": pl.Datetime("us", "UTC"), "raw": pl.String}
    table = pl.DataFrame(rows, schema=schema)
    known = pl.col("currency").is_in(list(EXPONENTS))
    out = table.select(
        quirks.line_id(sha256), pl.lit(source).alias("source"), pl.lit(sha256).alias("file_sha256"),
        "file_line", pl.lit(business_date).alias("business_date"), "booked_at", "value_date",
        "txn_type",
        pl.when(known).then(minor_expr(pl.col("amount"), exponent_expr(pl.col("currency"))))
          .alias("amount_minor"),
        "currency",
        pl.when(pl.col("orig_currency").is_in(list(EXPONENTS)))
          .then(minor_expr(pl.col("orig_amount"), exponent_expr(pl.col("orig_currency"))))
          .alias("orig_amount_minor"),
        "orig_currency", "end_to_end_id", "bank_reference", "merchant_reference", "payment_method",
        "counterparty", "description", "raw")
    originals = table.select("file_line", pl.col("amount").alias("amount_minor"),
                             pl.col("booked_text").alias("booked_at"),
                             pl.col("value_text").alias("value_date"),
                             pl.col("currency"), pl.col("orig_amount").alias("orig_amount_minor"))
    return out, originals



def signed(r: Record, sign_at: int, first: int, last: int, signs: dict[str, int], said: str,
           name: str, what: str) -> int:
    """The digits ``first``..``last`` signed by the character at ``sign_at`` (``signs``: character
    to +1 or -1; ``said``: the characters as the format's spec names them, for the error)."""
    sign = r.at(sign_at, sign_at)
    if sign not in signs:
        raise ParseError(name, r.line, f"expected the {what} sign {said} in position {sign_at}, found {sign!r}")
    return signs[sign] * digits(r, first, last, name, what)

def parse_file(data: bytes, walk, width: int, what: str, *, name: str, source: str, sha256: str,
               business_date: date, timezone: str, options: dict | None = None) -> ParsedFile:
    """A fixed-width statement file (CODA, Norma 43): decoded, cut into records of ``width``
    characters, walked by its format's ``walk(records, name) -> (lines, checks)`` and finished as
    every format is (validation, control checks, originals)."""
    text = encoding.decode(data, name, declared=(options or {}).get("encoding"))
    lines, checks = walk(records(text, name, width, what), name)
    out, originals = frame(lines, sha256=sha256, source=source, business_date=business_date,
                           timezone=timezone)
    return finish(out, checks, file_name=name, source=source, originals=originals)
