"""SFTP pull against a real OpenSSH sshd on loopback: pinned host key, key-only login, retries."""
from __future__ import annotations

import base64
import hashlib
import os
import re
import socket
import subprocess
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import paramiko
import pytest

from connectors import sftp
from connectors.sftp import MissingFile, fetch_day
from recon.errors import TransferError

pytestmark = pytest.mark.integration

DAY = date(2026, 11, 21)
REPO = Path(__file__).resolve().parents[1]


def _serve(sshd, name: str, files: dict[str, bytes]):
    """A remote directory (relative to the SFTP root) holding ``files``, and an endpoint for it."""
    d = sshd.root / name
    d.mkdir()
    for fname, data in files.items():
        (d / fname).write_bytes(data)
    return sshd.endpoint(remote_dir=name, pattern="stripe_{date:%Y%m%d}*.csv", timeout_s=5, retries=1)


def _archived(archive) -> list[Path]:
    return [p for p in (archive.root / "sha256").rglob("*") if p.is_file()]


def _keygen(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path


def _fingerprint(pub_line: str) -> str:
    return paramiko.Ed25519Key(data=base64.b64decode(pub_line.split()[1])).fingerprint


def test_known_hosts_pins_the_loopback_port(sshd):
    line = sshd.known_hosts.read_text()
    assert re.fullmatch(rf"\[127\.0\.0\.1\]:{sshd.port} ssh-ed25519 AAAA\S+\n", line)


def test_pull_archives_the_exact_bytes(sshd, archive, caplog):
    data = os.urandom(300_000)  # several SFTP packets
    ep = _serve(sshd, "pull", {"stripe_20261121.csv": data, "stripe_20261120.csv": b"yesterday"})
    caplog.set_level("INFO", logger="connectors.sftp")
    [got] = fetch_day(ep, DAY, archive, source="stripe")
    sha = hashlib.sha256(data).hexdigest()
    assert (got.name, got.remote_path, got.size, got.sha256, got.new) == (
        "stripe_20261121.csv", "pull/stripe_20261121.csv", len(data), sha, True)
    assert got.archive_path == archive.path(sha)
    assert got.archive_path.read_bytes() == data == archive.read(sha)
    assert "stripe: 1 file fetched, 300,000 bytes, new" in caplog.text
    assert list(archive.staging.iterdir()) == []


def test_same_file_twice_is_stored_once(sshd, archive):
    ep = _serve(sshd, "twice", {"stripe_20261121_a.csv": b"a,1\n", "stripe_20261121_b.csv": b"b,2\n"})
    first = fetch_day(ep, DAY, archive, source="stripe")
    second = fetch_day(ep, DAY, archive, source="stripe")
    assert [f.new for f in first] == [True, True]
    assert [f.new for f in second] == [False, False]
    assert [f.sha256 for f in first] == [f.sha256 for f in second]
    assert len(_archived(archive)) == 2


def test_wrong_host_key_is_refused_at_once(sshd, archive, tmp_path, monkeypatch):
    ep = _serve(sshd, "mitm", {"stripe_20261121.csv": b"x"})
    other = _keygen(tmp_path / "other_host_key")
    pinned = other.with_suffix(".pub").read_text().split()
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{sshd.port} {pinned[0]} {pinned[1]}\n")
    sleeps: list[float] = []  # backoff sleeps (30 s here); other threads' short sleeps go through
    real_sleep = time.sleep
    monkeypatch.setattr(time, "sleep", lambda s: sleeps.append(s) if s >= 1 else real_sleep(s))
    with pytest.raises(TransferError) as err:
        fetch_day(replace(ep, known_hosts=known, retries=3), DAY, archive, source="stripe",
                  backoff_s=30)
    assert sleeps == [] and not err.value.retryable  # refused at once: no backoff, no retry
    msg = str(err.value)
    offered = _fingerprint(sshd.host_key.with_name(sshd.host_key.name + ".pub").read_text())
    assert "HOST KEY MISMATCH" in msg and f"127.0.0.1:{sshd.port}" in msg and str(known) in msg
    assert offered in msg and _fingerprint(" ".join(pinned)) in msg and "out of band" in msg
    assert not (archive.root / "sha256").exists()


def test_unknown_host_is_refused(sshd, archive, tmp_path):
    ep = _serve(sshd, "unknown", {"stripe_20261121.csv": b"x"})
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(TransferError) as err:
        fetch_day(replace(ep, known_hosts=empty, retries=3), DAY, archive, source="stripe",
                  backoff_s=30)
    msg = str(err.value)
    offered = _fingerprint(sshd.host_key.with_name(sshd.host_key.name + ".pub").read_text())
    assert "no entry" in msg and str(empty) in msg and offered in msg
    assert not (archive.root / "sha256").exists()


def test_wrong_client_key_names_user_and_key_not_its_content(sshd, archive, tmp_path):
    ep = _serve(sshd, "auth", {"stripe_20261121.csv": b"x"})
    key = _keygen(tmp_path / "not_authorized")
    with pytest.raises(TransferError) as err:
        fetch_day(replace(ep, private_key=key, retries=3), DAY, archive, source="stripe",
                  backoff_s=30)
    msg = str(err.value)
    assert "authentication failed" in msg and repr(sshd.user) in msg and str(key) in msg
    secret = key.read_text().splitlines()[1]
    assert secret not in msg


def test_missing_file_names_the_expected_name(sshd, archive):
    ep = _serve(sshd, "missing", {"stripe_20261120.csv": b"yesterday only"})
    with pytest.raises(MissingFile) as err:
        fetch_day(ep, DAY, archive, source="stripe")
    msg = str(err.value)
    assert "stripe_20261121*.csv" in msg and "missing" in msg and f"127.0.0.1:{sshd.port}" in msg


def test_missing_remote_dir_is_a_clear_error(sshd, archive):
    with pytest.raises(TransferError, match="cannot list remote directory 'no/such/dir'"):
        fetch_day(sshd.endpoint(remote_dir="no/such/dir", pattern="x"), DAY, archive, source="s")


def test_closed_port_is_retried_with_backoff(sshd, archive, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the with-block ends
    slept: list[float] = []
    monkeypatch.setattr(sftp.time, "sleep", slept.append)
    ep = replace(sshd.endpoint(pattern="x"), port=port, retries=3, timeout_s=2)
    with pytest.raises(TransferError) as err:
        fetch_day(ep, DAY, archive, source="stripe", backoff_s=0.01)
    assert slept == [0.01, 0.02, 0.04]
    assert "after 4 attempts" in str(err.value) and f"127.0.0.1:{port}" in str(err.value)


def test_no_code_trusts_unknown_host_keys():
    offenders = [str(p.relative_to(REPO)) for d in ("connectors", "flows", "recon")
                 for p in (REPO / d).rglob("*.py")
                 if re.search(r"AutoAddPolicy|WarningPolicy", p.read_text(encoding="utf-8"))]
    assert offenders == []


def test_size_mismatch_is_retried_then_refused(sshd, archive, monkeypatch):
    # settle_s=0: the lying stat below would otherwise read as a file still growing
    ep = replace(_serve(sshd, "short", {"stripe_20261121.csv": b"1234567890"}), settle_s=0)
    real_stat = paramiko.SFTPClient.stat

    def lying_stat(self, path):  # the server claims more bytes than it sends: a cut transfer
        attrs = real_stat(self, path)
        attrs.st_size += 5
        return attrs

    monkeypatch.setattr(paramiko.SFTPClient, "stat", lying_stat)
    with pytest.raises(TransferError) as err:
        fetch_day(ep, DAY, archive, source="stripe", backoff_s=0.001)
    assert "after 2 attempts" in str(err.value) and "downloaded 10 bytes" in str(err.value)
    assert _archived(archive) == [] and list(archive.staging.iterdir()) == []
