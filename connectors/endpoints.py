"""Where a source's files come from: an SFTP server or a local folder, as the config declares
them (recon.config reads them from the file; the connectors only use them)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path

from connectors.settle import DEFAULT_SETTLE_S


@dataclass(frozen=True)
class SftpEndpoint:
    host: str
    port: int
    user: str
    private_key: Path
    known_hosts: Path
    remote_dir: str
    pattern: str
    timeout_s: float = 30.0  # a read (or channel open) that gets no answer for this long
    retries: int = 3
    # Files still being written (connectors/settle.py): a file is taken only once its size and
    # mtime stayed the same for settle_s seconds (on by default), and (where the source writes
    # one) once its done marker is there: done_marker names it from the data file's {name}
    # and/or the {date}, e.g. "{name}.done".
    settle_s: float = DEFAULT_SETTLE_S
    done_marker: str | None = None
    # A server that accepts and then goes silent fails the source within these (not retried).
    connect_timeout_s: float = 10.0  # TCP connect
    banner_timeout_s: float = 15.0  # the server's SSH banner
    auth_timeout_s: float = 15.0  # the answer to the login
    # Late files: keep polling every poll_s seconds until this time of day (in deadline_timezone)
    # on the day of the fetch; None means one attempt series, as before.
    deadline: time | None = None
    deadline_timezone: str = "UTC"
    poll_s: float = 60.0
    passphrase: str | None = field(default=None, repr=False)  # of private_key; from ${ENV} only

    def filename(self, day: date) -> str:
        return self.pattern.format(date=day)

    def marker_name(self, name: str, day: date) -> str | None:
        return None if self.done_marker is None else self.done_marker.format(name=name, date=day)


@dataclass(frozen=True)
class LocalEndpoint:
    """A source's files landed in a local folder by other means (a mounted share, a download
    job): the same patterns, settle rule and done markers as over SFTP."""
    path: Path
    pattern: str
    settle_s: float = DEFAULT_SETTLE_S
    done_marker: str | None = None

    def filename(self, day: date) -> str:
        return self.pattern.format(date=day)
