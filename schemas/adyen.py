"""Adyen Settlement Details Report (CSV, one settlement batch) → canonical statement lines.

Columns are found by header name: report versions order them differently and add columns.
Amounts are decimal text per currency: gross in the Gross Currency (GC), net and the four fee
columns in the Net Currency (NC, the settlement currency).

Mapping: ``currency`` = Net Currency, ``net`` = Net Credit − Net Debit, ``fee`` = Commission +
Markup + Scheme Fees + Interchange, ``amount = net + fee`` (so ``net = amount − fee`` holds in
the settlement currency); where GC ≠ NC the gross becomes ``orig_amount``/``orig_currency`` and
the Exchange Rate text ``fx_rate``. Type through ``TYPES`` (unknown types are quarantined);
``payout_id`` = ``{Merchant Account}:{Batch Number}`` on every row (the payout settles the batch).
Check: per merchant account, batch and net currency, Σ net of the other rows = the MerchantPayout
row's Net Debit.
"""
from __future__ import annotations

from datetime import date

import polars as pl

from recon.money import exponent_expr, minor_expr
from schemas import psp_quirks as pq
from schemas import quirks
from schemas.validation import ControlCheck, ParsedFile

NAME = "adyen_settlement"
RAW_OPTIONAL = True  # parse(raw=False) builds no raw copy (registry.parse)
COLUMNS = ["Merchant Account", "Psp Reference", "Merchant Reference", "Payment Method", "Creation Date",
           "TimeZone", "Type", "Modification Reference", "Gross Currency", "Gross Debit (GC)",
           "Gross Credit (GC)", "Exchange Rate", "Net Currency", "Net Debit (NC)", "Net Credit (NC)",
           "Commission (NC)", "Markup (NC)", "Scheme Fees (NC)", "Interchange (NC)", "Batch Number"]
FEES = ["Commission (NC)", "Markup (NC)", "Scheme Fees (NC)", "Interchange (NC)"]
TYPES = {
    "Settled": "payment", "SettledBulk": "payment", "Refunded": "refund", "RefundedBulk": "refund",
    "RefundedReversed": "refund", "Chargeback": "chargeback", "ChargebackReversed": "chargeback",
    "SecondChargeback": "chargeback", "Fee": "fee", "InvoiceDeduction": "fee", "MiscCosts": "fee",
    "PaymentCost": "fee", "MerchantPayout": "payout", "Balancetransfer": "transfer",
    "DepositCorrection": "adjustment", "Correction": "adjustment",
}
# Adyen writes the zone as an abbreviation; offsets in minutes east of UTC.
TZ_OFFSETS = {"UTC": 0, "GMT": 0, "WET": 0, "WEST": 60, "BST": 60, "CET": 60, "CEST": 120, "EET": 120,
              "EEST": 180, "MSK": 180, "GST": 240, "IST": 330, "SGT": 480, "HKT": 480, "CST": 480,
              "AWST": 480, "JST": 540, "AEST": 600, "AEDT": 660, "NZST": 720, "NZDT": 780,
              "EST": -300, "EDT": -240, "CDT": -300, "MST": -420, "MDT": -360, "PST": -480,
              "PDT": -420, "BRT": -180}
_IDENTIFYING = ("Psp Reference", "Merchant Account", "Batch Number", "Net Currency", "Creation Date")


def identify(data: bytes, name: str) -> bool:
    return pq.has_words(data, _IDENTIFYING, encodings=("utf-8",))


def _money(column: str, currency: pl.Expr) -> pl.Expr:
    return minor_expr(pl.col(column).replace("", "0"), exponent_expr(currency))


