"""The matching cascade of one business day, run in DuckDB (set-based, no per-row Python).

Order: duplicates are set aside; each configured rule runs on what earlier rules left, on the
merchant reference and then on the PSP reference; what still shares a reference is paired so its
difference is reported (amount/currency mismatch); the rest is timing or missing. Then the fee
check against the rate cards, and the three-way payout check (items ↔ payout ↔ bank credit).
Every link records its rule in ``matches``; every break its rule in ``breaks``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import sql
from recon.config import Config

log = logging.getLogger(__name__)

KEYS = ("merchant_reference", "psp_reference")
MODES = {"exact_reference": "exact", "reference_tolerance": "tolerance"}


@dataclass(frozen=True)
class MatchResult:
    matched_by_rule: dict[str, int]
    breaks_by_category: dict[str, int]


def _day_bounds(business_date: date, tz, cutoff) -> tuple[datetime, datetime]:
    start = datetime.combine(business_date, cutoff, tzinfo=tz)
    end = datetime.combine(business_date + timedelta(days=1), cutoff, tzinfo=tz)
    return start.astimezone(timezone.utc), end.astimezone(timezone.utc)


def _work_tables(con, cfg: Config, business_date: date, sources: list[str]) -> None:
    con.execute("""CREATE OR REPLACE TEMP TABLE work_rules (
        source VARCHAR, rules VARCHAR[], amount_tolerance_minor BIGINT, date_window_days INTEGER,
        timing_window_minutes INTEGER, fee_tolerance_minor BIGINT,
        day_start_utc TIMESTAMPTZ, day_end_utc TIMESTAMPTZ)""")
    con.execute("CREATE OR REPLACE TEMP TABLE work_banks (bank VARCHAR, psp VARCHAR)")
    for s in cfg.sources:
        if s.name not in sources:
            continue
        if s.kind == "psp":
            m = s.matching
            start, end = _day_bounds(business_date, s.tz, s.cutoff)
            con.execute("INSERT INTO work_rules VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [s.name, list(m.rules), m.amount_tolerance_minor, m.date_window_days,
                         m.timing_window_minutes, m.fee_tolerance_minor, start, end])
        else:
            for psp in s.payouts_for:
                con.execute("INSERT INTO work_banks VALUES (?, ?)", [s.name, psp])


def run_cascade(con, cfg: Config, *, run_id: str, business_date: date, sources: list[str],
                watermark: datetime) -> MatchResult:
    params = {"business_date": business_date, "run_id": run_id}
    _work_tables(con, cfg, business_date, sources)
    sql.execute(con, "work_sets", {"business_date": business_date, "watermark": watermark})
    n_l, n_s = (con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("work_ledger", "work_stmt"))
    log.info("Working set for %s: %d ledger entries, %d statement lines", business_date, n_l, n_s)
    sql.execute(con, "mark_duplicates")

    rules = []
    for s in cfg.sources:
        if s.name in sources and s.kind == "psp":
            rules += [r for r in s.matching.rules if r not in rules]
    for rule in rules:
        for key in KEYS:
            sql.execute(con, "match_reference", {"run_id": run_id, "rule": rule, "mode": MODES[rule]},
                        key=key)
            sql.execute(con, "mark_matched", {"run_id": run_id, "rule": rule, "state": "matched"})
    for key in KEYS:
        sql.execute(con, "match_reference", {"run_id": run_id, "rule": "reference_mismatch", "mode": "any"},
                    key=key)
        sql.execute(con, "mark_matched", {"run_id": run_id, "rule": "reference_mismatch", "state": "mismatch"})

    for name in ("breaks_transactions", "fee_check", "payouts", "breaks_payouts"):
        sql.execute(con, name, params)

    matched = dict(con.execute(
        "SELECT rule, count(*) FROM matches WHERE run_id = ? AND rule <> 'reference_mismatch' "
        "GROUP BY rule ORDER BY rule", [run_id]).fetchall())
    breaks = dict(con.execute(
        "SELECT category, count(*) FROM breaks WHERE run_id = ? GROUP BY category ORDER BY category",
        [run_id]).fetchall())
    for rule, n in matched.items():
        log.info("Matched by %s: %d", rule, n)
    for category, n in breaks.items():
        log.info("Breaks %s: %d", category, n)
    return MatchResult(matched_by_rule=matched, breaks_by_category=breaks)
