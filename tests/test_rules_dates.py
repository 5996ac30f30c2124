"""Dates per movement (issue 31): each bank file is read on its own day, so bank charges, salaries
and transfers match on their own date; a PSP payout credited the next day is in transit until
then; the cut-off's timing window (default 15 minutes) tells a cross-midnight item from a missing
one. Tiny literal tables in in-memory DuckDB, on both routes of the cascade."""
from __future__ import annotations

import dataclasses
import hashlib
from datetime import datetime, timedelta, timezone

import pytest

from recon import warehouse
from recon.config import Matching
from recon.generate import camt053
from recon.generate.camt053 import Entry, Statement
from schemas import registry
from schemas.ledger import parse_ledger
from schemas.ledger_layout import LedgerLayout
from tests.tables import D, delivered, ledger, run_day, stmt, ts

UTC = timezone.utc
D2, D3 = D + timedelta(days=1), D + timedelta(days=2)
pytestmark = pytest.mark.usefixtures("route")

# The company's export: its own words for bank-only movements, the house bank as channel.
LAYOUT = LedgerLayout(
    columns={"entry_id": "Beleg", "booked_at": "Zeit", "channel": "Kanal", "txn_type": "Art",
             "merchant_reference": "Referenz", "amount": "Betrag", "currency": "Whg"},
    custom=True, datetime_format="%Y-%m-%d %H:%M:%S", timezone="Asia/Shanghai",
    types={"KONTOGEBUEHR": "bank_charge", "GEHALT": "salary", "UMBUCHUNG": "transfer"},
    channels={"Hausbank": "bank"}, psp_sources=("wechatpay", "stripe"), bank_sources=("bank",))
EXPORT = """Beleg,Zeit,Kanal,Art,Referenz,Betrag,Whg
B1,2026-11-21 09:00:00,Hausbank,KONTOGEBUEHR,CHG-20261121-01,-25.00,CNY
B2,2026-11-21 10:00:00,Hausbank,GEHALT,SAL-2611-0042,-15000.00,CNY
B3,2026-11-21 11:00:00,Hausbank,UMBUCHUNG,TRF-0007,3000.00,CNY
"""


def bank_file(day, *entries):
    """A camt.053 statement of ``day`` (every entry booked that day), parsed as the bank source's
    file of that day: its lines carry ``day`` as business date."""
    data = camt053.render(day, [Statement("CNY", 100_000_000, tuple(entries))]).encode()
    parsed = registry.parse("camt053", data, name=f"camt053_{day:%Y%m%d}.xml", source="bank",
                            sha256=hashlib.sha256(data).hexdigest(), business_date=day,
                            timezone="Asia/Shanghai")
    return parsed.frame


def debit(ref, e2e, minor, party, text):
    return Entry(ref=ref, amount_minor=minor, end_to_end_id=e2e, party=party, remittance=text, family="DMCT")


def load(con, led=None, st=None, sha="l" * 64, at=datetime(2026, 11, 22, tzinfo=UTC)):
    if st is not None:
        warehouse.insert_frame(con, "statement_lines", st)
        delivered(con, st)
    if led is not None:
        warehouse.load_ledger(con, led, sha256=sha, recorded_at=at)


def links(con, run_id):
    """{(entry, line's reference): (rule, difference)} of a run's ledger ↔ statement links."""
    return {(e, r): (rule, d) for e, r, rule, d in con.execute(
        "SELECT m.ledger_entry_id, coalesce(s.end_to_end_id, s.merchant_reference), m.rule, m.difference_minor "
        "FROM matches m JOIN statement_lines s USING (line_id) WHERE m.run_id = ? AND m.kind = 'ledger_statement'",
        [run_id]).fetchall()}


def breaks(con, run_id):
    """{(category, reference): (ledger amount, statement amount, difference, first seen, status)}."""
    return {(c, r): tuple(rest) for c, r, *rest in con.execute(
        "SELECT category, reference, ledger_amount_minor, statement_amount_minor, difference_minor, first_seen, "
        "status FROM breaks WHERE run_id = ? AND category <> 'fee_variance'", [run_id]).fetchall()}


