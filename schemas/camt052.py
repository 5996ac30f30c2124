"""ISO 20022 camt.052 bank-to-customer account report (intraday) → canonical statement lines.

Versions .001.01 to .001.13, read and mapped like camt.053 (``schemas.iso20022``). An intraday
report often carries pending (PDNG) entries: they are loaded with their status, and only booked
entries count towards the balances. Checks: opening + Σ booked entries = CLBD where the report
has both balances, TxsSummry counts and sums, and no missing page between pages of one report.
"""
from __future__ import annotations


from schemas import iso20022

NAME = "camt052"
MESSAGE = iso20022.CAMT052


# identify(data, name), read_statements(data, file), parse(data, *, name, source, sha256,
# business_date, timezone): shared by every camt message (schemas/iso20022.py).
identify, read_statements, parse = MESSAGE.identify, MESSAGE.read_statements, MESSAGE.parse
