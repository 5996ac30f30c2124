"""One set of numbers over two days of the hard world (nightly flow, real sshd): the fee report,
journal, positions, payouts and Summary agree to the minor unit; the roll-forward closes, read
back from the workbook; the Cleared sheet says why each break left; the auditors' tools (rerun
against the files on disk and after a ledger correction, runs diff in words, runs list, trace of
a camt line)."""
from __future__ import annotations

import csv
import glob
import json
import tempfile
from collections import defaultdict
from datetime import date
from pathlib import Path

import openpyxl
import pytest

from recon import audit, auditcli, config, warehouse
from recon.annotations import import_workbook
from recon.cli import main
from recon.generate import generate_days
from recon.money import to_minor
from recon.rerun import rerun
from recon.reports.workbook import BREAK_COLUMNS
from tests.worlds import served

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "data" / "recon.toml"
D1, D2 = date(2026, 11, 2), date(2026, 11, 3)
COL = {h: openpyxl.utils.get_column_letter(i) for i, (h, _) in enumerate(BREAK_COLUMNS, 1)}
pytestmark = pytest.mark.integration


def csv_rows(path) -> list[dict]:
    return list(csv.DictReader(Path(path).read_text("utf-8-sig").splitlines()))


def minor(text: str, ccy: str) -> int:
    return to_minor(text, ccy) if text else 0


@pytest.fixture(scope="module")
def days(prefect_harness, tmp_path_factory):
    """Two hard days; between them an accountant resolves one day-1 amount mismatch in the
    workbook and imports it."""
    from flows.nightly import nightly
    tmp = tmp_path_factory.mktemp("tie")
    mp = pytest.MonkeyPatch()
    generate_days(D1, 2, tmp / "world", seed=11, scale=120, scenario="hard")
    with served(tmp / "world", tmp, mp):
        cfg = config.load(CONFIG)
        first = nightly(business_date=D1, config_path=str(CONFIG))
        book = Path(first["outputs"]["workbook"])
        wb = openpyxl.load_workbook(book)
        ws = wb["Breaks"]
        row = next(r for r in ws.iter_rows(min_row=2) if r[1].value == "Amount mismatch")
        resolved = row[0].value
        ws[f"{COL['reason']}{row[0].row}"] = "ledger error"
        ws[f"{COL['status']}{row[0].row}"] = "resolved"
        ws[f"{COL['comment']}{row[0].row}"] = "keyed wrong, fixed in the GL"
        wb.save(tmp / "annotated.xlsx")
        assert import_workbook(cfg, tmp / "annotated.xlsx", who="ana").recorded == 1
        second = nightly(business_date=D2, config_path=str(CONFIG))
        yield cfg, first, second, resolved, tmp
    mp.undo()


