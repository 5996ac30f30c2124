"""The day's stages as the bench runs them (``recon.runday.Stages``): the files taken from the
generated day's folders (no SFTP), each stage metered with its peak RSS, the reports as the
nightly writes them but with the workbook capped and the full break list written to parquet."""
from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path

from connectors.archive import Archive
from connectors.local import fetch_local
from recon import pipeline, runs, warehouse
from recon.assemble import build_summary
from recon.reports.fees import write_fee_report
from recon.reports.summary import write_summary_json
from recon.reports.workbook import write_workbook
from recon.runday import Day, Stages

# Each file's load starts once it is archived (recon.runday.Loads): "archive" is the time until the
# last file is archived, its CPU the loads' begun by then too; "load" the rest. Reports: part by part.
METERED = {"fetch": "archive", "load": "load (concurrent)", "match": "match"}


class BenchStages(Stages):
    """``consume``: each generated file is deleted once archived (the fetches then one after
    another), each archive copy once loaded (nothing after the loads reads the archive)."""

    def __init__(self, data_dir: Path, meter, workbook_rows: int, consume: bool):
        self.data_dir, self.meter, self.workbook_rows, self.consume = data_dir, meter, workbook_rows, consume
        self.fetched: dict[str, list] = {}
        self.load_seconds: dict[str, float] = {}
        self._last_fetch = None

    def begin(self, day: Day):
        with self.meter.stage("begin run"):
            return super().begin(day)

    @contextmanager
    def timed(self, day: Day, name: str):
        if name not in METERED:
            yield
            return
        with self.meter.stage(METERED[name]):
            yield
        if name == "load" and self.consume:  # out of the metered stages
            for f in (f for fs in self.fetched.values() for f in fs):
                Path(f.archive_path).unlink()

    def fetch_ledger(self, day: Day):
        return self._fetch(day, pipeline.LEDGER, self.data_dir / "ledger", day.cfg.ledger.pattern,
                           day.business_date)

    def fetch_source(self, day: Day, source):
        return self._fetch(day, source.name, self.data_dir / source.sftp.remote_dir, source.sftp.pattern,
                           source.file_date(day.business_date))

    def _fetch(self, day: Day, name: str, folder: Path, pattern: str, file_date):
        def fetch() -> pipeline.Arrival:
            fetched = fetch_local(folder, pattern, file_date, Archive(day.cfg.archive), source=name)
            if self.consume:
                for one in fetched:
                    Path(one.remote_path).unlink()
            self.fetched[name] = fetched
            return pipeline.Arrival(name, tuple(fetched))
        # One copy at a time, in the loads' order (ledger first): side by side they share the
        # disk and all finish late; one after another, each file's load starts while the next copies.
        future = self.submit(fetch, after=[self._last_fetch] if self._last_fetch else [])
        self._last_fetch = future
        if self.consume:  # one file on disk twice at a time at most
            future.result()
        return future

    def load_ledger(self, day: Day, f, after: list):
        return self.submit(self._timed, f"ledger {f.name}", pipeline.load_ledger_file, day.cfg, f,
                           day.business_date, day.run_id, after=after)

    def load_statement(self, day: Day, source, f, after: list):
        return self.submit(self._timed, f"{source.name} {f.name}", pipeline.load_statement, day.cfg, source,
                           f, day.business_date, day.run_id, after=after)

    def _timed(self, what: str, load, *args):
        t = time.perf_counter()
        try:
            return load(*args)
        finally:
            self.load_seconds[what] = round(time.perf_counter() - t, 3)

    def match(self, day: Day):
        return pipeline.match(day.cfg, day.run_id, day.business_date, day.names)  # all the day's files

    def reports(self, day: Day):
        out = day.reports_dir
        out.mkdir(parents=True, exist_ok=True)
        d = day.business_date
        paths = {"workbook": out / f"recon_{d:%Y-%m-%d}.xlsx", "breaks": out / f"breaks_{d:%Y-%m-%d}.parquet",
                 "fees": out / f"fees_{d:%Y-%m-%d}.csv", "summary": out / f"summary_{d:%Y-%m-%d}.json"}
        with self.meter.stage("report model"):
            summary = build_summary(day.cfg, day.run_id, d, day.started_at, day.statuses,
                                    {k: str(v) for k, v in paths.items()})
        with self.meter.stage("break list"):
            con = warehouse.connect(day.cfg.warehouse)
            try:
                con.execute(f"COPY (SELECT * FROM breaks WHERE run_id = $run_id ORDER BY category, "
                            f"source, reference, break_id) TO '{paths['breaks']}' (FORMAT parquet)",
                            {"run_id": day.run_id})
            finally:
                con.close()
        with self.meter.stage("workbook"):
            write_workbook(summary, paths["workbook"], max_rows=self.workbook_rows)
        with self.meter.stage("fee report + summary"):
            write_fee_report(summary, paths["fees"])
            write_summary_json(summary, paths["summary"])
        return summary, paths

    def finish(self, day: Day) -> None:
        with self.meter.stage("finish run"):
            day.status = "reconciled" if day.summary.reconciled else "breaks"
            runs.finish_run(day.cfg, day.run_id, day.statuses, day.status, {}, {},
                            matched_lines=day.summary.matched_statement)
