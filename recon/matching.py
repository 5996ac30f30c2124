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
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

import duckdb

import sql
from recon import lineage
from recon import rules as registry
from recon.config import RULES, Config
from recon.errors import ReconError
from recon.partitions import Partitions, candidates_in_partitions
from recon.pending import work_pending
from recon.warehouse import day_load, scalar, transaction

log = logging.getLogger(__name__)

KEYS = ("merchant_reference", "psp_reference")
# A reference pass: its candidate pairs, its links, then its ambiguities and work_links.
REFERENCE_FILES = ("match_reference", "match_reference_links", "match_reference_close")
REFERENCE_MODES = registry.reference_modes()


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
    rows are its items and are counted as they are: the DISTINCT the other rules need took 1.1 s
    over the 10.5M links of a 10M-line day."""
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
                f"tz VARCHAR, cutoff_minutes INTEGER, {columns})")
    con.execute("CREATE OR REPLACE TEMP TABLE work_banks (bank VARCHAR, psp VARCHAR)")
    names = ", ".join(["source", "kind", "rules", "tz", "cutoff_minutes", *(s.column_name for s in settings)])
    values = ", ".join(["?"] * 5 + [f"?::{s.sql_type}" for s in settings])
    for s in cfg.sources:
        if s.name not in sources:
            continue
        m = s.matching
        con.execute(f"INSERT INTO work_rules ({names}) VALUES ({values})",
                    [s.name, s.kind, list(m.rules), s.timezone, s.cutoff.hour * 60 + s.cutoff.minute,
                     *(list(v) if isinstance(v := getattr(m, x.name), tuple) else v for x in settings)])
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
                partitions: Partitions | None = None,
                record: Callable[[duckdb.DuckDBPyConnection, MatchResult], None] | None = None,
                route: str | None = None) -> MatchResult:
    """Match one business day. ``inputs``: the sha256 of the files this run reads for the day
    (default: every file loaded for it that no corrected delivery replaced); ``prev_run``: whose
    open items to carry (default: the latest earlier run); ``annotation_watermark``: annotations
    after it are not seen (default: ``watermark``). A rerun passes the recorded values of the run it reproduces. ``partitions``:
    find the first merchant-reference pass's candidates per hash partition (see Partitions).
    ``route``: ``bulk`` (default) runs the first exact or normalised reference pass as one join
    that also marks the duplicates (first_pass.sql); ``reference`` runs every pass as
    match_reference.sql states it, the duplicates checked over the whole day first. Both give the
    same links, breaks and evidence (tests run the rules' truth tables on both); default from
    ``RECON_MATCH_ROUTE``.

    ``con`` must have no transaction open: the working sets (views of the day until the first
    pass, then tables of what it left open) and the duplicate marks (temporary objects only, and
    the connection's variables recon_business_date and recon_watermark, which the views read) are
    built statement by statement, so that what they no longer need is freed
    (DuckDB keeps a table dropped inside a transaction, and the old rows of every UPDATE, until it
    ends: at 10M lines a day that was 1.8 GB of ledger versions held through the whole match).
    Everything the warehouse keeps (matches, breaks, fee report, payouts, open items, links) is
    then written in one transaction, with ``record(con, result)`` last: all of it or none."""
    bulk = _route(route) == "bulk"
    prev = previous_run(con, business_date) if prev_run is _LATEST else prev_run
    params = {"business_date": business_date, "run_id": run_id, "prev_run": prev, "watermark": watermark,
              "annotation_watermark": annotation_watermark or watermark}
    _work_tables(con, cfg, sources)
    lineage.read_card_fields(con, cfg, business_date)  # a rate card's field that only the archive holds
    work_pending(con, cfg, sources, business_date)
    con.execute("CREATE OR REPLACE TEMP TABLE work_inputs (sha256 VARCHAR)")
    if inputs is None:
        con.execute("INSERT INTO work_inputs SELECT DISTINCT file_sha256 FROM statement_lines "
                    "WHERE business_date = ? AND file_sha256 NOT IN "  # not a file still loading,
                    "(SELECT sha256 FROM files WHERE parse_status <> 'loaded' "
                    "OR superseded_by IS NOT NULL)", [business_date])  # nor one a correction replaced
    elif inputs:  # none when every statement file of the day was rejected: the ledger side alone
        con.executemany("INSERT INTO work_inputs VALUES (?)", [[sha] for sha in inputs])
    _drop_work_sets(con)
    sql.run(con, *_work_sets(con, params))
    steps = _steps(cfg, sources)
    # Repeated lines and entries are closed as duplicates before any rule. When the first pass
    # is one join on the exact merchant key that every source uses, its join finds them (it
    # keys every item the way the duplicate check does): it marks them itself, and then closes
    # them in its own rows (mark_duplicates_first_pass.sql, first_pass_duplicates.sql).
    marks_in_first_pass = bulk and bool(steps) and _marks_in_first_pass(con, *steps[0], partitions)
    bank = _count(con, "work_bank")

    def log_working_set(ledger: int, lines: int) -> None:
        log.info("Working set for %s: %d ledger entries, %d PSP lines, %d bank lines (carried from run %s)",
                 business_date, ledger, lines, bank, prev or "none: first day")

    if not marks_in_first_pass:  # else the first pass's join counts them (_Cascade.reference)
        log_working_set(_count(con, "work_ledger"), _count(con, "work_stmt_items"))

    sql.execute(con, "payouts", params)
    # Bank lines no payout explains go through the cascade too (disbursements, 代付: ledger
    # transfers out against bank debits), keyed by their end-to-end id where they have no other.
    banked = con.execute("INSERT INTO work_stmt_more BY NAME SELECT * EXCLUDE (state) REPLACE ("
                         "coalesce(merchant_reference, end_to_end_id) AS merchant_reference), "
                         "norm_ref(coalesce(merchant_reference, end_to_end_id)) AS merchant_key, false AS of_day "
                         "FROM work_bank WHERE state IS NULL").fetchone()[0]

    # What every line of the day gets however it matches: its price, and a refund its payment.
    # Both read the whole day, so they run before the first pass sets it aside; the fee
    # variances once the duplicates are marked (on the first pass's route, the prices before
    # first_pass_fetch.sql, which fetches the variance lines' rows with the others).
    def prices() -> None:
        sql.execute(con, "fee_prices", params)

    def day_checks() -> None:
        sql.execute(con, "fee_variances")
        sql.execute(con, "reversals", params)

    cascade = _Cascade(con, params, partitions, bulk)
    if marks_in_first_pass:  # its join holds every item once or more: the working set's count
        cascade.count_working_set = lambda ledger, lines: log_working_set(ledger, lines - banked)
    else:
        sql.execute(con, "mark_duplicates_day")
        sql.execute(con, "mark_duplicates_week", {**params, "all": True})
        sql.execute(con, "mark_duplicates", {**params, "all": True})
        prices()
        day_checks()
    # The first pass links the bulk of the day. When it is a reference pass, its candidates are
    # found and the working sets narrowed to what it left open (set_aside.sql) before the
    # transaction: the whole day's sets are then freed, not held until the run commits. Its
    # links are written first thing in the transaction.
    deferred: list[str] = []
    if steps and steps[0][0] in REFERENCE_MODES:
        rule, key = steps.pop(0)
        deferred = cascade.reference(rule, key, defer=True,
                                     day_checks=(prices, day_checks) if marks_in_first_pass else None)
        deferred_params = {**params, "rule": rule, "mode": REFERENCE_MODES[rule]}
    with transaction(con):
        if deferred:
            sql.run(con, deferred, deferred_params)
        result = _link_and_report(cascade, params, steps)
        if record is not None:
            record(con, result)
    return result


ROUTES = ("bulk", "reference")


def _route(route: str | None) -> str:
    chosen = route or os.environ.get("RECON_MATCH_ROUTE", "").strip() or "bulk"
    if chosen not in ROUTES:
        raise ReconError(f"RECON_MATCH_ROUTE={chosen!r}: expected one of {', '.join(ROUTES)}.",
                         hint="Unset it (bulk, the default) or set it to reference to run the plain "
                              "cascade, e.g. to compare the two.")
    return chosen


def _marks_in_first_pass(con, rule: str, key: str | None, partitions: Partitions | None) -> bool:
    """Whether the first pass marks the duplicates (mark_duplicates_first_pass.sql): a single join
    of the exact merchant key, run by a rule that every source of the run uses (so the join
    holds every ledger entry the duplicate check counts)."""
    return (partitions is None and key == "merchant_reference" and REFERENCE_MODES.get(rule) == "exact"
            and bool(scalar(con, "SELECT bool_and(list_contains(rules, ?)) FROM work_rules", [rule])))


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
    """The working sets' statements (work_set_files) and their parameters."""
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


class _Cascade:
    """Runs the passes over the working sets. Each matcher links what the earlier ones left and
    defines work_links over what it linked; those items are closed before the next one runs. The
    first pass links the bulk of the day: set_aside then keeps only the open items in the working
    sets, in all their columns; later passes mark the few they link."""

    def __init__(self, con, params: dict, partitions: Partitions | None, bulk: bool = True):
        self.con, self.params, self.partitions, self.bulk = con, params, partitions, bulk
        self.aside = False
        self.open_known = False  # first_pass.sql wrote which items stay open (work_open_*)
        # Called with the first pass's count of the working set's items (entries, lines), where
        # its join holds them all (run_cascade: when it marks the duplicates).
        self.count_working_set: Callable[[int, int], None] | None = None

    def close(self) -> None:
        if self.aside:
            sql.execute(self.con, "mark_matched", {"state": "matched"})
            return
        if not self.open_known:
            sql.execute(self.con, "unlinked")
        sql.execute(self.con, "set_aside")
        self.aside = True

    def reference(self, rule: str, key: str, defer: bool = False,
                  day_checks: tuple[Callable[[], None], Callable[[], None]] | None = None) -> list[str]:
        """One reference pass, closed. ``defer``: its writes to ``matches`` are not run but
        returned, to be run (after the close) in the run's transaction. ``day_checks``: the
        first pass marks the duplicates between its join and its candidate counts
        (mark_duplicates_first_pass.sql, mark_duplicates_week.sql, mark_duplicates.sql,
        first_pass_duplicates.sql), fetching first the rows that they, the fee variances and the
        close read whole (first_pass_fetch.sql); ``day_checks``: (what runs before that fetch,
        what runs after the pass, before the close)."""
        mode = REFERENCE_MODES[rule]
        params = {**self.params, "rule": rule, "mode": mode}
        candidates, links, close = (sql.statements(sql.render(name, key=key)) for name in REFERENCE_FILES)
        # Partitioned only while the bulk is open, and where the join key is merchant_key
        # itself (normalized mode joins on another normalisation of the reference).
        partitioned = (self.partitions is not None and not self.aside and key == "merchant_reference"
                       and mode != "normalized"
                       and candidates_in_partitions(self.con, self.partitions, rule, mode, key))
        if self.bulk and not partitioned and not self.aside and mode in ("exact", "normalized"):
            # The bulk as one join of equal keys: the same pairs, and what stays open by id.
            sql.execute(self.con, "first_pass", params, key=key)
            if day_checks is not None:
                if self.count_working_set is not None:
                    self.count_working_set(*self.con.execute(sql.load("first_pass_count")).fetchone())
                sql.execute(self.con, "mark_duplicates_first_pass")
                sql.execute(self.con, "mark_duplicates_week", {**params, "all": False})
                day_checks[0]()  # the fee groups, whose variance lines the fetch takes too
                # what the marks, the fee variances and the set-aside read whole, in one scan of
                # the day each
                sql.execute(self.con, "first_pass_fetch")
                sql.execute(self.con, "mark_duplicates", {**params, "all": False})
                sql.execute(self.con, "first_pass_duplicates")
            sql.execute(self.con, "first_pass_counts", params)
            self.open_known = True
        elif day_checks is not None:  # _marks_in_first_pass said this pass would be one join
            raise RuntimeError(f"{rule} on {key} did not run as first_pass.sql: the duplicates are not marked")
        elif not partitioned:
            sql.run(self.con, candidates, params)
        if not defer:
            sql.run(self.con, links, params)
        sql.run(self.con, close, params)
        if day_checks is not None:
            day_checks[1]()
        self.close()
        return links if defer else []

    def other(self, rule: str) -> None:
        """A rule that is not a reference pass: its SQL file from the registry, then closed."""
        found = registry.RULES[rule]
        if found.kind in registry.WHOLE_ROWS and not self.aside:  # it reads columns the views of the day leave out: widen first
            self.close()
        sql.execute(self.con, found.sql, self.params)
        self.close()


def _link_and_report(cascade: _Cascade, params: dict,
                     steps: list[tuple[str, str | None]]) -> MatchResult:
    """The remaining passes, the breaks, the fee check and the carry-forward (run_cascade)."""
    con = cascade.con
    run_id = params["run_id"]
    prev = params["prev_run"]
    for rule, key in steps:
        if key is not None:
            cascade.reference(rule, key)
        else:
            cascade.other(rule)
    if not cascade.aside:  # no rule ran: nothing is linked yet (work_links is empty)
        cascade.close()
    for key in KEYS:
        for name in REFERENCE_FILES:
            sql.execute(con, name, {**params, "rule": "reference_mismatch", "mode": "any"}, key=key)
        sql.execute(con, "mark_matched", {"state": "mismatch"})
    sql.execute(con, "mark_ambiguous")

    for name in ("breaks_transactions", "check_allocations", "pending_late", "fee_check", "breaks_payouts",
                 "carry_forward"):
        sql.execute(con, name, params)
        if name == "fee_check" and (dups := scalar(
                con, "SELECT list(line_id) FROM breaks WHERE run_id = ? AND category = 'duplicate' "
                     "AND line_id IS NOT NULL", [run_id])):  # the fee report counts what positions count
            sql.execute(con, "fee_duplicates", {**params, "lines": dups})

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
