"""The ``real`` scenario's bank: camt.053.001.08 of day D (each file its own day), a CNY and a USD
account, booking the PSPs' settlements of D-1 and the day's bank-only movements.

As banks send them: the WeChat settlement credit names its payer 财付通支付科技有限公司 and
carries no id at all (EndToEndId NOTPROVIDED, a generic AddtlNtryInf); the Stripe credit carries
the payout id po_… only in free text (RmtInf/Ustrd on even days, AddtlNtryInf on odd ones);
bank charges are entries without details (BkTxCd ACMT/MDOP/CHRG, AddtlNtryInf only); outgoing
transfers and salaries carry the EndToEndId the company gave them in its payment order; an
incoming customer transfer carries the customer's invoice number in Ustrd and no id.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from xml.sax.saxutils import escape

from recon.generate.camt053 import _amt, _balance, _ind, _net, namespace
from recon.generate.fmt import money_text
from recon.generate.spec import ACCOUNT_OWNER, ACCOUNTS, rng

BANK = 13                      # RNG stream of the bank-only movements
TENPAY = "财付通支付科技有限公司"
STRIPE_PAYER = "STRIPE PAYMENTS UK LTD"
SUPPLIERS = ("上海包装材料有限公司", "深圳市顺达物流有限公司", "杭州云栖软件服务有限公司", "北京印刷厂")
CUSTOMERS = ("苏州嘉禾贸易有限公司", "广州天河百货有限公司", "成都蓉城电子商务有限公司")
STAFF = ("张伟", "王芳", "李娜", "刘洋", "陈静")


@dataclass(frozen=True)
class BankLine:
    ref: str                 # NtryRef and AcctSvcrRef
    amount_minor: int        # + credit, - debit
    currency: str
    kind: str                # payout_credit, bank_charge, transfer, salary
    code: tuple[str, str, str]  # BkTxCd domain, family, sub-family
    end_to_end_id: str | None = None
    party: str | None = None
    ustrd: str | None = None
    addtl: str | None = None
    ledger_ref: str | None = None   # the company's reference of its own booking (None: no ledger row)
    ledger_type: str | None = None  # bank_charge, transfer, salary
    sec: int = 36_000               # when the company books it on the day

    @property
    def key(self) -> str:
        """What recon reports a break of this line under (EndToEndId, else AcctSvcrRef)."""
        return self.end_to_end_id or self.ref


def payout_credit(day: date, n: int, currency: str, amount: int, stripe_payout: str | None) -> BankLine:
    ref = f"{day:%Y%m%d}{currency}{n:06d}"
    if stripe_payout is None:
        return BankLine(ref, amount, currency, "payout_credit", ("PMNT", "RCDT", "DMCT"), party=TENPAY,
                        addtl="微信支付结算款")
    text = f"{STRIPE_PAYER} PAYOUT {stripe_payout}"
    free = {"ustrd": text} if day.toordinal() % 2 == 0 else {"addtl": f"TRF FROM {text}"}
    return BankLine(ref, amount, currency, "payout_credit", ("PMNT", "RCDT", "XBCT"), party=STRIPE_PAYER, **free)


def bank_only(seed: int, day: date, first_n: dict[str, int]) -> list[BankLine]:
    """The day's movements the PSPs have nothing to do with (each also booked in the ledger)."""
    g = rng(seed, day, None, BANK)
    n = dict(first_n)

    def ref(ccy):
        n[ccy] += 1
        return f"{day:%Y%m%d}{ccy}{n[ccy]:06d}"

    out = [BankLine(ref("CNY"), -int(g.integers(200, 3_001)), "CNY", "bank_charge", ("ACMT", "MDOP", "CHRG"),
                    addtl="账户管理费", ledger_ref="", ledger_type="bank_charge", sec=int(g.integers(32_400, 64_800)))]
    if first_n["USD"] > 0:  # a Stripe credit today: the bank's incoming wire fee
        out.append(BankLine(ref("USD"), -1_500, "USD", "bank_charge", ("ACMT", "MDOP", "CHRG"),
                            addtl="INCOMING WIRE FEE", ledger_ref="", ledger_type="bank_charge",
                            sec=int(g.integers(32_400, 64_800))))
    supplier = SUPPLIERS[int(g.integers(0, len(SUPPLIERS)))]
    e2e = f"PAY{day:%Y%m%d}{int(g.integers(1, 1000)):03d}"
    out.append(BankLine(ref("CNY"), -int(g.integers(100_000, 5_000_001)), "CNY", "transfer",
                        ("PMNT", "ICDT", "DMCT"), end_to_end_id=e2e, party=supplier, ustrd=f"货款 {e2e}",
                        ledger_ref=e2e, ledger_type="transfer", sec=int(g.integers(32_400, 64_800))))
    if day.toordinal() % 2:
        invoice = f"RE-{day:%Y}-{int(g.integers(1, 10_000)):04d}"
        out.append(BankLine(ref("CNY"), int(g.integers(500_000, 20_000_001)), "CNY", "transfer",
                            ("PMNT", "RCDT", "DMCT"), party=CUSTOMERS[int(g.integers(0, len(CUSTOMERS)))],
                            ustrd=f"{invoice} 货款", ledger_ref=invoice, ledger_type="transfer",
                            sec=int(g.integers(32_400, 64_800))))
    if (day.toordinal() + seed) % 5 == 0:  # pay day: one day in five
        for k, name in enumerate(STAFF[:int(g.integers(3, len(STAFF) + 1))], 1):
            e2e = f"SAL{day:%Y%m%d}{k:02d}"
            out.append(BankLine(ref("CNY"), -int(g.integers(800_000, 3_000_001)), "CNY", "salary",
                                ("PMNT", "ICDT", "SALA"), end_to_end_id=e2e, party=name,
                                ustrd=f"工资 {day:%Y-%m}", ledger_ref=e2e, ledger_type="salary", sec=36_000))
    return out


