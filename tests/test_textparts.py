"""schemas.textparts.read_part gives exactly what read_text_csv gives for the part joined behind
its header: the same frame (values, nulls, file_line) or the same ParseError, plain part or not;
and pandera's unique check is left out only where it cannot fail."""
from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from recon.errors import ParseError
from schemas import quirks, textparts, validation

HEADER = b"\xef\xbb\xbfid,amount,note\n"
PLAIN = [b"A1,1.50,tea", b"A2,-2.00,", b"A3,3,`x"]


def _both(data: bytes, part_bytes: int, **kwargs):
    """(usual read, read_part) of every part: each a frame or the ParseError's text."""
    def read(fn):
        try:
            return fn()
        except ParseError as exc:
            return str(exc)
    for start, stop, line in quirks.part_ranges(data, part_bytes):
        yield (read(lambda: quirks.read_text_csv(quirks.part_data(data, start, stop), "f.csv",
                                                 first_line=line, **kwargs)),
               read(lambda: textparts.read_part(data, start, stop, line, "f.csv", **kwargs)))


@pytest.mark.parametrize("rows, sep", [
    (PLAIN * 4, b"\n"),                                   # plain: read as it lies
    (PLAIN * 4, b"\r\n"),                                 # CRLF
    ([*PLAIN, b"A4,4.00", *PLAIN], b"\n"),                # a short row: refused at its line
    ([*PLAIN, b"A4,4.00,x,y", *PLAIN], b"\n"),            # a long row: refused at its line
    ([*PLAIN, b"", *PLAIN], b"\n"),                       # a blank line
    ([*PLAIN, b'A4,"4,00",x', *PLAIN], b"\n"),            # quoted: the usual read
    ([*PLAIN, b"A4,\xff,x", *PLAIN], b"\n"),              # not UTF-8
])
@pytest.mark.parametrize("kwargs", [{}, {"columns": ["id"], "checked": False}])
def test_read_part_is_read_text_csv_of_the_joined_part(rows, sep, kwargs):
    data = HEADER + sep.join(rows) + sep
    pairs = list(_both(data, 20, **kwargs))
    assert len(pairs) > 2
    for usual, fast in pairs:
        if isinstance(usual, str):
            assert fast == usual
        else:
            assert_frame_equal(fast, usual)


def test_a_plain_part_is_not_copied_behind_its_header(monkeypatch):
    data = HEADER + b"\n".join(PLAIN * 4) + b"\n"
    monkeypatch.setattr(quirks, "part_data", lambda *a: pytest.fail("copied behind its header"))
    start, stop, line = quirks.part_ranges(data, 20)[1]
    frame = textparts.read_part(data, start, stop, line, "f.csv")  # lines 4-6: backticks stripped
    assert frame.rows() == [("A3", "3", "x", 4), ("A1", "1.50", "tea", 5), ("A2", "-2.00", None, 6)]
    assert frame.columns == ["id", "amount", "note", "file_line"]


@pytest.mark.parametrize("ids, may_repeat", [
    (["a", "b", "c"], False),
    (["a", "b", "a"], True),
    (["a", None, None], True),   # two nulls: pandera decides
    (["a", None, "b"], False),
])
def test_unique_check_is_left_out_only_where_it_cannot_fail(ids, may_repeat):
    assert validation._may_repeat(pl.DataFrame({"entry_id": ids}), "entry_id") is may_repeat
    assert validation._may_repeat(pl.DataFrame({"other": ids}), "entry_id") is True
