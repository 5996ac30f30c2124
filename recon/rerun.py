"""`recon rerun`: reproduce a past run from the archive and its manifest alone, and prove it.

No SFTP: every input is read back from the content-addressed archive (its hash verified) and
parsed again; the day is matched with exactly the run's input files, its ledger and annotation
watermarks and the open items of the same earlier run; the reports are written under the
original run's identity into a scratch directory (``recon-rerun-<run id>-…`` in the temporary
directory, removed afterwards unless kept) and compared byte for byte with the recorded outputs.
The files in the run's reports folder are hashed again too: a report edited on disk since the
night no longer matches its manifest. The reproduction is recorded as a run of its own
(``rerun_of``), never as the day's latest run.
"""
from __future__ import annotations

import json
import logging
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

import polars as pl

from connectors.archive import Archive
from recon import pipeline, runs, warehouse
from recon.audit import get_run
from recon.config import Config
from recon.errors import ReconError
from recon.matching import MatchResult, run_cascade
from recon.outputs import sha256_of, write_reports
from recon.reports.model import SourceStatus
from recon.runday import Day, Stages, run_day
from schemas import registry
from schemas.ledger import parse_ledger_parts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RerunResult:
    original: str
    rerun_id: str
    identical: bool
    differences: tuple[str, ...]
    outputs: dict[str, str]  # name -> path in the scratch directory (gone unless kept)
    hashes: dict[str, str] = field(default_factory=dict)  # name -> sha256 of the reproduction
    scratch: str = ""  # where the reproduction was written
    kept: bool = False


def original_run(con, business_date: date, run_id: str | None) -> dict:
    if run_id is None:
        run_id = warehouse.scalar(
            con, "SELECT run_id FROM runs WHERE business_date = ? AND status IN ('reconciled', 'breaks') "
                 "AND rerun_of IS NULL ORDER BY started_at DESC LIMIT 1", [business_date])
        if run_id is None:
            raise ReconError(f"no finished run for {business_date} to reproduce.",
                             hint=f"`recon runs list --date {business_date}` shows what ran.")
    run = get_run(con, run_id)
    if run["business_date"] != business_date:
        raise ReconError(f"run {run_id} is for {run['business_date']}, not {business_date}.",
                         hint="Pass the run's own date with --date, or leave --run out.")
    if run["status"] not in ("reconciled", "breaks"):
        raise ReconError(f"run {run_id} ended {run['status']!r}: only finished runs can be reproduced.")
    return run


def _verify_inputs(cfg: Config, con, run: dict) -> list[str]:
    """Read every input back from the archive (hash verified) and parse it again: the lines must be
    the ones the run loaded. Returns the statement files' sha256."""
    archive = Archive(cfg.archive)
    shas = []
    for item in run["input_files"]:
        if item.get("status") not in pipeline.LOADED or not item.get("sha256"):
            continue
        # Read back part by part, as it was loaded: a 10M-line file is never whole in memory.
        data = archive.open(item["sha256"])  # ArchiveCorrupted names the file if a byte changed
        if item["source"] == pipeline.LEDGER:
            found = pl.concat([v.select("entry_id") for v, _ in parse_ledger_parts(
                data, name=item["file_name"], sha256=item["sha256"], part_bytes=pipeline.PART_BYTES,
                layout=cfg.ledger.layout)]
            )["entry_id"].n_unique()
            stored = warehouse.scalar(con, "SELECT count(DISTINCT entry_id) FROM ledger_entries "
                                           "WHERE file_sha256 = ?", [item["sha256"]])
            if stored is not None and found < stored:
                raise ReconError(f"{item['file_name']}: the archived ledger export parses to {found} "
                                 f"entries, the warehouse holds {stored} from it.")
            continue
        source = cfg.source(item["source"])
        again = pl.concat([p.frame.select("line_id", "amount_minor") for p in registry.parse_parts(
            source.format, data, name=item["file_name"], source=source.name, sha256=item["sha256"],
            business_date=run["business_date"], timezone=source.timezone, options=source.options,
            part_bytes=pipeline.PART_BYTES, raw=False)]).sort("line_id")
        stored = pl.from_arrow(con.sql("SELECT line_id, amount_minor FROM statement_lines "
                                       "WHERE file_sha256 = ?", params=[item["sha256"]]).to_arrow_table()
                               ).sort("line_id")
        if not again.equals(stored):
            raise ReconError(f"{item['file_name']} (sha256 {item['sha256'][:12]}…) parses to {again.height} "
                             f"lines today but the run loaded {stored.height} different ones.",
                             hint="The parser changed since the run; reproduce with the code version "
                                  f"{run['code_version']}.")
        shas.append(item["sha256"])
    return shas


def rerun(cfg: Config, business_date: date, run_id: str | None = None, *, keep: bool = False) -> RerunResult:
    """Reproduce a run under the warehouse's run lock (recon.runlock: a night starting meanwhile
    waits for it, and does not take it for dead); ``keep``: leave the scratch copy of the reports
    (RerunResult.scratch)."""
    from recon import runlock
    with runlock.hold(cfg, f"rerun of {run_id or business_date}", business_date):
        return _rerun(cfg, business_date, run_id, keep)


