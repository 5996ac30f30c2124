"""The matching cascade of one business day, run in DuckDB (set-based, no per-row Python).

Order: the day's items plus what the previous run left open; PSP payouts are cleared against
the bank credits that carry their ids (three-way: items' net, declared payout, bank credit);
repeated lines and entries are set aside as duplicates; each configured rule runs on what the
earlier rules left (reference rules on the merchant reference, then on the PSP reference); what
still shares a reference is paired so its difference is reported; lines with several equally good
counterparts are ambiguous; the rest is timing or missing. Then the fee check against the rate
cards, and the carry-forward bookkeeping (first seen, auto-cleared, open items for tomorrow).
Every link records its rule and evidence in ``matches``; every break its rule in ``breaks``.
"""
from __future__ import annotations

import logging
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb

import sql
from recon.config import RULES, Config
from recon.warehouse import REFERENCE_MACROS, scalar

log = logging.getLogger(__name__)

KEYS = ("merchant_reference", "psp_reference")
REFERENCE_MODES = {"exact_reference": "exact", "normalized_reference": "normalized",
                   "fx_reference": "fx", "reference_tolerance": "tolerance"}
_NEVER = "^\x00"  # a prefix pattern that matches nothing, for sources without prefixes


@dataclass(frozen=True)
class Partitions:
    """The first reference pass, which links the bulk of a day, run per hash partition of its key.

    The open items go to ``directory`` as parquet partitioned by ``hash(merchant_key) % n`` (every
    candidate pair of an item shares its key, so each item's candidates, and so its one-candidate
    counts, are all in one partition); ``map`` runs ``partition_candidates`` for each partition,
    anywhere that sees ``directory`` (on Dask: flows/fanout.py), and returns what each call
    returned. The candidates come back as parquet and are recorded here, as a single-process run
    records them: the same matches, ambiguities and breaks (tests/test_partitions.py, test_dask.py).
    """
    n: int
    directory: Path
    map: Callable[[list[dict]], list]


def partition_candidates(directory: str, part: int, rule: str, mode: str, key: str) -> dict:
    """The candidate pairs (work_cand of match_reference.sql) of one partition, in a DuckDB of its
    own: reads ``directory``/{ledger,stmt}/part=``part`` and rules.parquet, writes
    cand/part-``part``.parquet. Returns its counts and seconds (fanout adds where it ran)."""
    t = time.perf_counter()
    root = Path(directory)
    con = duckdb.connect()
    try:
        con.execute(REFERENCE_MACROS)
        for table, name in (("work_ledger", "ledger"), ("work_stmt", "stmt")):
            con.execute(f"CREATE TEMP TABLE {table} AS SELECT * EXCLUDE (part) FROM read_parquet("
                        f"'{root / name}/*/*.parquet', hive_partitioning = true) WHERE part = {int(part)}")
        con.execute(f"CREATE TEMP TABLE work_rules AS SELECT * FROM read_parquet('{root / 'rules.parquet'}')")
        candidates = sql.statements(sql.render("match_reference", key=key))[0]
        sql.run(con, [candidates], {"rule": rule, "mode": mode})
        out = root / "cand" / f"part-{int(part):05d}.parquet"
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")
        con.execute(f"COPY work_cand TO '{tmp}' (FORMAT parquet)")
        tmp.replace(out)  # the flow never reads a half-written file
        counts = con.execute("SELECT (SELECT count(*) FROM work_ledger), (SELECT count(*) FROM work_stmt), "
                             "(SELECT count(*) FROM work_cand)").fetchone()
    finally:
        con.close()
    return {"part": part, "ledger": counts[0], "lines": counts[1], "pairs": counts[2],
            "seconds": round(time.perf_counter() - t, 3)}


