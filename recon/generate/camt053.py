"""ISO 20022 camt.053.001.08 bank-to-customer statement: one ``Stmt`` per account, each with
balanced OPBD/CLBD, a consistent ``TxsSummry`` and one ``Ntry`` per PSP payout credited."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from xml.sax.saxutils import escape

from recon.generate.fmt import money_text
from recon.generate.spec import ACCOUNT_OWNER, ACCOUNTS

NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"
_SEQ_EPOCH = date(2020, 1, 1)


@dataclass(frozen=True)
class Entry:
    ref: str               # NtryRef / AcctSvcrRef stem
    amount_minor: int      # signed: + credit, - debit
    end_to_end_id: str
    party: str             # the debtor of a credit (the creditor of a debit)
    remittance: str
    family: str            # BkTxCd family sub-code: DMCT domestic, XBCT cross-border


@dataclass(frozen=True)
class Statement:
    currency: str
    opening_minor: int
    entries: tuple[Entry, ...]

    @property
    def closing_minor(self) -> int:
        return self.opening_minor + sum(e.amount_minor for e in self.entries)


def _amt(minor: int, ccy: str) -> str:
    return f'<Amt Ccy="{ccy}">{money_text(abs(minor))}</Amt>'


def _ind(minor: int) -> str:
    return "CRDT" if minor >= 0 else "DBIT"


def _balance(code: str, minor: int, ccy: str, day: date) -> str:
    return (f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp>{_amt(minor, ccy)}"
            f"<CdtDbtInd>{_ind(minor)}</CdtDbtInd><Dt><Dt>{day}</Dt></Dt></Bal>")


def _entry(e: Entry, ccy: str, day: date) -> str:
    role = "Dbtr" if e.amount_minor >= 0 else "Cdtr"
    domain = "RCDT" if e.amount_minor >= 0 else "ICDT"
    return (
        f"<Ntry><NtryRef>{escape(e.ref)}</NtryRef>{_amt(e.amount_minor, ccy)}"
        f"<CdtDbtInd>{_ind(e.amount_minor)}</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>"
        f"<BookgDt><Dt>{day}</Dt></BookgDt><ValDt><Dt>{day}</Dt></ValDt>"
        f"<AcctSvcrRef>{escape(e.ref)}-SVC</AcctSvcrRef>"
        f"<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>{domain}</Cd><SubFmlyCd>{e.family}</SubFmlyCd></Fmly>"
        f"</Domn></BkTxCd>"
        f"<NtryDtls><TxDtls><Refs><EndToEndId>{escape(e.end_to_end_id)}</EndToEndId></Refs>"
        f"<RltdPties><{role}><Pty><Nm>{escape(e.party)}</Nm></Pty></{role}></RltdPties>"
        f"<RmtInf><Ustrd>{escape(e.remittance)}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>"
    )


def render(day: date, statements: list[Statement]) -> str:
    """The statement document of ``day`` (the booking day of every entry)."""
    created = f"{day + timedelta(days=1)}T00:30:00+08:00"
    seq = (day - _SEQ_EPOCH).days
    parts = ['<?xml version="1.0" encoding="UTF-8"?>', f'<Document xmlns="{NAMESPACE}">',
             "<BkToCstmrStmt>",
             f"<GrpHdr><MsgId>CAMT053-{day:%Y%m%d}</MsgId><CreDtTm>{created}</CreDtTm></GrpHdr>"]
    for s in statements:
        ccy, entries = s.currency, s.entries
        net = s.closing_minor - s.opening_minor
        parts.append(
            f"<Stmt><Id>STMT-{day:%Y%m%d}-{ccy}</Id><ElctrncSeqNb>{seq}</ElctrncSeqNb>"
            f"<CreDtTm>{created}</CreDtTm>"
            f"<FrToDt><FrDtTm>{day}T00:00:00+08:00</FrDtTm><ToDtTm>{day}T23:59:59+08:00</ToDtTm></FrToDt>"
            f"<Acct><Id><IBAN>{ACCOUNTS[ccy]}</IBAN></Id><Ccy>{ccy}</Ccy>"
            f"<Ownr><Nm>{escape(ACCOUNT_OWNER)}</Nm></Ownr></Acct>"
            + _balance("OPBD", s.opening_minor, ccy, day)
            + _balance("CLBD", s.closing_minor, ccy, day)
            + f"<TxsSummry><TtlNtries><NbOfNtries>{len(entries)}</NbOfNtries>"
            f"<Sum>{money_text(sum(abs(e.amount_minor) for e in entries))}</Sum>"
            f"<TtlNetNtry><Amt>{money_text(abs(net))}</Amt><CdtDbtInd>{_ind(net)}</CdtDbtInd>"
            f"</TtlNetNtry></TtlNtries></TxsSummry>"
            + "".join(_entry(e, ccy, day) for e in entries)
            + "</Stmt>")
    parts += ["</BkToCstmrStmt>", "</Document>", ""]
    return "\n".join(parts)


def write(path: Path, day: date, statements: list[Statement]) -> int:
    path.write_bytes(render(day, statements).encode("utf-8"))
    return sum(len(s.entries) for s in statements)
