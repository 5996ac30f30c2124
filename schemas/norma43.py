"""Spanish Norma 43 (AEB / CSB "Cuaderno 43", Información normalizada de cuenta corriente).

80-character records (positions as the Cuaderno numbers them): 11 account header with the
opening balance, 22 movement, 23 complementary concepts (up to five per movement), 24 currency
equivalence, 33 account final record (debit and credit counts and sums, closing balance), 88 end
of file (number of records). Amounts are 14 digits with 2 implied decimals; the sign code is
1 = debe (debit, money out) and 2 = haber (credit, money in). Currencies are ISO 4217 numeric
codes (978 = EUR). One statement line per record 22; its 23 concepts join its description and
its 24 becomes ``orig_amount``/``orig_currency``.

Control totals per account (record 33): number and sum of debits, number and sum of credits,
and opening + credits − debits = closing balance; per file (record 88): the number of records
before it.
"""
from __future__ import annotations

from datetime import date

from recon.errors import ParseError
from schemas.fixedwidth import Record, day, digits, parse_file, show, signed, units_text
from schemas.validation import ControlCheck, ParsedFile

NAME = "norma43"
WIDTH = 80
_SIGN = {"1": -1, "2": 1}  # 1 debe (debit), 2 haber (credit)
# ISO 4217 numeric → alphabetic, for the currencies recon.money knows.
NUMERIC = {
    "784": "AED", "036": "AUD", "048": "BHD", "986": "BRL", "124": "CAD", "756": "CHF", "152": "CLP",
    "156": "CNY", "203": "CZK", "208": "DKK", "978": "EUR", "826": "GBP", "344": "HKD", "348": "HUF",
    "360": "IDR", "376": "ILS", "356": "INR", "352": "ISK", "400": "JOD", "392": "JPY", "410": "KRW",
    "414": "KWD", "446": "MOP", "484": "MXN", "458": "MYR", "578": "NOK", "554": "NZD", "512": "OMR",
    "608": "PHP", "985": "PLN", "946": "RON", "643": "RUB", "682": "SAR", "752": "SEK", "702": "SGD",
    "764": "THB", "788": "TND", "949": "TRY", "901": "TWD", "800": "UGX", "840": "USD", "704": "VND",
    "950": "XAF", "952": "XOF", "710": "ZAR",
}


def identify(data: bytes, name: str) -> bool:
    head = data[:WIDTH + 2].removeprefix(b"\xef\xbb\xbf")
    line = head.split(b"\n")[0].rstrip(b"\r")
    return (len(line) <= WIDTH and line[:2] == b"11" and line[2:32].isdigit()
            and line[32:33] in (b"1", b"2") and line[33:50].isdigit())


def parse(data: bytes, *, name: str, source: str, sha256: str, business_date: date,
          timezone: str, options: dict | None = None) -> ParsedFile:
    return parse_file(data, _walk, WIDTH, "Norma 43", name=name, source=source, sha256=sha256,
                      business_date=business_date, timezone=timezone, options=options)


def _currency(code: str) -> str:
    return NUMERIC.get(code, code)


def _amount(r: Record, sign_at: int, first: int, name: str, what: str) -> int:
    return signed(r, sign_at, first, first + 13, _SIGN, "1 (debe) or 2 (haber)", name, what)


