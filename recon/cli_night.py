"""`recon` commands that run days: generate, run, backfill, serve, eval, demo."""
from __future__ import annotations

import os
import sys
from datetime import date, timedelta
from pathlib import Path

from recon.cli_common import DEFAULT_CONFIG, FMT, checked_config, config_path, date_arg, prefect_env
from recon.cli_print import print_result


def cmd_generate(args) -> int:
    from recon.generate import generate_day
    day = generate_day(args.date, args.out, seed=args.seed, scale=args.scale,
                       progress=lambda m: print(f"  {m}", file=sys.stderr))
    for name, path in sorted(day.paths.items()):
        print(f"{name:<10} {path}")
    return 0


def cmd_run(args) -> int:
    checked_config(args)
    ready = prefect_env(args.debug)
    from flows.nightly import nightly
    if args.dask:  # README "Beyond one machine"; --dask off overrides $RECON_DASK_ADDRESS and [dask]
        from flows import fanout
        if spec := fanout.parse_spec(args.dask, "--dask"):
            nightly = nightly.with_options(task_runner=fanout.task_runner(spec))
        else:
            os.environ[fanout.ENV] = "off"
    ready()
    result = nightly(business_date=args.date, sources=args.sources or None,
                     config_path=str(config_path(args)), language=args.language)
    print_result(result)
    return result["exit_code"]


def cmd_backfill(args) -> int:
    checked_config(args)
    ready = prefect_env(args.debug)
    from flows.backfill import backfill
    ready()
    results = backfill(start=args.start, end=args.end, sources=args.sources or None,
                       config_path=str(config_path(args)))
    for result in results:
        print_result(result)
    return max(r["exit_code"] for r in results)


def cmd_serve(args) -> int:
    from recon import config
    cfg = config.load(config_path(args))  # before Prefect starts
    ready = prefect_env(args.debug)
    from flows.serve import serve
    ready()
    return serve(cfg, str(config_path(args)))


def cmd_eval(args) -> int:
    ready = prefect_env(args.debug)
    from recon.eval import report, run_eval
    ready()
    result = run_eval(args.scenario, args.days, args.seed, args.scale, args.out,
                      progress=lambda m: print(m, file=sys.stderr))
    print(report(result))
    return 0


def cmd_demo(args) -> int:
    ready = prefect_env(args.debug)
    from flows.nightly import nightly
    from recon.demo import run_demo
    ready()
    return run_demo(args.date, args.out.resolve(), nightly, seed=args.seed, scale=args.scale)


def add_parsers(sub) -> None:
    fmt = FMT
    g = sub.add_parser("generate", formatter_class=fmt, help="write a synthetic day: ledger, PSP files, bank statement, ground truth",
                       epilog="example:\n  recon generate --date 2026-11-21 --out /tmp/world --seed 7 --scale 1000")
    g.add_argument("--date", type=date_arg, required=True, help="business date, YYYY-MM-DD")
    g.add_argument("--out", type=Path, required=True, help="output directory (laid out like the SFTP server)")
    g.add_argument("--seed", type=int, default=7, help="random seed (same seed, same bytes; default 7)")
    g.add_argument("--scale", type=int, default=200, help="payments per PSP per day (default 200)")
    g.set_defaults(func=cmd_generate)

    r = sub.add_parser("run", formatter_class=fmt, help="reconcile one business day (the nightly Prefect flow)",
                       epilog="example:\n  recon run --date 2026-11-21 --config data/recon.toml\n"
                              "exit codes: 0 reconciled, 1 breaks or a late/rejected source, 2 error")
    r.add_argument("--date", type=date_arg, default=date.today() - timedelta(days=1),
                   help="business date, YYYY-MM-DD (default: yesterday)")
    r.add_argument("--sources", type=lambda s: [x for x in s.split(",") if x], default=None,
                   help="comma-separated source names (default: all configured)")
    r.add_argument("--config", help=f"config file (default: $RECON_CONFIG or {DEFAULT_CONFIG})")
    r.add_argument("--language", choices=("en", "zh"), default="en", help="workbook labels")
    r.add_argument("--dask", nargs="?", const="local", metavar="ADDRESS|local[:N]|off",
                   help="fetch, parse and the match's first reference pass (per hash partition) on Dask: "
                        "a scheduler (tcp://host:8786) or a local cluster of N processes (default: "
                        "$RECON_DASK_ADDRESS, else [dask] in the config)")
    r.set_defaults(func=cmd_run)

    b = sub.add_parser("backfill", formatter_class=fmt,
                       help="reconcile a range of business days in order, carrying open items forward",
                       epilog="example:\n  recon backfill --from 2026-11-01 --to 2026-11-07\n"
                              "exit code: the worst of the days' codes")
    b.add_argument("--from", dest="start", type=date_arg, required=True, help="first business date")
    b.add_argument("--to", dest="end", type=date_arg, required=True, help="last business date")
    b.add_argument("--sources", type=lambda s: [x for x in s.split(",") if x], default=None)
    b.add_argument("--config", help="config file")
    b.set_defaults(func=cmd_backfill)

    s = sub.add_parser("serve", formatter_class=fmt, help="register the nightly schedule with a Prefect server",
                       epilog="example:\n  prefect server start --host 127.0.0.1 &\n"
                              "  PREFECT_API_URL=http://127.0.0.1:4200/api recon serve")
    s.add_argument("--config", help="config file")
    s.set_defaults(func=cmd_serve)

    e = sub.add_parser("eval", formatter_class=fmt,
                       help="generate a world, reconcile N days on real parts, score precision/recall",
                       epilog="example:\n  recon eval --scenario hard --days 5 --seed 7\n"
                              "last line: eval <scenario>: precision <P>%, recall <R>%, auto-match <A>%")
    e.add_argument("--scenario", choices=("standard", "hard", "real"), default="standard")
    e.add_argument("--days", type=int, default=5, help="consecutive business days (default 5)")
    e.add_argument("--seed", type=int, default=7)
    e.add_argument("--scale", type=int, default=200, help="payments per PSP per day (default 200)")
    e.add_argument("--out", type=Path, default=None, help="working directory (default: a new temporary one)")
    e.set_defaults(func=cmd_eval)

    d = sub.add_parser("demo", formatter_class=fmt, help="the whole night on embedded defaults: world, sshd, flow, reports",
                       epilog="example:\n  recon demo --date 2026-11-21 --seed 7 --out demo-out")
    d.add_argument("--date", type=date_arg, default=date(2026, 11, 21), help="business date (default 2026-11-21)")
    d.add_argument("--seed", type=int, default=7)
    d.add_argument("--scale", type=int, default=200)
    d.add_argument("--out", type=Path, default=Path("demo-out"))
    d.set_defaults(func=cmd_demo)
