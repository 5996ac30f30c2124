"""Who may read what recon writes: the process umask, 077 unless configured.

The archive holds the counterparties' files (card numbers, account numbers), the warehouse and
the reports what was read from them: by default only the account recon runs as may read them
(files 0600, directories 0700; archived files 0400). ``RECON_UMASK`` (e.g. ``027`` to let a
group read) wins over ``[paths] umask`` in the config, which wins over the default.
"""
from __future__ import annotations

import os
import re

__all__ = ["DEFAULT_UMASK", "ENV", "apply", "parse"]

DEFAULT_UMASK = 0o077
ENV = "RECON_UMASK"


def parse(text: str) -> int | None:
    """An octal umask such as ``"077"`` or ``"0027"``; None when it is not one."""
    text = text.strip()
    return int(text, 8) if re.fullmatch(r"0?[0-7]{3}", text) else None


def apply(configured: int | None = None) -> int:
    """Set this process's umask (``$RECON_UMASK``, else ``configured``, else 077); returns it.
    A malformed ``$RECON_UMASK`` is refused (ReconError), never silently replaced."""
    raw = os.environ.get(ENV)
    if raw:
        value = parse(raw)
        if value is None:
            from recon.errors import ReconError
            raise ReconError(f"{ENV}={raw!r}: expected an octal umask such as 077 or 027.",
                             hint=f"Set {ENV} to three octal digits, or unset it (default 077).")
    else:
        value = DEFAULT_UMASK if configured is None else configured
    os.umask(value)
    return value
