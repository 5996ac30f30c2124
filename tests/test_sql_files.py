"""The SQL files split into the statements they hold (sql.statements: DuckDB's own parser)."""
from __future__ import annotations

from importlib import resources

import re

import pytest

import sql

FILES = sorted(p.name[:-4] for p in resources.files("sql").iterdir() if p.name.endswith(".sql"))


def _code(stmt: str) -> str:
    """The statement without its comments and with its string literals emptied."""
    code = "\n".join(line.split("--", 1)[0].rstrip() for line in stmt.splitlines()).strip()
    return re.sub(r"'[^']*'", "''", code)


def test_a_comment_after_the_semicolon_ends_the_statement_and_one_inside_does_not():
    text = ("CREATE TABLE a AS SELECT 1 AS x;  -- a trailing comment\n"
            "SELECT x  -- what it reads;\n"
            "FROM a;\n"
            "-- a closing comment;\n")
    assert [_code(s) for s in sql.statements(text)] == ["CREATE TABLE a AS SELECT 1 AS x;",
                                                        "SELECT x\nFROM a;"]


@pytest.mark.parametrize("name", FILES)
def test_every_statement_of_every_file_is_whole(name):
    """Each piece is one statement: its code ends with its only ';' (a piece cut inside a
    statement would be sent to DuckDB half, or two statements together with one's parameters).
    A file holding one query that others embed may leave out the last ';'."""
    text = sql.load(name)
    stmts = sql.statements(sql.render(name, key="merchant_reference") if "{key}" in text else text)
    assert stmts
    for n, s in enumerate(stmts, 1):
        code = _code(s)
        last = n == len(stmts) and ";" not in code
        assert last or (code.endswith(";") and code.count(";") == 1), f"{name}.sql: {code[:200]}"


def _header(name: str) -> list[str]:
    """The comment lines a file opens with, up to its first blank line or statement."""
    lines = []
    for line in sql.load(name).splitlines():
        if not line.startswith("--"):
            break
        lines.append(line)
    return lines


@pytest.mark.parametrize("name", [f for f in FILES if f != "ddl"])
def test_every_query_is_headed_by_its_grain_inputs_and_parameters_in_a_few_lines(name):
    """The header says what the file makes and from what, in at most 12 lines; the longer design
    notes live in docs/cascade.md, the measurements in docs/performance.md."""
    header = _header(name)
    assert header and header[0].startswith("-- Grain:"), f"{name}.sql opens with {header[:1]}"
    assert len(header) <= 12, f"{name}.sql: a header of {len(header)} lines"
    text = " ".join(header)
    assert "Inputs" in text and "Parameters" in text, name
