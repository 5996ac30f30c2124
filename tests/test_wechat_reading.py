"""How the WeChat Pay trade bill is read a part at a time: parts requoted and stripped of the BOM
as they are read, the raw-less parse keeping only the columns a line is made of, and the summary's
line counted only for an error that names it (schemas.wechatpay, quirks, bytecount)."""
from __future__ import annotations

import random

import polars as pl
import pytest

from recon.errors import ParseError
from schemas import quirks, registry
from schemas.bytecount import _COUNT_BLOCK, count_pair
from tests.test_parsers import DAY, WX_HEADER, WX_PAY, WX_REFUND, WX_SUMMARY, wechat_bill, wx_row

ARGS = dict(name="wechatpay_trade_20261121.csv", source="s", sha256="0" * 64, business_date=DAY,
            timezone="Asia/Shanghai")
BOM = b"\xef\xbb\xbf"
TOTALS = wx_row("2", "100.00", "30.00", "0.00", "0.42", "100.00", "30.00")


def _named(name: str) -> str:
    """WX_PAY sold as ``name`` (商品名称)."""
    return WX_PAY.replace("`咖啡", "`" + name)


def test_count_pair_counts_as_bytes_count_does():
    rng = random.Random(7)
    data = bytes(rng.choice(b",`,`a\n") for _ in range(2 * _COUNT_BLOCK + 5))
    for start in (0, 1, _COUNT_BLOCK - 1, _COUNT_BLOCK, 2 * _COUNT_BLOCK + 4):
        assert count_pair(data, ord(","), ord("`"), start) == data.count(b",`", start)
    edge = b"x" * (_COUNT_BLOCK - 1) + b",`"  # the pair across the first block's end
    assert count_pair(edge, ord(","), ord("`")) == 1 and count_pair(b",", ord(","), ord("`")) == 0


def test_parts_requoted_and_without_bom_read_as_the_whole_file():
    """A comma and a quote inside 商品名称 in every part, a BOM before the header: parts of ~600
    bytes give the rows, lines and values of the whole file."""
    rows = [_named("年货礼盒,2件"), WX_REFUND, _named('礼盒"A"'), WX_PAY] * 3
    totals = wx_row("12", "900.00", "90.00", "0.00", "4.86", "900.00", "90.00")
    data = BOM + wechat_bill(rows, totals)
    whole = registry.parse("wechatpay_trade", data, **ARGS)
    parts = list(registry.parse_parts("wechatpay_trade", data, **ARGS, part_bytes=600))
    assert len(parts) > 3 and parts[-1].checks and all(c.ok for c in parts[-1].checks)
    frame = pl.concat([p.frame for p in parts])
    assert frame.equals(whole.frame)
    assert frame["file_line"].to_list() == list(range(2, 14))
    assert frame["description"].to_list()[:4] == ["年货礼盒,2件", "咖啡", '礼盒"A"', "咖啡"]
    assert frame["amount_minor"].to_list()[:4] == [10000, -3000, 10000, 10000]


def test_without_raw_the_same_lines_less_raw():
    data = wechat_bill([_named("年货礼盒,2件"), WX_REFUND], TOTALS)
    with_raw = registry.parse("wechatpay_trade", data, **ARGS)
    without = registry.parse("wechatpay_trade", data, **ARGS, raw=False)
    assert "raw" in with_raw.frame.columns and "raw" not in without.frame.columns
    assert without.frame.equals(with_raw.frame.drop("raw"))
    assert without.quarantine.equals(with_raw.quarantine)


def test_read_text_csv_keep_checks_every_field_but_keeps_some():
    data = b"a,b,c\n`1,`2,`3\n`4,`5,`6\n"
    frame = quirks.read_text_csv(data, "f.csv", keep={"c", "a", "zz"})
    assert frame.columns == ["a", "c", "file_line"]
    assert frame.rows() == [("1", "3", 2), ("4", "6", 3)]
    with pytest.raises(ParseError, match="expected 3 fields as in the header, found 4"):
        quirks.read_text_csv(b"a,b,c\n1,2,3\n4,5,6,7\n", "f.csv", keep={"a"})
    with pytest.raises(ParseError, match="line 3: expected 3 fields as in the header, found 2"):
        quirks.read_text_csv(b"a,b,c\n1,2,3\n4,5\n", "f.csv", keep={"a"})


@pytest.mark.parametrize(("summary", "message"), [
    ("\r\n".join([WX_SUMMARY, ""]), "expected a row of totals after the summary header"),
    ("\r\n".join(["总交易单数,手续费总金额,手续费总金额", "`1,`0.60,`0.60", ""]),
     "'手续费总金额' is column 2 and column 3"),
])
def test_summary_errors_name_the_summary_line(summary, message):
    table = "\r\n".join([WX_HEADER, WX_PAY, WX_REFUND, ""])
    data = BOM + (table + summary).encode()
    with pytest.raises(ParseError, match=message) as err:
        registry.parse("wechatpay_trade", data, **ARGS)
    assert err.value.line == 4
