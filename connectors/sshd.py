"""A real OpenSSH sshd on 127.0.0.1 serving SFTP from one directory, for tests and the demo.

It has its own config, host key and client key in ``workdir`` and never touches the system's
sshd setup. Clients pin its host key through the ``known_hosts`` file written at start.
"""
from __future__ import annotations

import logging
import os
import pwd
import shutil
import socket
import subprocess
import time
from pathlib import Path

from connectors.endpoints import SftpEndpoint
from recon.errors import ReconError

log = logging.getLogger(__name__)

SSHD = Path("/usr/sbin/sshd")
SFTP_SERVER = Path("/usr/lib/openssh/sftp-server")  # Debian's; used for ``sftp_as``
_PRIVSEP_DIR = Path("/run/sshd")  # Debian's sshd refuses to start as root without it


class SshdError(ReconError):
    """The local test/demo sshd could not be started."""


def _sshd_path(value: str) -> str:
    """A path for sshd_config: no whitespace or quotes (we do not quote), % escaped (tokens)."""
    if any(c.isspace() or c in "\"'" for c in value):
        raise SshdError(f"path {value!r} contains whitespace or quotes, which sshd_config "
                        "cannot take unquoted.", hint="Use a directory without them.")
    return value.replace("%", "%%")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _keygen(path: Path, comment: str, passphrase: str = "") -> None:
    for p in (path, path.with_name(path.name + ".pub")):
        p.unlink(missing_ok=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", comment, "-f", str(path)],
                   check=True, stdin=subprocess.DEVNULL, capture_output=True)


