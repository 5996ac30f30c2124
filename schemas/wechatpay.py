"""WeChat Pay merchant trade bill (downloadbill / v3 tradebill; bill_type ALL, SUCCESS or REFUND)
→ canonical statement lines.

Layout (docs/formats.md; WeChat Pay 交易账单格式说明): a header row, data rows whose fields start
with a backtick, in Beijing time, then a summary block (``总交易单数,…`` and one row of totals)
checked against the rows. Columns are found by name: the current layout (应结订单金额, 代金券金额,
充值券退款金额, 订单金额, 申请退款金额, 费率备注) and the older one some merchants still get (总金额,
企业红包金额, 企业红包退款金额, 子商户号; summary 总交易额, 总退款金额, 总企业红包退款金额) read alike.

Amounts are read at the precision the file writes: 手续费 has five decimals (``0.75000``). A fee that
is a whole number of fen fills ``fee_minor``; one finer than that (``0.00020``) is kept exact in
``fee_exact`` and leaves ``fee_minor``/``net_minor`` empty: nothing is rounded on the way in. The
summary is checked in millionths, so five-decimal totals balance exactly.

WeChat bills carry no payout id: the source option ``payout_id_template`` (e.g.
``"WX{商户号}-{bill_date:%Y%m%d}"``) derives one from the row's fields and the bill date, for a
bank whose credit names it so; without it ``payout_id`` is empty.
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import polars as pl

from schemas.bytecount import count_byte
from recon.errors import ParseError
from recon.money import exact_units, exponent_of, units_to_minor
from schemas import csvhead, quirks
from schemas.validation import ControlCheck, ParsedFile, finish, raise_on_failed
from schemas.wechatpay_layout import (
    AMOUNT, OPTIONAL, OPTIONS, REQUIRED, SUMMARY, payout_expr, summary_of,
)

NAME = "wechatpay_trade"
TAKES_OPTIONS = True  # parse_parts accepts the source's options (registry.reads_parts)
RAW_OPTIONAL = True  # parse_parts(raw=False) builds no raw copy (registry.parse)
CHECK_EXPONENT = 6  # the summary's 手续费总金额 has five decimals; = MAX_EXPONENT (_found relies on it)
_SUMMARY_MARK = "总交易单数".encode()
# REVOKED (撤销, a reversed micropay order) is written like a refund: 退款金额, 微信退款单号,
# 商户退款单号 filled; it reverses the payment as one does.
_TXN_TYPE = {"SUCCESS": "payment", "REFUND": "refund", "REVOKED": "refund"}


def identify(data: bytes, name: str) -> bool:
    return quirks.header_has(data, name, REQUIRED)


def why_not(data: bytes, name: str) -> str:
    return csvhead.why_not(data, name, REQUIRED, NAME)


def parse_parts(data: bytes, *, name: str, source: str, sha256: str, business_date: date,
                timezone: str, part_bytes: int | None = None,
                options: dict | None = None, raw: bool = True) -> Iterator[ParsedFile]:
    """The file as consecutive parts of about ``part_bytes`` bytes (one part when None); without
    the ``raw`` column when ``raw=False``.

    One part: the summary block is checked before it is made. Several: each part's rows are
    added up as it is made and the summary is checked after the last one; the last ParsedFile
    (with no rows) carries the checks, or IntegrityError is raised there: whoever stores the
    parts must then drop them (``pipeline.store_statement`` does), so a big file is read once."""
    options = _options(options, name)
    data = csvhead.as_utf8(data, name, legacy="gb18030")
    names = quirks.header_line(data, name)
    csvhead.require(names, REQUIRED, name)
    at = _split(data, name)
    totals = _read_summary(data, at, name)
    payout = payout_expr(options.get("payout_id_template"), names, business_date, name)
    args = dict(sha256=sha256, source=source, name=name, business_date=business_date,
                timezone=timezone, payout=payout, names=[n for n in names if n], raw=raw)
    # Without raw, only the columns a line is made of are kept (a bill has some 27).
    keep = None if raw else _used(payout)
    # Each part is requoted as it is read (a row's requoting needs only the header), so the
    # table is never held or copied whole; requoting keeps every line end, so lines and parts hold.
    ranges = quirks.part_ranges(data, part_bytes, end=at)
    if len(ranges) == 1:
        rows = _with_optional(quirks.read_text_csv(_requoted(data, 0, at), name, keep=keep), totals)
        checks = raise_on_failed(_summary_checks(_found(rows, totals), totals), name)
        yield _part(rows, checks, **args)
        return
    found: dict[str, int] = {}
    for start, stop, line in ranges:
        rows = _with_optional(quirks.read_text_csv(_requoted(data, start, stop), name, first_line=line,
                                                   keep=keep), totals)
        found = {k: found.get(k, 0) + v for k, v in _found(rows, totals).items()}
        yield _part(rows, (), **args)
    checks = raise_on_failed(_summary_checks(found, totals), name)
    yield _part(rows.clear(), checks, **args)


parse = quirks.whole_file(parse_parts)


def _options(options: dict | None, file: str) -> dict:
    unknown = sorted(set(options or {}) - set(OPTIONS))
    if unknown:
        raise ParseError(file, None, f"expected source options among {', '.join(OPTIONS)} for "
                                     f"{NAME}; got {', '.join(unknown)}")
    return dict(options or {})


def _with_optional(rows: pl.DataFrame, totals: dict[str, str]) -> pl.DataFrame:
    """The columns one layout or bill type lacks (a SUCCESS bill has no refund columns) as nulls;
    the amount column under one name whichever layout the file has; and each amount column that
    is summed or converted as exact millionths (``#units:<column>``, Int128), its text read once
    for both the summary check and the canonical amounts."""
    lazy = rows.lazy().with_columns(
        [pl.lit(None, pl.String).alias(c) for c in OPTIONAL if c not in rows.columns])
    amount = _amount_column(rows)
    have = set(rows.columns) | set(OPTIONAL)
    parsed = dict.fromkeys([*(c for c in summary_of(totals) if c in have), "退款金额", amount, "手续费"])
    return lazy.with_columns(pl.col(amount).alias("#amount"),
                             *[exact_units(pl.col(c)).alias(f"#units:{c}") for c in parsed]).collect()


def _part(rows: pl.DataFrame, checks, *, sha256: str, source: str, name: str, business_date: date,
          timezone: str, payout: pl.Expr, names: list[str], raw: bool) -> ParsedFile:
    frame, originals = _canonical(rows, sha256=sha256, source=source, business_date=business_date,
                                  timezone=timezone, payout=payout, names=names, raw=raw)
    return finish(frame, checks, file_name=name, source=source, required=("fee_minor",),
                  originals=originals, raw=raw)


def _used(payout: pl.Expr) -> set[str]:
    """The bill's columns a canonical line without raw is made of (checked sums included)."""
    required = {n for r in REQUIRED for n in ((r,) if isinstance(r, str) else r)}
    return (required | set(OPTIONAL) | set(SUMMARY.values()) | set(quirks.MERCHANT_FIELDS)
            | set(quirks.SUB_MERCHANT_FIELDS) | set(payout.meta.root_names()))


def _requoted(data: bytes, start: int, stop: int) -> bytes:
    """One part of the table (``quirks.part_data``), a comma inside a value (商品名称) read as text."""
    return quirks.requote_backtick_rows(quirks.part_data(data, start, stop))


def _split(data: bytes, file: str) -> int:
    """Where the summary block starts (the table is ``data[:at]``)."""
    at = data.rfind(b"\n" + _SUMMARY_MARK)
    # the later of the two marks; the second is looked for only after the first (a FileView's
    # rfind reads back through the whole file when the mark is missing)
    at = max(at, data.rfind(b"\n`" + _SUMMARY_MARK, max(at, 0)))
    if at < 0:
        raise ParseError(file, None, "expected the summary block (a row starting with 总交易单数) "
                                     "after the data rows; the file may be cut short")
    return at + 1


def _read_summary(data: bytes, at: int, file: str) -> dict[str, str]:
    """The summary block ``data[at:]`` as {name: value}; its header's physical line, which only
    an error names, is counted only then (a pass over the whole file)."""
    lines = [ln.strip() for ln in data[at:].decode("utf-8", errors="replace").splitlines()]
    lines = [ln for ln in lines if ln]

    def line() -> int:
        return count_byte(data, ord("\n"), 0, at) + 1

    if len(lines) < 2:
        raise ParseError(file, line(), "expected a row of totals after the summary header")
    names, values = csvhead.split_names(lines[0]), csvhead.split_names(lines[1])
    named = [n for n in names if n]
    if len(set(named)) != len(named):  # refuse_duplicates names the line: counted only then
        csvhead.refuse_duplicates(names, file, line())
    if "总交易单数" not in names or "手续费总金额" not in names or len(values) != len(names):
        raise ParseError(file, line(), f"expected a summary header with 总交易单数 and 手续费总金额 and "
                                     f"one value per name; found {','.join(names)} with "
                                     f"{len(values)} values")
    return dict(zip(names, values))


def _found(rows: pl.DataFrame, totals: dict[str, str]) -> dict[str, int]:
    """What the rows add up to, per totalled column (in check units), with the number of rows and,
    per column, of values present but unreadable. Parts add up: sum the dicts."""
    totalled = [c for c in summary_of(totals) if c in rows.columns]
    # check units (CHECK_EXPONENT 6) are the millionths _with_optional read, as Int64 like
    # ``quirks.check_units`` gives them
    units = {c: pl.col(f"#units:{c}").cast(pl.Int64, strict=False) for c in totalled}
    found = rows.select(
        *[units[c].sum().alias(c) for c in totalled],
        *[(pl.col(c).is_not_null() & units[c].is_null()).sum().alias(f"{c}#unreadable")
          for c in totalled],
    ).row(0, named=True)
    return {**found, "#rows": rows.height}


def _summary_checks(found: dict[str, int], totals: dict[str, str]) -> list[ControlCheck]:
    checks = [ControlCheck("总交易单数 = number of rows", totals["总交易单数"], str(found["#rows"]),
                           totals["总交易单数"] == str(found["#rows"]))]
    for total in totals:  # in the summary's own order
        col = SUMMARY.get(total)
        if col is None:
            continue
        expected = pl.select(quirks.check_units(pl.lit(totals[total]), CHECK_EXPONENT)).item()
        want = totals[total] if expected is None else quirks.show_units(expected, CHECK_EXPONENT)
        if col not in found:
            checks.append(ControlCheck(f"{total} = Σ{col}", want, f"(no column {col})", False))
            continue
        shown = quirks.show_units(found[col], CHECK_EXPONENT)
        if found[f"{col}#unreadable"]:
            shown += f" ({found[f'{col}#unreadable']} unreadable values left out)"
        checks.append(ControlCheck(f"{total} = Σ{col}", want, shown, expected is not None
                                   and expected == (found[col] or 0) and not found[f"{col}#unreadable"]))
    return checks


def _canonical(rows: pl.DataFrame, *, sha256: str, source: str, business_date: date,
               timezone: str, payout: pl.Expr, names: list[str],
               raw: bool = True) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``names``: the file's own columns (raw keeps those, not the nulls added for its layout)."""
    refund = pl.col("#refund")
    currency = pl.col("货币种类").str.strip_chars().str.to_uppercase()
    exp = exponent_of(rows, currency)
    fee_text = pl.col("手续费").str.strip_chars()
    fee = pl.col("#fee")
    # Each value is computed once, a stage at a time (a select would compute a shared
    # subexpression again for each column that uses it): the amount from the millionths read by
    # _with_optional, the fee from its millionths (exact, the text read once).
    staged = rows.lazy().with_columns(
        pl.col("交易状态").is_in(["REFUND", "REVOKED"]).alias("#refund"),
        pl.col("#units:手续费").cast(pl.Int64, strict=False).alias("#fee_units"),
    ).with_columns(
        units_to_minor(pl.when(refund).then(pl.col("#units:退款金额"))
                       .otherwise(pl.col(f"#units:{_amount_column(rows)}")), exp).alias("#amount_minor"),
        units_to_minor(pl.col("#fee_units"), exp).alias("#fee"),
    ).with_columns(
        pl.when(refund).then(-pl.col("#amount_minor")).otherwise(pl.col("#amount_minor")).alias("#signed"))
    signed = pl.col("#signed")
    # finer than the minor unit but exact: kept as written, never rounded (fee_minor stays NULL)
    fee_exact = pl.when(fee.is_null() & pl.col("#fee_units").is_not_null()).then(fee_text)
    frame = staged.select(
        quirks.line_id(sha256),
        pl.lit(source).alias("source"),
        pl.lit(sha256).alias("file_sha256"),
        "file_line",
        pl.lit(business_date).alias("business_date"),
        _local_to_utc(pl.col("交易时间"), timezone).alias("booked_at"),
        pl.col("交易状态").replace_strict(_TXN_TYPE, default=None).alias("txn_type"),
        signed.alias("amount_minor"),
        currency.alias("currency"),
        fee.alias("fee_minor"),
        (signed - fee).alias("net_minor"),
        fee_exact.alias("fee_exact"),
        pl.when(refund).then(pl.col("微信退款单号")).otherwise(pl.col("微信订单号")).alias("psp_reference"),
        pl.when(refund).then(pl.col("商户退款单号")).otherwise(pl.col("商户订单号"))
          .alias("merchant_reference"),
        pl.when(refund).then(pl.col("商户订单号")).otherwise(None).alias("original_reference"),
        payout.alias("payout_id"),
        pl.col("交易类型").alias("payment_method"),
        pl.col("用户标识").alias("counterparty"),
        pl.col("商品名称").alias("description"),
        pl.col("交易状态").alias("status"),
        *quirks.audit(names, raw=raw),
    ).with_columns(  # 特约商户号 `0`: the docs' mark of an ordinary merchant, no sub-merchant
        pl.when(pl.col("sub_merchant_id") == "0").then(pl.lit("")).otherwise(pl.col("sub_merchant_id"))
          .alias("sub_merchant_id")).collect()
    refund = pl.col("交易状态").is_in(["REFUND", "REVOKED"])
    amount_text = pl.when(refund).then(pl.col("退款金额")).otherwise(pl.col("#amount"))
    originals = rows.select(
        "file_line", amount_text.alias("amount_minor"), pl.col("手续费").alias("fee_minor"),
        pl.col("交易时间").alias("booked_at"), pl.col("交易状态").alias("txn_type"),
        pl.col("货币种类").alias("currency"))
    return frame, originals


def _amount_column(rows: pl.DataFrame) -> str:
    return next(c for c in AMOUNT if c in rows.columns)


def _local_to_utc(text: pl.Expr, timezone: str) -> pl.Expr:
    """Naive local ``YYYY-MM-DD HH:MM:SS`` in the source's timezone → UTC; null if unreadable."""
    return (text.str.strip_chars().str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False, time_unit="us")
            .dt.replace_time_zone(timezone, ambiguous="null", non_existent="null")
            .dt.convert_time_zone("UTC"))
