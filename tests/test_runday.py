"""recon.runday.run_day, the one run sequence, with stages that fetch nothing: the order it runs
the stages in, what a finished run records, and what a failed one records and raises."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from recon import config, warehouse
from recon.demo import demo_env
from recon.errors import ReconError
from recon.pipeline import Arrival
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
