"""BAI2 cash management balance report → canonical statement lines (one per 16 detail record).

Records: 01 file header, 02 group header (as-of date, currency; USD when blank), 03 account
identifier with summary/status amounts, 16 transaction detail, 88 continuation of any record
before it, 49 account trailer, 98 group trailer, 99 file trailer. Several records may share a
physical line (fixed-length blocks): each ends with ``/`` and the next begins with its code; where
two 16 records share one, ``file_line`` is the record's position in the file (88s folded). Amounts are integers in the
currency's minor unit (implied decimals). Type codes 100–399 are credits, 400–699 debits.
Funds type (0, 1, 2, Z, V, S, D) is consumed with its extra fields so the references after it
are found by position; the 16 text is the rest of the record, commas and slashes included.

Control totals (the BAI2 spec): 49 = Σ amounts of the account's 03 (and its 88s) and 16 records,
and its record count (03 … 49 incl. continuations); 98 = Σ 49 totals, number of accounts and
records (02 … 98); 99 = Σ 98 totals, number of groups and records (01 … 99).
"""
from __future__ import annotations

import json
import logging
import re
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import polars as pl

from recon.errors import ParseError
from recon.money import EXPONENTS, exponent_expr, minor_expr
from schemas import encoding, quirks
from schemas.validation import ControlCheck, ParsedFile, finish

log = logging.getLogger(__name__)

NAME = "bai2"
_IDENTIFY = re.compile(rb"^(\xef\xbb\xbf)?\s*01,[^\n/]*/?\s*02,")
_CODES = ("01", "02", "03", "16", "88", "49", "98", "99")
# a record delimiter "/" followed by the next record on the same physical line
_NEXT_RECORD = re.compile(r"/\s*(?=(?:" + "|".join(_CODES) + r"),)")
_INT = re.compile(r"^[+-]?\d+$")


def identify(data: bytes, name: str) -> bool:
    return _IDENTIFY.match(data[:4096]) is not None


def parse(data: bytes, *, name: str, source: str, sha256: str, business_date: date,
          timezone: str, options: dict | None = None) -> ParsedFile:
    text = encoding.decode(data, name, declared=(options or {}).get("encoding"))
    records = _records(text, name)
    details, checks = _walk(records, name)
    frame, originals = _frame(details, sha256=sha256, source=source,
                              business_date=business_date, timezone=timezone)
    return finish(frame, checks, file_name=name, source=source, originals=originals,
                  required=("value_date",))


def _split(line: str) -> list[str]:
    """The records of one physical line: several may share it (fixed-length blocks), each ending
    with ``/`` and the next starting with its record code."""
    slash = line.find("/")
    if slash == -1 or slash == len(line) - 1:
        return [line]
    starts = [0] + [m.end() for m in _NEXT_RECORD.finditer(line)]
    return [line[a:b].strip() for a, b in zip(starts, starts[1:] + [len(line)], strict=True)]


def _records(text: str, file: str) -> list[dict]:
    """Logical records: a 88 is folded into the record before it, whatever that record is."""
    out: list[dict] = []
    for number, physical in enumerate(text.split("\n"), start=1):
        physical = physical.strip()
        for line in _split(physical) if physical else ():
            _record(out, line, number, file)
    if not out or out[0]["code"] != "01" or out[-1]["code"] != "99":
        raise ParseError(file, None, "expected a BAI2 file from a 01 header to a 99 trailer")
    details = [r["line"] for r in out if r["code"] == "16"]
    if len(set(details)) != len(details):  # line_id must stay unique: number records instead
        log.warning("%s: several 16 records share a physical line; file_line is the record's "
                    "position in the file instead", file)
        for position, r in enumerate(out, start=1):
            r["line"] = position
    return out


