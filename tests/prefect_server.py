"""A real Prefect server on 127.0.0.1 and `recon serve` processes against it, for the serve tests."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, what: str, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = predicate()
            if result:
                return result
        except httpx.HTTPError:
            pass
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def stop(proc: subprocess.Popen | None, timeout: float = 20) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class PrefectServer:
    """`prefect server start` on a free loopback port with its own PREFECT_HOME; ``env`` points
    clients at it."""

    def __init__(self, home: Path):
        self.port = free_port()
        self.api = f"http://127.0.0.1:{self.port}/api"
        home.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_API_URL": self.api,
                    "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_UI_ENABLED": "false"}
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "PrefectServer":
        prefect = str(Path(sys.executable).with_name("prefect"))
        self.proc = subprocess.Popen([prefect, "server", "start", "--host", "127.0.0.1", "--port",
                                      str(self.port)], env=self.env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: httpx.get(f"{self.api}/health", timeout=2).status_code == 200, 180,
                     "prefect server")
        except BaseException:
            stop(self.proc)
            raise
        return self

    def __exit__(self, *exc) -> None:
        stop(self.proc)

    def post(self, path: str, body: dict | None = None):
        """POST, again on a 503 (the server's SQLite busy on a loaded machine): give creating calls
        an idempotency key."""
        for attempt in range(5):
            r = httpx.post(f"{self.api}{path}", json=body or {}, timeout=30)
            if r.status_code != 503:
                break
            time.sleep(1 + attempt)
        r.raise_for_status()
        return r.json()

    def get(self, path: str):
        r = httpx.get(f"{self.api}{path}", timeout=10)
        r.raise_for_status()
        return r.json()

    def deployment(self, timeout: float = 120) -> dict:
        def found():
            return next((d for d in self.post("/deployments/filter") if d["name"] == "nightly"), None)
        return wait_for(found, timeout, "the nightly deployment")


def recon_serve(env: dict, config: Path, log: Path) -> subprocess.Popen:
    """`recon serve --config CONFIG` with its output in ``log``."""
    with open(log, "wb") as out:
        return subprocess.Popen([sys.executable, "-m", "recon.cli", "serve", "--config", str(config)],
                                env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)


# 06:30 on 22 November in Shanghai (the config's cron and timezone): the cron's run for the 21st.
CRON_FIRE = "2026-11-21T22:30:00Z"
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def as_the_cron_does(server: PrefectServer, deployment_id: str, parameters: dict | None = None) -> dict:
    """A flow run of the deployment created as the scheduler creates it: a scheduled time, and no
    parameters unless given."""
    body = {"state": {"type": "SCHEDULED", "state_details": {"scheduled_time": CRON_FIRE}},
            "idempotency_key": f"test {parameters}"}
    if parameters is not None:
        body["parameters"] = parameters
    return server.post(f"/deployments/{deployment_id}/create_flow_run", body)


def finished(server: PrefectServer, run_id: str, log: Path) -> dict:
    """The flow run once it is in a final state; ``log`` (the server's or worker's) in the error."""
    def final():
        run = server.get(f"/flow_runs/{run_id}")
        return run if run["state_type"] in FINAL else None
    try:
        return wait_for(final, 300, f"flow run {run_id} to finish", every=2)
    except AssertionError as e:
        raise AssertionError(f"{e}; recon serve said: {log.read_text(errors='replace')[-3000:]}") from None


def night_completes(server: PrefectServer, deployment_id: str, log: Path) -> dict:
    """The cron's run of the 21st, created as the scheduler does, completed under its name."""
    done = finished(server, as_the_cron_does(server, deployment_id)["id"], log)
    assert done["state_type"] == "COMPLETED", (done["state"]["message"], log.read_text()[-3000:])
    assert done["name"] == "reconcile 2026-11-21"
    return done
