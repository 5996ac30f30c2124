"""The DuckDB warehouse: connection, schema, and the loaders that append to it.

Statement lines are loaded once per file (keyed by the file's sha256); ledger entries are
append-only and bitemporal: a row whose content differs from the entry's latest version is a
correction and is added with a later ``recorded_at``; an identical row adds nothing.
"""
from __future__ import annotations

import functools
import hashlib
import logging
import threading
import time
from contextlib import contextmanager
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl

import sql
from recon import redact, tuning
from recon.errors import ReconError
from recon.ratecard import RateCard

log = logging.getLogger(__name__)

# The reference normalisations alone: all a partition of the reference pass needs (matching.py).
REFERENCE_MACROS = """
CREATE OR REPLACE MACRO norm_ref(x) AS nullif(upper(trim(x)), '');
-- A row's stored normalised reference (ref_key, written at load), or, for a row loaded before that
-- column existed, the reference normalised here. A CASE, not coalesce: DuckDB's coalesce computes
-- its second argument for every row.
CREATE OR REPLACE MACRO stored_ref(k, x) AS CASE WHEN k IS NOT NULL THEN k ELSE norm_ref(x) END;
-- Loose reference: case, surrounding and inner spaces, punctuation, the source's configured
-- prefixes and leading zeros do not count. prefixes: the source's list (upper case, in the order
-- configured); the first one the reference starts with is cut, as the regular expression
-- '^(?:P1|P2|...)' did. Not that expression: a pattern from a column is compiled once per row.
CREATE OR REPLACE MACRO strip_prefix(u, prefixes) AS
    coalesce(substr(u, length(list_filter(prefixes, lambda p: starts_with(u, p))[1]) + 1), u);
CREATE OR REPLACE MACRO norm_loose(x, prefixes) AS
    nullif(ltrim(regexp_replace(strip_prefix(upper(trim(x)), prefixes), '[^0-9A-Z]', '', 'g'), '0'), '');
"""
MACROS = REFERENCE_MACROS + """
-- |amount| × rate rounded to minor units by the project's one rounding rule: round() on DECIMAL
-- is half away from zero. BIGINT × DECIMAL(12, 6) is a DECIMAL(31, 6), computed in 128 bits; the
-- amount as a DECIMAL(18, 0) gives a DECIMAL(18, 6), computed in 64 bits and an order of
-- magnitude faster, exact where the product stays under 10^12: DuckDB would raise on an
-- overflow, so lines of 10^10 minor units or more, or a rate above 1, take the wide branch.
CREATE OR REPLACE MACRO percent_minor(amount, rate) AS
    CASE WHEN abs(amount) < 10000000000 AND rate <= 1
         THEN round(abs(amount)::DECIMAL(18, 0) * rate)::BIGINT
         ELSE round(abs(amount) * rate)::BIGINT END;
-- The expected fee of one line under one rate (recon/ratecard.py, unit for unit).
CREATE OR REPLACE MACRO expected_fee(amount, txn_type, rate, fixed, minimum, maximum, returns) AS
    CASE
      WHEN txn_type = 'payment' THEN
        least(greatest(percent_minor(amount, rate) + fixed, minimum),
              coalesce(maximum, 9223372036854775807))
      WHEN txn_type = 'refund' AND returns THEN -percent_minor(amount, rate)
      ELSE 0
    END;
-- The expected fee of one statement line: the rate the card selects for it (method, card type,
-- amount band, validity; exact beats '*', then latest valid_from, then file order), then
-- expected_fee. recon/ratecard.py RateCard.expected_fee, unit for unit; 0 when no rate applies.
CREATE OR REPLACE MACRO line_fee(p_source, p_method, p_card, p_amount, p_type, p_day) AS coalesce((
    SELECT expected_fee(p_amount, p_type, c.rate, c.fixed_minor, c.minimum_minor, c.maximum_minor,
                        c.refund_returns_fee)
    FROM rate_cards c
    WHERE c.source = p_source
      AND (c.method = p_method OR c.method = '*')
      AND (c.card_type = coalesce(p_card, '') OR c.card_type = '*')
      AND p_day BETWEEN c.valid_from AND coalesce(c.valid_to, DATE '9999-12-31')
      AND abs(p_amount) >= c.band_from_minor
      AND (c.band_to_minor IS NULL OR abs(p_amount) < c.band_to_minor)
    ORDER BY coalesce(c.method = p_method, false) DESC,
             coalesce(c.card_type = coalesce(p_card, ''), false) DESC,
             c.valid_from DESC, c.position
    LIMIT 1), 0);
"""
# line_fees (the whole day) and line_fees_of (only the ids p_lines, the few duplicate lines, by a
# semi join: as a list filter DuckDB read every column of the day in each of its four scans).
_LINE_FEES = """
-- line_fee for every priced line of a day at once, ranked per key and amount segment instead of
-- a subquery per line: the line's id, file, source, date, currency, method, type, amounts, expected_fee.
CREATE OR REPLACE MACRO @signature AS TABLE
-- The card type is read only where a rate card has a card field and a card-type rate (with only
-- '*' rates NULL selects the same rate): card_canonical for the format's own field, else the field
-- out of raw, or, for a line stored with its span, out of its archived file (line_card_field).
WITH fields AS (
    SELECT source, CASE WHEN bool_or(card_type <> '*') THEN any_value(card_field) END AS card_field,
           bool_and(coalesce(card_canonical, false)) AS card_canonical
    FROM rate_cards GROUP BY source
), lines AS NOT MATERIALIZED (  -- scanned twice: cheaper than keeping 10M lines between
    SELECT s.line_id, s.file_sha256, s.source, s.payment_method, s.amount_minor, s.txn_type,
           s.business_date, s.currency, s.fee_minor,
           CASE WHEN f.card_canonical AND s.card_type IS NOT NULL THEN nullif(s.card_type, '')
                ELSE coalesce(json_extract_string(s.raw, '$."' || f.card_field || '"'), c.card_type)
           END AS card_type
    FROM statement_lines s JOIN fields f ON f.source = s.source
    LEFT JOIN line_card_field c ON c.line_id = s.line_id  -- no raw: read from the archive (recon/lineage.py)
    WHERE s.business_date = p_day AND s.txn_type IN ('payment', 'refund') AND s.fee_minor IS NOT NULL
      AND @only
      AND f.card_field IS NOT NULL
    UNION ALL
    SELECT s.line_id, s.file_sha256, s.source, s.payment_method, s.amount_minor, s.txn_type,
           s.business_date, s.currency, s.fee_minor, NULL::VARCHAR AS card_type
    FROM statement_lines s JOIN fields f ON f.source = s.source
    WHERE s.business_date = p_day AND s.txn_type IN ('payment', 'refund') AND s.fee_minor IS NOT NULL
      AND @only
      AND f.card_field IS NULL
), combos AS (  -- a few per source and day
    SELECT DISTINCT source, payment_method, card_type, business_date, txn_type FROM lines
), bounds AS (  -- every amount where some band of the source starts or ends
    SELECT source, band_from_minor AS b FROM rate_cards
    UNION SELECT source, band_to_minor FROM rate_cards WHERE band_to_minor IS NOT NULL
    UNION SELECT source, 0 FROM rate_cards
), segments AS (
    -- Between two consecutive bounds the same bands contain every amount (a band's ends are
    -- bounds), so the rate depends on the line only through (source, method, card type, day,
    -- type, segment): it is chosen once per such key (a few rows per source), and the line's
    -- expected fee worked out from it line by line (not per distinct amount: ~700k keys at 10M).
    SELECT source, b AS lo, lead(b) OVER (PARTITION BY source ORDER BY b) AS hi FROM bounds
), chosen AS (  -- the segments partition [0, ∞): one row per key and segment, rate NULL if none
    SELECT k.*, s.lo, s.hi, c.rate, c.fixed_minor, c.minimum_minor, c.maximum_minor,
           c.refund_returns_fee
    FROM combos k JOIN segments s ON s.source = k.source
    LEFT JOIN rate_cards c
      ON c.source = k.source
     AND (c.method = k.payment_method OR c.method = '*')
     AND (c.card_type = coalesce(k.card_type, '') OR c.card_type = '*')
     AND k.business_date BETWEEN c.valid_from AND coalesce(c.valid_to, DATE '9999-12-31')
     AND s.lo >= c.band_from_minor
     AND (c.band_to_minor IS NULL OR s.lo < c.band_to_minor)
    QUALIFY row_number() OVER (
        PARTITION BY k.source, k.payment_method, k.card_type, k.business_date, k.txn_type, s.lo
        ORDER BY coalesce(c.method = k.payment_method, false) DESC,
                 coalesce(c.card_type = coalesce(k.card_type, ''), false) DESC,
                 c.valid_from DESC, c.position) = 1
)
SELECT l.line_id, l.file_sha256, l.source, l.business_date, l.currency, l.payment_method, l.txn_type,
       l.amount_minor, l.fee_minor,
       CASE WHEN c.rate IS NULL THEN 0  -- no rate applies (least() would skip the NULLs)
            ELSE expected_fee(l.amount_minor, l.txn_type, c.rate, c.fixed_minor, c.minimum_minor,
                              c.maximum_minor, c.refund_returns_fee) END AS expected_fee
FROM lines l JOIN chosen c  -- exactly one row: the line's key and the segment of its amount
  ON c.source = l.source AND c.payment_method IS NOT DISTINCT FROM l.payment_method
 AND c.card_type IS NOT DISTINCT FROM l.card_type AND c.business_date = l.business_date
 AND c.txn_type = l.txn_type
WHERE abs(l.amount_minor) >= c.lo AND (c.hi IS NULL OR abs(l.amount_minor) < c.hi);
"""
MACROS += _LINE_FEES.replace("@signature", "line_fees(p_day)").replace("@only", "true")
MACROS += _LINE_FEES.replace("@signature", "line_fees_of(p_day, p_lines)").replace(
    "@only", "s.line_id IN (SELECT unnest(p_lines))")
