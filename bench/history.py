"""How a day's work grows with the ledger history the warehouse keeps.

    .venv/bin/python -m bench.history                      # 30 days of 1M ledger versions
    .venv/bin/python -m bench.history --days 60 --rows-per-day 500k

A warehouse only grows: every business day appends its ledger versions. This benchmark fills a
warehouse of its own with ``--days`` days of ledger versions (``--rows-per-day`` each, ids
``--ids seq``-uential per day or ``hash``-ed), and after each ``--every`` days measures, on the real
code paths, the two steps of a new day that read ledger history:

- ``load part``: ``warehouse.load_ledger`` of one new day's part (``--part-rows`` new entries),
  rolled back after, so the history stays as built;
- ``work sets``: the match's working sets of the last day (``sql/work_sets.sql`` as the match runs
  it: each day here is one load, so its versions are taken by ``work_versions_one_load.sql``), and
  again with the general ranking of the versions, which looks up every older version of the day's
  entries; each with one read of work_ledger (a view: the count of its entries).

Prints one line per checkpoint and writes the figures to bench/results/<date>-history.json.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from bench.data import rows_per_side
from bench.recon_run import CONFIG, ROOT

FIRST_DAY = date(2026, 1, 1)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.history", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  .venv/bin/python -m bench.history --days 30 --rows-per-day 1M\n"
               "  make bench-history")
    p.add_argument("--days", type=int, default=30, help="days of ledger history to build (default 30)")
    p.add_argument("--rows-per-day", default="1M", help="ledger versions per day: 1M, 250k, ... (default 1M)")
    p.add_argument("--part-rows", default="400k", help="entries in the new day's part (default 400k)")
    p.add_argument("--every", type=int, default=10, help="measure after every N days (default 10)")
    p.add_argument("--ids", choices=("seq", "hash"), default="hash",
                   help="entry ids sequential per day (LE<date><n>) or hashed (default hash: no "
                        "order a zone map could use)")
    p.add_argument("--dir", type=Path, default=ROOT / "var" / "bench" / "history",
                   help="where the warehouse is built (default var/bench/history; replaced)")
    p.add_argument("--results", type=Path, default=ROOT / "bench" / "results",
                   help="where the JSON figures go (default bench/results)")
    args = p.parse_args(argv)
    if args.days < 1 or args.every < 1:
        p.error("--days and --every must be at least 1")
    return args


def _entry_id(kind: str, day: date, n: str) -> str:
    """SQL for the entry id of row ``n`` of ``day``."""
    if kind == "seq":
        return f"'LE{day:%Y%m%d}' || lpad({n}::VARCHAR, 9, '0')"
    return f"md5('{day}' || {n})"


def _append_day(con, kind: str, day: date, rows: int) -> None:
    con.execute(f"""
        INSERT INTO ledger_entries BY NAME
        SELECT {_entry_id(kind, day, 'i')} AS entry_id, TIMESTAMPTZ '{day} 23:00:00+00' AS recorded_at,
               'history' AS file_sha256, i + 2 AS file_line, 'wechatpay' AS source,
               DATE '{day}' AS business_date, TIMESTAMPTZ '{day} 12:00:00+00' AS booked_at,
               'payment' AS txn_type, 100 + i % 997 AS amount_minor, 'CNY' AS currency,
               'ORD' || {_entry_id(kind, day, 'i')} AS merchant_reference
        FROM range({rows}) t(i)""")


def _new_part(kind: str, day: date, rows: int):
    import duckdb
    import polars as pl

    from schemas.canonical import LEDGER_COLUMNS
    from schemas.validation import conform
    frame = duckdb.sql(f"""
        SELECT {_entry_id(kind, day, 'i')} AS entry_id, 'wechatpay' AS source, DATE '{day}' AS business_date,
               TIMESTAMPTZ '{day} 12:00:00+00' AS booked_at, 'payment' AS txn_type,
               (100 + i % 997)::BIGINT AS amount_minor, 'CNY' AS currency,
               'ORD' || {_entry_id(kind, day, 'i')} AS merchant_reference, NULL::VARCHAR AS psp_reference,
               NULL::VARCHAR AS original_reference, NULL::VARCHAR AS counterparty,
               NULL::VARCHAR AS description, (i + 2)::BIGINT AS file_line
        FROM range({rows}) t(i)""").pl()
    frame = frame.with_columns(pl.col("booked_at").dt.convert_time_zone("UTC"))
    return conform(frame, LEDGER_COLUMNS)


def measure(con, cfg, kind: str, day: date, part) -> dict:
    """load_ledger of ``part`` and the working sets of ``day``, each rolled back after."""
    import sql
    from recon import warehouse
    from recon.matching import _work_sets, _work_tables, work_set_files

    con.execute("BEGIN TRANSACTION")
    t = time.perf_counter()
    new, same = warehouse.load_ledger(con, part, sha256="n" * 64,
                                      recorded_at=datetime.combine(day, datetime.min.time(), timezone.utc))
    load_s = time.perf_counter() - t
    con.execute("ROLLBACK")
    assert (new, same) == (part.height, 0), (new, same)  # a new day: every entry is new

    _work_tables(con, cfg, [s.name for s in cfg.sources])
    con.execute("CREATE OR REPLACE TEMP TABLE work_inputs (sha256 VARCHAR)")
    now = datetime.now(timezone.utc)
    params = {"business_date": day - timedelta(days=1), "run_id": "history", "prev_run": None,
              "watermark": now, "annotation_watermark": now}
    # As the match runs them (each day of this history is one load: the one-load work_versions),
    # then with the general ranking of the versions, which reads the whole history.
    t = time.perf_counter()
    # work_ledger is a view (its readers read the day from ledger_entries): each is timed with
    # one read of it, the count of its entries.
    stmts, used = _work_sets(con, params)
    sql.run(con, stmts, used)
    entries = warehouse.scalar(con, "SELECT count(*) FROM work_ledger")
    work_s = time.perf_counter() - t
    t = time.perf_counter()
    for name in work_set_files(one_load=False):
        sql.execute(con, name, params)
    assert warehouse.scalar(con, "SELECT count(*) FROM work_ledger") == entries
    general_s = time.perf_counter() - t
    return {"load_part_seconds": round(load_s, 3), "work_sets_seconds": round(work_s, 3),
            "one_load": "day_loaded_at" in used, "work_sets_general_seconds": round(general_s, 3),
            "work_ledger_entries": entries}


def main(argv=None) -> int:
    args = parse_args(argv)
    per_day, part_rows = rows_per_side(args.rows_per_day), rows_per_side(args.part_rows)
    from recon import config, warehouse

    cfg = config.load(CONFIG)
    if args.dir.exists():
        shutil.rmtree(args.dir)
    args.dir.mkdir(parents=True)
    con = warehouse.connect(args.dir / "warehouse.duckdb")
    con.execute("SET threads = 2")
    checkpoints = []
    try:
        print(f"ledger history: {args.days} days x {per_day:,} versions ({args.ids} ids); a new day's "
              f"part of {part_rows:,} entries; measured every {args.every} days", flush=True)
        t0 = time.perf_counter()
        for d in range(args.days):
            day = FIRST_DAY + timedelta(days=d)
            _append_day(con, args.ids, day, per_day)
            if (d + 1) % args.every and d + 1 != args.days:
                continue
            con.execute("CHECKPOINT")
            new_day = day + timedelta(days=1)
            m = {"days": d + 1, "versions": (d + 1) * per_day,
                 **measure(con, cfg, args.ids, new_day, _new_part(args.ids, new_day, part_rows))}
            checkpoints.append(m)
            print(f"  {m['days']:>4} days, {m['versions']:>13,} versions: load part "
                  f"{m['load_part_seconds']:6.3f} s, work sets {m['work_sets_seconds']:6.3f} s "
                  f"({'one load' if m['one_load'] else 'general'}; general ranking "
                  f"{m['work_sets_general_seconds']:6.3f} s) (built in {time.perf_counter() - t0:.0f} s so far)", flush=True)
    finally:
        con.close()
    figures = {"measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "days": args.days, "rows_per_day": per_day, "part_rows": part_rows, "ids": args.ids,
               "checkpoints": checkpoints}
    args.results.mkdir(parents=True, exist_ok=True)
    out = args.results / f"{date.today():%Y-%m-%d}-history.json"
    out.write_text(json.dumps(figures, indent=2))
    first, last = checkpoints[0], checkpoints[-1]
    print(f"figures: {out}")
    print(f"history {first['days']}->{last['days']} days: load part {first['load_part_seconds']:.3f}s -> "
          f"{last['load_part_seconds']:.3f}s, work sets {first['work_sets_seconds']:.3f}s -> "
          f"{last['work_sets_seconds']:.3f}s (general ranking {first['work_sets_general_seconds']:.3f}s -> "
          f"{last['work_sets_general_seconds']:.3f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
