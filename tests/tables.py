"""Tiny literal tables for the SQL and matching tests: ledger and statement rows built by hand,
and a day of the cascade run on them (the fixtures ``cfg`` and ``con`` are in conftest.py)."""
from __future__ import annotations

from datetime import date, datetime, timezone

import polars as pl

from recon import warehouse
from recon.matching import run_cascade
from schemas.canonical import LEDGER_COLUMNS, STATEMENT_COLUMNS, conform

D = date(2026, 11, 21)
UTC = timezone.utc


def ts(h, m=0, s=0, day=21):
    # Asia/Shanghai is UTC+8: 09:00 local is 01:00 UTC.
    return datetime(2026, 11, day, h, m, s, tzinfo=UTC)


def _row(r, names: tuple[str, ...]) -> dict:
    """A row given as a dict, or as a tuple of ``names`` whose last is the hour booked (ts)."""
    if isinstance(r, dict):
        return r
    *values, hour = r
    return {**dict(zip(names, values)), "booked_at": ts(hour)}


def ledger(*rows):
    """Ledger entries: dicts, or (entry_id, merchant_reference, amount_minor, hour) tuples."""
    rows = [_row(r, ("entry_id", "merchant_reference", "amount_minor")) for r in rows]
    base = dict(source="wechatpay", business_date=D, txn_type="payment", currency="CNY",
                psp_reference=None, original_reference=None, counterparty=None, description=None)
    frame = pl.DataFrame([{**base, "file_line": i + 2, **r} for i, r in enumerate(rows)],
                         schema_overrides={k: v for k, v in LEDGER_COLUMNS.items()})
    return conform(frame, LEDGER_COLUMNS)


def stmt(*rows, source="wechatpay", currency="CNY"):
    """Statement lines: dicts, or (merchant_reference, amount_minor, fee_minor, hour) tuples."""
    rows = [_row(r, ("merchant_reference", "amount_minor", "fee_minor")) for r in rows]
    base = dict(source=source, file_sha256="f" * 64, business_date=D, txn_type="payment",
                currency=currency, payment_method="JSAPI")
    out = []
    for i, r in enumerate(rows):
        row = {**base, "file_line": i + 2, **r}
        row.setdefault("line_id", f"{row['file_sha256'][:16]}:{row['file_line']}")
        row.setdefault("fee_minor", 0)
        row["net_minor"] = row["amount_minor"] - row["fee_minor"]
        out.append(row)
    frame = pl.DataFrame(out, schema_overrides=STATEMENT_COLUMNS)
    return conform(frame.select([c for c in frame.columns if c in STATEMENT_COLUMNS]))


def run_day(con, cfg, day=D, sources=("wechatpay",), run_id=None):
    run_id = run_id or f"run-{day}"
    con.execute("INSERT INTO runs (run_id, business_date, started_at, status, code_version, config_sha256) "
                "VALUES (?, ?, now(), 'running', 't', 't')", [run_id, day])
    result = run_cascade(con, cfg, run_id=run_id, business_date=day, sources=list(sources),
                         watermark=datetime(2100, 1, 1, tzinfo=UTC))
    con.execute("UPDATE runs SET status = 'breaks', carried_from = ? WHERE run_id = ?",  # as match() does
                [result.carried_from, run_id])
    return result


def with_matching(cfg, source, **settings):
    """``cfg`` with ``source``'s ``[sources.matching]`` settings replaced (e.g. a tolerance)."""
    import dataclasses
    return dataclasses.replace(cfg, sources=[
        dataclasses.replace(s, matching=dataclasses.replace(s.matching, **settings)) if s.name == source else s
        for s in cfg.sources])


def delivered(con, st) -> None:
    """Record the statement files of ``st`` as loaded, as the pipeline does: a source without a
    loaded file for a date is late, and its ledger items wait as pending (sql/pending_late.sql)."""
    for sha, source, day in st.select("file_sha256", "source", "business_date").unique().iter_rows():
        if not con.execute("SELECT 1 FROM files WHERE sha256 = ?", [sha]).fetchall():
            warehouse.record_file(con, sha256=sha, source=source, name=f"{source}.csv", remote_path=None,
                                  size=1, business_date=day, fmt=None, status="loaded", line_count=None,
                                  control_total="n/a")


def load(con, led=None, st=None, sha="l" * 64):
    """Statement lines (recorded as delivered) and ledger entries into the warehouse of a test."""
    if st is not None:
        warehouse.insert_frame(con, "statement_lines", st)
        delivered(con, st)
    if led is not None:
        warehouse.load_ledger(con, led, sha256=sha, recorded_at=datetime(2026, 11, 22, tzinfo=UTC))


def rules_of(con, run_id):
    """{(ledger entry, statement line): rule} of a run's links (None on the side a group leaves out)."""
    return {(e, ln): r for e, ln, r in con.execute(
        "SELECT ledger_entry_id, line_id, rule FROM matches WHERE run_id = ? AND kind = 'ledger_statement' "
        "AND rule <> 'reference_mismatch'",
        [run_id]).fetchall()}


F = "f" * 16


def open_breaks(con, run_id):
    return {(c, r): (f, s) for c, r, f, s in con.execute(
        "SELECT category, reference, first_seen, status FROM breaks WHERE run_id = ? ORDER BY 1, 2",
        [run_id]).fetchall()}