MACROS += sql.load("report_window")  # the 30-day reports' window of runs and their files


# Per connection: the card-type fields recon.lineage.read_card_fields read from the archive.
LINE_FIELDS = "CREATE TEMP TABLE IF NOT EXISTS line_card_field (line_id VARCHAR, card_type VARCHAR)"

_SCHEMA_LOCK = threading.Lock()


class WarehouseLocked(ReconError):
    pass


def connect(path: Path | str) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the warehouse file and make sure the schema is in place."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    try:
        con = _open(str(path))
    except duckdb.IOException as e:
        if "lock" in str(e).lower():
            raise WarehouseLocked(
                f"{path}: the warehouse is locked by another process ({e}).",
                hint="Another recon run is probably still writing; wait for it to finish, or "
                     "find it with `fuser " + str(path) + "`. Nothing was changed.") from e
        raise
    con.execute("SET TimeZone = 'UTC'")
    # No row-group merging at checkpoints: each part of a big file is its own commit, and merging
    # its partial row group with its neighbours re-read and recompressed the whole part, doubling a
    # big file's insert time (docs/performance.md). Deleted rows' space is not reclaimed.
    con.execute("SET max_vacuum_tasks = 0")
    apply_settings(con, path)
    with _SCHEMA_LOCK:  # concurrent loads connect at once: catalog writes one at a time
        con.execute(LINE_FIELDS)  # a TEMP table, every connection's own; the macros name it
        if not _schema_current(con):
            sql.execute(con, "ddl")
            con.execute(MACROS)
            con.execute("CREATE OR REPLACE TABLE recon_schema AS SELECT $d AS digest", {"d": _schema_digest()})
    return con


