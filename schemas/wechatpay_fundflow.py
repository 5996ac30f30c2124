"""WeChat Pay fund-flow bill (资金账单, downloadfundflow) → canonical statement lines.

Layout: an 11-column header, backtick-padded data rows in Beijing time (one per movement of the
merchant's WeChat Pay account), then a summary block ``资金流水总笔数,收入笔数,收入金额,支出笔数,
支出金额`` and one row of values. Checks: the five summary values against the rows, and the
running balance: each row's 账户结余 = the previous row's 账户结余 ± its 收支金额.

Mapping: 收入 → +收支金额, 支出 → −收支金额 (company's point of view); 业务类型 through
``BUSINESS_TYPES`` (unknown types are quarantined, never guessed); 提现 (withdrawal to the bank) is
the payout: ``payout_id`` = 微信支付业务单号, which the bank credit carries.
"""
from __future__ import annotations

from datetime import date

import polars as pl

from recon.errors import ParseError
from recon.money import minor_expr
from schemas import psp_quirks as pq
from schemas import quirks
from schemas.validation import ControlCheck, ParsedFile

NAME = "wechatpay_fundflow"
RAW_OPTIONAL = True  # parse(raw=False) builds no raw copy (registry.parse)
COLUMNS = ["记账时间", "微信支付业务单号", "资金流水单号", "业务名称", "业务类型", "收支类型",
           "收支金额（元）", "账户结余（元）", "资金变更提交申请人", "备注", "业务凭证号"]
SUMMARY = ["资金流水总笔数", "收入笔数", "收入金额", "支出笔数", "支出金额"]
BUSINESS_TYPES = {  # 业务类型 → canonical txn_type
    "交易": "payment", "退款": "refund", "提现": "payout", "手续费": "fee", "扣除交易手续费": "fee",
    "充值": "transfer", "转账": "transfer", "企业付款": "transfer", "分账": "transfer",
    "分账回退": "transfer", "调账": "adjustment", "冻结": "adjustment", "解冻": "adjustment",
}
SIGNS = {"收入": 1, "支出": -1}
_IDENTIFYING = ("记账时间", "资金流水单号", "收支类型", "账户结余")


def identify(data: bytes, name: str) -> bool:
    return pq.has_words(data, _IDENTIFYING, encodings=("utf-8",))


def parse(data: bytes, *, name: str, source: str, sha256: str, business_date: date,
          timezone: str, options: dict | None = None, raw: bool = True) -> ParsedFile:
    lines = pq.text_of(data, name)
    header = pq.find_line(lines, lambda s: s.lstrip("`").startswith("记账时间"), name,
                          "a header row starting with 记账时间")
    summary = pq.find_line(lines, lambda s: s.lstrip("`").startswith("资金流水总笔数"), name,
                           "the summary block (a row starting with 资金流水总笔数) after the data rows",
                           start=header + 1)
    rows = pq.table(lines, header, summary, name, COLUMNS)
    totals = _summary(lines, summary, name)
    sign = pl.col("收支类型").replace_strict(SIGNS, default=None, return_dtype=pl.Int64)
    amount = sign * minor_expr(pl.col("收支金额（元）"), 2)
    payout = pl.col("业务类型") == "提现"
    frame = rows.select(
        *pq.base(sha256, source, business_date),
        pq.local_to_utc(pl.col("记账时间"), timezone).alias("booked_at"),
        pl.col("业务类型").replace_strict(BUSINESS_TYPES, default=None).alias("txn_type"),
        amount.alias("amount_minor"),
        pl.lit("CNY").alias("currency"),
        amount.alias("net_minor"),
        pl.col("微信支付业务单号").alias("psp_reference"),
        pl.col("业务凭证号").alias("merchant_reference"),
        pl.when(payout).then(pl.col("微信支付业务单号")).alias("payout_id"),
        pl.col("资金流水单号").alias("bank_reference"),
        pl.col("资金变更提交申请人").alias("counterparty"),
        pl.concat_str([pl.col("业务名称"), pl.col("备注")], separator=" ", ignore_nulls=True)
          .str.strip_chars().alias("description"),
        pl.col("收支类型").alias("status"),
        *pq.audit(rows, raw),
    )
    originals = rows.select("file_line", pl.col("收支金额（元）").alias("amount_minor"),
                            pl.col("记账时间").alias("booked_at"), pl.col("业务类型").alias("txn_type"))
    return pq.finish(frame, _checks(rows, totals), file_name=name, source=source, originals=originals,
                     raw=raw)


def _summary(lines: list[str], at: int, name: str) -> dict[str, str]:
    names = [c.strip(pq.PAD) for c in lines[at].split(",")]
    values = [c.strip(pq.PAD) for c in lines[at + 1].split(",")] if at + 1 < len(lines) else []
    missing = [n for n in SUMMARY if n not in names]
    if missing or len(values) < len(names):
        raise ParseError(name, at + 1, f"expected the summary columns {','.join(SUMMARY)} and a row "
                                       f"with one value each; missing {','.join(missing) or 'values'}")
    return dict(zip(names, values, strict=False))


def _checks(rows: pl.DataFrame, totals: dict[str, str]) -> list[ControlCheck]:
    income = rows.filter(pl.col("收支类型") == "收入")
    expense = rows.filter(pl.col("收支类型") == "支出")
    amount = pl.col("收支金额（元）")
    return [
        pq.count_check("资金流水总笔数 = number of rows", totals["资金流水总笔数"], rows.height),
        pq.count_check("收入笔数 = rows with 收支类型 收入", totals["收入笔数"], income.height),
        pq.sum_check("收入金额 = Σ收支金额 of 收入 rows", totals["收入金额"], income, amount),
        pq.count_check("支出笔数 = rows with 收支类型 支出", totals["支出笔数"], expense.height),
        pq.sum_check("支出金额 = Σ收支金额 of 支出 rows", totals["支出金额"], expense, amount),
        _balance_check(rows),
    ]


def _balance_check(rows: pl.DataFrame) -> ControlCheck:
    """账户结余 runs: balance(n) = balance(n-1) + signed amount(n), from the second row on."""
    sign = pl.col("收支类型").replace_strict(SIGNS, default=None, return_dtype=pl.Int64)
    units = rows.select(
        "file_line",
        quirks.check_units(pl.col("账户结余（元）")).alias("balance"),
        (sign * quirks.check_units(pl.col("收支金额（元）"))).alias("amount"))
    steps = units.with_columns((pl.col("balance").shift(1) + pl.col("amount")).alias("expected")).slice(1)
    bad = steps.filter(pl.col("expected").is_null() | pl.col("balance").is_null()
                       | (pl.col("expected") != pl.col("balance")))
    label = "账户结余(n) = 账户结余(n−1) + 收支金额(n)"
    if not bad.height:
        return ControlCheck(label, "a continuous balance", "a continuous balance", True)
    first = bad.row(0, named=True)
    return ControlCheck(f"{label} at line {first['file_line']}", quirks.show_units(first["expected"]),
                        quirks.show_units(first["balance"]), False)
