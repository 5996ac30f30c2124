"""Belgian CODA (Febelfin "Coded statement of account", version 2) → canonical statement lines.

128-character records (positions as the Febelfin standard numbers them): 0 header (version code
``2`` in position 128), 1 old balance, 2.1 movement with 2.2/2.3 continuations, 3.1/3.2/3.3
information, 4 free communication, 8 new balance, 9 trailer. One statement line per 2.1 record
with detail number 0000; 2.1 records with another detail number are the details of a globalised
movement and stay in its ``raw``. Amounts are 15 digits with 3 implied decimals; sign 0 = credit,
1 = debit. The account's currency is read from record 1 (account structure 0-3).

Control totals: per statement, record 1 old balance + Σ 2.1 = record 8 new balance (same
currency); per file (record 9): the number of records 1, 2.x, 3.x and 8, and the debit and credit
sums of the 2.1 records with detail number 0000.
"""
from __future__ import annotations

import re
from datetime import date

from recon.errors import ParseError
from schemas.fixedwidth import Record, day, digits, parse_file, show, signed, units_text
from schemas.validation import ControlCheck, ParsedFile

NAME = "coda"
WIDTH = 128
_IDENTIFY = re.compile(rb"^0{5}\d{6}[ \d]{3}05[ D]")
_SIGN = {"0": 1, "1": -1}
# record 1 account structure → (first, last) positions of the currency code
_CURRENCY_AT = {"0": (19, 21), "1": (40, 42), "2": (40, 42), "3": (40, 42)}
_ACCOUNT_AT = {"0": (6, 17), "1": (6, 39), "2": (6, 36), "3": (6, 39)}
_COUNTED = ("1", "21", "22", "23", "31", "32", "33", "8")  # record 9's "number of records"


def identify(data: bytes, name: str) -> bool:
    head = data[:WIDTH + 2].removeprefix(b"\xef\xbb\xbf")
    return bool(_IDENTIFY.match(head)) and head[WIDTH - 1:WIDTH] == b"2"


def parse(data: bytes, *, name: str, source: str, sha256: str, business_date: date,
          timezone: str, options: dict | None = None) -> ParsedFile:
    return parse_file(data, _walk, WIDTH, "CODA", name=name, source=source, sha256=sha256,
                      business_date=business_date, timezone=timezone, options=options)


def _kind(r: Record) -> str:
    return r.text[0] if r.text[0] in "01489" else r.text[:2]


def _walk(recs: list[Record], name: str) -> tuple[list[dict], list[ControlCheck]]:
    lines, checks = [], []
    statement = closed = last = None
    counted = debit = credit = 0
    for r in recs:
        kind = _kind(r)
        counted += kind in _COUNTED
        if kind == "0":
            if r.at(128, 128) != "2":
                raise ParseError(name, r.line, f"expected CODA version code 2 in position 128, "
                                               f"found {r.at(128, 128)!r}")
            counted = debit = credit = 0
        elif kind == "1":
            statement = _old_balance(r, name)
            last = None
        elif kind == "21":
            _need(statement, r, name, "a record 1 (old balance) before the 2.1 movement")
            movement = _movement(r, name, statement)
            if r.at(7, 10) == "0000":
                statement["movements"].append(movement)
                lines.append(movement)
                if movement["units"] < 0:
                    debit -= movement["units"]
                else:
                    credit += movement["units"]
            elif statement["movements"]:  # a detail of the globalised movement before it
                statement["movements"][-1]["raw"]["details"].append(movement["raw"])
            else:
                raise ParseError(name, r.line, "expected a 2.1 movement with detail number 0000 "
                                               "before its details")
            last = movement
        elif kind in ("22", "23"):
            _need(last, r, name, f"a 2.1 movement before the {kind[0]}.{kind[1]} record")
            _continuation(r, kind, last)
        elif kind in ("31", "32", "33"):
            _need(last, r, name, f"a 2.1 movement before the {kind[0]}.{kind[1]} information")
            span = {"31": (41, 113), "32": (11, 115), "33": (11, 100)}[kind]
            info = last["raw"].setdefault("information", [])
            if kind == "31":
                info.append({"transaction_code": r.at(32, 39), "structured": r.at(40, 40) == "1",
                             "communication": ""})
            if info:
                info[-1]["communication"] += r.at(*span)
        elif kind == "4":  # after record 8: the bank's free text about the statement
            target = statement or closed
            _need(target, r, name, "a statement (records 1 … 8) before the free communication")
            for m in target["movements"]:
                free = m["raw"].get("free_communication", "")
                m["raw"]["free_communication"] = f"{free} {r.at(33, 112).strip()}".strip()
        elif kind == "8":
            _need(statement, r, name, "a record 1 (old balance) before the record 8 (new balance)")
            checks.append(_balance_check(statement, r, name))
            closed, statement, last = statement, None, None
        elif kind == "9":
            checks += _trailer_checks(r, name, counted, debit, credit)
        else:
            raise ParseError(name, r.line, f"expected a CODA record (0, 1, 2.1-2.3, 3.1-3.3, 4, 8, "
                                           f"9), found {r.text[:2]!r}")
    if statement is not None:
        raise ParseError(name, statement["line"], "expected a record 8 (new balance) closing the "
                                                  "statement that starts here")
    if not any(_kind(r) == "9" for r in recs):
        raise ParseError(name, None, "expected a CODA file ending in a record 9 (trailer)")
    for ln in lines:  # the communication runs on over 2.1, 2.2 and 2.3: cut words join again
        ln["raw"]["communication"] = ln["raw"]["communication"].rstrip()
        ln["description"] = _collapse(ln["raw"]["communication"]) or None
        for info in ln["raw"].get("information", []):
            info["communication"] = info["communication"].rstrip()
    return lines, checks


