"""README's process work-pool recipe, as written: `prefect work-pool create`, `prefect deploy
flows/nightly.py:nightly … --cron … --timezone … --param config_path=…`, `prefect worker start`;
a run created as the cron creates it reconciles the day before its scheduled start."""
from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from recon import config
from recon.evaluate import read_truth, score
from recon.generate import generate_day
from tests.prefect_server import PrefectServer, night_completes, stop
from tests.worlds import only_run, served

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "data" / "recon.toml"
DAY = date(2026, 11, 21)
pytestmark = pytest.mark.integration


def test_the_readme_work_pool_recipe_reconciles_yesterday(tmp_path, monkeypatch):
    prefect = str(Path(sys.executable).with_name("prefect"))
    day = generate_day(DAY, tmp_path / "world", seed=11, scale=40)
    log = tmp_path / "worker.log"
    with served(tmp_path / "world", tmp_path, monkeypatch):
        monkeypatch.setenv("PREFECT_WORKER_QUERY_SECONDS", "2")
        with PrefectServer(tmp_path / "prefect") as server:
            def cli(*args: str) -> None:
                proc = subprocess.run([prefect, *args], env=server.env, cwd=ROOT, capture_output=True,
                                      text=True, timeout=300)
                assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]

            cli("work-pool", "create", "recon", "--type", "process")
            cli("--no-prompt", "deploy", "flows/nightly.py:nightly", "--name", "nightly", "--pool", "recon",
                "--cron", "30 6 * * *", "--timezone", "Asia/Shanghai", "--param", f"config_path={CONFIG}")
            with open(log, "wb") as out:
                worker = subprocess.Popen([prefect, "worker", "start", "--pool", "recon"], env=server.env,
                                          cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
            try:
                dep = server.deployment()
                (schedule,) = dep["schedules"]
                assert (schedule["schedule"]["cron"], schedule["schedule"]["timezone"]) == ("30 6 * * *", "Asia/Shanghai")
                night_completes(server, dep["id"], log)
            finally:
                stop(worker)
        cfg = config.load(CONFIG)
    (run_id, business_date, status), breaks = only_run(cfg.warehouse, "category, source, reference")
    found = {(c, s, r or "") for c, s, r in breaks}
    assert (business_date, status) == (DAY, "breaks")
    truth = read_truth(day.paths["truth"])
    scores = score(found, truth)
    assert scores["all"].found == scores["all"].expected == len(truth)
    assert (scores["all"].precision, scores["all"].recall) == (1.0, 1.0)