def _record(out: list[dict], line: str, number: int, file: str) -> None:
    """Append one logical record to ``out``, or fold an 88 into the record before it."""
    code, _, rest = line.partition(",")
    if code == "88":
        if not out:
            raise ParseError(file, number, "expected a record before the 88 continuation")
        _continue(out[-1], rest, file, number)
        return
    if code not in ("01", "02", "03", "16", "49", "98", "99"):
        raise ParseError(file, number, f"expected a BAI2 record (01, 02, 03, 16, 88, 49, 98, "
                                       f"99), found {code[:10]!r}")
    record = {"code": code, "line": number, "physical": 1, "text": None, "raw": rest}
    if code == "16":
        record["fields"], record["text"] = _detail_fields(rest, file, number)
    else:
        record["fields"] = _fields(rest)
        record["parts"] = [record["fields"][2:]]
    out.append(record)


def _continue(prev: dict, rest: str, file: str, line: int) -> None:
    """Fold an 88 into the record it continues. Fields are never split across records: an 88
    after a 16 whose text has begun continues the text (joined by a space), one after a 16 cut
    before its text carries the remaining fields; after a 03 it starts a new summary group where
    the record before ended with ``/`` and continues the group otherwise; after any other record
    it carries further fields."""
    prev["physical"] += 1
    if prev["code"] == "16":
        if _text_started(prev["raw"]):
            prev["text"] = " ".join(filter(None, [prev["text"], rest.removesuffix("/").strip()]))
            return
        prev["raw"] = prev["raw"].rstrip().removesuffix("/") + "," + rest
        prev["fields"], prev["text"] = _detail_fields(prev["raw"], file, prev["line"])
    elif prev["code"] == "03":
        if prev["raw"].rstrip().endswith("/"):
            prev["parts"].append(_fields(rest))
        else:
            prev["parts"][-1] = prev["parts"][-1] + _fields(rest)
        prev["raw"] = rest
    else:
        fields = _fields(prev["raw"].rstrip().removesuffix("/") + "," + rest)
        prev["raw"] = prev["raw"].rstrip().removesuffix("/") + "," + rest
        prev["fields"] = fields


def _text_started(rest: str) -> bool:
    """Whether a 16 record's text has begun: every field before it (type, amount, funds type
    and its fields, bank and customer reference) is present."""
    parts = rest.split(",")
    funds = parts[2].strip().upper() if len(parts) > 2 else ""
    extra = {"S": 3, "V": 2}.get(funds, 0)
    if funds == "D" and len(parts) > 3 and parts[3].strip().isdigit():
        extra = 1 + 2 * int(parts[3].strip())
    return len(parts) >= 3 + extra + 2


def _fields(rest: str) -> list[str]:
    """Comma-separated fields up to the ``/`` terminator (``,/`` ends the record, no field)."""
    body, slash, _ = rest.partition("/")
    fields = [f.strip() for f in body.split(",")]
    return fields[:-1] if slash and len(fields) > 1 and fields[-1] == "" else fields


def _detail_fields(rest: str, file: str, line: int) -> tuple[list[str], str]:
    """16: type, amount, funds type (+ its fields), bank ref, customer ref, then free text."""
    parts = rest.split(",")
    head, i = parts[:3], 3
    while len(head) < 3:
        head.append("")
    funds = head[2].strip().upper()
    extra = {"S": 3, "V": 2}.get(funds, 0)
    if funds == "D":
        count = parts[3].strip() if len(parts) > 3 else ""
        if not count.isdigit():
            raise ParseError(file, line, f"expected the number of distributions after funds type "
                                         f"D, found {count!r}")
        extra = 1 + 2 * int(count)
    elif funds not in ("", "0", "1", "2", "Z", "S", "V"):
        raise ParseError(file, line, f"expected funds type 0, 1, 2, S, V, D or Z, found {funds!r}")
    funds_fields = parts[i:i + extra]
    refs = parts[i + extra:i + extra + 2]
    while len(refs) < 2:
        refs.append("")
    text = ",".join(parts[i + extra + 2:]).strip()
    text = "" if text == "/" else text.removesuffix("/").strip()
    return [*[h.strip() for h in head], ",".join(funds_fields), *[r.strip().removesuffix("/")
                                                                   for r in refs]], text


