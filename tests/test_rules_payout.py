"""The payout rules' truth tables (recon.rules kind ``payout``): a PSP payout found in the bank
line's free text by the bank's pattern (payout_reference), by currency, amount, window and payer
name where the bank carries no id (payout_amount), and the ledger's expected settlements linked to
the PSP payouts (ledger_payout); in transit until expected + window. In-memory DuckDB, both routes."""
from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta, timezone

import polars as pl
import pytest

import sql
from recon import warehouse
from recon.config_payouts import PayoutReferences
from schemas.ledger_layout import CLEARING
from tests.tables import D, delivered, ledger, run_day, stmt, ts

pytestmark = pytest.mark.usefixtures("route")
SOURCES = ("wechatpay", "stripe", "bank")
STRIPE_REFS = PayoutReferences(fields=("end_to_end_id", "bank_reference", "description"),
                               patterns={"stripe": r"\b(po_[A-Za-z0-9]+)\b"}, declared=True)
TENPAY = ("财付通支付科技有限公司", "Tenpay")


def configured(cfg, refs=STRIPE_REFS, lag=1, window=2, payers=TENPAY):
    """The demo config with the bank's payout references and WeChat's payout keys replaced (and no
    payout_id_template: WeChat bills carry no payout id)."""
    def one(s):
        if s.name == "bank":
            return dataclasses.replace(s, payout_references=refs)
        if s.name == "wechatpay":
            return dataclasses.replace(s, payout_lag_days=lag, payer_names=payers,
                                       matching=dataclasses.replace(s.matching, payout_window_days=window))
        return s
    return dataclasses.replace(cfg, sources=[one(s) for s in cfg.sources])


def load(con, *frames, led=None):
    for frame in frames:
        warehouse.insert_frame(con, "statement_lines", frame)
        delivered(con, frame)
    if led is not None:
        warehouse.load_ledger(con, led, sha256="l" * 64, recorded_at=datetime(2026, 11, 20, tzinfo=timezone.utc))


def wechat(day=D):
    """Two WeChat payments of ``day`` without a payout id: the day's net is 14910."""
    return stmt(dict(merchant_reference="ORD1", amount_minor=10000, fee_minor=60, booked_at=ts(1, day=day.day),
                     business_date=day),
                dict(merchant_reference="ORD2", amount_minor=5000, fee_minor=30, booked_at=ts(2, day=day.day),
                     business_date=day))


def stripe():
    """One Stripe charge and its payout po_1Ab2 of 941 USD."""
    frame = stmt(dict(merchant_reference="ch", amount_minor=1000, fee_minor=59, payout_id="po_1Ab2", booked_at=ts(1)),
                 dict(merchant_reference=None, psp_reference="po_1Ab2", txn_type="payout", amount_minor=-941,
                      fee_minor=0, payout_id="po_1Ab2", booked_at=ts(9)), source="stripe", currency="USD")
    return frame.with_columns(pl.col("line_id").str.replace("^f+", "stripe"), pl.lit("s" * 64).alias("file_sha256"))


def bank(*rows, day=D):
    sha = f"b{day.day}".ljust(64, "0")
    frame = stmt(*[dict(txn_type="transfer", booked_at=ts(3, day=day.day), business_date=day,
                        line_id=f"bank{day.day}:{i + 2}") | r for i, r in enumerate(rows)], source="bank")
    return frame.with_columns(pl.lit(sha).alias("file_sha256"))


def payout_links(con, run_id):
    return sorted(con.execute("SELECT rule, line_id, payout_id, difference_minor FROM matches "
                              "WHERE run_id = ? AND kind = 'payout_bank'", [run_id]).fetchall())


def payouts(con, run_id):
    return sorted(con.execute("SELECT source, payout_id, settled_minor, bank_credit_minor, status FROM payouts "
                              "WHERE run_id = ?", [run_id]).fetchall())


def payout_breaks(con, run_id):
    return sorted(con.execute(
        "SELECT category, source, reference, ledger_entry_id, statement_amount_minor, difference_minor, rule "
        "FROM breaks WHERE run_id = ? AND status = 'open' AND rule IN ('three_way_payout', 'ledger_payout')",
        [run_id]).fetchall())


