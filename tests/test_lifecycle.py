"""The nightly flow as Prefect starts it from a deployment: pickled into a fresh process, without a
date (the day before its scheduled start), and alerting when it fails before its body runs."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import date, datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import cloudpickle
import pytest
from prefect.states import Failed

from flows import lifecycle
from tests.receivers import HttpReceiver, config_copy

ROOT = Path(__file__).resolve().parents[1]

# What Prefect's runner does with a served flow: cloudpickle it into a spawned process, which
# validates the run's parameters there.
CHILD = """
import sys, cloudpickle
flow = cloudpickle.loads(sys.stdin.buffer.read())
print(flow.validate_parameters({"config_path": "x.toml"}))
print(flow.validate_parameters({"business_date": "2026-11-21", "sources": ["stripe"]}))
"""


def test_the_flow_validates_its_parameters_after_pickling_into_a_fresh_process():
    from flows.nightly import nightly
    proc = subprocess.run([sys.executable, "-c", CHILD], input=cloudpickle.dumps(nightly), cwd=ROOT,
                          capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    first, second = proc.stdout.decode().splitlines()[-2:]
    assert first == "{'business_date': None, 'sources': None, 'config_path': 'x.toml', 'language': 'en'}"
    assert second == ("{'business_date': datetime.date(2026, 11, 21), 'sources': ['stripe'], "
                      "'config_path': None, 'language': 'en'}")


def test_a_run_without_a_date_reconciles_the_day_before_its_scheduled_start():
    cron_fire = datetime(2026, 11, 21, 22, 30, tzinfo=timezone.utc)  # 06:30 on the 22nd in Shanghai
    assert lifecycle.business_day("Asia/Shanghai", cron_fire) == date(2026, 11, 21)
    assert lifecycle.business_day("UTC", cron_fire) == date(2026, 11, 20)
    assert lifecycle.business_day("America/New_York", cron_fire) == date(2026, 11, 20)


def _run(params: dict) -> SimpleNamespace:
    return SimpleNamespace(id=uuid.uuid4(), name="reconcile 2026-11-21", parameters=params,
                           expected_start_time=datetime(2026, 11, 21, 22, 30, tzinfo=timezone.utc))


def test_a_failure_before_the_body_alerts(tmp_path, monkeypatch):
    cfg = config_copy(tmp_path / "recon.toml")
    state = Failed(message="Validation of flow parameters failed with error: business_date: "
                           "Input should be a valid date")
    with HttpReceiver() as hook:
        monkeypatch.setenv("RECON_ALERT_WEBHOOK_URL", hook.url)
        lifecycle.alert_failure(None, _run({"config_path": str(cfg), "business_date": "yesterday"}), state)
    (path, _, body), = hook.requests
    assert body["status"] == "failed" and body["exit_code"] == 2
    assert body["business_date"] == "2026-11-21"  # "yesterday" is not a date: the scheduled day
    assert body["run_id"] == "flow run reconcile 2026-11-21"
    assert body["headline"].startswith("recon 2026-11-21: RUN FAILED (exit 2)")
    assert "Validation of flow parameters failed" in body["detail"]
    assert body["findings"][0]["kind"] == "run_failed"


def test_a_config_that_does_not_load_still_alerts_from_its_alerts_table(tmp_path, monkeypatch):
    run_tz = 'timezone = "Asia/Shanghai"   # the company'
    cfg = config_copy(tmp_path / "recon.toml", replace={run_tz: run_tz.replace("Asia/Shanghai", "Mars/Olympus")})
    with HttpReceiver() as hook:
        monkeypatch.setenv("RECON_ALERT_WEBHOOK_URL", hook.url)
        lifecycle.alert_failure(None, _run({"config_path": str(cfg)}), Failed(message="config"))
    (_, _, body), = hook.requests
    assert "run.timezone" in body["detail"] and "Mars/Olympus" in body["detail"]
    assert body["business_date"] == "2026-11-20"  # the day before the scheduled start, in UTC


def test_no_second_alert_when_the_body_sent_one(tmp_path, monkeypatch):
    cfg = config_copy(tmp_path / "recon.toml")
    run = _run({"config_path": str(cfg)})
    lifecycle.mark_alerted(run.id)
    with HttpReceiver() as hook:
        monkeypatch.setenv("RECON_ALERT_WEBHOOK_URL", hook.url)
        lifecycle.alert_failure(None, run, Failed(message="boom"))
    assert hook.requests == []


PROBE = """
import sys
from recon import cli
code = cli.main(sys.argv[1:])
print("prefect imported:", "prefect" in sys.modules)
sys.exit(code)
"""


@pytest.mark.parametrize("argv", [["run", "--date", "2026-11-21"], ["backfill", "--from", "2026-11-20",
                                  "--to", "2026-11-21"], ["serve"]])
def test_a_config_mistake_is_reported_before_prefect_starts(tmp_path, argv):
    bad = tmp_path / "recon.toml"
    bad.write_text('[run]\ntimezone = "Asia/Shanghai"\n', "utf-8")
    proc = subprocess.run([sys.executable, "-c", PROBE, *argv, "--config", str(bad)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stdout == "prefect imported: False\n"
    assert proc.stderr == (f"recon: {bad}: paths: missing; expected a table. Fix that key and run again; "
                           "`recon run --help` shows an example. (runbook: docs/operations.md#config-error)\n")


@pytest.mark.parametrize("argv", [["runs", "list"], ["trace", "feedfacefeedface"],
                                  ["rerun", "--date", "2026-11-21"],
                                  ["parse", "tests/data/spec/wechatpay/all_current_gbk.csv"]])
def test_commands_that_run_no_flow_never_import_prefect(tmp_path, argv):
    """Prefect's import (~1 CPU-s) and its temporary API server (~5 CPU-s in a process of its
    own) are paid only by the commands that run a flow (run, backfill, serve, eval, demo)."""
    env = {**os.environ, "RECON_HOME": str(tmp_path / "home")}
    proc = subprocess.run([sys.executable, "-c", PROBE, *argv, "--config", str(ROOT / "data" / "recon.toml")]
                          if argv[0] != "parse" else [sys.executable, "-c", PROBE, *argv], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode in (0, 1, 2), proc.stderr[-2000:]
    assert proc.stdout.endswith("prefect imported: False\n"), (proc.stdout[-500:], proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr


STUB_SERVER = """
import os, subprocess, sys
os.environ.pop("PREFECT_API_URL", None)
from prefect.server.api.server import SubprocessASGIServer
from flows.ephemeral import PrefectStartError, start_api
SubprocessASGIServer._run_uvicorn_command = lambda self: subprocess.Popen([sys.executable, "-c", sys.argv[1]])
try:
    start_api(timeout_s=3)
except PrefectStartError as e:
    print(e)
"""


@pytest.mark.parametrize("server, expected", [
    ("import sys; sys.exit(1)", "Prefect's temporary API server exited with code 1 while starting"),
    ("import time; time.sleep(60)", "Prefect's temporary API server did not answer within 3 s (load "),
])
def test_a_temporary_api_server_that_dies_or_never_answers_is_one_paragraph(server, expected):
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    proc = subprocess.run([sys.executable, "-c", STUB_SERVER, server], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith(expected), proc.stdout
    assert "nothing was run" in proc.stdout and "runbook: docs/operations.md#prefect-start-up" in proc.stdout