def _amount(text: str | None) -> int:
    text = (text or "").strip()
    return int(text) if _INT.match(text) else 0


def _summary_amounts(parts: list[list[str]], file: str, line: int) -> list[int]:
    """03 after account and currency, and each 88 after it: (type, amount, item count, funds type
    [+ its fields])…"""
    return [a for fields in parts for a in _group_amounts(fields, file, line)]


def _group_amounts(fields: list[str], file: str, line: int) -> list[int]:
    amounts, i = [], 0
    while i < len(fields):
        code, amount = fields[i], fields[i + 1] if i + 1 < len(fields) else ""
        funds = fields[i + 3].upper() if i + 3 < len(fields) else ""
        if amount and not _INT.match(amount):
            raise ParseError(file, line, f"expected an integer amount for status/summary type "
                                         f"{code}, found {amount!r}")
        if code:
            amounts.append(_amount(amount))
        i += 4 + {"S": 3, "V": 2}.get(funds, 0)
        if funds == "D":
            n = fields[i] if i < len(fields) else ""
            i += 1 + 2 * int(n) if n.isdigit() else 1
    return amounts


def _trailer(record: dict, what: str, file: str) -> tuple[str, list[str]]:
    fields = record["fields"]
    if len(fields) < 2 or any(f and not _INT.match(f) for f in fields):
        raise ParseError(file, record["line"], f"expected the {what} trailer's totals as integers, "
                                               f"found {','.join(fields)!r}")
    return fields[0], fields[1:]


def _check(name: str, expected: str, found: int) -> ControlCheck:
    want = _amount(expected) if expected else 0
    shown = expected if expected else "(blank) 0"
    return ControlCheck(name, shown, str(found), want == found)


def _walk(records: list[dict], file: str) -> tuple[list[dict], list[ControlCheck]]:
    details, checks = [], []
    file_total = file_groups = file_records = 0
    group = account = None
    for r in records:
        code, f = r["code"], r["fields"]
        file_records += r["physical"]
        if group is not None:
            group["records"] += r["physical"]
        if account is not None:
            account["records"] += r["physical"]
        if code == "02":
            group = {"currency": (f[5] if len(f) > 5 else "") or "USD", "total": 0, "accounts": 0,
                     "records": r["physical"], "as_of": f[3] if len(f) > 3 else "",
                     "line": r["line"]}
        elif code == "03":
            if group is None:
                raise ParseError(file, r["line"], "expected a 02 group header before the 03 record")
            account = {"id": f[0], "currency": (f[1] if len(f) > 1 else "") or group["currency"],
                       "records": r["physical"],
                       "total": sum(_summary_amounts(r["parts"], file, r["line"]))}
        elif code == "16":
            if account is None:
                raise ParseError(file, r["line"], "expected a 03 account record before the 16 detail")
            if f[1] and not _INT.match(f[1]):
                account["total"] = None  # unreadable: the 49 check cannot balance
            elif account["total"] is not None:
                account["total"] += _amount(f[1])
            details.append({**r, "account": account["id"], "currency": account["currency"],
                            "as_of": group["as_of"]})
        elif code == "49":
            if account is None:
                raise ParseError(file, r["line"], "expected a 03 account record before the 49 trailer")
            total, rest = _trailer(r, "account", file)
            found = account["total"]
            checks.append(ControlCheck(f"49 account {account['id']} control total",
                                       total or "(blank) 0", "(unreadable detail amount)"
                                       if found is None else str(found),
                                       found is not None and (_amount(total) if total else 0) == found))
            checks.append(_check(f"49 account {account['id']} number of records", rest[0],
                                 account["records"]))
            group["total"] += _amount(total)
            group["accounts"] += 1
            account = None
        elif code == "98":
            if group is None or account is not None:
                raise ParseError(file, r["line"], "expected the 98 trailer to close a group after "
                                                  "its last 49")
            total, rest = _trailer(r, "group", file)
            checks += [_check(f"98 group (line {group['line']}) control total", total, group["total"]),
                       _check(f"98 group (line {group['line']}) number of accounts", rest[0],
                              group["accounts"])]
            if len(rest) > 1:
                checks.append(_check(f"98 group (line {group['line']}) number of records", rest[1],
                                     group["records"]))
            file_total += _amount(total)
            file_groups += 1
            group = None
        elif code == "99":
            total, rest = _trailer(r, "file", file)
            checks += [_check("99 file control total", total, file_total),
                       _check("99 file number of groups", rest[0], file_groups)]
            if len(rest) > 1:
                checks.append(_check("99 file number of records", rest[1], file_records))
    return details, checks


