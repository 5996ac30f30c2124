"""One exit-code contract for every command (0 reconciled, 1 breaks/late/rejected/quarantined, 2
operational error), and every failure one paragraph on stderr — what, where, what next, the
runbook section — never a traceback unless --debug (which keeps the exit code).

Commands × failure kinds: the representative cases run the CLI as a subprocess
(``python -m recon.cli``), the rest in-process; each is a case of `make chaos` (recon.chaos)."""
from __future__ import annotations

import errno
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from recon import cli
from recon.chaos import check
from tests.receivers import config_copy, free_port

ROOT = Path(__file__).resolve().parents[1]
RECON = [sys.executable, "-m", "recon.cli", "-q"]
DAY = "2026-11-21"


def assert_one_paragraph(err: str, *needles: str) -> str:
    """stderr holds exactly one `recon: ` paragraph (one line), naming each needle, no traceback."""
    assert "Traceback" not in err, err
    paragraphs = [ln for ln in err.splitlines() if ln.startswith("recon: ")]
    assert len(paragraphs) == 1, err
    for needle in needles:
        assert needle in paragraphs[0], (needle, paragraphs[0])
    assert "(runbook: docs/operations.md#" in paragraphs[0]
    return paragraphs[0]


def _bad_toml(tmp: Path) -> Path:
    p = tmp / "mapping.toml"
    p.write_text("[columns\nbooked = 'Date'\n", "utf-8")
    return p


def _csv(tmp: Path) -> Path:
    p = tmp / "export.csv"
    p.write_text("Date,Amount\n2026-11-21,1.00\n", "utf-8")
    return p


def _bad_config(tmp: Path) -> Path:
    p = tmp / "recon.toml"
    p.write_text("[paths]\nwarehouse = 'w.duckdb'\n", "utf-8")
    return p


# (id, kind, argv from tmp_path, needles the paragraph must name). Each needle may use {tmp}.
IN_PROCESS = [
    ("parse missing file", "bad_input", lambda t: ["parse", str(t / "nope.csv")],
     ["{tmp}/nope.csv", "no such file", "paths-and-permissions"]),
    ("parse a directory", "bad_input", lambda t: ["parse", str(t)], ["{tmp}", "is a directory"]),
    ("identify missing file", "bad_input", lambda t: ["identify", str(t / "nope.csv")],
     ["{tmp}/nope.csv", "no such file"]),
    ("identify a directory", "bad_input", lambda t: ["identify", str(t)], ["{tmp}", "is a directory"]),
    ("parse bad --options file", "bad_input",
     lambda t: ["parse", str(_csv(t)), "--format", "bankcsv", "--options", str(_bad_toml(t))],
     ["{tmp}/mapping.toml: --options: not a TOML file", "line 1", "config-error"]),
    ("parse --options is a directory", "bad_input",
     lambda t: ["parse", str(_csv(t)), "--format", "bankcsv", "--options", str(t)], ["{tmp}", "is a directory"]),
    ("annotations import missing workbook", "bad_input",
     lambda t: ["annotations", "import", str(t / "recon_2026-11-21.xlsx")],
     ["{tmp}/recon_2026-11-21.xlsx", "no such file"]),
    ("annotations import a directory", "bad_input", lambda t: ["annotations", "import", str(t)],
     ["{tmp}", "is a directory"]),
    ("ledger load missing export", "bad_input", lambda t: ["ledger", "load", str(t / "ledger_x.csv")],
     ["no file matching 'ledger_x.csv' in {tmp}", "late-file"]),
    ("runs list with a bad config", "bad_input", lambda t: ["runs", "list", "--config", str(_bad_config(t))],
     ["{tmp}/recon.toml: run: missing", "config-error"]),
    ("rerun with a missing config", "bad_input",
     lambda t: ["rerun", "--date", DAY, "--config", str(t / "none.toml")], ["{tmp}/none.toml", "cannot be read"]),
    ("generate under a file (unwritable path)", "fault",
     lambda t: (t / "afile").write_text("x") and ["generate", "--date", DAY, "--out", str(t / "afile" / "w")],
     ["{tmp}/afile", "paths-and-permissions"]),
]


