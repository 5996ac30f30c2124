"""A generated world served over a real OpenSSH sftp, with the demo's environment set for a test."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from connectors.sshd import LocalSshd
from recon.demo import demo_env


@contextmanager
def served(world: Path, home: Path, monkeypatch, sshd_dir: Path | None = None):
    """Serve ``world`` from a LocalSshd (working files in ``sshd_dir``, default ``home/sshd``) and
    point recon at it: RECON_HOME under ``home``, the SFTP settings, the ledger drop folder."""
    with LocalSshd(world, sshd_dir or Path(home) / "sshd") as sshd:
        for k, v in demo_env(home, sshd, world).items():
            monkeypatch.setenv(k, v)
        yield sshd
