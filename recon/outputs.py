"""Write a run's reports into one directory: workbook, fee CSV, summary JSON, journal, positions.

Used by the nightly flow and by ``recon rerun`` (which writes into a scratch directory under the
original run's identity and compares the bytes). Output names inside the reports are file names,
never absolute paths, so the same run gives the same bytes wherever it is written.
"""
from __future__ import annotations

import dataclasses
import hashlib
import logging
from datetime import date, datetime
from pathlib import Path

from recon.assemble import build_summary
from recon.chaos import chaos_point
from recon.config import Config
from recon.reports.clearing import write_positions_csv
from recon.reports.fees import write_fee_report
from recon.reports.journal import load_accounts, write_journal
from recon.reports.model import RunSummary, SourceStatus
from recon.reports.summary import write_summary_json
from recon.reports.tieout import check as tie_out
from recon.reports.workbook import write_workbook
from recon.signals import detect as detect_signals

log = logging.getLogger(__name__)


def output_names(business_date: date) -> dict[str, str]:
    d = f"{business_date:%Y-%m-%d}"
    return {"workbook": f"recon_{d}.xlsx", "fees": f"fees_{d}.csv", "summary": f"summary_{d}.json",
            "journal": f"journal_{d}.csv", "positions": f"positions_{d}.csv"}


def journal_accounts(cfg: Config) -> Path | None:
    """journal.toml beside the config file, else the packaged data/journal.toml."""
    beside = Path(cfg.path).parent / "journal.toml"
    return beside if beside.exists() else None


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_reports(cfg: Config, run_id: str, business_date: date, started_at: datetime,
                  statuses: list[SourceStatus], language: str, out: Path, *,
                  display_run_id: str | None = None,
                  finished_at: datetime | None = None) -> tuple[RunSummary, dict[str, Path]]:
    out.mkdir(parents=True, exist_ok=True)
    names = output_names(business_date)
    summary = build_summary(cfg, run_id, business_date, started_at, statuses, names,
                            display_run_id=display_run_id, finished_at=finished_at)
    summary = dataclasses.replace(summary, signals=detect_signals(cfg, summary, run_id))
    accounts = load_accounts(journal_accounts(cfg))
    summary = dataclasses.replace(summary, tie_out=tie_out(summary, accounts))
    paths = {k: out / v for k, v in names.items()}
    log.info("Writing the workbook: %d breaks", len(summary.breaks))
    write_workbook(summary, paths["workbook"], language=language)
    chaos_point("in_reports")
    write_fee_report(summary, paths["fees"])
    write_summary_json(summary, paths["summary"])
    write_journal(summary, paths["journal"], accounts)
    write_positions_csv(summary, paths["positions"])
    return summary, paths
