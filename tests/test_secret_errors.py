"""Nothing secret leaves a night (issue 29): a rejected file's error quotes at most its offending
field, masked, wherever it is stored or sent; `recon trace` masks the card numbers of the
archived lines it prints; what a run writes is readable by its own account only."""
from __future__ import annotations

import json
import logging
import os
import re
import stat
from datetime import date
from pathlib import Path

import duckdb
import pytest

from recon import config, redact
from recon.chaos import check
from recon.errors import ParseError
from recon.generate import generate_day
from schemas import registry
from tests.receivers import HttpReceiver
from tests.test_local_source import CONFIG, NAME

pytestmark = pytest.mark.integration

DAY = date(2026, 11, 21)
PAN = "4111 1111 1111 1111"
DIGITS = PAN.replace(" ", "")
MASKED = "411111******1111"


def _leaks(text: str) -> bool:
    """Whether ``text`` holds the card number, whatever separates its digits."""
    return DIGITS in re.sub(r"[^0-9]", "", text.replace(MASKED, ""))


def _world(tmp_path: Path, *, broken: bool, webhook: str = "") -> Path:
    """A generated day whose Stripe descriptions carry a card number (and, ``broken``, a line with
    an unterminated quote, so that the parser's error quotes the rest of the file)."""
    world = tmp_path / "world"
    day = generate_day(DAY, world, seed=7, scale=30)
    lines = day.paths["stripe"].read_text("utf-8").splitlines()
    lines = [lines[0]] + [re.sub(r"(,ch_[0-9]+,)[^,]*,", rf"\1card {PAN},", ln) for ln in lines[1:]]
    if broken:
        lines.insert(3, 'txn_bad,"2026-11-20 16:00:06')
    day.paths["stripe"].write_text("\n".join(lines) + "\n", "utf-8")
    path = tmp_path / "recon.toml"
    path.write_text(CONFIG.format(home=tmp_path / "var", world=world, root=Path(__file__).parents[1])
                    + f'\n[alerts]\nwebhook_url = "{webhook}"\n', "utf-8")
    return path


def test_error_text_cuts_the_quoted_file_and_masks_cards():
    raw = "x.csv: expected a table (could not parse `\"1,2\n" + f"0,card {PAN}\n" * 2000 + "` as dtype `str`)"
    out = redact.error_text(raw)
    assert out == ('x.csv: expected a table (could not parse `"1,2…` (48,001 more characters of the file '
                   'left out) as dtype `str`)')
    assert redact.error_text(f"field 'card {PAN}' refused") == f"field 'card {MASKED}' refused"
    assert len(redact.error_text("y" * 50_000)) == 1000 + len(" … (error text cut at 1,000 characters)")
    assert redact.error_text("") == "" and redact.error_text(None) == ""
    assert redact.error_text(out) == out  # idempotent: each place that stores or sends applies it


def _modes(root: Path) -> set[tuple[str, int]]:
    """(kind, permission bits) of everything under ``root``, ``root`` included."""
    out = {("dir", stat.S_IMODE(root.stat().st_mode))}
    for p in root.rglob("*"):
        out.add(("dir" if p.is_dir() else "file", stat.S_IMODE(p.stat().st_mode)))
    return out


