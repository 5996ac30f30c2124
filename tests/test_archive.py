"""The raw archive and the local drop-folder transport: stored once, read back verified."""
from __future__ import annotations

import hashlib
import os
import stat
from datetime import date
from pathlib import Path

import pytest

from connectors.archive import Archive, ArchiveCorrupted, ArchiveMissing
from connectors.local import fetch_local
from connectors.sftp import MissingFile

DAY = date(2026, 11, 21)


def _staged(archive: Archive, data: bytes) -> Path:
    tmp = archive.temp_path("x")
    tmp.write_bytes(data)
    return tmp


def _archived_files(archive: Archive) -> list[Path]:
    return [p for p in (archive.root / "sha256").rglob("*") if p.is_file()]


def test_put_stores_once_under_sha_read_only(archive):
    data = b"id,amount\n1,10.00\n"
    sha = hashlib.sha256(data).hexdigest()
    first = archive.put(_staged(archive, data))
    assert (first.sha256, first.size, first.new) == (sha, len(data), True)
    assert first.path == archive.root / "sha256" / sha[:2] / sha == archive.path(sha)
    assert stat.S_IMODE(first.path.stat().st_mode) & 0o222 == 0
    tmp = _staged(archive, data)
    again = archive.put(tmp)
    assert (again.new, again.path) == (False, first.path)
    assert not tmp.exists()
    assert _archived_files(archive) == [first.path]
    assert list(archive.staging.iterdir()) == []
    assert archive.read(sha) == data


def test_put_from_another_directory_consumes_the_temp(tmp_path, archive):
    src = tmp_path / "elsewhere.csv"
    src.write_bytes(b"abc")
    got = archive.put(src)
    assert got.new and not src.exists() and archive.read(got.sha256) == b"abc"


def test_tampered_file_is_reported(archive):
    got = archive.put(_staged(archive, b"payout,100.00\n"))
    os.chmod(got.path, 0o644)
    blob = bytearray(got.path.read_bytes())
    blob[0] ^= 0x01
    got.path.write_bytes(bytes(blob))
    with pytest.raises(ArchiveCorrupted) as err:
        archive.read(got.sha256)
    msg = str(err.value)
    assert str(got.path) in msg and got.sha256 in msg
    assert hashlib.sha256(bytes(blob)).hexdigest() in msg


def test_missing_sha_and_bad_sha(archive):
    with pytest.raises(ArchiveMissing):
        archive.read("0" * 64)
    with pytest.raises(ValueError):
        archive.path("../etc/passwd")


def test_fetch_local_matches_pattern_and_dedups(tmp_path, archive, caplog):
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "ledger_20261121.csv").write_bytes(b"ledger day 21\n")
    (drop / "ledger_20261120.csv").write_bytes(b"ledger day 20\n")
    (drop / ".ledger_20261121.csv.part").write_bytes(b"half")
    caplog.set_level("INFO", logger="connectors.local")
    [got] = fetch_local(drop, "ledger_{date:%Y%m%d}*.csv", DAY, archive, source="ledger")
    assert (got.name, got.size, got.new) == ("ledger_20261121.csv", 14, True)
    assert got.remote_path == str(drop / "ledger_20261121.csv")
    assert archive.read(got.sha256) == b"ledger day 21\n"
    [again] = fetch_local(drop, "ledger_{date:%Y%m%d}*.csv", DAY, archive, source="ledger")
    assert again.new is False and again.sha256 == got.sha256
    assert len(_archived_files(archive)) == 1
    assert "ledger: 1 file fetched, 14 bytes, new" in caplog.text
    assert "ledger: 1 file fetched, 14 bytes, already archived" in caplog.text


def test_fetch_local_missing_names_the_expected_file(tmp_path, archive):
    with pytest.raises(MissingFile) as err:
        fetch_local(tmp_path, "ledger_{date:%Y%m%d}.csv", DAY, archive, source="ledger")
    assert "ledger_20261121.csv" in str(err.value) and str(tmp_path) in str(err.value)


def test_a_copy_in_several_blocks_and_an_empty_one_hash_what_they_wrote(archive, tmp_path, monkeypatch):
    from connectors import archive as archive_mod

    monkeypatch.setattr(archive_mod, "_COPY_BLOCK", 1000)  # 2,500 bytes: three blocks, the last short
    for data in (bytes(range(250)) * 10, b""):
        src = tmp_path / "export.csv"
        src.write_bytes(data)
        tmp = archive.temp_path("export.csv")
        assert archive_mod.copy_hashed(src, tmp) == hashlib.sha256(data).hexdigest()
        assert tmp.read_bytes() == data


