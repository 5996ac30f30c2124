"""camt entries (``Ntry``) → canonical lines: one per ``TxDtls`` of a batch entry.

A batch entry (``NtryDtls/Btch``, or simply several ``TxDtls``) books one amount on the account
for several transactions; each ``TxDtls`` carries its own references (``Refs``: EndToEndId,
AcctSvcrRef, InstrId, TxId, MsgId, PmtInfId, MndtId, UETR), parties, remittance information and
amount (``TxDtls/Amt`` from .001.03 on, else ``AmtDtls/TxAmt/Amt``), with its own ``CdtDbtInd``
where the version has one (else the entry's). Such an entry becomes one line per ``TxDtls``, and
the entry's amount must equal their signed sum in its currency (an integrity check naming the
entry). An entry with one or no ``TxDtls`` stays one line; so does a batch whose ``TxDtls`` carry
no amount at all (nothing to split by): its line keeps every ``TxDtls``' EndToEndId in ``raw``.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation, localcontext
from xml.etree.ElementTree import Element

from schemas.validation import ControlCheck

REFS = ("EndToEndId", "AcctSvcrRef", "InstrId", "TxId", "MsgId", "PmtInfId", "MndtId", "UETR",
        "ClrSysRef", "AcctOwnrTxId", "AcctSvcrTxId")


def details(tx: Element, kids, value, party) -> dict:
    """The fields of one ``TxDtls`` (None where absent), read with iso20022's helpers: ``kids``
    (children by local name), ``value`` (an element's stripped text), ``party``."""
    k = kids(tx)
    refs, amts, remittance = kids(k.get("Refs")), kids(k.get("AmtDtls")), k.get("RmtInf")
    amt = k.get("Amt")
    if amt is None:
        amt = kids(amts.get("TxAmt")).get("Amt")
    instd = kids(amts.get("InstdAmt"))
    ustrd = [] if remittance is None else [
        c.text.strip() for c in remittance if c.tag.rpartition("}")[2] == "Ustrd"
        and c.text and c.text.strip()]
    parties = k.get("RltdPties")
    return {
        **{ref: value(refs.get(ref)) for ref in REFS},
        "TxAmt": None if amt is None else (amt.text or "").strip(),
        "TxAmt@Ccy": None if amt is None else amt.get("Ccy"),
        "TxCdtDbtInd": value(k.get("CdtDbtInd")),
        "Dbtr": party(parties, "Dbtr"), "Cdtr": party(parties, "Cdtr"),
        "Ustrd": " ".join(ustrd) or None,
        "CdtrRef": value(kids(kids(kids(remittance).get("Strd")).get("CdtrRefInf")).get("Ref")),
        "AddtlTxInf": value(k.get("AddtlTxInf")),
        "InstdAmt": None if instd.get("Amt") is None else (instd["Amt"].text or "").strip(),
        "InstdAmt@Ccy": None if instd.get("Amt") is None else instd["Amt"].get("Ccy"),
        "XchgRate": value(kids(instd.get("CcyXchg")).get("XchgRate"))
                    or value(kids(kids(amts.get("TxAmt")).get("CcyXchg")).get("XchgRate")),
    }


def is_split(entry: dict) -> bool:
    """Several TxDtls, at least one with an amount: one line per TxDtls."""
    txs = entry["details"]
    return len(txs) > 1 and any(t["TxAmt"] is not None for t in txs)


def lines(entry: dict) -> list[tuple[int, dict]]:
    """(file_line, fields) of the canonical lines an entry becomes."""
    f = entry["fields"]
    txs = entry["details"]
    if not is_split(entry):
        first = txs[0] if txs else {}
        merged = {**f, **{k: v for k, v in first.items() if v is not None
                          and k not in ("TxAmt", "TxAmt@Ccy")}}
        merged["AcctSvcrRef"] = f["AcctSvcrRef"] or first.get("AcctSvcrRef")
        if len(txs) > 1:
            merged["EndToEndIds"] = [t["EndToEndId"] for t in txs]
        return [(entry["file_line"], merged)]
    out = []
    for index, (line, tx) in enumerate(zip(entry["detail_lines"], txs, strict=True), start=1):
        merged = {**f, **{k: v for k, v in tx.items() if v is not None},
                  "TxDtls#": index, "NtryAmt": f["Amt"],
                  "Amt": tx["TxAmt"], "Amt@Ccy": tx["TxAmt@Ccy"],
                  "CdtDbtInd": tx["TxCdtDbtInd"] or f["CdtDbtInd"],
                  "AcctSvcrRef": tx["AcctSvcrRef"] or f["AcctSvcrRef"],
                  "NtryAcctSvcrRef": f["AcctSvcrRef"]}
        out.append((line, merged))
    return out


def _signed(amount: str | None, ind: str | None) -> Decimal | None:
    try:
        d = Decimal((amount or "").strip())
    except InvalidOperation:
        return None
    return None if not d.is_finite() else -d if ind == "DBIT" else d


def split_checks(kind: str, record_id: str | None, entries: list[dict]) -> list[ControlCheck]:
    """Per batch entry split into lines: the entry's signed amount = Σ signed TxDtls amounts."""
    checks = []
    for e in entries:
        if not is_split(e):
            continue
        f = e["fields"]
        where = f"{kind} {record_id}: Ntry at line {e['file_line']}" + (
            f" (NtryRef {f['NtryRef']})" if f["NtryRef"] else "") + (
            f" (AcctSvcrRef {f['AcctSvcrRef']})" if f["AcctSvcrRef"] and not f["NtryRef"] else "")
        want = _signed(f["Amt"], f["CdtDbtInd"])
        parts = [_signed(t["TxAmt"], t["TxCdtDbtInd"] or f["CdtDbtInd"]) for t in e["details"]]
        ccys = {t["TxAmt@Ccy"] for t in e["details"]}
        missing = [i for i, t in enumerate(e["details"], start=1) if t["TxAmt"] is None]
        with localcontext() as ctx:
            ctx.prec = 60  # exact for any amount a file can carry
            total = None if None in parts else sum(parts, Decimal(0))
        if missing:
            found = f"no amount on TxDtls {', '.join(map(str, missing))} of {len(parts)}"
        elif total is None:
            found = "an unreadable TxDtls amount (" + ", ".join(
                repr(t["TxAmt"]) for t in e["details"]) + ")"
        else:
            found = f"{total} {'/'.join(sorted(filter(None, ccys)))} from {len(parts)} TxDtls"
        checks.append(ControlCheck(
            f"{where} Amt = Σ TxDtls amounts", f"{want} {f['Amt@Ccy'] or ''}".strip(), found,
            not missing and total is not None and want is not None and total == want
            and ccys == {f["Amt@Ccy"]}))
    return checks