def _entry(line: BankLine, day: date) -> str:
    ccy, minor = line.currency, line.amount_minor
    domain, family, sub = line.code
    head = (f"<NtryRef>{line.ref}</NtryRef>{_amt(minor, ccy)}<CdtDbtInd>{_ind(minor)}</CdtDbtInd>"
            f"<Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>{day}</Dt></BookgDt><ValDt><Dt>{day}</Dt></ValDt>"
            f"<AcctSvcrRef>{line.ref}</AcctSvcrRef><BkTxCd><Domn><Cd>{domain}</Cd><Fmly><Cd>{family}</Cd>"
            f"<SubFmlyCd>{sub}</SubFmlyCd></Fmly></Domn></BkTxCd>")
    details = ""
    if line.party is not None:
        role = "Dbtr" if minor >= 0 else "Cdtr"
        remit = f"<RmtInf><Ustrd>{escape(line.ustrd)}</Ustrd></RmtInf>" if line.ustrd else ""
        details = (f"<NtryDtls><TxDtls><Refs><EndToEndId>{escape(line.end_to_end_id or 'NOTPROVIDED')}"
                   f"</EndToEndId></Refs><RltdPties><{role}><Pty><Nm>{escape(line.party)}</Nm></Pty></{role}>"
                   f"</RltdPties>{remit}</TxDtls></NtryDtls>")
    addtl = f"<AddtlNtryInf>{escape(line.addtl)}</AddtlNtryInf>" if line.addtl else ""
    return f"<Ntry>{head}{details}{addtl}</Ntry>"


def write(path: Path, day: date, lines: list[BankLine], openings: dict[str, int]) -> int:
    """The camt.053.001.08 of ``day``: one Stmt per account, balances and summary consistent."""
    created = f"{day + timedelta(days=1)}T06:00:00+08:00"
    parts = ['<?xml version="1.0" encoding="UTF-8"?>', f'<Document xmlns="{namespace(8)}">', "<BkToCstmrStmt>",
             f"<GrpHdr><MsgId>STMT{day:%Y%m%d}</MsgId><CreDtTm>{created}</CreDtTm></GrpHdr>"]
    for ccy in ("CNY", "USD"):
        mine = [x for x in lines if x.currency == ccy]
        net = sum(x.amount_minor for x in mine)
        opening = openings[ccy]
        parts.append(
            f"<Stmt><Id>{day:%Y%m%d}-{ccy}</Id><ElctrncSeqNb>{day.toordinal() % 100_000}</ElctrncSeqNb>"
            f"<CreDtTm>{created}</CreDtTm>"
            f"<FrToDt><FrDtTm>{day}T00:00:00+08:00</FrDtTm><ToDtTm>{day}T23:59:59+08:00</ToDtTm></FrToDt>"
            f"<Acct><Id><IBAN>{ACCOUNTS[ccy]}</IBAN></Id><Ccy>{ccy}</Ccy><Ownr><Nm>{escape(ACCOUNT_OWNER)}</Nm>"
            f"</Ownr></Acct>" + _balance("OPBD", opening, ccy, day) + _balance("CLBD", opening + net, ccy, day)
            + f"<TxsSummry><TtlNtries><NbOfNtries>{len(mine)}</NbOfNtries>"
            f"<Sum>{money_text(sum(abs(x.amount_minor) for x in mine))}</Sum>" + _net(net, 8)
            + "</TtlNtries></TxsSummry>\n" + "\n".join(_entry(x, day) for x in mine) + "</Stmt>")
    parts += ["</BkToCstmrStmt>", "</Document>", ""]
    path.write_bytes("\n".join(parts).encode("utf-8"))
    return len(lines)
