"""ISO 20022 camt.054 bank-to-customer debit/credit notification → canonical statement lines.

Versions .001.02 to .001.13, read and mapped like camt.053 (``schemas.iso20022``). A notification
has no balances: the checks are TxsSummry counts and sums where present and no missing page
between pages of one notification.
"""
from __future__ import annotations


from schemas import iso20022

NAME = "camt054"
MESSAGE = iso20022.CAMT054


# identify(data, name), read_statements(data, file), parse(data, *, name, source, sha256,
# business_date, timezone): shared by every camt message (schemas/iso20022.py).
identify, read_statements, parse = MESSAGE.identify, MESSAGE.read_statements, MESSAGE.parse
