"""schemas.encoding: one place for bytes → text."""
from __future__ import annotations

import codecs

import pytest

from recon.errors import ParseError
from schemas.encoding import decode, encoding_of

TEXT = "Buchungstag;Betrag\n01.02.2026;-1.234,56 Überweisung\n"


@pytest.mark.parametrize("data", [
    TEXT.encode("utf-8"),
    codecs.BOM_UTF8 + TEXT.encode("utf-8"),
    codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"),
    codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"),
    TEXT.encode("utf-16-le"),
    TEXT.encode("utf-16-be"),
    TEXT.encode("cp1252"),
    TEXT.replace("\n", "\r\n").encode("utf-8"),
    TEXT.replace("\n", "\r").encode("cp1252"),
], ids=["utf8", "utf8-bom", "utf16le-bom", "utf16be-bom", "utf16le", "utf16be", "cp1252", "crlf",
        "bare-cr"])
def test_decodes_to_the_same_text(data):
    assert decode(data, "f.csv") == TEXT


def test_chinese_gbk_without_declaration():
    text = "交易时间,金额\n2026-01-02,12.30 微信支付\n"
    assert decode(text.encode("gbk"), "bill.csv") == text
    assert encoding_of(text.encode("gbk")) == "gb18030"
    assert decode(text.encode("gb18030"), "bill.csv", declared="GBK") == text


def test_latin1_german_is_not_read_as_chinese():
    text = "Empfänger;Verwendungszweck\nMüller GmbH;Überweisung für März\n"
    assert decode(text.encode("cp1252"), "a.csv") == text


def test_declared_cp852():
    text = "Název;Částka\nPlatba;-12,50\n"
    assert decode(text.encode("cp852"), "cz.csv", declared="cp852") == text


def test_swift_envelope_and_sub_are_removed():
    data = b"\x01{1:F01}{4:\r\n:20:REF\r\n-}\x03\x01{1:F01}{4:\r\n:20:X\r\n-}\x03\x1a"
    assert decode(data, "a.sta") == "{1:F01}{4:\n:20:REF\n-}{1:F01}{4:\n:20:X\n-}"


def test_no_final_newline_is_fine():
    assert decode(b"a\r\nb", "x") == "a\nb"


def test_undecodable_names_file_and_offset():
    with pytest.raises(ParseError, match=r"x\.csv.*0x81 at offset 3"):  # not UTF-8, GB or CP1252
        decode(b"abc\x81z", "x.csv")
    with pytest.raises(ParseError, match=r"offset 3"):
        decode(b"abc\x81z", "y.csv", declared="cp1252")
