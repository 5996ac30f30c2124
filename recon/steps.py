"""The cascade's steps: each names the temporary ``work_*`` tables and views it reads and writes.

A step is one SQL file of ``sql/`` (or a small Python function) run whole. What it reads must
have been written by an earlier step of the same run; what it writes is there for the later ones;
what it drops is gone. ``Runner`` runs the steps of one run in order, refuses a step whose reads
are not there (no table is shared implicitly), and records the order (tests check it against the
declarations). With ``RECON_KEEP_STEPS=DIR`` it also copies every table a step wrote, as it stands
after the step, to ``DIR/NN_step/table.parquet`` for inspection.

The warehouse's own tables (ledger_entries, statement_lines, matches, breaks, ...) are the run's
inputs and outputs, not steps' work tables, and are not listed. A rule's SQL (recon/rules.py)
follows one contract, so its step is not listed here either: ``rule_step``.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sql
from recon import rules as registry
from recon import tuning


@dataclass(frozen=True)
class Step:
    name: str
    reads: tuple[str, ...] = ()  # must exist before (tables it adds rows to or updates too)
    writes: tuple[str, ...] = ()  # created, replaced or changed; there for later steps
    drops: tuple[str, ...] = ()  # gone after it
    local: tuple[str, ...] = ()  # created and removed within the step
    python: bool = False  # a function of recon, not sql/<name>.sql


def _s(*names: str) -> tuple[str, ...]:
    return tuple(f"work_{n}" for n in names)


_DUP_VIEWS = _s("dup_lines_day", "dup_lines_probe", "dup_lines_extra", "dup_entries_day",
                "dup_entries_probe", "dup_keys")
_DUP_TABLES = _s("dup_day_lines", "dup_day_entries", "dup_extra", "dup_week_lines", "dup_week_entries")
_SETS = _s("ledger", "stmt")

STEPS: dict[str, Step] = {s.name: s for s in (
    # The run's settings and inputs (recon/matching.py, recon/pending.py).
    Step("work_rules", writes=_s("rules", "banks"), python=True),
    Step("work_pending", writes=_s("pending"), python=True),
    Step("work_inputs", writes=_s("inputs"), python=True),
    Step("card_fields", python=True),  # recon.lineage: rate-card fields only the archive holds
    # The working sets: views of the day until the first pass is set aside.
    Step("work_sets", writes=_s("duplicate_entries", "duplicate_lines", "resolved", "carried")),
    Step("work_versions", reads=_s("carried", "duplicate_entries", "rules"),
         writes=_s("versions", "ledger", "ledger_rows")),
    Step("work_versions_one_load", reads=_s("carried", "duplicate_entries", "rules"),
         writes=_s("versions", "ledger", "ledger_rows")),
    Step("work_sets_stmt", reads=_s("carried", "duplicate_lines", "inputs", "ledger_rows", "rules"),
         writes=_s("stmt_more", "stmt_items", "stmt", "bank", "ambiguous", "links", "stmt_fetched",
                   "ledger_fetched")),
    Step("every_source_uses", reads=_s("rules")),
    # The payouts (recon/payout_stage.py): the bank legs, then the ledger's.
    Step("payouts_reference", reads=_s("bank", "banks"), writes=_s("bank_raw", "payout_refs")),
    Step("payouts", reads=_s("bank", "payout_refs", "inputs", "rules"), writes=_s("payouts")),
    Step("payouts_amount", reads=_s("payouts", "bank", "banks", "rules"),
         writes=_s("payout_candidates", "payouts")),
    Step("payouts_close", reads=_s("payouts", "bank"), writes=_s("payouts", "bank")),
    Step("payouts_ledger", reads=_s("payouts", "carried", "rules", "banks"),
         writes=_s("ledger_payout", "payouts_unbooked")),
    Step("bank_unexplained", reads=_s("bank", "stmt_more"), writes=_s("stmt_more")),
    # The duplicate marks, from the whole day or from the first pass's join.
    Step("mark_duplicates_day", reads=_s("ledger", "stmt", "rules"), writes=_DUP_VIEWS),
    Step("mark_duplicates_first_pass", reads=_s("cand", "cand_repeated", "stmt", "stmt_more"),
         writes=_DUP_VIEWS),
    Step("mark_duplicates_week", reads=(*_DUP_VIEWS[:-1], *_s("rules", "versions")), writes=_DUP_TABLES),
    Step("mark_duplicates", reads=(*_DUP_VIEWS, *_DUP_TABLES, *_s(
        "stmt_fetched", "ledger_fetched", "ledger", "duplicate_lines", "duplicate_entries")),
         writes=_s("duplicate_lines", "duplicate_entries"), drops=(*_DUP_VIEWS, *_DUP_TABLES)),
    # What every line of the day gets however it matches.
    Step("fee_prices", reads=_s("inputs", "rules"), writes=_s("fee_groups", "fee_totals")),
    Step("fee_variances", reads=_s("fee_groups", "duplicate_lines", "stmt_fetched", "stmt"),
         writes=_s("fee_variances"), drops=_s("fee_groups")),
    Step("reversals", reads=_s("stmt"), writes=_s("reversals")),
    # A reference pass: its candidates (three ways), its links, its close.
    Step("match_reference", reads=_s("ledger", "stmt", "rules"), writes=_s("cand")),
    Step("partitioned_candidates", reads=_s("ledger", "stmt", "rules"), writes=_s("cand"), python=True),
    Step("first_pass", reads=_s("ledger", "stmt", "rules"), writes=_s("cand", "cand_repeated")),
    Step("first_pass_count", reads=_s("cand", "cand_repeated")),
    Step("first_pass_fetch", reads=_s("cand", "cand_repeated", "dup_week_lines", "dup_week_entries",
                                      "dup_extra", "fee_groups", "stmt_items", "ledger_rows",
                                      "stmt_fetched", "ledger_fetched"),
         writes=_s("stmt_fetched", "ledger_fetched"), local=_s("fetch_lines", "fetch_entries")),
    Step("first_pass_duplicates", reads=_s("cand", "duplicate_entries", "duplicate_lines"),
         writes=_s("cand"), local=_s("cand_dup")),
    Step("first_pass_counts", reads=_s("cand", "cand_repeated", "duplicate_lines", "ledger", "rules"),
         writes=_s("cand", "open_ledger", "open_lines"), drops=_s("cand_repeated"), local=_s("cand_multi")),
    Step("match_reference_links", reads=_s("cand")),
    Step("match_reference_close", reads=_s("cand", "ambiguous"), writes=_s("ambiguous", "links")),
    # Closing what a pass linked.
    Step("unlinked", reads=(*_SETS, "work_links"), writes=_s("open_ledger", "open_lines")),
    Step("set_aside", reads=(*_SETS, *_s("ledger_rows", "stmt_items", "versions", "stmt_more", "open_ledger",
                                         "open_lines", "ledger_fetched", "stmt_fetched", "duplicate_entries",
                                         "duplicate_lines")),
         writes=_SETS, drops=_s("ledger_rows", "stmt_items", "versions", "stmt_more", "open_ledger",
                                "open_lines", "ledger_fetched", "stmt_fetched"),
         local=_s("ledger_open", "stmt_open")),
    Step("mark_matched", reads=(*_SETS, "work_links"), writes=_SETS),
    Step("mark_ambiguous", reads=(*_SETS, "work_ambiguous"), writes=_SETS),
    # The breaks, the fee check and the carry-forward.
    Step("breaks_transactions", reads=(*_SETS, *_s("ambiguous", "rules"))),
    Step("check_allocations", reads=_s("inputs", "resolved", "rules")),
    Step("pending_late", reads=_s("ledger", "pending")),
    Step("fee_check", reads=_s("fee_totals", "fee_variances")),
    Step("fee_duplicates", reads=_s("inputs"), local=_s("fee_duplicates")),
    Step("breaks_payouts", reads=_s("payouts")),
    Step("breaks_payouts_ledger", reads=_s("ledger_payout", "payouts_unbooked", "resolved")),
    Step("carry_forward", reads=(*_SETS, *_s("resolved", "reversals"))),
)}

# Every rule's SQL (recon/rules.py): reads the open items and the settings, writes its candidates
# (work_cand), the view work_links over what it linked, and its ambiguities.
RULE_READS = _s("ledger", "stmt", "rules", "ambiguous")
RULE_WRITES = _s("cand", "links", "ambiguous")


def rule_step(name: str) -> Step:
    """The step of a rule's SQL file (registry.RULES[...].sql)."""
    return Step(name, reads=RULE_READS, writes=RULE_WRITES)


