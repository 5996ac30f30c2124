"""Stripe itemized balance change report (balance_change_from_activity.itemized) → canonical lines.

The report carries no control totals of its own (``checks == ()``); ``net = gross − fee`` is checked
per row by validation. Amounts are signed as in the Stripe balance: a payout is negative (money
leaving the Stripe balance for the bank account).
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import polars as pl

from recon.money import exponent_of, minor_expr
from schemas import quirks
from schemas.validation import ParsedFile, finish

NAME = "stripe_itemized"
COLUMNS = [
    "balance_transaction_id", "created_utc", "created", "available_on_utc", "available_on",
    "currency", "gross", "fee", "net", "reporting_category", "source_id", "description",
    "customer_facing_amount", "customer_facing_currency", "automatic_payout_id",
    "automatic_payout_effective_at", "payment_intent_id", "payment_metadata[order_id]",
    "payment_metadata[refund_id]", "card_brand", "payment_method_type",
]
# The three categories formats.md names, plus Stripe's other common ones where the canonical type is
# unambiguous; anything else is quarantined with the category shown.
CATEGORY = {
    "charge": "payment", "refund": "refund", "payout": "payout", "dispute": "chargeback",
    "dispute_reversal": "chargeback", "refund_failure": "refund", "payout_reversal": "payout",
    "fee": "fee", "adjustment": "adjustment", "other_adjustment": "adjustment",
}
# The card type a rate card may price by (quirks.attributes: statement_lines.card_type).
CARD_TYPE_FIELD = "card_brand"
# Columns a report run may add (Stripe lets the caller choose them); used when present.
OPTIONAL = ("customer_email", "customer_name", "connected_account")
_IDENTIFYING = ("balance_transaction_id", "created_utc", "gross", "fee", "net", "reporting_category")


def identify(data: bytes, name: str) -> bool:
    return quirks.header_has(data, name, _IDENTIFYING)


def parse_parts(data: bytes, *, name: str, source: str, sha256: str, business_date: date,
                timezone: str, part_bytes: int | None = None) -> Iterator[ParsedFile]:
    """The file as consecutive parts of about ``part_bytes`` bytes (one part when None)."""
    quirks.require_columns(quirks.header_line(data, name), COLUMNS, name)
    for start, stop, line in quirks.part_ranges(data, part_bytes):
        rows = quirks.read_text_csv(quirks.part_data(data, start, stop), name, first_line=line)
        yield _part(rows, name=name, source=source, sha256=sha256, business_date=business_date)


parse = quirks.whole_file(parse_parts)


def _part(rows: pl.DataFrame, *, name: str, source: str, sha256: str, business_date: date) -> ParsedFile:
    present = [c for c in rows.columns if c != "file_line"]  # raw keeps only what the file had
    rows = rows.with_columns([pl.lit(None, pl.String).alias(c) for c in OPTIONAL if c not in rows.columns])
    currency = pl.col("currency").str.strip_chars().str.to_uppercase()
    exp = exponent_of(rows, currency)
    orig_currency = pl.col("customer_facing_currency").str.strip_chars().str.to_uppercase()
    refund = pl.col("reporting_category") == "refund"
    frame = rows.lazy().select(  # lazy: common subexpressions are computed once
        quirks.line_id(sha256),
        pl.lit(source).alias("source"),
        pl.lit(sha256).alias("file_sha256"),
        "file_line",
        pl.lit(business_date).alias("business_date"),
        _utc(pl.col("created_utc")).alias("booked_at"),
        pl.col("available_on").str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)
          .alias("value_date"),
        pl.col("reporting_category").replace_strict(CATEGORY, default=None).alias("txn_type"),
        minor_expr(pl.col("gross"), exp).alias("amount_minor"),
        currency.alias("currency"),
        minor_expr(pl.col("fee"), exp).alias("fee_minor"),
        minor_expr(pl.col("net"), exp).alias("net_minor"),
        minor_expr(pl.col("customer_facing_amount"), exponent_of(rows, orig_currency))
          .alias("orig_amount_minor"),
        orig_currency.alias("orig_currency"),
        pl.col("source_id").alias("psp_reference"),
        pl.when(refund).then(pl.col("payment_metadata[refund_id]"))
          .otherwise(pl.col("payment_metadata[order_id]")).alias("merchant_reference"),
        pl.when(pl.col("reporting_category").is_in(["refund", "dispute", "dispute_reversal"]))
          .then(pl.col("payment_metadata[order_id]")).otherwise(None).alias("original_reference"),
        pl.col("automatic_payout_id").alias("payout_id"),
        pl.col("payment_method_type").alias("payment_method"),
        pl.coalesce("customer_email", "customer_name").alias("counterparty"),
        pl.col("description").alias("description"),
        quirks.raw_json(present),
        *quirks.attributes(present, CARD_TYPE_FIELD),
    ).collect()
    originals = rows.select(
        "file_line", pl.col("gross").alias("amount_minor"), pl.col("fee").alias("fee_minor"),
        pl.col("net").alias("net_minor"), pl.col("created_utc").alias("booked_at"),
        pl.col("reporting_category").alias("txn_type"), pl.col("currency"),
        pl.col("available_on").alias("value_date"),
        pl.col("customer_facing_amount").alias("orig_amount_minor"),
        pl.col("customer_facing_currency").alias("orig_currency"))
    return finish(frame, (), file_name=name, source=source, required=("fee_minor", "net_minor"),
                  originals=originals)


def _utc(text: pl.Expr) -> pl.Expr:
    return text.str.strip_chars().str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False,
                                                  time_unit="us", time_zone="UTC")
