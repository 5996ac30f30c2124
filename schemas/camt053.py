"""ISO 20022 camt.053 bank-to-customer statement → canonical statement lines.

Versions .001.02 to .001.13; the reading, control totals and mapping are shared with camt.052 and
camt.054 in ``schemas.iso20022`` (docs/formats.md). Checks: opening (OPBD, or PRCD) + Σ booked
entries = CLBD per statement, TxsSummry counts and sums, and no missing page between pages of one
statement in the file.
"""
from __future__ import annotations


from schemas import iso20022
from schemas.iso20022 import Statement, control_checks, to_frame

__all__ = ["NAME", "NAMESPACE", "VERSIONS", "Statement", "control_checks", "identify", "parse",
           "read_statements", "to_frame"]

NAME = "camt053"
MESSAGE = iso20022.CAMT053
NAMESPACE = MESSAGE.namespace
VERSIONS = MESSAGE.versions


# identify(data, name), read_statements(data, file), parse(data, *, name, source, sha256,
# business_date, timezone): shared by every camt message (schemas/iso20022.py).
identify, read_statements, parse = MESSAGE.identify, MESSAGE.read_statements, MESSAGE.parse
