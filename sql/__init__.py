"""The warehouse's SQL, one query per file, each headed by its grain, inputs and parameters.

Values are always bound as DuckDB parameters. The only text substituted into a query is an
identifier from an explicit allow-list (``render``), never data.
"""
from __future__ import annotations

import re
from functools import cache
from importlib import resources

# Identifiers a query may be rendered with, per placeholder.
ALLOWED = {
    "key": ("merchant_reference", "psp_reference"),
}


@cache
def load(name: str) -> str:
    return resources.files(__name__).joinpath(f"{name}.sql").read_text("utf-8")


def render(name: str, **identifiers: str) -> str:
    text = load(name)
    for placeholder, value in identifiers.items():
        if value not in ALLOWED.get(placeholder, ()):
            raise ValueError(f"{name}.sql: {placeholder}={value!r} is not an allowed identifier")
        text = text.replace("{" + placeholder + "}", value)
    return text


def statements(text: str) -> list[str]:
    """Split a file into statements at a ';' that ends a line's code, before any ``--`` comment
    (our files never put a ';' or a ``--`` in a string); a comment's own ';' ends nothing."""
    parts, current = [], []
    for line in text.splitlines():
        current.append(line)
        if line.split("--", 1)[0].rstrip().endswith(";"):
            parts.append("\n".join(current))
            current = []
    if "".join(current).strip():
        parts.append("\n".join(current))
    return [p for p in parts if any(l.strip() and not l.strip().startswith("--") for l in p.splitlines())]


def execute(con, name: str, params: dict | None = None, **identifiers: str) -> None:
    """Run every statement of ``name``.sql, binding to each only the parameters it uses."""
    run(con, statements(render(name, **identifiers) if identifiers else load(name)), params)


def run(con, stmts: list[str], params: dict | None = None) -> None:
    """Run ``stmts`` (from ``statements``) in order, binding to each only the parameters it uses."""
    for stmt in stmts:
        code = "\n".join(l for l in stmt.splitlines() if not l.lstrip().startswith("--"))
        used = {k: v for k, v in (params or {}).items() if re.search(rf"\${k}\b", code)}
        con.execute(stmt, used) if used else con.execute(stmt)
