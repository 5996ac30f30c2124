"""`recon serve` registers the nightly cron with a real Prefect server on 127.0.0.1, and stops
cleanly on SIGTERM or SIGINT, with the server up or gone."""
from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from tests.prefect_server import PrefectServer, recon_serve, stop, wait_for

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "data" / "recon.toml"
pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with PrefectServer(tmp_path_factory.mktemp("prefect")) as s:
        yield s


def _exits(proc: subprocess.Popen, log: Path, sig: int) -> str:
    proc.send_signal(sig)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError(f"recon serve still running 30 s after {signal.Signals(sig).name}: "
                             f"{log.read_text(errors='replace')[-2000:]}") from None
    return log.read_text(errors="replace")


def test_serve_registers_the_cron_schedule(server, tmp_path):
    serve = recon_serve(server.env, CONFIG, tmp_path / "serve.log")
    try:
        dep = server.deployment()
        (schedule,) = dep["schedules"]
        assert schedule["schedule"]["cron"] == "30 6 * * *"
        assert schedule["schedule"]["timezone"] == "Asia/Shanghai"
        assert schedule["active"] is True
        assert dep["parameters"] == {"config_path": str(CONFIG)}
        # A real server schedules runs ahead of time for an active cron.
        runs = wait_for(lambda: server.post("/flow_runs/filter"), 60, "scheduled flow runs")
        assert all(r["state_type"] == "SCHEDULED" for r in runs)
        assert runs[0]["deployment_id"] == dep["id"]
        assert not runs[0]["parameters"].get("business_date")  # the day comes from the schedule
        out = _exits(serve, tmp_path / "serve.log", signal.SIGTERM)
        assert serve.returncode == 0, out
        assert "Traceback" not in out
        assert "recon serve: stopped (SIGTERM)" in out
        assert server.get(f"/deployments/{dep['id']}")["paused"] is True  # as Prefect's serve leaves it
    finally:
        stop(serve)


def test_serve_stops_on_sigint_and_sigterm_after_the_server_went_away(tmp_path):
    with PrefectServer(tmp_path / "prefect") as gone:
        logs = {sig: tmp_path / f"serve-{sig.name}.log" for sig in (signal.SIGINT, signal.SIGTERM)}
        procs = {sig: recon_serve(gone.env, CONFIG, log) for sig, log in logs.items()}
        try:
            gone.deployment()
            wait_for(lambda: all("recon serve: serving nightly" in log.read_text(errors="replace") for log in logs.values()),
                     90, "both serve processes serving")
            stop(gone.proc)
            for sig, proc in procs.items():
                out = _exits(proc, logs[sig], sig)
                assert proc.returncode == 0, out
                assert "Traceback" not in out, out
                assert f"recon serve: stopped ({sig.name})" in out
        finally:
            for proc in procs.values():
                stop(proc)
