"""reversal_reference's truth tables: refunds and chargebacks whose ledger row lacks the PSP's id,
paired through the payment they reverse (in-memory DuckDB, both routes of the cascade); and the
links made within a tolerance, which are reported on their own."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

import sql
from recon import warehouse
from tests.tables import D, delivered, ledger, run_day, stmt, ts, with_matching

UTC = timezone.utc
F = "f" * 16
pytestmark = pytest.mark.usefixtures("route")


def load(con, led, st):
    warehouse.insert_frame(con, "statement_lines", st)
    delivered(con, st)  # the source's file loaded: its missing items are breaks, not pending
    warehouse.load_ledger(con, led, sha256="l" * 64, recorded_at=datetime(2026, 11, 22, tzinfo=UTC))


def links(con, rule="reversal_reference"):
    """{(entry, line): (difference, evidence)} of the rule's links."""
    return {(e, ln): (d, json.loads(ev)) for e, ln, d, ev in con.execute(
        "SELECT ledger_entry_id, line_id, difference_minor, evidence FROM matches WHERE rule = ?",
        [rule]).fetchall()}


def breaks(con):
    """The open transaction breaks (the rate card's fee check is not what these tables test)."""
    return sorted(con.execute("SELECT category, reference, ledger_entry_id, line_id FROM breaks "
                              "WHERE status = 'open' AND category <> 'fee_variance' ORDER BY ALL").fetchall())


def payment(**kw):
    return dict(entry_id="L1", merchant_reference="ORD1", amount_minor=10000, booked_at=ts(1)) | kw


def refund(entry_id, amount, at, **kw):
    """A ledger refund under the company's own refund id, without the PSP's refund id."""
    return dict(entry_id=entry_id, merchant_reference=f"CRN-{entry_id}", original_reference="ORD1",
                amount_minor=amount, txn_type="refund", booked_at=at) | kw


def psp_refund(n, amount, at, **kw):
    """WeChat's refund row: 商户退款单号 as merchant_reference, 商户订单号 as original_reference."""
    return dict(merchant_reference=f"RFD{n}", psp_reference=f"5030000{n}", original_reference="ORD1",
                amount_minor=amount, fee_minor=0, txn_type="refund", booked_at=at) | kw


PSP_PAYMENT = dict(merchant_reference="ORD1", amount_minor=10000, fee_minor=60, booked_at=ts(1))


@pytest.mark.rule("reversal_reference")
def test_a_partial_refund_pairs_through_its_original_order(con, cfg):
    load(con, ledger(payment(), refund("L2", -2500, ts(3))),
         stmt(PSP_PAYMENT, psp_refund(1, -2500, ts(4))))
    run_day(con, cfg)
    assert links(con) == {("L2", f"{F}:3"): (0, {"original": "ORD1", "difference_minor": 0, "days_apart": 0,
                                                  "candidates": 1, "time_order": None})}
    assert breaks(con) == []


def test_two_refunds_of_one_payment_pair_by_amount(con, cfg):
    load(con, ledger(payment(), refund("L2", -1000, ts(2)), refund("L3", -3000, ts(3))),
         stmt(PSP_PAYMENT, psp_refund(1, -3000, ts(2)), psp_refund(2, -1000, ts(4))))
    run_day(con, cfg)
    assert {k: d for k, (d, _) in links(con).items()} == {("L2", f"{F}:4"): 0, ("L3", f"{F}:3"): 0}
    assert breaks(con) == []


def test_equal_refunds_of_one_payment_pair_in_time_order(con, cfg):
    # which of two equal refunds is which moves no amount: the first booked with the first booked
    load(con, ledger(payment(), refund("L2", -1500, ts(5)), refund("L3", -1500, ts(2))),
         stmt(PSP_PAYMENT, psp_refund(1, -1500, ts(6)), psp_refund(2, -1500, ts(3))))
    run_day(con, cfg)
    got = links(con)
    assert {k: ev["time_order"] for k, (_, ev) in got.items()} == {("L3", f"{F}:4"): 1, ("L2", f"{F}:3"): 2}
    assert {ev["candidates"] for _, ev in got.values()} == {2}
    assert breaks(con) == []


