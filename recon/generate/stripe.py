"""Stripe itemized balance change report (``balance_change_from_activity.itemized``, run with
timezone=Asia/Shanghai): one row per balance transaction and the day's payout row last."""
from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import polars as pl

from recon.generate import fmt, ids
from recon.generate.spec import STRIPE
from recon.generate.world import PspDay

HEADER = ("balance_transaction_id,created_utc,created,available_on_utc,available_on,currency,gross,fee,"
          "net,reporting_category,source_id,description,customer_facing_amount,customer_facing_currency,"
          "automatic_payout_id,automatic_payout_effective_at,payment_intent_id,payment_metadata[order_id],"
          "refund_metadata[refund_id],card_brand,payment_method_type").split(",")
PAYOUT_SEC = 86_399  # the payout row is stamped 23:59:59 local on the report day
# Stripe's default columns per itemized report type (docs.stripe.com/reports/report-types, the
# columns marked default); a run may ask for more (the metadata columns above among them).
_BASE = ["balance_transaction_id", "created_utc", "available_on_utc", "currency", "gross", "fee", "net",
         "reporting_category"]
_LOCAL = ["balance_transaction_id", "created_utc", "created", "available_on_utc", "available_on",
          "currency", "gross", "fee", "net", "reporting_category"]
_FACING = ["source_id", "description", "customer_facing_amount", "customer_facing_currency"]
_PAYOUT = ["automatic_payout_id", "automatic_payout_effective_at_utc"]
REPORT_COLUMNS = {
    "balance_change_from_activity.itemized.1": [*_BASE, "description"],
    "balance_change_from_activity.itemized.2": [*_BASE, *_FACING],
    "balance_change_from_activity.itemized.3": [*_LOCAL, *_FACING],
    "payout_reconciliation.itemized.1": [*_PAYOUT, *_BASE, "description"],
    "payout_reconciliation.itemized.2": [*_PAYOUT, *_BASE, *_FACING],
    "payout_reconciliation.itemized.3": [*_PAYOUT, *_BASE, *_FACING],
    "payout_reconciliation.itemized.4": [*_PAYOUT, "automatic_payout_effective_at", *_LOCAL, "description"],
    "payout_reconciliation.itemized.5": ["automatic_payout_id", "automatic_payout_effective_at",
                                         "balance_transaction_id", "created", "available_on", "currency",
                                         "gross", "fee", "net", "reporting_category", *_FACING],
}
METADATA = ["payment_metadata[order_id]", "refund_metadata[refund_id]"]


def write(path: Path, day: date, psp_day: PspDay, payout: str, emails: pl.Series | None = None) -> int:
    """Write the report; returns the number of rows (payout row included).

    ``emails`` (hard scenario) adds the ``customer_email`` column, one address per customer."""
    frame = pl.concat([rows(day, psp_day, payout, emails), payout_row(day, payout, psp_day.net_minor,
                                                                      emails is not None)])
    frame.write_csv(path, line_terminator="\n", quote_style="necessary", null_value="")
    return frame.height


def rows(day: date, psp_day: PspDay, payout: str, emails: pl.Series | None = None) -> pl.DataFrame:
    """The report's rows of the day's lines (no payout row), empty fields as nulls, ready for
    ``write_csv(null_value="")``."""
    lines = pl.DataFrame(psp_day.lines)
    refund = pl.col("is_refund")
    day_text = fmt.day_text(pl.col("order_day"), set(lines["order_day"].unique().to_list()))
    arrival = day + timedelta(days=1)
    available = fmt.local_time(arrival, pl.lit(0))
    gross = pl.when(refund).then(-pl.col("amount")).otherwise(pl.col("amount"))
    product = fmt.pick(pl.col("product"), STRIPE.products)
    txn_body = pl.when(refund).then(
        pl.concat_str([pl.lit(f"{day:%Y%m%d}R"), fmt.padded(pl.col("refund_idx"), 13)])
    ).otherwise(pl.concat_str([day_text, pl.lit("C"), fmt.padded(pl.col("order_idx"), 13)]))
    created = fmt.local_time(day, pl.col("sec"))
    frame = lines.select(
        pl.concat_str([pl.lit("txn_3"), txn_body]).alias("balance_transaction_id"),
        fmt.utc_stamp(created).alias("created_utc"),
        fmt.stamp(created).alias("created"),
        fmt.utc_stamp(available).alias("available_on_utc"),
        fmt.stamp(available).alias("available_on"),
        pl.lit("usd").alias("currency"),
        fmt.money(gross).alias("gross"),
        fmt.money(pl.col("fee")).alias("fee"),
        fmt.money(gross - pl.col("fee")).alias("net"),
        pl.when(refund).then(pl.lit("refund")).otherwise(pl.lit("charge")).alias("reporting_category"),
        ids.psp_reference_expr(STRIPE, day, day_text).alias("source_id"),
        pl.when(refund).then(pl.concat_str([pl.lit("REFUND FOR CHARGE ("), product, pl.lit(")")]))
        .otherwise(product).alias("description"),
        fmt.money(pl.col("amount")).alias("customer_facing_amount"),
        pl.lit("usd").alias("customer_facing_currency"),
        pl.lit(payout).alias("automatic_payout_id"),
        pl.lit(f"{arrival} 00:00:00").alias("automatic_payout_effective_at"),
        ids.intent_id_expr(day_text, pl.col("order_idx")).alias("payment_intent_id"),
        ids.order_ref_expr(STRIPE, day_text, pl.col("order_idx")).alias("payment_metadata[order_id]"),
        pl.when(refund).then(ids.refund_ref_expr(STRIPE, day, pl.col("refund_idx")))
        .otherwise(pl.lit("")).alias("refund_metadata[refund_id]"),
        fmt.pick(pl.col("method"), STRIPE.methods).alias("card_brand"),
        pl.lit("card").alias("payment_method_type"),
    )
    header = HEADER
    if emails is not None:  # hard scenario: disputes, FX, lost metadata, noisy ids, customer e-mails
        frame, header = _hard(frame, lines, day, emails), [*HEADER, "customer_email"]
    return fmt.empty_as_null(frame.select(header))


