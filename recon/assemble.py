"""Read one run back out of the warehouse as the typed report model (``RunSummary``)."""
from __future__ import annotations

from datetime import date, datetime, timezone

import sql
from recon import __version__, warehouse
from recon.config import Config
from recon.reports.model import Break, CurrencyTotal, FeeLine, PayoutLine, RunSummary, SourceStatus


def _rows(con, query: str, params: list) -> list[dict]:
    cur = con.execute(query, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def build_summary(cfg: Config, run_id: str, business_date: date, started_at: datetime,
                  sources: list[SourceStatus], outputs: dict[str, str] | None = None) -> RunSummary:
    tz_of = {s.name: s.timezone for s in cfg.sources}
    con = warehouse.connect(cfg.warehouse)
    try:
        breaks = tuple(
            Break(break_id=r["break_id"], category=r["category"], source=r["source"],
                  currency=r["currency"] or "", ledger_amount_minor=r["ledger_amount_minor"],
                  statement_amount_minor=r["statement_amount_minor"],
                  difference_minor=r["difference_minor"], reference=r["reference"] or "",
                  psp_reference=r["psp_reference"], booked_at=r["booked_at"],
                  timezone=tz_of.get(r["source"], cfg.timezone), ledger_entry_id=r["ledger_entry_id"],
                  line_id=r["line_id"], file_name=r["file_name"], file_line=r["file_line"],
                  rule=r["rule"], detail=r["detail"] or "")
            for r in _rows(con, sql.load("report_breaks"), [run_id]))
        fees = tuple(FeeLine(**r) for r in _rows(con, sql.load("report_fees"), [business_date]))
        payouts = tuple(
            PayoutLine(source=r["source"], payout_id=r["payout_id"], currency=r["currency"],
                       settled_items=r["items"], settled_net_minor=r["settled_minor"],
                       declared_minor=r["declared_minor"], bank_credit_minor=r["bank_credit_minor"],
                       bank_line_id=r["bank_line_id"], status=r["status"])
            for r in _rows(con, "SELECT * FROM payouts WHERE run_id = ? ORDER BY source, payout_id", [run_id]))
        counts = _rows(con, sql.load("report_counts"), [run_id, business_date, business_date])[0]
        matched_by_rule = dict(con.execute(
            "SELECT rule, count(*) FROM matches WHERE run_id = ? AND rule <> 'reference_mismatch' "
            "GROUP BY rule ORDER BY rule", [run_id]).fetchall())
        amounts = tuple(CurrencyTotal(*r) for r in con.execute(
            "SELECT s.currency, count(*), sum(s.amount_minor)::BIGINT FROM matches m "
            "JOIN statement_lines s ON s.line_id = m.line_id "
            "WHERE m.run_id = ? AND m.kind = 'ledger_statement' AND m.rule <> 'reference_mismatch' "
            "GROUP BY s.currency ORDER BY s.currency", [run_id]).fetchall())
        quarantined = con.execute(
            "SELECT count(DISTINCT (file_sha256, file_line)) FROM quarantine WHERE file_sha256 IN "
            "(SELECT sha256 FROM files WHERE business_date = ?)", [business_date]).fetchone()[0]
    finally:
        con.close()
    return RunSummary(
        run_id=run_id, business_date=business_date, started_at=started_at,
        finished_at=datetime.now(timezone.utc), code_version=__version__, config_sha256=cfg.sha256,
        sources=tuple(sources), ledger_entries=counts["ledger_entries"],
        statement_lines=counts["statement_lines"], matched_ledger=counts["matched_ledger"],
        matched_statement=counts["matched_statement"], matched_by_rule=matched_by_rule,
        matched_amounts=amounts, quarantined=quarantined, breaks=breaks, fees=fees, payouts=payouts,
        outputs=dict(outputs or {}))


def break_keys(cfg: Config, run_id: str) -> set[tuple[str, str, str]]:
    """(category, source, reference) of every break of a run: what ground truth is scored on."""
    con = warehouse.connect(cfg.warehouse)
    try:
        return {(c, s, r or "") for c, s, r in con.execute(
            "SELECT category, source, reference FROM breaks WHERE run_id = ?", [run_id]).fetchall()}
    finally:
        con.close()
