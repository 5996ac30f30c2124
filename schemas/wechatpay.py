"""WeChat Pay merchant trade bill (downloadbill, bill_type=ALL) → canonical statement lines.

Layout (docs/formats.md): a 27-column header, backtick-padded data rows in Beijing time, then a
summary block (``总交易单数,…`` and one row of totals) that is checked against the rows.
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import polars as pl

from schemas.bytecount import count_byte
from recon.errors import ParseError
from recon.money import exponent_of, minor_expr
from schemas import quirks
from schemas.validation import ControlCheck, ParsedFile, finish, raise_on_failed

NAME = "wechatpay_trade"
COLUMNS = [
    "交易时间", "公众账号ID", "商户号", "特约商户号", "设备号", "微信订单号", "商户订单号", "用户标识",
    "交易类型", "交易状态", "付款银行", "货币种类", "应结订单金额", "代金券金额", "微信退款单号",
    "商户退款单号", "退款金额", "充值券退款金额", "退款类型", "退款状态", "商品名称", "商户数据包",
    "手续费", "费率", "订单金额", "申请退款金额", "费率备注",
]
# summary header → the data column it totals (None: the row count)
SUMMARY = {
    "总交易单数": None, "应结订单总金额": "应结订单金额", "退款总金额": "退款金额",
    "充值券退款总金额": "充值券退款金额", "手续费总金额": "手续费", "订单总金额": "订单金额",
    "申请退款总金额": "申请退款金额",
}
_SUMMARY_MARK = "总交易单数".encode()
_TXN_TYPE = {"SUCCESS": "payment", "REFUND": "refund"}
_IDENTIFYING = ("交易时间", "微信订单号", "商户订单号", "应结订单金额", "微信退款单号", "手续费")


def identify(data: bytes, name: str) -> bool:
    return quirks.header_has(data, name, _IDENTIFYING)


def parse_parts(data: bytes, *, name: str, source: str, sha256: str, business_date: date,
                timezone: str, part_bytes: int | None = None) -> Iterator[ParsedFile]:
    """The file as consecutive parts of about ``part_bytes`` bytes (one part when None).

    One part: the summary block is checked before it is made. Several: each part's rows are
    added up as it is made and the summary is checked after the last one; the last ParsedFile
    (with no rows) carries the checks, or IntegrityError is raised there: whoever stores the
    parts must then drop them (``pipeline.store_statement`` does), so a big file is read once."""
    at, summary_line = _split(data, name)
    quirks.require_columns(quirks.header_line(data, name), COLUMNS, name)
    totals = _read_summary(data[at:], summary_line, name)
    ranges = quirks.part_ranges(data, part_bytes, end=at)
    if len(ranges) == 1:
        rows = quirks.read_text_csv(data[:at], name)
        checks = raise_on_failed(_summary_checks(_found(rows), totals), name)
        yield _part(rows, checks, sha256=sha256, source=source, name=name,
                    business_date=business_date, timezone=timezone)
        return
    found: dict[str, int] = {}
    for start, stop, line in ranges:
        rows = quirks.read_text_csv(quirks.part_data(data, start, stop), name, first_line=line)
        found = {k: found.get(k, 0) + v for k, v in _found(rows).items()}
        yield _part(rows, (), sha256=sha256, source=source, name=name,
                    business_date=business_date, timezone=timezone)
    checks = raise_on_failed(_summary_checks(found, totals), name)
    yield _part(rows.clear(), checks, sha256=sha256, source=source, name=name,
                business_date=business_date, timezone=timezone)


parse = quirks.whole_file(parse_parts)


def _part(rows: pl.DataFrame, checks, *, sha256: str, source: str, name: str, business_date: date,
          timezone: str) -> ParsedFile:
    frame, originals = _canonical(rows, sha256=sha256, source=source,
                                  business_date=business_date, timezone=timezone)
    return finish(frame, checks, file_name=name, source=source, required=("fee_minor",),
                  originals=originals)


def _split(data: bytes, file: str) -> tuple[int, int]:
    """Where the summary block starts (the table is ``data[:at]``) and its header's physical line."""
    at = max(data.rfind(b"\n" + _SUMMARY_MARK), data.rfind(b"\n`" + _SUMMARY_MARK))
    if at < 0:
        raise ParseError(file, None, "expected the summary block (a row starting with 总交易单数) "
                                     "after the data rows")
    return at + 1, count_byte(data, ord("\n"), 0, at + 1) + 1


def _read_summary(block: bytes, line: int, file: str) -> dict[str, str]:
    lines = [ln.strip() for ln in block.decode("utf-8", errors="replace").splitlines()]
    lines = [ln for ln in lines if ln]
    if len(lines) < 2:
        raise ParseError(file, line, "expected a row of totals after the summary header")
    names = [c.strip().lstrip("`") for c in lines[0].split(",")]
    values = [c.strip().lstrip("`") for c in lines[1].split(",")]
    missing = [n for n in SUMMARY if n not in names]
    if missing or len(values) != len(names):
        raise ParseError(file, line, f"expected the summary columns {','.join(SUMMARY)} with one "
                                     f"value each; missing {','.join(missing) or 'values'}")
    return dict(zip(names, values))


