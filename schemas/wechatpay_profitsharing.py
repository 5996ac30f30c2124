"""WeChat Pay profit-sharing bill (分账账单, ``GET /v3/profitsharing/bills``) → canonical lines.

Layout (WeChat Pay's 申请分账账单 page): a block of detail rows under one header row, each row
one allocation (分账) or one return (回退), every value prefixed with a backtick, amounts in 元;
then a summary block (its own header row and one row of values). Only successful allocations
are listed. Columns are found by header name (docs/formats.md names the ones recon reads and
what the published page leaves unsaid).

Mapping, from the point of view of the merchant whose bill it is (the 分账方): an allocation is
money out (−金额, txn_type ``allocation``), a return money back (+金额, ``allocation_return``), by
资金流向 through ``DIRECTIONS`` (a source may add its own words in ``[sources.options] directions``;
an unknown word quarantines the row). A row that releases the rest of the order to the 分账方
itself (WeChat's 解冻给分账方: the receiver is the 分账方商户号, or the description or direction
says 解冻) is ``unfreeze``, signed as its direction says; the clearing's per-order check reads it;
``psp_reference`` = 微信订单号 (the order split), ``bank_reference`` = 微信分账/回退单号,
``merchant_reference`` = 商户分账/回退单号, receiver (分账接收方账号) = ``sub_merchant_id`` and
``counterparty``, funder (分账出资商户号, else 分账方商户号) = ``merchant_id``.
Checks: 总条数 = rows; 分账总金额 and 回退总金额, where the summary has them, = Σ 金额 of the
allocation and return rows.
"""
from __future__ import annotations

from datetime import date

import polars as pl

from recon.errors import ConfigError, ParseError
from recon.money import minor_expr
from schemas import psp_quirks as pq
from schemas.validation import ControlCheck, ParsedFile

NAME = "wechatpay_profitsharing"
COLUMNS = ["分账发起时间", "微信订单号", "微信分账/回退单号", "资金流向", "分账接收方账号", "业务状态"]
AMOUNT_NAMES = ("金额（元）", "金额(元)", "金额", "分账/回退金额", "分账金额（元）", "分账金额")
DESCRIPTION_NAMES = ("分账描述", "分账/回退描述")
DIRECTIONS = {"分账": -1, "分出": -1, "出": -1, "支出": -1, "回退": 1, "分账回退": 1, "入": 1, "收入": 1,
              "解冻": -1}
UNFREEZE = "解冻"  # in 资金流向 or the description (解冻给分账方): the rest released to the 分账方
SUMMARY_COUNT = "总条数"
SUMMARY_SUMS = {"分账总金额": -1, "回退总金额": 1}  # total → the direction it adds up
_IDENTIFYING = ("分账发起时间", "微信订单号", "微信分账/回退单号", "分账接收方账号")


def identify(data: bytes, name: str) -> bool:
    return pq.has_words(data, _IDENTIFYING, encodings=("utf-8",))


def _first(names: tuple[str, ...], columns: list[str], name: str, what: str) -> str:
    for candidate in names:
        if candidate in columns:
            return candidate
    raise ParseError(name, 1, f"expected a {what} column ({' or '.join(names)}); found "
                              f"{', '.join(columns)}")