def parse(data: bytes, *, name: str, source: str, sha256: str, business_date: date,
          timezone: str, options: dict | None = None, raw: bool = True) -> ParsedFile:
    lines = pq.text_of(data, name)
    end = len(lines)
    while end > 1 and not lines[end - 1].strip(pq.PAD + ","):
        end -= 1
    rows = pq.table(lines, 0, end, name, COLUMNS)
    if "Modification Merchant Reference" not in rows.columns:  # older report versions
        rows = rows.with_columns(pl.lit("").alias("Modification Merchant Reference"))
    nc = pl.col("Net Currency").str.to_uppercase()
    gc = pl.col("Gross Currency").str.to_uppercase()
    net = _money("Net Credit (NC)", nc) - _money("Net Debit (NC)", nc)
    fee = pl.sum_horizontal([_money(c, nc) for c in FEES]).cast(pl.Int64)
    fee = pl.when(pl.all_horizontal([_money(c, nc).is_not_null() for c in FEES])).then(fee)
    gross = _money("Gross Credit (GC)", gc) - _money("Gross Debit (GC)", gc)
    cross = (gc != nc) & (gc != "")
    kind = pl.col("Type")
    modification = (kind.replace_strict(TYPES, default=None).is_in(["refund", "chargeback"])
                    & (pl.col("Modification Reference") != ""))
    no_fee = kind.replace_strict(TYPES, default=None).is_in(["payout", "transfer", "fee"])
    frame = rows.select(
        *pq.base(sha256, source, business_date),
        _booked(pl.col("Creation Date"), pl.col("TimeZone")).alias("booked_at"),
        kind.replace_strict(TYPES, default=None).alias("txn_type"),
        (net + pl.when(no_fee).then(0).otherwise(fee)).alias("amount_minor"),
        nc.alias("currency"),
        pl.when(no_fee).then(None).otherwise(fee).alias("fee_minor"),
        net.alias("net_minor"),
        pl.when(cross).then(gross).alias("orig_amount_minor"),
        pl.when(cross).then(gc).alias("orig_currency"),
        pl.when(cross & (pl.col("Exchange Rate") != "")).then(pl.col("Exchange Rate")).alias("fx_rate"),
        pl.when(modification).then(pl.col("Modification Reference")).otherwise(pl.col("Psp Reference"))
          .alias("psp_reference"),
        pl.when(modification & (pl.col("Modification Merchant Reference") != ""))
          .then(pl.col("Modification Merchant Reference")).otherwise(pl.col("Merchant Reference"))
          .alias("merchant_reference"),
        pl.when(modification).then(pl.col("Psp Reference")).alias("original_reference"),
        pl.concat_str([pl.col("Merchant Account"), pl.col("Batch Number")], separator=":").alias("payout_id"),
        pl.col("Payment Method").alias("payment_method"),
        kind.alias("status"),
        *pq.audit(rows, raw),
    )
    originals = rows.select("file_line", pl.col("Net Credit (NC)").alias("net_minor"),
                            pl.concat_str(pl.col("Net Credit (NC)"), pl.col("Net Debit (NC)")).alias("amount_minor"),
                            pl.col("Creation Date").alias("booked_at"), kind.alias("txn_type"),
                            pl.col("Net Currency").alias("currency"))
    return pq.finish(frame, _payout_checks(rows), file_name=name, source=source, originals=originals,
                     raw=raw)


def _booked(text: pl.Expr, zone: pl.Expr) -> pl.Expr:
    offset = zone.str.strip_chars().str.to_uppercase().replace_strict(TZ_OFFSETS, default=None,
                                                                        return_dtype=pl.Int64)
    naive = text.str.strip_chars().str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False, time_unit="us")
    return (naive - pl.duration(minutes=offset)).dt.replace_time_zone("UTC")


def _payout_checks(rows: pl.DataFrame) -> list[ControlCheck]:
    """Σ net of each batch's rows = its MerchantPayout, per net currency (ten-thousandths)."""
    units = rows.select(
        pl.col("Merchant Account"), pl.col("Batch Number"), pl.col("Net Currency").alias("ccy"),
        (pl.col("Type") == "MerchantPayout").alias("payout"),
        (quirks.check_units(pl.col("Net Credit (NC)").replace("", "0"))
         - quirks.check_units(pl.col("Net Debit (NC)").replace("", "0"))).alias("net"))
    keys = ["Merchant Account", "Batch Number", "ccy"]
    batches = (units.group_by(keys, maintain_order=True)
               .agg(pl.col("net").filter(~pl.col("payout")).sum().alias("rows"),
                    (-pl.col("net").filter(pl.col("payout"))).sum().alias("paid"),
                    pl.col("payout").any().alias("has_payout"), pl.col("net").is_null().sum().alias("bad"))
               .filter(pl.col("has_payout")))
    checks = []
    for b in batches.iter_rows(named=True):
        label = f"batch {b['Batch Number']} {b['Merchant Account']} {b['ccy']}: MerchantPayout = Σ net of the batch"
        found = quirks.show_units(b["rows"]) + (f" ({b['bad']} unreadable)" if b["bad"] else "")
        checks.append(ControlCheck(label, quirks.show_units(b["paid"]), found,
                                   not b["bad"] and b["rows"] == b["paid"]))
    return checks
