"""`recon demo`: a whole night on embedded defaults, on real parts.

Generates a synthetic day, starts OpenSSH sshd on 127.0.0.1 (own config, host key and client
key; the client pins that host key), runs the nightly Prefect flow over SFTP, writes the reports,
stops sshd, and scores the breaks against the generator's ground truth.
"""
from __future__ import annotations

import logging
import os
import time
from datetime import date
from pathlib import Path

from connectors.sshd import LocalSshd
from recon.errors import EXIT_ERROR

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[1]


def demo_env(out: Path, sshd: LocalSshd, world: Path) -> dict[str, str]:
    """The environment the default config (data/recon.toml) reads its per-machine values from."""
    return {
        "RECON_HOME": str(out / "var"),
        "RECON_LEDGER_DIR": str(world / "ledger"),
        "RECON_SFTP_HOST": sshd.host,
        "RECON_SFTP_PORT": str(sshd.port),
        "RECON_SFTP_USER": sshd.user,
        "RECON_SFTP_KEY": str(sshd.private_key),
        "RECON_SFTP_KNOWN_HOSTS": str(sshd.known_hosts),
        "RECON_SETTLE_S": "0.2",  # the world is written whole before the night starts
    }


def run_demo(business_date: date, out: Path, nightly, *, seed: int = 7, scale: int = 200) -> int:
    """``nightly``: the nightly flow (flows.nightly.nightly, passed in by the command line: recon
    itself never imports flows)."""
    from recon.evaluate import explain, format_table, read_truth, score
    from recon.generate import generate_day

    t0 = time.perf_counter()
    world = out / "world"
    print(f"[1/4] generating the synthetic day {business_date} (seed {seed}, {scale} payments per PSP) "
          f"in {world}")
    day = generate_day(business_date, world, seed=seed, scale=scale,
                       progress=lambda m: print(f"      {m}"))
    print(f"[2/4] starting OpenSSH sshd on 127.0.0.1 serving {world}")
    with LocalSshd(world, out / "sshd") as sshd:
        print(f"      sftp://{sshd.user}@{sshd.host}:{sshd.port}/, host key pinned in {sshd.known_hosts}")
        os.environ.update(demo_env(out, sshd, world))
        print("[3/4] running the nightly flow under Prefect (fetch → load → match → reports)")
        result = nightly(business_date=business_date, config_path=str(ROOT / "data" / "recon.toml"))
    print("      sshd stopped")
    print(f"[4/4] run {result['run_id']}: {result['status']}")
    for source, status in result["sources"].items():
        print(f"      source {source:<10} {status}")
    for name, path in result["outputs"].items():
        print(f"      {name:<9} {path}")

    from recon import config
    from recon.assemble import break_keys
    found = break_keys(config.load(ROOT / "data" / "recon.toml"), result["run_id"])
    truth = read_truth(day.paths["truth"])
    scores = score(found, truth)
    print()
    print(format_table(scores))
    for line in explain(found, truth):
        print(f"      {line}")
    total = scores["all"]
    print(f"\nreports in {Path(result['outputs']['workbook']).parent} ({time.perf_counter() - t0:.1f} s)")
    print(f"demo: {total.found} breaks found, {total.expected} expected, "
          f"precision {total.precision:.1%}, recall {total.recall:.1%}")
    print()
    for line in demo_commands(out, result["run_id"], business_date):
        print(line)
    if result["status"] not in ("reconciled", "breaks"):
        return EXIT_ERROR
    return 0


def demo_commands(out: Path, run_id: str, business_date: date) -> list[str]:
    """The commands that work on the demo's world afterwards: its warehouse is under ``out/var``
    (RECON_HOME), read through the default config; ids are this run's."""
    import shlex
    import sys

    from recon import config, warehouse
    cfg = config.load(ROOT / "data" / "recon.toml")
    con = warehouse.connect(cfg.warehouse)
    try:
        row = con.execute("SELECT break_id FROM breaks WHERE run_id = ? AND status = 'open' "
                          "ORDER BY category, break_id LIMIT 1", [run_id]).fetchone()
    finally:
        con.close()

    def rel(p: Path) -> str:
        try:
            return str(p.relative_to(Path.cwd()))
        except ValueError:
            return str(p)
    exe = Path(sys.executable).parent / "recon"
    # RECON_HOME absolute: the config reads a relative one from its own folder (data/)
    recon = f"RECON_HOME={shlex.quote(str(out / 'var'))} {shlex.quote(rel(exe) if exe.exists() else 'recon')}"
    lines = ["Work on this world (its warehouse is under RECON_HOME):",
             f"  {recon} runs list --date {business_date}",
             f"  {recon} runs show {run_id}"]
    if row:
        lines.append(f"  {recon} trace {shlex.quote(row[0])} --run {run_id}")
    lines.append(f"  {recon} rerun --date {business_date} --run {run_id}")
    return lines

