"""The errors recon raises, each one paragraph: what, where, expected vs found, what to do next.

Exit codes (STYLE.md §11): 0 reconciled, 1 breaks found, 2 operational error.
"""
from __future__ import annotations

EXIT_RECONCILED = 0
EXIT_BREAKS = 1
EXIT_ERROR = 2

RUNBOOK = "docs/operations.md"
# The runbook section (docs/operations.md#<anchor>) of errors defined where their own hint cannot
# carry it (recon.warehouse's WarehouseLocked); classes below set ``runbook`` themselves.
RUNBOOK_BY_NAME = {"WarehouseLocked": "locked-warehouse", "ArchiveMissing": "archive-corrupted"}


class ReconError(Exception):
    """Base of every error recon reports to a person; ``str()`` is the whole paragraph."""

    exit_code = EXIT_ERROR
    hint = ""
    runbook = ""  # the docs/operations.md anchor that says what to do


    def __init__(self, message: str, *, hint: str | None = None):
        self.message = message
        if hint is not None:
            self.hint = hint
        super().__init__(self.__str__())

    def __str__(self) -> str:
        text = f"{self.message} {self.hint}".strip()
        anchor = self.runbook or RUNBOOK_BY_NAME.get(type(self).__name__, "")
        if anchor and RUNBOOK not in text:
            text += f" (runbook: {RUNBOOK}#{anchor})"
        return text


class ConfigError(ReconError):
    """The configuration file is wrong at a named key."""

    runbook = "config-error"

    def __init__(self, path: str, key: str, message: str, hint: str | None = None):
        self.path, self.key = path, key
        super().__init__(f"{path}: {key}: {message}.",
                         hint=hint or "Fix that key and run again; `recon run --help` shows an example.")


class ParseError(ReconError):
    """A statement file cannot be read as its format: names file, line and what was expected."""

    runbook = "integrity-error"

    def __init__(self, file: str, line: int | None, message: str):
        self.file, self.line = file, line
        where = f"{file}, line {line}" if line else file
        super().__init__(f"{where}: {message}.",
                         hint="The file was not loaded; ask the sender for a corrected file or "
                              "check the source's format in the config.")


class IntegrityError(ReconError):
    """A statement parsed but its own control totals do not add up; the file is not loaded."""

    runbook = "integrity-error"

    def __init__(self, file: str, check: str, expected: object, found: object, line: int | None = None):
        self.file, self.check, self.expected, self.found = file, check, expected, found
        where = f"{file}, line {line}" if line else file
        super().__init__(f"{where}: control total '{check}' does not balance: expected {expected}, "
                         f"found {found}.",
                         hint="The file was rejected whole (nothing loaded); ask the sender for a "
                              "corrected file.")


class TransferError(ReconError):
    """SFTP/transport failure after retries, or a host key that does not match the pinned one.

    ``retryable`` is True only for failures a later attempt may get past (the connection kept
    failing); a refused host key or login is final."""

    retryable = False
