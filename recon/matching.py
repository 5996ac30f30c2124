"""The matching cascade of one business day, run in DuckDB (set-based, no per-row Python).

Order: the day's items plus what the previous run left open; PSP payouts are cleared against
the bank credits that carry their ids or, failing that, their amount and payer (three-way: items'
net, declared payout, bank credit), and the ledger's payouts against them (recon/payout_stage.py);
repeated lines and entries are set aside as duplicates; each configured rule runs on what the
earlier rules left (reference rules on the merchant reference, then on the PSP reference); what
still shares a reference is paired so its difference is reported; lines with several equally good
counterparts are ambiguous; the rest is timing or missing. Then the fee check against the rate
cards, and the carry-forward bookkeeping (first seen, auto-cleared, open items for tomorrow).
Every link records its rule and evidence in ``matches``; every break its rule in ``breaks``.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

import duckdb

import sql
from recon import lineage, routes
from recon import rules as registry
from recon.config import RULES, Config
from recon.partitions import Partitions
from recon.payout_stage import clear_payouts
from recon.pending import work_pending
from recon.steps import Runner
from recon.warehouse import day_load, scalar, transaction

log = logging.getLogger(__name__)

KEYS = ("merchant_reference", "psp_reference")
REFERENCE_MODES = routes.REFERENCE_MODES


@dataclass(frozen=True)
class MatchResult:
    matched_by_rule: dict[str, int]
    breaks_by_category: dict[str, int]
    auto_cleared: int
    carried_from: str | None


# The rules whose every link is one entry and one line (see matched_by_rule).
ONE_TO_ONE = list(REFERENCE_MODES)


def matched_by_rule(con, run_id: str) -> dict[str, int]:
    """The items each rule of a run linked: distinct statement lines (ledger entries for a link
    without a line), reference_mismatch pairs left out. A reference rule links one entry to one
    line (a pair only when each side has exactly one candidate, and both are then closed), so its
    rows are its items and are counted as they are, without the DISTINCT the other rules need
    (docs/performance.md, "Figures behind design choices")."""
    counts = dict(con.execute(
        "SELECT rule, count(*) FROM matches WHERE run_id = ? AND list_contains(?, rule) GROUP BY rule",
        [run_id, ONE_TO_ONE]).fetchall())
    counts.update(con.execute(
        "SELECT rule, count(DISTINCT coalesce(line_id, ledger_entry_id)) FROM matches "
        "WHERE run_id = ? AND rule <> 'reference_mismatch' AND NOT list_contains(?, rule) GROUP BY rule",
        [run_id, ONE_TO_ONE]).fetchall())
    return dict(sorted(counts.items()))


def previous_run(con, business_date: date) -> str | None:
    """The run whose open items this day carries forward: the latest finished run of the latest
    earlier business day."""
    return scalar(con, "SELECT run_id FROM runs WHERE business_date < ? AND status IN ('breaks', 'reconciled') "
                       "ORDER BY business_date DESC, started_at DESC LIMIT 1", [business_date])


def _work_tables(con, cfg: Config, sources: list[str]) -> None:
    """work_rules: one row per source of the run, a column per setting of the rule registry (the
    SQL reads them by name); work_banks: which bank receives which PSP's payouts."""
    settings = list(registry.SETTINGS.values())
    columns = ", ".join(f"{s.column_name} {s.sql_type}" for s in settings)
    con.execute("CREATE OR REPLACE TEMP TABLE work_rules (source VARCHAR, kind VARCHAR, rules VARCHAR[], "
                f"tz VARCHAR, cutoff_minutes INTEGER, payout_lag_days INTEGER, payer_names VARCHAR[], {columns})")
    con.execute("CREATE OR REPLACE TEMP TABLE work_banks (bank VARCHAR, psp VARCHAR, fields VARCHAR[], "
                "pattern VARCHAR)")
    names = ", ".join(["source", "kind", "rules", "tz", "cutoff_minutes", "payout_lag_days", "payer_names",
                       *(s.column_name for s in settings)])
    values = ", ".join(["?"] * 7 + [f"?::{s.sql_type}" for s in settings])
    for s in cfg.sources:
        if s.name not in sources:
            continue
        m = s.matching
        con.execute(f"INSERT INTO work_rules ({names}) VALUES ({values})",
                    [s.name, s.kind, list(m.rules), s.timezone, s.cutoff.hour * 60 + s.cutoff.minute,
                     s.payout_lag_days, list(s.payer_names),
                     *(list(v) if isinstance(v := getattr(m, x.name), tuple) else v for x in settings)])
        for psp in s.payouts_for:
            if psp in sources:
                refs = s.payout_references  # no pattern for the PSP: its id as the whole field
                con.execute("INSERT INTO work_banks VALUES (?, ?, ?, ?)", [
                    s.name, psp, list(refs.fields), refs.patterns.get(psp, "^(.+)$" if not refs.declared else None)])