@pytest.mark.rule("payout_reference")
def test_a_stripe_payout_id_in_the_bank_description_links_the_credit(con, cfg):
    load(con, stripe(), bank(dict(end_to_end_id=None, bank_reference="2611210001", currency="USD", amount_minor=941,
                                  description="STRIPE PAYMENTS UK LTD TRANSFER REF po_1Ab2 GBP/USD")))
    run_day(con, configured(cfg), sources=SOURCES)
    assert payout_links(con, f"run-{D}") == [("payout_reference", "bank21:2", "po_1Ab2", 0)]
    assert ("stripe", "po_1Ab2", 941, 941, "matched") in payouts(con, f"run-{D}")
    assert payout_breaks(con, f"run-{D}") == []


@pytest.mark.rule("payout_reference")
def test_without_the_bank_pattern_the_id_in_free_text_is_not_found(con, cfg):
    load(con, stripe(), bank(dict(end_to_end_id=None, currency="USD", amount_minor=941,
                                  description="STRIPE PAYMENTS UK LTD TRANSFER REF po_1Ab2")))
    d1 = D + timedelta(days=1)
    for day in (D, d1):  # Stripe declares no lag: in transit on its own day, unsettled the next
        run_day(con, configured(cfg, refs=PayoutReferences()), day=day, sources=SOURCES)
    assert payout_links(con, f"run-{D}") == payout_links(con, f"run-{d1}") == []
    assert ("stripe", "po_1Ab2", 941, None, "in_transit") in payouts(con, f"run-{D}")
    assert payout_breaks(con, f"run-{D}") == []
    # unsettled: declared 941, its items net 941, no credit
    assert payout_breaks(con, f"run-{d1}") == [("unsettled", "stripe", "po_1Ab2", None, 941, 0, "three_way_payout")]


@pytest.mark.rule("payout_amount")
def test_a_day_net_payout_is_in_transit_then_linked_by_amount_and_payer(con, cfg):
    d1 = D + timedelta(days=1)
    load(con, wechat())
    run_day(con, configured(cfg), sources=SOURCES)
    assert ("wechatpay", "wechatpay 2026-11-21 CNY", 14910, None, "in_transit") in payouts(con, f"run-{D}")
    assert payout_breaks(con, f"run-{D}") == []
    load(con, bank(dict(end_to_end_id=None, amount_minor=14910, counterparty="财付通支付科技有限公司"),
                   dict(end_to_end_id=None, amount_minor=14910, counterparty="ACME TRADING CO"), day=d1))
    run_day(con, configured(cfg), day=d1, sources=SOURCES)
    assert payout_links(con, f"run-{d1}") == [("payout_amount", "bank22:2", "wechatpay 2026-11-21 CNY", 0)]
    assert ("wechatpay", "wechatpay 2026-11-21 CNY", 14910, 14910, "matched") in payouts(con, f"run-{d1}")
    assert payout_breaks(con, f"run-{d1}") == []


@pytest.mark.rule("payout_amount")
def test_a_credit_with_the_banks_own_end_to_end_id_is_found_by_amount(con, cfg):
    # no payout_references: the end-to-end id is compared whole, matches no payout, and the
    # credit is still the day net's one candidate by amount and payer
    load(con, wechat(), bank(dict(end_to_end_id="20261121TP00017", amount_minor=14910, counterparty="TENPAY")))
    run_day(con, configured(cfg, refs=PayoutReferences(), lag=0), sources=SOURCES)
    assert payout_links(con, f"run-{D}") == [("payout_amount", "bank21:2", "wechatpay 2026-11-21 CNY", 0)]


