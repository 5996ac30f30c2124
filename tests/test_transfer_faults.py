"""A remote file the server refuses to read, and a server that accepts and never answers, against
the real OpenSSH sshd on loopback: each fails its source at once, in one paragraph, naming what
to fix, and is not retried."""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from connectors import sftp
from connectors.sshd import SFTP_SERVER, LocalSshd
from connectors.sftp import NotReady, fetch_day
from recon.chaos import check
from recon.errors import TransferError
from schemas import trailers
from tests.faultproxy import FaultProxy

pytestmark = pytest.mark.integration

DAY = date(2026, 11, 21)
NAME = "stripe_20261121.csv"


@pytest.fixture(scope="module")
def sshd_nobody():
    """An sshd whose SFTP server process runs as ``nobody``: file permissions apply to it."""
    if os.geteuid() != 0 or not SFTP_SERVER.is_file() or shutil.which("setpriv") is None:
        pytest.skip("needs root, setpriv and Debian's sftp-server to run the SFTP server as nobody")
    base = Path(tempfile.mkdtemp(prefix="recon-sftp-as-"))  # not under pytest's 0700 tmp
    try:
        with LocalSshd(base / "root", base / "work", sftp_as="nobody") as server:
            os.chmod(base, 0o755)
            os.chmod(server.root, 0o755)
            yield server
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _via(sshd, ep, proxy: FaultProxy, tmp_path: Path):
    key = sshd.known_hosts.read_text().split(None, 1)[1]
    known = tmp_path / "known_hosts_proxy"
    known.write_text(f"[127.0.0.1]:{proxy.port} {key}")
    return replace(ep, port=proxy.port, known_hosts=known)


def test_permission_denied_fails_fast_naming_the_remote_path(sshd_nobody, archive, monkeypatch):
    with check("fault", "sftp remote file unreadable (permission denied)"):
        d = sshd_nobody.root / "denied"
        d.mkdir()
        os.chmod(d, 0o755)
        (d / NAME).write_bytes(b"id,amount\n1,2\n")
        os.chmod(d / NAME, 0)
        slept: list[float] = []
        monkeypatch.setattr(sftp.time, "sleep", slept.append)
        ep = sshd_nobody.endpoint(remote_dir="denied", pattern="stripe_{date:%Y%m%d}*.csv", retries=3)
        with pytest.raises(TransferError) as err:
            fetch_day(ep, DAY, archive, source="stripe", backoff_s=30)
        msg = str(err.value)
        assert slept == [ep.settle_s]  # the settle look only: no retry, no backoff
        assert not err.value.retryable  # nor retried by the flow's task
        assert f"permission denied reading the remote file 'denied/{NAME}'" in msg
        assert f"as user 'root' on 127.0.0.1:{sshd_nobody.port}" in msg and "not retried" in msg
        assert "\n" not in msg and "check that the server is up" not in msg
        assert not (archive.root / "sha256").exists()
        assert not archive.staging.exists() or list(archive.staging.iterdir()) == []


def _paramiko_errors(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("paramiko") and r.levelno >= logging.ERROR]


@pytest.mark.parametrize("after, key, timeout", [
    (0, "banner_timeout_s", "no SSH banner within 0.5 s"),  # accepts, never says a word
    (1500, "auth_timeout_s", "did not answer the login of 'root' within 0.5 s"),  # banner, then silence
])
def test_hung_server_fails_within_its_timeouts_with_one_message(sshd, archive, tmp_path, caplog,
                                                                after, key, timeout):
    with check("fault", f"sftp server hangs ({key})"):
        d = sshd.root / f"hung_{after}"
        d.mkdir()
        (d / NAME).write_bytes(b"x")
        ep = replace(sshd.endpoint(remote_dir=d.name, pattern="stripe_{date:%Y%m%d}*.csv", retries=3),
                     banner_timeout_s=0.5, auth_timeout_s=0.5)
        caplog.set_level("DEBUG", logger="paramiko")
        with FaultProxy(sshd.port, [("stall", after)] * 4) as proxy:
            with pytest.raises(TransferError) as err:
                fetch_day(_via(sshd, ep, proxy, tmp_path), DAY, archive, source="stripe", backoff_s=30)
        msg = str(err.value)
        assert proxy.connections == 1 and not err.value.retryable  # not retried: once is the bound
        assert msg.startswith(f"stripe: sftp root@127.0.0.1:{proxy.port}: ") and timeout in msg
        assert f"(sftp.{key})" in msg and "\n" not in msg
        assert _paramiko_errors(caplog) == [] and "Traceback" not in caplog.text
        assert not (archive.root / "sha256").exists()


BAI2 = b"01,SENDR1,RECVR1,261121,0200,1,,,2/\n02,RECVR1,SENDR1,1,261120,,USD,2/\n03,123456789,USD,010,100,,/\n" \
       b"16,165,500,,,,DEPOSIT/\n49,600,3/\n98,600,1,5/\n"  # hand-written: no file trailer (99) yet


def test_file_without_its_format_trailer_is_not_taken_until_the_trailer_arrives(sshd, archive):
    with check("fault", "sftp file without its format's end record (BAI2 99)"):
        d = sshd.root / "trailer"
        d.mkdir()
        (d / "bai2_20261121.txt").write_bytes(BAI2)
        ep = sshd.endpoint(remote_dir="trailer", pattern="bai2_{date:%Y%m%d}.txt")
        complete = trailers.checker("bai2")
        with pytest.raises(NotReady, match=r"bai2_20261121.txt: no end record yet \(the format's trailer\)"):
            fetch_day(ep, DAY, archive, source="bank", complete=complete)
        assert not (archive.root / "sha256").exists() or _archived(archive) == []
        (d / "bai2_20261121.txt").write_bytes(BAI2 + b"99,600,1,7/\n")
        [got] = fetch_day(ep, DAY, archive, source="bank", complete=complete)
        assert archive.read(got.sha256).endswith(b"99,600,1,7/\n")
    assert trailers.checker("stripe_itemized") is None and trailers.checker("mt940") is None


def _archived(archive) -> list[Path]:
    return [p for p in (archive.root / "sha256").rglob("*") if p.is_file()]
