"""The two reference points recon is measured against, on the same files.

- floor: DuckDB reads the three CSV files whole into tables (every column as text) and runs one
  full outer join of the ledger against the statement lines on the merchant reference; the least
  any DuckDB-based reconciler must spend.
- persisted floor (reported beside, not in the ratios): the same three reads written into a
  DuckDB file and checkpointed, as any reconciler that keeps its lines in a warehouse must; the
  gap between the two floors is what storing (compressing, writing) the lines costs by itself.
- pandas: what a team would otherwise write: ``read_csv`` + ``merge(how="outer", indicator=True)``.
  It reads only the join key, amount, currency and type columns (reading every column as Python
  strings does not fit in memory at 10M rows), which flatters pandas.
"""
from __future__ import annotations

import time
from pathlib import Path

WX_REF = "CASE WHEN ltrim(\"交易状态\", '`') = 'REFUND' THEN ltrim(\"商户退款单号\", '`') " \
         "ELSE ltrim(\"商户订单号\", '`') END"
ST_REF = "CASE WHEN reporting_category = 'refund' THEN \"refund_metadata[refund_id]\" " \
         "ELSE \"payment_metadata[order_id]\" END"


def floor(paths: dict[str, Path], temp_dir: Path, memory_limit: str) -> dict:
    import duckdb

    t0 = time.perf_counter()
    temp_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(":memory:", config={"threads": 2, "memory_limit": memory_limit,
                                             "temp_directory": str(temp_dir)})
    try:
        csv = "read_csv({!r}, all_varchar = true, header = true{})"
        con.execute(f"CREATE TABLE ledger AS SELECT * FROM {csv.format(str(paths['ledger']), '')}")
        # The WeChat bill ends in a 7-column summary block: skipped as rows that do not fit.
        con.execute(f"CREATE TABLE wechat AS SELECT * FROM "
                    f"{csv.format(str(paths['wechatpay']), ', ignore_errors = true')}")
        con.execute(f"CREATE TABLE stripe AS SELECT * FROM {csv.format(str(paths['stripe']), '')}")
        t_read = time.perf_counter() - t0
        con.execute(f"""
            CREATE TABLE joined AS
            WITH s AS (SELECT {WX_REF} AS ref, "应结订单金额" AS amount FROM wechat
                       UNION ALL SELECT {ST_REF}, gross FROM stripe)
            SELECT l.entry_id, l.amount AS ledger_amount, s.ref, s.amount AS statement_amount
            FROM ledger l FULL OUTER JOIN s ON s.ref = l.merchant_reference""")
        both, left, right = con.execute(
            "SELECT count(*) FILTER (WHERE entry_id IS NOT NULL AND ref IS NOT NULL), "
            "count(*) FILTER (WHERE ref IS NULL), count(*) FILTER (WHERE entry_id IS NULL) "
            "FROM joined").fetchone()
        rows = con.execute("SELECT (SELECT count(*) FROM ledger), (SELECT count(*) FROM wechat) + "
                           "(SELECT count(*) FROM stripe)").fetchone()
    finally:
        con.close()
    total = time.perf_counter() - t0
    return {"seconds": total, "read_seconds": t_read, "join_seconds": total - t_read,
            "ledger_rows": rows[0], "statement_rows": rows[1],
            "both": both, "ledger_only": left, "statement_only": right}


def floor_persisted(paths: dict[str, Path], work_dir: Path, memory_limit: str) -> dict:
    """The floor's three reads into tables of a DuckDB file, checkpointed (no join)."""
    import duckdb

    work_dir.mkdir(parents=True, exist_ok=True)
    db = work_dir / "floor.duckdb"
    for stale in (db, db.with_name(db.name + ".wal")):
        stale.unlink(missing_ok=True)
    t0, c0 = time.perf_counter(), time.process_time()  # DuckDB's threads are this process's
    con = duckdb.connect(str(db), config={"threads": 2, "memory_limit": memory_limit,
                                          "temp_directory": str(work_dir / "spill")})
    try:
        con.execute("SET enable_progress_bar = false")
        csv = "read_csv({!r}, all_varchar = true, header = true{})"
        for table, key, extra in (("ledger", "ledger", ""), ("wechat", "wechatpay", ", ignore_errors = true"),
                                  ("stripe", "stripe", "")):
            con.execute(f"CREATE TABLE {table} AS SELECT * FROM {csv.format(str(paths[key]), extra)}")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    size = db.stat().st_size
    db.unlink(missing_ok=True)
    return {"seconds": seconds, "cpu_seconds": cpu, "bytes": size}


def pandas_baseline(paths: dict[str, Path]) -> dict:
    import pandas as pd

    t0 = time.perf_counter()
    ledger = pd.read_csv(paths["ledger"], dtype=str, keep_default_na=False,
                         usecols=["entry_id", "merchant_reference", "amount", "currency", "txn_type"])
    wx_cols = ["交易状态", "商户订单号", "商户退款单号", "应结订单金额", "退款金额", "货币种类"]
    wx = pd.read_csv(paths["wechatpay"], dtype=str, keep_default_na=False, usecols=wx_cols)
    wx = wx[wx["商户订单号"] != ""]  # the summary block at the end has fewer columns
    wx = wx.apply(lambda c: c.str.lstrip("`"))
    refund = wx["交易状态"] == "REFUND"
    wx_lines = pd.DataFrame({
        "merchant_reference": wx["商户退款单号"].where(refund, wx["商户订单号"]),
        "statement_amount": wx["退款金额"].where(refund, wx["应结订单金额"]),
        "statement_currency": wx["货币种类"]})
    st = pd.read_csv(paths["stripe"], dtype=str, keep_default_na=False,
                     usecols=["reporting_category", "payment_metadata[order_id]",
                              "refund_metadata[refund_id]", "gross", "currency"])
    st_refund = st["reporting_category"] == "refund"
    st_lines = pd.DataFrame({
        "merchant_reference": st["refund_metadata[refund_id]"].where(
            st_refund, st["payment_metadata[order_id]"]),
        "statement_amount": st["gross"], "statement_currency": st["currency"].str.upper()})
    lines = pd.concat([wx_lines, st_lines], ignore_index=True)
    t_read = time.perf_counter() - t0
    merged = ledger.merge(lines, on="merchant_reference", how="outer", indicator=True)
    counts = merged["_merge"].value_counts()
    total = time.perf_counter() - t0
    out = {"seconds": total, "read_seconds": t_read, "join_seconds": total - t_read,
           "ledger_rows": len(ledger), "statement_rows": len(lines),
           "both": int(counts.get("both", 0)), "ledger_only": int(counts.get("left_only", 0)),
           "statement_only": int(counts.get("right_only", 0)), "pandas": pd.__version__}
    del merged, ledger, lines, wx, st
    return out