@pytest.mark.rule("payout_amount")
def test_two_credits_naming_the_payer_are_ambiguous_never_a_pick(con, cfg):
    load(con, wechat(), bank(dict(end_to_end_id=None, amount_minor=14910, counterparty="TENPAY"),
                             dict(end_to_end_id=None, amount_minor=14910, counterparty="Tenpay Payment Technology")))
    run_day(con, configured(cfg, lag=0), sources=SOURCES)
    assert payout_links(con, f"run-{D}") == []
    assert ("wechatpay", "wechatpay 2026-11-21 CNY", 14910, None, "ambiguous") in payouts(con, f"run-{D}")
    assert payout_breaks(con, f"run-{D}") == [
        ("ambiguous", "wechatpay", "wechatpay 2026-11-21 CNY", None, None, -14910, "three_way_payout")]


@pytest.mark.rule("payout_amount")
def test_a_credit_outside_the_window_or_of_another_payer_is_no_candidate(con, cfg):
    late = D + timedelta(days=2)
    load(con, wechat(), bank(dict(end_to_end_id=None, amount_minor=14910, counterparty="ALIPAY"), day=D))
    run_day(con, configured(cfg, lag=0, window=1), sources=SOURCES)
    assert ("wechatpay", "wechatpay 2026-11-21 CNY", 14910, None, "in_transit") in payouts(con, f"run-{D}")
    load(con, bank(dict(end_to_end_id=None, amount_minor=14910, counterparty="Tenpay"), day=late))
    run_day(con, configured(cfg, lag=0, window=1), day=late, sources=SOURCES)
    # due 2026-11-22 (D + 0 + 1): on the 23rd the credit is a day late, the payout unsettled
    assert payout_links(con, f"run-{late}") == []
    assert payout_breaks(con, f"run-{late}") == [
        ("unsettled", "wechatpay", "wechatpay 2026-11-21 CNY", None, None, -14910, "three_way_payout")]


def payout_entry(entry_id, amount, source="wechatpay", currency="CNY", **kw):
    """The company's expected settlement, held out of the cascade for the clearing."""
    return dict(entry_id=entry_id, source=source, currency=currency, txn_type="payout", amount_minor=amount,
                merchant_reference=f"SETTLE-{entry_id}", booked_at=ts(12)) | kw


def clearing(*rows):
    return ledger(*rows).with_columns(pl.lit(CLEARING).alias("hold"))


def ledger_links(con, run_id):
    return sorted((e, p, d, json.loads(ev)["by"]) for e, p, d, ev in con.execute(
        "SELECT ledger_entry_id, payout_id, difference_minor, evidence FROM matches "
        "WHERE run_id = ? AND rule = 'ledger_payout'", [run_id]).fetchall())


def payout_report(con, run_id):
    """The Payouts sheet's legs (sql/report_payouts.sql): bank rule, ledger entry, amount, difference."""
    cur = con.execute(sql.load("report_payouts"), {"run_id": run_id})
    names = [d[0] for d in cur.description]
    keep = ("payout_id", "settled_minor", "status", "matched_by", "ledger_entry_id", "ledger_amount",
            "ledger_difference")
    return [tuple(dict(zip(names, r))[k] for k in keep) for r in cur.fetchall()]


@pytest.mark.rule("ledger_payout", "payout_reference", "payout_amount")
def test_three_ways_ledger_payout_psp_payout_bank_credit(con, cfg):
    # leg 1 by the payout id in the entry's PSP reference (Stripe) and by amount (WeChat's day
    # net, booked as money in); leg 2 by the bank's pattern and by amount and payer
    led = clearing(payout_entry("LP1", -941, source="stripe", currency="USD", psp_reference="po_1Ab2"),
                   payout_entry("LP2", 14910))
    load(con, wechat(), stripe(),
         bank(dict(end_to_end_id=None, currency="USD", amount_minor=941, description="po_1Ab2"),
              dict(end_to_end_id=None, amount_minor=14910, counterparty="Tenpay")), led=led)
    run_day(con, configured(cfg, lag=0), sources=SOURCES)
    assert ledger_links(con, f"run-{D}") == [("LP1", "po_1Ab2", 0, "reference"),
                                             ("LP2", "wechatpay 2026-11-21 CNY", 0, "amount")]
    assert payout_links(con, f"run-{D}") == [("payout_amount", "bank21:3", "wechatpay 2026-11-21 CNY", 0),
                                             ("payout_reference", "bank21:2", "po_1Ab2", 0)]
    assert payout_breaks(con, f"run-{D}") == []
    # (payout, settled, status, bank rule, ledger entry, ledger amount, ledger difference)
    assert payout_report(con, f"run-{D}") == [
        ("po_1Ab2", 941, "matched", "payout_reference", "LP1", -941, 0),
        ("wechatpay 2026-11-21 CNY", 14910, "matched", "payout_amount", "LP2", 14910, 0)]


