"""A bank's CSV export → canonical statement lines, driven by the mapping the source declares.

There is no one bank CSV: each bank has its own columns, delimiter, number and date format and
encoding, so this format is never guessed (``identify`` is always False) and is chosen by the
source's ``format = "bankcsv"`` with its ``[sources.options]``::

    encoding = "cp1252"            # any codec; UTF-8/UTF-16 and BOMs are recognised anyway
    delimiter = ";"                # default ","
    decimal = ","                  # default "."
    thousands = "."                # default none ("'" and " " work too)
    date_format = "%d.%m.%Y"       # or a list, tried in order; "%Y-%m-%d %H:%M" for date-times
    header_contains = ["Buchungstag", "Betrag"]   # the header row is the first row with all of these
    footer_prefixes = ["Kontostand"]              # trailing lines ignored (only these)
    currency = "EUR"               # when the file has no currency column
    columns = {booked = "Buchungstag", value_date = "Valuta", amount = "Betrag",
               debit = "Soll", credit = "Haben", currency = "Währung",
               counterparty = "Auftraggeber/Empfänger", description = ["Buchungstext", "Verwendungszweck"],
               reference = "Referenz", end_to_end_id = "EREF", bank_reference = "Bankreferenz",
               sign = "S/H"}      # sign: a column whose value in debit_marks makes the amount negative
    debit_marks = ["S", "D", "DR", "Debit"]    # or credit_marks: every other value is a debit
    null_values = ["-"]            # cell values that mean "empty"
    ragged = true                  # rows may leave out trailing empty fields
    continuation_rows = true       # a row without a booking date continues the row before it:
                                   # its text is appended to the first description column

Either ``amount`` (signed) or ``debit`` and ``credit`` (a debit is taken out whatever its sign).
Rows that cannot be read (bad date, inexact amount) are quarantined with their text; a row with
a different number of fields, or a line after the table that is not a declared footer, is a
ParseError. Bank CSV exports carry no control totals.
"""
from __future__ import annotations

import csv
import io
from datetime import date

import polars as pl

from recon.errors import ConfigError, ParseError
from recon.money import exponent_expr, minor_expr
from schemas import csvhead, encoding, quirks
from schemas.validation import ParsedFile, finish

NAME = "bankcsv"
RAW_OPTIONAL = True  # parse(raw=False) builds no raw copy (registry.parse)
_TEXT_COLUMNS = ("counterparty", "description", "reference", "end_to_end_id", "bank_reference")


def identify(data: bytes, name: str) -> bool:
    return False  # chosen by configuration only: a bank CSV has no signature of its own


def parse(data: bytes, *, name: str, source: str, sha256: str, business_date: date,
          timezone: str, options: dict | None = None, raw: bool = True) -> ParsedFile:
    opts = _options(options, source)
    text = encoding.decode(data, name, declared=opts.get("encoding"))
    header, rows, lines = _table(text, name, opts)
    table = pl.DataFrame({h: [r[i] for r in rows] for i, h in enumerate(header)},
                         schema={h: pl.String for h in header}).with_columns(
        pl.Series("file_line", lines, dtype=pl.Int64))
    frame, originals = _canonical(table, header, opts, sha256=sha256, source=source,
                                  business_date=business_date, timezone=timezone, raw=raw)
    return finish(frame, [], file_name=name, source=source, originals=originals, raw=raw)


def _options(options: dict | None, source: str) -> dict:
    opts = dict(options or {})
    cols = opts.get("columns") or {}
    if "booked" not in cols or not ("amount" in cols or ("debit" in cols and "credit" in cols)):
        raise ConfigError("sources", f"{source}.options.columns", "a bank CSV needs the columns "
                          "booked and amount (or debit and credit) declared")
    if "currency" not in cols and not opts.get("currency"):
        raise ConfigError("sources", f"{source}.options.currency", "declare a currency column or "
                          "a currency for the whole file")
    return opts


def _names(value: str | list[str] | None) -> list[str]:
    return [] if value is None else [value] if isinstance(value, str) else list(value)


def _table(text: str, file: str, opts: dict) -> tuple[list[str], list[list[str]], list[int]]:
    """Header (first row holding every ``header_contains`` name), data rows and their lines."""
    cols = opts["columns"]
    wanted = _names(opts.get("header_contains")) or [n for v in cols.values() for n in _names(v)]
    footers = tuple(_names(opts.get("footer_prefixes")))
    reader = csv.reader(io.StringIO(text), delimiter=opts.get("delimiter", ","),
                        quotechar=opts.get("quotechar", '"'))
    header, rows, lines, start = None, [], [], 1
    booked = cols["booked"]
    first_text = (_names(cols.get("description")) or _names(cols.get("counterparty")) or [booked])[0]
    try:
        for row in reader:
            line, start = start, reader.line_num + 1
            cells = [c.strip() for c in row]
            if header is None:
                if all(w in cells for w in wanted):
                    header, header_line = cells, line
                continue
            if not any(cells):
                continue
            if footers and cells[0].startswith(footers):
                continue
            while len(cells) > len(header) and cells[-1] == "":
                cells.pop()  # a trailing delimiter
            if len(cells) < len(header) and (opts.get("ragged") or opts.get("continuation_rows")):
                cells += [""] * (len(header) - len(cells))
            if opts.get("continuation_rows") and rows and not cells[header.index(booked)]:
                _fold(rows[-1], cells, header.index(first_text))
                continue
            if len(cells) != len(header):
                raise ParseError(file, line, f"expected {len(header)} fields as in the header row, "
                                             f"found {len(cells)}")
            nulls = _names(opts.get("null_values"))
            rows.append([None if c in nulls else c for c in cells] if nulls else cells)
            lines.append(line)
    except csv.Error as exc:
        raise ParseError(file, start, f"expected delimited text ({exc})") from exc
    if header is None:
        raise ParseError(file, None, f"expected a header row with the columns {', '.join(wanted)}")
    missing = [n for v in cols.values() for n in _names(v) if n not in header]
    if missing:
        raise ParseError(file, None, f"expected the declared columns {', '.join(missing)} in the "
                                     f"header row")
    if len(set(header)) != len(header):
        # a declared column named twice: which one holds its values is not knowable (refused);
        # an unused name twice is kept apart as name#i
        used = {n for v in cols.values() for n in _names(v)}
        csvhead.refuse_duplicates([h if h in used else "" for h in header], file, header_line)
        header = [h if header.index(h) == i else f"{h}#{i}" for i, h in enumerate(header)]
    return header, rows, lines


