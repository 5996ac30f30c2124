"""Safe reading of zipped and gzipped statement files: never trust the archive.

Alipay bills come zipped (its module reads the archive itself); any other format may arrive
inside a gzip file or a zip of one member, which ``unwrap`` opens before the format reads it.

Refused with a ParseError, before anything is decompressed: a member whose name is absolute or
climbs out with ``..``, more than ``MAX_MEMBERS`` members, a declared total size above
``MAX_TOTAL`` bytes, a member whose compression ratio is above ``MAX_RATIO`` (a zip bomb), an
encrypted member. Members are then read with a hard byte limit, so a header that lies about its
size cannot make us inflate more than the bound either. Nothing is ever written to disk.
"""
from __future__ import annotations

import io
import zipfile
import zlib
from pathlib import PurePosixPath, PureWindowsPath

from recon.errors import ParseError

MAX_MEMBERS = 64
MAX_TOTAL = 512 * 1024 * 1024  # bytes, all members uncompressed
MAX_RATIO = 100  # uncompressed / compressed, per member
_RATIO_FLOOR = 64 * 1024  # tiny members may compress very well without being a bomb
ZIP_MAGIC = b"PK\x03\x04"
GZIP_MAGIC = b"\x1f\x8b"
MAX_GZIP_MEMBERS = 64  # concatenated gzip streams in one file


def is_zip(data: bytes) -> bool:
    return data[:4] == ZIP_MAGIC


def is_gzip(data: bytes) -> bool:
    return data[:2] == GZIP_MAGIC


def unwrap(data: bytes, name: str, *, max_total: int = MAX_TOTAL,
           max_ratio: int = MAX_RATIO) -> tuple[bytes, str]:
    """(the statement file inside, a name for messages) of a gzip file or a zip of exactly one
    file; other data as it is. Bounded like ``read_members``: total size, ratio, members; an
    archive inside the archive is refused (one level only)."""
    if is_gzip(data):
        inner, label = gunzip(data, name, max_total=max_total, max_ratio=max_ratio), name
    elif is_zip(data):
        members = {k: v for k, v in read_members(data, name, max_total=max_total,
                                                 max_ratio=max_ratio).items()}
        if len(members) != 1:
            raise ParseError(name, None, f"expected one statement file in the zip archive, found "
                                         f"{len(members)} ({', '.join(list(members)[:5])})")
        member, inner = next(iter(members.items()))
        label = f"{name}!{member}"
    else:
        return data, name
    if is_gzip(inner) or is_zip(inner):
        raise ParseError(label, None, "expected a statement file inside the archive, found "
                                      "another archive: refused (one level of compression only)")
    return inner, label


def gunzip(data: bytes, name: str, *, max_total: int = MAX_TOTAL, max_ratio: int = MAX_RATIO,
           max_members: int = MAX_GZIP_MEMBERS) -> bytes:
    """A gzip file's content (all concatenated members), inflated at most ``max_total`` bytes and
    at most ``max_ratio`` times its compressed size (past a small floor): a gzip bomb is refused
    before it is inflated, a part at a time."""
    limit = min(max_total, max(_RATIO_FLOOR, max_ratio * len(data)))
    out, rest, members = [], data, 0
    while rest:
        members += 1
        if members > max_members:
            raise ParseError(name, None, f"expected at most {max_members} gzip members, found more")
        stream = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            out.append(stream.decompress(rest, limit + 1 - sum(map(len, out))))
        except zlib.error as exc:
            raise ParseError(name, None, f"expected a readable gzip file ({exc})") from exc
        if sum(map(len, out)) > limit:
            raise ParseError(name, None, f"gzip file inflates beyond {limit} bytes ({max_ratio}× its "
                                         f"{len(data)} bytes, at most {max_total}): refused as a "
                                         f"gzip bomb")
        if not stream.eof:
            raise ParseError(name, None, "expected a complete gzip file: it ends part-way "
                                         "(truncated in transfer?)")
        rest = stream.unused_data.lstrip(b"\x00")  # some writers pad after the last member
    return b"".join(out)


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
