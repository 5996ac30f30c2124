"""ISO 20022 camt.054 bank-to-customer debit/credit notification → canonical statement lines.

Versions .001.02 to .001.13, read and mapped like camt.053 (``schemas.iso20022``). A notification
has no balances: the checks are TxsSummry counts and sums where present and no missing page
between pages of one notification.
"""
from __future__ import annotations

from datetime import date

from schemas import iso20022
from schemas.iso20022 import Statement
from schemas.validation import ParsedFile

NAME = "camt054"
MESSAGE = iso20022.CAMT054


def identify(data: bytes, name: str) -> bool:
    return MESSAGE.sniff(data)


def read_statements(data: bytes, file: str) -> list[Statement]:
    return iso20022.read_statements(MESSAGE, data, file)


def parse(data: bytes, *, name: str, source: str, sha256: str, business_date: date,
          timezone: str) -> ParsedFile:
    return iso20022.parse_message(MESSAGE, data, name=name, source=source, sha256=sha256,
                                  business_date=business_date, timezone=timezone)
