"""PayPal SFTP reports (Transaction Detail TRR, Settlement STL, Dispute DDR) → canonical lines.

Record layout (PayPal's SFTP report specification): every line starts with its record type —
``RH`` report header, ``FH`` file header, ``SH`` section header, ``CH`` column names of the section,
``SB`` section body (one transaction), ``SF``/``SC`` section footer and count, ``RF``/``RC`` report
footer and count, ``FF`` file footer. Amounts are unsigned minor units (``10000`` = 100.00 USD) with
a separate debit/credit indicator. Checks: the first number of every SF, SC, RF, RC and FF record
against the SB records in its section / report / file.

Mapping (TRR/STL): T-code group through ``TCODES`` (``T0006`` → ``T00``), amount = ±Gross
Transaction Amount by ``Transaction Debit or Credit`` (CR +, DR −), fee by ``Fee Debit or Credit``
(DR = a cost > 0); psp_reference Transaction ID, merchant_reference Invoice ID, original_reference
PayPal Reference ID. DDR: each dispute is a ``chargeback`` of −Disputed amount, status the case
status and money movement (no money has necessarily moved: matching reads the status).
"""
from __future__ import annotations

import csv
import io
from datetime import date

import polars as pl

from recon.errors import ParseError
from recon.money import exponent_expr
from schemas import psp_quirks as pq
from schemas import quirks
from schemas.validation import ControlCheck, ParsedFile

NAME = "paypal_report"
TCODES = {"T00": "payment", "T01": "fee", "T02": "transfer", "T03": "transfer", "T04": "payout",
          "T05": "transfer", "T06": "transfer", "T07": "transfer", "T11": "refund", "T12": "chargeback",
          "T15": "chargeback", "T19": "adjustment", "T20": "transfer", "T21": "adjustment",
          "T22": "transfer", "T97": "adjustment", "T99": "adjustment"}
COUNTED = {"SF": "section", "SC": "section", "RF": "report", "RC": "report", "FF": "file"}
_TRANSACTION = {"Transaction ID", "Transaction Event Code", "Transaction Initiation Date",
                "Transaction Debit or Credit", "Gross Transaction Amount", "Gross Transaction Currency"}
_DISPUTE = {"Case ID", "Case filing date", "Disputed amount", "Disputed currency", "Case status"}


def identify(data: bytes, name: str) -> bool:
    head = data[:64].lstrip(b"\xef\xbb\xbf")
    return head.startswith((b'"RH",', b"RH,")) and (b'"CH"' in data[:8192] or b"\nCH," in data[:8192])


def parse(data: bytes, *, name: str, source: str, sha256: str, business_date: date,
          timezone: str, options: dict | None = None) -> ParsedFile:
    body, columns, checks = _records(pq.decode(data, name), name)
    if not body:
        raise ParseError(name, None, "expected at least one SB (section body) record")
    rows = pl.DataFrame([{**dict(zip(columns, values, strict=False)), "file_line": line}
                         for line, values in body], schema={**{c: pl.String for c in columns},
                                                            "file_line": pl.Int64})
    if _TRANSACTION <= set(columns):
        frame, originals = _transactions(rows)
    elif _DISPUTE <= set(columns):
        frame, originals = _disputes(rows)
    else:
        raise ParseError(name, None, f"expected the CH columns of a TRR/STL ({', '.join(sorted(_TRANSACTION))}) "
                                     f"or DDR report ({', '.join(sorted(_DISPUTE))})")
    frame = frame.with_columns(*pq.base(sha256, source, business_date),
                               *rows.select(pq.audit(rows)).get_columns())
    return pq.finish(frame, checks, file_name=name, source=source, originals=originals)


def _records(text: str, name: str) -> tuple[list[tuple[int, list[str]]], list[str], list[ControlCheck]]:
    reader = csv.reader(io.StringIO(text))
    body: list[tuple[int, list[str]]] = []
    columns: list[str] = []
    counts = {"section": 0, "report": 0, "file": 0}
    checks: list[ControlCheck] = []
    line = 1
    try:
        for record in reader:
            start, line = line, reader.line_num + 1
            if not record or not "".join(record).strip():
                continue
            kind = record[0].strip()
            if kind == "CH":
                if columns and columns != record[1:]:
                    raise ParseError(name, start, "expected the same CH columns in every section")
                columns = [c.strip() for c in record[1:]]
            elif kind == "SB":
                if not columns:
                    raise ParseError(name, start, "expected a CH record before the first SB record")
                body.append((start, record[1:]))
                counts = {k: v + 1 for k, v in counts.items()}
            elif kind in COUNTED:
                scope = COUNTED[kind]
                written = record[1].strip() if len(record) > 1 else None
                checks.append(pq.count_check(f"{kind} (line {start}) = SB records in the {scope}",
                                             written, counts[scope]))
                if kind in ("SC",) or (kind == "SF" and "SC" not in text):
                    counts["section"] = 0
                if kind == "RC" or (kind == "RF" and "RC" not in text):
                    counts["report"] = 0
            elif kind not in ("RH", "FH", "SH"):
                raise ParseError(name, start, f"expected a record type RH, FH, SH, CH, SB, SF, SC, RF, "
                                              f"RC or FF, got {kind[:20]!r}")
    except csv.Error as exc:
        raise ParseError(name, line, f"expected CSV records ({exc})") from exc
    if not any(c.name.startswith("FF") for c in checks):
        raise ParseError(name, None, "expected the FF (file footer) record: the file is truncated")
    return body, columns, checks


