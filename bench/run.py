"""Benchmark recon end to end against the DuckDB floor and a pandas baseline, on the same day.

    .venv/bin/python -m bench.run --scale 1M          # ~1M ledger rows against ~1M PSP lines
    .venv/bin/python -m bench.run --scale 10M --skip-pandas
    .venv/bin/python -m bench.run --scale 100M    # in slices, the day deleted as it is used up

One process, one cached synthetic day (var/bench/data-s<seed>-p<payments per PSP>/): recon's
stages with their time and peak RSS (archive, load = parse + control totals + pandera + DuckDB
insert, match cascade with breaks/fees/payout clearing, report model, break list parquet, capped
workbook), each run followed by the floor (issue 4's gate is the median of the runs' match over
the floor's join measured right after it), then pandas. Prefect's own start-up is measured apart
in a child process.
All figures go to bench/results/<date>-<scale>.json; the last line sums them up.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import date, datetime, timezone
from pathlib import Path

from bench import baselines
from bench.data import DAY, SLICE_PAYMENTS, day_dir, ensure_day, rows_per_side
from bench.recon_run import ROOT, run_recon
from bench.rss import GB, Meter, max_rss_bytes

PREFECT_PROBE = """
import os, time
t, c = time.perf_counter(), time.process_time()
from prefect import flow
imported, imported_cpu = time.perf_counter() - t, time.process_time() - c
@flow
def probe():
    return 1
t, c = time.perf_counter(), time.process_time()
probe()
first_run, first_run_cpu = time.perf_counter() - t, time.process_time() - c
server_cpu = -1.0  # the temporary API server's own process, still running: its CPU so far
try:
    from prefect.server.api.server import SubprocessASGIServer
    stat = open(f"/proc/{SubprocessASGIServer().server_process.pid}/stat").read().rsplit(")", 1)[1].split()
    server_cpu = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
except Exception:
    pass