def _fold(previous: list, cells: list[str], text_at: int) -> None:
    extra = " ".join(c for c in cells if c)
    if extra:
        previous[text_at] = " ".join(filter(None, [previous[text_at], extra]))


def _number(col: str, opts: dict) -> pl.Expr:
    """Bank number text → plain decimal text: thousands marks gone, decimal point, sign in front."""
    text = pl.col(col).str.strip_chars().str.replace_all(r"[\s\u00a0£$€¥]", "")
    for mark in _names(opts.get("thousands")):
        text = text.str.replace_all(mark, "", literal=True)
    if opts.get("decimal", ".") != ".":
        text = text.str.replace_all(".", "", literal=True) if not opts.get("thousands") else text
        text = text.str.replace(opts["decimal"], ".", literal=True)
    text = text.str.replace(r"^\+", "")
    return (pl.when(text.str.ends_with("-")).then(pl.lit("-") + text.str.strip_chars_end("-"))
            .otherwise(text))


def _dates(col: str, opts: dict) -> pl.Expr:
    formats = _names(opts.get("date_format")) or ["%Y-%m-%d"]
    text = pl.col(col).str.strip_chars()
    return pl.coalesce([text.str.to_datetime(f, strict=False, time_unit="us") for f in formats])


def _canonical(table: pl.DataFrame, header: list[str], opts: dict, *, sha256: str, source: str,
               business_date: date, timezone: str, raw: bool = True) -> tuple[pl.DataFrame, pl.DataFrame]:
    cols = opts["columns"]
    currency = (pl.col(cols["currency"]).str.strip_chars().str.to_uppercase() if "currency" in cols
                else pl.lit(opts["currency"].upper()))
    exp = exponent_expr(currency)
    if "amount" in cols:
        amount_text = pl.col(cols["amount"])
        amount = minor_expr(_number(cols["amount"], opts), exp)
    else:
        debit, credit = (minor_expr(_number(cols[k], opts), exp).abs() for k in ("debit", "credit"))
        has_debit = pl.col(cols["debit"]).str.strip_chars().str.len_chars().fill_null(0) > 0
        amount = pl.when(has_debit).then(-debit).otherwise(credit)
        amount_text = pl.when(has_debit).then(pl.lit("-") + pl.col(cols["debit"])) \
            .otherwise(pl.col(cols["credit"]))
    if "sign" in cols:
        mark = pl.col(cols["sign"]).str.strip_chars()
        if opts.get("credit_marks"):
            debit = ~mark.is_in(_names(opts["credit_marks"]))
        else:
            debit = mark.is_in(_names(opts.get("debit_marks")) or ["S", "D", "DR", "DBIT", "Debit"])
        amount = pl.when(debit).then(-amount.abs()).otherwise(amount.abs())
    booked = _dates(cols["booked"], opts)
    value = _dates(cols["value_date"], opts).dt.date() if "value_date" in cols else booked.dt.date()
    texts = {k: pl.concat_str([pl.col(c) for c in _names(cols[k])], separator=" ",
                              ignore_nulls=True).str.strip_chars().replace("", None)
             for k in _TEXT_COLUMNS if k in cols}
    frame = table.select(
        quirks.line_id(sha256), pl.lit(source).alias("source"), pl.lit(sha256).alias("file_sha256"),
        "file_line", pl.lit(business_date).alias("business_date"),
        booked.dt.replace_time_zone(timezone, ambiguous="null", non_existent="null")
        .dt.convert_time_zone("UTC").alias("booked_at"),
        value.alias("value_date"), pl.lit("transfer").alias("txn_type"),
        amount.alias("amount_minor"), currency.alias("currency"),
        texts.get("reference", pl.lit(None)).alias("merchant_reference"),
        texts.get("end_to_end_id", pl.lit(None)).alias("end_to_end_id"),
        texts.get("bank_reference", pl.lit(None)).alias("bank_reference"),
        texts.get("counterparty", pl.lit(None)).alias("counterparty"),
        texts.get("description", pl.lit(None)).alias("description"),
        *([quirks.raw_json(header)] if raw else []))
    originals = table.select("file_line", amount_text.alias("amount_minor"),
                             pl.col(cols["booked"]).alias("booked_at"),
                             (pl.col(cols["value_date"]) if "value_date" in cols
                              else pl.col(cols["booked"])).alias("value_date"),
                             currency.alias("currency"))
    return frame, originals
