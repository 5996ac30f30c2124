"""Faults of real nights against the real OpenSSH sshd on loopback (issue 8): a connection cut
mid-transfer, a stalled transfer, files still being written, redeliveries and corrections, late
files and the source's deadline. Every case is bounded in time."""
from __future__ import annotations

import hashlib
import os
import threading
import time
from dataclasses import replace
from datetime import date, datetime, time as dtime, timedelta, timezone
from pathlib import Path

import pytest

from connectors import sftp
from connectors.sftp import LateFile, MissingFile, NotReady, fetch_day
from recon.chaos import check
from recon.errors import TransferError
from tests.faultproxy import FaultProxy, growing

pytestmark = [pytest.mark.integration,
              # paramiko's prefetch thread reports the cut connection on its own; the fetch retries
              pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")]

DAY = date(2026, 11, 21)
NAME = "stripe_20261121.csv"


def _serve(sshd, name: str, files: dict[str, bytes], **kw):
    d = sshd.root / name
    d.mkdir()
    for fname, data in files.items():
        (d / fname).write_bytes(data)
    ep = sshd.endpoint(remote_dir=name, pattern="stripe_{date:%Y%m%d}*.csv", timeout_s=5, retries=1)
    return replace(ep, **kw), d


def _via(sshd, ep, proxy: FaultProxy, tmp_path: Path):
    """The endpoint through the proxy, with the sshd's own host key pinned for the proxy port."""
    key = sshd.known_hosts.read_text().split(None, 1)[1]
    known = tmp_path / "known_hosts_proxy"
    known.write_text(f"[127.0.0.1]:{proxy.port} {key}")
    return replace(ep, port=proxy.port, known_hosts=known)


def _archived(archive) -> list[Path]:
    return [p for p in (archive.root / "sha256").rglob("*") if p.is_file()] \
        if (archive.root / "sha256").exists() else []


def _no_leftovers(archive) -> bool:
    return not archive.staging.exists() or list(archive.staging.iterdir()) == []


def test_connection_cut_mid_transfer_is_retried_and_nothing_partial_kept(sshd, archive, tmp_path):
    with check("fault", "sftp connection cut mid-transfer") as c:
        data = os.urandom(2_000_000)
        ep, _ = _serve(sshd, "cut", {NAME: data})
        with FaultProxy(sshd.port, [("cut", 300_000)]) as proxy:
            [got] = fetch_day(_via(sshd, ep, proxy, tmp_path), DAY, archive, source="stripe",
                              backoff_s=0.01)
        assert proxy.connections == 2
        assert got.sha256 == hashlib.sha256(data).hexdigest() and got.size == len(data)
        assert [p.name for p in _archived(archive)] == [got.sha256]  # only the whole file
        assert _no_leftovers(archive)
        c.rows_lost = 0 if archive.read(got.sha256) == data else 1


def test_connection_cut_on_every_attempt_is_reported_and_archives_nothing(sshd, archive, tmp_path):
    with check("fault", "sftp connection cut on every attempt"):
        ep, _ = _serve(sshd, "cut2", {NAME: os.urandom(1_000_000)})
        with FaultProxy(sshd.port, [("cut", 200_000)] * 2) as proxy:
            with pytest.raises(TransferError) as err:
                fetch_day(_via(sshd, ep, proxy, tmp_path), DAY, archive, source="stripe",
                          backoff_s=0.01)
        assert "after 2 attempts" in str(err.value) and err.value.retryable
        assert _archived(archive) == [] and _no_leftovers(archive)


def test_stalled_transfer_times_out_within_the_limit_and_is_retried(sshd, archive, tmp_path):
    with check("fault", "sftp transfer stalls once"):
        data = os.urandom(1_500_000)
        ep, _ = _serve(sshd, "stall", {NAME: data}, timeout_s=1.0)
        with FaultProxy(sshd.port, [("stall", 250_000)]) as proxy:
            [got] = fetch_day(_via(sshd, ep, proxy, tmp_path), DAY, archive, source="stripe",
                              backoff_s=0.01)
        assert got.sha256 == hashlib.sha256(data).hexdigest()
        assert proxy.connections == 2  # the stalled attempt timed out and one retry fetched it
        assert len(_archived(archive)) == 1 and _no_leftovers(archive)


def test_transfer_that_always_stalls_is_reported_naming_the_timeout(sshd, archive, tmp_path):
    with check("fault", "sftp transfer stalls on every attempt"):
        ep, _ = _serve(sshd, "stall2", {NAME: os.urandom(1_000_000)}, timeout_s=1.0)
        with FaultProxy(sshd.port, [("stall", 250_000)] * 2) as proxy:
            with pytest.raises(TransferError) as err:
                fetch_day(_via(sshd, ep, proxy, tmp_path), DAY, archive, source="stripe",
                          backoff_s=0.01)
        msg = str(err.value)
        assert "stalled" in msg and "no data from the server for 1 s" in msg and "timeout_s" in msg
        assert "after 2 attempts" in msg and proxy.connections == 2
        assert _archived(archive) == [] and _no_leftovers(archive)


def test_file_with_a_temporary_name_is_not_taken_until_renamed(sshd, archive):
    with check("fault", "file still being written (temporary name)"):
        ep, d = _serve(sshd, "temp", {NAME + ".part": b"half", "stripe_20261121.csv.tmp": b"x"},
                       pattern="stripe_{date:%Y%m%d}*")
        with pytest.raises(NotReady) as err:
            fetch_day(ep, DAY, archive, source="stripe")
        assert "temporary name" in str(err.value) and _archived(archive) == []
        (d / (NAME + ".part")).rename(d / NAME)
        (d / "stripe_20261121.csv.tmp").unlink()
        [got] = fetch_day(ep, DAY, archive, source="stripe")
        assert got.name == NAME and archive.read(got.sha256) == b"half"


def test_growing_file_is_not_taken_until_it_settles(sshd, archive):
    with check("fault", "file still being written (growing size)"):
        ep, d = _serve(sshd, "grow", {NAME: b"id,amount\n"}, settle_s=0.4)
        with growing(d / NAME), pytest.raises(NotReady) as err:
            fetch_day(ep, DAY, archive, source="stripe")
        assert "bytes within 0.4 s" in str(err.value) or "changed while downloading" in str(err.value)
        assert _archived(archive) == []
        [got] = fetch_day(ep, DAY, archive, source="stripe")
        assert archive.read(got.sha256) == (d / NAME).read_bytes()


def test_done_marker_is_required_where_the_source_writes_one(sshd, archive):
    with check("fault", "file without its done marker"):
        ep, d = _serve(sshd, "marker", {NAME: b"complete"}, done_marker="{name}.done",
                       pattern="stripe_{date:%Y%m%d}*")
        with pytest.raises(NotReady, match=r"no done marker 'stripe_20261121.csv.done'"):
            fetch_day(ep, DAY, archive, source="stripe")
        (d / (NAME + ".done")).write_bytes(b"")
        [got] = fetch_day(ep, DAY, archive, source="stripe")  # the marker itself is not a file
        assert got.name == NAME and archive.read(got.sha256) == b"complete"


def test_redelivery_is_nothing_new_and_new_bytes_are_a_flagged_correction(sshd, archive, caplog):
    with check("fault", "same file redelivered, then corrected") as c:
        ep, d = _serve(sshd, "redeliver", {NAME: b"v1\n"})
        [first] = fetch_day(ep, DAY, archive, source="stripe")
        [again] = fetch_day(ep, DAY, archive, source="stripe")
        assert (first.new, first.correction_of) == (True, None)
        assert (again.new, again.sha256, again.correction_of) == (False, first.sha256, None)
        (d / NAME).write_bytes(b"v2\n")
        caplog.set_level("INFO", logger="connectors")
        [fixed] = fetch_day(ep, DAY, archive, source="stripe")
        assert fixed.new and fixed.sha256 != first.sha256 and fixed.correction_of == first.sha256
        assert "a correction of" in caplog.text and "1 correction" in caplog.text
        assert archive.read(first.sha256) == b"v1\n" and archive.read(fixed.sha256) == b"v2\n"
        [fixed_again] = fetch_day(ep, DAY, archive, source="stripe")  # stable answer
        assert (fixed_again.new, fixed_again.correction_of) == (False, first.sha256)
        assert archive.deliveries("stripe", NAME) == [first.sha256, fixed.sha256]
        c.duplicates = len(_archived(archive)) - 2


def _noon(monkeypatch):
    """A wall clock that reads 12:00 UTC, so that a deadline seconds away never crosses midnight."""
    base_wall = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)
    base_mono = time.monotonic()
    monkeypatch.setattr(sftp, "_wallclock", lambda: base_wall + timedelta(seconds=time.monotonic() - base_mono))
    return base_wall


