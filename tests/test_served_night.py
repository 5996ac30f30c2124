"""The served night, as the cron starts it: a real Prefect server on 127.0.0.1, `recon serve` with a
config whose SFTP points at a generated world on a real sshd, and flow runs created through the API
the way the scheduler creates them (no parameters, a scheduled time). The run reconciles the day
before its scheduled start in the config's timezone, in a fresh process, and leaves the same
breaks, workbook and alert as `recon run`; a run that fails before its body still alerts."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from recon import config
from recon.evaluate import read_truth, score
from recon.generate import generate_day
from recon.money import to_decimal
from tests.prefect_server import PrefectServer, as_the_cron_does, finished, night_completes, recon_serve, stop
from tests.receivers import HttpReceiver, config_copy
from tests.worlds import only_run, served

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "data" / "recon.toml"
DAY = date(2026, 11, 21)
# The workbook's words for the categories the generator injects.
LABELS = {"missing_in_ledger": "Missing in ledger", "missing_in_statement": "Missing in statement",
          "amount_mismatch": "Amount mismatch", "duplicate": "Duplicate", "timing": "Timing (cut-off)",
          "fee_variance": "Fee variance", "payout_mismatch": "Payout mismatch"}
pytestmark = pytest.mark.integration


def test_the_served_night_reconciles_yesterday_and_alerts(tmp_path, monkeypatch):
    world = tmp_path / "world"
    day = generate_day(DAY, world, seed=7, scale=40)
    truth = read_truth(day.paths["truth"])
    run_tz = 'timezone = "Asia/Shanghai"   # the company'
    broken = config_copy(tmp_path / "edited.toml", replace={run_tz: run_tz.replace("Asia/Shanghai", "Mars/Olympus")})
    log = tmp_path / "serve.log"
    with served(world, tmp_path, monkeypatch), HttpReceiver() as hook:
        monkeypatch.setenv("RECON_ALERT_WEBHOOK_URL", hook.url)
        monkeypatch.setenv("PREFECT_RUNNER_POLL_FREQUENCY", "2")
        with PrefectServer(tmp_path / "prefect") as server:
            serve = recon_serve(server.env, CONFIG, log)
            try:
                dep = server.deployment()
                done = night_completes(server, dep["id"], log)
                assert done["parameters"] == {"config_path": str(CONFIG)}  # no business date

                bad = as_the_cron_does(server, dep["id"], {"config_path": str(broken)})
                failed = finished(server, bad["id"], log)
                assert failed["state_type"] == "FAILED"
            finally:
                stop(serve)
        cfg = config.load(CONFIG)

    # The warehouse: one run, for the 21st, with exactly the injected breaks.
    (run_id, business_date, status), breaks = only_run(
        cfg.warehouse, "break_id, category, source, reference, currency, difference_minor")
    assert (business_date, status) == (DAY, "breaks")
    scores = score({(c, s, r or "") for _, c, s, r, _, _ in breaks}, truth)
    assert scores["all"].found == scores["all"].expected == len(truth) == len(breaks)
    assert (scores["all"].precision, scores["all"].recall) == (1.0, 1.0)

    # The workbook of that run: one row per break, ids, categories and differences as stored.
    (book,) = (cfg.reports / "2026-11-21" / run_id).glob("recon_2026-11-21.xlsx")
    ws = openpyxl.load_workbook(book)["Breaks"]
    header = [c.value for c in ws[1]]
    rows = {r[header.index("break id")]: r for r in ws.iter_rows(min_row=2, values_only=True)}
    assert len(rows) == len(breaks)
    for break_id, category, source, _, currency, diff in breaks:
        row = rows[break_id]
        assert (row[header.index("category")], row[header.index("source")]) == (LABELS[category], source)
        assert Decimal(str(row[header.index("difference")])) == to_decimal(diff, currency), (break_id, row)

    # The alerts: the night's notification, then the failed run's (its config no longer loads).
    night, failure = (body for _, _, body in hook.requests)
    assert (night["business_date"], night["run_id"], night["status"]) == ("2026-11-21", run_id, "breaks")
    assert night["exit_code"] == 1
    assert failure["status"] == "failed" and failure["exit_code"] == 2
    assert failure["business_date"] == "2026-11-20"  # the day before its scheduled start, in UTC
    assert "run.timezone" in failure["detail"] and "Mars/Olympus" in failure["detail"]