def _match_in_partitions(con, partitions: Partitions, params: dict, rule: str, mode: str, key: str) -> None:
    """match_reference.sql with its candidates (first statement) found per partition."""
    if not scalar(con, "SELECT (SELECT count(*) FROM work_ledger WHERE state IS NULL) > 0 "
                       "AND (SELECT count(*) FROM work_stmt WHERE state IS NULL) > 0"):
        # One side has nothing open: no pair can form, and there is nothing to hand out.
        sql.execute(con, "match_reference", {**params, "rule": rule, "mode": mode}, key=key)
        return
    root = partitions.directory
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    try:
        for table, name in (("work_ledger", "ledger"), ("work_stmt", "stmt")):
            con.execute(f"COPY (SELECT *, hash(merchant_key) % {int(partitions.n)} AS part FROM {table} "
                        f"WHERE state IS NULL) TO '{root / name}' (FORMAT parquet, PARTITION_BY (part))")
        con.execute(f"COPY work_rules TO '{root / 'rules.parquet'}' (FORMAT parquet)")
        done = partitions.map([{"directory": str(root), "part": i, "rule": rule, "mode": mode, "key": key}
                               for i in range(partitions.n)])
        log.info("Reference pass %s in %d partitions: %s candidate pairs", rule, partitions.n,
                 f"{sum(d['pairs'] for d in done):,}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE work_cand AS SELECT * FROM read_parquet('{root / 'cand'}/*.parquet')")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    sql.run(con, sql.statements(sql.render("match_reference", key=key))[1:], {**params, "rule": rule, "mode": mode})


@dataclass(frozen=True)
class MatchResult:
    matched_by_rule: dict[str, int]
    breaks_by_category: dict[str, int]
    auto_cleared: int
    carried_from: str | None


def previous_run(con, business_date: date) -> str | None:
    """The run whose open items this day carries forward: the latest finished run of the latest
    earlier business day."""
    return scalar(con, "SELECT run_id FROM runs WHERE business_date < ? AND status IN ('breaks', 'reconciled') "
                       "ORDER BY business_date DESC, started_at DESC LIMIT 1", [business_date])


def _prefix_pattern(prefixes: tuple[str, ...]) -> str:
    return "^(?:" + "|".join(re.escape(p) for p in prefixes) + ")" if prefixes else _NEVER


def _work_tables(con, cfg: Config, sources: list[str]) -> None:
    con.execute("""CREATE OR REPLACE TEMP TABLE work_rules (
        source VARCHAR, kind VARCHAR, rules VARCHAR[], prefix_re VARCHAR,
        amount_tolerance_minor BIGINT, amount_tolerance_bps BIGINT, window_before_days INTEGER,
        window_after_days INTEGER, timing_window_minutes INTEGER, fee_tolerance_minor BIGINT,
        fx_tolerance_minor BIGINT, fuzzy_threshold DECIMAL(4, 3),
        fuzzy_requires_missing_reference BOOLEAN, max_group INTEGER, tz VARCHAR,
        cutoff_minutes INTEGER)""")
    con.execute("CREATE OR REPLACE TEMP TABLE work_banks (bank VARCHAR, psp VARCHAR)")
    for s in cfg.sources:
        if s.name not in sources:
            continue
        m = s.matching
        con.execute("INSERT INTO work_rules VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?::DECIMAL(4,3), ?, ?, ?, ?)",
                    [s.name, s.kind, list(m.rules), _prefix_pattern(m.reference_prefixes),
                     m.amount_tolerance_minor, m.amount_tolerance_bps, m.window_before_days,
                     m.window_after_days, m.timing_window_minutes, m.fee_tolerance_minor,
                     m.fx_tolerance_minor, m.fuzzy_threshold, m.fuzzy_requires_missing_reference,
                     m.max_group, s.timezone, s.cutoff.hour * 60 + s.cutoff.minute])
        for psp in s.payouts_for:
            if psp in sources:
                con.execute("INSERT INTO work_banks VALUES (?, ?)", [s.name, psp])


def _rule_order(cfg: Config, sources: list[str]) -> list[str]:
    """The rules to run, in the order the sources declare them (first appearance wins)."""
    order: list[str] = []
    for s in cfg.sources:
        if s.name in sources:
            order += [r for r in s.matching.rules if r not in order]
    return [r for r in order if r in RULES]


def _count(con, table: str) -> int:
    return scalar(con, f"SELECT count(*) FROM {table}")


_LATEST = object()