def test_bank_charges_salaries_and_transfers_match_the_bank_file_of_their_own_day(con, cfg):
    assert cfg.source("bank").file_date(D) == D  # the bank file of D is read by D's run
    led, quarantine = parse_ledger(EXPORT.encode(), name="export.csv", sha256="e" * 64, layout=LAYOUT)
    assert quarantine.height == 0
    assert sorted(led.select("entry_id", "source", "txn_type", "amount_minor").rows()) == [
        ("B1", "bank", "transfer", -2500), ("B2", "bank", "transfer", -1_500_000), ("B3", "bank", "transfer", 300_000)]
    lines = bank_file(D, debit("B20261121CNY0001", "CHG-20261121-01", -2500, "HSBC", "ACCOUNT FEE NOV"),
                      debit("B20261121CNY0002", "SAL-2611-0042", -1_500_000, "LI WEI", "SALARY NOV"),
                      debit("B20261121CNY0003", "TRF-0007", 300_000, "RECON DEMO TRADING LTD", "FROM USD ACCOUNT"),
                      debit("B20261121CNY0004", "CHG-20261121-02", -800, "HSBC", "WIRE FEE"))
    assert set(lines["business_date"]) == {D}
    load(con, led, lines)
    run_day(con, cfg, sources=("bank",))
    # each movement on the day the bank and the ledger both date it: linked the same night
    assert links(con, f"run-{D}") == {("B1", "CHG-20261121-01"): ("exact_reference", 0),
                                      ("B2", "SAL-2611-0042"): ("exact_reference", 0),
                                      ("B3", "TRF-0007"): ("exact_reference", 0)}
    # a bank charge the ledger lacks is missing in the ledger, never timing (no time of day)
    assert breaks(con, f"run-{D}") == {("missing_in_ledger", "CHG-20261121-02"): (None, -800, -800, D, "open")}


def test_a_payout_is_in_transit_on_its_day_and_clears_on_the_credits_day(con, cfg):
    wx = stmt(dict(merchant_reference="ORD1", amount_minor=10000, fee_minor=60, payout_id="WX1-20261121",
                   booked_at=ts(1)))
    load(con, ledger(dict(entry_id="L1", merchant_reference="ORD1", amount_minor=10000, booked_at=ts(1))), wx)
    load(con, st=bank_file(D))  # the bank file of D carries no credit for D's payout yet
    run_day(con, cfg, sources=("wechatpay", "bank"))
    assert breaks(con, f"run-{D}") == {}
    assert con.execute("SELECT status, settled_minor, bank_credit_minor, first_seen FROM payouts "
                       "WHERE run_id = ?", [f"run-{D}"]).fetchall() == [("in_transit", 9940, None, D)]
    # D+1: the bank file of D+1 credits it; the run of D+1 links it, nothing was ever a break
    load(con, st=bank_file(D2, debit("B20261122CNY0001", "WX1-20261121", 9940, "Tenpay", "TENPAY SETTLEMENT")))
    run_day(con, cfg, day=D2, sources=("wechatpay", "bank"))
    assert breaks(con, f"run-{D2}") == {}
    assert con.execute("SELECT status, settled_minor, bank_credit_minor, first_seen FROM payouts "
                       "WHERE run_id = ?", [f"run-{D2}"]).fetchall() == [("matched", 9940, 9940, D)]
    assert con.execute("SELECT payout_id, difference_minor FROM matches WHERE kind = 'payout_bank'").fetchall() == [
        ("WX1-20261121", 0)]


def test_a_payout_not_credited_by_the_next_day_is_unsettled_until_it_is(con, cfg):
    wx = stmt(dict(merchant_reference="ORD1", amount_minor=10000, fee_minor=60, payout_id="WX1-20261121",
                   booked_at=ts(1)))
    load(con, ledger(dict(entry_id="L1", merchant_reference="ORD1", amount_minor=10000, booked_at=ts(1))), wx)
    load(con, st=bank_file(D))
    run_day(con, cfg, sources=("wechatpay", "bank"))
    load(con, st=bank_file(D2))
    run_day(con, cfg, day=D2, sources=("wechatpay", "bank"))
    assert breaks(con, f"run-{D2}") == {("unsettled", "WX1-20261121"): (9940, None, -9940, D2, "open")}
    load(con, st=bank_file(D3, debit("B20261123CNY0001", "WX1-20261121", 9940, "Tenpay", "TENPAY SETTLEMENT")))
    run_day(con, cfg, day=D3, sources=("wechatpay", "bank"))
    assert breaks(con, f"run-{D3}") == {("unsettled", "WX1-20261121"): (9940, None, -9940, D2, "auto_cleared")}