@functools.cache  # the schema this code writes: a warehouse holding its digest needs none
def _schema_digest() -> str:
    return hashlib.sha256((sql.load("ddl") + MACROS).encode()).hexdigest()


def _schema_current(con) -> bool:
    """An earlier version's warehouse (no digest, or another) gets the DDL and macros again."""
    try:
        return con.execute("SELECT digest FROM recon_schema").fetchall() == [(_schema_digest(),)]
    except duckdb.CatalogException:
        return False


def _open(path: str) -> duckdb.DuckDBPyConnection:
    """duckdb.connect, one thread at a time, waiting out the moment when another thread's last
    connection to the same file is closing (DuckDB then refuses to attach it again)."""
    for attempt in range(100):
        try:
            with _SCHEMA_LOCK:
                return duckdb.connect(path)
        except duckdb.Error as e:
            if "Unique file handle conflict" not in str(e) or attempt == 99:
                raise
            time.sleep(0.02)
    raise AssertionError("unreachable")


def apply_settings(con, path: Path | str, spill_dir: Path | None = None) -> None:
    """Resource limits from the environment (per machine, not per config): DuckDB's threads and
    memory limit, and where it spills beyond it (``spill_dir``, else ``RECON_DUCKDB_TEMP``, else
    beside the warehouse file)."""
    if threads := tuning.duckdb_threads():
        con.execute(f"SET threads = {threads}")
    if limit := tuning.duckdb_memory_limit():
        con.execute("SET memory_limit = $limit", {"limit": limit})
    spill = str(spill_dir) if spill_dir else tuning.duckdb_temp() or (
        None if str(path) == ":memory:" else str(Path(path).with_suffix(".tmp")))
    if spill:
        con.execute("SET temp_directory = $dir", {"dir": spill})


