"""Pull one business day's files from a counterparty's SFTP server into the raw archive.

The server's host key is pinned (known_hosts + RejectPolicy): an unknown or changed key is a
refusal, never a prompt, and is not retried. Authentication is by key only. Connection trouble
is retried with exponential backoff; every file's size is checked against the server's stat
before it is archived, and a read that gets no data for ``timeout_s`` is a stall (retried).

A file still being written is not taken: a temporary name (dot-file, ``.part``, ``.tmp``, …), a
size or mtime that changes over ``settle_s`` or during the download, or a missing done marker
where the source writes one. With a ``deadline`` the fetch keeps polling until then and a file
that never came is ``LateFile``; without one, one attempt series, as before.
"""
from __future__ import annotations

import logging
import posixpath
import socket
import stat
import time
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import paramiko

from connectors.archive import Archive, Fetched, HashingWriter, MissingFile, summarize
from connectors.settle import UNFINISHED, Complete, Entry, NotReady, candidates, changed
from connectors.endpoints import SftpEndpoint
from recon.errors import TransferError

__all__ = ["Fetched", "LateFile", "MissingFile", "NotReady", "fetch_day", "summarize"]

log = logging.getLogger(__name__)

_MAX_BACKOFF_S = 60.0


class _QuietTransport(logging.Filter):
    """Drops paramiko's ERROR records: its transport thread logs a failed handshake as a
    traceback, one record per line, while the same failure reaches ``fetch_day`` and is reported
    there once, as one paragraph."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno < logging.ERROR


for _name in ("paramiko.transport", "paramiko.transport.sftp"):
    logging.getLogger(_name).addFilter(_QuietTransport())


class LateFile(MissingFile):
    """The day's file was still missing (or still being written) at the source's deadline."""

    def __init__(self, cause: MissingFile, deadline: datetime, polls: int):
        super().__init__(cause.source, cause.where, cause.expected)
        self.deadline, self.polls, self.cause = deadline, polls, cause
        self.message = (f"{cause.source}: LATE: still no complete file matching {cause.expected!r} "
                        f"in {cause.where} at the deadline {deadline:%Y-%m-%d %H:%M %Z} after "
                        f"{polls} poll{'' if polls == 1 else 's'} ({cause.message})")
        self.hint = ("Chase the sender; the day is reconciled without this source until it arrives "
                     "(runbook: docs/operations.md#late-file).")
        self.args = (str(self),)


def _wallclock() -> datetime:
    return datetime.now(timezone.utc)


class _UnknownHost(paramiko.SSHException):
    def __init__(self, hostname: str, key: paramiko.PKey):
        super().__init__(f"{hostname} not in known_hosts")
        self.hostname, self.key = hostname, key


class _PinnedPolicy(paramiko.RejectPolicy):
    """RejectPolicy that keeps the key the server offered, for the error message."""

    def missing_host_key(self, client, hostname, key):
        raise _UnknownHost(hostname, key)


class _SizeMismatch(Exception):
    pass


class _Stalled(Exception):
    pass


class _Denied(Exception):
    """The server refused to read a listed file: a permission, not a network fault."""

    def __init__(self, remote: str):
        super().__init__(remote)
        self.remote = remote


def _fatal(source: str, endpoint: SftpEndpoint, message: str, hint: str) -> TransferError:
    return TransferError(f"{source}: sftp {endpoint.user}@{endpoint.host}:{endpoint.port}: {message}",
                         hint=hint)


def _transient(source: str, endpoint: SftpEndpoint, message: str, hint: str) -> TransferError:
    """A failure that a later attempt (e.g. the orchestrator's task retry) may get past."""
    err = _fatal(source, endpoint, message, hint)
    err.retryable = True
    return err


def _host_key_error(source: str, endpoint: SftpEndpoint, e: Exception) -> TransferError:
    where = f"{endpoint.host}:{endpoint.port}"
    if isinstance(e, _UnknownHost):
        return _fatal(source, endpoint,
                      f"host key refused: {e.hostname} has no entry in the pinned known_hosts file "
                      f"{endpoint.known_hosts}; the server offered {e.key.get_name()} key "
                      f"{e.key.fingerprint}. Nothing was downloaded.",
                      hint=f"Verify that fingerprint with the counterparty out of band (not over "
                           f"this connection), then add the key for {where} to "
                           f"{endpoint.known_hosts} (e.g. from `ssh-keyscan -p {endpoint.port} "
                           f"{endpoint.host}`, once verified; runbook: docs/operations.md#host-key-change).")
    assert isinstance(e, paramiko.BadHostKeyException)
    return _fatal(source, endpoint,
                  f"HOST KEY MISMATCH: the server offered {e.key.get_name()} key "
                  f"{e.key.fingerprint}, but the known_hosts file {endpoint.known_hosts} pins "
                  f"{e.expected_key.get_name()} key {e.expected_key.fingerprint}. This is either "
                  f"a key rotation by the counterparty or someone intercepting the connection; "
                  f"nothing was downloaded.",
                  hint=f"Confirm the new key's fingerprint with the counterparty out of band; only "
                       f"then replace the entry for {where} in {endpoint.known_hosts} (runbook: "
                       f"docs/operations.md#host-key-change).")


def _connect(endpoint: SftpEndpoint, source: str) -> paramiko.SSHClient:
    if not endpoint.private_key.is_file():
        # Checked here: paramiko would raise a bare OSError, which looks like a network error.
        raise _fatal(source, endpoint, f"private key file {endpoint.private_key} does not exist.",
                     hint="Point the source's sftp.private_key at the key this user logs in with.")
    client = paramiko.SSHClient()
    try:
        client.load_host_keys(str(endpoint.known_hosts))
    except OSError as e:
        raise _fatal(source, endpoint,
                     f"cannot read the pinned known_hosts file {endpoint.known_hosts} "
                     f"({e.strerror or e}).",
                     hint="Point the source's sftp.known_hosts at the file holding the server's "
                          "verified host key.") from e
    client.set_missing_host_key_policy(_PinnedPolicy())
    try:
        client.connect(
            endpoint.host, port=endpoint.port, username=endpoint.user,
            key_filename=str(endpoint.private_key), passphrase=endpoint.passphrase,
            look_for_keys=False, allow_agent=False,
            timeout=endpoint.connect_timeout_s, banner_timeout=endpoint.banner_timeout_s,
            auth_timeout=endpoint.auth_timeout_s, channel_timeout=endpoint.timeout_s,
        )
    except (_UnknownHost, paramiko.BadHostKeyException) as e:
        client.close()
        raise _host_key_error(source, endpoint, e) from e
    except (paramiko.AuthenticationException, paramiko.SSHException) as e:
        client.close()
        if hung := _hang(endpoint, e):
            raise _fatal(source, endpoint, hung,
                         hint="The server process is hung or overloaded: ask the counterparty to "
                              "check it; the source is reported failed for this run and fetched "
                              "again by the next one (runbook: docs/operations.md#transfer-refused).") from e
        if not isinstance(e, paramiko.AuthenticationException):
            raise
        raise _fatal(source, endpoint,
                     f"authentication failed for user {endpoint.user!r} with the private key "
                     f"{endpoint.private_key} ({type(e).__name__}).",
                     hint="Check that the matching public key is installed for that user on the "
                          "server and that the key file is the right one (and not "
                          "passphrase-protected).") from e
    except BaseException:
        client.close()
        raise
    return client


def _hang(endpoint: SftpEndpoint, e: Exception) -> str:
    """The one-paragraph account of a server that accepted the connection and then went silent
    (paramiko's banner, authentication or channel timeout), or "" for any other failure."""
    text = str(e).lower()
    if "banner" in text:
        return (f"the server accepted the connection but sent no SSH banner within "
                f"{endpoint.banner_timeout_s:g} s (sftp.banner_timeout_s); nothing was downloaded.")
    if isinstance(e, paramiko.AuthenticationException) and "timeout" in text:
        return (f"the server did not answer the login of {endpoint.user!r} within "
                f"{endpoint.auth_timeout_s:g} s (sftp.auth_timeout_s); nothing was downloaded.")
    if "timeout opening channel" in text:
        return (f"the server did not open an SFTP channel within {endpoint.timeout_s:g} s "
                f"(sftp.timeout_s); nothing was downloaded.")
    return ""


class _Unfinished(Exception):
    """Downloaded whole, but the format's end record is not there yet."""


def _download(sftp: paramiko.SFTPClient, remote: str, expected: int, archive: Archive, name: str,
              timeout_s: float, complete: Complete | None = None):
    tmp = archive.temp_path(name)
    try:
        with open(tmp, "wb") as fh:
            f = HashingWriter(fh)  # hashed as it arrives: the archive does not read it back
            try:
                sftp.getfo(remote, f)
            except PermissionError as e:
                raise _Denied(remote) from e
            except (socket.timeout, TimeoutError) as e:
                raise _Stalled(f"{remote}: the transfer stalled: no data from the server for "
                               f"{timeout_s:g} s (sftp.timeout_s) after {f.tell():,} of "
                               f"{expected:,} bytes") from e
        got = tmp.stat().st_size
        if got != expected:
            raise _SizeMismatch(f"{remote}: downloaded {got:,} bytes, the server's stat says "
                                f"{expected:,}")
        if complete is not None and not complete(tmp):
            raise _Unfinished(remote)
        return archive.put(tmp, sha256=f.sha256)
    finally:
        tmp.unlink(missing_ok=True)


def _entry(name: str, a: paramiko.SFTPAttributes) -> Entry:
    return Entry(name, a.st_size or 0, a.st_mtime or 0)


def _attempt(endpoint: SftpEndpoint, day: date, archive: Archive, source: str,
             done: dict[str, Fetched], complete: Complete | None = None) -> None:
    """One connection: list, match, download what ``done`` does not hold yet, once settled."""
    expected = endpoint.filename(day)
    where = f"{endpoint.remote_dir} on sftp {endpoint.host}:{endpoint.port}"
    client = _connect(endpoint, source)
    try:
        sftp = client.open_sftp()
        sftp.get_channel().settimeout(endpoint.timeout_s)
        try:
            listed = sftp.listdir_attr(endpoint.remote_dir)
        except (FileNotFoundError, PermissionError) as e:
            raise _fatal(source, endpoint,
                         f"cannot list remote directory {endpoint.remote_dir!r} "
                         f"({e.strerror or type(e).__name__}).",
                         hint="Check the source's sftp.remote_dir with the counterparty.") from e
        entries = [_entry(a.filename, a) for a in listed if stat.S_ISREG(a.st_mode or 0)]
        ready, waiting = candidates(entries, expected, lambda n: endpoint.marker_name(n, day))
        if not ready and not waiting:
            raise MissingFile(source, where, expected)
        todo = [e for e in ready if e.name not in done]
        if todo and endpoint.settle_s > 0:
            time.sleep(endpoint.settle_s)
            for e in todo:
                now = _entry(e.name, sftp.stat(posixpath.join(endpoint.remote_dir, e.name)))
                if why := changed(e, now, f"within {endpoint.settle_s:g} s"):
                    waiting[e.name] = why
        for e in todo:
            name = e.name
            if name in waiting:
                continue
            remote = posixpath.join(endpoint.remote_dir, name)
            before = _entry(name, sftp.stat(remote))
            try:
                stored = _download(sftp, remote, before.size, archive, name, endpoint.timeout_s,
                                   complete)
            except _Unfinished:
                waiting[name] = UNFINISHED
                continue
            except _Denied as denied:
                raise _fatal(source, endpoint,
                             f"permission denied reading the remote file {remote!r} as user "
                             f"{endpoint.user!r} on {endpoint.host}:{endpoint.port} (it is listed, "
                             f"but the server refuses to open it); not retried, nothing of it "
                             f"was archived.",
                             hint="Ask the counterparty to make the file readable by that user "
                                  "(its permissions or owner), then run the day again (runbook: "
                                  "docs/operations.md#transfer-refused).") from denied
            if why := changed(before, _entry(name, sftp.stat(remote)), "while downloading"):
                # Archived bytes are immutable and harmless, but this snapshot is not the file.
                waiting[name] = f"changed while downloading ({why})"
                continue
            done[name] = Fetched(source=source, remote_path=remote, name=name, size=stored.size,
                                 sha256=stored.sha256, archive_path=stored.path, new=stored.new,
                                 correction_of=archive.record_delivery(source, name, stored.sha256))
        if waiting:
            raise NotReady(source, where, expected, waiting)
    finally:
        client.close()


def _retryable(e: BaseException) -> bool:
    if isinstance(e, (_UnknownHost, paramiko.BadHostKeyException, paramiko.AuthenticationException)):
        return False
    return isinstance(e, (OSError, EOFError, socket.timeout, paramiko.SSHException, _SizeMismatch,
                          _Stalled))


def _series(endpoint: SftpEndpoint, day: date, archive: Archive, source: str,
            backoff_s: float, done: dict[str, Fetched], complete: Complete | None = None) -> None:
    """One attempt series: the first attempt and ``endpoint.retries`` retries with backoff."""
    attempts = endpoint.retries + 1
    for attempt in range(1, attempts + 1):
        try:
            _attempt(endpoint, day, archive, source, done, complete)
            return
        except MissingFile:
            raise
        except Exception as e:
            if not _retryable(e):
                raise
            if attempt == attempts:
                raise _transient(source, endpoint,
                             f"transfer failed after {attempts} attempt"
                             f"{'s' if attempts > 1 else ''}: {type(e).__name__}: {e}.",
                             hint="Check that the server is up and reachable from here (network, "
                                  "firewall, port); the run can be retried once it is.") from e
            delay = min(backoff_s * 2 ** (attempt - 1), _MAX_BACKOFF_S)
            log.warning("%s: attempt %d of %d to %s:%d failed (%s: %s); retrying in %.3g s",
                        source, attempt, attempts, endpoint.host, endpoint.port,
                        type(e).__name__, e, delay)
            time.sleep(delay)


def deadline_at(endpoint: SftpEndpoint, now: datetime | None = None) -> datetime | None:
    """The source's deadline today (in its deadline timezone), or None when it declares none."""
    if endpoint.deadline is None:
        return None
    tz = ZoneInfo(endpoint.deadline_timezone)
    local = (now or _wallclock()).astimezone(tz)
    return datetime.combine(local.date(), endpoint.deadline, tz)


def fetch_day(endpoint: SftpEndpoint, day: date, archive: Archive, *, source: str,
              backoff_s: float = 1.0, complete: Complete | None = None) -> list[Fetched]:
    """Archive every complete file in ``remote_dir`` matching ``endpoint.filename(day)``.

    Raises ``MissingFile`` when none match (``NotReady`` when they are still being written),
    ``TransferError`` for a refused host key or login (at once) or when the connection keeps
    failing (after ``endpoint.retries`` retries). With a deadline, a missing or unfinished file
    or a failing connection is polled every ``poll_s`` until then; a file still missing at the
    deadline raises ``LateFile``.
    """
    done: dict[str, Fetched] = {}
    until = deadline_at(endpoint)
    stop = None if until is None else time.monotonic() + (until - _wallclock()).total_seconds()
    polls = 0
    while True:
        polls += 1
        try:
            _series(endpoint, day, archive, source, backoff_s, done, complete)
            break
        except (MissingFile, TransferError) as e:
            if stop is None or not (isinstance(e, MissingFile) or e.retryable):
                raise
            left = stop - time.monotonic()
            if left <= 0:
                if isinstance(e, MissingFile):
                    raise LateFile(e, until, polls) from e
                raise
            wait = min(endpoint.poll_s, left)
            log.info("%s: %s; polling again in %.3g s (deadline %s)", source, e.message, wait,
                     f"{until:%H:%M %Z}")
            time.sleep(wait)
    fetched = [done[n] for n in sorted(done)]
    log.info("%s", summarize(source, fetched))
    return fetched
