"""Read one run back out of the warehouse as the typed report model (``RunSummary``)."""
from __future__ import annotations

import json
from datetime import date, datetime, timezone

import sql
from recon import __version__, chain, matching, warehouse
from recon.config import Config
from recon.errors import ReconError
from recon.reports import rollforward
from recon.pending import load_pending
from recon.reports.clearing import positions
from recon.reports.receivers import bill_sources, receiver_positions
from recon.reports.model import (Annotation, Break, ChannelDay, CurrencyTotal, DayRate, FeeLine,
                                 LedgerSide, PayoutLine, RunSummary, SourceStatus, StatementSide,
                                 ToleranceLink)
from recon.reports.rowcheck import warehouse_key


def _rows(con, query: str, params) -> list[dict]:
    cur = con.execute(query, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def load_breaks(con, cfg: Config, run_id: str) -> tuple[Break, ...]:
    """The run's breaks with file, line, first_seen and age, in the workbook's order."""
    tz_of = {s.name: s.timezone for s in cfg.sources}
    aging = con.execute(sql.load("report_aging"), {"run_id": run_id})
    key, seen, age = (_column(aging, n) for n in ("break_id", "first_seen", "age_days"))
    ages = {r[key]: (r[seen], r[age]) for r in aging.fetchall()}
    cur = con.execute(sql.load("report_breaks"), [run_id])
    names = [d[0] for d in cur.description]
    # Columns by position, looked up once: a day's tens of thousands of rows then build their
    # Break without a dict per row.
    at = {n: i for i, n in enumerate(names)}
    ledger_cols = _side_columns(names, "l_")
    line_cols = _side_columns(names, "s_")
    (break_id, category, source, currency, ledger_amount, statement_amount, difference, reference,
     psp_reference, booked_at, entry_id, line_id, file_name, file_line, rule, detail, l_currency,
     s_currency) = (at[n] for n in (
        "break_id", "category", "source", "currency", "ledger_amount_minor", "statement_amount_minor",
        "difference_minor", "reference", "psp_reference", "booked_at", "ledger_entry_id", "line_id",
        "file_name", "file_line", "rule", "detail", "l_currency", "s_currency"))
    out = []
    for r in cur.fetchall():
        first_seen, age_days = ages.get(r[break_id], (None, None))
        out.append(Break(
            break_id=r[break_id], category=r[category], source=r[source], currency=r[currency] or "",
            ledger_amount_minor=r[ledger_amount], statement_amount_minor=r[statement_amount],
            difference_minor=r[difference], reference=r[reference] or "",
            psp_reference=r[psp_reference], booked_at=r[booked_at],
            timezone=tz_of.get(r[source], cfg.timezone), ledger_entry_id=r[entry_id],
            line_id=r[line_id], file_name=r[file_name], file_line=r[file_line], rule=r[rule],
            detail=r[detail] or "", first_seen=first_seen, age_days=age_days,
            ledger=_side(LedgerSide, r, ledger_cols, r[l_currency], entry_id=r[entry_id]),
            statement=_side(StatementSide, r, line_cols, r[s_currency], line_id=r[line_id])))
    return tuple(out)


def _column(cur, name: str) -> int:
    return [d[0] for d in cur.description].index(name)


def _side_columns(names: list[str], prefix: str) -> list[tuple[str, int]]:
    """The ``prefix`` columns of report_breaks.sql: (field name without the prefix, position)."""
    return [(n[len(prefix):], i) for i, n in enumerate(names) if n.startswith(prefix)]


def _side(kind, r: tuple, columns: list[tuple[str, int]], currency, **key):
    """A break's ledger or statement side from the ``l_`` / ``s_`` columns of report_breaks.sql;
    None where the break has no such item (or the item is not in the warehouse)."""
    if next(iter(key.values())) is None or currency is None:
        return None
    return kind(**key, **{name: r[i] for name, i in columns})


def load_annotations(con, break_ids: set[str] | None = None,
                     as_of: datetime | None = None) -> dict[str, tuple[Annotation, ...]]:
    """Every annotation per break_id recorded up to ``as_of``, oldest first (append-only: the
    last one is current)."""
    out: dict[str, list[Annotation]] = {}
    for r in _rows(con, "SELECT * FROM annotations WHERE annotated_at <= coalesce(?, annotated_at) "
                        "ORDER BY break_id, coalesce(version, 0), annotated_at, status, reason, "
                        "comment", [as_of]):
        if break_ids is None or r["break_id"] in break_ids:
            notes = out.setdefault(r["break_id"], [])
            # rows from before versions were stored count in order of time
            notes.append(Annotation(**{**r, "version": r["version"] or len(notes) + 1}))
    return {k: tuple(v) for k, v in out.items()}


def day_entries(con, business_date: date, watermark: datetime | None = None) -> int:
    """The ledger entries with a version dated the day recorded up to ``watermark`` (the run's
    ledger as-of, as the match read it: a correction loaded later is not the run's): its rows when
    one load wrote them all (warehouse.day_load), a DISTINCT otherwise (the costly case)."""
    n, _, one_load = warehouse.day_load(con, business_date, watermark)
    if one_load or not n:
        return n
    return warehouse.scalar(con, "SELECT count(DISTINCT entry_id) FROM ledger_entries WHERE business_date = ? "
                                 "AND recorded_at <= coalesce(?, recorded_at)", [business_date, watermark])


def build_summary(cfg: Config, run_id: str, business_date: date, started_at: datetime,
                  sources: list[SourceStatus], outputs: dict[str, str] | None = None, *,
                  display_run_id: str | None = None, finished_at: datetime | None = None) -> RunSummary:
    """The report model of a run, read as of the run's annotation watermark, so that the same run
    read again (``recon rerun``, under ``display_run_id`` = the original's) gives the same bytes."""
    psps = [s.name for s in cfg.sources if s.kind == "psp"]
    con = warehouse.connect(cfg.warehouse)
    try:
        as_of, ledger_as_of = con.execute(
            "SELECT coalesce(annotation_watermark, now()), ledger_watermark FROM runs WHERE run_id = ?",
            [run_id]).fetchone() or (None, None)
        as_of = as_of or datetime.now(timezone.utc)
        breaks = load_breaks(con, cfg, run_id)
        notes = load_annotations(con, {b.break_id for b in breaks}, as_of)
        fees = tuple(FeeLine(**r) for r in _rows(con, sql.load("report_fees"), {"run_id": run_id}))
        payouts = tuple(
            PayoutLine(source=r["source"], payout_id=r["payout_id"], currency=r["currency"],
                       settled_items=r["items"], settled_net_minor=r["settled_minor"],
                       declared_minor=r["declared_minor"], bank_credit_minor=r["bank_credit_minor"],
                       bank_line_id=r["bank_line_id"], status=r["status"], first_seen=r["first_seen"],
                       matched_by=r["matched_by"], ledger_entry_id=r["ledger_entry_id"],
                       ledger_amount_minor=r["ledger_amount"], ledger_difference_minor=r["ledger_difference"])
            for r in _rows(con, sql.load("report_payouts"), {"run_id": run_id}))
        # The run's matched statement lines, once, for the counts, the history and the channels.
        con.execute("CREATE OR REPLACE TEMP TABLE run_matched_lines AS " + sql.load("run_matched_lines"),
                    {"run_id": run_id, "one": matching.ONE_TO_ONE})
        # The files the run read: a corrected delivery replaces its earlier file, whose lines stay
        # in the warehouse (an earlier run can be reproduced with them) but are not this run's.
        inputs = sorted({s.sha256 for s in sources if s.sha256})
        counts = {**_rows(con, sql.load("report_counts"), [run_id, business_date, inputs, matching.ONE_TO_ONE])[0],
                  "ledger_entries": day_entries(con, business_date, ledger_as_of)}
        matched = matching.matched_by_rule(con, run_id)
        amounts = tuple(CurrencyTotal(*r) for r in con.execute(
            sql.load("report_amounts"), {"run_id": run_id}).fetchall())
        quarantined = con.execute(
            "SELECT count(DISTINCT (file_sha256, file_line)) FROM quarantine WHERE file_sha256 IN "
            "(SELECT unnest(?))", [inputs]).fetchone()[0]
        window = {"run_id": run_id, "business_date": business_date, "as_of": as_of, "inputs": inputs}
        history = tuple(DayRate(**{**r, "run_id": display_run_id or r["run_id"]} if r["run_id"] == run_id else r)
                        for r in _rows(con, sql.load("report_history"),
                                       {**window, "one": matching.ONE_TO_ONE, "matched": counts["matched_statement"]}))
        channels = tuple(ChannelDay(**r) for r in _rows(
            con, sql.load("report_channels"), {**window, "sources": psps}))
        settled = positions(con, run_id, business_date, psps, payouts, inputs)
        receivers = receiver_positions(con, run_id, business_date, bill_sources(cfg), inputs)
        tolerances = tuple(ToleranceLink(**r) for r in _rows(con, sql.load("report_tolerances"),
                                                             {"run_id": run_id}))
        key = warehouse_key(con)
        prev_run = warehouse.scalar(con, "SELECT carried_from FROM runs WHERE run_id = ?", [run_id])
        movements = rollforward.load_movements(con, prev_run, run_id)
        pending = load_pending(con, run_id, business_date)
        gaps = tuple(chain.gaps(cfg, business_date, con))
    finally:
        con.close()
    return RunSummary(
        run_id=display_run_id or run_id, business_date=business_date, started_at=started_at,
        finished_at=finished_at or datetime.now(timezone.utc), code_version=__version__,
        config_sha256=cfg.sha256,
        sources=tuple(sources), ledger_entries=counts["ledger_entries"],
        statement_lines=counts["statement_lines"], matched_ledger=counts["matched_ledger"],
        matched_statement=counts["matched_statement"], matched_by_rule=matched,
        matched_amounts=amounts, quarantined=quarantined, breaks=breaks, fees=fees, payouts=payouts,
        annotations=notes, history=history, channels=channels, positions=settled, tolerances=tolerances,
        movements=movements, bridge=rollforward.bridge(movements, breaks), statement_gaps=gaps,
        outputs=dict(outputs or {}), check_key=key, pending=pending, receivers=receivers)


def latest_run(cfg: Config, business_date: date) -> tuple[str, datetime, list[SourceStatus]]:
    """The business date's latest finished run: its id, start and sources (from its manifest)."""
    con = warehouse.connect(cfg.warehouse)
    try:
        row = con.execute(
            "SELECT run_id, started_at, input_files FROM runs WHERE business_date = ? "
            "AND status IN ('reconciled', 'breaks') ORDER BY started_at DESC LIMIT 1",
            [business_date]).fetchone()
    finally:
        con.close()
    if row is None:
        raise ReconError(f"no finished run for {business_date} in {cfg.warehouse}",
                         hint=f"Run `recon run --date {business_date}` first.")
    statuses = [SourceStatus(**f) for f in json.loads(row[2] or "[]")]  # as finish_run wrote them
    return row[0], row[1], statuses


def break_keys(cfg: Config, run_id: str, *, new_only: bool = False) -> set[tuple[str, str, str]]:
    """(category, source, reference) of the open breaks of a run (``new_only``: those first raised
    by this run's business day): what ground truth is scored on."""
    con = warehouse.connect(cfg.warehouse)
    try:
        return {(c, s, r or "") for c, s, r in con.execute(
            "SELECT category, source, reference FROM breaks WHERE run_id = ? AND status = 'open' "
            "AND (NOT ? OR first_seen = business_date)", [run_id, new_only]).fetchall()}
    finally:
        con.close()