def test_reports_tie_to_the_minor_unit(days):
    cfg, first, second, _, _ = days
    con = warehouse.connect(cfg.warehouse)
    for result, day in ((first, D1), (second, D2)):
        assert result["tie_out"] == []
        out = result["outputs"]
        summary = json.loads(Path(out["summary"]).read_text("utf-8"))
        assert summary["tie_out"] == {"agrees": True, "differences": []}
        fees, pos, jnl = csv_rows(out["fees"]), csv_rows(out["positions"]), csv_rows(out["journal"])
        f, p, j = defaultdict(int), defaultdict(int), defaultdict(int)
        for r in fees:
            k, c = (r["source"], r["currency"]), r["currency"]
            f[k + ("gross",)] += minor(r["gross"], c)
            f[k + ("fee",)] += minor(r["actual_fee"], c)
            f[k + ("count",)] += int(r["count"])
            assert not r["effective_rate"].startswith("-0.0000")
        for r in pos:
            k, c = (r["source"], r["currency"]), r["currency"]
            for col in ("payments", "refunds", "fees", "paid"):
                p[k + (col,)] += minor(r[col], c)
        for r in jnl:
            k, c = (r["source"], r["currency"]), r["currency"]
            net = minor(r["debit"], c) - minor(r["credit"], c)
            j[(c, "all")] += net
            if r["account"].startswith("6603"):
                j[k + ("fees",)] += net
            if r["account"].startswith("6001 "):
                j[k + ("sales",)] -= net
            if r["account"].startswith("1002"):
                j[k + ("bank",)] += net
            if r["entry"] == "duplicates" and r["account"].startswith("2241"):
                j[k + ("duplicates",)] -= net
        # the warehouse's own figures of the day: lines of the run's files, duplicates apart
        lines = warehouse.rows(con, """
            SELECT s.source, s.currency,
                   count(*) FILTER (WHERE s.txn_type IN ('payment', 'refund') AND d.line_id IS NULL),
                   coalesce(sum(s.fee_minor) FILTER (WHERE s.txn_type NOT IN ('payment', 'refund')
                                                     AND d.line_id IS NULL), 0),
                   coalesce(sum(s.net_minor) FILTER (WHERE d.line_id IS NOT NULL AND p.bank_credit_minor IS NOT NULL), 0)
            FROM statement_lines s
            LEFT JOIN (SELECT line_id FROM breaks WHERE run_id = $run AND category = 'duplicate') d USING (line_id)
            LEFT JOIN payouts p ON p.run_id = $run AND p.source = s.source AND p.payout_id = s.payout_id
            WHERE s.business_date = $day AND s.source IN ('wechatpay', 'stripe') AND s.txn_type <> 'payout'
              AND s.file_sha256 IN (SELECT sha256 FROM files WHERE business_date = $day)
            GROUP BY ALL""", {"run": result["run_id"], "day": day})
        credits = dict(((s, c), v) for s, c, v in warehouse.rows(con, """
            SELECT source, currency, sum(bank_credit_minor) FROM payouts
            WHERE run_id = ? AND first_seen = ? AND bank_credit_minor IS NOT NULL GROUP BY ALL""",
            [result["run_id"], day]))
        assert lines
        for source, ccy, priced, other_fees, dup_paid in lines:
            k = (source, ccy)
            assert f[k + ("count",)] == priced  # duplicates are not in the fee report
            assert f[k + ("gross",)] == p[k + ("payments",)] - p[k + ("refunds",)]
            assert f[k + ("fee",)] + other_fees == p[k + ("fees",)] == j[k + ("fees",)]
            assert j[k + ("sales",)] == p[k + ("payments",)]
            assert p[k + ("paid",)] == credits.get(k, 0)  # positions paid = bank credits
            assert j[k + ("duplicates",)] == dup_paid  # the duplicates' net, in suspense
        assert {k: v for k, v in j.items() if len(k) == 2} == {k: 0 for k in j if len(k) == 2}  # balanced
        assert sum(j[k] for k in j if k[-1] == "bank") == sum(
            minor(x["bank_credit"], x["currency"]) for x in summary["payouts"]
            if x["bank_credit"] and x["currency"])
        for source, by_ccy in summary["fees"].items():  # the Summary's fee totals are the report's
            for ccy, t in by_ccy.items():
                assert minor(t["actual_fee"], ccy) == f[(source, ccy, "fee")]
    con.close()


def _section(ws, title: str) -> list[list]:
    rows = [[c.value for c in r] for r in ws.iter_rows()]
    at = next(i for i, r in enumerate(rows) if r and r[0] == title)
    out = []
    for r in rows[at + 2:]:
        if not any(v is not None for v in r):
            break
        out.append(r)
    return out


def _bridge(path) -> dict[tuple[str, str], dict[str, tuple[int, object]]]:
    ws = openpyxl.load_workbook(path)["Summary"]
    rows = _section(ws, "Roll-forward of open breaks")
    out = {}
    names = ("opening", "new", "auto", "resolved", "corrected", "closing")
    for counts, amounts in zip(rows[::2], rows[1::2]):
        assert counts[8] == "ok" and amounts[8] == "ok"
        out[(counts[0], counts[1])] = {n: (counts[2 + i], amounts[2 + i]) for i, n in enumerate(names)}
    return out


def test_roll_forward_closes_across_two_days(days):
    _, first, second, resolved, _ = days
    b1, b2 = _bridge(first["outputs"]["workbook"]), _bridge(second["outputs"]["workbook"])
    for b in (b1, b2):
        for v in b.values():
            for i in (0, 1):
                assert (v["opening"][i] + v["new"][i] - v["auto"][i] - v["resolved"][i]
                        + v["corrected"][i]) == pytest.approx(v["closing"][i], abs=1e-9)
    assert all(v["opening"] == (0, 0) for v in b1.values())
    for k, v in b2.items():  # yesterday's closing is today's opening
        assert v["opening"][0] == (b1[k]["closing"][0] if k in b1 else 0)
    assert sum(v["resolved"][0] for v in b2.values()) == 1
    assert sum(v["auto"][0] for v in b2.values()) >= 1
    assert sum(v["new"][0] for v in b2.values()) >= 1

    ws = openpyxl.load_workbook(second["outputs"]["workbook"])["Cleared"]
    head = [c.value for c in ws[1]]
    rows = [dict(zip(head, (c.value for c in r))) for r in ws.iter_rows(min_row=2)]
    table = rows[:next(i for i, r in enumerate(rows) if r["break id"] is None)]
    assert len(table) == sum(v["resolved"][0] + v["auto"][0] - v["corrected"][0] for v in b2.values())
    mine = next(r for r in table if r["break id"] == resolved)
    assert (mine["how"], mine["by"], mine["category"]) == ("resolved", "ana", "Amount mismatch")
    assert mine["why"].startswith("resolved by ana on ") and "keyed wrong, fixed in the GL" in mine["why"]
    auto = [r for r in table if r["how"] == "auto-cleared"]
    assert auto and all(r["why"].startswith(f"cleared on {D2} by ") for r in auto)
    assert all(r["left on"].date() == D2 for r in table)
    gaps = _section(ws, "Statement gaps")
    assert gaps and all(g[0] == "bank" for g in gaps)  # the hard world's balances do not chain


