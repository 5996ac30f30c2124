"""The cascade across sources, key passes and days: bank debits by end-to-end id, one link per
ledger entry across the key passes, a cascade without a reference rule first, and the duplicate
check over the week read from each entry's latest version."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import polars as pl
import pytest

from recon import matching, warehouse
from tests.tables import D, F, ledger, load, open_breaks, rules_of, run_day, stmt, ts, with_matching

UTC = timezone.utc
# Every rule's truth table runs on both routes of the cascade (conftest.route).
pytestmark = pytest.mark.usefixtures("route")


@pytest.mark.one_route  # it runs both routes itself, through the marks
@pytest.mark.parametrize("first_pass_marks", [True, False])
def test_disbursements_match_bank_debits_by_end_to_end_id(con, cfg, caplog, monkeypatch, first_pass_marks):
    """代付: the ledger's transfers out against the bank's debits; a debit nothing explains is
    missing in the ledger, never a timing item (bank lines carry no time of day). The working
    set's count is logged the same whichever route counts it (the first pass's join holds the
    bank lines the cascade added to the PSP lines; the count before it does not)."""
    caplog.set_level("INFO", logger="recon.matching")
    real = matching._marks_in_first_pass
    routes = []
    monkeypatch.setattr(matching, "_marks_in_first_pass",
                        lambda *a, **k: routes.append(real(*a, **k) and first_pass_marks) or routes[-1])
    load(con,
         ledger(dict(entry_id="L1", source="bank", txn_type="transfer", merchant_reference="PAYOUT-SUP-1",
                     amount_minor=-250000, booked_at=ts(3))),
         stmt(dict(end_to_end_id="PAYOUT-SUP-1", txn_type="transfer", amount_minor=-250000, booked_at=ts(0)),
              dict(end_to_end_id="UNKNOWN-9", txn_type="transfer", amount_minor=-1200, booked_at=ts(0)),
              source="bank").with_columns(pl.col("line_id").str.replace("^f+", "b")))
    run_day(con, cfg, sources=("bank",))
    assert routes == [first_pass_marks]
    assert rules_of(con, f"run-{D}") == {("L1", "b:2"): "exact_reference"}
    assert set(open_breaks(con, f"run-{D}")) == {("missing_in_ledger", "UNKNOWN-9")}
    assert "Working set for 2026-11-21: 1 ledger entries, 0 PSP lines, 2 bank lines" in caplog.text


def test_a_ledger_entry_is_never_linked_twice_across_key_passes(con, cfg):
    """L1's merchant reference fits line 2, its PSP id fits line 3: one link, line 3 stays open."""
    load(con,
         ledger(dict(entry_id="L1", merchant_reference="ORD1", psp_reference="42001", amount_minor=500,
                     booked_at=ts(1))),
         stmt(dict(merchant_reference="ORD1", psp_reference="42009", amount_minor=500, fee_minor=3, booked_at=ts(1)),
              dict(merchant_reference="ORD7", psp_reference="42001", amount_minor=500, fee_minor=3, booked_at=ts(2))))
    run_day(con, cfg)
    assert rules_of(con, f"run-{D}") == {("L1", f"{F}:2"): "exact_reference"}
    assert set(open_breaks(con, f"run-{D}")) == {("missing_in_ledger", "ORD7")}


def _with_rules(cfg, source, rules):
    return with_matching(cfg, source, rules=tuple(rules))


