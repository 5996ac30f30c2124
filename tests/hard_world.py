"""The hard world the generator's tests read (tests/test_generate_hard*.py): its size, and readers
of the files it writes (CSV, WeChat Pay's quoted export, camt.053 entries)."""
from __future__ import annotations

import csv
import io
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import defusedxml.ElementTree as ET

START, DAYS, SEED, SCALE = date(2026, 11, 18), 5, 5, 150
K = 1  # 1 + scale // 1000
NS = {"c": "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"}
FORMATS = {"wechatpay": "wechatpay_trade", "stripe": "stripe_itemized", "bank": "camt053"}
PREFIXES = ("REF:", "ORDER-")



def rows(path: Path) -> list[dict]:
    return list(csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8"))))


def wechat(path: Path) -> list[dict]:
    lines = path.read_bytes().decode("utf-8-sig").split("\r\n")
    header = lines[0].split(",")
    return [dict(zip(header, (f[1:] for f in line.split(",")))) for line in lines[1:-3]]


def norm(ref: str) -> str:
    """The lead's normalised reference: case, whitespace, the configured prefixes, non-alphanumerics,
    leading zeros."""
    r = ref.strip().upper()
    for p in PREFIXES:
        if r.startswith(p):
            r = r[len(p):].strip()
    return re.sub(r"[^0-9A-Z]", "", r).lstrip("0")


def truth(g) -> list[dict]:
    return rows(g.paths["truth"])


def psp_payments(g) -> dict[str, list[dict]]:
    """Payment lines per source: ref (as in the file), amount (settled), extra fields."""
    out = {"wechatpay": [], "stripe": []}
    for r in wechat(g.paths["wechatpay"]):
        if r["交易状态"] == "SUCCESS":
            out["wechatpay"].append({"ref": r["商户订单号"], "amount": Decimal(r["应结订单金额"]),
                                     "party": r["用户标识"], "id": r["微信订单号"], "time": r["交易时间"]})
    for r in rows(g.paths["stripe"]):
        if r["reporting_category"] == "charge":
            out["stripe"].append({"ref": r["payment_metadata[order_id]"], "amount": Decimal(r["gross"]),
                                  "party": r["customer_email"], "id": r["source_id"], "time": r["created"],
                                  "cfa": Decimal(r["customer_facing_amount"]),
                                  "ccy": r["customer_facing_currency"]})
    return out


def ledger(g) -> list[dict]:
    return rows(g.paths["ledger"])


def bank_entries(path: Path) -> list[tuple[str, str, Decimal, str]]:
    doc = ET.parse(path).getroot()
    out = []
    for stmt in doc.iterfind("c:BkToCstmrStmt/c:Stmt", NS):
        ccy = stmt.findtext("c:Acct/c:Ccy", namespaces=NS)
        for e in stmt.iterfind("c:Ntry", NS):
            # a batch entry: one credit per TxDtls, with its own amount; only ValDt on some entries
            day = e.findtext("c:BookgDt/c:Dt", namespaces=NS) or e.findtext("c:ValDt/c:Dt", namespaces=NS)
            txs = list(e.iterfind("c:NtryDtls/c:TxDtls", NS))
            for tx in txs:
                amount = tx.findtext("c:Amt", namespaces=NS) if len(txs) > 1 else e.findtext("c:Amt", namespaces=NS)
                out.append((ccy, tx.findtext("c:Refs/c:EndToEndId", namespaces=NS), Decimal(amount), day))
    return out
