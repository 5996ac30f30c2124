"""Alipay merchant 账务明细 bill (account movements) → canonical statement lines.

Same envelope as the 业务明细 bill (schemas.alipay: GBK, zipped or not, ``#`` preamble and footer,
padded values) with the title ``#支付宝账务明细查询`` and the columns below. Footer totals
``#收入合计：N笔，共X元`` / ``#支出合计：N笔，共-X元`` are checked against the rows, and the running
账户余额 (each row's balance = the previous one + its 收入 − its 支出).

Mapping: one line per movement, ``amount = 收入金额 − |支出金额|``; 业务类型 through ``TYPES``
(unknown types are quarantined); 提现 is the payout (``payout_id`` = 业务流水号); psp_reference
业务流水号, bank_reference 账务流水号, merchant_reference 商户订单号.
"""
from __future__ import annotations

from datetime import date

import polars as pl

from recon.money import minor_expr
from schemas import alipay, quirks
from schemas import psp_quirks as pq
from schemas.validation import ControlCheck, ParsedFile

NAME = "alipay_account"
TITLE = "#支付宝账务明细查询"
COLUMNS = ["账务流水号", "业务流水号", "商户订单号", "商品名称", "发生时间", "对方账号", "收入金额（+元）",
           "支出金额（-元）", "账户余额（元）", "交易渠道", "业务类型", "备注"]
TYPES = {"在线支付": "payment", "交易付款": "payment", "交易": "payment", "交易退款": "refund",
         "退款": "refund", "收费": "fee", "服务费": "fee", "提现": "payout", "转账": "transfer",
         "充值": "transfer", "调账": "adjustment"}


def identify(data: bytes, name: str) -> bool:
    return alipay._claims(data, name, TITLE)


def _signed(rows_income: pl.Expr, rows_expense: pl.Expr, exp: int) -> pl.Expr:
    return (minor_expr(rows_income.replace("", "0"), exp)
            - minor_expr(rows_expense.replace("", "0"), exp).abs())


def parse(data: bytes, *, name: str, source: str, sha256: str, business_date: date,
          timezone: str, options: dict | None = None) -> ParsedFile:
    lines, header, end = alipay.bill_lines(data, name, TITLE, "账务流水号")
    rows = pq.table(lines, header, end, name, COLUMNS)
    income, expense = pl.col("收入金额（+元）"), pl.col("支出金额（-元）")
    amount = _signed(income, expense, 2)
    kind = pl.col("业务类型")
    frame = rows.select(
        *pq.base(sha256, source, business_date),
        pq.local_to_utc(pl.col("发生时间"), timezone).alias("booked_at"),
        kind.replace_strict(TYPES, default=None).alias("txn_type"),
        amount.alias("amount_minor"),
        pl.lit("CNY").alias("currency"),
        amount.alias("net_minor"),
        pl.col("业务流水号").alias("psp_reference"),
        pl.col("商户订单号").alias("merchant_reference"),
        pl.when(kind == "提现").then(pl.col("业务流水号")).alias("payout_id"),
        pl.col("账务流水号").alias("bank_reference"),
        pl.col("交易渠道").alias("payment_method"),
        pl.col("对方账号").alias("counterparty"),
        pl.col("商品名称").alias("description"),
        kind.alias("status"),
        *pq.audit(rows),
    )
    originals = rows.select(
        "file_line", pl.when(income.is_in(["", "0", "0.00"])).then(expense).otherwise(income)
        .alias("amount_minor"), pl.col("发生时间").alias("booked_at"), kind.alias("txn_type"))
    is_income = ~income.is_in(["", "0", "0.00"])
    checks = alipay.footer_checks(lines, end, rows, kind_column="收入/支出金额",
                                  filters={"收入": is_income, "支出": ~is_income},
                                  default_column={"收入": "收入金额（+元）", "支出": "支出金额（-元）"},
                                  name=name)
    checks.append(_balance_check(rows))
    return pq.finish(frame, checks, file_name=name, source=source, originals=originals)


def _balance_check(rows: pl.DataFrame) -> ControlCheck:
    units = rows.select(
        "file_line", quirks.check_units(pl.col("账户余额（元）")).alias("balance"),
        _signed(pl.col("收入金额（+元）"), pl.col("支出金额（-元）"), quirks.CHECK_EXPONENT).alias("amount"))
    steps = units.with_columns((pl.col("balance").shift(1) + pl.col("amount")).alias("expected")).slice(1)
    bad = steps.filter(pl.col("expected").is_null() | pl.col("balance").is_null()
                       | (pl.col("expected") != pl.col("balance")))
    label = "账户余额(n) = 账户余额(n−1) + 收入(n) − 支出(n)"
    if not bad.height:
        return ControlCheck(label, "a continuous balance", "a continuous balance", True)
    first = bad.row(0, named=True)
    return ControlCheck(f"{label} at line {first['file_line']}", quirks.show_units(first["expected"]),
                        quirks.show_units(first["balance"]), False)
