"""Alipay merchant 业务明细 bill (trade details) → canonical statement lines; shared Alipay hooks.

Layout (GBK, often zipped with a 汇总 summary CSV beside it): ``#`` preamble lines
(``#支付宝业务明细查询``, ``#账号：[…]``, ``#起始日期：[…]``, ``#---业务明细列表---``), a header row,
data rows whose values are padded with spaces and tabs, then ``#`` footer lines:
``#-----业务明细列表结束-----``, ``#交易合计：N笔，商家实收共X元，…``, ``#退款合计：…``, ``#导出时间：[…]``.

Checks: each ``…合计`` footer's count against the rows of that 业务类型, and each ``<列>共X元`` in it
against Σ of that column (``共X元`` alone: Σ订单金额) — amounts as written, refunds negative.

Mapping: 交易 → payment (+订单金额), 退款 → refund (−|订单金额|); ``fee = −服务费`` (the bill writes
the fee as the merchant's cash flow: −0.60 charged, +0.60 returned); psp_reference 支付宝交易号;
merchant_reference 商户订单号 (a refund: 退款批次号/请求号 when given); booked_at 完成时间 (else
创建时间), Beijing time.
"""
from __future__ import annotations

import re
from datetime import date

import polars as pl

from recon.errors import ParseError
from recon.money import minor_expr
from schemas import archives
from schemas import psp_quirks as pq
from schemas.validation import ControlCheck, ParsedFile

NAME = "alipay_trade"
TITLE = "#支付宝业务明细查询"
COLUMNS = [
    "支付宝交易号", "商户订单号", "业务类型", "商品名称", "创建时间", "完成时间", "门店编号", "门店名称",
    "操作员", "终端号", "对方账户", "订单金额（元）", "商家实收（元）", "支付宝红包（元）", "集分宝（元）",
    "支付宝优惠（元）", "商家优惠（元）", "券核销金额（元）", "券名称", "商家红包消费金额（元）",
    "卡消费金额（元）", "退款批次号/请求号", "服务费（元）", "分润（元）", "备注",
]
TYPES = {"交易": "payment", "退款": "refund"}
_TOTAL = re.compile(r"^#\s*(\S+?)合计[：:]\s*(\d+)\s*笔(.*)$")
_SUM = re.compile(r"([^，,：:\s]*)共\s*(-?[\d,]+(?:\.\d+)?)\s*元")


def identify(data: bytes, name: str) -> bool:
    return _claims(data, name, TITLE)


def parse(data: bytes, *, name: str, source: str, sha256: str, business_date: date,
          timezone: str, options: dict | None = None) -> ParsedFile:
    lines, header, end = bill_lines(data, name, TITLE, "支付宝交易号")
    rows = pq.table(lines, header, end, name, COLUMNS)
    kind = pl.col("业务类型")
    refund = kind == "退款"
    order = minor_expr(pl.col("订单金额（元）"), 2)
    amount = pl.when(refund).then(-order.abs()).otherwise(order)
    fee = -minor_expr(pl.col("服务费（元）").replace("", "0"), 2)
    when = pl.when(pl.col("完成时间") != "").then(pl.col("完成时间")).otherwise(pl.col("创建时间"))
    refund_ref = pl.when(refund & (pl.col("退款批次号/请求号") != "")).then(pl.col("退款批次号/请求号"))
    frame = rows.select(
        *pq.base(sha256, source, business_date),
        pq.local_to_utc(when, timezone).alias("booked_at"),
        kind.replace_strict(TYPES, default=None).alias("txn_type"),
        amount.alias("amount_minor"),
        pl.lit("CNY").alias("currency"),
        fee.alias("fee_minor"),
        (amount - fee).alias("net_minor"),
        pl.col("支付宝交易号").alias("psp_reference"),
        refund_ref.otherwise(pl.col("商户订单号")).alias("merchant_reference"),
        pl.col("对方账户").alias("counterparty"),
        pl.col("商品名称").alias("description"),
        kind.alias("status"),
        *pq.audit(rows),
    )
    originals = rows.select("file_line", pl.col("订单金额（元）").alias("amount_minor"),
                            pl.col("服务费（元）").alias("fee_minor"), when.alias("booked_at"),
                            kind.alias("txn_type"))
    checks = footer_checks(lines, end, rows, kind_column="业务类型",
                           filters={"交易": kind == "交易", "退款": refund},
                           default_column="订单金额（元）", name=name)
    return pq.finish(frame, checks, file_name=name, source=source, required=("fee_minor",),
                  originals=originals)


