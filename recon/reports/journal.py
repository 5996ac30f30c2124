"""Journal entries for the general ledger: balanced double-entry lines per source, day, currency.

Entries (amounts from the day's settlement positions and the run's payouts):

- sales:        Dr PSP receivable / Cr sales                  payments (gross)
- refunds:      Dr refunds        / Cr PSP receivable         refunds
- chargebacks:  Dr chargebacks    / Cr PSP receivable         chargebacks
- other:        Dr PSP receivable / Cr suspense               adjustments nobody has explained
- fees:         Dr fee expense    / Cr PSP receivable         fees charged (actual)
- fee returns:  Dr PSP receivable / Cr fee expense            fees given back on refunds
- duplicates:   Dr PSP receivable / Cr suspense               what payouts paid for duplicate lines
- payout:       Dr bank (credit)  / Cr PSP receivable (settled net), the difference to suspense

Where sales come from is configured ([posting] sales in journal.toml): "psp" books sales,
refunds, chargebacks and other lines from the PSP's statement; "gl" when the general ledger
already holds them (booked from the ledger entries the match checked), so the journal books only
the fees, the fee returns and the clearing between the PSP receivable and the bank (payouts,
payout differences and duplicates to suspense).

A negative amount swaps the sides, so every line is a positive debit or credit. Every entry
balances by construction and :func:`check_balanced` proves it per currency before writing.
"""
from __future__ import annotations

import csv
import logging
import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from recon.errors import ConfigError, ReconError
from recon.money import to_decimal
from recon.reports.clearing import DUPLICATES
from recon.reports.model import RunSummary
from recon.reports.safe import excel_text

log = logging.getLogger(__name__)
ACCOUNT_KEYS = ("psp_receivable", "sales", "refunds", "chargebacks", "fees", "bank", "suspense")
JOURNAL_COLUMNS = ("business_date", "source", "currency", "entry", "account", "debit", "credit",
                   "reference", "memo")
DEFAULT_ACCOUNTS = Path(__file__).resolve().parents[2] / "data" / "journal.toml"
SALES_FROM = ("psp", "gl")


@dataclass(frozen=True)
class Accounts:
    default: dict[str, str]
    per_source: dict[str, dict[str, str]]
    sales: str = "psp"  # psp | gl: see the module's docstring

    def name(self, key: str, source: str, currency: str) -> str:
        template = self.per_source.get(source, {}).get(key) or self.default[key]
        return template.format(source=source, currency=currency)


def load_accounts(path: Path | None = None) -> Accounts:
    path = Path(path or DEFAULT_ACCOUNTS)
    doc = tomllib.loads(path.read_text("utf-8"))
    accounts = doc.get("accounts") or {}
    missing = [k for k in ACCOUNT_KEYS if not accounts.get(k)]
    if missing:
        raise ConfigError(str(path), "accounts." + missing[0],
                          f"missing; expected an account name for each of {', '.join(ACCOUNT_KEYS)}")
    per_source = {}
    for source, table in (doc.get("sources") or {}).items():
        unknown = set(table) - set(ACCOUNT_KEYS)
        if unknown:
            raise ConfigError(str(path), f"sources.{source}.{sorted(unknown)[0]}",
                              f"unknown account; expected one of {', '.join(ACCOUNT_KEYS)}")
        per_source[source] = dict(table)
    posting = doc.get("posting") or {}
    unknown = set(posting) - {"sales"}
    if unknown:
        raise ConfigError(str(path), f"posting.{sorted(unknown)[0]}", "unknown setting; expected sales")
    sales = posting.get("sales", "psp")
    if sales not in SALES_FROM:
        raise ConfigError(str(path), "posting.sales",
                          f"expected \"psp\" (book sales from the PSP lines) or \"gl\" (the general "
                          f"ledger already holds them), found {sales!r}")
    return Accounts(dict(accounts), per_source, sales)


@dataclass(frozen=True)
class JournalLine:
    business_date: date
    source: str
    currency: str
    entry: str
    account: str
    debit_minor: int
    credit_minor: int
    reference: str = ""
    memo: str = ""
    key: str = ""  # the account's role (ACCOUNT_KEYS), for the tie-out