def rows(con, query: str, params: list | dict | None = None) -> list[tuple]:
    """All rows of a query. Always fetch to the end: DuckDB refuses a registration (and other
    work) on a connection whose last result was only partly read."""
    return con.execute(query, params or []).fetchall()


def scalar(con, query: str, params: list | dict | None = None):
    result = rows(con, query, params)
    return result[0][0] if result else None


def file_seen(con, sha256: str) -> dict | None:
    found = rows(con, "SELECT source, name, business_date, parse_status, line_count FROM files "
                      "WHERE sha256 = ?", [sha256])
    if not found:
        return None
    return dict(zip(("source", "name", "business_date", "parse_status", "line_count"), found[0]))


def record_file(con, *, sha256: str, source: str, name: str, remote_path: str | None, size: int,
                business_date: date, fmt: str | None, status: str, line_count: int | None,
                control_total: str, error: str = "") -> None:
    con.execute(
        "INSERT OR REPLACE INTO files (sha256, source, name, remote_path, size, fetched_at, business_date, "
        "format, parse_status, line_count, control_total, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [sha256, source, name, remote_path, size, datetime.now(timezone.utc), business_date, fmt,
         status, line_count, control_total, redact.error_text(error)])


@contextmanager
def transaction(con):
    """BEGIN … COMMIT, or ROLLBACK and re-raise."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def clear_file(con, sha256: str) -> None:
    """Remove every row a (half-)load of the file wrote: its lines, ledger versions, quarantine."""
    for table in ("statement_lines", "ledger_entries", "quarantine"):
        con.execute(f"DELETE FROM {table} WHERE file_sha256 = ?", [sha256])


def _arrow(frame: pl.DataFrame):
    """The frame as Arrow without a copy: polars' own string views, which DuckDB reads directly
    (the default large-string export copies every text column first)."""
    return frame.to_arrow(compat_level=pl.CompatLevel.newest())


# The ref_key column of the bulk tables (sql/ddl.sql), computed by DuckDB's own norm_ref as rows
# are inserted, so that it equals what the SQL computes for rows loaded before it existed.
REF_KEY = {"statement_lines": ", norm_ref(coalesce(merchant_reference, psp_reference)) AS ref_key",
           "ledger_entries": ", norm_ref(merchant_reference) AS ref_key"}


def insert_frame(con, table: str, frame: pl.DataFrame) -> int:
    """Append a polars frame by column name (Arrow, no float round trip)."""
    if frame.height == 0:
        return 0
    if table not in ("statement_lines", "quarantine", "ledger_entries"):
        raise ValueError(f"not a loadable table: {table}")
    con.register("incoming", _arrow(frame))
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT *{REF_KEY.get(table, '')} FROM incoming")
    finally:
        con.unregister("incoming")
    return frame.height


def load_ledger(con, frame: pl.DataFrame, *, sha256: str, recorded_at: datetime) -> tuple[int, int]:
    """Append ledger rows that are new or differ from their latest version. Returns (new, same)."""
    if frame.height == 0:
        return 0, 0
    # The file's sha256 and the load's time are constants of the insert, not columns of the
    # frame: a million copies of a 64-character text cost more to hand over than to store.
    version = {"sha": sha256, "at": recorded_at}
    stamped = f"*, $sha AS file_sha256, $at::TIMESTAMPTZ AS recorded_at{REF_KEY['ledger_entries']}"
    con.register("incoming", _arrow(frame.drop("file_sha256", "recorded_at", strict=False)))
    try:
        # The first load of a day: none of its entries exist yet, so every row is new and the
        # compare with the latest versions (a window over the matching history) is skipped. Only
        # versions dated within the incoming rows' business dates are looked for, so the check
        # reads the day's row groups (zone maps), not the whole history: a row none of whose
        # entry's versions carries its business date differs from the latest one at least in that
        # date, and is a new version whatever the rest of it says. The export's own earlier parts
        # are not looked at: an export repeats no entry_id (validation quarantines every repeat).
        lo, hi = frame.select(pl.col("business_date").min().alias("lo"),
                              pl.col("business_date").max().alias("hi")).row(0)
        known = scalar(con, "SELECT count(*) FROM (SELECT 1 FROM ledger_entries "
                            "WHERE business_date BETWEEN $lo AND $hi AND file_sha256 <> $sha "
                            "AND entry_id IN (SELECT entry_id FROM incoming) LIMIT 1)",
                       {"lo": lo, "hi": hi, "sha": sha256})
        if not known:
            con.execute(f"INSERT INTO ledger_entries BY NAME SELECT {stamped} FROM incoming", version)
            return frame.height, 0
        compared = """
            WITH latest AS (
                SELECT * EXCLUDE (v) FROM (
                    SELECT *, row_number() OVER (PARTITION BY entry_id ORDER BY recorded_at DESC) AS v
                    FROM ledger_entries WHERE entry_id IN (SELECT entry_id FROM incoming)) WHERE v = 1)
            SELECT i.* FROM incoming i LEFT JOIN latest l ON l.entry_id = i.entry_id
            WHERE l.entry_id IS NULL
               OR (l.source, l.business_date, l.booked_at, l.txn_type, l.amount_minor, l.currency,
                   l.merchant_reference, l.psp_reference, l.original_reference, l.status, l.hold,
                   l.receiver)
                  IS DISTINCT FROM
                  (i.source, i.business_date, i.booked_at, i.txn_type, i.amount_minor, i.currency,
                   i.merchant_reference, i.psp_reference, i.original_reference, i.status, i.hold,
                   i.receiver)
        """
        con.execute(f"CREATE OR REPLACE TEMP TABLE incoming_new AS {compared}")  # compared once
        new = scalar(con, "SELECT count(*) FROM incoming_new")
        con.execute(f"INSERT INTO ledger_entries BY NAME SELECT {stamped} FROM incoming_new", version)
        con.execute("DROP TABLE incoming_new")
    finally:
        con.unregister("incoming")
    return new, frame.height - new


def day_load(con, business_date, watermark: datetime | None = None) -> tuple[int, datetime | None, bool]:
    """The ledger versions dated ``business_date`` (recorded up to ``watermark``): how many, the
    earliest recorded_at, and whether one load of one file wrote them all. Such a load writes each
    entry at most once (the parser quarantines a repeated entry_id; an unchanged row is not
    written), so its rows are the day's entries, each its own latest version that day."""
    ((n, loaded_at, one),) = rows(
        con, "SELECT count(*), min(recorded_at), min(recorded_at) = max(recorded_at) "
             "AND min(file_sha256) = max(file_sha256) FROM ledger_entries "
             "WHERE business_date = $day AND recorded_at <= coalesce($watermark, recorded_at)",
        {"day": business_date, "watermark": watermark})
    return n, loaded_at, bool(one)


