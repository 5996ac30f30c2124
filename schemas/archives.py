"""Safe reading of zipped statement files (Alipay bills come zipped): never trust the archive.

Refused with a ParseError, before anything is decompressed: a member whose name is absolute or
climbs out with ``..``, more than ``MAX_MEMBERS`` members, a declared total size above
``MAX_TOTAL`` bytes, a member whose compression ratio is above ``MAX_RATIO`` (a zip bomb), an
encrypted member. Members are then read with a hard byte limit, so a header that lies about its
size cannot make us inflate more than the bound either. Nothing is ever written to disk.
"""
from __future__ import annotations

import io
import zipfile
from pathlib import PurePosixPath, PureWindowsPath

from recon.errors import ParseError

MAX_MEMBERS = 64
MAX_TOTAL = 512 * 1024 * 1024  # bytes, all members uncompressed
MAX_RATIO = 100  # uncompressed / compressed, per member
_RATIO_FLOOR = 64 * 1024  # tiny members may compress very well without being a bomb
ZIP_MAGIC = b"PK\x03\x04"


def is_zip(data: bytes) -> bool:
    return data[:4] == ZIP_MAGIC


def read_members(data: bytes, name: str, *, max_members: int = MAX_MEMBERS,
                 max_total: int = MAX_TOTAL, max_ratio: int = MAX_RATIO) -> dict[str, bytes]:
    """The archive's regular files by member name, in archive order (directories skipped)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError) as exc:
        raise ParseError(name, None, f"expected a readable zip archive ({exc})") from exc
    if len(infos) > max_members:
        raise ParseError(name, None, f"expected at most {max_members} members in the zip archive, "
                                     f"found {len(infos)}")
    total = 0
    for info in infos:
        _check_member(info, name, max_ratio)
        total += info.file_size
    if total > max_total:
        raise ParseError(name, None, f"expected at most {max_total} bytes uncompressed in the zip "
                                     f"archive, its members declare {total}")
    out: dict[str, bytes] = {}
    budget = max_total
    for info in infos:
        if info.is_dir():
            continue
        out[info.filename] = _read_bounded(archive, info, name, min(budget, info.file_size))
        budget -= len(out[info.filename])
    return out


def _check_member(info: zipfile.ZipInfo, name: str, max_ratio: int) -> None:
    member = info.filename
    posix, windows = PurePosixPath(member), PureWindowsPath(member)
    if (posix.is_absolute() or windows.is_absolute() or windows.drive or member.startswith(("/", "\\"))
            or ".." in posix.parts or ".." in windows.parts):
        raise ParseError(name, None, f"zip member {member!r} has an absolute path or climbs out "
                                     f"with '..': refused")
    if info.flag_bits & 0x1:
        raise ParseError(name, None, f"zip member {member!r} is encrypted: expected a plain archive")
    if info.file_size > _RATIO_FLOOR and info.file_size > max_ratio * max(info.compress_size, 1):
        raise ParseError(name, None, f"zip member {member!r} expands {info.compress_size} bytes to "
                                     f"{info.file_size} (more than {max_ratio}× ): refused as a zip bomb")


def _read_bounded(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, limit: int) -> bytes:
    """Read at most ``limit`` bytes; a member that inflates beyond what it declared is refused."""
    try:
        with archive.open(info) as stream:
            data = stream.read(limit + 1)
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, EOFError, OSError,
            ValueError) as exc:
        raise ParseError(name, None, f"zip member {info.filename!r} cannot be read ({exc})") from exc
    if len(data) > limit:
        raise ParseError(name, None, f"zip member {info.filename!r} inflates beyond its declared "
                                     f"size or the archive's bound of {limit} bytes: refused")
    return data


def single_member(data: bytes, name: str, *, suffixes=(".csv", ".txt")) -> tuple[str, bytes]:
    """The one statement file inside an archive (Alipay zips one CSV, or a 明细 and a 汇总 CSV:
    the caller picks by content with ``pick``)."""
    members = {k: v for k, v in read_members(data, name).items() if k.lower().endswith(suffixes)}
    if len(members) != 1:
        raise ParseError(name, None, f"expected exactly one {'/'.join(suffixes)} file in the zip "
                                     f"archive, found {len(members)}")
    return next(iter(members.items()))