# --- hooks shared with alipay_account -----------------------------------------------------------

def _claims(data: bytes, name: str, title: str) -> bool:
    if archives.is_zip(data):
        try:
            return any(pq.has_words(member, (title,)) for member in archives.read_members(data, name).values())
        except ParseError:
            return False
    return pq.has_words(data, (title,))


def bill_lines(data: bytes, name: str, title: str, first_column: str) -> tuple[list[str], int, int]:
    """The bill's lines (unzipped, GBK decoded), its header index and the end of its data rows."""
    if archives.is_zip(data):
        data = _member(data, name, title)
    lines = pq.text_of(data, name, declared="gb18030")
    if not any(ln.startswith(title) for ln in lines[:5]):
        raise ParseError(name, 1, f"expected the title line {title}")
    header = pq.find_line(lines, lambda s: s.strip(pq.PAD).startswith(first_column), name,
                          f"a header row starting with {first_column}")
    end = pq.find_line(lines, lambda s: s.startswith("#"), name,
                       "the footer lines (#-----…列表结束-----, #…合计) after the data rows", start=header + 1)
    if "结束" not in lines[end]:
        raise ParseError(name, end + 1, "expected the end-of-list marker #-----…列表结束----- "
                                        "right after the data rows")
    while end > header + 1 and not lines[end - 1].strip(pq.PAD + ","):
        end -= 1  # blank lines before the footer
    return lines, header, end


def _member(data: bytes, name: str, title: str) -> bytes:
    members = [m for n, m in archives.read_members(data, name).items()
               if "汇总" not in n and pq.has_words(m, (title,))]
    if len(members) != 1:
        raise ParseError(name, None, f"expected exactly one detail CSV starting with {title} in the "
                                     f"zip archive, found {len(members)}")
    return members[0]


def footer_checks(lines: list[str], end: int, rows: pl.DataFrame, *, kind_column: str,
                  filters: dict[str, pl.Expr], default_column: str | dict[str, str], name: str) -> list[ControlCheck]:
    """Every ``#<kind>合计：N笔，<列>共X元…`` line checked; an unknown kind is a ParseError."""
    checks: list[ControlCheck] = []
    for i in range(end, len(lines)):
        m = _TOTAL.match(lines[i].strip())
        if not m:
            continue
        kind, count, rest = m.groups()
        if kind not in filters:
            raise ParseError(name, i + 1, f"expected a footer total of {', '.join(filters)}, got {kind}合计")
        subset = rows.filter(filters[kind])
        checks.append(pq.count_check(f"{kind}合计 笔数 = rows with {kind_column} {kind}", count, subset.height))
        for label, total in _SUM.findall(rest):
            fallback = default_column if isinstance(default_column, str) else default_column[kind]
            column = f"{label}（元）" if label else fallback
            if column not in rows.columns:
                raise ParseError(name, i + 1, f"expected {label}共… to name an amount column of the bill")
            checks.append(pq.sum_check(f"{kind}合计 {label or '金额'} = Σ{column}", total, subset,
                                       pl.col(column).replace("", "0")))
    if not checks:
        raise ParseError(name, end + 1, "expected the footer totals (#…合计：N笔，共X元) after the rows")
    return checks