def test_equal_refunds_at_one_time_or_unequal_counts_are_ambiguous(con, cfg):
    # ORD1: two equal ledger refunds, one PSP line: which one it is cannot be told
    # ORD2: two equal refunds booked at the same second on both sides: no time order either
    load(con, ledger(payment(), refund("L2", -1500, ts(2)), refund("L3", -1500, ts(3)),
                     payment(entry_id="L4", merchant_reference="ORD2", booked_at=ts(1)),
                     refund("L5", -700, ts(4), original_reference="ORD2"),
                     refund("L6", -700, ts(4), original_reference="ORD2")),
         stmt(PSP_PAYMENT, psp_refund(1, -1500, ts(4)),
              dict(PSP_PAYMENT, merchant_reference="ORD2"),
              psp_refund(2, -700, ts(5), original_reference="ORD2"),
              psp_refund(3, -700, ts(5), original_reference="ORD2")))
    run_day(con, cfg)
    assert links(con) == {}
    assert breaks(con) == [("ambiguous", "RFD1", None, f"{F}:3"), ("ambiguous", "RFD2", None, f"{F}:5"),
                           ("ambiguous", "RFD3", None, f"{F}:6")]
    candidates = con.execute("SELECT DISTINCT entry_id FROM work_ambiguous WHERE rule = 'reversal_reference' "
                             "ORDER BY 1").fetchall()
    assert candidates == [("L2",), ("L3",), ("L5",), ("L6",)]


def test_a_chargeback_pairs_by_the_order_id_the_psp_gives_as_its_merchant_reference(con, cfg):
    # Stripe's dispute row: payment_metadata[order_id] as merchant and original reference; the
    # ledger books the chargeback under its own case id, without the dispute id
    load(con,
         ledger(dict(entry_id="L1", source="stripe", merchant_reference="CB-77", original_reference="ORD7",
                     txn_type="chargeback", currency="USD", amount_minor=-4200, booked_at=ts(2)),
                dict(entry_id="L2", source="stripe", merchant_reference="CB-78", original_reference="ORD8",
                     txn_type="chargeback", currency="USD", amount_minor=-4200, booked_at=ts(2))),
         stmt(dict(merchant_reference="ORD7", psp_reference="du_1", txn_type="chargeback", amount_minor=-4200,
                   fee_minor=1500, booked_at=ts(3), payment_method="card"),
              dict(merchant_reference="ORD8", psp_reference="du_2", txn_type="chargeback", amount_minor=-4100,
                   fee_minor=1500, booked_at=ts(3), payment_method="card"),
              source="stripe", currency="USD"))
    run_day(con, cfg, sources=("stripe",))
    assert set(links(con)) == {("L1", f"{F}:2")}
    # ORD8: 1.00 apart and no tolerance: both sides reported, never linked
    assert [b[0] for b in breaks(con)] == ["missing_in_ledger", "missing_in_statement"]


def test_a_tolerance_links_a_refund_and_reports_its_difference(con, cfg):
    load(con, ledger(payment(), refund("L2", -2500, ts(3))),
         stmt(PSP_PAYMENT, psp_refund(1, -2499, ts(4))))
    exact = cfg
    run_day(con, with_matching(exact, "wechatpay", amount_tolerance_minor=1))
    assert {k: d for k, (d, _) in links(con).items()} == {("L2", f"{F}:3"): 1}
    assert breaks(con) == []
    rows = warehouse.rows(con, sql.load("report_tolerances"), {"run_id": f"run-{D}"})
    assert rows == [("reversal_reference", "wechatpay", "CNY", "CRN-L2", "RFD1", -2500, -2499, 1, "L2",
                     f"{F}:3", 2)]


def test_exact_by_default_a_one_cent_refund_difference_is_reported(con, cfg):
    load(con, ledger(payment(), refund("L2", -2500, ts(3))),
         stmt(PSP_PAYMENT, psp_refund(1, -2499, ts(4))))
    run_day(con, cfg)
    assert links(con) == {}
    assert [b[0] for b in breaks(con)] == ["missing_in_ledger", "missing_in_statement"]


def test_every_link_within_a_tolerance_is_listed_a_group_once(con, cfg):
    # ORD1: a split capture 0.01 short of its ledger entry (aggregate_reference); ORD2: a pair 0.02
    # over (reference_tolerance); ORD3: exact, not listed
    load(con,
         ledger(payment(amount_minor=10000), payment(entry_id="L2", merchant_reference="ORD2", amount_minor=5000),
                payment(entry_id="L3", merchant_reference="ORD3", amount_minor=700)),
         stmt(dict(PSP_PAYMENT, amount_minor=6000), dict(PSP_PAYMENT, amount_minor=3999),
              dict(PSP_PAYMENT, merchant_reference="ord2", amount_minor=5002),
              dict(PSP_PAYMENT, merchant_reference="ORD3", amount_minor=700)))
    run_day(con, with_matching(cfg, "wechatpay", amount_tolerance_minor=2))
    rows = warehouse.rows(con, sql.load("report_tolerances"), {"run_id": f"run-{D}"})
    assert rows == [("aggregate_reference", "wechatpay", "CNY", "ORD1", "ORD1", 10000, 9999, -1, None, None, 3),
                    ("reference_tolerance", "wechatpay", "CNY", "ORD2", "ord2", 5000, 5002, 2, "L2", f"{F}:4", 2)]


