"""The warehouse's schema is written once per code version: a connection to a warehouse that holds
this code's schema digest runs no DDL; one without it (an earlier version's) is upgraded."""
from __future__ import annotations

import duckdb

from recon import warehouse


def _digest(path) -> list[tuple]:
    con = duckdb.connect(str(path))
    try:
        return con.execute("SELECT digest FROM recon_schema").fetchall()
    finally:
        con.close()


def test_a_new_warehouse_records_the_schema_digest_and_is_not_rewritten(tmp_path):
    path = tmp_path / "w.duckdb"
    warehouse.connect(path).close()
    assert _digest(path) == [(warehouse._schema_digest(),)]
    con = duckdb.connect(str(path))
    con.execute("CREATE OR REPLACE MACRO norm_ref(x) AS 'left alone'")  # marks a skipped rewrite
    con.close()
    con = warehouse.connect(path)
    try:
        assert con.execute("SELECT norm_ref(' a ')").fetchone() == ("left alone",)
        # every connection has its own TEMP table for the card fields
        assert con.execute("SELECT count(*) FROM line_card_field").fetchone() == (0,)
    finally:
        con.close()


def test_a_warehouse_with_another_digest_gets_the_ddl_and_macros_again(tmp_path):
    path = tmp_path / "w.duckdb"
    warehouse.connect(path).close()
    con = duckdb.connect(str(path))
    con.execute("UPDATE recon_schema SET digest = 'an earlier version'")
    con.execute("ALTER TABLE statement_lines DROP COLUMN card_type")
    con.execute("CREATE OR REPLACE MACRO norm_ref(x) AS 'old'")
    con.close()
    con = warehouse.connect(path)
    try:
        cols = {r[0] for r in con.execute("SELECT column_name FROM information_schema.columns "
                                          "WHERE table_name = 'statement_lines'").fetchall()}
        assert "card_type" in cols
        assert con.execute("SELECT norm_ref(' a ')").fetchone() == ("A",)
    finally:
        con.close()
    assert _digest(path) == [(warehouse._schema_digest(),)]
