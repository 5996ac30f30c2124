"""Alipay personal bill (电子客户回单 export, GBK) → canonical lines; see schemas.personal."""
from __future__ import annotations

from datetime import date

from schemas import personal
from schemas import psp_quirks as pq
from schemas.validation import ParsedFile

NAME = "alipay_personal"
LAYOUT = personal.Layout(
    first_column="交易时间",
    columns={"time": "交易时间", "kind": "交易分类", "counterparty": "交易对方", "goods": "商品说明",
             "direction": "收/支", "amount": "金额", "method": "收/付款方式", "status": "交易状态",
             "order": "交易订单号", "merchant_order": "商家订单号"},
    declared="gb18030",
)
_IDENTIFYING = ("电子客户回单", "交易分类", "收/付款方式")


def identify(data: bytes, name: str) -> bool:
    return pq.has_words(data, _IDENTIFYING, head=8192)


def parse(data: bytes, *, name: str, source: str, sha256: str, business_date: date,
          timezone: str, options: dict | None = None) -> ParsedFile:
    return personal.parse_personal(LAYOUT, data, name=name, source=source, sha256=sha256,
                                   business_date=business_date, timezone=timezone)
