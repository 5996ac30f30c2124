"""first_pass.sql (the bulk reference pass as one FULL OUTER JOIN) gives exactly what
match_reference.sql's candidate pairs and unlinked.sql's anti join give, on tiny literal working
sets: the same pairs with the same candidate counts, and the same items left open."""
from __future__ import annotations

from types import SimpleNamespace

import duckdb
import pytest

import sql
from recon.matching import _work_tables
from recon.warehouse import REFERENCE_MACROS

D = "2026-11-21"

LEDGER = [  # entry_id, source, txn_type, amount_minor, merchant_reference, state, business_date
    ("L1", "wechatpay", "payment", 100, "ORD1", None, D),      # one candidate: a link
    ("L2", "wechatpay", "payment", 200, "ORD2", None, D),      # L2, L3 share S2: ambiguous
    ("L3", "wechatpay", "payment", 200, " ord2", None, "2026-11-19"),  # (carried, noisy reference)
    ("L4", "wechatpay", "payment", 400, "ORD4", None, D),      # S4 only when normalized
    ("L6", "wechatpay", "payment", 600, "ORD6", "duplicate", D),  # closed before the pass
    ("L7", "wechatpay", "payment", 700, None, None, D),        # no reference: open
    ("L8", "wechatpay", "refund", -100, "ORD1", None, D),      # same reference, other type: open
    ("L9", "manual", "payment", 900, "ORD9", None, D),         # its source lacks the rule: open
    ("L10", "wechatpay", "payment", 1000, "ORD10", None, D),   # L10 has S10a and S10b: ambiguous
]
LINES = [  # line_id, source, txn_type, amount_minor, merchant_reference, state, business_date
    ("S1", "wechatpay", "payment", 100, "ORD1", None, D),
    ("S2", "wechatpay", "payment", 200, "ORD2", None, D),
    ("S4", "wechatpay", "payment", 400, "ord 4", None, D),
    ("S5", "wechatpay", "payment", 500, "ORD5", None, D),      # no entry: open
    ("S6", "wechatpay", "payment", 600, "ORD6", None, D),      # its entry is closed: open
    ("S9", "manual", "payment", 900, "ORD9", None, D),         # same key as L9, rule not used
    ("S10a", "wechatpay", "payment", 1000, "ORD10", None, D),
    ("S10b", "wechatpay", "payment", 1000, "ord10 ", None, D),
    ("S11", "wechatpay", "payment", 1100, "ORD11", "duplicate", D),  # closed before the pass
]


@pytest.fixture
def con():
    c = duckdb.connect()
    c.execute(REFERENCE_MACROS)
    _work_tables(c, SimpleNamespace(sources=[]), [])  # the run's work_rules, empty
    c.execute("INSERT INTO work_rules (source, kind, rules, prefixes) VALUES "
              "('wechatpay', 'psp', ['exact_reference'], ['ORD-']), ('manual', 'psp', ['fuzzy'], [])")
    for table, id_col, rows in (("work_ledger", "entry_id", LEDGER), ("work_stmt", "line_id", LINES)):
        c.execute(f"CREATE TEMP TABLE {table} ({id_col} VARCHAR, source VARCHAR, txn_type VARCHAR, "
                  "amount_minor BIGINT, merchant_reference VARCHAR, state VARCHAR, business_date DATE, "
                  "currency VARCHAR DEFAULT 'CNY', psp_reference VARCHAR, merchant_key VARCHAR, "
                  "orig_amount_minor BIGINT, orig_currency VARCHAR)")
        c.executemany(f"INSERT INTO {table} ({id_col}, source, txn_type, amount_minor, merchant_reference, "
                      "state, business_date) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        c.execute(f"UPDATE {table} SET merchant_key = norm_ref(merchant_reference)")
    # the marks the state comes from (work_sets.sql): first_pass.sql reads the lines' own
    c.execute("CREATE TEMP TABLE work_duplicate_lines AS SELECT line_id FROM work_stmt WHERE state = 'duplicate'")
    yield c
    c.close()


def _pairs(con):
    return sorted(con.execute("SELECT entry_id, line_id, diff, days, n_l, n_s FROM work_cand "
                              "WHERE n_l > 0 AND n_s > 0").fetchall())


def _open(con):
    return (sorted(r[0] for r in con.execute("SELECT entry_id FROM work_open_ledger").fetchall()),
            sorted(r[0] for r in con.execute("SELECT line_id FROM work_open_lines").fetchall()))


@pytest.mark.parametrize("mode", ["exact", "normalized"])
def test_the_one_join_gives_the_pairs_counts_and_open_items_of_the_pairwise_queries(con, mode):
    params = {"rule": "exact_reference", "mode": mode}
    stmts = sql.statements(sql.render("match_reference", key="merchant_reference"))
    sql.run(con, stmts[:1], params)
    con.execute("CREATE OR REPLACE TEMP VIEW work_links AS "
                "SELECT entry_id, line_id FROM work_cand WHERE n_l = 1 AND n_s = 1")
    expected_pairs = _pairs(con)
    sql.execute(con, "unlinked")
    expected_open = _open(con)

    sql.execute(con, "first_pass", params, key="merchant_reference")
    sql.execute(con, "first_pass_counts", params)
    assert _pairs(con) == expected_pairs
    assert _open(con) == expected_open
    # and what those are: norm_ref trims and upper-cases, so " ord2" and "ord10 " are candidates;
    # norm_loose also drops inner spaces, so "ord 4" is one when normalized
    # (n_l: the entry's candidates, n_s: the line's)
    l4s4 = [("L4", "S4", 0, 0, 1, 1)] if mode == "normalized" else []
    assert expected_pairs == sorted([("L1", "S1", 0, 0, 1, 1), ("L10", "S10a", 0, 0, 2, 1),
                                     ("L10", "S10b", 0, 0, 2, 1), ("L2", "S2", 0, 0, 1, 2),
                                     ("L3", "S2", 0, 2, 1, 2), *l4s4])
    open_l = ["L10", "L2", "L3", "L6", "L7", "L8", "L9"] + ([] if l4s4 else ["L4"])
    open_s = ["S10a", "S10b", "S11", "S2", "S5", "S6", "S9"] + ([] if l4s4 else ["S4"])
    assert expected_open == (sorted(open_l), sorted(open_s))
    # only the links are written as matches; the ambiguous pairs go to work_ambiguous
    links = con.execute("SELECT entry_id, line_id FROM work_cand WHERE n_l = 1 AND n_s = 1").fetchall()
    assert sorted(links) == sorted([("L1", "S1"), *[(e, ln) for e, ln, *_ in l4s4]])
