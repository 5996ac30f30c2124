"""Pull one business day's files from a counterparty's SFTP server into the raw archive.

The server's host key is pinned (known_hosts + RejectPolicy): an unknown or changed key is a
refusal, never a prompt, and is not retried. Authentication is by key only. Connection trouble
is retried with exponential backoff; every file's size is checked against the server's stat
before it is archived.
"""
from __future__ import annotations

import fnmatch
import logging
import posixpath
import socket
import stat
import time
from datetime import date

import paramiko

from connectors.archive import Archive, Fetched, MissingFile, summarize
from recon.config import SftpEndpoint
from recon.errors import TransferError

__all__ = ["Fetched", "MissingFile", "fetch_day", "summarize"]

log = logging.getLogger(__name__)

_MAX_BACKOFF_S = 60.0


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
                           f"{endpoint.host}`, once verified).")
    assert isinstance(e, paramiko.BadHostKeyException)
    return _fatal(source, endpoint,
                  f"HOST KEY MISMATCH: the server offered {e.key.get_name()} key "
                  f"{e.key.fingerprint}, but the known_hosts file {endpoint.known_hosts} pins "
                  f"{e.expected_key.get_name()} key {e.expected_key.fingerprint}. This is either "
                  f"a key rotation by the counterparty or someone intercepting the connection; "
                  f"nothing was downloaded.",
                  hint=f"Confirm the new key's fingerprint with the counterparty out of band; only "
                       f"then replace the entry for {where} in {endpoint.known_hosts}.")


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
            key_filename=str(endpoint.private_key), look_for_keys=False, allow_agent=False,
            timeout=endpoint.timeout_s, banner_timeout=endpoint.timeout_s,
            auth_timeout=endpoint.timeout_s, channel_timeout=endpoint.timeout_s,
        )
    except (_UnknownHost, paramiko.BadHostKeyException) as e:
        client.close()
        raise _host_key_error(source, endpoint, e) from e
    except paramiko.AuthenticationException as e:
        client.close()
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


def _download(sftp: paramiko.SFTPClient, remote: str, expected: int, archive: Archive, name: str):
    tmp = archive.temp_path(name)
    try:
        with open(tmp, "wb") as f:
            sftp.getfo(remote, f)
        got = tmp.stat().st_size
        if got != expected:
            raise _SizeMismatch(f"{remote}: downloaded {got:,} bytes, the server's stat says "
                                f"{expected:,}")
        return archive.put(tmp)
    finally:
        tmp.unlink(missing_ok=True)


def _attempt(endpoint: SftpEndpoint, day: date, archive: Archive, source: str,
             done: dict[str, Fetched]) -> None:
    """One connection: list, match, download what ``done`` does not hold yet."""
    expected = endpoint.filename(day)
    client = _connect(endpoint, source)
    try:
        sftp = client.open_sftp()
        sftp.get_channel().settimeout(endpoint.timeout_s)
        try:
            entries = sftp.listdir_attr(endpoint.remote_dir)
        except (FileNotFoundError, PermissionError) as e:
            raise _fatal(source, endpoint,
                         f"cannot list remote directory {endpoint.remote_dir!r} "
                         f"({e.strerror or type(e).__name__}).",
                         hint="Check the source's sftp.remote_dir with the counterparty.") from e
        # Hidden names are how uploaders commonly mark files still being written.
        names = sorted(a.filename for a in entries
                       if stat.S_ISREG(a.st_mode or 0) and not a.filename.startswith(".")
                       and fnmatch.fnmatchcase(a.filename, expected))
        if not names:
            raise MissingFile(source, f"{endpoint.remote_dir} on sftp {endpoint.host}:{endpoint.port}",
                              expected)
        for name in names:
            if name in done:
                continue
            remote = posixpath.join(endpoint.remote_dir, name)
            size = sftp.stat(remote).st_size
            stored = _download(sftp, remote, size, archive, name)
            done[name] = Fetched(source=source, remote_path=remote, name=name, size=stored.size,
                                 sha256=stored.sha256, archive_path=stored.path, new=stored.new)
    finally:
        client.close()


def _retryable(e: BaseException) -> bool:
    if isinstance(e, (_UnknownHost, paramiko.BadHostKeyException, paramiko.AuthenticationException)):
        return False
    return isinstance(e, (OSError, EOFError, socket.timeout, paramiko.SSHException, _SizeMismatch))


def fetch_day(endpoint: SftpEndpoint, day: date, archive: Archive, *, source: str,
              backoff_s: float = 1.0) -> list[Fetched]:
    """Archive every file in ``remote_dir`` matching ``endpoint.filename(day)``.

    Raises ``MissingFile`` when none match, ``TransferError`` for a refused host key or login
    (at once) or when the connection keeps failing (after ``endpoint.retries`` retries).
    """
    done: dict[str, Fetched] = {}
    attempts = endpoint.retries + 1
    for attempt in range(1, attempts + 1):
        try:
            _attempt(endpoint, day, archive, source, done)
            break
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
    fetched = [done[n] for n in sorted(done)]
    log.info("%s", summarize(source, fetched))
    return fetched