def _signed(amount: str, indicator: str, currency: pl.Expr) -> pl.Expr:
    """Unsigned minor units (as text) → signed Int64; null unless digits only. CR +, DR −."""
    units = pl.col(amount).str.strip_chars()
    value = pl.when(units.str.contains(r"^\d{1,18}$")).then(units.cast(pl.Int64, strict=False))
    sign = pl.col(indicator).str.strip_chars().replace_strict({"CR": 1, "DR": -1}, default=None,
                                                               return_dtype=pl.Int64)
    return pl.when(exponent_expr(currency).is_not_null()).then(sign * value)


def _transactions(rows: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    ccy = pl.col("Gross Transaction Currency").str.to_uppercase()
    gross = _signed("Gross Transaction Amount", "Transaction Debit or Credit", ccy)
    has_fee = ("Fee Amount" in rows.columns) & ("Fee Debit or Credit" in rows.columns)
    fee = (-_signed("Fee Amount", "Fee Debit or Credit", ccy).fill_null(0)) if has_fee else pl.lit(0)
    if has_fee:
        rows = rows.with_columns(pl.col("Fee Debit or Credit").replace("", "CR"), pl.col("Fee Amount").replace("", "0"))
    group = pl.col("Transaction Event Code").str.slice(0, 3)
    kind = group.replace_strict(TCODES, default=None)
    kind = pl.when((kind == "payment") & (gross < 0)).then(pl.lit("transfer")).otherwise(kind)
    when = pl.col("Transaction Initiation Date")
    frame = rows.select(
        "file_line", _when(when).alias("booked_at"), kind.alias("txn_type"), gross.alias("amount_minor"),
        ccy.alias("currency"), fee.alias("fee_minor"), (gross - fee).alias("net_minor"),
        pl.col("Transaction ID").alias("psp_reference"),
        _opt(rows, "Invoice ID").alias("merchant_reference"),
        _opt(rows, "PayPal Reference ID").alias("original_reference"),
        pl.col("Transaction Event Code").alias("payment_method"),
        _opt(rows, "Transaction Event Code").alias("status"))
    originals = rows.select("file_line", pl.col("Gross Transaction Amount").alias("amount_minor"),
                            when.alias("booked_at"), pl.col("Transaction Event Code").alias("txn_type"))
    return frame, originals


def _disputes(rows: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    ccy = pl.col("Disputed currency").str.to_uppercase()
    rows = rows.with_columns(pl.lit("DR").alias("_dr"))
    amount = _signed("Disputed amount", "_dr", ccy)
    frame = rows.select(
        "file_line", _when(pl.col("Case filing date")).alias("booked_at"), pl.lit("chargeback").alias("txn_type"),
        amount.alias("amount_minor"), ccy.alias("currency"), amount.alias("net_minor"),
        pl.col("Case ID").alias("psp_reference"), _opt(rows, "Transaction invoice ID").alias("merchant_reference"),
        _opt(rows, "Original transaction ID").alias("original_reference"),
        _opt(rows, "Claimant name").alias("counterparty"), _opt(rows, "Case reason").alias("description"),
        pl.concat_str([pl.col("Case status"), _opt(rows, "Money movement")], separator=" / ",
                      ignore_nulls=True).alias("status"))
    originals = rows.select("file_line", pl.col("Disputed amount").alias("amount_minor"),
                            pl.col("Case filing date").alias("booked_at"))
    return frame, originals


def _opt(rows: pl.DataFrame, column: str) -> pl.Expr:
    return pl.when(pl.col(column) != "").then(pl.col(column)) if column in rows.columns else pl.lit(None, pl.String)


def _when(text: pl.Expr) -> pl.Expr:
    """``2015/08/13 07:50:09 +0200`` → UTC."""
    return text.str.strip_chars().str.to_datetime("%Y/%m/%d %H:%M:%S %z", strict=False, time_unit="us") \
        .dt.convert_time_zone("UTC")


_ = quirks