def _found(rows: pl.DataFrame) -> dict[str, int]:
    """What the rows add up to, per totalled column (in check units), with the number of rows and,
    per column, of values present but unreadable. Parts add up: sum the dicts."""
    totalled = [col for col in SUMMARY.values() if col]
    units = rows.select(  # each column's units once, then both sums over them
        *[quirks.check_units(pl.col(col)).alias(col) for col in totalled],
        *[pl.col(col).is_not_null().alias(f"{col}#present") for col in totalled])
    found = units.select(
        *[pl.col(col).sum() for col in totalled],
        *[(pl.col(f"{col}#present") & pl.col(col).is_null()).sum().alias(f"{col}#unreadable")
          for col in totalled],
    ).row(0, named=True)
    return {**found, "#rows": rows.height}


def _summary_checks(found: dict[str, int], totals: dict[str, str]) -> list[ControlCheck]:
    checks = [ControlCheck("总交易单数 = number of rows", totals["总交易单数"], str(found["#rows"]),
                           totals["总交易单数"] == str(found["#rows"]))]
    for total, col in SUMMARY.items():
        if col is None:
            continue
        expected = pl.select(quirks.check_units(pl.lit(totals[total]))).item()
        shown = quirks.show_units(found[col])
        if found[f"{col}#unreadable"]:
            shown += f" ({found[f'{col}#unreadable']} unreadable values left out)"
        checks.append(ControlCheck(f"{total} = Σ{col}",
                                   totals[total] if expected is None else quirks.show_units(expected),
                                   shown, expected is not None and expected == found[col]
                                   and not found[f"{col}#unreadable"]))
    return checks


def _canonical(rows: pl.DataFrame, *, sha256: str, source: str, business_date: date,
               timezone: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    refund = pl.col("交易状态") == "REFUND"
    currency = pl.col("货币种类").str.strip_chars().str.to_uppercase()
    amount_text = pl.when(refund).then(pl.col("退款金额")).otherwise(pl.col("应结订单金额"))
    exp = exponent_of(rows, currency)
    amount = minor_expr(amount_text, exp)
    fee = minor_expr(pl.col("手续费"), exp)
    bill_day = business_date.strftime("%Y%m%d")
    frame = rows.lazy().select(  # lazy: the signed amount is computed once for amount and net
        quirks.line_id(sha256),
        pl.lit(source).alias("source"),
        pl.lit(sha256).alias("file_sha256"),
        "file_line",
        pl.lit(business_date).alias("business_date"),
        _local_to_utc(pl.col("交易时间"), timezone).alias("booked_at"),
        pl.col("交易状态").replace_strict(_TXN_TYPE, default=None).alias("txn_type"),
        pl.when(refund).then(-amount).otherwise(amount).alias("amount_minor"),
        currency.alias("currency"),
        fee.alias("fee_minor"),
        (pl.when(refund).then(-amount).otherwise(amount) - fee).alias("net_minor"),
        pl.when(refund).then(pl.col("微信退款单号")).otherwise(pl.col("微信订单号")).alias("psp_reference"),
        pl.when(refund).then(pl.col("商户退款单号")).otherwise(pl.col("商户订单号"))
          .alias("merchant_reference"),
        pl.when(refund).then(pl.col("商户订单号")).otherwise(None).alias("original_reference"),
        (pl.lit("WX") + pl.col("商户号") + pl.lit(f"-{bill_day}")).alias("payout_id"),
        pl.col("交易类型").alias("payment_method"),
        pl.col("用户标识").alias("counterparty"),
        pl.col("商品名称").alias("description"),
        pl.col("交易状态").alias("status"),
        quirks.raw_json(original := [c for c in rows.columns if c != "file_line"]),
        *quirks.attributes(original),
    ).collect()
    originals = rows.select(
        "file_line", amount_text.alias("amount_minor"), pl.col("手续费").alias("fee_minor"),
        pl.col("交易时间").alias("booked_at"), pl.col("交易状态").alias("txn_type"),
        pl.col("货币种类").alias("currency"))
    return frame, originals


def _local_to_utc(text: pl.Expr, timezone: str) -> pl.Expr:
    """Naive local ``YYYY-MM-DD HH:MM:SS`` in the source's timezone → UTC; null if unreadable."""
    return (text.str.strip_chars().str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False, time_unit="us")
            .dt.replace_time_zone(timezone, ambiguous="null", non_existent="null")
            .dt.convert_time_zone("UTC"))