def parse(data: bytes, *, name: str, source: str, sha256: str, business_date: date,
          timezone: str, options: dict | None = None) -> ParsedFile:
    lines = pq.text_of(data, name, declared=(options or {}).get("encoding"))
    header = pq.find_line(lines, lambda s: s.lstrip("`").startswith("分账发起时间"), name,
                          "a header row starting with 分账发起时间")
    summary = pq.find_line(lines, lambda s: s.lstrip("`").startswith(SUMMARY_COUNT), name,
                           f"the summary block (a row starting with {SUMMARY_COUNT}) after the "
                           f"detail rows", start=header + 1)
    end = summary
    while end > header + 1 and not lines[end - 1].strip(pq.PAD + ","):
        end -= 1
    rows = pq.table(lines, header, end, name, COLUMNS)
    amount_col = _first(AMOUNT_NAMES, rows.columns, name, "amount")
    described = [c for c in DESCRIPTION_NAMES + ("备注",) if c in rows.columns]
    directions = _directions(options, source)
    sign = pl.col("资金流向").replace_strict(directions, default=None, return_dtype=pl.Int64)
    amount = sign.fill_null(1) * minor_expr(pl.col(amount_col), 2)
    funder = next((c for c in ("分账出资商户号", "分账方商户号") if c in rows.columns), None)
    kind = _kind(rows, sign, described)
    frame = rows.select(
        *pq.base(sha256, source, business_date),
        pq.local_to_utc(pl.col("分账发起时间"), timezone).alias("booked_at"),
        kind.alias("txn_type"),
        amount.alias("amount_minor"),
        pl.lit("CNY").alias("currency"),
        amount.alias("net_minor"),
        pl.col("微信订单号").alias("psp_reference"),
        (pl.col("商户分账/回退单号") if "商户分账/回退单号" in rows.columns else pl.lit(None, pl.String))
          .alias("merchant_reference"),
        pl.col("微信分账/回退单号").alias("bank_reference"),
        (pl.col("分账接收方类型") if "分账接收方类型" in rows.columns else pl.lit(None, pl.String))
          .alias("payment_method"),
        pl.col("分账接收方账号").alias("counterparty"),
        (pl.concat_str([pl.col(c) for c in described], separator=" ").str.strip_chars()
         if described else pl.lit(None, pl.String)).alias("description"),
        pl.col("业务状态").alias("status"),
        pq.raw(rows),
        (pl.col(funder) if funder else pl.lit("")).alias("merchant_id"),
        pl.col("分账接收方账号").alias("sub_merchant_id"),
        pl.lit(None, pl.String).alias("card_type"),
    )
    originals = rows.select("file_line", pl.col(amount_col).alias("amount_minor"),
                            pl.col("分账发起时间").alias("booked_at"),
                            pl.col("资金流向").alias("txn_type"))
    totals = _summary(lines, summary, name)
    checks = _checks(rows, totals, amount_col, sign)
    return pq.finish(frame, checks, file_name=name, source=source, originals=originals)


def _kind(rows: pl.DataFrame, sign: pl.Expr, described: list[str]) -> pl.Expr:
    """allocation (money out), allocation_return (money back), or unfreeze: released to the 分账方
    itself (its own account as the receiver, or 解冻 in the direction or the description)."""
    released = pl.col("资金流向").str.contains(UNFREEZE, literal=True).fill_null(False)
    if "分账方商户号" in rows.columns:
        released = released | (pl.col("分账接收方账号") == pl.col("分账方商户号")).fill_null(False)
    for c in described:
        released = released | pl.col(c).str.contains(UNFREEZE, literal=True).fill_null(False)
    return (pl.when(sign.is_null()).then(pl.lit(None, pl.String))
            .when(released).then(pl.lit("unfreeze"))
            .when(sign < 0).then(pl.lit("allocation"))
            .otherwise(pl.lit("allocation_return")))


def _directions(options: dict | None, source: str) -> dict[str, int]:
    extra = (options or {}).get("directions") or {}
    if not isinstance(extra, dict) or any(v not in (1, -1) for v in extra.values()):
        raise ConfigError("sources", f"{source}.options.directions", "expected a table of 资金流向 "
                                     "words, each = 1 (money back to the merchant) or -1 (money out)")
    return {**DIRECTIONS, **{str(k): int(v) for k, v in extra.items()}}


def _summary(lines: list[str], at: int, name: str) -> dict[str, str]:
    names = [c.strip(pq.PAD) for c in lines[at].split(",")]
    values = [c.strip(pq.PAD) for c in lines[at + 1].split(",")] if at + 1 < len(lines) else []
    if len(values) < len(names) or not values[0]:
        raise ParseError(name, at + 1, f"expected a row of values under the summary header "
                                       f"{','.join(names)}")
    return dict(zip(names, values, strict=False))


def _checks(rows: pl.DataFrame, totals: dict[str, str], amount_col: str,
            sign: pl.Expr) -> list[ControlCheck]:
    checks = [pq.count_check(f"{SUMMARY_COUNT} = number of rows", totals[SUMMARY_COUNT], rows.height)]
    signs = rows.select(sign.alias("sign"))["sign"]
    for total, direction in SUMMARY_SUMS.items():
        if total in totals:
            part = rows.filter(signs == direction)
            which = "allocation (分账)" if direction < 0 else "return (回退)"
            checks.append(pq.sum_check(f"{total} = Σ{amount_col} of the {which} rows",
                                       totals[total], part, pl.col(amount_col)))
    return checks
