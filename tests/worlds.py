"""A generated world served over a real OpenSSH sftp, with the demo's environment set for a test."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import date
from pathlib import Path

import duckdb
import pytest

from connectors.sshd import LocalSshd
from recon import config, warehouse
from recon.errors import ConfigError
from recon.demo import demo_env

CONFIG = Path(__file__).resolve().parents[1] / "data" / "recon.toml"  # the demo's config
DAY = date(2026, 11, 21)  # the demo's business date
# The warehouse tables two routes of the match must leave identical, read in a fixed order.
TABLES = {
    "matches": "SELECT * FROM matches ORDER BY ALL",
    "breaks": "SELECT * FROM breaks ORDER BY ALL",
    "open_items": "SELECT * FROM open_items ORDER BY ALL",
    "payouts": "SELECT * FROM payouts ORDER BY ALL",
}


def config_head(home: str = "var") -> str:
    """The [paths] and [run] of a hand-written recon.toml, the paths under ``home`` (relative to
    RECON_HOME by default); a test appends its own [ledger] and [[sources]]."""
    return f"""[paths]
warehouse = "{home}/warehouse.duckdb"
archive = "{home}/archive"
reports = "{home}/reports"

[run]
timezone = "Asia/Shanghai"
"""


def local_psp(name: str, fmt: str, currency: str, pattern: str, extra: str = "", local_extra: str = "") -> str:
    """A [[sources]] stanza of a PSP read from the local folder ``{world}/<name>``: still a template
    for the test's str.format (``{world}`` and the pattern's doubled braces are left to it).
    ``extra``: lines of the source's own; ``local_extra``: lines of its [sources.local]."""
    return f"""
[[sources]]
name = "{name}"
kind = "psp"
format = "{fmt}"
timezone = "Asia/Shanghai"
cutoff = "00:00"
currency = "{currency}"
{extra}  [sources.local]
  path = "{{world}}/{name}"
  pattern = "{pattern}"
{local_extra}"""


def assert_config_error(path: Path, key: str, expected: str) -> ConfigError:
    """Loading ``path`` fails naming ``key``, with ``expected`` and the file's path in the message."""
    with pytest.raises(ConfigError) as err:
        config.load(path)
    assert err.value.key == key
    assert expected in str(err.value) and str(path) in str(err.value)
    return err.value


@contextmanager
def served(world: Path, home: Path, monkeypatch, sshd_dir: Path | None = None):
    """Serve ``world`` from a LocalSshd (working files in ``sshd_dir``, default ``home/sshd``) and
    point recon at it: RECON_HOME under ``home``, the SFTP settings, the ledger drop folder."""
    with LocalSshd(world, sshd_dir or Path(home) / "sshd") as sshd:
        for k, v in demo_env(home, sshd, world).items():
            monkeypatch.setenv(k, v)
        yield sshd


def read_tables(path, tables: dict[str, str] = TABLES) -> dict:
    """The rows of ``tables`` (name → query) in the warehouse file at ``path``."""
    con = warehouse.connect(path)
    try:
        return {name: con.execute(q).fetchall() for name, q in tables.items()}
    finally:
        con.close()


def only_run(path, breaks: str) -> tuple[tuple, list[tuple]]:
    """(run_id, business_date, status) of the warehouse's one run, and the ``breaks`` columns of
    its open breaks."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        (run,) = con.execute("SELECT run_id, business_date, status FROM runs").fetchall()
        rows = con.execute(f"SELECT {breaks} FROM breaks WHERE run_id = ? AND status = 'open'",
                           [run[0]]).fetchall()
    finally:
        con.close()
    return run, rows