@pytest.mark.rule("ledger_payout")
def test_a_ledger_payout_that_differs_is_linked_with_its_difference(con, cfg):
    load(con, stripe(), led=clearing(payout_entry("LP1", 950, source="stripe", currency="USD",
                                                  psp_reference="po_1Ab2")))
    run_day(con, configured(cfg), sources=SOURCES)
    assert ledger_links(con, f"run-{D}") == [("LP1", "po_1Ab2", -9, "reference")]
    assert ("amount_mismatch", "stripe", "po_1Ab2", "LP1", 941, -9, "ledger_payout") in payout_breaks(con, f"run-{D}")
    assert ("po_1Ab2", 941, "in_transit", None, "LP1", 950, -9) in payout_report(con, f"run-{D}")


@pytest.mark.rule("ledger_payout")
def test_a_ledger_payout_without_its_psp_payout_is_in_transit_then_missing(con, cfg):
    d1, d2 = D + timedelta(days=1), D + timedelta(days=2)
    load(con, led=clearing(payout_entry("LP2", 20000)))
    cfg = configured(cfg, lag=1, window=1)
    for day in (D, d1):
        run_day(con, cfg, day=day, sources=SOURCES)
        assert payout_breaks(con, f"run-{day}") == []  # due 2026-11-23 (D + 1 + 1): in transit before
    run_day(con, cfg, day=d2, sources=SOURCES)
    assert payout_breaks(con, f"run-{d2}") == [
        ("missing_in_statement", "wechatpay", "SETTLE-LP2", "LP2", None, -20000, "ledger_payout")]


@pytest.mark.rule("ledger_payout")
def test_two_payouts_of_the_entry_amount_are_ambiguous(con, cfg):
    other = stripe().with_columns(pl.lit("po_2Cd3").alias("payout_id"),
                                  pl.col("line_id").str.replace("stripe", "strip2"),
                                  pl.lit("t" * 64).alias("file_sha256"))
    load(con, stripe(), other, led=clearing(payout_entry("LP1", 941, source="stripe", currency="USD")))
    run_day(con, configured(cfg), sources=SOURCES)
    assert ledger_links(con, f"run-{D}") == []
    assert ("ambiguous", "stripe", "SETTLE-LP1", "LP1", None, -941, "ledger_payout") in payout_breaks(con, f"run-{D}")


@pytest.mark.rule("ledger_payout")
def test_a_ledger_payout_booked_a_day_later_finds_the_payout_already_settled(con, cfg):
    # Stripe's payout and its bank credit on D; the company books it on D+1: the payout no entry
    # claimed on D is handed on (open_items payout_unbooked) and linked then
    d1 = D + timedelta(days=1)
    load(con, stripe(), bank(dict(end_to_end_id=None, currency="USD", amount_minor=941, description="po_1Ab2")))
    run_day(con, configured(cfg), sources=SOURCES)
    assert con.execute("SELECT kind, item_id FROM open_items WHERE run_id = ? AND kind = 'payout_unbooked'",
                       [f"run-{D}"]).fetchall() == [("payout_unbooked", "stripe|po_1Ab2")]
    load(con, led=clearing(payout_entry("LP1", -941, source="stripe", currency="USD", business_date=d1,
                                        psp_reference="po_1Ab2")))
    run_day(con, configured(cfg), day=d1, sources=SOURCES)
    assert ledger_links(con, f"run-{d1}") == [("LP1", "po_1Ab2", 0, "reference")]
    assert payout_breaks(con, f"run-{d1}") == []
    assert con.execute("SELECT count(*) FROM open_items WHERE run_id = ? AND kind = 'payout_unbooked'",
                       [f"run-{d1}"]).fetchone() == (0,)
