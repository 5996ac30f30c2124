"""What reaches the terminal: recon's one-paragraph errors, not Prefect's or paramiko's tracebacks.

Prefect logs a failed task or flow with its traceback, and paramiko's transport logs a refused
connection line by line; recon then prints the error itself. On the console those records keep
their one line (Prefect's) or are left out (paramiko's); the log file (RECON_LOG_FILE, default
var/log/recon.log) keeps every record whole, and a flow run's own log is in Prefect.
"""
from __future__ import annotations

import logging
import logging.handlers
import os
from pathlib import Path

QUIET = ("prefect", "paramiko", "asyncio")  # asyncio: Prefect's callbacks failing as a server goes away
LOG_FILE = Path(__file__).resolve().parents[1] / "var" / "log" / "recon.log"
FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def _quiet(record: logging.LogRecord) -> bool:
    return record.name.split(".", 1)[0] in QUIET


class _NoTraceback(logging.Formatter):
    """The handler's own formatter, on a copy of Prefect's and paramiko's records without their
    traceback (the record itself is shared with the other handlers, which keep it)."""

    def __init__(self, inner: logging.Formatter | None):
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        if _quiet(record) and (record.exc_info or record.exc_text or record.stack_info):
            record = logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None,
                                            "stack_info": None})
        return self.inner.format(record)


def _not_paramiko(record: logging.LogRecord) -> bool:
    return not record.name.startswith("paramiko") or record.levelno >= logging.CRITICAL


def _console_handlers() -> list[logging.Handler]:
    loggers = [logging.getLogger()] + [x for x in logging.Logger.manager.loggerDict.values()
                                       if isinstance(x, logging.Logger)]
    seen: dict[int, logging.Handler] = {}
    for logger in loggers:
        for h in logger.handlers:
            if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler):
                seen[id(h)] = h
    return list(seen.values())


def quiet_console(log_file: Path | None = None) -> Path | None:
    """Keep tracebacks of Prefect and paramiko off the console handlers configured so far, and
    log everything, whole, to the log file. Returns the log file (None if it cannot be opened)."""
    for h in _console_handlers():
        if not isinstance(h.formatter, _NoTraceback):
            h.setFormatter(_NoTraceback(h.formatter))
            h.addFilter(_not_paramiko)
    root = logging.getLogger()
    path = log_file or Path(os.environ.get("RECON_LOG_FILE") or LOG_FILE)
    if any(getattr(h, "baseFilename", None) == str(path.resolve()) for h in root.handlers):
        return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=10_000_000, backupCount=5,
                                                       encoding="utf-8")
    except OSError as e:
        logging.getLogger(__name__).warning("Log file %s not opened: %s", path, e.strerror)
        return None
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.setLevel(logging.INFO)
    root.addHandler(handler)
    return path
