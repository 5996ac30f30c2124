"""ISO 20022 camt.053 bank-to-customer statement → canonical statement lines.

Versions .001.02 to .001.13; the reading, control totals and mapping are shared with camt.052 and
camt.054 in ``schemas.iso20022`` (docs/formats.md). Checks: opening (OPBD, or PRCD) + Σ booked
entries = CLBD per statement, TxsSummry counts and sums, and no missing page between pages of one
statement in the file.
"""
from __future__ import annotations

from datetime import date

from schemas import iso20022
from schemas.iso20022 import Statement, control_checks, to_frame
from schemas.validation import ParsedFile

__all__ = ["NAME", "NAMESPACE", "VERSIONS", "Statement", "control_checks", "identify", "parse",
           "read_statements", "to_frame"]

NAME = "camt053"
MESSAGE = iso20022.CAMT053
NAMESPACE = MESSAGE.namespace
VERSIONS = MESSAGE.versions


def identify(data: bytes, name: str) -> bool:
    return MESSAGE.sniff(data)


def read_statements(data: bytes, file: str) -> list[Statement]:
    return iso20022.read_statements(MESSAGE, data, file)


def parse(data: bytes, *, name: str, source: str, sha256: str, business_date: date,
          timezone: str) -> ParsedFile:
    return iso20022.parse_message(MESSAGE, data, name=name, source=source, sha256=sha256,
                                  business_date=business_date, timezone=timezone)
