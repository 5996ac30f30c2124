"""A format's own end record, for the settle rule: a file of such a format is complete only once
its last record is there (connectors/settle.py takes a file only then).

Only formats whose specification makes the last record mandatory and fixed: BAI2's file trailer
(record ``99``, "the last record in the file"), and an ISO 20022 camt document's closing
``</Document>`` (with or without a namespace prefix). MT940/MT942 files are not listed: banks
send them with and without the closing ``-``/``-}``. A compressed or zipped delivery (the
parser unwraps it) cannot be judged from its bytes and is not held back.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

__all__ = ["END", "checker"]

_TAIL = 4096
END: dict[str, re.Pattern[bytes]] = {
    "bai2": re.compile(rb"(?:^|[\r\n])99,[^\r\n]*\s*\Z"),
    **{fmt: re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?Document>\s*\Z")
       for fmt in ("camt052", "camt053", "camt054")},
}
_WRAPPED = (b"PK\x03\x04", b"\x1f\x8b")  # zip, gzip


def checker(fmt: str) -> Callable[[Path], bool] | None:
    """``complete(path)`` for a format with an end record, else None."""
    end = END.get(fmt)
    if end is None:
        return None

    def complete(path: Path) -> bool:
        with open(path, "rb") as f:
            if f.read(4).startswith(_WRAPPED):
                return True
            f.seek(0, 2)
            f.seek(max(0, f.tell() - _TAIL))
            return end.search(f.read()) is not None

    return complete
