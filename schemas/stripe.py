"""Stripe itemized reports (Reporting API / Dashboard CSV) → canonical statement lines.

One parser for every itemized report of balance transactions: balance_change_from_activity.itemized.1
to .3 and payout_reconciliation.itemized.1 to .5 (docs.stripe.com/reports/report-types). Their
default columns differ (itemized.1 has no source_id; payout_reconciliation.itemized.5 has ``created``
in the run's timezone but no ``created_utc``) and a report run may choose its columns, so columns
are found by name and only those recon cannot do without are required (``REQUIRED``); metadata
columns exist only when the account asks for them and are read only as configured.

Source options: ``merchant_reference_column`` (default ``payment_metadata[order_id]`` when the file
has it) gives a line's merchant reference and, on refunds and disputes, the payment it reverses;
``refund_reference_column`` (default none) a refund's own merchant reference, e.g.
``refund_metadata[refund_id]``. A configured column the file lacks is refused by name.

The report carries no control totals (``checks == ()``); ``net = gross − fee`` is checked per row by
validation. Amounts are signed as in the Stripe balance: a payout is negative.
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import polars as pl

from recon.errors import ParseError
from recon.money import exponent_of, minor_expr
from schemas import csvhead, quirks, textparts
from schemas.validation import ParsedFile, finish

NAME = "stripe_itemized"
TAKES_OPTIONS = True
RAW_OPTIONAL = True  # parse_parts(raw=False) builds no raw copy (registry.parse)
# What every itemized report's default columns have and recon needs (a tuple: any one of them).
REQUIRED = ["balance_transaction_id", ("created_utc", "created"), "currency", "gross", "fee", "net",
            "reporting_category"]
# Read when present (a report's defaults or a run's chosen columns); empty when absent.
OPTIONAL = ("created_utc", "created", "available_on_utc", "available_on", "source_id", "charge_id",
            "description", "customer_facing_amount", "customer_facing_currency", "automatic_payout_id",
            "payment_method_type", "card_brand", "customer_email", "customer_name",
            "customer_description")
OPTIONS = ("merchant_reference_column", "refund_reference_column")
DEFAULT_REFERENCE = "payment_metadata[order_id]"
CATEGORY = {
    "charge": "payment", "refund": "refund", "payout": "payout", "dispute": "chargeback",
    "dispute_reversal": "chargeback", "payout_reversal": "payout",
    "fee": "fee", "adjustment": "adjustment", "other_adjustment": "adjustment",
}
# Stripe's other published reporting categories (docs.stripe.com/reports/reporting-categories):
# balance movements that are neither a payment nor a refund, loaded as adjustments to explain
# (the category stays in raw). refund_failure brings a refund's money back (gross > 0), which
# the refund type's sign forbids; charge_failure and partial_capture_reversal take a charge's back.
CATEGORY |= dict.fromkeys((
    "refund_failure", "charge_failure", "partial_capture_reversal", "risk_reserved_funds",
    "connect_reserved_funds", "connect_collection_transfer", "platform_earning",
    "platform_earning_refund", "tax", "contribution", "topup", "topup_reversal", "transfer",
    "transfer_reversal", "advance", "advance_funding", "anticipation_repayment",
    "climate_order_purchase", "climate_order_refund"), "adjustment")
# The card type a rate card may price by (quirks.attributes: statement_lines.card_type).
CARD_TYPE_FIELD = "card_brand"


def identify(data: bytes, name: str) -> bool:
    return quirks.header_has(data, name, REQUIRED)


def why_not(data: bytes, name: str) -> str:
    return csvhead.why_not(data, name, REQUIRED, NAME)


def parse_parts(data: bytes, *, name: str, source: str, sha256: str, business_date: date,
                timezone: str, part_bytes: int | None = None,
                options: dict | None = None, raw: bool = True) -> Iterator[ParsedFile]:
    """The file as consecutive parts of about ``part_bytes`` bytes (one part when None); without
    the ``raw`` column when ``raw=False``."""
    data = csvhead.as_utf8(data, name)
    names = quirks.header_line(data, name)
    csvhead.require(names, REQUIRED, name)
    refs = _references(options, names, name)
    quoted = data.find(b'"') >= 0  # a quoted empty field ("") reads as '', not as no value
    for start, stop, line in quirks.part_ranges(data, part_bytes):
        rows = textparts.read_part(data, start, stop, line, name)
        if quoted:
            rows = rows.with_columns([pl.when(pl.col(c) != "").then(pl.col(c)).alias(c)
                                      for c in rows.columns if c != "file_line"])
        yield _part(rows, names, refs, name=name, source=source, sha256=sha256,
                    business_date=business_date, timezone=timezone, raw=raw)


parse = quirks.whole_file(parse_parts)


def _references(options: dict | None, names: list[str], file: str) -> dict[str, str | None]:
    options = dict(options or {})
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ParseError(file, None, f"expected source options among {', '.join(OPTIONS)} for {NAME}; "
                                     f"got {', '.join(unknown)}")
    for key in OPTIONS:
        if options.get(key) and options[key] not in names:
            raise ParseError(file, 1, f"expected the column {options[key]!r} that the source option "
                                      f"{key} names; the report's header has no such column (add it "
                                      f"to the report run's columns, or change the option)")
    merchant = options.get("merchant_reference_column") or (
        DEFAULT_REFERENCE if DEFAULT_REFERENCE in names else None)
    return {"merchant": merchant, "refund": options.get("refund_reference_column") or None}


def _col(name: str | None) -> pl.Expr:
    return pl.col(name) if name else pl.lit(None, pl.String)


def _part(rows: pl.DataFrame, names: list[str], refs: dict, *, name: str, source: str, sha256: str,
          business_date: date, timezone: str, raw: bool = True) -> ParsedFile:
    present = [c for c in names if c]  # raw keeps only what the file had
    rows = rows.with_columns([pl.lit(None, pl.String).alias(c) for c in OPTIONAL if c not in rows.columns])
    currency = pl.col("currency").str.strip_chars().str.to_uppercase()
    exp = exponent_of(rows, currency)
    orig_currency = pl.col("customer_facing_currency").str.strip_chars().str.to_uppercase()
    orig_amount = minor_expr(pl.col("customer_facing_amount"), exponent_of(rows, orig_currency))
    if rows["customer_facing_currency"].equals(rows["currency"]):  # a domestic report: the same
        orig_currency = currency  # expressions, computed once (the lazy select's common subexpressions)
        if rows["customer_facing_amount"].equals(rows["gross"]):
            orig_amount = minor_expr(pl.col("gross"), exp)
    category = pl.col("reporting_category")
    # one column per file, never a per-row fallback: an unreadable created_utc is quarantined,
    # not replaced by the local time beside it
    created = "created_utc" if "created_utc" in present else "created"
    available = "available_on" if "available_on" in present else "available_on_utc"
    merchant = _col(refs["merchant"])
    reference = pl.when(category == "refund").then(_col(refs["refund"])).otherwise(merchant) \
        if refs["refund"] else pl.when(category != "refund").then(merchant)
    frame = rows.lazy().select(  # lazy: common subexpressions are computed once
        quirks.line_id(sha256),
        pl.lit(source).alias("source"),
        pl.lit(sha256).alias("file_sha256"),
        "file_line",
        pl.lit(business_date).alias("business_date"),
        (_utc(pl.col("created_utc")) if "created_utc" in present else _local(pl.col("created"), timezone))
          .alias("booked_at"),
        pl.col(available).str.strip_chars().str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)
          .alias("value_date"),
        category.replace_strict(CATEGORY, default=None).alias("txn_type"),
        minor_expr(pl.col("gross"), exp).alias("amount_minor"),
        currency.alias("currency"),
        minor_expr(pl.col("fee"), exp).alias("fee_minor"),
        minor_expr(pl.col("net"), exp).alias("net_minor"),
        orig_amount.alias("orig_amount_minor"),
        orig_currency.alias("orig_currency"),
        pl.coalesce("source_id", "charge_id", "balance_transaction_id").alias("psp_reference"),
        reference.alias("merchant_reference"),
        pl.when(category.is_in(["refund", "dispute", "dispute_reversal", "refund_failure"])).then(merchant)
          .otherwise(None).alias("original_reference"),
        pl.col("automatic_payout_id").alias("payout_id"),
        pl.col("payment_method_type").alias("payment_method"),
        pl.coalesce("customer_email", "customer_name", "customer_description").alias("counterparty"),
        pl.col("description").alias("description"),
        *quirks.audit(present, raw=raw, card_field=CARD_TYPE_FIELD),
    ).collect()
    originals = rows.select(
        "file_line", pl.col("gross").alias("amount_minor"), pl.col("fee").alias("fee_minor"),
        pl.col("net").alias("net_minor"),
        pl.col(created).alias("booked_at"),
        pl.col("reporting_category").alias("txn_type"), pl.col("currency"),
        pl.col(available).alias("value_date"),
        pl.col("customer_facing_amount").alias("orig_amount_minor"),
        pl.col("customer_facing_currency").alias("orig_currency"))
    return finish(frame, (), file_name=name, source=source, required=("fee_minor", "net_minor"),
                  originals=originals, raw=raw)


def _utc(text: pl.Expr) -> pl.Expr:
    return text.str.strip_chars().str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False,
                                                  time_unit="us", time_zone="UTC")


def _local(text: pl.Expr, timezone: str) -> pl.Expr:
    """``created`` in the report run's timezone (the source's) → UTC."""
    return (text.str.strip_chars().str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False, time_unit="us")
            .dt.replace_time_zone(timezone, ambiguous="null", non_existent="null")
            .dt.convert_time_zone("UTC"))