@pytest.mark.parametrize("name,kind,argv,needles", IN_PROCESS, ids=[c[0] for c in IN_PROCESS])
def test_in_process_failures_exit_2_with_one_paragraph(name, kind, argv, needles, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RECON_HOME", str(tmp_path / "var"))
    with check(kind, f"cli: {name}"):
        code = cli.main(argv(tmp_path))
        err = capsys.readouterr().err
        assert code == 2, err
        paragraph = assert_one_paragraph(err, *[n.format(tmp=tmp_path) for n in needles])
        if "runbook" not in needles[-1]:
            assert "docs/operations.md#" in paragraph


def test_a_runbook_anchor_exists_for_every_paragraph():
    """Each runbook section the paragraphs name is a heading of docs/operations.md."""
    import re

    from recon import cli_errors
    headings = set(re.findall(r"^## (\S+)", (ROOT / "docs" / "operations.md").read_text("utf-8"), re.M))
    anchors = {a for *_, a in cli_errors._OS_ERRORS.values()} | {"prefect-api", "prefect-start-up", "config-error", "run-crash"}
    assert anchors <= headings, anchors - headings


@pytest.mark.parametrize("code,kind", [(errno.ENOSPC, "the disk is full"), (errno.EACCES, "permission denied"),
                                       (errno.ENOENT, "no such file"), (errno.EISDIR, "it is a directory")])
def test_os_errors_at_the_write_name_the_path(code, kind, tmp_path, monkeypatch, capsys):
    """`recon parse --out`: the write itself fails with each OSError kind."""
    import polars as pl

    from recon.generate import generate_day
    day = generate_day(date(2026, 11, 21), tmp_path / "world", seed=3, scale=20)
    out = tmp_path / "lines.csv"

    def fail(self, path=None, *a, **k):
        raise OSError(code, os.strerror(code), str(path))
    monkeypatch.setattr(pl.DataFrame, "write_csv", fail)
    with check("fault", f"cli: parse --out, {errno.errorcode[code]} at the write"):
        assert cli.main(["parse", str(day.paths["wechatpay"]), "--out", str(out)]) == 2
        assert_one_paragraph(capsys.readouterr().err, f"{out}: {kind}")


def test_duckdb_full_disk_is_a_full_disk_paragraph():
    import duckdb

    from recon.cli_errors import describe
    e = duckdb.IOException('IO Error: Could not write file "/srv/recon/var/warehouse.duckdb.wal": '
                           'No space left on device')
    text, code = describe(e)
    assert code == 2 and text.startswith("/srv/recon/var/warehouse.duckdb.wal: the disk is full")
    assert text.endswith("(runbook: docs/operations.md#full-disk)")


def test_a_real_full_disk(tmpfs):
    """A 64 kB tmpfs: the OS's own ENOSPC, from a write that does not say which file."""
    tiny = tmpfs("64k", covered_by="test_os_errors_at_the_write_name_the_path")
    with check("fault", "cli: generate onto a full disk (tmpfs)"):
        out = subprocess.run(RECON + ["generate", "--date", DAY, "--out", str(tiny / "w")],
                             capture_output=True, text=True, cwd=ROOT)
        assert out.returncode == 2
        assert_one_paragraph(out.stderr, f"{tiny}/w: the disk is full", "full-disk")


# Subprocess: the representative cases, as a scheduler sees them.
SUBPROCESS = [
    ("parse missing file", "bad_input", lambda t: ["parse", str(t / "nope.csv")], {}, 2,
     ["{tmp}/nope.csv: no such file or directory"]),
    ("identify a directory", "bad_input", lambda t: ["identify", str(t)], {}, 2, ["{tmp}: it is a directory"]),
    ("parse bad --options", "bad_input",
     lambda t: ["parse", str(_csv(t)), "--format", "bankcsv", "--options", str(_bad_toml(t))], {}, 2,
     ["{tmp}/mapping.toml: --options: not a TOML file"]),
    ("run with a bad config", "bad_input", lambda t: ["run", "--date", DAY, "--config", str(_bad_config(t))],
     {}, 2, ["{tmp}/recon.toml: run: missing", "config-error"]),
    ("run with PREFECT_API_URL dead", "fault", lambda t: ["run", "--date", DAY],
     {"PREFECT_API_URL": "http://127.0.0.1:{port}/api"}, 2,
     ["Prefect API at http://127.0.0.1:{port}/api", "does not answer", "prefect-api"]),
]


@pytest.mark.parametrize("name,kind,argv,env,code,needles", SUBPROCESS, ids=[c[0] for c in SUBPROCESS])
def test_subprocess_failures(name, kind, argv, env, code, needles, tmp_path):
    port = free_port()
    environ = {**os.environ, "RECON_HOME": str(tmp_path / "var"),
               **{k: v.format(port=port) for k, v in env.items()}}
    with check(kind, f"cli subprocess: {name}"):
        out = subprocess.run(RECON + argv(tmp_path), capture_output=True, text=True, cwd=ROOT, env=environ,
                             timeout=180)
        assert out.returncode == code, out.stderr
        assert_one_paragraph(out.stderr, *[n.format(tmp=tmp_path, port=port) for n in needles])


def test_debug_prints_the_traceback_and_keeps_the_exit_code(tmp_path):
    out = subprocess.run(RECON + ["--debug", "parse", str(tmp_path / "nope.csv")], capture_output=True,
                         text=True, cwd=ROOT)
    assert out.returncode == 2
    assert "Traceback" in out.stderr and "FileNotFoundError" in out.stderr
    assert out.stderr.rstrip().splitlines()[-1].startswith(f"recon: {tmp_path}/nope.csv: no such file")


def test_an_unexpected_error_is_a_paragraph_pointing_at_debug(tmp_path, monkeypatch, capsys):
    from schemas import registry

    def boom(data, name):
        raise ValueError("something odd\nsecond line")
    monkeypatch.setattr(registry, "identify", boom)
    assert cli.main(["identify", str(_csv(tmp_path))]) == 2
    p = assert_one_paragraph(capsys.readouterr().err, "unexpected error in `recon identify`: ValueError: "
                                                      "something odd", "--debug", "run-crash")
    assert "second line" not in p
