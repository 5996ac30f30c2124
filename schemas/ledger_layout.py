"""A ledger export in the company's own layout (the ``[ledger]`` mapping), read as delivered.

The mapping names, for each canonical field, the export's header; says how dates, times and
amounts are written, how the sign is carried (a signed amount, a debit/credit indicator, or
separate money-in and money-out columns), and translates the export's types, channels and
statuses into recon's words. recon's own layout (docs/formats.md) is the default mapping and is
read by schemas/ledger.py's fast path; every other layout comes through here. All vectorised.
"""
from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass, field

import polars as pl

from recon.errors import ParseError
from recon.money import exponent_of, minor_expr
from schemas import encoding, quirks
from schemas.validation import QUARANTINE_COLUMNS

log = logging.getLogger(__name__)

# The canonical fields a mapping may name (each → the export's header name).
FIELDS = ("entry_id", "business_date", "booked_at", "channel", "txn_type", "merchant_reference",
          "psp_reference", "original_reference", "amount", "currency", "counterparty", "description",
          "status", "direction", "amount_in", "amount_out", "receiver")
TEXT_FIELDS = ("merchant_reference", "psp_reference", "original_reference", "counterparty", "description",
               "receiver")
# The company's entry types, in recon's words (the [ledger.types] targets).
LEDGER_TYPES = ("payment", "refund", "chargeback", "fee", "payout", "bank_charge", "transfer",
                "salary", "other", "adjustment", "allocation", "allocation_return")
SIGNS = ("signed", "indicator", "columns")
# What the cascade matches of a PSP's lines (allocations: a 分账 bill's, rule allocation_receiver).
MATCHED_ON_PSP = ("payment", "refund", "chargeback", "allocation", "allocation_return")
CLEARING = "payout: left to the clearing"
UNKNOWN_SOURCE = "not a configured source"


@dataclass(frozen=True)
class LedgerLayout:
    columns: dict[str, str | tuple[str, ...]] = field(default_factory=lambda: {
        f: f for f in FIELDS[:12]})
    custom: bool = False  # False: recon's own layout, read by schemas.ledger's fast path
    delimiter: str = ","
    encoding: str | None = None  # declared; decoded by schemas.encoding (UTF-8 and BOMs always)
    header_row: int = 1
    footer_rows: int = 0  # the export's total lines below the entries (``Summe;…``), not entries
    date_format: str = "%Y-%m-%d"
    datetime_format: str = "%Y-%m-%dT%H:%M:%S%:z"
    timezone: str = "UTC"  # of a booked_at written without an offset
    decimal_separator: str = "."
    thousands_separator: str = ""
    sign: str = "signed"
    money_in: tuple[str, ...] = ()  # sign = "indicator": the direction column's values
    money_out: tuple[str, ...] = ()
    types: dict[str, str] = field(default_factory=dict)  # export's value → LEDGER_TYPES
    channels: dict[str, str] = field(default_factory=dict)  # export's value → source name
    default_source: str | None = None  # an entry with no channel value (bank movements)
    unmatched_statuses: tuple[str, ...] = ()  # kept, never matched, never a break
    # From the config's sources: where each entry type is matched (see ``stored_type_and_hold``).
    psp_sources: tuple[str, ...] = ()
    bank_sources: tuple[str, ...] = ()
    clearing_banks: tuple[str, ...] = ()  # banks whose credits the clearing links to PSP payouts

    def header_names(self, key: str) -> tuple[str, ...]:
        value = self.columns[key]
        return (value,) if isinstance(value, str) else tuple(value)


DEFAULT = LedgerLayout()