def step(name: str) -> Step:
    if name in STEPS:
        return STEPS[name]
    if any(r.sql == name for r in registry.RULES.values()):
        return rule_step(name)
    raise KeyError(f"{name}: not a step of the cascade (recon/steps.py)")


class Runner:
    """Runs one run's steps in order. ``keep``: a directory to copy each step's written tables to
    (default: ``RECON_KEEP_STEPS``). ``done``: the steps run, in order, with their labels."""

    def __init__(self, con, keep: str | Path | None = None):
        self.con = con
        chosen = keep if keep is not None else tuning.keep_steps()
        self.keep = Path(chosen) if chosen else None
        self.live: set[str] = set()
        self.done: list[tuple[str, str]] = []  # (step name, label)

    def sql(self, name: str, params: dict | None = None, **identifiers: str) -> list[tuple]:
        """Run sql/<name>.sql; the rows of its last statement."""
        return self._run(step(name), lambda: sql.execute(self.con, name, params, **identifiers),
                         identifiers)

    def prepare(self, name: str, params: dict | None = None, **identifiers: str) -> Callable[[], list[tuple]]:
        """sql/<name>.sql as a step to run later (a first pass's links, in the run's transaction)."""
        stmts = sql.statements(sql.render(name, **identifiers) if identifiers else sql.load(name))
        return lambda: self._run(step(name), lambda: sql.run(self.con, stmts, params), identifiers)

    def python(self, name: str, fn: Callable[[], object]):
        """Run a Python step (Step.python): its reads and writes are checked and kept the same way."""
        return self._run(step(name), fn, {})

    def require(self, table: str) -> str:
        """A work table the caller reads between steps: it must be there."""
        if table not in self.live:
            raise RuntimeError(f"{table} is read before any step of this run wrote it (recon/steps.py)")
        return table

    def _run(self, st: Step, fn: Callable[[], object], identifiers: dict):
        missing = [t for t in (*st.reads, *st.drops) if t not in self.live]
        if missing:
            raise RuntimeError(f"step {st.name} reads {', '.join(missing)}, which no earlier step of this "
                               "run wrote (recon/steps.py declares each step's reads and writes)")
        result = fn()
        self.live -= set(st.drops)
        self.live |= set(st.writes)
        label = ".".join([st.name, *identifiers.values()])
        self.done.append((st.name, label))
        if self.keep is not None:
            self._keep(st, label)
        return result

    def _keep(self, st: Step, label: str) -> None:
        folder = self.keep / f"{len(self.done):02d}_{label}"
        folder.mkdir(parents=True, exist_ok=True)
        for table in st.writes:
            path = str(folder / f"{table}.parquet").replace("'", "''")
            self.con.execute(f"COPY (SELECT * FROM {table}) TO '{path}' (FORMAT parquet)")
