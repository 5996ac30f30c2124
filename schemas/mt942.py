"""SWIFT MT942 interim transaction report → canonical statement lines.

Read like MT940 (``schemas.swift``): ``:20:``, ``:21:``, ``:25:``, ``:28C:``, ``:34F:`` floor
limit(s), ``:13D:`` (or ``:13:``) date-time indication, ``:61:``/``:86:`` pairs, ``:90D:``/``:90C:``.
An interim report has no balances; its control totals are ``:90D:`` (number and sum of debit
entries, D and RC) and ``:90C:`` (credit entries, C and RD), checked per report, in the currency
of the report.
"""
from __future__ import annotations

import re
from datetime import date

from recon.errors import ParseError
from schemas import encoding, swift
from schemas.validation import ControlCheck, ParsedFile, finish

NAME = "mt942"
_HEADER = re.compile(rb"\{2:[IO]94(\d)")
_FLOOR = re.compile(r"^(?P<ccy>[A-Z]{3})(?P<mark>[DC])?(?P<amount>[\d,]+)$")
_COUNT = re.compile(r"^(?P<count>\d{1,5})(?P<ccy>[A-Z]{3})(?P<amount>[\d,]+)$")
_SIDE = {"90D": ("D", "RC"), "90C": ("C", "RD")}


def identify(data: bytes, name: str) -> bool:
    head = data[:65536]
    header = _HEADER.search(head[:512])
    if header:
        return header.group(1) == b"2"
    return (b":20:" in head and b":25:" in head and b":34F:" in head
            and b":60F:" not in head and b":60M:" not in head)


def parse(data: bytes, *, name: str, source: str, sha256: str, business_date: date,
          timezone: str, options: dict | None = None) -> ParsedFile:
    text = encoding.decode(data, name, declared=(options or {}).get("encoding"))
    statements = swift.read_statements(text, name)
    swift.read_entries(statements, name)
    checks, currencies = [], {}
    for index, s in enumerate(statements):
        currencies[index] = currency = _currency(s, name)
        for tag in ("90D", "90C"):
            if tag in s.fields:
                checks += _count_checks(s, tag, currency, name)
    frame, originals = swift.to_frame(statements, currencies, sha256=sha256, source=source,
                                      business_date=business_date, timezone=timezone, file=name)
    return finish(frame, checks, file_name=name, source=source, originals=originals,
                  required=("value_date",))


def _currency(s: swift.Statement, file: str) -> str:
    floor = next((t for t in s.tags if t.tag == "34F"), None)
    if floor is None:
        raise ParseError(file, s.line, "expected a floor limit (:34F:) in every MT942 report")
    m = _FLOOR.match(floor.value.strip())
    if not m or swift.units(m["amount"]) is None:
        raise ParseError(file, floor.line, f"expected :34F: as currency, [D/C] and amount "
                                           f"(EURD0,00), found {floor.value!r}")
    return m["ccy"]


def _count_checks(s: swift.Statement, tag: str, currency: str, file: str) -> list[ControlCheck]:
    line = next(t.line for t in s.tags if t.tag == tag)
    m = _COUNT.match(s.fields[tag].strip())
    if not m or swift.units(m["amount"]) is None:
        raise ParseError(file, line, f"expected :{tag}: as number of entries, currency and amount "
                                     f"(3EUR123,45), found {s.fields[tag]!r}")
    entries = [e for e in s.entries if e["parsed"]["mark"] in _SIDE[tag]]
    values = [swift.units(e["parsed"]["amount"]) for e in entries]
    found = None if None in values else sum(values)
    prefix = f":20:{s.value('20')} :{tag}:"
    return [
        ControlCheck(f"{prefix} number of entries", str(int(m["count"])), str(len(entries)),
                     int(m["count"]) == len(entries)),
        ControlCheck(f"{prefix} sum of entries", swift.show(swift.units(m["amount"]), m["ccy"]),
                     swift.show(found, currency),
                     found == swift.units(m["amount"]) and m["ccy"] == currency),
    ]