def stored_type_and_hold(layout: LedgerLayout, kind: pl.Expr, source: pl.Expr, status: pl.Expr
                         ) -> tuple[pl.Expr, pl.Expr]:
    """The txn_type an entry is stored and matched with, and why it is kept out of matching
    (null: it is matched). Bank formats type every line ``transfer``, so an entry on a bank source
    is matched as one; a payout is left to the clearing (ledger payout ↔ PSP payout ↔ bank credit,
    recon/payout_stage.py); a PSP's
    fees and movements other than payments, refunds and chargebacks have no line the cascade
    matches; a status the PSP never reports (failed, pending) is never matched; nor is an entry
    on a channel the config does not declare (the cascade reads the configured sources only)."""
    bank, psp = source.is_in(list(layout.bank_sources)), source.is_in(list(layout.psp_sources))
    clearing = psp | source.is_in(list(layout.clearing_banks))
    stored = (pl.when(bank & ~((kind == "payout") & clearing)).then(pl.lit("transfer"))
              .when(kind.is_in(["bank_charge", "salary"])).then(pl.lit("transfer"))
              .when(kind == "other").then(pl.lit("adjustment"))
              .otherwise(kind))
    held = [s.lower() for s in layout.unmatched_statuses]
    hold = pl.when(status.str.to_lowercase().is_in(held)).then(pl.lit("status ") + status.str.to_lowercase())
    if layout.psp_sources or layout.bank_sources:  # known from the config: the cascade skips the rest
        hold = hold.when(~(psp | bank)).then(pl.lit(UNKNOWN_SOURCE))
    hold = (hold.when((kind == "payout") & clearing).then(pl.lit(CLEARING))
            .when(psp & ~kind.is_in(list(MATCHED_ON_PSP))).then(kind + pl.lit(" on a PSP channel"))
            .otherwise(pl.lit(None, pl.String)))
    return stored, hold


def read_rows(data: bytes, name: str, layout: LedgerLayout) -> pl.DataFrame:
    """The export's rows as text, one column per header name, plus ``file_line`` (physical).
    A header the mapping names but the file lacks is a ParseError naming the key."""
    raw = data if isinstance(data, bytes) else data[0:len(data)]
    lines = encoding.decode(raw, name, declared=layout.encoding).split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    if layout.footer_rows:
        footer, lines = lines[len(lines) - layout.footer_rows:], lines[:len(lines) - layout.footer_rows]
        log.info("%s: %d footer line(s) not read as entries: %s", name, len(footer),
                 " | ".join(f.strip() for f in footer)[:200])
    body = "\n".join(lines[layout.header_row - 1:])
    if not body.strip():
        raise ParseError(name, layout.header_row, "expected a header row here; the file has none")
    try:
        frame = pl.read_csv(io.BytesIO(body.encode("utf-8")), separator=layout.delimiter,
                            infer_schema=False, truncate_ragged_lines=False)
    except Exception as exc:  # polars raises several types
        raise ParseError(name, layout.header_row, f"expected a table separated by "
                                                  f"{layout.delimiter!r} with a header row ({exc})") from exc
    frame = frame.rename({c: c.strip().lstrip("\ufeff") for c in frame.columns})
    for key in layout.columns:
        for header in layout.header_names(key):
            if header not in frame.columns:
                raise ParseError(name, layout.header_row,
                                 f"[ledger.columns] {key} = {header!r}: the export has no such column "
                                 f"(its header: {', '.join(frame.columns)}); correct the mapping "
                                 f"or the export")
    physical = len(lines) - layout.header_row
    if frame.height != physical:
        # a quoted line break (a multi-line Buchungstext) is text: rows numbered by their first line
        starts = quirks.spanning_rows(body.encode("utf-8"), len(frame.columns), frame.height,
                                      layout.header_row, layout.delimiter) if '"' in body else None
        if starts is None:
            raise ParseError(name, None, f"expected one row per line ({frame.height} rows in {physical} "
                                         f"lines after the header: blank lines or quoted line breaks)")
        frame = frame.with_columns(pl.Series("file_line", starts, dtype=pl.Int64))
    else:
        frame = frame.with_columns(pl.int_range(layout.header_row + 1, layout.header_row + 1 + frame.height,
                                                dtype=pl.Int64).alias("file_line"))
    # a row of separators only (``;;;;``) carries no entry: left out, counted in the log
    data_columns = [c for c in frame.columns if c != "file_line"]
    empty = pl.all_horizontal(pl.col(data_columns).fill_null("").str.strip_chars() == "")
    blank = frame.filter(empty).height
    if blank:
        log.info("%s: %d empty row(s) not read as entries", name, blank)
        frame = frame.filter(~empty)
    return frame


