"""SWIFT MT940/MT942 reading shared by both formats: tags, balances, ``:61:`` lines, ``:86:`` details.

Text comes from ``schemas.encoding`` (envelope bytes, SUB and CR already gone). A line starting
with a known tag (``:61:``) starts a field; any other line continues the field before it, so a
``:26:`` inside a wrapped ``:86:`` stays text. Lines before the first ``:20:`` (bank preambles such
as ``940 00``), the SWIFT blocks ``{1:…}{2:…}{4:`` and the terminators ``-}``/``-`` are skipped;
a ``-`` line inside a wrapped ``:86:`` that more text of the same message follows is text.

Amounts are kept as their exact text (decimal comma → point) and converted to minor units by
``recon.money``; control totals are compared in integer ten-thousandths, never in floats.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

import polars as pl

from recon.errors import ParseError
from recon.money import exponent_expr, minor_expr
from schemas import quirks

TAGS = {"13", "13D", "20", "21", "25", "25P", "28", "28C", "34F", "60F", "60M", "61", "62F", "62M",
        "64", "65", "86", "90C", "90D", "NS"}
_MULTILINE = {"61", "86", "NS", "25"}
_TAG = re.compile(r"^:(\d\d[A-Z]?|NS):(.*)$")
_SPLIT_TAG = re.compile(r"\n:\n(\d\d[A-Z]?:)")  # Sparkassen: ":" alone, then "86:…" on the next line
_BLOCKS = re.compile(r"^\{1:[^}]*\}(\{2:[^}]*\})?(\{3:(\{[^}]*\})*\})?\{4:\s*$")
_BALANCE = re.compile(r"^(?P<mark>[DC])(?P<date>\d{6})(?P<ccy>[A-Z]{3})(?P<amount>[\d,]+)$")
_LINE = re.compile(
    r"^(?P<value_date>\d{6})(?P<entry_date>\d{4}| {4})?(?P<mark>R?[DC])(?P<funds>[A-Z])?\s?"
    r"(?P<amount>\d[\d,]*)(?P<type>[A-Z][A-Z0-9 ]{3})?(?P<customer_ref>(?:(?!//)[^\n])*)"
    r"(?://(?P<bank_ref>[^\n]*))?(?:\n(?P<details>.*))?$", re.S)
_SIGN = {"C": 1, "D": -1, "RC": -1, "RD": 1}  # a reversed credit takes money out
_SEPA = re.compile(r"(EREF|KREF|MREF|CRED|DEBT|COAM|OAMT|SVWZ|ABWA|ABWE|IBAN|BIC)\+")
_DUTCH_KEYS = ("TRTP|IBAN|BIC|NAME|REMI|EREF|MARF|CSID|ORDP|BENM|ID|ADDR|CDTRREFTP|CDTRREF|CD|ISSR|"
               "PURP|RTRN|ULTC|ULTD|SVCL|BUSP|CNTP|ACCW|FX|EXCH|CHGS|PREF|ORIG")
_DUTCH = re.compile(rf"/({_DUTCH_KEYS})/")


@dataclass(frozen=True)
class Tag:
    tag: str
    value: str
    line: int


@dataclass
class Statement:
    tags: list[Tag]
    line: int
    fields: dict[str, str] = field(default_factory=dict)  # tag → value of single tags
    entries: list[dict] = field(default_factory=list)  # one per :61:, with its :86:

    def value(self, *tags: str) -> str | None:
        return next((self.fields[t] for t in tags if t in self.fields), None)


def read_statements(text: str, file: str) -> list[Statement]:
    """Every statement (from one ``:20:`` to the next) with its ``:61:``/``:86:`` pairs."""
    tags = split_tags(text, file)
    statements: list[Statement] = []
    for tag in tags:
        if tag.tag == "20":
            statements.append(Statement(tags=[], line=tag.line))
        if not statements:
            raise ParseError(file, tag.line, f"expected the statement to start with :20:, "
                                             f"found :{tag.tag}:")
        statements[-1].tags.append(tag)
    if not statements:
        raise ParseError(file, None, "expected at least one statement starting with :20:")
    for s in statements:
        previous = None
        for tag in s.tags:
            if tag.tag == "61":
                s.entries.append({"line": tag.line, "61": tag.value, "86": None})
            elif tag.tag == "86" and previous == "61":
                e = s.entries[-1]  # Rabobank repeats :86: for each line of details
                e["86"] = tag.value if e["86"] is None else f"{e['86']}\n{tag.value}"
                continue
            elif tag.tag not in ("34F",):
                s.fields.setdefault(tag.tag, tag.value)
            else:
                s.fields[tag.tag] = "\n".join(filter(None, [s.fields.get(tag.tag), tag.value]))
            previous = tag.tag
    return statements


def split_tags(text: str, file: str) -> list[Tag]:
    """Known tags with their continuation lines; a tag after the ``-`` that ends a message must
    be the ``:20:`` of the next one."""
    text = _SPLIT_TAG.sub(r"\n:\1", text)
    tags: list[Tag] = []
    started = ended = False
    lines = text.split("\n")
    for number, line in enumerate(lines, start=1):
        m = _TAG.match(line)
        if m and m.group(1) in TAGS:
            if ended and m.group(1) != "20":
                raise ParseError(file, number, f"expected :20: to start the next statement after "
                                               f"the end of a message (-), found :{m.group(1)}:")
            started, ended = started or m.group(1) == "20", False
            tags.append(Tag(m.group(1), m.group(2), number))
        elif not started or not line.strip() or _BLOCKS.match(line.strip()):
            continue
        elif line.startswith("-") and (ended or not _is_content(line, lines, number, tags)):
            ended = True  # end of message: "-", "-}" or "-}{5:{CHK:…}}"
        elif tags and tags[-1].tag in _MULTILINE and not ended:
            last = tags[-1]
            tags[-1] = Tag(last.tag, f"{last.value}\n{line}", last.line)
        # any other line (a bank's header between messages, text after a balance) is not data
    return tags


def _is_content(line: str, lines: list[str], number: int, tags: list[Tag]) -> bool:
    """Whether a line starting with ``-`` is text of a wrapped ``:86:`` (or other multi-line
    field) rather than the end of the message. ``-}`` always ends it; any other line that starts
    with ``-`` but is not exactly ``-`` is text. ``-`` alone ends the message when what follows is
    the end of the file, the next message (``{1:`` block or ``:20:``, past any bank header lines)
    or directly a tag (a stray tag after the end is then reported); followed by more text and
    then a tag of the same message (``:61:``, ``:62F:``), it is text."""
    stripped = line.strip()
    if stripped.startswith("-}") or not tags or tags[-1].tag not in _MULTILINE:
        return False
    if stripped != "-":
        return True
    following = (n.strip() for n in lines[number:])
    first = next((n for n in following if n), None)
    if first is None or first.startswith("{") or _TAG.match(first):
        return False
    after = next((n for n in following if n and (n.startswith("{") or _TAG.match(n))), None)
    return after is not None and not after.startswith("{") and not after.startswith(":20:")


# --- values ------------------------------------------------------------------------------------

def units(amount: str | None) -> int | None:
    """SWIFT amount text (``1234,5``) → integer ten-thousandths; None if it is not one."""
    if not amount or amount.count(",") > 1 or not re.fullmatch(r"\d[\d,]*", amount):
        return None
    try:
        d = Decimal(amount.replace(",", "."))
    except InvalidOperation:
        return None
    scaled = d.scaleb(quirks.CHECK_EXPONENT)
    return int(scaled) if scaled == scaled.to_integral_value() else None


def decimal_text(amount: str) -> str:
    """``1234,5`` → ``1234.5``; ``16,`` → ``16``."""
    return amount.replace(",", ".").rstrip(".")


def balance(s: Statement, tags: tuple[str, ...], file: str) -> dict | None:
    tag = next((t for t in s.tags if t.tag in tags), None)
    if tag is None:
        return None
    m = _BALANCE.match(tag.value.strip())
    if not m:
        raise ParseError(file, tag.line, f"expected :{tag.tag}: as D/C mark, YYMMDD, currency and "
                                         f"amount (C240312EUR1234,56), found {tag.value!r}")
    u = units(m["amount"])
    if u is None:
        raise ParseError(file, tag.line, f"expected an amount with a decimal comma in "
                                         f":{tag.tag}:, found {m['amount']!r}")
    return {"tag": tag.tag, "mark": m["mark"], "date": m["date"], "ccy": m["ccy"],
            "amount": m["amount"], "units": u if m["mark"] == "C" else -u, "line": tag.line}


def yymmdd(text: str | None) -> date | None:
    if not text or not re.fullmatch(r"\d{6}", text):
        return None
    year = int(text[:2])
    try:
        return date(2000 + year if year < 80 else 1900 + year, int(text[2:4]), int(text[4:6]))
    except ValueError:
        return None


def entry_date(value_date: str, mmdd: str | None) -> date | None:
    """The booking date (MMDD) in the year nearest the value date (a December booking of a
    January value date belongs to the year before)."""
    if not mmdd or not mmdd.strip() or not re.fullmatch(r"\d{6}", value_date):
        return None
    year = 2000 + int(value_date[:2]) if int(value_date[:2]) < 80 else 1900 + int(value_date[:2])
    month, day = int(mmdd[:2]), int(mmdd[2:])
    vmonth = int(value_date[2:4])
    year += -1 if month - vmonth > 6 else 1 if vmonth - month > 6 else 0
    try:
        return date(year, month, day)
    except ValueError:
        return None


def statement_line(value: str, file: str, line: int) -> dict:
    m = _LINE.match(value)
    if not m:
        raise ParseError(file, line, f"expected :61: as value date YYMMDD, [entry date MMDD], "
                                     f"D/C/RD/RC, [funds code], amount, type and reference, "
                                     f"found {value!r}")
    parts = m.groupdict()
    parts["customer_ref"] = (parts["customer_ref"] or "").strip() or None
    parts["bank_ref"] = (parts["bank_ref"] or "").strip() or None
    parts["details"] = (parts["details"] or "").strip() or None
    return parts


def details(text: str | None) -> dict[str, str]:
    """Structured ``:86:``: German ``?nn`` sub-fields with SEPA keywords, or Dutch ``/KEY/``."""
    if not text:
        return {}
    flat = text.replace("\n", "")
    if re.match(r"^\d{3}\?\d\d", flat):
        return _german(flat)
    if flat.startswith("/") and _DUTCH.match(flat):
        return _dutch(flat)
    return {}


def _german(flat: str) -> dict[str, str]:
    out = {"GVC": flat[:3]}
    for m in re.finditer(r"\?(\d\d)((?:(?!\?\d\d).)*)", flat):
        out[m[1]] = out.get(m[1], "") + m[2]
    purpose = "".join(out.get(k, "") for k in [f"{n}" for n in range(20, 30)] + ["60", "61", "62", "63"])
    out["purpose"] = purpose
    pieces = _SEPA.split(purpose)
    if pieces[0].strip():
        out["text"] = pieces[0].strip()
    for key, val in zip(pieces[1::2], pieces[2::2]):
        out.setdefault(key, val.strip())
    name = " ".join(filter(None, [out.get("32", "").strip(), out.get("33", "").strip()]))
    if name:
        out["name"] = name
    return out


def _dutch(flat: str) -> dict[str, str]:
    pieces = _DUTCH.split(flat)
    out: dict[str, str] = {}
    for key, val in zip(pieces[1::2], pieces[2::2]):
        out.setdefault(key, val.strip())
    if "NAME" in out:
        out["name"] = out["NAME"]
    return out


# --- canonical frame ---------------------------------------------------------------------------

def to_frame(statements: list[Statement], currency: dict[int, str | None], *, sha256: str,
             source: str, business_date: date, timezone: str, file: str,
             ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Canonical lines (before validation) and original texts; ``currency`` by statement index."""
    tz = ZoneInfo(timezone)
    rows = []
    for index, s in enumerate(statements):
        for e in s.entries:
            p = e["parsed"]
            info = details(e["86"])
            booked = entry_date(p["value_date"], p["entry_date"]) or yymmdd(p["value_date"])
            eref = info.get("EREF")
            raw = {":20:": s.value("20"), ":25:": s.value("25"), ":28C:": s.value("28C", "28"),
                   ":61:": e["61"], ":86:": e["86"], "86": info or None,
                   "type": p["type"], "funds_code": p["funds"], "mark": p["mark"]}
            rows.append({
                "file_line": e["line"], "amount": decimal_text(p["amount"]),
                "amount_text": p["amount"], "sign": _SIGN[p["mark"]], "ccy": currency[index],
                "booked_at": None if booked is None
                else datetime.combine(booked, time(), tz).astimezone(UTC),
                "value_date": yymmdd(p["value_date"]), "value_text": p["value_date"],
                "end_to_end_id": None if eref in (None, "", "NOTPROVIDED") else eref,
                "merchant_reference": info.get("KREF") or (
                    None if (p["customer_ref"] or "NONREF") == "NONREF" else p["customer_ref"]),
                "bank_reference": p["bank_ref"],
                "counterparty": info.get("name") or None,
                "description": info.get("SVWZ") or info.get("REMI") or info.get("text")
                or info.get("purpose") or (e["86"] or "").replace("\n", " ").strip() or None,
                "raw": json.dumps(raw, ensure_ascii=False, sort_keys=True),
            })
    schema = {"file_line": pl.Int64, "amount": pl.String, "amount_text": pl.String,
              "sign": pl.Int64, "ccy": pl.String, "booked_at": pl.Datetime("us", "UTC"),
              "value_date": pl.Date, "value_text": pl.String, "end_to_end_id": pl.String,
              "merchant_reference": pl.String, "bank_reference": pl.String,
              "counterparty": pl.String, "description": pl.String, "raw": pl.String}
    lines = pl.DataFrame(rows, schema=schema)
    frame = lines.select(
        quirks.line_id(sha256), pl.lit(source).alias("source"), pl.lit(sha256).alias("file_sha256"),
        "file_line", pl.lit(business_date).alias("business_date"), "booked_at", "value_date",
        pl.lit("transfer").alias("txn_type"),
        (minor_expr(pl.col("amount"), exponent_expr(pl.col("ccy"))) * pl.col("sign"))
        .alias("amount_minor"),
        pl.col("ccy").alias("currency"), "end_to_end_id", "merchant_reference", "bank_reference",
        "counterparty", "description", pl.lit("BOOK").alias("status"), "raw")
    originals = lines.select("file_line", pl.col("amount_text").alias("amount_minor"),
                             pl.col("value_text").alias("value_date"),
                             pl.col("value_text").alias("booked_at"), pl.col("ccy").alias("currency"))
    return frame, originals


def read_entries(statements: list[Statement], file: str) -> None:
    for s in statements:
        for e in s.entries:
            e["parsed"] = statement_line(e["61"], file, e["line"])


def signed_units(e: dict) -> int | None:
    u = units(e["parsed"]["amount"])
    return None if u is None else u * _SIGN[e["parsed"]["mark"]]


def show(u: int | None, ccy: str | None = None) -> str:
    return f"{quirks.show_units(u)} {ccy or ''}".strip()