@pytest.mark.parametrize("rules", [("fuzzy", "exact_reference"), ()])
def test_cascade_without_a_reference_rule_first(con, cfg, rules):
    """The working sets are narrow until the first pass sets the bulk aside (set_aside.sql): a
    cascade that starts with fuzzy (which reads the counterparty) or runs no rule at all (only the
    closing reference pairing) widens them first and gives the breaks every column."""
    load(con,
         ledger(dict(entry_id="L1", source="stripe", merchant_reference="ORD1", currency="USD", amount_minor=4200,
                     counterparty="ana@example.com", booked_at=ts(1)),
                dict(entry_id="L2", source="stripe", merchant_reference="ORD2", currency="USD", amount_minor=3100,
                     counterparty="bo@example.com", booked_at=ts(2))),
         stmt(dict(merchant_reference=None, psp_reference="ch_1", amount_minor=4200, fee_minor=152,
                   counterparty="Ana@Example.com", booked_at=ts(1), payment_method="card"),
              dict(merchant_reference="ORD2", psp_reference="ch_2", amount_minor=3000, fee_minor=117,
                   counterparty="bo@example.com", booked_at=ts(2), payment_method="card"),
              source="stripe", currency="USD"))
    run_day(con, _with_rules(cfg, "stripe", rules), sources=("stripe",))
    links = rules_of(con, f"run-{D}")
    assert links == ({("L1", f"{F}:2"): "fuzzy"} if rules else {})
    breaks = open_breaks(con, f"run-{D}")
    assert ("amount_mismatch", "ORD2") in breaks  # paired by the closing reference pass
    if not rules:
        assert set(breaks) >= {("missing_in_statement", "ORD1"), ("missing_in_ledger", "ch_1")}


def test_ledger_versions_across_the_duplicate_week(con, cfg):
    """An entry's latest version as of the day decides, whichever side of the week before the day
    its versions are dated: E1 moved into the day from 16 days before is matched; E2, corrected
    but still dated before the week, is not the day's; E3, moved out of the day to 16 days before,
    is not the day's either: their lines are missing in the ledger."""
    old, day_before = D - timedelta(days=16), D - timedelta(days=17)
    first = ledger(dict(entry_id="E1", merchant_reference="ORD-E1", amount_minor=1000, business_date=old,
                        booked_at=ts(1)),
                   dict(entry_id="E2", merchant_reference="ORD-E2", amount_minor=2000, business_date=old,
                        booked_at=ts(1)),
                   dict(entry_id="E3", merchant_reference="ORD-E3", amount_minor=3000, booked_at=ts(1)))
    later = ledger(dict(entry_id="E1", merchant_reference="ORD-E1", amount_minor=1000, booked_at=ts(1)),
                   dict(entry_id="E2", merchant_reference="ORD-E2", amount_minor=2000, business_date=day_before,
                        booked_at=ts(1)),
                   dict(entry_id="E3", merchant_reference="ORD-E3", amount_minor=3000, business_date=old,
                        booked_at=ts(1)))
    warehouse.load_ledger(con, first, sha256="a" * 64, recorded_at=datetime(2026, 11, 1, tzinfo=timezone.utc))
    warehouse.load_ledger(con, later, sha256="b" * 64, recorded_at=datetime(2026, 11, 22, tzinfo=timezone.utc))
    assert con.execute("SELECT count(*) FROM ledger_entries").fetchall() == [(6,)]  # two versions each
    load(con, st=stmt(dict(merchant_reference="ORD-E1", amount_minor=1000, fee_minor=6, booked_at=ts(1)),
                      dict(merchant_reference="ORD-E2", amount_minor=2000, fee_minor=12, booked_at=ts(1)),
                      dict(merchant_reference="ORD-E3", amount_minor=3000, fee_minor=18, booked_at=ts(1))))
    run_day(con, cfg)
    assert {e for (e, _ln) in rules_of(con, f"run-{D}") if e} == {"E1"}
    assert {r for c, r in con.execute("SELECT category, reference FROM breaks WHERE status = 'open'").fetchall()
            if c == "missing_in_ledger"} == {"ORD-E2", "ORD-E3"}


