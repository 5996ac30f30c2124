"""PayPal activity download (Activity → Download, CSV) → canonical statement lines.

Header names are localised (``HEADERS``: English and French; columns by name, never position).
The number locale is decided once per file: ``options["decimal"]`` when the source declares it,
else detected from all Gross/Fee/Net values (``1.234,56`` vs ``1,234.56``); a file that mixes both
is a ParseError, never guessed per row. Dates likewise: ``options["date_order"]`` (MDY/DMY) or
detected from the values (a first part above 12 means DMY), default MDY as PayPal writes.

Currency conversion rows (Type ``General Currency Conversion`` / ``Conversion de devise
standard``) stay as ``transfer`` lines with ``original_reference`` = Reference Txn ID, and the
line they fund gets the other-currency conversion amount as ``orig_amount``/``orig_currency``.
No control totals in this export (``checks == ()``).
"""
from __future__ import annotations

from datetime import date

import polars as pl

from recon.errors import ParseError
from recon.money import exponent_expr, minor_expr
from schemas import psp_quirks as pq
from schemas.validation import ParsedFile

NAME = "paypal_activity"
RAW_OPTIONAL = True  # parse(raw=False) builds no raw copy (registry.parse)
ROLES = ("date", "time", "zone", "type", "currency", "gross", "fee", "net", "id", "reference")
HEADERS = {
    "en": {"date": "Date", "time": "Time", "zone": "TimeZone", "type": "Type", "currency": "Currency",
           "gross": "Gross", "fee": "Fee", "net": "Net", "id": "Transaction ID",
           "reference": "Reference Txn ID", "name": "Name", "status": "Status", "email": "From Email Address",
           "invoice": "Invoice Number"},
    "fr": {"date": "Date", "time": "Heure", "zone": "Fuseau horaire", "type": "Description",
           "currency": "Devise", "gross": "Brut", "fee": "Frais", "net": "Net", "id": "N° de transaction",
           "reference": "Numéro de la transaction de référence", "name": "Nom",
           "email": "De l'adresse email", "invoice": "Numéro de facture"},
}
DECIMAL = {"en": ".", "fr": ","}
# Type text → canonical type, first match wins (lower case, any language PayPal writes).
TYPE_RULES = (
    (r"conversion", "transfer"), (r"refund|rembours", "refund"),
    (r"chargeback|rétrofactur|reversal|annulation", "chargeback"), (r"withdraw|retrait", "payout"),
    (r"^fee|^frais", "fee"), (r"deposit|virement|transfer|dépôt", "transfer"),
    (r"payment|paiement", "payment"),
)
_COMMA = r"^-?\d{1,3}(?:[. \u00a0]\d{3})*,\d+$"
_DOT = r"^-?\d{1,3}(?:[, ]\d{3})*\.\d+$"


def identify(data: bytes, name: str) -> bool:
    return any(pq.has_words(data, [f'"{h[r]}"' for r in ("gross", "fee", "net", "id", "zone")],
                            encodings=("utf-8",), head=2048) for h in HEADERS.values())


def parse(data: bytes, *, name: str, source: str, sha256: str, business_date: date,
          timezone: str, options: dict | None = None, raw: bool = True) -> ParsedFile:
    options = options or {}
    lines = pq.text_of(data, name)
    end = len(lines)
    while end > 1 and not lines[end - 1].strip():
        end -= 1
    first = [c.strip('" ') for c in lines[0].split('","')]
    lang = next((k for k, h in HEADERS.items() if all(h[r] in first for r in ROLES)), None)
    if lang is None:
        raise ParseError(name, 1, f"expected a PayPal activity header ({', '.join(HEADERS['en'][r] for r in ROLES)} "
                                  f"or its French names)")
    h = HEADERS[lang]
    rows = pq.table(lines, 0, end, name, [h[r] for r in ROLES])
    rows = rows.rename({h[r]: f"_{r}" for r in h if h[r] in rows.columns and r in ROLES})
    decimal = options.get("decimal") or _detect_decimal(rows, name) or DECIMAL[lang]
    order = options.get("date_order") or _detect_date_order(rows, name)
    currency = pl.col("_currency").str.to_uppercase()
    exp = exponent_expr(currency)
    gross, fee, net = (minor_expr(pq.strip_grouping(pl.col(f"_{c}"), decimal), exp)
                       for c in ("gross", "fee", "net"))
    kind = _kind(pl.col("_type"), gross)
    frame = rows.with_columns(gross.alias("_g"), kind.alias("_kind"))
    frame = _link_conversions(frame)
    ref = pl.when(pl.col("_reference") != "").then(pl.col("_reference"))
    out = frame.select(
        *pq.base(sha256, source, business_date),
        _booked(order, timezone, frame).alias("booked_at"),
        pl.col("_kind").alias("txn_type"),
        pl.col("_g").alias("amount_minor"),
        currency.alias("currency"),
        (-fee).alias("fee_minor"),  # PayPal writes the fee as a debit (−0.59): recon's fee is a cost > 0
        net.alias("net_minor"),
        pl.col("_orig_amount").alias("orig_amount_minor"),
        pl.col("_orig_currency").alias("orig_currency"),
        pl.col("_id").alias("psp_reference"),
        (pl.when(pl.col(h["invoice"]) != "").then(pl.col(h["invoice"])) if h["invoice"] in frame.columns
         else pl.lit(None)).alias("merchant_reference"),
        ref.alias("original_reference"),
        (pl.col(h["name"]) if h["name"] in frame.columns else pl.lit(None)).alias("counterparty"),
        pl.col("_type").alias("description"),
        (pl.col(h["status"]) if "status" in h and h["status"] in frame.columns else pl.lit(None)).alias("status"),
        *pq.quirks.audit([c for c in rows.columns if c != "file_line"], raw=raw),
    )
    originals = frame.select("file_line", pl.col("_gross").alias("amount_minor"),
                             pl.col("_fee").alias("fee_minor"), pl.col("_net").alias("net_minor"),
                             pl.col("_date").alias("booked_at"), pl.col("_type").alias("txn_type"))
    return pq.finish(out, (), file_name=name, source=source, originals=originals, raw=raw)


