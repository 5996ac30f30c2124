"""Malformed files built in code from good ones (never committed as binary junk).

``corpus(good)`` takes the good files of a generated day (and the bank samples) and yields
``(format, mutation, name, bytes, rows_in)``: ``rows_in`` is how many statement rows the bad file
still holds (None where the mutation makes that meaningless: empty, wrong format, truncated,
spreadsheet), so that a test can check rows in = rows loaded + rows quarantined.
"""
from __future__ import annotations

import io
import re

import openpyxl

from tests import bank_samples

HUGE = "99999999999999999999.99"


def _csv_field(text: str, column: str, fn, row: int = 1) -> str:
    """Apply ``fn`` to one field of data row ``row`` (1 = the first under the header)."""
    lines = text.split("\n")
    header = [h.strip().lstrip("\ufeff") for h in lines[0].split(",")]
    i = header.index(column)
    fields = lines[row].split(",")
    tick = "`" if fields[i].startswith("`") else ""
    fields[i] = tick + fn(fields[i].lstrip("`"))
    lines[row] = ",".join(fields)
    return "\n".join(lines)


def _dup_row(text: str, row: int = 1) -> str:
    lines = text.split("\n")
    return "\n".join(lines[:row + 1] + [lines[row]] + lines[row + 1:])


def _xlsx() -> bytes:
    wb = openpyxl.Workbook()
    wb.active.append(["id", "amount"])
    wb.active.append(["A1", 1.5])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _date_to(value: str) -> str:
    return re.sub(r"\d{4}-\d{2}-\d{2}", "2026-02-30", value, count=1)


CSV_FORMATS = {  # format: (date column, amount column)
    "wechatpay_trade": ("交易时间", "应结订单金额"),
    "stripe_itemized": ("created_utc", "gross"),
    "ledger_csv": ("booked_at", "amount"),
}


def corpus(good: dict[str, bytes], good_rows: dict[str, int]):
    """``good``: format → good bytes; ``good_rows``: format → its rows."""
    xlsx = _xlsx()
    formats = list(good)
    for k, (fmt, data) in enumerate(good.items()):
        other = good[formats[(k + 1) % len(formats)]]
        text = data.decode("utf-8")
        n = good_rows[fmt]
        cases: dict[str, tuple[bytes, int | None]] = {
            "empty": (b"", None),
            "truncated": (data[: len(data) * 3 // 5], None),
            "wrong format": (other, None),
            "spreadsheet renamed .csv": (xlsx, None),
        }
        if fmt in CSV_FORMATS:
            date_col, amount_col = CSV_FORMATS[fmt]
            cases |= {
                "wrong encoding (UTF-16 without BOM)": (text.encode("utf-16-le"), None),
                "invalid bytes in a row": (_csv_field(text, date_col, lambda v: "\xff\xfe" + v)
                                           .encode("utf-8", "surrogateescape")
                                           .replace("\xff\xfe".encode(), b"\xff\xfe"), n),
                "impossible date": (_csv_field(text, date_col, _date_to).encode(), n),
                "amount too large": (_csv_field(text, amount_col, lambda v: HUGE).encode(), n),
                "too many decimals": (_csv_field(text, amount_col, lambda v: v + "1").encode(), n),
                "duplicate line": (_dup_row(text).encode(), n + 1),
            }
            if fmt == "wechatpay_trade":
                last = text.rstrip("\n").rsplit("\n", 1)
                total = last[1].split(",")
                total[1] = "`" + str(int(total[1].strip("`").split(".")[0]) + 1) + ".00"
                cases["bad totals"] = ((last[0] + "\n" + ",".join(total) + "\n").encode(), n)
        else:  # camt053
            cases |= {
                "wrong encoding (UTF-16 without BOM)": (text.encode("utf-16-le"), None),
                "impossible date": (re.sub(r"<BookgDt><Dt>[\d-]+", "<BookgDt><Dt>2026-02-30", text, 1).encode(), n),
                "amount too large": (re.sub(r"(<Ntry><NtryRef>[^<]*</NtryRef><Amt Ccy=\"\w+\">)[\d.]+",
                                            rf"\g<1>{HUGE}", text, 1).encode(), n),
                "too many decimals": (re.sub(r"(<Ntry><NtryRef>[^<]*</NtryRef><Amt Ccy=\"\w+\">[\d.]+)",
                                             r"\g<1>1", text, 1).encode(), n),
                "duplicate line": (re.sub(r"(<Ntry>.*?</Ntry>)", r"\1\1", text, 1, flags=re.S).encode(), n + 1),
                "bad totals": (re.sub(r"(<Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy=\"\w+\">\d+)",
                                      r"\g<1>9", text, 1).encode(), n),
            }
        for mutation, (bad, rows_in) in cases.items():
            yield fmt, mutation, bad, rows_in
    yield from _bank_samples(xlsx)


def _bank_samples(xlsx: bytes):
    mt, bai = bank_samples.MT940, bank_samples.BAI2
    first61 = re.search(r":61:[^\r\n]*\r\n:86:[^\r\n]*\r\n", mt).group()
    for fmt, good, rows, cases in (
        ("mt940", mt, 2, {
            "impossible date": (mt.replace(":61:2601021231D", ":61:2602301231D", 1), 2),
            "amount too large": (mt.replace("D250,50", "D99999999999999999999,50", 1), 2),
            "too many decimals": (mt.replace("D250,50", "D250,505", 1), 2),
            "bad totals": (mt.replace(":62F:C260102EUR1984,06", ":62F:C260102EUR1984,07"), 2),
            "duplicate line": (mt.replace(first61, first61 * 2, 1), 3),
            "invalid bytes": (mt.replace("Muster GmbH", "Muster \x81GmbH"), 2),
        }),
        ("bai2", bai, 2, {
            "impossible date": (bai.replace(",260102,2400,", ",260230,2400,", 1), 2),
            "amount too large": (bai.replace("16,165,12345,", "16,165,99999999999999999999,", 1), 2),
            "too many decimals": (bai.replace("16,165,12345,", "16,165,123.456,", 1), 2),
            "bad totals": (bai.replace("49,224690,5/", "49,224691,5/"), 2),
            "duplicate line": (bai.replace("16,475,0,0,BREF2,CREF2,/\n", "16,475,0,0,BREF2,CREF2,/\n" * 2), 3),
            "invalid bytes": (bai.replace("ACME CORP", "ACME \x81CORP"), 2),
        }),
    ):
        data = good.encode("latin-1")
        cases = {k: (v if isinstance(v, bytes) else v.encode("latin-1"), r) for k, (v, r) in cases.items()}
        cases |= {"empty": (b"", None), "truncated": (data[: len(data) * 3 // 5], None),
                  "wrong format": ((bai if fmt == "mt940" else mt).encode("latin-1"), None),
                  "spreadsheet renamed .csv": (xlsx, None)}
        for mutation, (bad, rows_in) in cases.items():
            yield fmt, mutation, bad, rows_in
