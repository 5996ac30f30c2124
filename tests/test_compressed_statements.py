"""Any statement format inside a gzip file or a zip of one file (schemas/archives.unwrap), bounded."""
from __future__ import annotations

import gzip
import hashlib
from datetime import date
from pathlib import Path

import pytest

from recon.errors import ParseError
from schemas import archives, registry
from tests.test_archives import make_zip

SPEC = Path(__file__).parent / "data" / "spec"
FILES = {"camt053": SPEC / "camt" / "camt.053.001.02-batch-valdt.xml",
         "mt940": SPEC / "mt940" / "mt940-dash-in-86-day-of-year.sta",
         "bai2": SPEC / "bai2" / "bai2-continuations-several-per-line.bai2"}
TOTALS = {"camt053": 28525, "mt940": 2300025, "bai2": 337655}


def _parse(data: bytes, name: str):
    fmt = registry.identify(data, name)
    return fmt, registry.parse(fmt, data, name=name, source="bank",
                               sha256=hashlib.sha256(data).hexdigest(),
                               business_date=date(2026, 3, 2), timezone="UTC")


@pytest.mark.parametrize("fmt", list(FILES))
@pytest.mark.parametrize("wrap", ["gzip", "zip"])
def test_each_bank_format_reads_the_same_inside_gzip_and_zip(fmt, wrap):
    plain = FILES[fmt].read_bytes()
    data = gzip.compress(plain) if wrap == "gzip" else make_zip({FILES[fmt].name: plain})
    got_fmt, parsed = _parse(data, FILES[fmt].name + (".gz" if wrap == "gzip" else ".zip"))
    assert got_fmt == fmt
    assert parsed.frame["amount_minor"].sum() == TOTALS[fmt]
    assert parsed.frame.drop("line_id", "file_sha256").equals(
        _parse(plain, FILES[fmt].name)[1].frame.drop("line_id", "file_sha256"))


def test_concatenated_gzip_members_are_one_file():
    plain = FILES["bai2"].read_bytes()
    half = plain.index(b"16,475")
    assert _parse(gzip.compress(plain[:half]) + gzip.compress(plain[half:]), "x.gz")[1] \
        .frame["amount_minor"].sum() == TOTALS["bai2"]


def test_gzip_bomb_refused_before_it_is_inflated():
    bomb = gzip.compress(b"0" * (20 << 20))
    with pytest.raises(ParseError, match="gzip file inflates beyond .* refused as a gzip bomb"):
        archives.unwrap(bomb, "bomb.gz")
    with pytest.raises(ParseError, match="inflates beyond 1000 bytes"):
        archives.gunzip(gzip.compress(b"1" * 5000), "x.gz", max_total=1000)


def test_truncated_gzip_and_nested_archives_and_several_members_refused():
    whole = gzip.compress(FILES["mt940"].read_bytes())
    with pytest.raises(ParseError, match="ends part-way"):
        archives.unwrap(whole[:len(whole) // 2], "cut.gz")
    with pytest.raises(ParseError, match="another archive: refused"):
        archives.unwrap(gzip.compress(whole), "twice.gz")
    with pytest.raises(ParseError, match=r"expected one statement file in the zip archive, found 2"):
        archives.unwrap(make_zip({"a.sta": b"1", "b.sta": b"2"}), "two.zip")
    assert archives.unwrap(b":20:X", "plain.sta") == (b":20:X", "plain.sta")
