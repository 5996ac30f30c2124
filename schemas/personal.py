"""Personal wallet exports (Alipay 电子客户回单 and WeChat 微信支付账单明细) → canonical lines.

These are consumers' bookkeeping exports, not settlement files: they are read so a company paying
through a personal wallet can match it, and are checked against the public samples' golden output
(double-entry-generator). Their preamble summary (``共N笔记录``, ``收入：N笔 X元``) covers the
export's whole query, not the rows present (the public Alipay sample announces 66 and holds 10),
so it is kept in ``raw`` of nothing and not checked: ``checks == ()``.

Mapping: 收/支 收入 → +金额 (payment), 支出 → −金额 (transfer: money sent by the account holder),
anything else (不计收支, /) → adjustment, + for refunds (交易分类/交易类型 contains 退款) and
− otherwise; status = 交易状态/当前状态 as written (交易关闭 rows are kept with it).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from recon.money import minor_expr
from schemas import psp_quirks as pq
from schemas.validation import ParsedFile


@dataclass(frozen=True)
class Layout:
    first_column: str  # the header row starts with it
    columns: dict[str, str]  # canonical role → the bill's column name
    declared: str | None  # encoding to try after UTF-8


def parse_personal(layout: Layout, data: bytes, *, name: str, source: str, sha256: str,
                   business_date: date, timezone: str, raw: bool = True) -> ParsedFile:
    lines = pq.text_of(data, name, declared=layout.declared)
    header = pq.find_line(lines, lambda s: s.strip(pq.PAD).startswith(layout.first_column), name,
                          f"a header row starting with {layout.first_column}")
    end = len(lines)
    while end > header + 1 and not lines[end - 1].strip(pq.PAD + ","):
        end -= 1
    rows = pq.table(lines, header, end, name, list(layout.columns.values()))
    col = {role: pl.col(column) for role, column in layout.columns.items()}
    direction = col["direction"]
    refund = col["kind"].str.contains("退款")
    value = minor_expr(col["amount"].str.replace("^[¥￥]", ""), 2)
    sign = (pl.when(direction == "收入").then(1).when(direction == "支出").then(-1)
            .when(refund).then(1).otherwise(-1))
    amount = sign * value
    frame = rows.select(
        *pq.base(sha256, source, business_date),
        pq.local_to_utc(col["time"], timezone).alias("booked_at"),
        pl.when(direction == "收入").then(pl.lit("payment")).when(direction == "支出")
          .then(pl.lit("transfer")).otherwise(pl.lit("adjustment")).alias("txn_type"),
        amount.alias("amount_minor"),
        pl.lit("CNY").alias("currency"),
        amount.alias("net_minor"),
        _blank_slash(col["order"]).alias("psp_reference"),
        _blank_slash(col["merchant_order"]).alias("merchant_reference"),
        _blank_slash(col["method"]).alias("payment_method"),
        _blank_slash(col["counterparty"]).alias("counterparty"),
        _blank_slash(col["goods"]).alias("description"),
        col["status"].alias("status"),
        *pq.audit(rows, raw),
    )
    originals = rows.select("file_line", col["amount"].alias("amount_minor"),
                            col["time"].alias("booked_at"))
    return pq.finish(frame, (), file_name=name, source=source, originals=originals, raw=raw)


def _blank_slash(expr: pl.Expr) -> pl.Expr:
    return pl.when(expr.is_in(["", "/"])).then(None).otherwise(expr)
