"""The company ledger export (``ledger_YYYYMMDD.csv``): one entry per payment and refund the
company booked on the day, through any channel, in booking order."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from recon.generate import fmt, ids
from recon.generate.spec import Psp
from recon.generate.world import PspDay

HEADER = ("entry_id", "business_date", "booked_at", "channel", "txn_type", "merchant_reference",
          "psp_reference", "original_reference", "amount", "currency", "counterparty", "description")


def _entries(day: date, psp: Psp, psp_day: PspDay, customers: pl.Series) -> pl.DataFrame:
    entries = pl.DataFrame(psp_day.ledger)
    refund = pl.col("is_refund")
    day_text = fmt.day_text(pl.col("order_day"), set(entries["order_day"].unique().to_list()))
    booked = fmt.local_time(day, pl.col("sec"))
    txn_type = pl.when(refund).then(pl.lit("refund")).otherwise(pl.lit("payment"))
    original = pl.when(refund).then(ids.order_ref_expr(psp, day_text, pl.col("order_idx"))).otherwise(pl.lit(""))
    currency = pl.lit(psp.currency)
    if "is_chargeback" in entries.columns:  # hard scenario: chargebacks of earlier orders
        chargeback = pl.col("is_chargeback")
        txn_type = pl.when(chargeback).then(pl.lit("chargeback")).otherwise(txn_type)
        original = pl.when(chargeback).then(ids.order_ref_expr(psp, day_text, pl.col("order_idx"))) \
            .otherwise(original)
    reference = ids.merchant_reference_expr(psp, day, day_text)
    if "own_ref" in entries.columns:  # hard scenario: refunds under the ledger's own refund id
        reference = pl.when(pl.col("own_ref")).then(ids.own_refund_ref_expr(psp, day, pl.col("refund_idx"))) \
            .otherwise(reference)
    if "is_eur" in entries.columns:  # hard scenario: charges presented in EUR, booked in EUR
        currency = pl.when(pl.col("is_eur")).then(pl.lit("EUR")).otherwise(currency)
    return entries.select(
        pl.col("sec"),
        booked.dt.date().cast(pl.String).alias("business_date"),
        fmt.stamp(booked, "%Y-%m-%dT%H:%M:%S%:z").alias("booked_at"),
        pl.lit(psp.name).alias("channel"),
        txn_type.alias("txn_type"),
        reference.alias("merchant_reference"),
        pl.when(pl.col("has_psp_ref")).then(ids.psp_reference_expr(psp, day, day_text))
        .otherwise(pl.lit("")).alias("psp_reference"),
        original.alias("original_reference"),
        fmt.money(pl.col("amount")).alias("amount"),
        currency.alias("currency"),
        customers.gather(entries["user"]).alias("counterparty"),
        fmt.pick(pl.col("product"), psp.products).alias("description"),
    )


def write(path: Path, day: date, days: list[tuple[Psp, PspDay, pl.Series]]) -> int:
    """Write the ledger of all channels, sorted by booking time; returns the number of entries."""
    frame = rows(day, days)
    frame.write_csv(path, line_terminator="\n", quote_style="necessary", null_value="")
    return frame.height


def rows(day: date, days: list[tuple[Psp, PspDay, pl.Series]], first_entry: int = 1) -> pl.DataFrame:
    """The export's rows of all channels, sorted by booking time, numbered from ``first_entry``,
    empty fields as nulls, ready for ``write_csv(null_value="")``."""
    frame = pl.concat([_entries(day, psp, psp_day, customers) for psp, psp_day, customers in days])
    frame = frame.sort("sec", maintain_order=True).with_columns(
        pl.concat_str([pl.lit(f"LE{day:%Y%m%d}"),
                       fmt.padded(pl.int_range(first_entry, pl.len() + first_entry), 9)])
        .alias("entry_id"))
    return fmt.empty_as_null(frame.select(HEADER))
