"""Settlement positions per merchant / sub-merchant (SQL on literal rows) and the journal: balanced
per currency, and its lines add up to the day's figures."""
from __future__ import annotations

import csv
import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from recon import warehouse
from recon.reports.clearing import DUPLICATES, UNALLOCATED, positions, write_positions_csv
from recon.reports.journal import (JournalLine, UnbalancedJournal, check_balanced,
                                   journal_lines, load_accounts, write_journal)
from recon.reports.model import PayoutLine
from schemas import quirks
from tests.workbooks import make_summary

D = date(2026, 11, 21)
WX = "WX1900000109-20261121"


def line(i, source, txn_type, amount, fee, payout, raw):
    return dict(line_id=f"{source}:{i}", source=source, file_sha256="f", file_line=i,
                business_date=D, txn_type=txn_type, amount_minor=amount, currency=
                "CNY" if source == "wechatpay" else "USD", fee_minor=fee,
                net_minor=amount - fee, payout_id=payout, raw=json.dumps(raw, ensure_ascii=False))


def canonical(rows):
    """The rows as the parsers load them now: merchant_id / sub_merchant_id taken out of the line
    (schemas.quirks.attributes) and raw without those fields, so only the columns can give them."""
    fields = pl.DataFrame([json.loads(r["raw"]) for r in rows], schema={
        f: pl.String for f in sorted({k for r in rows for k in json.loads(r["raw"])})})
    ids = fields.select(quirks.attributes(fields.columns)).to_dicts()
    return [{**r, "raw": "{}", "merchant_id": a["merchant_id"], "sub_merchant_id": a["sub_merchant_id"]}
            for r, a in zip(rows, ids, strict=True)]


@pytest.fixture(params=["canonical", "raw"])
def con(request):
    """Lines as loaded now (canonical merchant columns) and as loaded before those columns
    existed (NULL: the positions read raw): the same positions either way."""
    con = warehouse.connect(":memory:")
    wx = {"商户号": "1900000109", "特约商户号": ""}
    sub = {"商户号": "1900000109", "特约商户号": "1900000201"}
    rows = [
        line(1, "wechatpay", "payment", 10_000, 60, WX, wx),
        line(2, "wechatpay", "refund", -2_000, -12, WX, wx),
        line(3, "wechatpay", "payment", 5_000, 30, WX, sub),
        line(4, "wechatpay", "payment", 700, 4, WX, sub),
        line(5, "wechatpay", "payment", 999, 6, WX, sub),  # a duplicate line of the run
        line(6, "stripe", "payment", 1_000, 59, "po_1", {"connected_account": "acct_9"}),
        line(7, "stripe", "chargeback", -300, 1_500, "po_1", {"connected_account": "acct_9"}),
        line(8, "stripe", "payment", 2_000, 88, None, {}),
        line(9, "bank", "transfer", 99_999, 0, None, {}),  # not a PSP: never a position
    ]
    if request.param == "canonical":
        rows = canonical(rows)
    for r in rows:
        con.execute(f"INSERT INTO statement_lines ({', '.join(r)}) VALUES "
                    f"({', '.join('?' * len(r))})", list(r.values()))
    con.execute("INSERT INTO breaks (run_id, break_id, business_date, category, source, line_id, "
                "difference_minor, rule) VALUES ('r1', 'd', ?, 'duplicate', 'wechatpay', "
                "'wechatpay:5', 999, 'duplicate_line')", [D])
    yield con
    con.close()


PAYOUTS = (
    # settles the 5 lines (13,618 + the duplicate's 993), 18 short in the bank
    PayoutLine("wechatpay", WX, "CNY", 5, 14_611, None, 14_593, "bank:1", "payout_mismatch", D),
    PayoutLine("stripe", "po_1", "USD", 2, -859, -859, None, None, "unsettled", D),
)


