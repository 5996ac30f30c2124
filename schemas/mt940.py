"""SWIFT MT940 customer statement → canonical statement lines.

One file may hold several statements (each from ``:20:``), with or without the SWIFT envelope
(``{1:…}{2:…}{4:`` … ``-}``). Per ``:61:`` line: value date, entry date (booking date, year taken
from the value date across a year end), D/C/RD/RC mark, amount with decimal comma, transaction
type, customer reference ``//`` bank reference; its ``:86:`` is kept whole in ``raw`` and read as
structured references where it has a known structure (``schemas.swift.details``).

Control totals per statement: opening (``:60F:``/``:60M:``) + Σ ``:61:`` = closing
(``:62F:``/``:62M:``) in one currency. Across statements of one account in the file, the ``:28C:``
statement/sequence numbers must not skip one where the balances do not chain (a previous closing
equal to the next opening shows nothing is missing, whatever the numbering: some banks number
statements by day of year).
"""
from __future__ import annotations

import re
from datetime import date

from recon.errors import ParseError
from schemas import encoding, swift
from schemas.validation import ControlCheck, ParsedFile, finish

NAME = "mt940"
_HEADER = re.compile(rb"\{2:[IO]94(\d)")


def identify(data: bytes, name: str) -> bool:
    head = data[:65536]
    header = _HEADER.search(head[:512])
    if header:
        return header.group(1) == b"0"
    return (b":20:" in head and b":25:" in head and (b":60F:" in head or b":60M:" in head))


def parse(data: bytes, *, name: str, source: str, sha256: str, business_date: date,
          timezone: str, options: dict | None = None) -> ParsedFile:
    text = encoding.decode(data, name, declared=(options or {}).get("encoding"))
    statements = swift.read_statements(text, name)
    swift.read_entries(statements, name)
    checks, currencies, balances = [], {}, {}
    for index, s in enumerate(statements):
        opening = swift.balance(s, ("60F", "60M"), name)
        closing = swift.balance(s, ("62F", "62M"), name)
        if opening is None or closing is None:
            raise ParseError(name, s.line, "expected an opening (:60F:/:60M:) and a closing "
                                           "(:62F:/:62M:) balance in every MT940 statement")
        currencies[index] = opening["ccy"]
        balances[index] = (opening, closing)
        checks.append(balance_check(s, opening, closing))
    checks += sequence_checks(statements, balances)
    frame, originals = swift.to_frame(statements, currencies, sha256=sha256, source=source,
                                      business_date=business_date, timezone=timezone, file=name)
    return finish(frame, checks, file_name=name, source=source, originals=originals,
                  required=("value_date",))


def balance_check(s: swift.Statement, opening: dict, closing: dict) -> ControlCheck:
    values = [swift.signed_units(e) for e in s.entries]
    found = None if None in values else opening["units"] + sum(values)
    return ControlCheck(
        f":20:{s.value('20')} :{opening['tag']}: + Σ:61: = :{closing['tag']}:",
        swift.show(closing["units"], closing["ccy"]),
        swift.show(found, opening["ccy"] if opening["ccy"] == closing["ccy"]
                   else f"{opening['ccy']}/{closing['ccy']}"),
        found == closing["units"] and opening["ccy"] == closing["ccy"])


def statement_number(s: swift.Statement) -> tuple[int, int | None] | None:
    """``:28C:`` 5n[/5n] → (statement number, sequence number); None if absent or zero."""
    m = re.fullmatch(r"\s*(\d{1,5})(?:/(\d{1,5}))?\s*", s.value("28C", "28") or "")
    if not m or int(m[1]) == 0:
        return None
    return int(m[1]), None if m[2] is None else int(m[2])


def sequence_checks(statements: list[swift.Statement],
                    balances: dict[int, tuple[dict, dict]] | None = None) -> list[ControlCheck]:
    """Consecutive statements of one account: the next statement number, or the next sequence
    number (page) of the same statement. Checked only where the balances do not chain (the
    previous closing is not this opening, in amount and currency): banks that number statements
    by day of year (or any other way) skip numbers while no statement is missing."""
    checks, last = [], {}
    for index, s in enumerate(statements):
        account, number = s.value("25"), statement_number(s)
        if number is None:
            continue
        if account in last:
            (n0, q0, closing), (n1, q1) = last[account], number
            opening = (balances or {}).get(index, (None, None))[0]
            chained = closing is not None and opening is not None and \
                (closing["units"], closing["ccy"]) == (opening["units"], opening["ccy"])
            ok = chained or (n1 == n0 + 1 and (q1 in (None, 1) or q0 is None)) or \
                 (n1 == n0 and q0 is not None and q1 == q0 + 1)
            checks.append(ControlCheck(
                f":25:{account} :28C: follows {n0}/{q0 or ''}".rstrip("/")
                + ("" if chained or not closing or not opening else
                   f" (balances do not chain: closing {swift.show(closing['units'], closing['ccy'])}"
                   f", then opening {swift.show(opening['units'], opening['ccy'])})"),
                f"{n0 + 1} or {n0}/{(q0 or 0) + 1}", f"{n1}/{q1 or ''}".rstrip("/"), ok))
        last[account] = (*number, (balances or {}).get(index, (None, None))[1])
    return checks