def test_ledger_versions_are_compared_whatever_their_business_date(con):  # noqa: F811 - fixture
    """load_ledger looks for known entries among the versions dated like the incoming rows only
    (so the check does not read the whole history), yet adds exactly the rows that differ from
    their entry's latest version: E1 sent again as it is adds nothing; E2 moved back to the day
    of an older version (the latest is dated a day later) is a new version; E3, known only under
    another date, is one too; E4 is new."""
    at = [datetime(2026, 11, d, tzinfo=timezone.utc) for d in (1, 2, 3)]
    later = D + timedelta(days=1)
    first = ledger(dict(entry_id="E1", merchant_reference="ORD-E1", amount_minor=1000, booked_at=ts(1)),
                   dict(entry_id="E2", merchant_reference="ORD-E2", amount_minor=2000, booked_at=ts(1)),
                   dict(entry_id="E3", merchant_reference="ORD-E3", amount_minor=3000, business_date=later,
                        booked_at=ts(1)))
    moved = ledger(dict(entry_id="E2", merchant_reference="ORD-E2", amount_minor=2000, business_date=later,
                        booked_at=ts(1)))
    again = ledger(dict(entry_id="E1", merchant_reference="ORD-E1", amount_minor=1000, booked_at=ts(1)),
                   dict(entry_id="E2", merchant_reference="ORD-E2", amount_minor=2000, booked_at=ts(1)),
                   dict(entry_id="E3", merchant_reference="ORD-E3", amount_minor=3000, booked_at=ts(1)),
                   dict(entry_id="E4", merchant_reference="ORD-E4", amount_minor=4000, booked_at=ts(1)))
    assert warehouse.load_ledger(con, first, sha256="a" * 64, recorded_at=at[0]) == (3, 0)
    assert warehouse.load_ledger(con, moved, sha256="b" * 64, recorded_at=at[1]) == (1, 0)
    assert warehouse.load_ledger(con, again, sha256="c" * 64, recorded_at=at[2]) == (3, 1)
    latest = dict(con.execute(
        "SELECT entry_id, business_date FROM ledger_entries "
        "QUALIFY row_number() OVER (PARTITION BY entry_id ORDER BY recorded_at DESC) = 1").fetchall())
    assert latest == {"E1": D, "E2": D, "E3": D, "E4": D}
    assert con.execute("SELECT count(*) FROM ledger_entries").fetchone() == (7,)


def test_duplicates_within_the_week_are_found_by_the_latest_version_of_each_entry(con, cfg):  # noqa: F811
    """The duplicate checks look back 7 days for the day's keys: ledger entry B repeats A (3 days
    earlier) and is a duplicate; E repeats what C said before its correction (C's latest version
    in the week has another reference), and is not; G repeats F, which is dated before the week,
    and is not. Statement line L2 repeats L1 of 2 days earlier; L4 repeats L3 of 8 days earlier
    and is not a duplicate."""
    at = [datetime(2026, 11, d, tzinfo=timezone.utc) for d in (10, 20)]
    earlier = ledger(
        dict(entry_id="A", merchant_reference="ORD-X", amount_minor=1000, business_date=D - timedelta(days=3),
             booked_at=ts(1)),
        dict(entry_id="C", merchant_reference="ORD-Y", amount_minor=500, business_date=D - timedelta(days=2),
             booked_at=ts(1)),
        dict(entry_id="F", merchant_reference="ORD-W", amount_minor=300, business_date=D - timedelta(days=9),
             booked_at=ts(1)))
    corrected = ledger(dict(entry_id="C", merchant_reference="ORD-Z", amount_minor=500,
                            business_date=D - timedelta(days=2), booked_at=ts(1)))
    day = ledger(dict(entry_id="B", merchant_reference="ORD-X", amount_minor=1000, booked_at=ts(2)),
                 dict(entry_id="E", merchant_reference="ORD-Y", amount_minor=500, booked_at=ts(2)),
                 dict(entry_id="G", merchant_reference="ORD-W", amount_minor=300, booked_at=ts(2)))
    warehouse.load_ledger(con, earlier, sha256="a" * 64, recorded_at=at[0])
    warehouse.load_ledger(con, corrected, sha256="b" * 64, recorded_at=at[1])
    warehouse.load_ledger(con, day, sha256="c" * 64, recorded_at=at[1])
    warehouse.insert_frame(con, "statement_lines", stmt(
        dict(merchant_reference="ORD-S", amount_minor=700, business_date=D - timedelta(days=2), booked_at=ts(1),
             file_sha256="1" * 64),
        dict(merchant_reference="ORD-T", amount_minor=900, business_date=D - timedelta(days=8), booked_at=ts(1),
             file_sha256="1" * 64, file_line=3)))
    warehouse.insert_frame(con, "statement_lines", stmt(
        dict(merchant_reference="ORD-S", amount_minor=700, booked_at=ts(2), file_sha256="2" * 64),
        dict(merchant_reference="ORD-T", amount_minor=900, booked_at=ts(2), file_sha256="2" * 64, file_line=3)))
    run_day(con, cfg)
    duplicates = con.execute("SELECT coalesce(ledger_entry_id, line_id) FROM breaks "
                             "WHERE run_id = ? AND category = 'duplicate' ORDER BY 1", [f"run-{D}"]).fetchall()
    assert duplicates == [("2222222222222222:2",), ("B",)]