def _rule_order(cfg: Config, sources: list[str]) -> list[str]:
    """The rules to run, in the order the sources declare them (first appearance wins)."""
    order: list[str] = []
    for s in cfg.sources:
        if s.name in sources:
            order += [r for r in s.matching.rules if r not in order]
    return [r for r in order if r in RULES]


_LATEST = object()


def run_cascade(con, cfg: Config, *, run_id: str, business_date: date, sources: list[str],
                watermark: datetime, inputs: list[str] | None = None, prev_run=_LATEST,
                annotation_watermark: datetime | None = None,
                partitions: Partitions | None = None,
                record: Callable[[duckdb.DuckDBPyConnection, MatchResult], None] | None = None,
                route: str | None = None, keep: str | None = None) -> MatchResult:
    """Match one business day. ``inputs``: the sha256 of the files this run reads for the day
    (default: every file loaded for it that no corrected delivery replaced); ``prev_run``: whose
    open items to carry (default: the latest earlier run); ``annotation_watermark``: annotations
    after it are not seen (default: ``watermark``). A rerun passes the recorded values of the run
    it reproduces. ``partitions``: find the first merchant-reference pass's candidates per hash
    partition (see Partitions). ``route``: ``bulk`` or ``reference`` (recon/routes.py; default
    from ``RECON_MATCH_ROUTE``, else bulk): the same links, breaks and evidence either way.
    ``keep``: a directory each step's tables are copied to (recon/steps.py; default
    ``RECON_KEEP_STEPS``).

    Each step is one SQL file (or a small function) that declares the work tables it reads and
    writes (recon/steps.py). ``con`` must have no transaction open: the working sets and the
    duplicate marks are built statement by statement, so that what they no longer need is freed
    (DuckDB keeps a table dropped inside a transaction, and the old rows of every UPDATE, until it
    ends). Everything the warehouse keeps (matches, breaks, fee report, payouts, open items,
    links) is then written in one transaction, with ``record(con, result)`` last: all or none."""
    chosen = routes.choose(route)
    run = Runner(con, keep)
    prev = previous_run(con, business_date) if prev_run is _LATEST else prev_run
    params = {"business_date": business_date, "run_id": run_id, "prev_run": prev, "watermark": watermark,
              "annotation_watermark": annotation_watermark or watermark}
    run.python("work_rules", lambda: _work_tables(con, cfg, sources))
    run.python("work_pending", lambda: work_pending(con, cfg, sources, business_date))
    run.python("work_inputs", lambda: _work_inputs(con, business_date, inputs))
    run.python("card_fields", lambda: lineage.read_card_fields(con, cfg, business_date))
    _drop_work_sets(con)
    _, loaded_at, one = day_load(con, business_date, watermark)
    for name in work_set_files(one):
        run.sql(name, {**params, "day_loaded_at": loaded_at} if one else params)
    steps = _steps(cfg, sources)
    # Repeated lines and entries are closed as duplicates before any rule. When the first pass
    # is one join on the exact merchant key that every source uses, its join finds them (it
    # keys every item the way the duplicate check does): it marks them itself (routes.BulkRoute).
    marks_in_first_pass = bool(steps) and _marks_in_first_pass(run, chosen, *steps[0], partitions)
    bank = scalar(con, f"SELECT count(*) FROM {run.require('work_bank')}")

    def log_working_set(ledger: int, lines: int) -> None:
        log.info("Working set for %s: %d ledger entries, %d PSP lines, %d bank lines (carried from run %s)",
                 business_date, ledger, lines, bank, prev or "none: first day")

    if not marks_in_first_pass:  # else the first pass's join counts them, below
        log_working_set(*(scalar(con, f"SELECT count(*) FROM {run.require(t)}")
                          for t in ("work_ledger", "work_stmt_items")))
    clear_payouts(run, params)
    banked = run.sql("bank_unexplained")[0][0]  # bank lines no payout explains: disbursements (代付)

    # What every line of the day gets however it matches: its price, and a refund its payment.
    # Both read the whole day, so they run before the first pass sets it aside; the fee
    # variances once the duplicates are marked (when the first pass marks them, the prices
    # before first_pass_fetch.sql, which fetches the variance lines' rows with the others).
    def prices() -> None:
        if marks_in_first_pass:  # its join holds every item once or more: the working set's count
            ledger, lines = run.sql("first_pass_count")[0]
            log_working_set(ledger, lines - banked)
        run.sql("fee_prices", params)

    def day_checks() -> None:
        run.sql("fee_variances")
        run.sql("reversals", params)

    cascade = routes.Cascade(run, params, partitions, chosen)
    if not marks_in_first_pass:
        run.sql("mark_duplicates_day")
        run.sql("mark_duplicates_week", {**params, "all": True})
        run.sql("mark_duplicates", {**params, "all": True})
        prices()
        day_checks()
    # The first pass links the bulk of the day: its candidates are found and the working sets
    # narrowed to what it left open (set_aside.sql) before the transaction, so that the whole
    # day's sets are freed, not held until the run commits. Its links are written first thing in
    # the transaction.
    deferred = None
    if steps and steps[0][0] in REFERENCE_MODES:
        rule, key = steps.pop(0)
        deferred = cascade.reference(rule, key, defer=True,
                                     day_checks=(prices, day_checks) if marks_in_first_pass else None)
    with transaction(con):
        if deferred is not None:
            deferred()
        result = _link_and_report(cascade, params, steps)
        if record is not None:
            record(con, result)
    return result


