"""Shared fixtures: a real OpenSSH sshd on loopback, Prefect's harness, the demo config and an
in-memory warehouse for literal-table tests, a fresh archive, the conformance corpus.

Prefect's settings are fixed at import time, before any test module imports prefect: a throwaway
PREFECT_HOME (never the user's ~/.prefect) and no analytics.
"""
from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

if "PREFECT_HOME" not in os.environ:
    _prefect_home = tempfile.mkdtemp(prefix="recon-test-prefect-")
    os.environ["PREFECT_HOME"] = _prefect_home
    atexit.register(shutil.rmtree, _prefect_home, True)
# `make test` points PREFECT_HOME at var/prefect, which a fresh clone does not have yet: made here,
# before prefect is imported (Prefect warned it could not create it when a test got there first).
Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

from connectors.archive import Archive  # noqa: E402
from recon import config, ratecard, warehouse  # noqa: E402
from connectors.sshd import LocalSshd  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def sshd(tmp_path_factory):
    """A started LocalSshd; ``sshd.root`` is what the SFTP user sees (use a subdirectory per test)."""
    root = tmp_path_factory.mktemp("sftp-root")
    workdir = tmp_path_factory.mktemp("sshd")
    with LocalSshd(root, workdir) as server:
        yield server


@pytest.fixture(scope="module")
def prefect_harness():
    """Prefect's test harness (a temporary API server) for the flows of one test module."""
    from prefect.testing.utilities import prefect_test_harness
    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def cfg():
    return config.load(REPO / "data" / "recon.toml")


@pytest.fixture
def con(cfg):
    con = warehouse.connect(":memory:")
    warehouse.load_rate_cards(con, {s.name: ratecard.load(s.rate_card) for s in cfg.sources if s.rate_card})
    yield con
    con.close()


def pytest_generate_tests(metafunc):
    """A test using ``route`` runs on both routes of the cascade, unless marked ``one_route``
    (it chooses its routes itself)."""
    if "route" in metafunc.fixturenames and not metafunc.definition.get_closest_marker("one_route"):
        metafunc.parametrize("route", ["bulk", "reference"], indirect=True)


@pytest.fixture
def route(request, monkeypatch) -> str:
    """The cascade's route for this test (recon.matching.run_cascade): the bulk first pass, or the
    plain reference cascade it must equal."""
    chosen = getattr(request, "param", "bulk")
    monkeypatch.setenv("RECON_MATCH_ROUTE", chosen)
    return chosen


@pytest.fixture
def annotated_cfg(tmp_path, monkeypatch):
    """The annotation tests' warehouse, built row by row (tests/annotated.py)."""
    from tests.annotated import annotated_warehouse
    return annotated_warehouse(tmp_path, monkeypatch)


@pytest.fixture
def archive(tmp_path) -> Archive:
    return Archive(tmp_path / "archive")


@pytest.fixture(scope="session")
def conformance_dir() -> Path:
    """The shared corpus of real statement files; skipped, with the reason, where absent."""
    path = Path(os.environ.get("RECON_CONFORMANCE_DIR", REPO.parent / "shared" / "conformance"))
    if not path.is_dir():
        pytest.skip(f"conformance corpus not found at {path} (set RECON_CONFORMANCE_DIR)")
    return path


# Fixtures that start a real service: a test using one belongs to the integration lane, which
# `make test-fast` leaves out (the whole suite, `make test`, runs both lanes).
SERVICE_FIXTURES = {"sshd", "prefect_harness"}


def pytest_collection_modifyitems(items):
    for item in items:
        if SERVICE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


def pytest_terminal_summary(terminalreporter):
    from tests.conformance_table import table
    lines = table()
    if lines:
        terminalreporter.section("conformance: real statement files from ../shared/conformance")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture
def tmpfs(tmp_path):
    """``mount(size, covered_by)``: a directory on a tmpfs of ``size`` (e.g. "16k"), to fill the
    disk for real; the test is skipped, naming the test ``covered_by`` that covers the case
    otherwise, where this machine cannot mount one. Unmounted after the test."""
    mounted: list[Path] = []

    def mount(size: str, covered_by: str) -> Path:
        folder = tmp_path / f"tmpfs-{len(mounted)}"
        folder.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}); {covered_by} covers ENOSPC")
        mounted.append(folder)
        return folder

    yield mount
    for folder in mounted:
        subprocess.run(["umount", str(folder)], check=True)
