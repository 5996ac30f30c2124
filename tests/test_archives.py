"""Zipped statement files are read without trusting the archive (schemas/archives.py)."""
from __future__ import annotations

import io
import zipfile

import pytest

from recon.errors import ParseError
from schemas import archives


def make_zip(members: dict[str, bytes], method=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, data in members.items():
            z.writestr(zipfile.ZipInfo(name), data, compress_type=method)
    return buf.getvalue()


def test_plain_members_are_read():
    assert archives.read_members(make_zip({"a.csv": b"x,y\n", "dir/b.csv": b"1"}), "z.zip") == \
        {"a.csv": b"x,y\n", "dir/b.csv": b"1"}


@pytest.mark.parametrize("member", ["../evil.csv", "a/../../evil.csv", "/etc/passwd", "C:\\evil.csv",
                                    "..\\evil.csv"])
def test_escaping_member_refused(member):
    with pytest.raises(ParseError, match="absolute path or climbs out"):
        archives.read_members(make_zip({member: b"x"}), "z.zip")


def test_too_many_members_refused():
    data = make_zip({f"m{i}.csv": b"x" for i in range(archives.MAX_MEMBERS + 1)})
    with pytest.raises(ParseError, match="at most 64 members"):
        archives.read_members(data, "z.zip")


def test_ratio_bomb_refused():
    data = make_zip({"zeros.csv": b"\0" * (8 * 1024 * 1024)})
    assert len(data) * 100 < 8 * 1024 * 1024
    with pytest.raises(ParseError, match="zip bomb"):
        archives.read_members(data, "z.zip")


def test_total_size_bound_refused():
    data = make_zip({"a.csv": bytes(range(256)) * 1024, "b.csv": bytes(range(256)) * 1024},
                    method=zipfile.ZIP_STORED)
    with pytest.raises(ParseError, match="at most 1000 bytes uncompressed"):
        archives.read_members(data, "z.zip", max_total=1000)


def test_member_lying_about_its_size_refused():
    data = bytearray(make_zip({"a.csv": b"A" * 100_000}))
    # patch the central directory's uncompressed size down to 10 bytes
    at = data.rfind(b"PK\x01\x02")
    data[at + 24:at + 28] = (10).to_bytes(4, "little")
    with pytest.raises(ParseError):
        archives.read_members(bytes(data), "z.zip")


def test_not_a_zip():
    with pytest.raises(ParseError, match="readable zip"):
        archives.read_members(b"PK\x03\x04garbage", "z.zip")