def test_bytes_hashed_as_written_are_stored_without_a_second_read(archive, tmp_path):
    """copy_hashed / HashingWriter hash what they write (the drop folder and SFTP transports), and
    put stores under that digest; a digest that does not match the bytes is caught on read."""
    from connectors.archive import HashingWriter, copy_hashed

    data = os.urandom(3 << 20) + b"tail"  # several chunks
    src = tmp_path / "export.csv"
    src.write_bytes(data)
    tmp = archive.temp_path("export.csv")
    sha = copy_hashed(src, tmp)
    assert sha == hashlib.sha256(data).hexdigest()
    assert archive.put(tmp, sha256=sha).path == archive.path(sha)
    assert archive.read(sha) == data

    tmp = archive.temp_path("y")
    with open(tmp, "wb") as fh:
        w = HashingWriter(fh)
        w.write(b"abc")
        w.write(b"def")
        assert w.tell() == 6
    assert w.sha256 == hashlib.sha256(b"abcdef").hexdigest()
    wrong = hashlib.sha256(b"something else").hexdigest()
    archive.put(tmp, sha256=wrong)
    with pytest.raises(ArchiveCorrupted):
        archive.read(wrong)


def test_only_a_file_this_run_stored_is_parsed_without_a_re_hash(archive, monkeypatch):
    """open(verify=False) skips the re-hash of a big file (a tampered one gets through), so the
    loads use it only for ``Fetched.new`` files; anything stored before is re-hashed and refused."""
    from dataclasses import replace
    from types import SimpleNamespace

    from connectors.archive import FileView, Fetched
    from recon import pipeline

    data = b"entry_id,amount\n1,10.00\n"
    stored = archive.put(_staged(archive, data))
    os.chmod(stored.path, 0o644)
    stored.path.write_bytes(data.replace(b"10.00", b"99.00"))  # changed on disk since
    assert isinstance(archive.open(stored.sha256, whole_below=0, verify=False), FileView)
    with pytest.raises(ArchiveCorrupted):
        archive.open(stored.sha256, whole_below=0)
    # a file read whole (below whole_below) likewise: not re-hashed only when asked
    assert archive.open(stored.sha256, verify=False) == data.replace(b"10.00", b"99.00")
    with pytest.raises(ArchiveCorrupted):
        archive.open(stored.sha256)
    with pytest.raises(ArchiveCorrupted):
        archive.read(stored.sha256)

    asked = []

    def spy(self, sha, whole_below=256 << 20, *, verify=True):
        asked.append(verify)
        raise ArchiveMissing(self.path(sha), sha)

    monkeypatch.setattr(Archive, "open", spy)
    cfg = SimpleNamespace(archive=archive.root)
    source = SimpleNamespace(name="stripe", kind="psp", format="stripe_itemized", options={},
                             timezone="UTC")
    fresh = Fetched("stripe", "/in/x.csv", "x.csv", len(data), stored.sha256, stored.path, True)
    for f in (fresh, replace(fresh, new=False)):
        with pytest.raises(ArchiveMissing):
            next(pipeline.prepare_ledger_parts(cfg, f))
        with pytest.raises(ArchiveMissing):
            next(pipeline.prepare_statement_parts(cfg, source, f, DAY))
    assert asked == [False, False, True, True]


def test_count_byte_counts_as_bytes_count_does(tmp_path):
    """count_byte (numpy, a block at a time) against bytes.count, over block edges and ranges,
    on bytes and on a FileView of the same file."""
    import random

    from connectors.archive import FileView
    from schemas.bytecount import _COUNT_BLOCK, count_byte
    rng = random.Random(5)
    data = bytes(rng.choice(b"ab,\n\n") for _ in range(2 * _COUNT_BLOCK + 77))
    path = tmp_path / "f"
    path.write_bytes(data)
    view = FileView(path)
    for byte in (ord("\n"), ord(","), ord("z")):
        for start, end in ((0, None), (5, _COUNT_BLOCK + 3), (_COUNT_BLOCK - 1, _COUNT_BLOCK + 1), (9, 9)):
            expected = data.count(bytes([byte]), start, end)
            assert count_byte(data, byte, start, end) == expected
            assert count_byte(view, byte, start, end) == expected
            assert view.count(bytes([byte]), start, end) == expected
    assert count_byte(data, ord("\n")) > 0 and count_byte(b"", ord("\n")) == 0