def _rerun(cfg: Config, business_date: date, run_id: str | None, keep: bool) -> RerunResult:
    con = warehouse.connect(cfg.warehouse)
    try:
        run = original_run(con, business_date, run_id)
        if run["config_sha256"] != cfg.sha256:
            raise ReconError(f"the configuration changed since run {run['run_id']} (sha256 "
                             f"{run['config_sha256'][:12]}… then, {cfg.sha256[:12]}… now).",
                             hint="Pass the configuration the run used with --config.")
        inputs = _verify_inputs(cfg, con, run)
        n = warehouse.scalar(con, "SELECT count(*) FROM runs WHERE rerun_of = ?", [run["run_id"]]) + 1
    finally:
        con.close()
    stages = Replay(run, inputs, keep)
    sources = [cfg.source(name) for name in json.loads(run.get("sources") or "[]")] or None
    day = run_day(cfg, business_date, stages, sources=sources, run_id=f"{run['run_id']}-rerun{n}",
                  language=run.get("language") or "en")
    log.info("Rerun %s of %s: %s", day.run_id, run["run_id"], "identical" if stages.identical else "differs")
    return RerunResult(run["run_id"], day.run_id, stages.identical, tuple(stages.differences),
                       {k: str(p) for k, p in day.paths.items()}, stages.hashes, str(stages.scratch), keep)


class Replay(Stages):
    """A past run's day replayed as of the run: its inputs read back from the archive (nothing
    fetched), matched with its watermarks and the open items it carried, the reports written into
    a scratch directory under the original run's identity and compared with what it recorded."""

    def __init__(self, run: dict, inputs: list[str], keep: bool):
        self.run, self.inputs, self.keep = run, inputs, keep
        self.identical, self.differences, self.hashes, self.scratch = False, [], {}, None

    def begin(self, day: Day) -> datetime:
        started = datetime.now(timezone.utc)
        con = warehouse.connect(day.cfg.warehouse)
        try:
            runs.record_run(con, day.cfg, day.run_id, day.business_date, started, day.names, day.language,
                            code_version=self.run["code_version"], rerun_of=self.run["run_id"])
        finally:
            con.close()
        return started

    def fetch(self, day: Day):
        return None, {}

    def load(self, day: Day, ledger, arrivals) -> None:  # verified before the run began
        day.statuses.extend(SourceStatus(**s) for s in self.run["input_files"])

    def match(self, day: Day) -> MatchResult:
        run = self.run
        con = warehouse.connect(day.cfg.warehouse)
        try:
            return run_cascade(con, day.cfg, run_id=day.run_id, business_date=day.business_date,
                               sources=day.names, watermark=run["ledger_watermark"], inputs=self.inputs,
                               prev_run=run["carried_from"], annotation_watermark=run["annotation_watermark"],
                               record=runs.record_watermarks(day.run_id, run["ledger_watermark"],
                                                             run["annotation_watermark"], run["carried_from"]))
        finally:
            con.close()

    def reports(self, day: Day):
        run = self.run
        self.scratch = out = Path(tempfile.mkdtemp(prefix=f"recon-rerun-{run['run_id']}-"))
        log.info("Rerun %s: reproducing the reports in %s", day.run_id, out)
        try:
            summary, paths = write_reports(day.cfg, day.run_id, day.business_date, run["started_at"],
                                           day.statuses, day.language, out, display_run_id=run["run_id"],
                                           finished_at=run["finished_at"])
            self.hashes = {k: sha256_of(p) for k, p in paths.items()}
        finally:
            if not self.keep:
                shutil.rmtree(out, ignore_errors=True)
        return summary, paths

    def finish(self, day: Day) -> None:
        """Compare the reproduction with the recorded outputs and the reports on disk."""
        for name, recorded in sorted(self.run["outputs"].items()):
            got = self.hashes.get(name)
            if got != recorded["sha256"]:
                self.differences.append(f"{name}: recorded sha256 {recorded['sha256'][:16]}…, reproduced "
                                        f"{(got or 'nothing')[:16]}…")
        self.differences += on_disk_differences(day.cfg, self.run)
        self.identical = not self.differences and bool(self.run["outputs"])
        day.status = "reproduced" if self.identical else "differs"
        runs.finish_run(day.cfg, day.run_id, day.statuses, day.status,
                        {k: {"path": str(p), "sha256": self.hashes[k]} for k, p in day.paths.items()}, {})


def on_disk_differences(cfg: Config, run: dict) -> list[str]:
    """The run's reports as they are on disk now against its manifest (manifest.json in the
    reports folder) and the hashes the warehouse recorded: a file edited, replaced or removed
    since the night is named with both hashes."""
    folder = pipeline.reports_dir(cfg, run["business_date"], run["run_id"])
    manifest_path = folder / "manifest.json"
    out = []
    try:
        manifest = json.loads(manifest_path.read_text("utf-8")).get("outputs") or {}
    except FileNotFoundError:
        return [f"manifest: {manifest_path} is missing"]
    except ValueError as e:
        return [f"manifest: {manifest_path} is not JSON ({e})"]
    for name, recorded in sorted(run["outputs"].items()):
        listed = (manifest.get(name) or {}).get("sha256")
        path = folder / Path(recorded.get("path") or "").name
        if listed != recorded["sha256"]:
            out.append(f"{name}: manifest.json says sha256 {(listed or 'nothing')[:16]}…, the "
                       f"warehouse recorded {recorded['sha256'][:16]}…")
        if not path.is_file():
            out.append(f"{name}: {path} is missing on disk")
            continue
        on_disk = sha256_of(path)
        if on_disk != recorded["sha256"]:
            out.append(f"{name}: {path} on disk has sha256 {on_disk[:16]}…, the manifest "
                       f"{recorded['sha256'][:16]}… (edited or replaced since the run)")
    return out