class LocalSshd:
    """``with LocalSshd(root, workdir) as sshd:`` an SFTP server whose users land in ``root``."""

    host = "127.0.0.1"

    def __init__(self, root: Path, workdir: Path, *, sshd: Path = SSHD, start_timeout_s: float = 10.0,
                 client_passphrase: str = "", sftp_as: str | None = None):
        self.root = Path(root).resolve()
        self.workdir = Path(workdir).resolve()
        self.sshd = Path(sshd)
        self.start_timeout_s = start_timeout_s
        self._client_passphrase = client_passphrase  # the client key's, for tests of secrets
        # sftp_as (sshd as root only): the SFTP server process runs as that unprivileged account,
        # so that file permissions apply (root reads a chmod 000 file regardless); ``root`` and
        # its files must then be readable by that account.
        self.sftp_as = sftp_as
        # The account sshd will check, from the uid rather than $USER/$LOGNAME, which can lie.
        self.user = pwd.getpwuid(os.geteuid()).pw_name
        self.port = 0
        self.host_key = self.workdir / "ssh_host_ed25519_key"
        self.private_key = self.workdir / "id_ed25519"
        self.known_hosts = self.workdir / "known_hosts"
        self.config = self.workdir / "sshd_config"
        self.log_path = self.workdir / "sshd.log"
        self._proc: subprocess.Popen | None = None
        self._log_file = None

    def endpoint(self, remote_dir: str = ".", pattern: str = "*", *, timeout_s: float = 10.0,
                 retries: int = 1, settle_s: float = 0.1) -> SftpEndpoint:
        return SftpEndpoint(host=self.host, port=self.port, user=self.user,
                            private_key=self.private_key, known_hosts=self.known_hosts,
                            remote_dir=remote_dir, pattern=pattern, timeout_s=timeout_s,
                            retries=retries, settle_s=settle_s,
                            passphrase=self._client_passphrase or None)

    def _preflight(self) -> None:
        if not (self.sshd.is_file() and os.access(self.sshd, os.X_OK)):
            raise SshdError(f"OpenSSH server not found at {self.sshd}.",
                            hint="Install it with `apt-get install -y openssh-server` "
                                 "(`make test` and `make demo` do this).")
        if shutil.which("ssh-keygen") is None:
            raise SshdError("ssh-keygen not found on PATH.",
                            hint="Install it with `apt-get install -y openssh-client`.")
        if os.geteuid() == 0:
            _PRIVSEP_DIR.mkdir(mode=0o755, parents=True, exist_ok=True)
        # Not root: sshd runs unprivileged (no privilege separation) and only lets this user in,
        # which is all we need; it needs no system directory.

    def _write_config(self) -> None:
        lines = [
            "ListenAddress 127.0.0.1",
            f"Port {self.port}",
            f"HostKey {_sshd_path(str(self.host_key))}",
            f"PidFile {_sshd_path(str(self.workdir / 'sshd.pid'))}",
            f"AuthorizedKeysFile {_sshd_path(str(self.workdir / 'authorized_keys'))}",
            f"AllowUsers {self.user}",
            "PermitRootLogin prohibit-password",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "StrictModes no",
            "AllowTcpForwarding no",
            "AllowAgentForwarding no",
            "X11Forwarding no",
            "PermitTTY no",
            "LogLevel VERBOSE",
            "Subsystem sftp internal-sftp",
            f"ForceCommand {self._sftp_command()}",
        ]
        self.config.write_text("\n".join(lines) + "\n")

    def _sftp_command(self) -> str:
        root = _sshd_path(str(self.root))
        if self.sftp_as is None:
            return f"internal-sftp -d {root}"
        if os.geteuid() != 0 or not SFTP_SERVER.is_file() or shutil.which("setpriv") is None:
            raise SshdError(f"sftp_as={self.sftp_as!r} needs root, {SFTP_SERVER} and setpriv.",
                            hint="Run as root with openssh-server and util-linux installed.")
        account = pwd.getpwnam(self.sftp_as)
        return (f"{shutil.which('setpriv')} --reuid={account.pw_uid} --regid={account.pw_gid} "
                f"--clear-groups {SFTP_SERVER} -d {root}")

    def start(self) -> "LocalSshd":
        if self._proc is not None:
            return self
        self._preflight()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.root.mkdir(parents=True, exist_ok=True)
        _keygen(self.host_key, "recon-test-sshd-host")
        _keygen(self.private_key, "recon-test-client", self._client_passphrase)
        shutil.copyfile(self.private_key.with_name(self.private_key.name + ".pub"),
                        self.workdir / "authorized_keys")
        for attempt in range(3):  # the free port can be taken between probing and binding
            self.port = _free_port()
            self._write_config()
            check = subprocess.run([str(self.sshd), "-t", "-f", str(self.config)],
                                   capture_output=True, text=True)
            if check.returncode != 0:
                raise SshdError(f"{self.sshd} rejected its config {self.config}: "
                                f"{(check.stderr or check.stdout).strip()}")
            self._log_file = open(self.log_path, "ab")
            # Absolute path: sshd re-executes itself and refuses a relative argv[0].
            self._proc = subprocess.Popen([str(self.sshd.resolve()), "-D", "-e", "-f", str(self.config)],
                                          stdin=subprocess.DEVNULL, stdout=self._log_file,
                                          stderr=subprocess.STDOUT)
            if self._wait_ready():
                break
            self.stop()
            if attempt == 2 or "Address already in use" not in self._log_tail():
                raise SshdError(f"sshd did not start on 127.0.0.1:{self.port}; its log "
                                f"{self.log_path} ends: {self._log_tail()}")
        pub = (self.host_key.with_name(self.host_key.name + ".pub")).read_text().split()
        self.known_hosts.write_text(f"[{self.host}]:{self.port} {pub[0]} {pub[1]}\n")
        log.info("sshd serving %s on %s:%d (pid %d)", self.root, self.host, self.port, self._proc.pid)
        return self

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                return False
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as s:
                    if s.recv(64).startswith(b"SSH-2.0-"):
                        return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def _log_tail(self, n: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:].strip()
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        elif proc is not None:
            proc.wait()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> "LocalSshd":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