def _walk(recs: list[Record], name: str) -> tuple[list[dict], list[ControlCheck]]:
    lines, checks = [], []
    account = movement = None
    seen = 0
    for r in recs:
        kind = r.at(1, 2)
        if kind == "11":
            if account is not None:
                raise ParseError(name, r.line, "expected a record 33 closing the account before "
                                               "the next record 11")
            account = {"key": f"{r.at(3, 6)} {r.at(7, 10)} {r.at(11, 20)}", "line": r.line,
                       "opening": _amount(r, 33, 34, name, "opening balance"),
                       "currency": _currency(r.at(48, 50)), "movements": []}
            movement = None
        elif kind == "22":
            if account is None:
                raise ParseError(name, r.line, "expected a record 11 (account header) before the "
                                               "record 22")
            movement = _movement(r, name, account)
            account["movements"].append(movement)
            lines.append(movement)
        elif kind in ("23", "24"):
            if movement is None:
                raise ParseError(name, r.line, f"expected a record 22 before the record {kind}")
            if kind == "23":
                movement["raw"]["concepts"].append([r.at(3, 4), r.at(5, 42).strip(),
                                                    r.at(43, 80).strip()])
            else:
                units = digits(r, 8, 21, name, "equivalent amount") * (1 if movement["units"] >= 0 else -1)
                movement.update(orig_amount=units_text(units, 2), orig_currency=_currency(r.at(5, 7)))
                movement["raw"]["equivalence"] = {"currency": r.at(5, 7), "amount": r.at(8, 21)}
        elif kind == "33":
            if account is None:
                raise ParseError(name, r.line, "expected a record 11 before the record 33")
            checks += _account_checks(account, r, name)
            account = movement = None
        elif kind == "88":
            count = r.at(21, 26)
            checks.append(ControlCheck("record 88 number of records (11 … 33)",
                                       count.lstrip("0") or "0", str(seen),
                                       count.isdigit() and int(count) == seen))
            continue
        else:
            raise ParseError(name, r.line, f"expected a Norma 43 record (11, 22, 23, 24, 33, 88), "
                                           f"found {kind!r}")
        seen += 1
    if account is not None:
        raise ParseError(name, account["line"], "expected a record 33 closing the account that "
                                                "starts here")
    if not recs or recs[-1].at(1, 2) != "88":
        raise ParseError(name, None, "expected a Norma 43 file ending in a record 88")
    for ln in lines:
        concepts = " ".join(t for c in ln["raw"]["concepts"] for t in c[1:] if t)
        ln["description"] = " ".join(filter(None, [ln["raw"]["reference_2"], concepts])) or None
    return lines, checks


def _movement(r: Record, name: str, account: dict) -> dict:
    units = _amount(r, 28, 29, name, "movement amount")
    return {
        "file_line": r.line, "units": units, "amount": units_text(units, 2),
        "currency": account["currency"], "booked": day(r.at(11, 16), "YYMMDD"),
        "booked_text": r.at(11, 16), "value_date": day(r.at(17, 22), "YYMMDD"),
        "value_text": r.at(17, 22), "txn_type": "transfer",
        "bank_reference": _reference(r.at(43, 52)), "merchant_reference": _reference(r.at(53, 64)),
        "payment_method": r.at(23, 24),
        "raw": {"account": account["key"], "origin_branch": r.at(7, 10),
                "operation_date": r.at(11, 16), "value_date": r.at(17, 22),
                "common_concept": r.at(23, 24), "own_concept": r.at(25, 27), "sign": r.at(28, 28),
                "amount": r.at(29, 42), "document": r.at(43, 52), "reference_1": r.at(53, 64).strip(),
                "reference_2": r.at(65, 80).strip(), "concepts": []},
    }


def _reference(text: str) -> str | None:
    """A blank or all-zero reference field is no reference."""
    text = text.strip()
    return text if text.strip("0") else None


def _account_checks(account: dict, r: Record, name: str) -> list[ControlCheck]:
    key, currency = account["key"], account["currency"]
    if f"{r.at(3, 6)} {r.at(7, 10)} {r.at(11, 20)}" != key:
        raise ParseError(name, r.line, f"expected the record 33 of account {key} (record 11 at "
                                       f"line {account['line']}), found "
                                       f"{r.at(3, 6)} {r.at(7, 10)} {r.at(11, 20)}")
    debits = [-m["units"] for m in account["movements"] if m["units"] < 0]
    credits = [m["units"] for m in account["movements"] if m["units"] >= 0]
    n_debit = digits(r, 21, 25, name, "number of debits")
    s_debit = digits(r, 26, 39, name, "total debits")
    n_credit = digits(r, 40, 44, name, "number of credits")
    s_credit = digits(r, 45, 58, name, "total credits")
    closing = _amount(r, 59, 60, name, "closing balance")
    found = account["opening"] + sum(credits) - sum(debits)
    label = f"account {key} record 33"
    return [
        ControlCheck(f"{label} number of debits", str(n_debit), str(len(debits)), n_debit == len(debits)),
        ControlCheck(f"{label} total debits", show(s_debit, 2, currency), show(sum(debits), 2, currency),
                     s_debit == sum(debits)),
        ControlCheck(f"{label} number of credits", str(n_credit), str(len(credits)),
                     n_credit == len(credits)),
        ControlCheck(f"{label} total credits", show(s_credit, 2, currency),
                     show(sum(credits), 2, currency), s_credit == sum(credits)),
        ControlCheck(f"{label} closing balance = record 11 opening + credits − debits",
                     show(closing, 2, currency), show(found, 2, currency),
                     closing == found and _currency(r.at(74, 76)) == currency),
    ]