def _work_inputs(con, business_date: date, inputs: list[str] | None) -> None:
    """work_inputs: the sha256 of the files the run reads for the day."""
    con.execute("CREATE OR REPLACE TEMP TABLE work_inputs (sha256 VARCHAR)")
    if inputs is None:
        con.execute("INSERT INTO work_inputs SELECT DISTINCT file_sha256 FROM statement_lines "
                    "WHERE business_date = ? AND file_sha256 NOT IN "  # not a file still loading,
                    "(SELECT sha256 FROM files WHERE parse_status <> 'loaded' "
                    "OR superseded_by IS NOT NULL)", [business_date])  # nor one a correction replaced
    elif inputs:  # none when every statement file of the day was rejected: the ledger side alone
        con.executemany("INSERT INTO work_inputs VALUES (?)", [[sha] for sha in inputs])


def _marks_in_first_pass(run: Runner, route: routes.ReferenceRoute, rule: str, key: str | None,
                         partitions: Partitions | None) -> bool:
    """Whether the first pass marks the duplicates (routes.BulkRoute.marks_in_first_pass)."""
    return route.marks_in_first_pass(run, rule, key, partitions)


def _drop_work_sets(con) -> None:
    """Drop a former run's work_ledger and work_stmt on this connection: views until the first
    pass, tables after it (set_aside.sql), and DuckDB replaces neither with the other."""
    for name, kind in con.execute(
            "SELECT table_name, table_type FROM information_schema.tables WHERE table_catalog = 'temp' "
            "AND table_name IN ('work_ledger', 'work_stmt')").fetchall():
        con.execute(f"DROP {'VIEW' if kind == 'VIEW' else 'TABLE'} {name}")


