"""Statement continuity of a bank account across consecutive files: yesterday's closing balance
must be today's opening balance, and the electronic sequence number must not skip.

Balances are not stored in the warehouse (statement_lines holds entries only), so the two files —
the business date's and the latest earlier one of the same source, as loaded and not superseded —
are read back from the archive (re-hashed on read) and their balances put in a small in-memory
table that ``sql/check_statement_chain.sql`` checks. Nothing is written anywhere.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

import duckdb

import sql
from connectors.archive import Archive
from recon import warehouse
from recon.config import Config
from recon.money import to_minor
from schemas import archives

log = logging.getLogger(__name__)

FORMATS = ("camt053", "camt052")  # formats whose statements carry opening and closing balances


@dataclass(frozen=True)
class ChainGap:
    source: str
    account: str
    currency: str
    previous_date: date
    business_date: date
    previous_closing_minor: int | None
    opening_minor: int | None
    previous_sequence: str | None
    sequence: str | None
    balance_gap: bool
    sequence_gap: bool


def _signed(bal: dict | None) -> int | None:
    if not bal or not bal.get("amount") or not bal.get("ccy"):
        return None
    minor = to_minor(bal["amount"], bal["ccy"])
    return -minor if (bal.get("ind") or "").upper() == "DBIT" else minor


def balances(fmt: str, data: bytes, file: str, file_date: date) -> list[tuple]:
    """(account, currency, file_date, sequence, opening, closing) per statement of one file."""
    from schemas.registry import FORMATS as PARSERS
    module = PARSERS[fmt]
    data, file = archives.unwrap(data, file)  # a gzip/zip around the statement (as parse opens it)
    rows = []
    for s in module.read_statements(data, file):
        opening = s.balances.get("OPBD") or s.balances.get("PRCD")
        closing = s.balances.get("CLBD")
        ccy = (closing or opening or {}).get("ccy") or ""
        rows.append((s.account or "", ccy, file_date, s.sequence, _signed(opening), _signed(closing)))
    return rows


def check(rows: list[tuple], business_date: date) -> list[dict]:
    """Run the chain check over balance rows (see ``balances``); the offending rows."""
    con = duckdb.connect(":memory:")
    try:
        con.execute("CREATE TABLE chain_balances (account VARCHAR, currency VARCHAR, file_date DATE, "
                    "sequence VARCHAR, opening_minor BIGINT, closing_minor BIGINT)")
        if rows:
            con.executemany("INSERT INTO chain_balances VALUES (?, ?, ?, ?, ?, ?)", rows)
        cur = con.execute(sql.load("check_statement_chain"), {"business_date": business_date})
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]
    finally:
        con.close()


def gaps(cfg: Config, business_date: date, con=None) -> list[ChainGap]:
    """Gaps between each balance-carrying bank source's file of the day and its previous file;
    ``con``: an open warehouse connection to read the files from (else one is opened)."""
    sources = [s for s in cfg.sources if s.kind == "bank" and s.format in FORMATS]
    if not sources:
        return []
    own = con is None
    if own:
        con = warehouse.connect(cfg.warehouse)
    try:
        files = {s.name: warehouse.rows(con, """
            SELECT sha256, name, business_date FROM files
            WHERE source = ? AND parse_status = 'loaded' AND superseded_by IS NULL
              AND business_date <= ?
              AND business_date >= (SELECT max(business_date) FROM files WHERE source = ?
                                    AND parse_status = 'loaded' AND business_date < ?)
            ORDER BY business_date, name""", [s.name, business_date, s.name, business_date])
            for s in sources}
    finally:
        if own:
            con.close()
    archive, out = Archive(cfg.archive), []
    for s in sources:
        rows = files[s.name]
        if not any(d == business_date for _, _, d in rows):
            continue
        balance_rows = [r for sha, name, d in rows for r in balances(s.format, archive.read(sha), name, d)]
        for g in check(balance_rows, business_date):
            out.append(ChainGap(s.name, g["account"], g["currency"], g["prev_file_date"],
                                g["file_date"], g["prev_closing_minor"], g["opening_minor"],
                                g["prev_sequence"], g["sequence"], g["balance_gap"], g["sequence_gap"]))
    log.info("Statement chain: %d gaps", len(out))
    return out
