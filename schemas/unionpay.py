"""UnionPay acquirer reconciliation file (银联 INN…ACOM 交易流水/清算文件, fixed width) → canonical lines.

Each detail record is one line with every field at a fixed offset and width: the layout is the data
table ``LAYOUT`` below (name, start, width; 0-based), so a bank's variant is a new table, not new
code. Amounts are fen, 12 digits zero-padded; dates ``MMDD`` (the year is the business date's, or
the year before for a December record read in January); an optional trailer record ``TRL`` carries
the record count and Σ amounts, and is checked when present.

Mapping: 交易代码 through ``TXN_CODES`` (unknown codes are quarantined); amount = ±交易金额 (refunds
and voids negative); fee = 商户手续费 signed by its D (charged)/C (returned) flag; psp_reference =
检索参考号 (RRN), bank_reference = 系统跟踪号, merchant_reference = 商户订单号, payout_id =
``UP{商户代码}-{清算日期 MMDD}``, value_date = 清算日期, payment_method = 卡号 masked.
"""
from __future__ import annotations

from datetime import date

import polars as pl

from recon.errors import ParseError
from schemas import psp_quirks as pq
from schemas import quirks
from schemas.validation import ControlCheck, ParsedFile

NAME = "unionpay_acom"
LAYOUT: tuple[tuple[str, int, int], ...] = (
    ("受理机构代码", 0, 11), ("发送机构代码", 12, 11), ("系统跟踪号", 24, 6), ("交易传输时间", 31, 10),
    ("卡号", 42, 19), ("交易金额", 62, 12), ("交易代码", 75, 3), ("商户类别", 79, 4),
    ("终端代码", 84, 8), ("商户代码", 93, 15), ("检索参考号", 109, 12), ("授权码", 122, 6),
    ("应答码", 129, 2), ("手续费标志", 132, 1), ("商户手续费", 133, 12), ("清算日期", 146, 4),
    ("商户订单号", 151, 32),
)
TRAILER: tuple[tuple[str, int, int], ...] = (("标志", 0, 3), ("总笔数", 3, 10), ("总金额", 13, 16))
TXN_CODES = {"S22": "payment", "S56": "payment", "S24": "refund", "S33": "refund", "S31": "refund",
             "E22": "adjustment", "E74": "adjustment", "C00": "chargeback"}
_NEGATIVE = ("refund",)
RECORD_WIDTH = max(start + width for _, start, width in LAYOUT)


def identify(data: bytes, name: str) -> bool:
    first = data[:512].split(b"\n", 1)[0].rstrip(b"\r")
    return (len(first) >= RECORD_WIDTH - 32 and first[:11].strip().isdigit() and first[12:23].strip().isdigit()
            and first[62:74].isdigit() and first[75:78] in {c.encode() for c in TXN_CODES}
            and first[146:150].isdigit())


def parse(data: bytes, *, name: str, source: str, sha256: str, business_date: date,
          timezone: str, options: dict | None = None) -> ParsedFile:
    lines = pq.text_of(data, name)
    numbered = [(i + 1, ln) for i, ln in enumerate(lines) if ln.strip()]
    trailer = [(n, ln) for n, ln in numbered if ln.startswith("TRL")]
    details = [(n, ln) for n, ln in numbered if not ln.startswith("TRL")]
    if len(trailer) > 1 or (trailer and trailer[0][0] != numbered[-1][0]):
        raise ParseError(name, trailer[-1][0] if trailer else None, "expected at most one TRL trailer, last")
    short = [n for n, ln in details if len(ln) < RECORD_WIDTH - 32]  # the order id may be cut short
    if short:
        raise ParseError(name, short[0], f"expected a fixed-width record of {RECORD_WIDTH} characters")
    rows = pl.DataFrame({"file_line": [n for n, _ in details], "_line": [ln for _, ln in details]},
                        schema={"file_line": pl.Int64, "_line": pl.String})
    rows = rows.with_columns([pl.col("_line").str.slice(s, w).str.strip_chars().alias(f)
                              for f, s, w in LAYOUT]).drop("_line")
    checks = _trailer_checks(trailer[0], rows) if trailer else []
    kind = pl.col("交易代码").replace_strict(TXN_CODES, default=None)
    fen = _fen(pl.col("交易金额"))
    amount = pl.when(kind.is_in(_NEGATIVE)).then(-fen).otherwise(fen)
    fee_sign = pl.col("手续费标志").replace_strict({"D": 1, "C": -1}, default=None, return_dtype=pl.Int64)
    fee = fee_sign * _fen(pl.col("商户手续费"))
    frame = rows.select(
        *pq.base(sha256, source, business_date),
        _month_day(pl.col("交易传输时间"), business_date, timezone).alias("booked_at"),
        _month_day(pl.col("清算日期"), business_date, None).alias("value_date"),
        kind.alias("txn_type"), amount.alias("amount_minor"), pl.lit("CNY").alias("currency"),
        fee.alias("fee_minor"), (amount - fee).alias("net_minor"),
        pl.col("检索参考号").alias("psp_reference"),
        pl.when(pl.col("商户订单号") != "").then(pl.col("商户订单号")).alias("merchant_reference"),
        (pl.lit("UP") + pl.col("商户代码") + pl.lit("-") + pl.col("清算日期")).alias("payout_id"),
        pl.col("系统跟踪号").alias("bank_reference"), pl.col("卡号").alias("payment_method"),
        pl.col("应答码").alias("status"), *pq.audit(rows))
    originals = rows.select("file_line", pl.col("交易金额").alias("amount_minor"),
                            pl.col("商户手续费").alias("fee_minor"), pl.col("交易传输时间").alias("booked_at"),
                            pl.col("清算日期").alias("value_date"), pl.col("交易代码").alias("txn_type"))
    return pq.finish(frame, checks, file_name=name, source=source, required=("fee_minor",), originals=originals)


def _fen(text: pl.Expr) -> pl.Expr:
    return pl.when(text.str.contains(r"^\d{12}$")).then(text.cast(pl.Int64, strict=False))


def _month_day(text: pl.Expr, business_date: date, timezone: str | None) -> pl.Expr:
    """``MMDD`` or ``MMDDhhmmss`` → the business date's year (the year before when it would land
    more than a month after the business date: a December record in a January file)."""
    year = pl.when(text.str.slice(0, 2).cast(pl.Int64, strict=False) > business_date.month + 1) \
        .then(pl.lit(str(business_date.year - 1))).otherwise(pl.lit(str(business_date.year)))
    full = year + text
    if timezone is None:
        return full.str.to_date("%Y%m%d", strict=False)
    return pq.local_to_utc(full, timezone, "%Y%m%d%H%M%S")


def _trailer_checks(trailer: tuple[int, str], rows: pl.DataFrame) -> list[ControlCheck]:
    line, text = trailer
    fields = {f: text[s:s + w].strip() for f, s, w in TRAILER}
    total = rows.select(_fen(pl.col("交易金额")).sum()).item()
    bad = rows.select(_fen(pl.col("交易金额")).is_null().sum()).item()
    written = fields["总金额"].lstrip("0") or "0"
    found = str(total or 0) + (f" ({bad} unreadable)" if bad else "")
    return [pq.count_check(f"TRL 总笔数 (line {line}) = detail records", fields["总笔数"].lstrip("0") or "0",
                           rows.height),
            ControlCheck(f"TRL 总金额 (line {line}) = Σ交易金额 (fen)", written, found, not bad and written == found)]


_ = quirks