def default_window(cfg):
    """``cfg`` with WeChat Pay's matching settings all at their defaults (no timing window set)."""
    return dataclasses.replace(cfg, sources=[
        dataclasses.replace(s, matching=Matching(rules=s.matching.rules)) if s.name == "wechatpay" else s
        for s in cfg.sources])


def test_the_default_timing_window_covers_a_cross_midnight_item_12_minutes_out(con, cfg):
    cfg = default_window(cfg)
    assert cfg.source("wechatpay").matching.timing_window_minutes == 15
    # Asia/Shanghai: 23:48 local on D is 15:48 UTC; 00:12 local on D is 16:12 UTC the day before
    load(con,
         ledger(dict(entry_id="L1", merchant_reference="ORD1", amount_minor=3000, booked_at=ts(15, 48)),
                dict(entry_id="L2", merchant_reference="ORD2", amount_minor=4000, booked_at=ts(15, 30))),
         stmt(dict(merchant_reference="ORD3", amount_minor=5000, fee_minor=30, booked_at=ts(16, 12, day=20)),
              dict(merchant_reference="ORD4", amount_minor=6000, fee_minor=36, booked_at=ts(16, 30, day=20))))
    run_day(con, cfg)
    assert breaks(con, f"run-{D}") == {
        ("timing", "ORD1"): (3000, None, -3000, D, "open"),                 # 12 minutes before midnight
        ("missing_in_statement", "ORD2"): (4000, None, -4000, D, "open"),   # 30 minutes before
        ("timing", "ORD3"): (None, 5000, 5000, D, "open"),                  # 12 minutes after
        ("missing_in_ledger", "ORD4"): (None, 6000, 6000, D, "open"),       # 30 minutes after
    }
    # D+1: WeChat's bill of D+1 has ORD1, paid at 00:03 local: the timing item clears that night
    load(con, st=stmt(dict(merchant_reference="ORD1", amount_minor=3000, fee_minor=18, booked_at=ts(16, 3),
                           business_date=D2, file_sha256="e" * 64)))
    run_day(con, cfg, day=D2)
    assert links(con, f"run-{D2}") == {("L1", "ORD1"): ("exact_reference", 0)}
    got = breaks(con, f"run-{D2}")
    assert got[("timing", "ORD1")] == (3000, None, -3000, D, "auto_cleared")
    assert got[("missing_in_statement", "ORD2")] == (4000, None, -4000, D, "open")


def test_a_payout_in_transit_whose_declared_amount_differs_from_its_items_is_a_break_at_once(con, cfg):
    # Stripe's payout row declares 9.50; its one charge nets 9.41: no need to wait for the bank
    st = stmt(dict(merchant_reference="ORD2", amount_minor=1000, fee_minor=59, payout_id="po_1", booked_at=ts(1),
                   payment_method="card"),
              dict(merchant_reference=None, psp_reference="po_1", txn_type="payout", amount_minor=-950, fee_minor=0,
                   payout_id="po_1", booked_at=ts(9)),
              source="stripe", currency="USD")
    load(con, ledger(dict(entry_id="L2", source="stripe", currency="USD", merchant_reference="ORD2",
                          amount_minor=1000, booked_at=ts(1))), st)
    load(con, st=bank_file(D))
    run_day(con, cfg, sources=("stripe", "bank"))
    assert con.execute("SELECT status FROM payouts").fetchall() == [("in_transit",)]
    assert breaks(con, f"run-{D}") == {("payout_mismatch", "po_1"): (941, 950, 9, D, "open")}