def _need(value, r: Record, name: str, what: str) -> None:
    if value is None:
        raise ParseError(name, r.line, f"expected {what}")


def _amount(r: Record, sign_at: int, first: int, name: str, what: str) -> int:
    return signed(r, sign_at, first, first + 14, _SIGN, "0 (credit) or 1 (debit)", name, what)


def _old_balance(r: Record, name: str) -> dict:
    structure = r.at(2, 2)
    if structure not in _CURRENCY_AT:
        raise ParseError(name, r.line, f"expected account structure 0, 1, 2 or 3 in position 2, "
                                       f"found {structure!r}")
    return {"line": r.line, "currency": r.at(*_CURRENCY_AT[structure]).strip().upper(),
            "account": r.at(*_ACCOUNT_AT[structure]).strip(), "account_field": r.at(6, 42),
            "opening": _amount(r, 43, 44, name, "old balance"), "date": r.at(59, 64),
            "paper": r.at(3, 5), "movements": []}


def _movement(r: Record, name: str, statement: dict) -> dict:
    units = _amount(r, 32, 33, name, "movement amount")
    structured = r.at(62, 62) == "1"
    communication = r.at(63, 115)
    reference = None
    if structured and communication[:3] == "101":  # Belgian structured creditor reference (OGM)
        reference = communication[3:15].strip()
    return {
        "file_line": r.line, "units": units, "amount": units_text(units, 3),
        "currency": statement["currency"], "booked": day(r.at(116, 121), "DDMMYY"),
        "booked_text": r.at(116, 121), "value_date": day(r.at(48, 53), "DDMMYY"),
        "value_text": r.at(48, 53), "txn_type": "transfer",
        "bank_reference": r.at(11, 31).strip() or None, "merchant_reference": reference,
        "payment_method": r.at(54, 61),
        "raw": {"account": statement["account"], "sequence": r.at(3, 6), "detail": r.at(7, 10),
                "bank_reference": r.at(11, 31).strip(), "sign": r.at(32, 32),
                "amount": r.at(33, 47), "value_date": r.at(48, 53),
                "transaction_code": r.at(54, 61), "structured": structured,
                "communication": communication, "entry_date": r.at(116, 121),
                "paper_sequence": r.at(122, 124), "globalisation": r.at(125, 125), "details": []},
    }


def _continuation(r: Record, kind: str, movement: dict) -> None:
    raw = movement["raw"]
    if kind == "22":
        raw["communication"] += r.at(11, 63)
        raw.update(customer_reference=r.at(64, 98).strip(), counterparty_bic=r.at(99, 109).strip(),
                   r_type=r.at(113, 113).strip(), return_reason=r.at(114, 117).strip(),
                   category_purpose=r.at(118, 121).strip(), purpose=r.at(122, 125).strip())
        movement["end_to_end_id"] = raw["customer_reference"] or None  # SEPA end-to-end id
    else:
        raw["communication"] += r.at(83, 125)
        raw.update(counterparty_account=r.at(11, 47).strip(), counterparty_name=r.at(48, 82).strip())
        movement["counterparty"] = raw["counterparty_name"] or None


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _balance_check(statement: dict, r: Record, name: str) -> ControlCheck:
    if r.at(5, 41) != statement["account_field"]:
        raise ParseError(name, r.line, f"expected the record 8 of account {statement['account']} "
                                       f"(record 1 at line {statement['line']}), found the account "
                                       f"and currency {r.at(5, 41).strip()!r}")
    closing = _amount(r, 42, 43, name, "new balance")
    currency = statement["currency"]
    found = statement["opening"] + sum(m["units"] for m in statement["movements"])
    label = (f"account {statement['account']} statement {statement['paper']}: record 1 old "
             f"balance + Σ2.1 = record 8 new balance")
    return ControlCheck(label, show(closing, 3, currency), show(found, 3, currency),
                        found == closing)


def _trailer_checks(r: Record, name: str, counted: int, debit: int, credit: int) -> list[ControlCheck]:
    count = r.at(17, 22)
    return [
        ControlCheck("record 9 number of records 1, 2.x, 3.x and 8", count.lstrip("0") or "0",
                     str(counted), count.isdigit() and int(count) == counted),
        ControlCheck("record 9 debit movement = Σ debit 2.1 (detail 0000)",
                     show(digits(r, 23, 37, name, "debit movement"), 3), show(debit, 3),
                     int(r.at(23, 37)) == debit),
        ControlCheck("record 9 credit movement = Σ credit 2.1 (detail 0000)",
                     show(digits(r, 38, 52, name, "credit movement"), 3), show(credit, 3),
                     int(r.at(38, 52)) == credit),
    ]