@pytest.mark.parametrize("before_ref_key", [False, True])
def test_earlier_days_are_compared_by_the_reference_key_written_at_load(con, cfg, before_ref_key):  # noqa: F811
    """The duplicate checks and the reversal links read each earlier row's ``ref_key``, the
    normalised reference written as it was loaded; rows loaded before that column existed (NULL)
    are normalised by the SQL instead. Either way: line L2 ('ord-s ' two days later) repeats L1
    ('ORD-S'), entry B repeats A, and the day's refund of ' ord-p' links to the payment 'ORD-P'
    of three days before."""
    earlier_day = D - timedelta(days=3)
    warehouse.load_ledger(con, ledger(
        dict(entry_id="A", merchant_reference=" ord-x", amount_minor=1000, business_date=earlier_day,
             booked_at=ts(1))), sha256="a" * 64, recorded_at=datetime(2026, 11, 10, tzinfo=timezone.utc))
    warehouse.insert_frame(con, "statement_lines", stmt(
        dict(merchant_reference="ORD-S", amount_minor=700, business_date=earlier_day, booked_at=ts(1),
             file_sha256="1" * 64),
        dict(merchant_reference="ORD-P", amount_minor=500, business_date=earlier_day, booked_at=ts(1),
             file_sha256="1" * 64, file_line=3)))
    assert con.execute("SELECT ref_key FROM statement_lines ORDER BY file_line").fetchall() == [("ORD-S",), ("ORD-P",)]
    assert con.execute("SELECT ref_key FROM ledger_entries").fetchall() == [("ORD-X",)]
    warehouse.load_ledger(con, ledger(
        dict(entry_id="B", merchant_reference="ORD-X", amount_minor=1000, booked_at=ts(2)),
        dict(entry_id="M", merchant_reference=" ord-m", amount_minor=4200, booked_at=ts(2))),
        sha256="c" * 64, recorded_at=datetime(2026, 11, 20, tzinfo=timezone.utc))
    warehouse.insert_frame(con, "statement_lines", stmt(
        dict(merchant_reference="ord-s ", amount_minor=700, booked_at=ts(2), file_sha256="2" * 64),
        dict(merchant_reference="RFD-P", original_reference=" ord-p", amount_minor=-200, txn_type="refund",
             booked_at=ts(2), file_sha256="2" * 64, file_line=3),
        dict(merchant_reference="ORD-M ", amount_minor=4200, booked_at=ts(2), file_sha256="2" * 64,
             file_line=4)))
    if before_ref_key:  # both days loaded by a version without the column, matched by this one
        con.execute("UPDATE statement_lines SET ref_key = NULL")
        con.execute("UPDATE ledger_entries SET ref_key = NULL")
    run_day(con, cfg)
    duplicates = con.execute("SELECT coalesce(ledger_entry_id, line_id) FROM breaks "
                             "WHERE run_id = ? AND category = 'duplicate' ORDER BY 1", [f"run-{D}"]).fetchall()
    assert duplicates == [("2222222222222222:2",), ("B",)]
    assert con.execute("SELECT line_id, original_line_id FROM reversal_links").fetchall() == [
        ("2222222222222222:3", "1111111111111111:3")]
    # ' ord-m' and 'ORD-M ' are matched by the normalised reference: nothing but the refund,
    # which has no ledger entry, is missing on either side
    missing = con.execute("SELECT category, coalesce(ledger_entry_id, line_id) FROM breaks WHERE run_id = ? "
                          "AND category LIKE 'missing%' ORDER BY 1, 2", [f"run-{D}"]).fetchall()
    assert missing == [("missing_in_ledger", "2222222222222222:3")]
    assert con.execute("SELECT ledger_entry_id, line_id FROM matches WHERE run_id = ? AND ledger_entry_id = 'M'",
                       [f"run-{D}"]).fetchall() == [("M", "2222222222222222:4")]
