"""The WeChat Pay trade bill's layouts by column name, and the payout id a source may derive.

Current layout (交易账单格式说明, bill_type ALL): 应结订单金额, 代金券金额, 充值券退款金额, 订单金额,
申请退款金额, 费率备注, summary 应结订单总金额/退款总金额/充值券退款总金额/手续费总金额/订单总金额/
申请退款总金额. Older layout (merchants without 免充值券; the docs' 注意事项): 总金额 for 应结订单金额,
企业红包金额 for 代金券金额, 企业红包退款金额, 子商户号, summary 总交易额/总退款金额/总企业红包退款金额/
手续费总金额. SUCCESS bills have no refund columns; REFUND bills add 退款申请时间/退款成功时间.
"""
from __future__ import annotations

import string
from datetime import date

import polars as pl

from recon.errors import ParseError

# The amount a payment row settles: the current layout's name first, then the older one's.
AMOUNT = ("应结订单金额", "总金额")
# What recon reads; identify and parse both require exactly these (a tuple: any one of them).
REQUIRED = ["交易时间", "商户号", "微信订单号", "商户订单号", "交易状态", "货币种类", AMOUNT, "手续费"]
# Read when present, empty when the layout or bill type has none.
OPTIONAL = ("微信退款单号", "商户退款单号", "退款金额", "交易类型", "用户标识", "商品名称")
# summary total → the data column it adds up (总交易单数, the row count, is checked apart)
SUMMARY = {
    "应结订单总金额": "应结订单金额", "退款总金额": "退款金额", "充值券退款总金额": "充值券退款金额",
    "手续费总金额": "手续费", "订单总金额": "订单金额", "申请退款总金额": "申请退款金额",
    "总交易额": "总金额", "总退款金额": "退款金额", "总企业红包退款金额": "企业红包退款金额",
}
OPTIONS = ("payout_id_template",)


def summary_of(totals: dict[str, str]) -> list[str]:
    """The data columns the file's summary totals (in the summary's order)."""
    return list(dict.fromkeys(SUMMARY[t] for t in totals if t in SUMMARY))


def payout_expr(template: str | None, names: list[str], bill_date: date, file: str) -> pl.Expr:
    """``payout_id_template`` as an expression: ``{column}`` is the row's field, ``{bill_date:%Y%m%d}``
    the bill's date; no template: no payout id (WeChat bills carry none)."""
    if not template:
        return pl.lit(None, pl.String)
    parts: list[pl.Expr] = []
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ParseError(file, None, f"expected payout_id_template to be a format string; {exc}") from None
    for literal, field, spec, _ in fields:
        if literal:
            parts.append(pl.lit(literal))
        if field is None:
            continue
        if field == "bill_date":
            parts.append(pl.lit(format(bill_date, spec or "%Y%m%d")))
        elif field in names:
            parts.append(pl.col(field).str.strip_chars())
        else:
            raise ParseError(file, None, f"expected payout_id_template's fields to be bill_date or "
                                         f"columns of the bill; {field!r} is neither")
    return pl.concat_str(parts)