def canonical(rows: pl.DataFrame, layout: LedgerLayout, name: str, sha256: str
              ) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(canonical frame before validation, originals for the quarantine's texts, quarantine rows of
    values the mapping cannot translate: an unknown type, channel or debit/credit indicator)."""
    text = {key: _text(rows, layout, key) for key in FIELDS if key in layout.columns}
    work = rows.select("file_line", *[e.alias(f"_{k}") for k, e in text.items()])
    col = {k: pl.col(f"_{k}") for k in text}
    currency = col["currency"].str.strip_chars().str.to_uppercase()
    work = work.with_columns(currency.alias("c_cur"))
    exp = exponent_of(work, pl.col("c_cur"))
    amount, amount_text, sign_ok = _amount(col, layout, exp)
    booked = _booked_at(col["booked_at"], layout) if "booked_at" in col else pl.lit(None, pl.Datetime("us", "UTC"))
    business = (col["business_date"].str.strip_chars().str.to_date(layout.date_format, strict=False)
                if "business_date" in col else booked.dt.convert_time_zone(layout.timezone).dt.date())
    kind_map = {**{t: t for t in LEDGER_TYPES}, **{k.lower(): v for k, v in layout.types.items()}}
    kind = (col["txn_type"].str.strip_chars().str.to_lowercase().replace_strict(kind_map, default=None)
            if "txn_type" in col else pl.when(amount < 0).then(pl.lit("refund")).otherwise(pl.lit("payment")))
    source = _source(col, layout)
    status = _blank_null(col["status"]) if "status" in col else pl.lit(None, pl.String)
    work = work.with_columns(amount.alias("c_amount"), kind.alias("c_kind"), source.alias("c_source"),
                             status.alias("c_status"), sign_ok.alias("c_sign_ok"))
    stored, hold = stored_type_and_hold(layout, pl.col("c_kind"), pl.col("c_source"), pl.col("c_status"))
    frame = work.select(
        _blank_null(col["entry_id"]).alias("entry_id"), pl.col("c_source").alias("source"),
        business.alias("business_date"), booked.alias("booked_at"), stored.alias("txn_type"),
        pl.col("c_amount").alias("amount_minor"), pl.col("c_cur").alias("currency"),
        *[_blank_null(col[k]).alias(k) if k in col else pl.lit(None, pl.String).alias(k) for k in TEXT_FIELDS],
        pl.col("c_status").alias("status"), hold.alias("hold"), "file_line")
    originals = work.select("file_line", amount_text.alias("amount_minor"),
                            *[col[k].alias(c) for k, c in (("booked_at", "booked_at"),
                                                          ("business_date", "business_date"),
                                                          ("currency", "currency"), ("txn_type", "txn_type"),
                                                          ("channel", "source")) if k in col])
    problems = [
        ("txn_type", col.get("txn_type"), pl.col("c_kind").is_null(),
         "is not a type in [ledger.types] (nor one of recon's: "
         + ", ".join(t for t in LEDGER_TYPES if t != "adjustment") + ")"),
        ("source", col.get("channel"), pl.col("c_source").is_null(),
         "is not a channel in [ledger.channels] nor a configured source (and no default_source)"),
        ("direction", col.get("direction"), ~pl.col("c_sign_ok"),
         f"is not a debit/credit indicator of the mapping (money_in {list(layout.money_in)}, "
         f"money_out {list(layout.money_out)})"),
        ("amount_in", amount_text if layout.sign == "columns" else None, ~pl.col("c_sign_ok"),
         "has no amount: both the money-in and the money-out column are empty"),
    ]
    quarantine = pl.concat([_problem_rows(work, f, value, bad, reason, name, sha256)
                            for f, value, bad, reason in problems if value is not None],
                           how="vertical") if any(v is not None for _, v, _, _ in problems) else None
    if quarantine is None or quarantine.height == 0:
        return frame, originals, pl.DataFrame(schema=QUARANTINE_COLUMNS)
    return (frame.join(quarantine.select("file_line").unique(), on="file_line", how="anti"),
            originals, quarantine.unique(["file_line", "field"], keep="first", maintain_order=True))


def _text(rows: pl.DataFrame, layout: LedgerLayout, key: str) -> pl.Expr:
    names = layout.header_names(key)
    if len(names) == 1:
        return pl.col(names[0])
    return pl.concat_str([pl.col(n).fill_null("").str.strip_chars() for n in names], separator=" ")


def _blank_null(text: pl.Expr) -> pl.Expr:
    text = text.str.strip_chars()
    return pl.when(text == "").then(pl.lit(None, pl.String)).otherwise(text)


def number_text(text: pl.Expr, layout: LedgerLayout) -> pl.Expr:
    """An amount as written (``1.234,56``, ``1 234,56-``, ``(1.234,56)``) → ``-1234.56``; null if not one
    in the mapping's separators (a stray ``.`` under a decimal comma is never read as a point)."""
    t = text.str.strip_chars()
    if layout.thousands_separator == " ":
        t = t.str.replace_all("[\u00a0\u202f]", " ")
    t = (pl.when(t.str.ends_with("-")).then(pl.lit("-") + t.str.strip_chars_end("-").str.strip_chars())
         .when(t.str.starts_with("(") & t.str.ends_with(")"))  # accounting style: (12,50)
         .then(pl.lit("-") + t.str.strip_prefix("(").str.strip_suffix(")").str.strip_chars())
         .otherwise(t))
    dec, th = re.escape(layout.decimal_separator), re.escape(layout.thousands_separator)
    whole = rf"(?:[0-9]{{1,3}}(?:{th}[0-9]{{3}})+|[0-9]+)" if th else "[0-9]+"
    ok = t.str.contains(rf"^[+-]?{whole}(?:{dec}[0-9]+)?$")
    if th:
        t = t.str.replace_all(layout.thousands_separator, "", literal=True)
    t = t.str.replace(layout.decimal_separator, ".", literal=True)
    return pl.when(ok).then(t).otherwise(pl.lit(None, pl.String))