def test_late_file_is_polled_until_it_arrives_before_the_deadline(sshd, archive, monkeypatch):
    with check("fault", "late file arrives before the deadline"):
        noon = _noon(monkeypatch)
        ep, d = _serve(sshd, "late_ok", {}, deadline=(noon + timedelta(seconds=6)).time(), poll_s=0.3)
        threading.Timer(1.0, (d / NAME).write_bytes, args=(b"late but here",)).start()
        [got] = fetch_day(ep, DAY, archive, source="stripe")
        assert archive.read(got.sha256) == b"late but here"
        assert sftp._wallclock() < noon + timedelta(seconds=6)  # taken before the deadline


def test_missing_file_at_the_deadline_is_reported_late(sshd, archive, monkeypatch):
    with check("fault", "file missing at the source's deadline"):
        noon = _noon(monkeypatch)
        ep, _ = _serve(sshd, "late_no", {}, deadline=(noon + timedelta(seconds=1.5)).time(), poll_s=0.4)
        with pytest.raises(LateFile) as err:
            fetch_day(ep, DAY, archive, source="stripe")
        assert isinstance(err.value, MissingFile)  # the pipeline's existing handling still applies
        assert sftp._wallclock() >= noon + timedelta(seconds=1.5)  # polled until the deadline
        assert err.value.polls >= 3
        assert "LATE" in str(err.value) and "12:00 UTC" in str(err.value)
        assert err.value.deadline == datetime.combine(noon.date(), ep.deadline, timezone.utc)


def test_without_a_deadline_one_attempt_series_as_before(sshd, archive):
    ep, _ = _serve(sshd, "no_deadline", {})
    with pytest.raises(MissingFile) as err:
        fetch_day(ep, DAY, archive, source="stripe")
    assert not isinstance(err.value, LateFile)


def test_deadline_already_passed_is_late_after_one_series(sshd, archive, monkeypatch):
    noon = _noon(monkeypatch)
    ep, _ = _serve(sshd, "past", {}, deadline=dtime(9, 0), deadline_timezone="UTC")
    with pytest.raises(LateFile, match="09:00 UTC after 1 poll"):
        fetch_day(ep, DAY, archive, source="stripe")
    assert sftp.deadline_at(ep, noon) < noon