def test_refunds_that_share_their_own_ids_are_reported_not_crossed_through_the_order(con, cfg):
    # both refund ids are on both sides, with the amounts swapped: two amount mismatches, never
    # each ledger refund paired with the other's line because the amounts fit
    load(con, ledger(payment(), refund("L2", -2000, ts(2), merchant_reference="RFD1"),
                     refund("L3", -1000, ts(3), merchant_reference="RFD2")),
         stmt(PSP_PAYMENT, psp_refund(1, -1000, ts(2)), psp_refund(2, -2000, ts(3))))
    run_day(con, cfg)
    assert links(con) == {}
    assert breaks(con) == [("amount_mismatch", "RFD1", "L2", f"{F}:3"), ("amount_mismatch", "RFD2", "L3", f"{F}:4")]


def test_a_refund_booked_with_the_psp_refund_id_pairs_by_that_id(con, cfg):
    # the PSP's reversal id first: the ledger carries 微信退款单号 beside its own credit-note id
    load(con, ledger(payment(), refund("L2", -2500, ts(3), psp_reference="50300001")),
         stmt(PSP_PAYMENT, psp_refund(1, -2500, ts(4))))
    run_day(con, cfg)
    assert links(con) == {}
    assert con.execute("SELECT rule, ledger_entry_id, line_id FROM matches WHERE ledger_entry_id = 'L2'"
                       ).fetchall() == [("exact_reference", "L2", f"{F}:3")]
    assert breaks(con) == []


def test_refunds_booked_under_the_order_id_alone_pair_through_it(con, cfg):
    # a ledger without refund ids: each refund row carries only the order number it refunds, as its
    # own reference (no original_reference column in the export); two partial refunds of one order
    load(con, ledger(payment(), refund("L2", -1000, ts(2), merchant_reference="ORD1", original_reference=None),
                     refund("L3", -3000, ts(3), merchant_reference="ORD1", original_reference=None)),
         stmt(PSP_PAYMENT, psp_refund(1, -3000, ts(2)), psp_refund(2, -1000, ts(4))))
    run_day(con, cfg)
    assert {k: (d, ev["original"]) for k, (d, ev) in links(con).items()} == {
        ("L2", f"{F}:4"): (0, "ORD1"), ("L3", f"{F}:3"): (0, "ORD1")}
    assert breaks(con) == []


def test_a_refund_the_psp_reports_a_day_later_clears_the_ledger_break(con, cfg):
    from datetime import timedelta
    load(con, ledger(payment(), refund("L2", -2500, ts(3))), stmt(PSP_PAYMENT))
    run_day(con, cfg)
    assert breaks(con) == [("missing_in_statement", "CRN-L2", "L2", None)]
    nxt = D + timedelta(days=1)
    later = stmt(psp_refund(1, -2500, ts(2, day=22), business_date=nxt, file_sha256="e" * 64))
    warehouse.insert_frame(con, "statement_lines", later)
    delivered(con, later)
    run_day(con, cfg, day=nxt)
    got = con.execute("SELECT ledger_entry_id, line_id, evidence FROM matches WHERE rule = 'reversal_reference' "
                      "AND run_id = ?", [f"run-{nxt}"]).fetchall()
    assert [(e, ln, json.loads(ev)["days_apart"]) for e, ln, ev in got] == [("L2", "eeeeeeeeeeeeeeee:2", 1)]
    assert con.execute("SELECT category, ledger_entry_id, status FROM breaks WHERE run_id = ? "
                       "AND category <> 'fee_variance' ORDER BY ALL", [f"run-{nxt}"]).fetchall() == [
        ("missing_in_statement", "L2", "auto_cleared")]


def test_a_refund_that_names_the_payments_psp_id_pairs_through_that_payment(con, cfg):
    # the ledger keeps the payment's 微信订单号 as the refund's original; the PSP's refund row names
    # the payment by 商户订单号: paired through the payment line that carries both
    load(con, ledger(payment(psp_reference="4200000001"),
                     refund("L2", -2500, ts(3), original_reference="4200000001")),
         stmt(dict(PSP_PAYMENT, psp_reference="4200000001"), psp_refund(1, -2500, ts(4))))
    run_day(con, cfg)
    assert {k: (d, ev["original"]) for k, (d, ev) in links(con).items()} == {("L2", f"{F}:3"): (0, "4200000001")}
    assert breaks(con) == []