def report(frame: pl.DataFrame, report_type: str, metadata: bool = False) -> pl.DataFrame:
    """The rows of ``frame`` (``rows``/``payout_row``) as the report type writes them by default,
    with the metadata columns when the run asks for them. A payout reconciliation report lists
    what each payout settles, not the payout itself: the payout row is left out there."""
    columns = REPORT_COLUMNS[report_type] + (METADATA if metadata else [])
    if report_type.startswith("payout_reconciliation"):
        frame = frame.filter(pl.col("reporting_category") != "payout")
    return frame.with_columns(
        pl.col("automatic_payout_effective_at").alias("automatic_payout_effective_at_utc")).select(columns)


def payout_row(day: date, payout: str, net_minor: int, emails: bool = False) -> pl.DataFrame:
    """The report's last row: the automatic payout of the day's net ``net_minor``."""
    header = [*HEADER, "customer_email"] if emails else HEADER
    arrival = day + timedelta(days=1)
    payout_amount = fmt.money_text(-net_minor)
    created_utc, created_local = fmt.stamps(day, PAYOUT_SEC)
    row = {c: "" for c in header} | {
        "balance_transaction_id": f"txn_{payout[3:]}",
        "created_utc": created_utc, "created": created_local,
        "available_on_utc": fmt.stamps(arrival, 0)[0], "available_on": f"{arrival} 00:00:00", "currency": "usd", "gross": payout_amount,
        "fee": "0.00", "net": payout_amount, "reporting_category": "payout", "source_id": payout,
        "description": "STRIPE PAYOUT", "automatic_payout_id": payout,
        "automatic_payout_effective_at": f"{arrival} 00:00:00",
    }
    return fmt.empty_as_null(pl.DataFrame([row], schema={c: pl.String for c in header}))


def _hard(frame: pl.DataFrame, lines: pl.DataFrame, day: date, emails: pl.Series) -> pl.DataFrame:
    """The hard scenario's rows: disputes, EUR-presented charges, lost order ids, noisy order ids."""
    dispute, orig = pl.col("is_dispute"), pl.col("orig")
    day_text = fmt.day_text(pl.col("order_day"), set(lines["order_day"].unique().to_list()))
    order_ref = ids.order_ref_expr(STRIPE, day_text, pl.col("order_idx"))
    charge = ids.payment_id_expr(STRIPE, day_text, pl.col("order_idx"))
    overrides = lines.select(
        pl.when(dispute).then(pl.concat_str([pl.lit(f"txn_3{day:%Y%m%d}D"), fmt.padded(pl.col("refund_idx"), 13)]))
        .alias("balance_transaction_id"),
        pl.when(dispute).then(fmt.money(-pl.col("amount"))).alias("gross"),
        pl.when(dispute).then(fmt.money(-pl.col("amount") - pl.col("fee"))).alias("net"),
        pl.when(dispute).then(pl.lit("dispute")).alias("reporting_category"),
        pl.when(dispute).then(ids.dispute_id_expr(day, pl.col("refund_idx"))).alias("source_id"),
        pl.when(dispute).then(pl.concat_str([pl.lit("Chargeback withdrawal for "), charge])).alias("description"),
        pl.when(orig > 0).then(fmt.money(orig)).alias("customer_facing_amount"),
        pl.when(orig > 0).then(pl.lit("eur")).alias("customer_facing_currency"),
        pl.when(pl.col("no_order")).then(pl.lit("")).when(pl.col("noise") >= 0)
        .then(ids.noisy_ref_expr(order_ref, pl.col("noise"))).alias("payment_metadata[order_id]"),
    )
    return frame.with_columns(
        *[pl.coalesce(overrides[c], pl.col(c)).alias(c) for c in overrides.columns],
        emails.gather(lines["user"]).alias("customer_email"),
    )