def test_positions_per_merchant_and_sub_merchant(con) -> None:
    got = {(p.source, p.merchant, p.sub_merchant): p
           for p in positions(con, "r1", D, ["wechatpay", "stripe"], PAYOUTS, ["f"])}
    assert set(got) == {("wechatpay", "1900000109", ""), ("wechatpay", "1900000109", "1900000201"),
                        ("wechatpay", "1900000109", UNALLOCATED), ("stripe", "stripe", "acct_9"),
                        ("stripe", "stripe", ""), ("wechatpay", "1900000109", DUPLICATES)}
    dup = got[("wechatpay", "1900000109", DUPLICATES)]  # owed by nobody, paid by the payout
    assert (dup.lines, dup.payments_minor, dup.fees_minor, dup.owed_minor, dup.in_payouts_minor,
            dup.paid_minor, dup.outstanding_minor) == (1, 0, 0, 0, 993, 993, -993)
    # the paid column adds up to the bank credit
    assert sum(p.paid_minor for p in got.values() if p.currency == "CNY") == 14_593
    own = got[("wechatpay", "1900000109", "")]
    assert (own.payments_minor, own.refunds_minor, own.fees_minor, own.owed_minor) == (
        10_000, 2_000, 48, 7_952)
    assert (own.in_payouts_minor, own.paid_minor) == (7_952, 7_952)
    sub = got[("wechatpay", "1900000109", "1900000201")]
    assert (sub.lines, sub.owed_minor, sub.paid_minor, sub.outstanding_minor) == (2, 5_666, 5_666, 0)
    short = got[("wechatpay", "1900000109", UNALLOCATED)]  # a shared payout's shortfall
    assert (short.paid_minor, short.owed_minor) == (-18, 0)
    acct = got[("stripe", "stripe", "acct_9")]
    assert (acct.chargebacks_minor, acct.fees_minor, acct.owed_minor, acct.paid_minor) == (
        300, 1_559, -859, 0)  # payout not in the bank yet
    loose = got[("stripe", "stripe", "")]
    assert (loose.in_payouts_minor, loose.outstanding_minor) == (0, 1_912)


def test_journal_balances_and_adds_up_to_the_day(con, tmp_path: Path) -> None:
    pos = positions(con, "r1", D, ["wechatpay", "stripe"], PAYOUTS, ["f"])
    s = replace(make_summary(), business_date=D, positions=pos, payouts=PAYOUTS)
    lines = journal_lines(s, load_accounts())
    for ccy in ("CNY", "USD"):
        mine = [x for x in lines if x.currency == ccy]
        assert sum(x.debit_minor for x in mine) == sum(x.credit_minor for x in mine)
    assert all((x.debit_minor > 0) != (x.credit_minor > 0) for x in lines)

    def total(entry, account_prefix, side):
        return sum(getattr(x, side) for x in lines
                   if x.entry == entry and x.account.startswith(account_prefix))

    assert total("sales", "6001 ", "credit_minor") == sum(p.payments_minor for p in pos)
    assert total("refunds", "6001.90", "debit_minor") == 2_000
    assert total("chargebacks", "6711", "debit_minor") == 300
    assert total("fees", "6603", "debit_minor") == 60 + 34 + 1_559 + 88  # charged
    assert total("fee returns", "6603", "credit_minor") == 12  # returned on the refund
    assert total("payout", "1002 Bank - CNY", "debit_minor") == 14_593  # the bank credit
    assert total("payout", "2241.99", "debit_minor") == 18  # the shortfall to suspense
    assert total("payout", "1122.01", "credit_minor") == 14_611  # settled net leaves receivable
    assert total("duplicates", "2241.99", "credit_minor") == 993  # paid for the duplicate line
    # the receivable is left with what is owed and not yet in the bank: nothing for WeChat
    wx = [x for x in lines if x.account.startswith("1122.01")]
    assert sum(x.debit_minor - x.credit_minor for x in wx) == 0
    path = write_journal(s, tmp_path / "journal.csv")
    rows = list(csv.DictReader(path.read_text("utf-8-sig").splitlines()))
    assert rows[0] == {"business_date": "2026-11-21", "source": "stripe", "currency": "USD",
                       "entry": "sales", "account": "1122.02 Stripe receivable",
                       "debit": "30.00", "credit": "", "reference": "",
                       "memo": "payments (gross)"}
    assert write_positions_csv(s, tmp_path / "positions.csv").read_text("utf-8-sig").startswith(
        "source,merchant,sub_merchant,currency,lines,payments")


def test_journal_with_sales_already_in_the_general_ledger(con, tmp_path: Path) -> None:
    """[posting] sales = "gl": fees, fee returns, payouts and clearing only."""
    pos = positions(con, "r1", D, ["wechatpay", "stripe"], PAYOUTS, ["f"])
    s = replace(make_summary(), business_date=D, positions=pos, payouts=PAYOUTS)
    accounts = tmp_path / "journal.toml"
    accounts.write_text(Path(load_accounts.__globals__["DEFAULT_ACCOUNTS"]).read_text("utf-8")
                        .replace('sales = "psp"', 'sales = "gl"'), "utf-8")
    lines = journal_lines(s, load_accounts(accounts))
    assert {x.entry for x in lines} == {"fees", "fee returns", "payout", "duplicates"}
    check_balanced(lines)
    bad = tmp_path / "bad.toml"
    bad.write_text(accounts.read_text("utf-8").replace('sales = "gl"', 'sales = "ledger"'), "utf-8")
    with pytest.raises(Exception, match="posting.sales"):
        load_accounts(bad)


def test_an_unbalanced_journal_is_refused() -> None:
    with pytest.raises(UnbalancedJournal, match="CNY: debits 1.00, credits 0.99"):
        check_balanced([JournalLine(D, "x", "CNY", "e", "a", 100, 0),
                        JournalLine(D, "x", "CNY", "e", "b", 0, 99)])