def test_runs_diff_in_words_and_runs_list_aligned(days, capsys):
    cfg, first, second, resolved, _ = days
    text = auditcli.diff_text(audit.diff_runs(cfg, first["run_id"], second["run_id"]))
    lines = text.splitlines()
    assert lines[0] == f"run {first['run_id']} ({D1}) -> run {second['run_id']} ({D2})"
    mine = next(x for x in lines if resolved in x)
    assert " left, resolved: amount_mismatch " in mine and "resolved by ana on " in mine
    assert "keyed wrong, fixed in the GL" in mine
    assert any(" left, auto-cleared: " in x and f": cleared on {D2} by " in x for x in lines)
    assert any(" appeared: " in x and f"raised on {D2}" in x for x in lines)
    assert main(["runs", "diff", first["run_id"], second["run_id"], "--config", str(CONFIG)]) == 1
    assert capsys.readouterr().out.startswith(f"run {first['run_id']} ")

    assert main(["runs", "list", "--config", str(CONFIG)]) == 0
    table = capsys.readouterr().out.splitlines()
    at = table[0].index("business date")
    for row in table[1:-1]:
        assert row[at:at + 10] in (str(D1), str(D2)) and row[at - 2:at] == "  "


def test_trace_of_a_camt_line_prints_only_its_entry(days):
    cfg, _, second, _, _ = days
    con = warehouse.connect(cfg.warehouse)
    (bid,), = warehouse.rows(con, "SELECT break_id FROM breaks WHERE run_id = ? AND source = 'bank' "
                                  "AND line_id IS NOT NULL LIMIT 1", [second["run_id"]])
    con.close()
    t = audit.trace(cfg, bid, second["run_id"])
    (line,) = t["statement_lines"]
    raw = line["raw_bytes"]  # the entry, or its transaction when a batch entry was split
    tag = "Ntry" if raw.startswith("<Ntry>") else "TxDtls"
    assert raw.startswith(f"<{tag}>") and raw.endswith(f"</{tag}>") and raw.count(f"<{tag}>") == 1
    assert "<Stmt>" not in raw and "<Bal>" not in raw and t["break"]["reference"] in raw
    text = audit.format_trace(t)
    assert "<GrpHdr>" not in text and f"| <{tag}>" in text


def test_rerun_checks_files_on_disk_and_survives_a_ledger_correction(days, capsys):
    cfg, first, _, _, tmp = days
    run_id = first["run_id"]
    # a correction that adds an entry dated day 1, with who and why
    export = (tmp / "world" / "ledger" / "ledger_20261102.csv").read_text("utf-8").splitlines()
    cols = export[0].split(",")
    fields = export[1].split(",")
    fields[cols.index("entry_id")] = "LE20261102CORRECTION1"
    fields[cols.index("merchant_reference")] = "ORD20261102FIX0001"
    fix = tmp / "ledger_20261102_fix.csv"
    fix.write_text(export[0] + "\n" + ",".join(fields) + "\n", "utf-8")
    assert main(["ledger", "load", str(fix), "--config", str(CONFIG), "--who", "ana",
                 "--why", "missed payment booked late"]) == 0
    assert "loaded by ana: missed payment booked late" in capsys.readouterr().out
    (load,) = audit.show_run(cfg, run_id)["ledger_loads"]
    assert (load["name"], load["loaded_by"], load["load_reason"], load["after_run"]) == (
        fix.name, "ana", "missed payment booked late", True)

    assert main(["rerun", "--date", str(D1), "--run", run_id, "--config", str(CONFIG)]) == 0
    out = capsys.readouterr().out
    assert f"rerun {run_id}-rerun1 of {run_id}: identical" in out and "removed" in out
    assert not glob.glob(str(Path(tempfile.gettempdir()) / f"recon-rerun-{run_id}-*"))

    # an edited report on disk no longer matches its manifest
    fees = Path(first["outputs"]["fees"])
    fees.write_bytes(fees.read_bytes().replace(b"\r\n", b"\r\n", 1) + b"x,1\r\n")
    res = rerun(cfg, D1, run_id, keep=True)
    assert not res.identical and Path(res.scratch).is_dir()
    assert Path(res.scratch).name.startswith(f"recon-rerun-{run_id}-")
    (only,) = res.differences
    assert only.startswith(f"fees: {fees} on disk has sha256 ") and "edited or replaced" in only
    assert all(res.hashes[k] == v["sha256"] for k, v in audit.show_run(cfg, run_id)["outputs"].items())
