"""recon.runday.run_day, the one run sequence, with stages that fetch nothing: the order it runs
the stages in, what a finished run records, and what a failed one records and raises."""
from __future__ import annotations

import json
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from recon import config, warehouse
from recon.demo import demo_env
from recon.errors import ReconError
from connectors.archive import Fetched
from recon.pipeline import Arrival
from recon.reports.model import SourceStatus
from recon.runday import Stages, run_day
from tests.worlds import CONFIG, DAY


class NothingArrives(Stages):
    """No ledger export and no statement file: every stage still runs, in order."""

    def __init__(self, fail_in: str = ""):
        self.calls, self.fail_in = [], fail_in

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if name == self.fail_in:
            raise ReconError(f"{name} failed on purpose")

    def begin(self, day):
        self._call("begin")
        return super().begin(day)

    def fetch(self, day):
        self._call("fetch")
        return (Arrival("ledger", missing="no export"),
                {s.name: Arrival(s.name, missing="no file") for s in day.sources})

    def load(self, day, ledger, arrivals):
        self._call("load")
        super().load(day, ledger, arrivals)

    def match(self, day):
        self._call("match")
        return super().match(day)

    def reports(self, day):
        self._call("reports")
        return super().reports(day)

    def finish(self, day):
        self._call("finish")
        super().finish(day)


@pytest.fixture
def cfg(tmp_path, monkeypatch):
    peer = SimpleNamespace(host="127.0.0.1", port=22, user="recon", private_key=tmp_path / "key",
                           known_hosts=tmp_path / "known_hosts")
    for k, v in demo_env(tmp_path, peer, tmp_path / "world").items():
        monkeypatch.setenv(k, v)
    return config.load(CONFIG)


def _run(cfg, run_id: str) -> dict:
    con = warehouse.connect(cfg.warehouse)
    try:
        status, inputs, timings, outputs = con.execute(
            "SELECT status, input_files, timings, outputs FROM runs WHERE run_id = ?", [run_id]).fetchone()
    finally:
        con.close()
    return {"status": status, "inputs": json.loads(inputs), "timings": json.loads(timings),
            "outputs": json.loads(outputs)}


def test_a_day_with_nothing_arrived_runs_every_stage_and_records_the_run(cfg):
    stages = NothingArrives()
    day = run_day(cfg, DAY, stages, sources=cfg.sources[:2])
    assert stages.calls == ["begin", "fetch", "load", "match", "reports", "finish"]
    assert [(s.source, s.status) for s in day.statuses] == [
        ("ledger", "missing"), (cfg.sources[0].name, "missing"), (cfg.sources[1].name, "missing")]
    run = _run(cfg, day.run_id)
    assert run["status"] == day.status == "breaks"  # a day with a file missing never reconciles
    assert set(run["timings"]) == {"fetch", "load", "match", "reports"}
    assert set(run["outputs"]) == set(day.paths) and (day.reports_dir / "manifest.json").is_file()


@pytest.mark.parametrize("stage", ["fetch", "match", "reports"])
def test_a_failed_stage_records_the_run_failed_with_what_it_had_and_raises(cfg, stage):
    stages = NothingArrives(fail_in=stage)
    with pytest.raises(ReconError, match=f"{stage} failed on purpose"):
        run_day(cfg, DAY, stages, run_id=f"R-{stage}")
    assert stages.calls[-1] == stage and "finish" not in stages.calls
    run = _run(cfg, f"R-{stage}")
    done = stages.calls[1:-1]  # the stages that finished before the failure
    assert run["status"] == "failed" and run["outputs"] == {}
    assert set(run["timings"]) == set(done) - {"begin"}
    assert len(run["inputs"]) == (1 + len(cfg.sources) if "load" in done else 0)


def _fetched(source: str, n: int) -> Fetched:
    sha = f"{n:064x}"
    return Fetched(source, f"/in/{source}.csv", f"{source}.csv", 10, sha, Path(f"/archive/{sha}"), new=True)


class Pipelined(Stages):
    """Each fetch returns one made-up file; each load records itself. ``stall``: a source whose
    fetch returns only once the ledger's load has begun (or fails: ``fail``)."""

    def __init__(self, stall: str, fail: bool = False):
        self.stall, self.fail = stall, fail
        self.ledger_loading, self.loaded, self.n = threading.Event(), [], 0

    def _arrival(self, source: str) -> Arrival:
        self.n += 1
        return Arrival(source, (_fetched(source, self.n),))

    def fetch_ledger(self, day):
        arrival = self._arrival("ledger")
        return self.submit(lambda: arrival)

    def fetch_source(self, day, source):
        arrival = self._arrival(source.name)

        def fetch():
            if source.name == self.stall:
                assert self.ledger_loading.wait(10), "the ledger's load waited for every fetch"
                if self.fail:
                    raise ReconError(f"{source.name}: transfer failed on purpose")
            return arrival
        return self.submit(fetch)

    def _load(self, source: str, kind: str, f: Fetched, after: list):
        def load():
            if kind == "ledger":
                self.ledger_loading.set()
            self.loaded.append(source)
            return SourceStatus(source, kind, f.name, f.sha256, "loaded", 1)
        return self.submit(load, after=after)

    def load_ledger(self, day, f, after):
        return self._load("ledger", "ledger", f, after)

    def load_statement(self, day, source, f, after):
        return self._load(source.name, source.kind, f, after)

    def match(self, day):
        return None

    def reports(self, day):
        raise ReconError("no reports in this test")


def test_each_file_loads_as_soon_as_it_is_archived_and_statuses_keep_the_order(cfg):
    last = cfg.sources[-1].name
    stages = Pipelined(stall=last)  # its fetch ends only once the ledger is loading
    with pytest.raises(ReconError, match="no reports"):
        run_day(cfg, DAY, stages, run_id="R-pipelined")
    assert [s["source"] for s in _run(cfg, "R-pipelined")["inputs"]] == ["ledger"] + [s.name for s in cfg.sources]


def test_a_fetch_failing_after_loads_began_records_what_loaded_and_loads_nothing_after(cfg):
    first = cfg.sources[0].name
    stages = Pipelined(stall=first, fail=True)
    with pytest.raises(ReconError, match=f"{first}: transfer failed on purpose"):
        run_day(cfg, DAY, stages, run_id="R-fetch-failed")
    run = _run(cfg, "R-fetch-failed")
    assert run["status"] == "failed"
    assert [(s["source"], s["status"]) for s in run["inputs"]] == [("ledger", "loaded")]
    assert stages.loaded == ["ledger"]  # the sources after the failed one: never loaded
