"""Compare two warehouses table by table, by hash: equal or different.

    python -m bench.compare A.duckdb B.duckdb        # or two `recon eval --out` directories
    python -m bench.compare --commits REV1 REV2 -- --scenario hard --days 3 --seed 7

Each table's rows are read in a stable order (sorted by their own hash) without what differs
between any two runs of the same inputs: a run's id becomes its business date, load times are
left out. Exit 0 when every table is equal, 1 otherwise. ``--commits`` runs ``recon eval`` with
the given arguments at each commit (from ``git archive``, this checkout's virtualenv) and compares
their warehouses; ``RECON_MATCH_ROUTE`` and the like pass through the environment.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb

_DAY = "(SELECT business_date FROM runs r WHERE r.run_id = t.run_id) AS run_date"
# table: its columns as compared (run_id as the run's business date; load times left out)
TABLES = {
    "matches": f"SELECT {_DAY}, * EXCLUDE (run_id) FROM matches t",
    "breaks": f"SELECT {_DAY}, * EXCLUDE (run_id) FROM breaks t",
    "statement_lines": "SELECT * FROM statement_lines",
    "quarantine": f"SELECT {_DAY}, * EXCLUDE (run_id) FROM quarantine t",
    "ledger_entries": "SELECT * EXCLUDE (recorded_at) FROM ledger_entries",
    "payouts": f"SELECT {_DAY}, * EXCLUDE (run_id) FROM payouts t",
    "fee_report": f"SELECT {_DAY}, * EXCLUDE (run_id) FROM fee_report t",
    "open_items": f"SELECT {_DAY}, * EXCLUDE (run_id) FROM open_items t",
    "reversal_links": f"SELECT {_DAY}, * EXCLUDE (run_id) FROM reversal_links t",
}


def warehouse_path(place: str | Path) -> Path:
    """A warehouse file, or the one under a `recon eval --out` (or RECON_HOME) directory."""
    path = Path(place)
    if path.is_dir():
        found = sorted(path.rglob("warehouse.duckdb")) or sorted(path.rglob("*.duckdb"))
        if not found:
            raise SystemExit(f"{path}: no warehouse (*.duckdb) below it")
        return found[0]
    return path


def digests(place: str | Path) -> dict[str, tuple[int, str]]:
    """{table: (rows, md5 of its rows' md5s in order)}."""
    con = duckdb.connect(str(warehouse_path(place)), read_only=True)
    try:
        return {name: con.execute(f"SELECT count(*), md5(coalesce(string_agg(h, ',' ORDER BY h), '')) "
                                  f"FROM (SELECT md5(CAST(q AS VARCHAR)) AS h FROM ({query}) q)").fetchone()
                for name, query in TABLES.items()}
    finally:
        con.close()


def compare(a: str | Path, b: str | Path) -> list[str]:
    """One line per table: its name, equal or different, and the row counts."""
    da, db = digests(a), digests(b)
    return [f"{name:16} {'equal' if da[name] == db[name] else 'different'}"
            f"  ({da[name][0]} rows / {db[name][0]} rows)" for name in TABLES]


def eval_at(commit: str, out: Path, eval_args: list[str]) -> Path:
    """`recon eval eval_args --out out` run from the tree of ``commit``."""
    src = out.with_name(out.name + "-src")
    src.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", commit], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    subprocess.run([sys.executable, "-m", "recon.cli", "eval", *eval_args, "--out", str(out)], cwd=src,
                   check=True, env={**os.environ, "PYTHONPATH": str(src)})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__.splitlines()[0])
    parser.add_argument("a", nargs="?", help="a warehouse file or directory")
    parser.add_argument("b", nargs="?")
    parser.add_argument("--commits", nargs=2, metavar="REV", help="run recon eval at each and compare")
    argv = sys.argv[1:] if argv is None else argv
    own, extra = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    args = parser.parse_args(own)  # after --: recon eval's arguments, for --commits
    if args.commits:
        work = Path(tempfile.mkdtemp(prefix="recon-compare-"))
        a, b = (eval_at(rev, work / f"{n}-{rev[:12]}", extra) for n, rev in enumerate(args.commits))
    elif args.a and args.b:
        a, b = args.a, args.b
    else:
        parser.error("two warehouses, or --commits REV1 REV2 -- <recon eval arguments>")
    lines = compare(a, b)
    print("\n".join(lines))
    return 0 if all(" equal " in line for line in lines) else 1


if __name__ == "__main__":
    raise SystemExit(main())
