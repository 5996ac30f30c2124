"""WeChat Pay personal bill (微信支付账单明细 CSV export) → canonical lines; see schemas.personal."""
from __future__ import annotations

from datetime import date

from schemas import personal
from schemas import psp_quirks as pq
from schemas.validation import ParsedFile

NAME = "wechatpay_personal"
RAW_OPTIONAL = True  # parse(raw=False) builds no raw copy (registry.parse)
LAYOUT = personal.Layout(
    first_column="交易时间",
    columns={"time": "交易时间", "kind": "交易类型", "counterparty": "交易对方", "goods": "商品",
             "direction": "收/支", "amount": "金额(元)", "method": "支付方式", "status": "当前状态",
             "order": "交易单号", "merchant_order": "商户单号"},
    declared=None,
)
_IDENTIFYING = ("微信支付账单明细", "交易单号", "商户单号")


def identify(data: bytes, name: str) -> bool:
    return pq.has_words(data, _IDENTIFYING, encodings=("utf-8",), head=8192)


def parse(data: bytes, *, name: str, source: str, sha256: str, business_date: date,
          timezone: str, options: dict | None = None, raw: bool = True) -> ParsedFile:
    return personal.parse_personal(LAYOUT, data, name=name, source=source, sha256=sha256,
                                   business_date=business_date, timezone=timezone, raw=raw)
