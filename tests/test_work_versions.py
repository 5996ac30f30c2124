"""The day's ledger versions: the one-load statements equal the general ones.

work_sets.sql ranks every version, dated up to the day, of each entry that has a version dated
the day (or is carried), keeps each entry's latest (work_versions) and takes the day's and the
carried ones into work_ledger. When one load of one ledger file wrote every version dated the
day, work_versions_one_load.sql takes the day's versions as they are, straight into work_ledger,
and ranks only the entries a later load moved to an earlier day, and the carried ones (its
work_versions holds those alone). Both are run here on the same random histories and must give
the same work_ledger, and the same versions dated another day (what mark_duplicates.sql reads of
work_versions).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from hypothesis import given, settings, strategies as st

import sql
from recon import warehouse

D = date(2026, 11, 21)
UTC = timezone.utc
T0 = datetime(2026, 11, 20, tzinfo=UTC)
IDS = [f"E{i}" for i in range(6)]

# A load: (hours after T0 it is recorded, {entry: business date offset from D}); one file each.
loads = st.lists(st.tuples(st.integers(0, 200),
                           st.dictionaries(st.sampled_from(IDS), st.integers(-3, 1), max_size=6)),
                 min_size=1, max_size=5)


def _history(con, history, carried) -> None:
    con.execute("DELETE FROM ledger_entries")
    for n, (hours, rows) in enumerate(history):
        for entry, offset in rows.items():
            con.execute("INSERT INTO ledger_entries (entry_id, recorded_at, file_sha256, file_line, source, "
                        "business_date, txn_type, amount_minor, currency, merchant_reference, ref_key) "
                        "VALUES (?, ?, ?, 2, 'wechatpay', ?, 'payment', ?, 'CNY', ?, ?)",
                        [entry, T0 + timedelta(hours=hours, microseconds=n), f"{n:064d}",
                         D + timedelta(days=offset), 100 * n + offset, f"ORD-{entry}", f"ORD-{entry}"])
    con.execute("CREATE OR REPLACE TEMP TABLE work_carried AS SELECT 'ledger' AS kind, unnest(?::VARCHAR[]) AS item_id",
                [sorted(carried)])
    con.execute("CREATE OR REPLACE TEMP TABLE work_rules AS SELECT 'wechatpay' AS source")


def _sets(con, versions: str, params) -> tuple[list[tuple], list[tuple]]:
    """(work_ledger, work_versions' versions dated another day than the day), sorted, as the
    cascade's steps make them: work_sets.sql (its carried items come from open_items: the test's
    own are put back), then ``versions`` (work_versions.sql or work_versions_one_load.sql).
    work_ledger is a view; its rows are read whole through work_ledger_rows (what set_aside.sql
    keeps: the one-load view shows every column itself, the general one fetches them back)."""
    carried = con.execute("SELECT kind, item_id FROM work_carried").fetchall()
    sql.execute(con, "work_sets", {**params, "annotation_watermark": params["watermark"], "prev_run": None})
    if carried:
        con.executemany("INSERT INTO work_carried VALUES (?, ?)", carried)
    sql.execute(con, versions, params)
    columns = ("entry_id, recorded_at, source, business_date, booked_at, txn_type, amount_minor, currency, "
               "merchant_reference, psp_reference")
    return (sorted(con.execute(f"SELECT {columns}, merchant_key, state, file_sha256, file_line "
                               "FROM work_ledger_rows").fetchall()),
            sorted(con.execute(f"SELECT {columns}, ref_key FROM work_versions WHERE business_date <> ?",
                               [D]).fetchall()))


@settings(max_examples=150, deadline=None)
@given(history=loads, carried=st.sets(st.sampled_from(IDS), max_size=3),
       watermark_hours=st.integers(0, 260))
def test_the_one_load_statement_takes_the_same_latest_versions(history, carried, watermark_hours):
    con = warehouse.connect(":memory:")
    try:
        _history(con, history, carried)
        params = {"business_date": D, "watermark": T0 + timedelta(hours=watermark_hours, seconds=1)}
        general = _sets(con, "work_versions", params)
        _, loaded_at, one_load = warehouse.day_load(con, D, params["watermark"])
        day_loads = {(h, n) for n, (h, rows) in enumerate(history)
                     if any(o == 0 for o in rows.values()) and T0 + timedelta(hours=h) <= params["watermark"]}
        assert one_load == (len(day_loads) == 1)  # chosen exactly when one load wrote the day
        if one_load:
            assert _sets(con, "work_versions_one_load", {**params, "day_loaded_at": loaded_at}) == general
    finally:
        con.close()


def test_an_entry_moved_to_an_earlier_day_after_the_days_load_keeps_its_later_version():
    con = warehouse.connect(":memory:")
    try:
        # E0 and E1 arrive dated the day; a later export moves E1 to the day before, and E2 (only
        # ever dated the day before) is carried from yesterday.
        _history(con, [(0, {"E0": 0, "E1": 0}), (30, {"E1": -1, "E2": -1})], carried={"E2"})
        params = {"business_date": D, "watermark": T0 + timedelta(hours=48)}
        _, loaded_at, one_load = warehouse.day_load(con, D, params["watermark"])
        assert one_load and loaded_at == T0  # the one-load statement
        ledger, other_days = _sets(con, "work_versions_one_load", {**params, "day_loaded_at": loaded_at})
        # entry, date, amount: E1's latest version as of the day is the later one, dated the day
        # before, so it leaves the day; E2 is carried
        assert {(r[0], r[3], r[6]) for r in ledger} == {("E0", D, 0), ("E2", D - timedelta(days=1), 99)}
        assert {(r[0], r[3], r[6]) for r in other_days} == {("E1", D - timedelta(days=1), 99),
                                                             ("E2", D - timedelta(days=1), 99)}
    finally:
        con.close()