def run_cascade(con, cfg: Config, *, run_id: str, business_date: date, sources: list[str],
                watermark: datetime, inputs: list[str] | None = None, prev_run=_LATEST,
                annotation_watermark: datetime | None = None,
                partitions: Partitions | None = None) -> MatchResult:
    """Match one business day. ``inputs``: the sha256 of the files this run reads for the day
    (default: every file loaded for it); ``prev_run``: whose open items to carry (default: the
    latest earlier run); ``annotation_watermark``: annotations after it are not seen (default:
    ``watermark``). A rerun passes the recorded values of the run it reproduces. ``partitions``:
    find the first merchant-reference pass's candidates per hash partition (see Partitions)."""
    prev = previous_run(con, business_date) if prev_run is _LATEST else prev_run
    params = {"business_date": business_date, "run_id": run_id, "prev_run": prev, "watermark": watermark,
              "annotation_watermark": annotation_watermark or watermark}
    _work_tables(con, cfg, sources)
    con.execute("CREATE OR REPLACE TEMP TABLE work_inputs (sha256 VARCHAR)")
    if inputs is None:
        con.execute("INSERT INTO work_inputs SELECT DISTINCT file_sha256 FROM statement_lines "
                    "WHERE business_date = ? AND file_sha256 NOT IN "  # not a file still loading
                    "(SELECT sha256 FROM files WHERE parse_status <> 'loaded')", [business_date])
    else:
        con.executemany("INSERT INTO work_inputs VALUES (?)", [[sha] for sha in inputs])
    sql.execute(con, "work_sets", params)
    log.info("Working set for %s: %d ledger entries, %d PSP lines, %d bank lines (carried from run %s)",
             business_date, _count(con, "work_ledger"), _count(con, "work_stmt"), _count(con, "work_bank"),
             prev or "none: first day")

    sql.execute(con, "payouts", params)
    # Bank lines no payout explains go through the cascade too (disbursements, 代付: ledger
    # transfers out against bank debits), keyed by their end-to-end id where they have no other.
    con.execute("INSERT INTO work_stmt BY NAME SELECT * EXCLUDE (end_to_end_id) REPLACE ("
                "coalesce(merchant_reference, end_to_end_id) AS merchant_reference), "
                "norm_ref(coalesce(merchant_reference, end_to_end_id)) AS merchant_key "
                "FROM work_bank WHERE state IS NULL")
    sql.execute(con, "mark_duplicates", params)

    # Each matcher links what the earlier ones left and defines work_links over what it linked;
    # those items are closed before the next matcher runs. The first pass links the bulk of the
    # day: set_aside then keeps only the open items in the working sets, in all their columns (the
    # whole day stays in the narrow work_*_all); later passes mark the few they link.
    aside = False

    def close() -> None:
        nonlocal aside
        sql.execute(con, "mark_matched" if aside else "set_aside", {"state": "matched"})
        aside = True

    for rule in _rule_order(cfg, sources):
        if rule == "fuzzy" and not aside:  # it reads columns the narrow sets leave out: widen first
            close()
        if rule in REFERENCE_MODES:
            for key in KEYS:  # close what the merchant-reference pass linked before the PSP-id pass
                mode = REFERENCE_MODES[rule]
                # Partitioned only while the bulk is open, and where the join key is merchant_key
                # itself (normalized mode joins on another normalisation of the reference).
                if partitions and not aside and key == "merchant_reference" and mode != "normalized":
                    _match_in_partitions(con, partitions, params, rule, mode, key)
                else:
                    sql.execute(con, "match_reference", {**params, "rule": rule, "mode": mode}, key=key)
                close()
        elif rule == "aggregate_reference":
            sql.execute(con, "match_aggregate", params)
            close()
        elif rule == "fuzzy":
            sql.execute(con, "match_fuzzy", params)
            close()
    if not aside:  # no rule ran: nothing is linked yet (work_links is empty)
        close()
    for key in KEYS:
        sql.execute(con, "match_reference", {**params, "rule": "reference_mismatch", "mode": "any"}, key=key)
        sql.execute(con, "mark_matched", {"state": "mismatch"})
    sql.execute(con, "mark_ambiguous")

    for name in ("breaks_transactions", "fee_check", "breaks_payouts", "carry_forward"):
        sql.execute(con, name, params)

    matched = dict(con.execute(
        "SELECT rule, count(DISTINCT coalesce(line_id, ledger_entry_id)) FROM matches "
        "WHERE run_id = ? AND rule <> 'reference_mismatch' GROUP BY rule ORDER BY rule", [run_id]).fetchall())
    breaks = dict(con.execute(
        "SELECT category, count(*) FROM breaks WHERE run_id = ? AND status = 'open' "
        "GROUP BY category ORDER BY category", [run_id]).fetchall())
    cleared = scalar(con, "SELECT count(*) FROM breaks WHERE run_id = ? AND status = 'auto_cleared'", [run_id])
    for rule, n in matched.items():
        log.info("Matched by %s: %d", rule, n)
    for category, n in breaks.items():
        log.info("Open breaks %s: %d", category, n)
    if cleared:
        log.info("Breaks auto-cleared by counterparts that arrived: %d", cleared)
    return MatchResult(matched_by_rule=matched, breaks_by_category=breaks, auto_cleared=cleared,
                       carried_from=prev)