def load_rate_cards(con, cards: dict[str, RateCard], card_fields: dict[str, str | None] | None = None) -> None:
    """Rate cards are configuration: replaced as a whole at the start of every run.
    ``card_fields``: each source's format's own card-type field (``registry.card_type_field``);
    where a card's ``card_type_field`` is that field, the fee check reads the lines' canonical
    ``card_type`` instead of the field out of raw."""
    card_fields = card_fields or {}
    columns = {r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'rate_cards'")
        .fetchall()}
    if "band_from_minor" not in columns:  # a warehouse from before tiers and card types
        con.execute("DROP TABLE IF EXISTS rate_cards")
        sql.execute(con, "ddl")
        con.execute(MACROS)
    con.execute("DELETE FROM rate_cards")
    for source, card in sorted(cards.items()):
        for r in card.rates:
            con.execute(
                "INSERT INTO rate_cards (source, method, card_type, card_field, card_canonical, "
                "band_from_minor, band_to_minor, position, rate, fixed_minor, minimum_minor, "
                "maximum_minor, valid_from, valid_to, refund_returns_fee) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?::DECIMAL(12,6), ?, ?, ?, ?, ?, ?)",
                [source, r.method, r.card_type, card.card_type_field,
                 card.card_type_field is not None
                 and card.card_type_field == card_fields.get(source), r.band_from_minor,
                 r.band_to_minor, r.position, str(r.percent / Decimal(100)), r.fixed_minor,
                 r.minimum_minor, r.maximum_minor, r.valid_from, r.valid_to,
                 r.refund_returns_fee])