def _amount(col: dict[str, pl.Expr], layout: LedgerLayout, exp) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(amount in minor units, signed from the company's side; its text for the quarantine;
    whether the sign could be read)."""
    if layout.sign == "columns":
        def side(key):
            text = col[key].fill_null("").str.strip_chars()
            return pl.when(text == "").then(pl.lit(0, pl.Int64)).otherwise(minor_expr(number_text(text, layout), exp))
        both_empty = (col["amount_in"].fill_null("").str.strip_chars() == "") & \
                     (col["amount_out"].fill_null("").str.strip_chars() == "")
        amount = pl.when(both_empty).then(pl.lit(None, pl.Int64)).otherwise(side("amount_in") - side("amount_out"))
        shown = pl.concat_str([pl.lit("in "), col["amount_in"].fill_null(""), pl.lit(" / out "),
                               col["amount_out"].fill_null("")])
        return amount, shown, ~both_empty
    value = minor_expr(number_text(col["amount"], layout), exp)
    if layout.sign == "signed":
        return value, col["amount"], pl.lit(True)
    flag = col["direction"].fill_null("").str.strip_chars().str.to_uppercase()
    into, out = [v.upper() for v in layout.money_in], [v.upper() for v in layout.money_out]
    amount = pl.when(flag.is_in(into)).then(value).when(flag.is_in(out)).then(-value)
    return amount, pl.concat_str([col["amount"].fill_null(""), pl.lit(" "), flag]), flag.is_in(into + out)


def _booked_at(text: pl.Expr, layout: LedgerLayout) -> pl.Expr:
    """A timestamp with its own offset → UTC; without one, local time in the mapping's timezone
    (a time skipped by a DST change is null, a repeated one the earlier instant)."""
    fmt = layout.datetime_format
    naive_fmt = fmt.replace("%:z", "").replace("%z", "").rstrip()
    aware_fmt = fmt if naive_fmt != fmt else fmt + "%:z"
    t = text.str.strip_chars().str.replace(r"Z$", "+00:00")
    aware = t.str.to_datetime(aware_fmt, strict=False, time_unit="us").dt.convert_time_zone("UTC")
    naive = (t.str.to_datetime(naive_fmt, strict=False, time_unit="us")
             .dt.replace_time_zone(layout.timezone, ambiguous="earliest", non_existent="null")
             .dt.convert_time_zone("UTC"))
    return pl.coalesce(aware, naive)


def _source(col: dict[str, pl.Expr], layout: LedgerLayout) -> pl.Expr:
    default = pl.lit(layout.default_source, pl.String)
    if "channel" not in col:
        return default
    known = {**{s.lower(): s for s in layout.psp_sources + layout.bank_sources},
             **{k.lower(): v for k, v in layout.channels.items()}}
    text = col["channel"].fill_null("").str.strip_chars()
    return pl.when(text == "").then(default).otherwise(
        text.str.to_lowercase().replace_strict(known, default=None, return_dtype=pl.String))


def _problem_rows(work: pl.DataFrame, field_name: str, value: pl.Expr, bad: pl.Expr, reason: str,
                  name: str, sha256: str) -> pl.DataFrame:
    return work.filter(bad.fill_null(False)).select(
        pl.lit(sha256).alias("file_sha256"), pl.lit(name).alias("file_name"), pl.lit("ledger").alias("source"),
        "file_line", pl.lit(field_name).alias("field"), value.alias("value"),
        (pl.lit("'") + value.fill_null("") + pl.lit("' " + reason)).alias("reason"),
    ).cast(QUARANTINE_COLUMNS)