def work_set_files(one_load: bool) -> tuple[str, ...]:
    """The working sets' SQL files in order: the ledger's versions the general way
    (work_versions.sql ranks them all) or, when one load of one ledger file wrote every version
    dated the day (the usual day), work_versions_one_load.sql (takes each as it is, reads them
    once, shows every column; needs $day_loaded_at). The same rows either way."""
    return ("work_sets", "work_versions_one_load" if one_load else "work_versions", "work_sets_stmt")


def _work_sets(con, params: dict) -> tuple[list[str], dict]:
    """The working sets' statements (work_set_files) and their parameters (bench/history.py)."""
    _, loaded_at, one = day_load(con, params["business_date"], params["watermark"])
    stmts = [st for name in work_set_files(one) for st in sql.statements(sql.load(name))]
    return stmts, ({**params, "day_loaded_at": loaded_at} if one else params)


def _steps(cfg: Config, sources: list[str]) -> list[tuple[str, str | None]]:
    """The cascade's passes in order: (rule, key), the key of a reference rule's pass (the
    merchant reference, then the PSP id), None for the others."""
    steps: list[tuple[str, str | None]] = []
    for rule in _rule_order(cfg, sources):
        if registry.RULES[rule].kind == "reference":
            steps += [(rule, key) for key in KEYS]
        else:
            steps.append((rule, None))
    return steps


def _link_and_report(cascade: routes.Cascade, params: dict,
                     steps: list[tuple[str, str | None]]) -> MatchResult:
    """The remaining passes, the breaks, the fee check and the carry-forward (run_cascade)."""
    con, run = cascade.con, cascade.run
    run_id = params["run_id"]
    prev = params["prev_run"]
    for rule, key in steps:
        if key is not None:
            cascade.reference(rule, key)
        else:
            cascade.other(rule)
    if not cascade.aside:  # no rule ran: nothing is linked yet (work_links is empty)
        cascade.close()
    for key in KEYS:  # what still shares a reference: paired so that its difference is reported
        for name in ("match_reference", routes.LINKS, routes.CLOSE):
            run.sql(name, {**params, "rule": "reference_mismatch", "mode": "any"}, key=key)
        run.sql("mark_matched", {"state": "mismatch"})
    run.sql("mark_ambiguous")

    for name in ("breaks_transactions", "check_allocations", "pending_late", "fee_check",
                 "breaks_payouts", "breaks_payouts_ledger", "carry_forward"):
        run.sql(name, params)
        if name == "fee_check" and (dups := scalar(
                con, "SELECT list(line_id) FROM breaks WHERE run_id = ? AND category = 'duplicate' "
                     "AND line_id IS NOT NULL", [run_id])):  # the fee report counts what positions count
            run.sql("fee_duplicates", {**params, "lines": dups})

    matched = matched_by_rule(con, run_id)
    breaks = dict(con.execute(
        "SELECT category, count(*) FROM breaks WHERE run_id = ? AND status = 'open' "
        "GROUP BY category ORDER BY category", [run_id]).fetchall())
    cleared = scalar(con, "SELECT count(*) FROM breaks WHERE run_id = ? AND status = 'auto_cleared'", [run_id])
    for source, n in con.execute("SELECT source, count(*) FROM breaks WHERE run_id = ? AND status = 'pending' "
                                 "GROUP BY 1 ORDER BY 1", [run_id]).fetchall():
        log.info("Pending (source late) %s: %d ledger entries", source, n)
    for rule, n in matched.items():
        log.info("Matched by %s: %d", rule, n)
    for category, n in breaks.items():
        log.info("Open breaks %s: %d", category, n)
    if cleared:
        log.info("Breaks auto-cleared by counterparts that arrived: %d", cleared)
    return MatchResult(matched_by_rule=matched, breaks_by_category=breaks, auto_cleared=cleared,
                       carried_from=prev)
