"""The canonical statement line: the one shape every format's parser produces.

Money columns are Int64 minor units of ``currency`` (see ``recon.money``); signs are from the
company's point of view (money in is positive). ``line_id`` is stable across reruns: the file's
sha256 prefix and the line number in that file.
"""
from __future__ import annotations

import polars as pl

# allocation / allocation_return / unfreeze: a split settlement (分账) — money out to a receiver,
# money back from one (回退), the rest released to the merchant itself (解冻给分账方).
TXN_TYPES = ("payment", "refund", "chargeback", "fee", "payout", "adjustment", "transfer",
             "allocation", "allocation_return", "unfreeze")

STATEMENT_COLUMNS: dict[str, pl.DataType] = {
    "line_id": pl.String,
    "source": pl.String,
    "file_sha256": pl.String,
    "file_line": pl.Int64,
    "business_date": pl.Date,
    "booked_at": pl.Datetime("us", "UTC"),
    "value_date": pl.Date,
    "txn_type": pl.String,
    "amount_minor": pl.Int64,
    "currency": pl.String,
    "fee_minor": pl.Int64,
    "net_minor": pl.Int64,
    # The fee as exact decimal text where the file states it finer than the currency's minor unit
    # (WeChat's 手续费 0.00020): fee_minor and net_minor are then NULL, nothing is rounded.
    "fee_exact": pl.String,
    "orig_amount_minor": pl.Int64,
    "orig_currency": pl.String,
    "fx_rate": pl.String,  # kept as the exact text the source sent
    "psp_reference": pl.String,
    "merchant_reference": pl.String,
    "original_reference": pl.String,  # refunds, chargebacks, reversals: the payment they reverse
    "payout_id": pl.String,
    "end_to_end_id": pl.String,
    "bank_reference": pl.String,
    "payment_method": pl.String,  # e.g. WeChat 交易类型 or Stripe payment_method_type; picks the rate
    "counterparty": pl.String,
    "description": pl.String,
    "status": pl.String,
    # Read for every line by the clearing positions and the fee check, so taken out of the line at
    # parse time (schemas.quirks.attributes): '' when the line has none, NULL when not extracted.
    "merchant_id": pl.String,  # WeChat 商户号, else an `account` field
    "sub_merchant_id": pl.String,  # WeChat 特约商户号, Stripe connected_account or payment_metadata[sub_merchant]
    "card_type": pl.String,  # the format's CARD_TYPE_FIELD (Stripe card_brand)
    "raw": pl.String,  # the original line's fields as JSON, for audit
}

LEDGER_COLUMNS: dict[str, pl.DataType] = {
    "entry_id": pl.String,
    "source": pl.String,  # the channel the entry settles through (a configured source name)
    "business_date": pl.Date,
    "booked_at": pl.Datetime("us", "UTC"),
    "txn_type": pl.String,
    "amount_minor": pl.Int64,
    "currency": pl.String,
    "merchant_reference": pl.String,
    "psp_reference": pl.String,
    "original_reference": pl.String,  # for refunds: the payment they reverse
    "counterparty": pl.String,
    "description": pl.String,
    "receiver": pl.String,  # allocations (分账): the receiver's account (分账接收方账号)
    "status": pl.String,  # the export's status as sent (a mapped status column), else null
    "hold": pl.String,  # why the entry is kept out of matching (null: it is matched)
    "file_line": pl.Int64,
}


def empty_statement_frame() -> pl.DataFrame:
    return pl.DataFrame(schema=STATEMENT_COLUMNS)


def conform(frame: pl.DataFrame, columns: dict[str, pl.DataType] = STATEMENT_COLUMNS) -> pl.DataFrame:
    """Add missing canonical columns as nulls and order/cast them; refuses unknown columns."""
    extra = set(frame.columns) - set(columns)
    if extra:
        raise ValueError(f"columns not in the canonical shape: {sorted(extra)}")
    return frame.select(
        [(pl.col(c) if c in frame.columns else pl.lit(None)).cast(t).alias(c) for c, t in columns.items()]
    )