def _frame(details: list[dict], *, sha256: str, source: str, business_date: date,
           timezone: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    tz = ZoneInfo(timezone)
    rows = []
    for d in details:
        type_code, amount, funds, funds_fields, bank_ref, cust_ref = d["fields"][:6]
        code = int(type_code) if type_code.isdigit() else -1
        sign = 1 if 100 <= code <= 399 else -1 if 400 <= code <= 699 else None
        as_of = _yymmdd(d["as_of"])
        value = _yymmdd(funds_fields.split(",")[0]) if funds.upper() == "V" else as_of
        rows.append({
            "file_line": d["line"], "amount": amount, "sign": sign,
            "currency": d["currency"].upper(),
            "booked_at": None if as_of is None else datetime.combine(as_of, time(), tz).astimezone(UTC),
            "value_date": value, "as_of": d["as_of"],
            "value_text": funds_fields.split(",")[0] if funds.upper() == "V" else d["as_of"],
            "bank_reference": bank_ref or None, "merchant_reference": cust_ref or None,
            "description": d["text"] or None, "payment_method": type_code,
            "raw": json.dumps({"account": d["account"], "type": type_code, "amount": amount,
                               "funds_type": funds, "funds": funds_fields, "bank_ref": bank_ref,
                               "customer_ref": cust_ref, "text": d["text"], "as_of": d["as_of"]},
                              ensure_ascii=False, sort_keys=True)})
    schema = {"file_line": pl.Int64, "amount": pl.String, "sign": pl.Int64, "currency": pl.String,
              "booked_at": pl.Datetime("us", "UTC"), "value_date": pl.Date, "as_of": pl.String,
              "value_text": pl.String,
              "bank_reference": pl.String, "merchant_reference": pl.String,
              "description": pl.String, "payment_method": pl.String, "raw": pl.String}
    lines = pl.DataFrame(rows, schema=schema)
    known = pl.col("currency").is_in(list(EXPONENTS))
    # BAI2 amounts are already minor units: "12345" USD is 123.45; read as an integer count.
    minor = minor_expr(pl.col("amount"), 0)
    frame = lines.select(
        quirks.line_id(sha256), pl.lit(source).alias("source"), pl.lit(sha256).alias("file_sha256"),
        "file_line", pl.lit(business_date).alias("business_date"), "booked_at", "value_date",
        pl.lit("transfer").alias("txn_type"),
        pl.when(known & exponent_expr(pl.col("currency")).is_not_null())
        .then(minor * pl.col("sign")).alias("amount_minor"),
        "currency", "bank_reference", "merchant_reference", "description", "raw")
    originals = lines.select("file_line", pl.col("amount").alias("amount_minor"),
                             pl.col("as_of").alias("booked_at"),
                             pl.col("value_text").alias("value_date"),
                             pl.col("payment_method").alias("txn_type"))
    return frame, originals


def _yymmdd(text: str) -> date | None:
    if not re.fullmatch(r"\d{6}", text or ""):
        return None
    try:
        return date(2000 + int(text[:2]), int(text[2:4]), int(text[4:6]))
    except ValueError:
        return None