class UnbalancedJournal(ReconError):
    pass


def journal_lines(s: RunSummary, accounts: Accounts) -> list[JournalLine]:
    out: list[JournalLine] = []

    def post(source: str, ccy: str, entry: str, debit: str, credit: str, amount: int,
             reference: str = "", memo: str = "") -> None:
        if not amount:
            return
        if amount < 0:
            debit, credit, amount = credit, debit, -amount
        for key, dr, cr in ((debit, amount, 0), (credit, 0, amount)):
            out.append(JournalLine(s.business_date, source, ccy, entry,
                                   accounts.name(key, source, ccy), dr, cr, reference, memo, key))

    totals: dict[tuple[str, str], list[int]] = {}
    for p in s.positions:
        t = totals.setdefault((p.source, p.currency), [0] * 7)
        for i, v in enumerate((p.payments_minor, p.refunds_minor, p.chargebacks_minor,
                               p.fees_minor, p.other_minor, p.fee_returns_minor,
                               p.paid_minor if p.sub_merchant == DUPLICATES else 0)):
            t[i] += v
    for (source, ccy), (pay, ref, cb, fee, other, returned, dup) in sorted(totals.items()):
        if accounts.sales == "psp":
            post(source, ccy, "sales", "psp_receivable", "sales", pay, memo="payments (gross)")
            post(source, ccy, "refunds", "refunds", "psp_receivable", ref, memo="refunds")
            post(source, ccy, "chargebacks", "chargebacks", "psp_receivable", cb, memo="chargebacks")
            post(source, ccy, "other", "psp_receivable", "suspense", other,
                 memo="adjustments and other PSP lines, unexplained")
        post(source, ccy, "fees", "fees", "psp_receivable", fee + returned, memo="PSP fees charged (actual)")
        post(source, ccy, "fee returns", "psp_receivable", "fees", returned, memo="fees returned on refunds")
        post(source, ccy, "duplicates", "psp_receivable", "suspense", dup,
             memo="paid for duplicate PSP lines (see the break workbook)")
    for p in sorted(s.payouts, key=lambda p: (p.source, p.payout_id)):
        if p.bank_credit_minor is None or not p.currency:
            continue
        diff = p.bank_credit_minor - p.settled_net_minor
        post(p.source, p.currency, "payout", "bank", "psp_receivable", p.bank_credit_minor,
             p.payout_id, "payout received in the bank")
        post(p.source, p.currency, "payout", "suspense", "psp_receivable", -diff, p.payout_id,
             "payout differs from the items it settles")
    check_balanced(out)
    return out


def check_balanced(lines: list[JournalLine]) -> None:
    by_ccy: dict[str, list[int]] = {}
    for x in lines:
        t = by_ccy.setdefault(x.currency, [0, 0])
        t[0] += x.debit_minor
        t[1] += x.credit_minor
    bad = {c: t for c, t in by_ccy.items() if t[0] != t[1]}
    if bad:
        raise UnbalancedJournal("journal does not balance: " + "; ".join(
            f"{c}: debits {to_decimal(d, c)}, credits {to_decimal(k, c)}"
            for c, (d, k) in sorted(bad.items())))


def write_journal(summary: RunSummary, path: Path, accounts: Accounts | None = None) -> Path:
    path = Path(path)
    lines = journal_lines(summary, accounts or load_accounts())
    tmp = path.with_name(path.name + ".partial")
    with tmp.open("w", encoding="utf-8-sig", newline="") as fh:
        out = csv.writer(fh, lineterminator="\r\n")
        out.writerow(JOURNAL_COLUMNS)
        for x in lines:
            out.writerow((x.business_date.isoformat(), excel_text(x.source, mask=False),
                          x.currency, x.entry, excel_text(x.account, mask=False),
                          to_decimal(x.debit_minor, x.currency) if x.debit_minor else "",
                          to_decimal(x.credit_minor, x.currency) if x.credit_minor else "",
                          excel_text(x.reference, mask=False), x.memo))
    tmp.replace(path)
    log.info("Journal: %d lines, balanced per currency → %s", len(lines), path)
    return path
