"""Stripe dashboard payments export (Payments → Export, ``unified_payments.csv``) → canonical lines.

One row per charge: ``id`` (``ch_…``/``py_…``), ``Created (UTC)`` (``YYYY-MM-DD HH:MM`` or the older
``DD/MM/YYYY HH:MM``), ``Amount``, ``Amount Refunded``, ``Currency``, ``Fee``, ``Status`` (Paid,
Failed, Refunded…) and many optional columns. No control totals (``checks == ()``).

Mapping: every row is a ``payment`` of ``+Amount`` with ``fee = Fee`` and its Status kept as
written (failed charges stay, with status Failed: matching ignores non-succeeded lines); an
``Amount Refunded`` is not a separate line here (the refund has its own balance transaction in
the itemized reports). ``merchant_reference`` = ``order_id (metadata)`` where present.
"""
from __future__ import annotations

from datetime import date

import polars as pl

from recon.money import exponent_expr, minor_expr
from schemas import psp_quirks as pq
from schemas.validation import ParsedFile

NAME = "stripe_payments"
RAW_OPTIONAL = True  # parse(raw=False) builds no raw copy (registry.parse)
COLUMNS = ["id", "Created (UTC)", "Amount", "Amount Refunded", "Currency", "Fee", "Status"]
_IDENTIFYING = ("id,", "Created (UTC)", "Amount Refunded", "Status")
_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M")


def identify(data: bytes, name: str) -> bool:
    return pq.has_words(data, _IDENTIFYING, encodings=("utf-8",), head=2048)


def parse(data: bytes, *, name: str, source: str, sha256: str, business_date: date,
          timezone: str, options: dict | None = None, raw: bool = True) -> ParsedFile:
    lines = pq.text_of(data, name)
    end = len(lines)
    while end > 1 and not lines[end - 1].strip():
        end -= 1
    rows = pq.table(lines, 0, end, name, COLUMNS)
    currency = pl.col("Currency").str.to_uppercase()
    exp = exponent_expr(currency)
    amount = minor_expr(pl.col("Amount").str.replace_all(",", ""), exp)
    fee = minor_expr(pl.col("Fee").replace("", "0").str.replace_all(",", ""), exp)
    order = pl.col("order_id (metadata)") if "order_id (metadata)" in rows.columns else pl.lit(None)
    describe = pl.col("Description") if "Description" in rows.columns else pl.lit(None)
    frame = rows.select(
        *pq.base(sha256, source, business_date),
        _created(pl.col("Created (UTC)")).alias("booked_at"),
        pl.lit("payment").alias("txn_type"),
        amount.alias("amount_minor"),
        currency.alias("currency"),
        fee.alias("fee_minor"),
        (amount - fee).alias("net_minor"),
        pl.col("id").alias("psp_reference"),
        pl.when(order != "").then(order).alias("merchant_reference"),
        pl.when(describe != "").then(describe).alias("description"),
        pl.col("Status").alias("status"),
        *pq.audit(rows, raw),
    )
    originals = rows.select("file_line", pl.col("Amount").alias("amount_minor"),
                            pl.col("Fee").alias("fee_minor"), pl.col("Created (UTC)").alias("booked_at"),
                            pl.col("Currency").alias("currency"))
    return pq.finish(frame, (), file_name=name, source=source, required=("fee_minor",), originals=originals,
                     raw=raw)


def _created(text: pl.Expr) -> pl.Expr:
    text = text.str.strip_chars()
    return pl.coalesce([text.str.to_datetime(f, strict=False, time_unit="us", time_zone="UTC")
                        for f in _FORMATS])