print(imported, first_run, imported_cpu, first_run_cpu, server_cpu)
"""


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  .venv/bin/python -m bench.run --scale 1M\n"
               "  .venv/bin/python -m bench.run --scale 1M --prior-days 7   # steady state\n"
               "  make bench SCALE=10M\n"
               "  make bench SCALE=100M   # ~75 GB of disk, ~40 min (README, Speed)")
    p.add_argument("--scale", default="1M", help="rows per side: 1M (default), 10M, 100M, 250k, ...")
    p.add_argument("--seed", type=int, default=7, help="generator seed (default 7)")
    p.add_argument("--dir", type=Path, default=ROOT / "var" / "bench",
                   help="cache of generated days and the runs' warehouses (default var/bench)")
    p.add_argument("--results", type=Path, default=ROOT / "bench" / "results",
                   help="where the JSON figures go (default bench/results)")
    p.add_argument("--workbook-rows", type=int, default=100_000,
                   help="breaks shown in the workbook; the full list goes to parquet (default 100000)")
    p.add_argument("--memory-limit", default=None, help="DuckDB memory_limit; beyond it DuckDB "
                   "spills to its temp directory under --dir (default 6GB; 12GB above 20M rows "
                   "per side, where the match's working sets alone are ~0.3 GB per 1M rows)")
    p.add_argument("--prior-days", type=int, default=0, metavar="N",
                   help="start each run from a warehouse that holds N earlier business days (the "
                        "day's rows re-keyed; built once, cached): the steady state of a nightly "
                        "run, whose duplicate checks look back 7 days (default 0: a first day)")
    p.add_argument("--slice-payments", type=int, default=SLICE_PAYMENTS, metavar="N",
                   help="generate a day of more than N payments per PSP a slice of N at a time (the "
                        "generator holds a whole world in memory; default %(default)s)")
    p.add_argument("--consume-input", action="store_true",
                   help="delete each generated file once recon has archived it, and each archive "
                        "copy once loaded, so that the disk holds the day once, not twice and not "
                        "beside the match's spill; the floor and pandas are then skipped and the "
                        "day is generated again next time. Chosen by itself when the disk cannot "
                        "hold both copies but can hold one (100M on a small disk)")
    p.add_argument("--skip-floor", action="store_true", help="do not measure the DuckDB floor")
    p.add_argument("--skip-pandas", action="store_true", help="do not measure the pandas baseline")
    p.add_argument("--skip-prefect", action="store_true", help="do not measure Prefect's start-up")
    p.add_argument("--repeat", type=int, default=1, metavar="N",
                   help="run recon N times on the same files, each followed by the floor, and "
                        "report the run with the median total and the median of the runs' match "
                        "over the floor's join (of an even N, the slower middle one; single runs on "
                        "a small VM vary by 10-30 %%; default 1)")
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    if args.prior_days < 0:
        p.error("--prior-days must be 0 or more")
    if args.slice_payments < 20:
        p.error("--slice-payments must be at least 20")
    return args


def prefect_startup(work: Path) -> dict:
    """Import time and one trivial flow run under the ephemeral API, in a fresh interpreter."""
    env = {**os.environ, "PREFECT_HOME": str(work / "prefect"),
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_LOGGING_LEVEL": "WARNING"}
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", PREFECT_PROBE], env=env, capture_output=True,
                         text=True, timeout=300)
    wall = time.perf_counter() - t
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1:] or "failed", "seconds": wall}
    imported, first_run, imported_cpu, first_run_cpu, server_cpu = (float(x) for x in out.stdout.split()[-5:])
    return {"import_seconds": imported, "first_flow_run_seconds": first_run,
            "import_cpu_seconds": imported_cpu, "first_flow_run_cpu_seconds": first_run_cpu,
            "api_server_cpu_seconds": server_cpu if server_cpu >= 0 else None, "process_seconds": wall}


def main(argv=None) -> int:
    args = parse_args(argv)
    rows = rows_per_side(args.scale)  # refuse a bad scale before generating anything
    args.memory_limit = args.memory_limit or ("12GB" if rows > 20_000_000 else "6GB")
    if not args.consume_input and disk_shortfall(args.dir, args.scale, args.seed, args.slice_payments):
        if disk_shortfall(args.dir, args.scale, args.seed, args.slice_payments, consume=True) is None:
            args.consume_input = True
            print(f"bench {args.scale}: the disk cannot hold the generated day and recon's archive copy "
                  f"of it side by side: each generated file is deleted once archived, each archive copy once "
                  f"loaded (--consume-input)")
    if (short := disk_shortfall(args.dir, args.scale, args.seed, args.slice_payments,
                                consume=args.consume_input)) is not None:
        need, free = short
        print(f"bench {args.scale}: needs about {need:,.0f} GB of disk under {args.dir} (the generated "
              f"day, {'' if args.consume_input else 'its copy in recon’s archive, '}the warehouse and "
              f"DuckDB's spill) but {free:,.0f} GB are free; nothing was generated. Point --dir at a "
              f"larger disk, or free space and run again.", file=sys.stderr)
        return 2
    if args.consume_input and (args.repeat > 1 or args.prior_days):
        print(f"bench {args.scale}: --consume-input deletes the day as it is archived, so it allows one "
              f"run from an empty warehouse: drop --repeat and --prior-days.", file=sys.stderr)
        return 2
    if not args.skip_pandas and importlib.util.find_spec("pandas") is None:
        args.skip_pandas = True
        print("pandas baseline skipped: pandas is not installed in this environment (`make bench` "
              "installs it with the `bench` extra: pip install -e '.[bench]')")
    if not args.skip_pandas and (need := pandas_memory_gb(rows)) > 0.8 * _memory_gb():
        args.skip_pandas = True
        print(f"pandas baseline skipped: it would need about {need:,.0f} GB of memory at {args.scale} "
              f"(~{_PANDAS_GB_PER_M} GB per 1M rows per side, measured at 10M) and this machine has "
              f"{_memory_gb():,.0f} GB")
    data_dir, info = ensure_day(args.dir, args.scale, args.seed, slice_payments=args.slice_payments)
    paths = {k: data_dir / v for k, v in info["paths"].items()}
    counts = info["counts"]
    print(f"day {DAY}: ledger {counts['ledger']:,} rows, wechatpay {counts['wechatpay']:,}, "
          f"stripe {counts['stripe']:,} lines ({sum(info['bytes'].values()) / 1e6:,.0f} MB); "
          f"{info['payments_per_psp']:,} payments per PSP, seed {info['seed']}")

    start_from = None
    if args.prior_days:
        from bench.prior import template
        start_from = template(data_dir, args.dir, DAY, args.prior_days, args.memory_limit)
        print(f"each run starts from a warehouse holding the {args.prior_days} business days before "
              f"{DAY} ({start_from})")
    if args.consume_input:  # the day's files are gone, the generated ones and the archive's copies
        args.skip_floor = args.skip_pandas = True
    # (total seconds, meter, recon, floor) of each run, each into a fresh run directory. The
    # floor is measured right after each recon run, so that each match meets the floor's join
    # under the same load of the machine: on a small VM either varies by 10-30 % between runs.
    runs = []
    for i in range(args.repeat):
        meter = Meter()
        recon = run_recon(data_dir, args.dir / f"run-{args.scale}", DAY, meter,
                          workbook_rows=args.workbook_rows, memory_limit=args.memory_limit,
                          start_from=start_from, consume=args.consume_input)
        if args.consume_input:  # its files are in recon's archive now: the cache is no more
            shutil.rmtree(data_dir)
        meter.close()
        run_floor = None if args.skip_floor else baselines.floor(
            paths, args.dir / "floor-tmp", args.memory_limit)
        runs.append((sum(s.seconds for s in meter.stages if s.name != "import"), meter, recon, run_floor))
        if args.repeat > 1:
            match_i = next(s.seconds for s in meter.stages if s.name == "match")
            print(f"recon run {i + 1}/{args.repeat}: {runs[-1][0]:.2f}s, match {match_i:.2f}s"
                  + (f"; the floor's join after it {run_floor['join_seconds']:.2f}s: "
                     f"{match_i / run_floor['join_seconds']:.1f}x" if run_floor else ""), flush=True)
    totals = [r[0] for r in runs]
    recon_s, meter, recon, floor = sorted(runs, key=lambda r: r[0])[len(runs) // 2]
    stages = [s for s in meter.stages if s.name != "import"]
    recon_peak = max(s.peak_bytes for s in meter.stages)
    chosen = (f", the median of {len(runs)} runs ({' / '.join(f'{t:.2f}' for t in sorted(totals))} s)"
              if len(runs) > 1 else "")
    print(f"\nrecon end to end (no SFTP){chosen}, {recon['breaks']:,} breaks:")
    for s in meter.stages:
        print(f"  {s.name:<22} {s.seconds:8.2f} s   cpu {s.cpu_seconds:7.2f} s   "
              f"peak RSS {s.peak_bytes / GB:6.2f} GB")
    print(f"  {'total':<22} {recon_s:8.2f} s   cpu {sum(s.cpu_seconds for s in stages):7.2f} s   "
          f"peak RSS {recon_peak / GB:6.2f} GB (imports excluded)")
    print("  load per file (concurrent, wall): " + ", ".join(
        f"{k} {v:.2f} s" for k, v in recon["load_seconds_per_file"].items()))
    print(f"  of which pandera validation {recon['validation_seconds']:.2f} s on "
          f"{recon['validated_rows']:,} rows")

    prefect = {} if args.skip_prefect else prefect_startup(args.dir)
    if prefect and "error" not in prefect:
        server = prefect["api_server_cpu_seconds"]
        print(f"prefect: import {prefect['import_seconds']:.2f} s ({prefect['import_cpu_seconds']:.2f} "
              f"CPU-s), first flow run under the ephemeral API {prefect['first_flow_run_seconds']:.2f} s "
              f"({prefect['first_flow_run_cpu_seconds']:.2f} CPU-s here, "
              f"{'?' if server is None else f'{server:.2f}'} in the server's process) (reported apart)")

    if args.consume_input:
        print("floor and pandas skipped: with --consume-input recon deleted the day's files as it "
              "finished with them, so that the disk holds the day once")
    persisted = None if args.skip_floor else baselines.floor_persisted(
        paths, args.dir / "floor-tmp", args.memory_limit)
    pandas = None if args.skip_pandas else baselines.pandas_baseline(paths)
    print(f"\n{'':<10}{'total':>9}{'read':>9}{'join':>9}")
    for name, r in (("floor", floor), ("pandas", pandas)):
        if r:
            print(f"{name:<10}{r['seconds']:8.2f}s{r['read_seconds']:8.2f}s{r['join_seconds']:8.2f}s"
                  f"   both {r['both']:,}, ledger only {r['ledger_only']:,}, "
                  f"statement only {r['statement_only']:,}")

    if persisted:
        print(f"floor persisted (the same reads written to a DuckDB file and checkpointed, no join): "
              f"{persisted['seconds']:.2f}s, {persisted['cpu_seconds']:.2f} CPU-s, "
              f"{persisted['bytes'] / 1e6:,.0f} MB")
        loads_cpu = sum(s.cpu_seconds for s in meter.stages if s.name in ("archive", "load (concurrent)"))
        print(f"archive + loads against the floor persisted: {loads_cpu:.2f} CPU-s, "
              f"{loads_cpu / persisted['cpu_seconds']:.2f}x its CPU")

    def ratio(a, b):
        return a / b if a and b else None

    r_floor = ratio(recon_s, floor and floor["seconds"])
    r_pandas = ratio(pandas and pandas["seconds"], recon_s)
    # Issue 4's gate: the match stage (cascade, breaks, fee check, payouts) against the floor's
    # one full outer join on the same data, measured right after it. Of several runs, the median
    # of the runs' ratios (of an even number, the higher middle one).
    match_s = next(s.seconds for s in meter.stages if s.name == "match")
    r_match_runs = [ratio(next(s.seconds for s in m.stages if s.name == "match"), f["join_seconds"])
                    for _, m, _, f in runs if f]
    r_match = sorted(r_match_runs)[len(r_match_runs) // 2] if r_match_runs else None
    if r_match:
        print(f"match stage {match_s:.2f}s against the floor's full outer join "
              f"{floor['join_seconds']:.2f}s: {match_s / floor['join_seconds']:.1f}x"
              + (f"; the median of {len(r_match_runs)} runs' ratios "
                 f"({' / '.join(f'{r:.2f}' for r in sorted(r_match_runs))}): {r_match:.2f}x"
                 if len(r_match_runs) > 1 else ""))
    figures = {
        "scale": args.scale, "business_date": DAY.isoformat(), "input": info,
        "prior_days": args.prior_days, "memory_limit": args.memory_limit,
        "consumed_input": args.consume_input,
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform(), "memory_gb": _memory_gb()},
        "recon": {"seconds": recon_s, "peak_rss_bytes": recon_peak,
                  "cpu_seconds": sum(s.cpu_seconds for s in stages),
                  "stages": [{"name": s.name, "seconds": s.seconds, "cpu_seconds": s.cpu_seconds,
                              "peak_rss_bytes": s.peak_bytes}
                             for s in meter.stages], **recon,
                  "runs": [{"seconds": t, "cpu_seconds": sum(s.cpu_seconds for s in m.stages if s.name != "import"),
                            "stages": {s.name: s.seconds for s in m.stages},
                            "floor_join_seconds": f and f["join_seconds"]} for t, m, _, f in runs]},
        "prefect": prefect, "floor": floor, "floor_persisted": persisted, "pandas": pandas,
        "ratios": {"recon_over_floor": r_floor, "pandas_over_recon": r_pandas,
                   "match_over_join": r_match, "match_over_join_runs": r_match_runs},
        "process_max_rss_bytes": max_rss_bytes(),
    }
    args.results.mkdir(parents=True, exist_ok=True)
    steady = f"-prior{args.prior_days}" if args.prior_days else ""
    out = args.results / f"{date.today():%Y-%m-%d}-{args.scale}{steady}.json"
    out.write_text(json.dumps(figures, indent=2, default=str))
    print(f"figures: {out}")
    fmt = lambda v, unit: f"{v:.2f}{unit}" if v is not None else "n/a"  # noqa: E731
    if args.prior_days:
        print(f"(steady state: {args.prior_days} earlier business days in the warehouse)")
    print(f"bench {args.scale}: recon {recon_s:.2f}s, floor {fmt(floor and floor['seconds'], 's')}, "
          f"pandas {fmt(pandas and pandas['seconds'], 's')}, recon/floor {fmt(r_floor, 'x')}, "
          f"pandas/recon {fmt(r_pandas, 'x')}, peak {recon_peak / GB:.2f} GB")
    return 0


# Disk in GB per 1M rows per side: the generated day, its archive copy, the warehouse after the
# match and DuckDB's spill in the match (the measurements behind them: docs/performance.md).
_GB_PER_M = {"input": 0.47, "archive": 0.47, "warehouse": 0.23, "spill": 0.5}
# pandas' baseline (five columns of each side as Python strings, one merge): GB per 1M rows.
_PANDAS_GB_PER_M = 1.2


def pandas_memory_gb(rows: int) -> float:
    return rows / 1e6 * _PANDAS_GB_PER_M


def disk_shortfall(root: Path, scale: str, seed: int, slice_payments: int = SLICE_PAYMENTS,
                   consume: bool = False) -> tuple[float, float] | None:
    """(GB needed, GB free) when a run at ``scale`` would not fit on ``root``'s disk, else None.
    ``consume``: each generated file is deleted once archived and each archive copy once loaded,
    so the day is on disk once, and gone before the match spills."""
    millions = rows_per_side(scale) / 1e6
    cached = (day_dir(root, scale, seed, slice_payments) / "generated.json").exists()
    g = _GB_PER_M
    if consume:  # the day once, as input then archive, beside the loads' warehouse; then the
        # archive goes and the match spills beside the warehouse
        need = millions * max(g["input"] + g["warehouse"], g["warehouse"] + g["spill"])
    else:  # the run's files are its own; the cached day already takes its room
        need = millions * (g["archive"] + g["warehouse"] + g["spill"] + (0 if cached else g["input"]))
    probe = root if root.exists() else next(p for p in root.parents if p.exists())
    free = shutil.disk_usage(probe).free / 1e9
    if cached and consume:
        free += millions * g["input"]  # the day on disk becomes the archive
    return (need, free) if need > free else None


def _memory_gb() -> float:
    with open("/proc/meminfo") as fh:
        return round(int(fh.readline().split()[1]) / 1024 ** 2, 1)


if __name__ == "__main__":
    sys.exit(main())
