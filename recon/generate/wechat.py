"""WeChat Pay merchant trade bill (``downloadbill``, bill_type=ALL) as the merchant docs define it
(交易账单格式说明): a UTF-8 BOM, CRLF, 27 columns, every data and summary field behind a backtick,
手续费 with five decimals (negative on refunds), 费率 as ``0.60%``, refund rows with 应结订单金额
``0.00`` and 退款金额/申请退款金额, the summary with 手续费总金额 to five decimals. ``layout="older"``
writes the older layout some merchants still get (总金额, 企业红包金额, 24 columns; docs/formats.md)."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from recon.generate import fmt, ids
from recon.generate.spec import WECHAT, WX_APPID, WX_BANKS, WX_MCHID
from recon.generate.world import PspDay
from recon.ratecard import RateCard

HEADER = ("交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,"
          "付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,"
          "退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注").split(",")
SUMMARY_HEADER = "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
# The older layout: its names for the columns the current one renamed, and its own summary.
OLDER = {"应结订单金额": "总金额", "代金券金额": "企业红包金额", "充值券退款金额": "企业红包退款金额",
         "特约商户号": "子商户号"}
OLDER_HEADER = [OLDER.get(c, c) for c in HEADER[:24]]
OLDER_SUMMARY = "总交易单数,总交易额,总退款金额,总企业红包退款金额,手续费总金额"
FEE_PLACES = 5  # 手续费 and 手续费总金额 are written to five decimals
BOM = b"\xef\xbb\xbf"


def write(path: Path, day: date, psp_day: PspDay, card: RateCard, customers: pl.Series,
          layout: str = "current") -> int:
    """Write the bill; returns the number of data rows."""
    frame, totals = rows(day, psp_day, card, customers)
    if layout == "older":
        frame = frame.rename(OLDER).select(OLDER_HEADER)
    with open(path, "wb") as f:
        f.write(BOM)
        frame.write_csv(f, line_terminator="\r\n", quote_style="necessary")
        f.write(summary(*totals) if layout != "older" else older_summary(*totals))
    return frame.height


def fee_text(minor: int) -> str:
    """Fen as 手续费 text: five decimals (``75`` → ``0.75000``)."""
    return fmt.money_text(minor) + "0" * (FEE_PLACES - 2)


def summary(count: int, paid: int, refunded: int, fee: int) -> bytes:
    """The bill's closing block: its header and the totals row (amounts in minor units)."""
    totals = (count, fmt.money_text(paid), fmt.money_text(refunded), "0.00", fee_text(fee),
              fmt.money_text(paid), fmt.money_text(refunded))
    return f"{SUMMARY_HEADER}\r\n{','.join(f'`{v}' for v in totals)}\r\n".encode("utf-8")


def older_summary(count: int, paid: int, refunded: int, fee: int) -> bytes:
    totals = (count, fmt.money_text(paid), fmt.money_text(refunded), "0.00", fee_text(fee))
    return f"{OLDER_SUMMARY}\r\n{','.join(f'`{v}' for v in totals)}\r\n".encode("utf-8")


def rows(day: date, psp_day: PspDay, card: RateCard, customers: pl.Series
         ) -> tuple[pl.DataFrame, tuple[int, int, int, int]]:
    """The bill's data rows, and (rows, paid, refunded, fees) for its summary block."""
    lines = pl.DataFrame(psp_day.lines)
    refund = pl.col("is_refund")
    day_text = fmt.day_text(pl.col("order_day"), set(lines["order_day"].unique().to_list()))
    zero = pl.lit("0.00")
    payment_amount = pl.when(refund).then(zero).otherwise(fmt.money(pl.col("amount")))
    refund_amount = pl.when(refund).then(fmt.money(pl.col("amount"))).otherwise(zero)
    order_ref = ids.order_ref_expr(WECHAT, day_text, pl.col("order_idx"))
    if "noise" in lines.columns:  # hard scenario: noisy merchant references
        order_ref = ids.noisy_ref_expr(order_ref, pl.col("noise"))
    rates = tuple(f"{card.rate_for(m, day).percent:.2f}%" for m in WECHAT.rate_methods)
    frame = lines.select(
        fmt.stamp(fmt.local_time(day, pl.col("sec"))).alias("交易时间"),
        pl.lit(WX_APPID).alias("公众账号ID"),
        pl.lit(WX_MCHID).alias("商户号"),
        pl.lit("0").alias("特约商户号"),  # an ordinary merchant (the docs: 普通商户模式 → 0)
        pl.lit("").alias("设备号"),
        ids.payment_id_expr(WECHAT, day_text, pl.col("order_idx")).alias("微信订单号"),
        order_ref.alias("商户订单号"),
        customers.gather(lines["user"]).alias("用户标识"),
        fmt.pick(pl.col("method"), WECHAT.methods).alias("交易类型"),
        pl.when(refund).then(pl.lit("REFUND")).otherwise(pl.lit("SUCCESS")).alias("交易状态"),
        fmt.pick(pl.col("user") % len(WX_BANKS), WX_BANKS).alias("付款银行"),
        pl.lit("CNY").alias("货币种类"),
        payment_amount.alias("应结订单金额"),
        zero.alias("代金券金额"),
        pl.when(refund).then(ids.refund_id_expr(WECHAT, day, pl.col("refund_idx")))
        .otherwise(pl.lit("0")).alias("微信退款单号"),
        pl.when(refund).then(ids.refund_ref_expr(WECHAT, day, pl.col("refund_idx")))
        .otherwise(pl.lit("0")).alias("商户退款单号"),
        refund_amount.alias("退款金额"),
        zero.alias("充值券退款金额"),
        pl.when(refund).then(pl.lit("ORIGINAL")).otherwise(pl.lit("")).alias("退款类型"),
        pl.when(refund).then(pl.lit("SUCCESS")).otherwise(pl.lit("")).alias("退款状态"),
        fmt.pick(pl.col("product"), WECHAT.products).alias("商品名称"),
        pl.lit("").alias("商户数据包"),
        pl.concat_str([fmt.money(pl.col("fee")), pl.lit("0" * (FEE_PLACES - 2))]).alias("手续费"),
        fmt.pick(pl.col("method"), rates).alias("费率"),
        payment_amount.alias("订单金额"),
        refund_amount.alias("申请退款金额"),
        pl.lit("").alias("费率备注"),
    )
    frame = frame.select(pl.concat_str([pl.lit("`"), pl.col(c)]).alias(c) for c in HEADER)
    paid = int(lines.filter(~refund)["amount"].sum())
    refunded = int(lines.filter(refund)["amount"].sum())
    return frame, (frame.height, paid, refunded, int(lines["fee"].sum()))
