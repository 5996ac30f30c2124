"""ISO 20022 camt.053.001.08 bank-to-customer statement: one ``Stmt`` per account, each with
balanced OPBD/CLBD, a consistent ``TxsSummry`` and the PSP payouts credited, filled as banks fill
them: one ``Ntry`` per credit, or, where an account receives several credits in a day, one batch
``Ntry`` (``NtryDtls/Btch``) booking their sum with a ``TxDtls`` per credit (its own AcctSvcrRef,
EndToEndId, amount, party and remittance text); cross-border credits (XBCT) carry only ``ValDt``,
no ``BookgDt``, as several banks send them. Any published version from .001.02 to .001.13
(``version``): the schemas differ where it shows here only in the summary's net (``TtlNetNtryAmt``
before .03) and the related parties (``Pty`` from .08)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from xml.sax.saxutils import escape

from recon.generate.fmt import money_text
from recon.generate.spec import ACCOUNT_OWNER, ACCOUNTS

VERSIONS = tuple(range(2, 14))  # camt.053.001.02 … camt.053.001.13
DEFAULT_VERSION = 8


def namespace(version: int = DEFAULT_VERSION) -> str:
    if version not in VERSIONS:
        raise ValueError(f"camt.053 version {version}: expected one of .001.02 to .001.13")
    return f"urn:iso:std:iso:20022:tech:xsd:camt.053.001.{version:02d}"


NAMESPACE = namespace()
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


def _head(ref: str, minor: int, family: str, ccy: str, day: date) -> str:
    """An entry's amount, status, dates, servicer reference and bank transaction code."""
    domain = "RCDT" if minor >= 0 else "ICDT"
    booked = "" if family == "XBCT" else f"<BookgDt><Dt>{day}</Dt></BookgDt>"
    return (f"<NtryRef>{escape(ref)}</NtryRef>{_amt(minor, ccy)}"
            f"<CdtDbtInd>{_ind(minor)}</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>"
            f"{booked}<ValDt><Dt>{day}</Dt></ValDt><AcctSvcrRef>{escape(ref)}-SVC</AcctSvcrRef>"
            f"<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>{domain}</Cd><SubFmlyCd>{family}</SubFmlyCd></Fmly>"
            f"</Domn></BkTxCd>")


def _details(e: Entry, ccy: str, batch: bool, version: int) -> str:
    role = "Dbtr" if e.amount_minor >= 0 else "Cdtr"
    name = f"<Nm>{escape(e.party)}</Nm>"
    party = f"<Pty>{name}</Pty>" if version >= 8 else name
    own = (f"<AcctSvcrRef>{escape(e.ref)}-SVC</AcctSvcrRef>" if batch else "")
    amount = f"{_amt(e.amount_minor, ccy)}<CdtDbtInd>{_ind(e.amount_minor)}</CdtDbtInd>" if batch else ""
    return (f"<TxDtls><Refs>{own}<EndToEndId>{escape(e.end_to_end_id)}</EndToEndId></Refs>{amount}"
            f"<RltdPties><{role}>{party}</{role}></RltdPties>"
            f"<RmtInf><Ustrd>{escape(e.remittance)}</Ustrd></RmtInf></TxDtls>")


def _entry(e: Entry, ccy: str, day: date, version: int) -> str:
    return f"<Ntry>{_head(e.ref, e.amount_minor, e.family, ccy, day)}" \
           f"<NtryDtls>{_details(e, ccy, False, version)}</NtryDtls></Ntry>"


def _batch(entries: tuple[Entry, ...], ccy: str, day: date, version: int) -> str:
    """Several credits of one day booked as one entry: their sum, a TxDtls per credit."""
    total = sum(e.amount_minor for e in entries)
    ref = f"{entries[0].ref}-{len(entries)}"
    return (f"<Ntry>{_head(ref, total, entries[0].family, ccy, day)}<NtryDtls>"
            f"<Btch><NbOfTxs>{len(entries)}</NbOfTxs><TtlAmt Ccy=\"{ccy}\">{money_text(abs(total))}</TtlAmt>"
            f"<CdtDbtInd>{_ind(total)}</CdtDbtInd></Btch>"
            + "".join(_details(e, ccy, True, version) for e in entries) + "</NtryDtls></Ntry>")


def _entries(entries: tuple[Entry, ...], ccy: str, day: date, version: int) -> tuple[int, int, str]:
    """(number of Ntry, Σ |Ntry amount|, their XML): one Ntry per credit, or one batch for several."""
    if len(entries) > 1:
        return 1, abs(sum(e.amount_minor for e in entries)), _batch(entries, ccy, day, version)
    return (len(entries), sum(abs(e.amount_minor) for e in entries),
            "".join(_entry(e, ccy, day, version) for e in entries))


def _net(net: int, version: int) -> str:
    amount, ind = money_text(abs(net)), _ind(net)
    if version < 3:  # TotalTransactions2: the net's amount and sign directly in TtlNtries
        return f"<TtlNetNtryAmt>{amount}</TtlNetNtryAmt><CdtDbtInd>{ind}</CdtDbtInd>"
    return f"<TtlNetNtry><Amt>{amount}</Amt><CdtDbtInd>{ind}</CdtDbtInd></TtlNetNtry>"


def render(day: date, statements: list[Statement], version: int = DEFAULT_VERSION) -> str:
    """The statement document of ``day`` (the booking day of every entry) in camt.053.001.``version``."""
    created = f"{day + timedelta(days=1)}T00:30:00+08:00"
    seq = (day - _SEQ_EPOCH).days
    parts = ['<?xml version="1.0" encoding="UTF-8"?>', f'<Document xmlns="{namespace(version)}">',
             "<BkToCstmrStmt>",
             f"<GrpHdr><MsgId>CAMT053-{day:%Y%m%d}</MsgId><CreDtTm>{created}</CreDtTm></GrpHdr>"]
    for s in statements:
        ccy, entries = s.currency, s.entries
        net = s.closing_minor - s.opening_minor
        count, gross, xml = _entries(entries, ccy, day, version)
        parts.append(
            f"<Stmt><Id>STMT-{day:%Y%m%d}-{ccy}</Id><ElctrncSeqNb>{seq}</ElctrncSeqNb>"
            f"<CreDtTm>{created}</CreDtTm>"
            f"<FrToDt><FrDtTm>{day}T00:00:00+08:00</FrDtTm><ToDtTm>{day}T23:59:59+08:00</ToDtTm></FrToDt>"
            f"<Acct><Id><IBAN>{ACCOUNTS[ccy]}</IBAN></Id><Ccy>{ccy}</Ccy>"
            f"<Ownr><Nm>{escape(ACCOUNT_OWNER)}</Nm></Ownr></Acct>"
            + _balance("OPBD", s.opening_minor, ccy, day)
            + _balance("CLBD", s.closing_minor, ccy, day)
            + f"<TxsSummry><TtlNtries><NbOfNtries>{count}</NbOfNtries>"
            f"<Sum>{money_text(gross)}</Sum>"
            + _net(net, version) + "</TtlNtries></TxsSummry>"
            + xml + "</Stmt>")
    parts += ["</BkToCstmrStmt>", "</Document>", ""]
    return "\n".join(parts)


def write(path: Path, day: date, statements: list[Statement], version: int = DEFAULT_VERSION) -> int:
    path.write_bytes(render(day, statements, version).encode("utf-8"))
    return sum(len(s.entries) for s in statements)
