"""The warehouse's SQL, one query per file, each headed by its grain, inputs and parameters.

Values are always bound as DuckDB parameters. The only text substituted into a query is an
identifier from an explicit allow-list (``render``), never data.
"""
from __future__ import annotations

from functools import cache
from importlib import resources

import duckdb

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
    """The statements of ``text`` as DuckDB's own parser splits them (each with the comments that
    precede it): a file is never cut apart by searching its text."""
    return [query for query, _ in _parsed(text)]


@cache
def _parsed(text: str) -> tuple[tuple[str, frozenset[str]], ...]:
    """Each statement of ``text`` with the named parameters it uses. Parsed once per process: a
    run executes a few hundred statements (the same files pass after pass), and DuckDB's parser
    called from Python costs about half a millisecond a statement."""
    found = tuple((s.query, frozenset(s.named_parameters)) for s in duckdb.extract_statements(text))
    for query, names in found:
        _PARAMETERS.setdefault(query, names)
    return found


# A statement's named parameters, keyed by its text (filled by _parsed, else parsed on first use).
_PARAMETERS: dict[str, frozenset[str]] = {}


def _named_parameters(stmt: str) -> frozenset[str]:
    if (names := _PARAMETERS.get(stmt)) is None:
        (parsed,) = duckdb.extract_statements(stmt)
        names = _PARAMETERS[stmt] = frozenset(parsed.named_parameters)
    return names


def execute(con, name: str, params: dict | None = None, **identifiers: str) -> list[tuple]:
    """Run every statement of ``name``.sql, binding to each only the parameters it uses; the rows
    of the last one."""
    return run(con, statements(render(name, **identifiers) if identifiers else load(name)), params)


def run(con, stmts: list[str], params: dict | None = None) -> list[tuple]:
    """Run ``stmts`` (from ``statements``) in order, binding to each the parameters DuckDB's parser
    finds in it (a statement names the ones it uses; a missing one is DuckDB's error); the rows of
    the last one."""
    cur = None
    for stmt in stmts:
        wanted = _named_parameters(stmt)
        used = {k: v for k, v in (params or {}).items() if k in wanted}
        cur = con.execute(stmt, used) if wanted else con.execute(stmt)
    return cur.fetchall() if cur is not None else []