def _detect_decimal(rows: pl.DataFrame, name: str) -> str | None:
    values = pl.concat([rows[c] for c in ("_gross", "_fee", "_net")])
    comma, dot = values.str.contains(_COMMA).sum(), values.str.contains(_DOT).sum()
    if comma and dot:
        raise ParseError(name, None, f"expected one number format in the whole file; found {comma} "
                                     f"values like 1.234,56 and {dot} like 1,234.56 (declare "
                                     f"options.decimal for this source)")
    return "," if comma else "." if dot else None


def _detect_date_order(rows: pl.DataFrame, name: str) -> str:
    parts = rows["_date"].str.extract_groups(r"^(\d{1,2})[/.](\d{1,2})[/.]\d{4}$")
    first = parts.struct.field("1").cast(pl.Int64, strict=False)
    second = parts.struct.field("2").cast(pl.Int64, strict=False)
    dmy, mdy = bool((first > 12).any()), bool((second > 12).any())
    if dmy and mdy:
        raise ParseError(name, None, "expected one date order in the whole file; found both "
                                     "day/month and month/day dates (declare options.date_order)")
    return "DMY" if dmy else "MDY"


def _kind(text: pl.Expr, gross: pl.Expr) -> pl.Expr:
    lower = text.str.to_lowercase()
    expr = pl.lit(None, dtype=pl.String)
    for pattern, kind in reversed(TYPE_RULES):
        expr = pl.when(lower.str.contains(pattern)).then(pl.lit(kind)).otherwise(expr)
    # money sent is not a payment received, and a refund received is not one we paid out
    return (pl.when((expr == "payment") & (gross < 0)).then(pl.lit("transfer"))
            .when((expr == "refund") & (gross > 0)).then(pl.lit("adjustment")).otherwise(expr))


def _link_conversions(frame: pl.DataFrame) -> pl.DataFrame:
    """A funded line gets the conversion row in the *other* currency that references it."""
    conv = (frame.filter((pl.col("_kind") == "transfer") & pl.col("_type").str.to_lowercase()
                         .str.contains("conversion") & (pl.col("_reference") != ""))
            .select(pl.col("_reference").alias("_id"), pl.col("_currency").alias("_oc"),
                    pl.col("_g").alias("_oa")))
    joined = (frame.join(conv, on="_id", how="left", maintain_order="left")
              .with_columns((pl.col("_oc").is_not_null() & (pl.col("_oc") != pl.col("_currency"))).alias("_other")))
    joined = (joined.sort(["file_line", "_other"], descending=[False, True], maintain_order=True)
              .unique(["file_line"], keep="first", maintain_order=True))
    return joined.with_columns(pl.when(pl.col("_other")).then(pl.col("_oa")).alias("_orig_amount"),
                               pl.when(pl.col("_other")).then(pl.col("_oc").str.to_uppercase())
                               .alias("_orig_currency")).drop("_oa", "_oc", "_other")


def _booked(order: str, timezone: str, frame: pl.DataFrame) -> pl.Expr:
    fmt = "%m/%d/%Y %H:%M:%S" if order == "MDY" else "%d/%m/%Y %H:%M:%S"
    text = pl.concat_str([pl.col("_date").str.replace_all(".", "/", literal=True), pl.col("_time")],
                         separator=" ")
    zones = [z for z in frame["_zone"].unique().to_list() if z]
    expr = pl.lit(None, dtype=pl.Datetime("us", "UTC"))
    for zone in zones:
        tz = zone if "/" in zone or zone == "UTC" else _ABBREV.get(zone.upper())
        if tz is None:
            continue
        expr = pl.when(pl.col("_zone") == zone).then(pq.local_to_utc(text, tz, fmt)).otherwise(expr)
    return expr


_ABBREV = {"PST": "America/Los_Angeles", "PDT": "America/Los_Angeles", "GMT": "UTC", "CET": "Europe/Paris",
           "CEST": "Europe/Paris", "EST": "America/New_York", "EDT": "America/New_York"}