def test_rejected_file_with_a_card_leaks_nowhere_and_files_are_private(prefect_harness, tmp_path, capfd,
                                                                        monkeypatch):
    from recon import cli
    with check("bad_input", "rejected CSV quoting card numbers in its error") as c, HttpReceiver() as hook:
        cfg_path = _world(tmp_path, broken=True, webhook=hook.url)
        data = (tmp_path / "world" / "stripe" / NAME).read_bytes()
        with pytest.raises(ParseError) as raw:  # what the parser itself says: the file, cards and all
            list(registry.parse_parts("stripe_itemized", data, name=NAME, source="stripe", sha256="0" * 64,
                                      business_date=DAY, timezone="Asia/Shanghai", options={}, part_bytes=None))
        assert _leaks(str(raw.value)) and len(str(raw.value)) > 20_000
        monkeypatch.delenv("RECON_UMASK", raising=False)
        kept: list[str] = []  # Prefect's logging setup replaces caplog's root handler: keep our own
        keeper = logging.Handler(logging.DEBUG)
        keeper.emit = lambda record: kept.append(f"{record.name} {record.getMessage()}")
        loggers = [logging.getLogger(n) for n in ("", "recon", "connectors", "flows", "prefect")]
        for lg in loggers:  # Prefect's own loggers do not propagate to the root
            lg.addHandler(keeper)
        try:
            assert cli.main(["run", "--date", DAY.isoformat(), "--config", str(cfg_path)]) == 1
        finally:
            for lg in loggers:
                lg.removeHandler(keeper)
        out, err = capfd.readouterr()
        assert re.search(r"source stripe +rejected", out)
        cfg = config.load(cfg_path)
        con = duckdb.connect(str(cfg.warehouse), read_only=True)
        try:
            [(error,)] = con.execute("SELECT error FROM files WHERE source = 'stripe'").fetchall()
            [(inputs, run_id)] = con.execute("SELECT input_files, run_id FROM runs").fetchall()
        finally:
            con.close()
        manifest = next(cfg.reports.rglob("manifest.json")).read_text("utf-8")
        (_, _, body), = hook.requests
        stored = {"files.error": error, "runs.input_files": inputs, "manifest.json": manifest,
                  "webhook body": json.dumps(body, ensure_ascii=False), "logs": "\n".join(kept),
                  "console": out + err}
        def first_leak(v):
            lines = v.splitlines()
            i = next(i for i, ln in enumerate(lines) if _leaks(ln))
            return [ln[:300] for ln in lines[max(0, i - 3):i + 1]]
        assert {k for k, v in stored.items() if _leaks(v)} == set(), [first_leak(v) for v in stored.values() if _leaks(v)]
        assert len(error) <= 1100 and "\n" not in error
        assert error.startswith(f"{NAME}: expected a comma-separated table with a header row (could not parse "
                                '`"2026-11-20 16:00:06…` (')
        assert "more characters of the file left out" in error and json.dumps(error, ensure_ascii=False)[1:-1] in manifest
        assert any(f"stripe: {NAME} rejected: {error}" in k for k in kept)
        assert max(len(k) for k in kept) < 2000
        c.rows_lost = 0 if run_id else 1

    with check("fault", "run outputs created private (umask 077)"):
        assert _modes(cfg.archive) <= {("dir", 0o700), ("file", 0o400), ("file", 0o600)}
        assert ("file", 0o400) in _modes(cfg.archive)  # the archived statement itself
        assert _modes(cfg.reports) <= {("dir", 0o700), ("file", 0o600)}
        assert stat.S_IMODE(os.stat(cfg.warehouse).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(cfg.warehouse.parent).st_mode) == 0o700


def test_trace_masks_the_card_in_the_archived_line_it_prints(prefect_harness, tmp_path, capsys):
    from recon import cli
    with check("bad_input", "recon trace of a line carrying a card number"):
        cfg_path = _world(tmp_path, broken=False)
        assert cli.main(["run", "--date", DAY.isoformat(), "--config", str(cfg_path)]) == 1
        capsys.readouterr()
        cfg = config.load(cfg_path)
        con = duckdb.connect(str(cfg.warehouse), read_only=True)
        try:
            bid, line = con.execute(
                "SELECT b.break_id, s.file_line FROM breaks b JOIN statement_lines s USING (line_id) "
                "WHERE b.source = 'stripe' AND s.description LIKE 'card %' ORDER BY b.break_id LIMIT 1").fetchone()
        finally:
            con.close()
        assert cli.main(["trace", bid, "--config", str(cfg_path)]) == 0
        out = capsys.readouterr().out
        raw = (tmp_path / "world" / "stripe" / NAME).read_text("utf-8").splitlines()[line - 1]
        assert PAN in raw  # the archive keeps the bytes
        assert f"    | {raw.replace(PAN, MASKED)}" in out and not _leaks(out)
        assert cli.main(["trace", bid, "--json", "--config", str(cfg_path)]) == 0
        assert not _leaks(capsys.readouterr().out)


def test_umask_from_env_over_config_over_default(tmp_path, monkeypatch):
    from recon import permissions
    before = os.umask(0o022)
    try:
        monkeypatch.delenv(permissions.ENV, raising=False)
        assert permissions.apply() == 0o077 and permissions.apply(0o027) == 0o027
        (tmp_path / "f").write_bytes(b"x")
        assert stat.S_IMODE((tmp_path / "f").stat().st_mode) == 0o640
        monkeypatch.setenv(permissions.ENV, "007")
        assert permissions.apply(0o027) == 0o007
        monkeypatch.setenv(permissions.ENV, "7x")
        with pytest.raises(Exception, match=r"RECON_UMASK='7x': expected an octal umask"):
            permissions.apply()
    finally:
        os.umask(before)
    cfg = tmp_path / "recon.toml"
    cfg.write_text(CONFIG.format(home=tmp_path, world=tmp_path, root=Path(__file__).parents[1])
                   .replace('reports = "', 'umask = "027"\nreports = "'), "utf-8")
    assert config.load(cfg).umask == 0o027
    cfg.write_text(cfg.read_text().replace('umask = "027"', 'umask = "777x"'), "utf-8")
    with pytest.raises(Exception, match=r"paths\.umask: expected an octal umask"):
        config.load(cfg)
