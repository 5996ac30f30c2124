"""`recon eval`: generate a world, reconcile N consecutive days on real parts, score the engine.

Each day runs through ``recon.runday.run_day`` in this process, its sources over SFTP from a
local OpenSSH sshd.

Each day's run is scored on the breaks it raised new (first seen that day) against that day's
ground truth, keyed by (day, category, source, key). The auto-match rate is, of the ledger
entries that a perfect reconciler would match (every entry the ground truth does not name), the
share recon matched by a rule by the last day.
"""
from __future__ import annotations

import csv
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from connectors.sshd import LocalSshd
from recon import config, eval_real, warehouse
from recon.assemble import break_keys
from recon.evaluate import Score, format_table, score

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "data" / "recon.toml"
START = date(2026, 11, 2)
_REF = re.compile(r"\b(?:ORD|RFD)[0-9A-Z]+\b")


@dataclass(frozen=True)
class EvalResult:
    scenario: str
    days: int
    scores: dict[str, Score]
    matched: int
    matchable: int
    misses: list[str]
    seconds: float
    notes: list[str] = field(default_factory=list)  # the real scenario: loads and the breakdown

    @property
    def auto_match(self) -> float:
        return self.matched / self.matchable if self.matchable else 1.0

    def last_line(self) -> str:
        total = self.scores["all"]
        return (f"eval {self.scenario}: precision {total.precision:.2%}, recall {total.recall:.2%}, "
                f"auto-match {self.auto_match:.2%}")


def read_truth_rows(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def day_truth(rows_by_day: dict[date, list[dict]], day: date) -> set[tuple]:
    """What the run of ``day`` should raise new: the generator writes each day's truth for the
    world it belongs to (an item carried from an earlier day of the world is not new)."""
    return {(day, r["category"], r["source"], r["key"]) for r in rows_by_day[day]}


def run_eval(scenario: str, days: int, seed: int, scale: int, out: Path | None = None,
             progress=print) -> EvalResult:
    from recon.generate import generate_days
    from recon.runday import run_day

    t0 = time.perf_counter()
    out = out or Path(tempfile.mkdtemp(prefix=f"recon-eval-{scenario}-"))
    world = out / "world"
    dates = [START + timedelta(days=i) for i in range(days)]
    progress(f"generating {days} days of the '{scenario}' world (seed {seed}, {scale} payments per PSP per day)")
    if scenario == "real":
        from recon.generate.real import generate_real_days
        generated = generate_real_days(dates[0], days, world, seed=seed, scale=scale)
    else:
        generated = generate_days(dates[0], days, world, seed=seed, scale=scale, scenario=scenario)
    truth_rows = {g.business_date: read_truth_rows(g.paths["truth"]) for g in generated}

    found: set[tuple] = set()
    truth: set[tuple] = set()
    run_ids = []
    with LocalSshd(world, out / "sshd") as sshd:
        os.environ.update({
            "RECON_HOME": str(out / "var"), "RECON_LEDGER_DIR": str(world / "ledger"),
            "RECON_SFTP_HOST": sshd.host, "RECON_SFTP_PORT": str(sshd.port), "RECON_SFTP_USER": sshd.user,
            "RECON_SFTP_KEY": str(sshd.private_key), "RECON_SFTP_KNOWN_HOSTS": str(sshd.known_hosts)})
        config_path, notes = CONFIG, []
        if scenario == "real":
            config_path, dropped = eval_real.write_config(out / "real.toml", config.load)
            notes += [f"config: left out {d}" for d in dropped] or ["config: every feature key accepted"]
        cfg = config.load(config_path)
        for d in dates:
            day = run_day(cfg, d)
            run_ids.append(day.run_id)
            new = {(d, *k) for k in break_keys(cfg, day.run_id, new_only=True)}
            expected = day_truth(truth_rows, d)
            found |= new
            truth |= expected
            progress(f"  {d}: {len(new)} new breaks, {len(expected)} expected, "
                     f"{len(new & expected)} agree; reports "
                     + (f"do not tie: {'; '.join(t.text() for t in day.summary.tie_out)}"
                        if day.summary.tie_out else "tie"))
    matched, matchable = _auto_match(cfg, truth_rows, run_ids, real=scenario == "real")
    def keyed(items):  # score by category; the day is part of the key
        return {(c, s, f"{d}:{k}") for d, c, s, k in items}
    scores = score(keyed(found), keyed(truth))
    misses = ([f"missed {d} {c} {s} {k}" for d, c, s, k in sorted(truth - found)]
              + [f"unexpected {d} {c} {s} {k}" for d, c, s, k in sorted(found - truth)])
    if scenario == "real":
        notes += [_loads(cfg)] + eval_real.breakdown(found, truth, eval_real.read_items(world))
    return EvalResult(scenario, days, scores, matched, matchable, misses, time.perf_counter() - t0, notes)


def _loads(cfg) -> str:
    """Files by parse status and quarantined rows over the whole run."""
    con = warehouse.connect(cfg.warehouse)
    try:
        files = dict(warehouse.rows(con, "SELECT parse_status, count(*) FROM files GROUP BY ALL"))
        quarantined = warehouse.rows(con, "SELECT count(*) FROM quarantine")[0][0]
    finally:
        con.close()
    return (f"files: {files.get('loaded', 0)} loaded, {files.get('rejected', 0)} rejected; "
            f"{quarantined} rows quarantined")


def _auto_match(cfg, truth_rows: dict[date, list[dict]], run_ids: list[str], real: bool = False
                ) -> tuple[int, int]:
    """The real scenario's ledger also holds entries kept out of matching by design (a status the
    PSP never reports, ...: ``hold``), not counted, and links of any kind (a payout's too)."""
    named: set[str] = set()
    for rows in truth_rows.values():
        for r in rows:
            named.add(r["key"])
            named.update(_REF.findall(r.get("note", "")))
    con = warehouse.connect(cfg.warehouse)
    try:
        entries = warehouse.rows(con, """
            SELECT e.merchant_reference,
                   bool_or(m.ledger_entry_id IS NOT NULL) AS matched
            FROM (SELECT DISTINCT entry_id, merchant_reference FROM ledger_entries
                  WHERE NOT ? OR hold IS NULL) e
            LEFT JOIN matches m ON m.ledger_entry_id = e.entry_id AND (? OR m.kind = 'ledger_statement')
                 AND m.rule <> 'reference_mismatch' AND list_contains(?, m.run_id)
            GROUP BY e.entry_id, e.merchant_reference""", [real, real, run_ids])
    finally:
        con.close()
    matched = sum(1 for _, m in entries if m)
    unexplained = sum(1 for ref, m in entries if not m and ref not in named)
    return matched, matched + unexplained


def report(result: EvalResult) -> str:
    lines = [format_table(result.scores)]
    shown = 0 if result.notes else 40  # the real scenario's breakdown says it by cause instead
    lines += [f"  {m}" for m in result.misses[:shown]]
    lines += result.notes
    if len(result.misses) > shown and shown:
        lines.append(f"  … and {len(result.misses) - 40} more")
    lines.append(f"auto-match: {result.matched} of {result.matchable} matchable ledger entries "
                 f"({result.auto_match:.3%}); {result.days} days in {result.seconds:.1f} s")
    lines.append(result.last_line())
    return "\n".join(lines)
