"""Every exception that reaches the `recon` command, as one paragraph and an exit code.

The contract (STYLE.md §11), the same for every command: 0 reconciled, 1 breaks / a late,
rejected or quarantined source, 2 operational error. A ``ReconError`` is already its paragraph;
anything else (a full disk, a path that cannot be written, a dead Prefect API, a bad TOML file)
is described here: what happened, where (the file, path or host), what to do next and the
runbook section. ``--debug`` prints the traceback as well and keeps the exit code.
"""
from __future__ import annotations

import errno
import os
import re
import shutil
import sys
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path

from recon.errors import EXIT_ERROR, RUNBOOK, ReconError

# errno → (what happened, what to do next, runbook section)
_OS_ERRORS = {
    errno.ENOSPC: ("the disk is full (no space left on the device)",
                   "Free space on that file system (old reports, staging, logs) or point [paths] at a "
                   "larger one, then run the same command again; nothing was marked done.",
                   "full-disk"),
    errno.EDQUOT: ("the disk quota is exhausted",
                   "Free space or raise the quota, then run the same command again.", "full-disk"),
    errno.EACCES: ("permission denied",
                   "Give the user running recon access to it (owner, mode, or a writable [paths] "
                   "location), then run the same command again.", "paths-and-permissions"),
    errno.EPERM: ("the operation is not permitted",
                  "Give the user running recon access to it, then run the same command again.",
                  "paths-and-permissions"),
    errno.EROFS: ("the file system is read-only",
                  "Point [paths] (or RECON_HOME) at a writable location, then run again.",
                  "paths-and-permissions"),
    errno.ENOENT: ("no such file or directory",
                   "Check the path (a typo, a relative path from another directory, a file not yet "
                   "delivered), then run the same command again.", "paths-and-permissions"),
    errno.EISDIR: ("it is a directory where a file was expected",
                   "Name the file itself, not its folder.", "paths-and-permissions"),
    errno.ENOTDIR: ("a part of the path is a file where a directory was expected",
                    "Check the path; a file may stand where recon expects a folder.",
                    "paths-and-permissions"),
}
# The same conditions as DuckDB and other libraries word them (they carry no errno).
_MESSAGES = [("no space left on device", errno.ENOSPC), ("disk quota exceeded", errno.EDQUOT),
             ("permission denied", errno.EACCES), ("read-only file system", errno.EROFS),
             ("is a directory", errno.EISDIR), ("no such file or directory", errno.ENOENT)]
_QUOTED_PATH = re.compile(r"""["']((?:/|\.{1,2}/|[A-Za-z]:\\)[^"']+)["']""")


def _runbook(anchor: str) -> str:
    return f"(runbook: {RUNBOOK}#{anchor})"


def full_disk(paths: Iterable[Path], floor: int = 16 << 20) -> str | None:
    """The first of ``paths`` (or its nearest existing parent) on a file system with less than
    ``floor`` bytes free: where a full disk is, when the OS error did not name the file."""
    for p in paths:
        p = Path(p)
        while not p.exists() and p != p.parent:
            p = p.parent
        try:
            if shutil.disk_usage(p).free < floor:
                return str(p)
        except OSError:
            continue
    return None


def _os_paragraph(code: int, path: str | None, detail: str = "") -> str:
    what, todo, anchor = _OS_ERRORS[code]
    where = f"{path}: " if path else "a file recon writes or reads (the OS did not say which): "
    extra = f" ({detail})" if detail else ""
    return f"{where}{what}{extra}. {todo} {_runbook(anchor)}"


def _chain(exc: BaseException):
    """The exception and those it was raised from or during, outermost first."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _prefect_api(exc: BaseException) -> str | None:
    text = str(exc)
    url = os.environ.get("PREFECT_API_URL", "")
    if "Failed to reach API at" in text or (url and type(exc).__module__.startswith(("httpx", "httpcore"))):
        return (f"the Prefect API at {url or text.rsplit(' ', 1)[-1]} does not answer ({text}). Start "
                "it (`prefect server start --host 127.0.0.1`) or unset PREFECT_API_URL to run on "
                f"Prefect's ephemeral API, then run again; nothing was recorded. {_runbook('prefect-api')}")
    if "ephemeral Prefect API" in text or "available port" in text:
        return (f"Prefect's ephemeral API did not start ({text}). The machine may be overloaded or "
                f"PREFECT_HOME ({os.environ.get('PREFECT_HOME', '~/.prefect')}) unwritable; retry, or run "
                "a Prefect server and set PREFECT_API_URL to it (PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_"
                f"SECONDS gives a slow machine longer). Nothing was recorded. {_runbook('prefect-start-up')}")
    return None


def describe(exc: BaseException, command: str = "",
             paths: Callable[[], Iterable[Path]] = tuple) -> tuple[str, int]:
    """One paragraph (no trailing newline) and the exit code for an exception; ``paths``: where
    the command writes, to find a full disk the OS error does not name."""
    if isinstance(exc, ReconError):
        return str(exc), exc.exit_code
    for e in _chain(exc):
        if isinstance(e, ReconError):
            return str(e), e.exit_code
        if isinstance(e, OSError) and e.errno in _OS_ERRORS:
            path = e.filename if e.filename is not None else None
            if path is None and e.errno in (errno.ENOSPC, errno.EDQUOT):
                path = full_disk(paths())
            if e.filename2 is not None:
                path = f"{path} → {e.filename2}"
            return _os_paragraph(e.errno, os.fsdecode(path) if isinstance(path, bytes) else path), EXIT_ERROR
        if (text := _prefect_api(e)) is not None:
            return text, EXIT_ERROR
        if type(e).__name__ == "TOMLDecodeError":
            return (f"a TOML file is not valid TOML: {e}. Fix the line it names (a missing quote or "
                    f"bracket, a duplicate key) and run again. {_runbook('config-error')}"), EXIT_ERROR
        low = str(e).lower()
        for needle, code in _MESSAGES:
            if needle in low:
                m = _QUOTED_PATH.search(str(e))
                path = m.group(1) if m else (full_disk(paths()) if code == errno.ENOSPC else None)
                return _os_paragraph(code, path, str(e).splitlines()[0]), EXIT_ERROR
    where = f" in `recon {command}`" if command else ""
    return (f"unexpected error{where}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
            f"— recon has no specific advice for it. Nothing after the last finished stage was "
            f"recorded; run again with --debug for the traceback and report it with the run id "
            f"(`recon runs list`). {_runbook('run-crash')}"), EXIT_ERROR


def command_paths(args, config_path: Path | None) -> list[Path]:
    """The paths a command writes or reads: its own arguments, then the config's [paths]."""
    out = [getattr(args, k) for k in ("out", "file", "workbook") if getattr(args, k, None)]
    if config_path is not None:
        try:
            from recon import config
            cfg = config.load(config_path)
            out += [cfg.warehouse, cfg.reports, cfg.archive]
        except Exception:  # noqa: BLE001 - only a guess for the message: a bad config adds nothing
            pass
    return [Path(p) for p in out]


def report(exc: BaseException, *, debug: bool = False, command: str = "",
           paths: Callable[[], Iterable[Path]] = tuple) -> int:
    """Print ``exc`` as one paragraph on stderr (after its traceback with ``--debug``) and return
    its exit code. The paragraph goes through recon.redact.error_text (secrets and cards masked,
    long quoted text cut), like every error recon stores or sends."""
    from recon.redact import error_text
    text, code = describe(exc, command, paths)
    text = error_text(text)
    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    print(f"recon: {text}", file=sys.stderr)
    return code
